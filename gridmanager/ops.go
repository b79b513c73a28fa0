package gridmanager

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/gridmanager/resource"
	"github.com/ec2grid/ec2grid/jobs"
)

var timeZero time.Time

// opPool bounds the goroutines running ops of one kind; jobs beyond the cap wait in FIFO
// order in the loop, as small structs rather than goroutines.
type opPool struct {
	name    string
	cap     int
	running int
	queue   []*job
}

// opDone carries an op's result back to the loop.
type opDone struct {
	j   *job
	gen uint32
	r   *result
}

// launch runs op for the job in its own goroutine (which exists only while the op runs)
// and marks the job busy until the result is back in the loop. In synchronous mode
// (tests of single state functions) the op runs at once.
func (m *Manager) launch(j *job, p *opPool, op func(ctx context.Context) *result) {
	j.busy = true
	j.gen++
	if m.sync {
		m.finishOp_(j, op(m.ctx))
		return
	}
	if p.running >= p.cap {
		j.queued, j.pool = op, p
		p.queue = append(p.queue, j)
		return
	}
	m.start(j, p, op)
}

func (m *Manager) start(j *job, p *opPool, op func(ctx context.Context) *result) {
	p.running++
	j.pool = p
	gen := j.gen
	ctx := m.ctx
	m.inflight.Add(1)
	go func() {
		defer m.inflight.Done()
		r := op(ctx)
		select {
		case m.done <- opDone{j: j, gen: gen, r: r}:
		case <-ctx.Done():
		}
	}()
}

// opFinished runs in the loop when an op's result arrives.
func (m *Manager) opFinished(d opDone) {
	p := d.j.pool
	if p != nil {
		p.running--
		m.startQueued(p)
	}
	if d.j.gen != d.gen || d.j.state == stGone {
		return
	}
	m.finishOp_(d.j, d.r)
	m.step(d.j)
}

func (m *Manager) finishOp_(j *job, r *result) {
	j.busy, j.pool, j.cancel = false, nil, nil
	if r == nil {
		r = &result{}
	}
	if r.apply != nil {
		r.apply(j)
	}
	if !r.house {
		j.res = r
	}
}

func (m *Manager) startQueued(p *opPool) {
	for p.running < p.cap && len(p.queue) > 0 {
		j := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		if j.queued == nil {
			continue // withdrawn
		}
		op := j.queued
		j.queued = nil
		m.start(j, p, op)
	}
}

// withdraw abandons a queued or cancellable op of a job that was removed or held.
func (m *Manager) withdraw(j *job) {
	switch {
	case j.queued != nil && j.pool != nil && j.pool == m.startOps:
		j.queued = nil
		j.busy, j.pool = false, nil
		j.gen++
		j.res = &result{err: errOpCancelled}
	case j.cancel != nil:
		j.cancel()
	}
}

// callOp is an op making one cloud call.
func (m *Manager) callOp(cloud Cloud, prio resource.Priority, cmd string, args ...string) func(ctx context.Context) *result {
	return func(ctx context.Context) *result {
		f, err := cloud.Call(ctx, prio, cmd, args...)
		return &result{fields: f, err: err}
	}
}

// setAttrs writes changes that a restart can redo (status attributes) without waiting.
func (m *Manager) setAttrs(j *job, changes ...jobs.Change) {
	if err := m.store.Update(m.ctx, j.id, changes, jobs.Batched); err != nil {
		m.log.Debug("update attributes", zapJob(j), errField(err))
	}
}

func (m *Manager) releaseSlot(j *job) {
	if j.release != nil {
		j.release()
		j.release = nil
	}
}

// launchStart: a submit slot, then EC2_VM_START. The slot wait may be abandoned
// (withdraw cancels it); the start itself, once sent, never is.
func (m *Manager) launchStart(j *job) {
	cloud, have := j.rs.cloud, j.release != nil
	id, gid := j.id, j.gridJobID()
	keyName := j.keyPair
	slotCtx, cancel := context.WithCancel(m.ctx)
	j.cancel = cancel
	m.launch(j, m.startOps, func(ctx context.Context) *result {
		defer cancel()
		rel, keep, fail := takeSlot(ctx, slotCtx, cloud, have)
		if fail != nil {
			return fail
		}
		ad, err := m.store.Get(ctx, id)
		if err != nil {
			if rel != nil {
				rel()
			}
			return &result{err: err}
		}
		args := startArgs(ad, gid.Token, keyName, m.opts.QueueID)
		f, err := cloud.Call(ctx, resource.Low, "EC2_VM_START", args...)
		if err == nil && len(f) >= 2 && f[0] == "0" {
			m.opts.Crash("after-start-before-save")
		}
		return &result{fields: f, err: err, apply: keep}
	})
}

