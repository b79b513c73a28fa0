package gridmanager

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/gridmanager/resource"
	"github.com/ec2grid/ec2grid/jobs"
)

// tickInterval is how often the loop looks at its clocks (policy pass, stale status,
// orphan sweeps, idle resources): all of them run on periods of seconds or more.
const tickInterval = time.Second

// maxStepsPerKick bounds the states one job runs through without waiting: far more than
// any legal path (a dozen), so hitting it means a cycle, which is logged, not spun.
const maxStepsPerKick = 64

// Manager drives every grid job in one store. Its guarantees: one event loop owns all job
// state (no goroutine per job: an op's goroutine exists only while its I/O runs, and at
// most MaxOps + MaxStartOps run at once); the client token (and generated keypair name)
// is durable before any cloud call for a job, and its instance id as soon as known, so
// a restart never starts a second instance for one job; status comes from one
// EC2_VM_STATUS_ALL per resource per pass, never per job.
type Manager struct {
	store jobs.Store
	opts  Options
	log   *zap.Logger
	ctx   context.Context

	jobs      map[jobs.JobID]*job
	resources map[resource.Key]*resState
	ops       *opPool
	startOps  *opPool
	done      chan opDone
	inflight  sync.WaitGroup
	sync      bool // tests of single state functions: ops run inline
	strict    bool // tests: an illegal transition panics

	inbox     inbox
	wakes     wakeHeap
	timer     *time.Timer
	policyOut chan []verdict
	policyRun bool
	lagged    bool // the store's event channel was seen full: re-read the queue once drained
	nextPass  time.Time
	orphanOut chan orphanReport

	stats   counters
	logSync logSyncer
}

// resState is one resource as the manager sees it.
type resState struct {
	key          resource.Key
	gridResource string // "ec2 <url>", for log events
	cloud        Cloud
	cancel       context.CancelFunc
	health       resource.Health
	jobs         map[*job]struct{}
	byInstance   map[string]*job
	byToken      map[string]*job
	byKey        map[string]*job
	bySpot       map[string]*job
	pass         uint32
	spotJobs     int
	emptySince   time.Time
	orphans      map[string]time.Time // instance id → first seen unowned
	filterOK     int8                 // the cloud honours tag filters: 0 unknown, 1 yes, -1 no
	sweeping     bool
	nextSweep    time.Time
}

// New returns a Manager for the store; Run starts it.
func New(store jobs.Store, opts Options) *Manager {
	opts.setDefaults()
	m := &Manager{
		store: store, opts: opts, log: opts.Logger.Named("gridmanager"), ctx: context.Background(),
		jobs:      map[jobs.JobID]*job{},
		resources: map[resource.Key]*resState{},
		ops:       &opPool{name: "ops", cap: opts.MaxOps},
		startOps:  &opPool{name: "starts", cap: opts.MaxStartOps},
		done:      make(chan opDone, 256),
		policyOut: make(chan []verdict, 1),
		orphanOut: make(chan orphanReport, 4),
	}
	m.inbox.init()
	if m.opts.NewCloud == nil {
		m.opts.NewCloud = m.defaultCloud
	}
	return m
}

func (m *Manager) now() time.Time { return m.opts.Now() }

// defaultCloud runs a resource.Resource for the key until its context ends.
func (m *Manager) defaultCloud(ctx context.Context, key resource.Key, l resource.Listener) Cloud {
	r := resource.New(key, resource.Options{
		GahpPath: m.opts.GahpPath, GahpArgs: m.opts.GahpArgs, GahpEnv: m.opts.GahpEnv, ProbeInterval: m.opts.ProbeInterval,
		PingInterval: m.opts.PingInterval, MaxSubmitted: m.opts.MaxSubmitted, MaxPending: m.opts.MaxPending,
		Logger: m.opts.Logger, Now: m.opts.Now,
	}, l)
	go func() {
		if err := r.Run(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("resource stopped", zap.String("url", key.URL), zap.Error(err))
		}
	}()
	return r
}

