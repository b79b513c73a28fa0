package cloud

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"

	"github.com/ec2grid/ec2grid/cloud/imds"
	"github.com/ec2grid/ec2grid/cloud/runner"
)

// Lifecycle tuning.
const (
	// lifecyclePoll is the longest the lifecycle goroutine sleeps without looking at the
	// clock: an injected clock (Config.Now) may jump, and a deadline it jumps past is
	// then honoured within this time.
	lifecyclePoll = 250 * time.Millisecond
	// lifecycleBatch bounds the transitions written in one transaction: 1,000 instances
	// launched together boot together, in one fsync, yet one transaction never holds
	// writers off for long.
	lifecycleBatch = 5000
	// instancesDir is where instance directories live, under StateDir.
	instancesDir = "instances"
	// metadataEnv is the variable that points a process at its metadata endpoint; the
	// AWS SDKs and CLIs read it.
	metadataEnv = "AWS_EC2_METADATA_SERVICE_ENDPOINT"
)

// haltDelay is how long stopping and shutting-down last: EC2 takes about as long to
// stop an instance as to boot it, so the boot delay serves for both.
func (s *Server) haltDelay() time.Duration { return s.cfg.BootDelay }

// event asks the lifecycle goroutine to move an instance on at a time, if the instance
// has not changed since (gen).
type event struct {
	at  time.Time
	id  string
	gen uint64
}

type eventHeap []event

func (h eventHeap) Len() int           { return len(h) }
func (h eventHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h eventHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)        { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// scheduler is the queue of lifecycle deadlines, earliest first.
type scheduler struct {
	mu   sync.Mutex
	h    eventHeap
	wake chan struct{}
}

func newScheduler() scheduler { return scheduler{wake: make(chan struct{}, 1)} }

func (sc *scheduler) add(evs ...event) {
	if len(evs) == 0 {
		return
	}
	sc.mu.Lock()
	for _, e := range evs {
		heap.Push(&sc.h, e)
	}
	sc.mu.Unlock()
	select {
	case sc.wake <- struct{}{}:
	default:
	}
}

// due pops up to max events whose time has come.
func (sc *scheduler) due(now time.Time, max int) []event {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	var out []event
	for len(sc.h) > 0 && len(out) < max && !sc.h[0].at.After(now) {
		out = append(out, heap.Pop(&sc.h).(event))
	}
	return out
}

func (sc *scheduler) next() (time.Time, bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if len(sc.h) == 0 {
		return time.Time{}, false
	}
	return sc.h[0].at, true
}

// deadline gives the event that moves an instance on from its current state, if any.
func (s *Server) deadline(in *instance) (event, bool) {
	var at time.Time
	switch in.State {
	case statePending:
		at = in.Since.Add(s.cfg.BootDelay)
	case stateStopping, stateShuttingDown:
		at = in.Since.Add(s.haltDelay())
	case stateTerminated:
		at = in.Since.Add(s.cfg.TerminatedRetention)
	default:
		return event{}, false
	}
	return event{at: at, id: in.ID, gen: in.gen}, true
}

// schedule queues the deadlines of instances just changed.
func (s *Server) schedule(list []*instance) {
	evs := make([]event, 0, len(list))
	for _, in := range list {
		if e, ok := s.deadline(in); ok {
			evs = append(evs, e)
		}
	}
	s.sched.add(evs...)
}

// runLifecycle moves instances on as their deadlines come, until ctx ends.
func (s *Server) runLifecycle(ctx context.Context) {
	timer := time.NewTimer(lifecyclePoll)
	defer timer.Stop()
	for {
		if ctx.Err() != nil {
			return
		}
		now := s.now()
		if evs := s.sched.due(now, lifecycleBatch); len(evs) > 0 {
			s.advance(evs)
			continue
		}
		wait := lifecyclePoll
		if at, ok := s.sched.next(); ok && at.Sub(now) < wait {
			wait = at.Sub(now)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-s.sched.wake:
		case <-timer.C:
		}
	}
}

// advance applies due lifecycle events in one transaction: pending → running,
// stopping → stopped, shutting-down → terminated, terminated → gone.
func (s *Server) advance(evs []event) {
	now := s.now()
	var changed, boot, gone []*instance
	err := s.mutate(func(tx *bolt.Tx) (func(), error) {
		var next []*instance
		gone = gone[:0]
		var olds []*instance
		for _, e := range evs {
			in := s.mem.byID[e.id]
			if in == nil || in.gen != e.gen {
				continue
			}
			n := *in
			n.gen++
			n.Since = now
			switch in.State {
			case statePending:
				n.State = stateRunning
				n.StateReason = stateReason{}
				if n.hasScript() && !n.Ran {
					n.Ran, n.Proc = true, true
				}
			case stateStopping:
				n.State = stateStopped
			case stateShuttingDown:
				n.State = stateTerminated
			case stateTerminated:
				gone = append(gone, in)
				continue
			default:
				continue
			}
			olds = append(olds, in)
			next = append(next, &n)
		}
		if err := putInstances(tx, next...); err != nil {
			return nil, err
		}
		dropTokens, err := s.deleteInstances(tx, gone)
		if err != nil {
			return nil, err
		}
		return func() {
			for i, in := range olds {
				*in = *next[i]
				changed = append(changed, in)
				if in.State == stateRunning && in.Proc {
					boot = append(boot, in)
				}
			}
			for _, in := range gone {
				s.mem.purge(in)
			}
			for _, t := range dropTokens {
				delete(s.mem.owners[t.owner].tokens, t.token)
			}
		}, nil
	})
	if err != nil {
		s.log.Error("lifecycle: cannot store transitions; retrying", zap.Error(err))
		// Put the events back a little later: a full disk may clear.
		for i := range evs {
			evs[i].at = now.Add(lifecyclePoll)
		}
		s.sched.add(evs...)
		return
	}
	s.mu.RLock()
	later := make([]*instance, 0, len(changed))
	for _, in := range changed {
		c := *in
		later = append(later, &c)
	}
	starts := make([]instance, 0, len(boot))
	for _, in := range boot {
		starts = append(starts, *in)
	}
	s.mu.RUnlock()
	s.schedule(later)
	for _, in := range gone {
		s.procs.forget(in.ID)
		_ = os.RemoveAll(s.instanceDir(in.ID))
	}
	for _, in := range starts {
		s.startProcess(in)
	}
}

type ownerToken struct{ owner, token string }

// deleteInstances removes purged instances from the store, with their tags, and the
// client tokens none of whose instances remain. It runs inside mutate.
func (s *Server) deleteInstances(tx *bolt.Tx, gone []*instance) ([]ownerToken, error) {
	if len(gone) == 0 {
		return nil, nil
	}
	b := tx.Bucket(bucketInstances)
	goneIDs := make(map[string]bool, len(gone))
	for _, in := range gone {
		goneIDs[in.ID] = true
		if err := b.Delete(seqKey(in.Seq)); err != nil {
			return nil, err
		}
		if err := putTags(tx, in.Owner, in.ID, nil); err != nil {
			return nil, err
		}
	}
	var drop []ownerToken
	for _, in := range gone {
		if in.ClientToken == "" {
			continue
		}
		ct := s.mem.owners[in.Owner].tokens[in.ClientToken]
		if ct == nil || ct.ReservationID != in.ReservationID {
			continue
		}
		alive := false
		for _, id := range ct.Instances {
			if s.mem.byID[id] != nil && !goneIDs[id] {
				alive = true
				break
			}
		}
		if !alive {
			if err := tx.Bucket(bucketTokens).Delete(ownerKey(in.Owner, ct.Token)); err != nil {
				return nil, err
			}
			drop = append(drop, ownerToken{in.Owner, ct.Token})
		}
	}
	return drop, nil
}

// procTable holds the instances' processes: live ones, and ended ones until their
// instance is purged (for their console output).
type procTable struct {
	mu sync.Mutex
	m  map[string]*runner.Process
}

func newProcTable() procTable { return procTable{m: map[string]*runner.Process{}} }

func (t *procTable) add(id string, p *runner.Process) {
	t.mu.Lock()
	t.m[id] = p
	t.mu.Unlock()
}

func (t *procTable) get(id string) *runner.Process {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[id]
}

func (t *procTable) forget(id string) {
	t.mu.Lock()
	delete(t.m, id)
	t.mu.Unlock()
}

// kill ends an instance's process group, if it has a live one.
func (t *procTable) kill(id string) {
	if p := t.get(id); p != nil {
		_ = p.Kill()
	}
}

func (t *procTable) killAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.m {
		_ = p.Kill()
	}
}