// startArgs builds EC2_VM_START's arguments after the key files (htcondor-ec2.md §2.2),
// with the launch tags ec2grid:queue and ec2grid:job as free-form TagSpecification pairs.
func startArgs(ad *classad.ClassAd, token, keyName, queueID string) []string {
	s := func(n string) string { v, _ := ad.EvalAttr(n).StringValue(); return v }
	args := []string{
		s("EC2AmiID"), keyName, s("EC2UserData"), s("EC2UserDataFile"), s("EC2InstanceType"),
		s("EC2AvailabilityZone"), s("EC2VpcSubnet"), s("EC2VpcIp"), token,
		s("EC2BlockDeviceMapping"), s("EC2IamProfileArn"), s("EC2IamProfileName"), "1",
	}
	args = append(args, splitList(s("EC2SecurityGroups"))...)
	args = append(args, "NULL")
	args = append(args, splitList(s("EC2SecurityIDs"))...)
	args = append(args, "NULL")
	for _, n := range splitList(s(attrParamNames)) {
		if v := s("EC2Param_" + strings.ReplaceAll(n, ".", "_")); v != "" {
			args = append(args, n, v)
		}
	}
	if queueID != "" {
		gj := s(attrGlobalJobID)
		if gj == "" {
			gj = jobs.ID(ad).String()
		}
		args = append(args,
			"TagSpecification.1.ResourceType", "instance",
			"TagSpecification.1.Tag.1.Key", TagQueue, "TagSpecification.1.Tag.1.Value", queueID,
			"TagSpecification.1.Tag.2.Key", TagJob, "TagSpecification.1.Tag.2.Value", gj)
	}
	return append(args, "NULL")
}

// The launch tags every instance gets.
const (
	TagQueue = "ec2grid:queue"
	TagJob   = "ec2grid:job"
)

// splitList splits HTCondor's lists ("a, b c") on commas and blanks.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// launchRunning commits JobStatus 2 and the run statistics, then writes 001 (once).
func (m *Manager) launchRunning(j *job) {
	id, from := j.id, j.status
	m.launch(j, m.ops, func(ctx context.Context) *result {
		ad, err := m.store.Get(ctx, id)
		if err != nil {
			return &result{err: err}
		}
		st := jobs.Status(ad)
		if st != jobs.StatusIdle && st != jobs.StatusRunning {
			return raced(from, st, false) // held or removed meanwhile: not running
		}
		if err := m.store.UpdateIf(ctx, id, st, runningChanges(ad, m.now().Unix()), jobs.Durable); err != nil {
			return m.lostRace(ctx, id, from, err, false)
		}
		m.writeLog(ctx, id, logExecute)
		return &result{apply: func(j *job) { j.executeLogged = true }}
	})
}

// runningChanges is BaseJob::UpdateRuntimeStats on entering RUNNING
// (classad-and-submit.md §4.3).
func runningChanges(ad *classad.ClassAd, now int64) []jobs.Change {
	cs := []jobs.Change{}
	if st := jobs.Status(ad); st != jobs.StatusRunning {
		cs = append(cs, jobs.SetInt(jobs.AttrJobStatus, jobs.StatusRunning),
			jobs.SetInt(jobs.AttrLastJobStatus, st), jobs.SetInt(jobs.AttrEnteredCurrentStatus, now))
	}
	if bday, _ := ad.EvalAttr(attrShadowBday).IntValue(); bday != 0 {
		return cs
	}
	cs = append(cs, jobs.SetInt(attrShadowBday, now))
	if _, ok := ad.EvalAttr(attrJobStartDate).IntValue(); !ok {
		cs = append(cs, jobs.SetInt(attrJobStartDate, now))
	}
	if cur, ok := ad.EvalAttr(attrJobCurrentStart).IntValue(); ok {
		cs = append(cs, jobs.SetInt(attrJobLastStart, cur))
	}
	n, _ := ad.EvalAttr(attrNumJobStarts).IntValue()
	return append(cs, jobs.SetInt(attrJobCurrentStart, now), jobs.SetInt(attrJobCurrentStartExe, now),
		jobs.SetInt(attrNumJobStarts, n+1), jobs.SetInt(attrJobRunCount, n+1))
}