// Run loads every grid job, recovers each from its ad, and drives them until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		m.inflight.Wait()
	}()
	m.ctx = ctx
	events := m.store.Subscribe(ctx)
	if err := m.resync(); err != nil {
		return fmt.Errorf("gridmanager: load jobs: %w", err)
	}
	m.timer = time.NewTimer(time.Hour)
	defer m.timer.Stop()
	m.armTimer()
	tick := time.NewTicker(tickInterval)
	defer tick.Stop()
	m.nextPass = m.now().Add(m.passInterval())
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("gridmanager: the job store closed")
			}
			m.onEvent(ev)
			m.checkLag(events)
		case d := <-m.done:
			m.opFinished(d)
		case <-m.inbox.kick:
			m.drainInbox()
		case <-m.timer.C:
			m.fireWakes()
		case <-tick.C:
			m.onTick()
		case v := <-m.policyOut:
			m.applyVerdicts(v)
		case rep := <-m.orphanOut:
			m.onOrphans(rep)
		}
	}
}

// resync reads the whole queue: new grid jobs are added, known ones get their status,
// vanished ones are dropped.
func (m *Manager) resync() error {
	ads, err := m.store.Query(m.ctx, nil)
	if err != nil {
		return err
	}
	seen := make(map[jobs.JobID]bool, len(ads))
	for _, ad := range ads {
		id := jobs.ID(ad)
		seen[id] = true
		if j := m.jobs[id]; j != nil {
			m.setStatus(j, jobs.Status(ad))
			continue
		}
		m.add(ad)
	}
	for id, j := range m.jobs {
		if !seen[id] {
			m.drop(j)
		}
	}
	return nil
}

// checkLag re-reads the queue after the store's channel was (nearly) full. The store drops
// events for a full channel and owes a Resync, but delivers it only with its next event,
// which may never come (a cluster of 10,000 jobs submitted at once, then quiet): once
// the channel has been seen full, the queue is read again as soon as it is drained.
func (m *Manager) checkLag(events <-chan jobs.Event) {
	if n := len(events); n >= cap(events)-1 && cap(events) > 1 {
		m.lagged = true
	} else if n == 0 && m.lagged {
		m.lagged = false
		if err := m.resync(); err != nil {
			m.log.Error("re-read the queue", zap.Error(err))
		}
	}
}

func (m *Manager) onEvent(ev jobs.Event) {
	switch ev.Kind {
	case jobs.Resync:
		if err := m.resync(); err != nil {
			m.log.Error("re-read the queue", zap.Error(err))
		}
	case jobs.JobAdded, jobs.StatusChanged:
		if j := m.jobs[ev.ID]; j != nil {
			m.setStatus(j, ev.Status)
			return
		}
		if ad, err := m.store.Get(m.ctx, ev.ID); err == nil {
			m.add(ad)
		}
	case jobs.JobDeleted:
		if j := m.jobs[ev.ID]; j != nil {
			m.drop(j)
		}
	}
}

// add starts managing a grid job.
func (m *Manager) add(ad *classad.ClassAd) *job {
	if !isGridJob(ad) {
		return nil
	}
	j := m.newJob(ad)
	j.startedAt, j.lastSeen = m.now(), m.now()
	m.jobs[j.id] = j
	m.stats.jobs.Store(int64(len(m.jobs)))
	if j.rs != nil {
		j.rs.jobs[j] = struct{}{}
		j.rs.emptySince = timeZero
		if j.spot {
			j.rs.spotJobs++
			j.rs.cloud.SetSpotJobs(j.rs.spotJobs)
		}
		m.index(j)
		if h := j.rs.health; !h.Up && !h.Since.IsZero() && !j.gone() {
			j.logs = append(j.logs, logResourceDown) // joining a resource known to be down
		}
	}
	m.step(j)
	return j
}

// drop forgets a job (it left the queue).
func (m *Manager) drop(j *job) {
	if j.busy {
		m.withdraw(j)
	}
	m.releaseSlot(j)
	if j.rs != nil {
		m.unindex(j)
		delete(j.rs.jobs, j)
		if len(j.rs.jobs) == 0 {
			j.rs.emptySince = m.now()
		}
		if j.spot {
			j.rs.spotJobs--
			j.rs.cloud.SetSpotJobs(j.rs.spotJobs)
		}
	}
	delete(m.jobs, j.id)
	m.stats.jobs.Store(int64(len(m.jobs)))
	j.state = stGone
	j.gen++
}