// instanceDir is where an instance's process runs and keeps its console output.
func (s *Server) instanceDir(id string) string {
	return filepath.Join(s.cfg.StateDir, instancesDir, id)
}

// startProcess runs an instance's user-data script. If it cannot start, the instance
// fails as EC2 instances that cannot boot do: terminated, Server.InternalError.
func (s *Server) startProcess(in instance) {
	if s.ctx.Err() != nil {
		return
	}
	p, err := runner.Start(s.ctx, runner.Spec{
		InstanceID: in.ID,
		Script:     in.UserData,
		Dir:        s.instanceDir(in.ID),
		Env:        []string{metadataEnv + "=" + imds.Endpoint(s.baseURL(), in.ID)},
		User:       s.cfg.InstanceUser,
		AllowRoot:  s.cfg.AllowRootInstances,
	})
	if err != nil {
		s.log.Error("instance process did not start", zap.String("instance", in.ID), zap.Error(err))
		s.endRun(in.ID, reasonInternalError, stateShuttingDown)
		return
	}
	s.procs.add(in.ID, p)
	s.log.Info("instance process started", zap.String("instance", in.ID), zap.Int("pid", p.PID()))
	// Record the pid, so a restarted cloud can find the process group if it outlived us.
	err = s.mutate(func(tx *bolt.Tx) (func(), error) {
		cur := s.mem.byID[in.ID]
		if cur == nil || !cur.Proc {
			return nil, nil
		}
		n := *cur
		n.PID = p.PID()
		if err := putInstances(tx, &n); err != nil {
			return nil, err
		}
		return func() { cur.PID = n.PID }, nil
	})
	if err != nil {
		s.log.Error("cannot record instance pid", zap.String("instance", in.ID), zap.Error(err))
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-p.Done():
		case <-s.ctx.Done():
			return
		}
		if s.ctx.Err() != nil {
			return // Close killed it: a reopened cloud reports the instance, not this exit
		}
		s.log.Info("instance process exited", zap.String("instance", in.ID), zap.Int("code", p.ExitCode()))
		s.processExited(in.ID)
	}()
}