// leaveRunning is the other half: the run's time is added to RemoteWallClockTime and
// ShadowBday cleared.
func leaveRunning(ad *classad.ClassAd, now int64) []jobs.Change {
	bday, _ := ad.EvalAttr(attrShadowBday).IntValue()
	if bday == 0 {
		return nil
	}
	wall, _ := ad.EvalAttr(attrRemoteWallClock).NumberAsReal()
	return []jobs.Change{
		{Name: attrRemoteWallClock, Expr: classad.Literal(classad.Real(wall + float64(max(now-bday, 0))))},
		jobs.Unset(attrShadowBday),
	}
}

// launchDone: on_exit policy on the faked exit (ExitCode 0), then Completed, held, or
// requeued (§3.2 step 7).
func (m *Manager) launchDone(j *job) {
	id, from := j.id, j.status
	m.launch(j, m.ops, func(ctx context.Context) *result {
		ad, err := m.store.Get(ctx, id)
		if err != nil {
			return &result{err: err}
		}
		read := jobs.Status(ad)
		if read == jobs.StatusRemoved || read == jobs.StatusHeld || read == jobs.StatusCompleted {
			// Removed or held since the state looked: that wins over completion.
			return &result{apply: func(j *job) { keepLaterStatus(j, from, read) }}
		}
		now := m.now()
		exit := []jobs.Change{jobs.SetInt(attrExitCode, 0), {Name: attrExitBySignal, Expr: classad.Literal(classad.Bool(false))}}
		jobs.Apply(ad, exit)
		d := m.opts.Policy.OnExit(withRunTime(ad.Copy(), now), now)
		cs := append(exit, leaveRunning(ad, now.Unix())...)
		var to int64
		switch d.Action {
		case ActionHold:
			hc, err := jobs.Hold(ad, d.Reason, int64(d.Code), int64(d.SubCode), now.Unix())
			if err != nil {
				return &result{err: fmt.Errorf("on_exit_hold: %w", err)}
			}
			cs, to = append(cs, hc...), jobs.StatusHeld
		case ActionRequeue: // on_exit_remove is false: back to idle for another run
			cs = append(cs, jobs.SetInt(jobs.AttrJobStatus, jobs.StatusIdle), jobs.SetInt(jobs.AttrLastJobStatus, jobs.Status(ad)),
				jobs.SetInt(jobs.AttrEnteredCurrentStatus, now.Unix()))
			to = jobs.StatusIdle
		default:
			cs = append(cs, jobs.SetInt(jobs.AttrJobStatus, jobs.StatusCompleted), jobs.SetInt(jobs.AttrLastJobStatus, jobs.Status(ad)),
				jobs.SetInt(jobs.AttrEnteredCurrentStatus, now.Unix()), jobs.SetInt(attrCompletionDate, now.Unix()))
			to = jobs.StatusCompleted
		}
		if err := m.store.UpdateIf(ctx, id, read, cs, jobs.Durable); err != nil {
			return m.lostRace(ctx, id, from, err, false)
		}
		if to == jobs.StatusHeld {
			m.writeLog(ctx, id, logHeld)
			m.stats.holds.Add(1)
		}
		return &result{apply: func(j *job) {
			j.heldLogged = j.heldLogged || to == jobs.StatusHeld
			keepLaterStatus(j, from, to)
		}}
	})
}

// launchClear forgets GridJobId and the instance (§3.5: a release starts afresh), with
// 004 if the job had been submitted.
func (m *Manager) launchClear(j *job) {
	id, evict := j.id, j.submitLogged
	m.launch(j, m.ops, func(ctx context.Context) *result {
		ad, err := m.store.Get(ctx, id)
		if err != nil {
			return &result{err: err}
		}
		cs := leaveRunning(ad, m.now().Unix())
		for _, n := range []string{jobs.AttrGridJobID, attrInstanceName, attrSpotRequestID, attrGridJobStatus,
			attrStatusReasonCode, attrRemoteVMName, attrAttached, attrStatusUnknown} {
			cs = append(cs, jobs.Unset(n))
		}
		if err := m.store.Update(ctx, id, cs, jobs.Durable); err != nil {
			return &result{err: err}
		}
		if evict {
			m.writeLog(ctx, id, logEvicted)
		}
		return &result{}
	})
}

func (m *Manager) launchFinish(j *job, destroy bool) { m.launch(j, m.ops, m.finishOp(j, destroy)) }