func (m *Manager) setStatus(j *job, s int64) {
	if s == j.status || s == 0 {
		return
	}
	j.status = s
	if s != jobs.StatusHeld {
		j.heldLogged = false
	}
	if j.busy && j.gone() {
		m.withdraw(j)
	}
	m.step(j)
}

func (m *Manager) index(j *job) {
	rs := j.rs
	if rs == nil {
		return
	}
	if j.instanceID != "" {
		rs.byInstance[j.instanceID] = j
	}
	if j.token != "" {
		rs.byToken[j.token] = j
	}
	if j.ownKey && j.keyPair != "" {
		rs.byKey[j.keyPair] = j
	}
	if j.spotReqID != "" {
		rs.bySpot[j.spotReqID] = j
	}
}

func (m *Manager) unindex(j *job) {
	rs := j.rs
	for _, p := range []struct {
		idx map[string]*job
		k   string
	}{{rs.byInstance, j.instanceID}, {rs.byToken, j.token}, {rs.byKey, j.keyPair}, {rs.bySpot, j.spotReqID}} {
		if p.k != "" && p.idx[p.k] == j {
			delete(p.idx, p.k)
		}
	}
}

// step runs the job's state functions until it waits.
func (m *Manager) step(j *job) {
	for i := 0; i < maxStepsPerKick; i++ {
		if j.busy || j.state == stGone {
			return
		}
		// Events already due (025/026, 029/030) go before anything the state writes.
		if j.res == nil && len(j.logs) > 0 {
			m.flushLogs(j)
			continue
		}
		from := j.state
		next := stateFuncs[from](m, j)
		if next == from {
			if j.busy || j.res != nil {
				continue
			}
			// The job waits: now the 012 of a hold it did not make and its policy
			// verdict, after the state's own command (so a condor_hold's EC2_VM_STOP
			// does not queue behind 012 writes to a shared user log).
			if m.housekeeping(j) {
				continue
			}
			return
		}
		if !allowed(from, next) {
			m.stats.illegal.Add(1)
			m.log.Error("transition not in the table", zapJob(j), zap.Stringer("from", from), zap.Stringer("to", next))
			if m.strict {
				panic(fmt.Sprintf("gridmanager: job %s: transition %s → %s not in the table", j.id, from, next))
			}
		}
		m.transit(j, next)
	}
	m.log.Error("job state machine did not settle", zapJob(j), zap.Stringer("state", j.state))
}

func (m *Manager) transit(j *job, next state) {
	m.log.Debug("transition", zapJob(j), zap.Stringer("from", j.state), zap.Stringer("to", next))
	j.state = next
	j.res = nil
	j.wakeAt = timeZero
	if next == stSeekInstanceID || next == stSpotCheck {
		j.since, j.passes = timeZero, 0 // the consistency clock starts when the seek does
	}
	if next == stGone {
		m.drop(j)
		return
	}
	m.index(j)
}

// housekeeping launches the op a waiting job needs besides its state: the 012 of a hold
// the grid manager did not make, pending user log events, and a pending policy verdict.
// It reports whether it launched one.
func (m *Manager) housekeeping(j *job) bool {
	if j.status == jobs.StatusHeld && !j.heldLogged {
		j.heldLogged = true
		j.logs = append(j.logs, logHeld)
	}
	if len(j.logs) > 0 {
		m.flushLogs(j)
		return true
	}
	if j.x != nil && j.x.verdict != nil {
		d := *j.x.verdict
		j.x.verdict = nil
		m.launchPolicy(j, d)
		return true
	}
	return false
}

// flushLogs writes the job's pending user log events.
func (m *Manager) flushLogs(j *job) {
	kinds, id := j.logs, j.id
	j.logs = nil
	m.launch(j, m.ops, func(ctx context.Context) *result {
		m.writeLog(ctx, id, kinds...)
		return &result{house: true}
	})
}

// wake arranges for the job to be stepped at t.
func (m *Manager) wake(j *job, t time.Time) {
	if j.armed.Equal(t) {
		return
	}
	j.armed = t
	heap.Push(&m.wakes, wakeEntry{at: t, j: j})
	m.armTimer()
}

func (m *Manager) armTimer() {
	if m.timer == nil || len(m.wakes) == 0 {
		return
	}
	d := time.Until(m.wakes[0].at)
	if n := m.now(); n != (time.Time{}) {
		d = m.wakes[0].at.Sub(n)
	}
	m.timer.Reset(max(d, 0))
}