// processExited shuts an instance down as its InstanceInitiatedShutdownBehavior says,
// once its user-data process has ended by itself.
func (s *Server) processExited(id string) {
	s.mu.RLock()
	in := s.mem.byID[id]
	to := stateStopping
	// An instance-store instance cannot stop: on EC2 it terminates whatever the behaviour.
	if in != nil && (in.ShutdownBehavior == shutdownTerminate || in.RootDeviceType != "ebs") {
		to = stateShuttingDown
	}
	s.mu.RUnlock()
	s.endRun(id, reasonInstanceShutdown, to)
}

// endRun moves a running instance whose process has ended (or never started) to
// stopping or shutting-down with the given reason. Instances no longer running (the
// user stopped or terminated them, which is why the process ended) are left alone.
func (s *Server) endRun(id string, why stateReason, to string) {
	var changed instance
	ok := false
	err := s.mutate(func(tx *bolt.Tx) (func(), error) {
		in := s.mem.byID[id]
		if in == nil || in.State != stateRunning || !in.Proc {
			return nil, nil
		}
		n := *in
		n.gen++
		n.State, n.Since, n.StateReason, n.Proc = to, s.now(), why, false
		if err := putInstances(tx, &n); err != nil {
			return nil, err
		}
		return func() { *in = n; changed, ok = n, true }, nil
	})
	if err != nil {
		s.log.Error("cannot store instance shutdown", zap.String("instance", id), zap.Error(err))
		return
	}
	if ok {
		s.schedule([]*instance{&changed})
	}
}

// recover loads the state and puts it right after a restart: pending and halting
// instances get their deadlines again, instances whose processes died with the previous
// cloud are terminated with Server.InternalError.
func (s *Server) recover() error {
	mem, err := s.store.load()
	if err != nil {
		return err
	}
	s.mem = mem
	now := s.now()
	var died []*instance
	for _, in := range s.mem.byID {
		switch {
		case in.Proc && in.State == stateRunning:
			killOrphan(s.instanceDir(in.ID), in.PID)
			n := *in
			n.State, n.Since, n.StateReason, n.Proc = stateTerminated, now, reasonInternalError, false
			died = append(died, &n)
		case in.State == stateStopping || in.State == stateShuttingDown:
			killOrphan(s.instanceDir(in.ID), in.PID)
		}
	}
	if len(died) > 0 {
		err := s.store.db.Update(func(tx *bolt.Tx) error { return putInstances(tx, died...) })
		if err != nil {
			return fmt.Errorf("recover: %w", err)
		}
		for _, n := range died {
			*s.mem.byID[n.ID] = *n
		}
		s.log.Warn("instances whose processes died with the previous cloud are terminated", zap.Int("count", len(died)))
	}
	all := make([]*instance, 0, len(s.mem.byID))
	for _, in := range s.mem.byID {
		all = append(all, in)
	}
	s.schedule(all)
	for _, r := range resources {
		if r.load == nil {
			continue
		}
		if err := s.store.db.Update(func(tx *bolt.Tx) error { return r.load(s, tx) }); err != nil {
			return fmt.Errorf("recover %s: %w", r.name, err)
		}
	}
	return nil
}

// killOrphan kills the process group of a process that outlived the previous cloud, if
// pid still names a process working in the instance's directory (a pid alone may have
// been reused by an unrelated process since).
func killOrphan(dir string, pid int) {
	if pid <= 0 || !runner.Alive(pid) {
		return
	}
	cwd, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
	if err != nil || !(cwd == dir || strings.HasPrefix(cwd, dir+string(filepath.Separator))) {
		return
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// consoleOutput gives the last console output of an owner's instance: from its process
// while the cloud that started it runs, else from the console file it left (after a
// restart). ok is false for an unknown instance; an instance that never ran a process
// has empty output.
func (s *Server) consoleOutput(owner, id string) (out []byte, ok bool, err error) {
	s.mu.RLock()
	in := s.mem.byID[id]
	ok = in != nil && in.Owner == owner
	s.mu.RUnlock()
	if !ok {
		return nil, false, nil
	}
	if p := s.procs.get(id); p != nil {
		out, err = p.Console()
		return out, true, err
	}
	f, err := os.Open(filepath.Join(s.instanceDir(id), runner.ConsoleFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, true, nil
	}
	if err != nil {
		return nil, true, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, true, err
	}
	off := max(st.Size()-runner.ConsoleLimit, 0)
	out = make([]byte, st.Size()-off)
	n, err := f.ReadAt(out, off)
	if err != nil && n < len(out) && !errors.Is(err, io.EOF) {
		return out[:n], true, err
	}
	return out[:n], true, nil
}