// launchHold puts the grid manager's hold on the job and writes 012.
func (m *Manager) launchHold(j *job, h hold) {
	id, from := j.id, j.status
	m.launch(j, m.ops, func(ctx context.Context) *result {
		ad, err := m.store.Get(ctx, id)
		if err != nil {
			return &result{err: err}
		}
		now := m.now().Unix()
		read := jobs.Status(ad)
		if read != from && gone(read) {
			return raced(from, read, false) // held or removed since the state decided
		}
		cs, err := jobs.Hold(ad, h.Reason, int64(h.Code), int64(h.SubCode), now)
		if err != nil {
			// Already held (or completed): the hold that is there stands.
			return &result{apply: func(j *job) { keepLaterStatus(j, from, read) }}
		}
		cs = append(cs, leaveRunning(ad, now)...)
		if err := m.store.UpdateIf(ctx, id, read, cs, jobs.Durable); err != nil {
			return m.lostRace(ctx, id, from, err, false)
		}
		m.stats.holds.Add(1)
		m.writeLog(ctx, id, logHeld)
		return &result{apply: func(j *job) {
			j.heldLogged = true
			keepLaterStatus(j, from, jobs.StatusHeld)
		}}
	})
}

// raced is the result of an op that wrote nothing because the job's JobStatus is no
// longer the one its decision was made from (a condor_rm or condor_hold committed in
// between): the loop takes the status found, unless it has learned a newer one, and the
// state decides again from it (stale). The store's event for that status follows and
// changes nothing more.
func raced(from, st int64, house bool) *result {
	return &result{stale: true, house: house, apply: func(j *job) {
		if j.status != from || st == from {
			return
		}
		j.status = st
		if st != jobs.StatusHeld {
			j.heldLogged = false
		}
	}}
}

// gone reports the statuses in which a job runs nothing (job.gone for a status read).
func gone(st int64) bool {
	return st == jobs.StatusRemoved || st == jobs.StatusHeld || st == jobs.StatusCompleted
}

// lostRace is an op's result for a failed conditional write: raced with the status
// there now when UpdateIf found it changed, the error otherwise.
func (m *Manager) lostRace(ctx context.Context, id jobs.JobID, from int64, err error, house bool) *result {
	if !errors.Is(err, jobs.ErrStatusChanged) {
		return &result{err: err, house: house}
	}
	ad, gerr := m.store.Get(ctx, id)
	if gerr != nil {
		return &result{err: fmt.Errorf("%w; re-read: %w", err, gerr), house: house}
	}
	m.log.Debug("status changed under an op; deciding again", zap.Stringer("job", id), zap.Error(err))
	return raced(from, jobs.Status(ad), house)
}

// keepLaterStatus sets the status an op committed or read, unless the loop learned a
// newer one while the op ran (a condor_rm's event after the op's commit, handled before
// its result): overwriting it would park a job as held, or keep one idle, that the queue
// says is removed, and nothing would move it to the history again.
func keepLaterStatus(j *job, from, st int64) {
	if j.status != from {
		return
	}
	j.status = st
}

// rememberInstance indexes the job by its instance id for status passes.
func (m *Manager) rememberInstance(j *job) {
	if j.instanceID != "" {
		j.rs.byInstance[j.instanceID] = j
	}
}

// forgetRemote drops everything the job knew of the cloud, after its ad forgot it too.
func (m *Manager) forgetRemote(j *job) {
	m.unindex(j)
	if j.instanceID != "" && j.ownKey {
		j.ext().retired = append(j.x.retired, j.instanceID)
	}
	j.token, j.instanceID, j.spotReqID = "", "", ""
	j.remote = remoteStatus{}
	j.changed, j.submitLogged, j.executeLogged, j.attached = false, false, false, false
	j.maybeStarted, j.stale, j.completion = false, false, false
	j.since, j.passes, j.tries, j.starts = timeZero, 0, 0, 0
	if j.x != nil {
		j.x.attachStep, j.x.spotInst, j.x.purged, j.x.lastErr, j.x.keyReplaced, j.x.keyErr = 0, "", 0, "", 0, ""
	}
}

// takeSlot waits for a submit slot for a start op unless the job already holds one
// (have). fail is the op's result when no slot came (errOpCancelled when the job's own
// wait was cancelled); keep hands an acquired slot to the job when the op's result is
// applied.
func takeSlot(ctx, slotCtx context.Context, cloud Cloud, have bool) (rel func(), keep func(*job), fail *result) {
	if !have {
		var err error
		if rel, err = cloud.AcquireSubmitSlot(slotCtx); err != nil {
			if slotCtx.Err() != nil && ctx.Err() == nil {
				err = errOpCancelled
			}
			return nil, nil, &result{err: err}
		}
	}
	keep = func(j *job) {
		if rel != nil {
			j.release = rel
		}
	}
	return rel, keep, nil
}