func (m *Manager) fireWakes() {
	now := m.now()
	for len(m.wakes) > 0 && !m.wakes[0].at.After(now) {
		e := heap.Pop(&m.wakes).(wakeEntry)
		if e.j.armed.Equal(e.at) {
			e.j.armed = timeZero
			m.step(e.j)
		}
	}
	m.armTimer()
}

type wakeEntry struct {
	at time.Time
	j  *job
}

type wakeHeap []wakeEntry

func (h wakeHeap) Len() int           { return len(h) }
func (h wakeHeap) Less(a, b int) bool { return h[a].at.Before(h[b].at) }
func (h wakeHeap) Swap(a, b int)      { h[a], h[b] = h[b], h[a] }
func (h *wakeHeap) Push(x any)        { *h = append(*h, x.(wakeEntry)) }
func (h *wakeHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = wakeEntry{}
	*h = old[:len(old)-1]
	return e
}

// passInterval is the period of the pass that checks stale status and, unless
// PERIODIC_EXPR_INTERVAL turned it off, evaluates periodic policy.
func (m *Manager) passInterval() time.Duration {
	if m.opts.PeriodicExprInterval > 0 {
		return m.opts.PeriodicExprInterval
	}
	return DefaultPeriodicExprInterval
}

// onTick runs the clocks: the periodic policy pass and stale check, orphan sweeps, and
// stopping resources that have had no job for emptyResourceDelay.
func (m *Manager) onTick() {
	now := m.now()
	if !now.Before(m.nextPass) && !m.policyRun {
		m.nextPass = now.Add(m.passInterval())
		m.checkStale(now)
		if m.opts.PeriodicExprInterval > 0 {
			m.startPolicyPass()
		}
	}
	for key, rs := range m.resources {
		if len(rs.jobs) == 0 && !rs.emptySince.IsZero() && now.Sub(rs.emptySince) >= emptyResourceDelay {
			rs.cancel()
			delete(m.resources, key)
			continue
		}
		m.maybeSweep(rs, now)
	}
}

// checkStale marks jobs whose instance has had no status for StaleLimit (029).
func (m *Manager) checkStale(now time.Time) {
	for _, j := range m.jobs {
		if j.instanceID == "" || j.stale || terminalRemote(j.remote.state) || now.Sub(j.lastSeen) < m.opts.StaleLimit {
			continue
		}
		switch j.state {
		case stSubmitted, stProbe, stAttach, stCancel, stCancelCheck:
		default:
			continue
		}
		j.stale = true
		j.logs = append(j.logs, logStatusUnknown)
		m.setAttrs(j, jobs.Change{Name: attrStatusUnknown, Expr: classad.Literal(classad.Bool(true))})
		m.step(j)
	}
}

// counters are the Stats, updated by the loop and by ops.
type counters struct {
	jobs, starts, stops, probes, holds, completions, removes, orphans, illegal atomic.Int64
}

// Stats are the manager's counters since New.
type Stats struct {
	Jobs        int64 // jobs managed now
	Starts      int64 // instances (and spot requests) started
	Stops       int64 // instances confirmed stopping after EC2_VM_STOP
	Probes      int64 // status passes processed
	Holds       int64 // holds put by the grid manager (its own and policy's)
	Completions int64 // jobs completed (005)
	Removes     int64 // removed jobs that left the queue (009)
	Orphans     int64 // orphan instances terminated
	Illegal     int64 // transitions not in the table (a bug if ever non-zero)
}

// Stats returns the counters. Safe to call from any goroutine.
func (m *Manager) Stats() Stats {
	return Stats{
		Jobs: m.stats.jobs.Load(), Starts: m.stats.starts.Load(), Stops: m.stats.stops.Load(), Probes: m.stats.probes.Load(),
		Holds: m.stats.holds.Load(), Completions: m.stats.completions.Load(),
		Removes: m.stats.removes.Load(), Orphans: m.stats.orphans.Load(), Illegal: m.stats.illegal.Load(),
	}
}

func zapJob(j *job) zap.Field      { return zap.Stringer("job", j.id) }
func errField(err error) zap.Field { return zap.Error(err) }
