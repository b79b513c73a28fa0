package gridmanager

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.uber.org/zap"

	"github.com/ec2grid/ec2grid/gridmanager/resource"
	"github.com/ec2grid/ec2grid/jobs"
)

// terminalRemote reports remote states after which the instance is gone.
func terminalRemote(s string) bool { return s == "terminated" || s == remoteNotFound }

func stateProbe(m *Manager, j *job) state {
	if r := j.take(); r != nil && r.err != nil {
		m.log.Warn("mark job running", zapJob(j), errField(r.err))
		return m.retryLater(j, stProbe)
	}
	j.changed = false
	rs := j.remote.state
	switch rs {
	case "running", "shutting-down", "terminated", remoteNotFound, "stopped", "shutoff":
		if !j.executeLogged && !j.gone() {
			m.launchRunning(j)
			j.changed = true // look again once the op is done
			return stProbe
		}
	}
	m.evalPolicy(j)
	switch rs {
	case "shutting-down", "terminated", remoteNotFound, "stopped", "shutoff":
		if h, bad := terminationHold(j.remote.reason); bad {
			return holdWith(j, h)
		}
	}
	switch rs {
	case "running":
		if !j.attached && !j.gone() {
			return stAttach
		}
	case "terminated", remoteNotFound:
		return stDoneSave
	case "stopped", "shutoff":
		j.completion = true // OpenStack's way to end: terminate, then done
		return stCancel
	}
	return stSubmitted
}

func stateAttach(m *Manager, j *job) state {
	if r := j.take(); r != nil {
		if r.err == nil {
			j.attached, j.tries = true, 0
			return stSubmitted
		}
		var h hold
		if errors.As(r.err, &h) {
			j.tries = 0
			return holdWith(j, h)
		}
		m.log.Warn("tags, address or volumes", zapJob(j), errField(r.err))
		return m.retryLater(j, stAttach)
	}
	if j.gone() {
		return stCancel
	}
	if j.changed && terminalRemote(j.remote.state) {
		return stSubmitted // it ended before we were done: the probe handles it
	}
	if m.waiting(j) || !m.canCall(j) {
		return stAttach
	}
	m.launchAttach(j)
	return stAttach
}

func stateDoneSave(m *Manager, j *job) state {
	if r := j.take(); r != nil && !(r.stale && !j.gone()) { // a stale result for a live job: decide again below
		if r.err != nil {
			m.log.Warn("commit completion", zapJob(j), errField(r.err))
			return m.retryLater(j, stDoneSave)
		}
		j.completion = false
		m.releaseSlot(j)
		// completed or removed: delete; held or requeued (idle): clear the request
		return m.abandon(j)
	}
	if m.waiting(j) {
		return stDoneSave
	}
	if j.status == jobs.StatusRemoved || j.status == jobs.StatusHeld {
		j.completion = false
		return m.abandon(j) // removed or held meanwhile: that wins over completion
	}
	m.launchDone(j)
	return stDoneSave
}

func stateCancel(m *Manager, j *job) state {
	if r := j.take(); r != nil {
		j.tries++
		t := r.failureText()
		if r.ok() || strings.Contains(t, "InvalidInstanceID.NotFound") || strings.Contains(t, "InstanceNotFound") {
			if !r.ok() {
				j.remote.state = remoteNotFound
			}
			m.stats.stops.Add(1)
			j.since, j.passes = m.now(), 0
			j.rs.cloud.ProbeSoon()
			return stCancelCheck
		}
		j.ext().lastErr = r.errorString()
		if j.tries > maxCancelRetries {
			j.tries = 0
			return holdWith(j, holdCancel(j.x.lastErr))
		}
		return m.retryLater(j, stCancel)
	}
	if terminalRemote(j.remote.state) {
		j.tries = 0
		return m.postCancel(j)
	}
	if m.waiting(j) || !m.canCall(j) {
		return stCancel
	}
	j.remote.state = remoteCancelling
	id, iid, cloud := j.id, j.instanceID, j.rs.cloud
	m.launch(j, m.ops, func(ctx context.Context) *result {
		// Durable first: the store announces a condor_rm or condor_hold before its commit
		// is on disk, and an instance stopped for a removal a crash then forgets would
		// turn into a completed job.
		if err := m.store.Update(ctx, id, []jobs.Change{jobs.SetString(attrGridJobStatus, remoteCancelling)}, jobs.Durable); err != nil {
			return &result{err: fmt.Errorf("commit before cancel: %w", err)}
		}
		f, err := cloud.Stop(ctx, iid)
		m.opts.Crash("during-cancel")
		return &result{fields: f, err: err}
	})
	return stCancel
}

func stateCancelCheck(m *Manager, j *job) state {
	if j.passes == 0 && !terminalRemote(j.remote.state) {
		return stCancelCheck // wait for a pass sent after the stop
	}
	st := j.remote.state
	if terminalRemote(st) || st == "shutting-down" && shuttingDownTrusted(j.serverTypeNow()) {
		j.tries = 0
		return m.postCancel(j)
	}
	if j.tries <= maxCancelRetries {
		// Not gone yet: stop again, but no faster than RetryDelay after the last stop,
		// so the retries span a while even when early passes come every second (an
		// instance shutting down on a cloud that is not trusted to finish, §3.7).
		if again := j.since.Add(m.opts.RetryDelay); m.now().Before(again) {
			m.wake(j, again)
			return stCancelCheck
		}
		return stCancel
	}
	j.tries = 0
	if j.x != nil && j.x.lastErr != "" {
		return holdWith(j, holdCancel(j.x.lastErr))
	}
	return holdWith(j, holdCancelGaveUp)
}

// tokenServerType is the server type the token was made for (EC2ServerType), or the
// resource's when the ad has none.
func (j *job) tokenServerType() string {
	if j.serverType != "" {
		return j.serverType
	}
	return j.serverTypeNow()
}

// serverTypeNow is the resource's server type, or the one recorded with the token.
func (j *job) serverTypeNow() string {
	if j.rs != nil && j.rs.health.ServerType != "" {
		return j.rs.health.ServerType
	}
	return j.serverType
}

func stateClearRequest(m *Manager, j *job) state {
	if r := j.take(); r != nil {
		if r.err != nil {
			m.log.Warn("clear request", zapJob(j), errField(r.err))
			return m.retryLater(j, stClearRequest)
		}
		m.forgetRemote(j)
		return stDelete
	}
	if j.instanceID != "" && !terminalRemote(j.remote.state) && j.status != jobs.StatusRemoved {
		return stCancel // never forget a live instance
	}
	if j.token == "" && j.instanceID == "" && j.spotReqID == "" {
		return stDelete
	}
	if m.waiting(j) {
		return stClearRequest
	}
	m.launchClear(j)
	return stClearRequest
}

func stateDelete(m *Manager, j *job) state {
	if r := j.take(); r != nil {
		if r.err != nil && !errors.Is(r.err, jobs.ErrNotFound) {
			m.log.Warn("finish job", zapJob(j), errField(r.err))
			return m.retryLater(j, stDelete)
		}
		j.keyMaybeCreated = false
		if j.status != j.x.finishing {
			// The status changed while the finish ran (a condor_rm landing on a hold's
			// finish): that finish left the job queued, so finish again for the new one,
			// or a removed job would stay in the queue with nobody to move it.
			return stDelete
		}
		switch j.status {
		case jobs.StatusRemoved, jobs.StatusCompleted:
			return stGone
		case jobs.StatusHeld:
			return stParked
		}
		return stInit // requeued by on_exit_remove = false, or released meanwhile
	}
	m.releaseSlot(j)
	if m.waiting(j) {
		return stDelete
	}
	destroy := j.ownKey && j.keyMaybeCreated && j.keyPair != "" && j.rs != nil
	if destroy && !m.canCall(j) {
		return stDelete // the keypair needs the resource
	}
	m.launchFinish(j, destroy)
	return stDelete
}

// finishOp destroys the job's keypair and key file, then writes the final event and
// moves the job to the history (removed, completed) or leaves it queued.
func (m *Manager) finishOp(j *job, destroy bool) func(ctx context.Context) *result {
	id, status, name, file := j.id, j.status, j.keyPair, j.keyFile
	j.ext().finishing = status
	var cloud Cloud
	if j.rs != nil {
		cloud = j.rs.cloud
	}
	return func(ctx context.Context) *result {
		if destroy {
			f, err := cloud.Call(ctx, resource.Medium, "EC2_VM_DESTROY_KEYPAIR", name)
			if err != nil || len(f) == 0 || f[0] != "0" {
				m.log.Warn("destroy keypair", zap.Stringer("job", id), zap.String("keypair", name), zap.Strings("result", f), zap.Error(err))
			}
			if file != "" && file != "/dev/null" {
				if err := os.Remove(file); err != nil && !os.IsNotExist(err) {
					m.log.Warn("remove key file", zap.Stringer("job", id), zap.String("file", file), zap.Error(err))
				}
			}
		}
		var err error
		switch status {
		case jobs.StatusCompleted:
			m.writeLog(ctx, id, logTerminated)
			if err = m.store.Delete(ctx, id); err == nil {
				m.stats.completions.Add(1)
			}
		case jobs.StatusRemoved:
			m.writeLog(ctx, id, logAborted)
			if err = m.store.Delete(ctx, id); err == nil {
				m.stats.removes.Add(1)
			}
		}
		return &result{err: err}
	}
}

func stateHold(m *Manager, j *job) state {
	if r := j.take(); r != nil && r.stale && j.gone() {
		// A condor_rm or condor_hold landed before the hold: it wins, and the hold is
		// dropped. The job goes on as that command's: its instance is stopped, and a
		// user hold's 012 is written by housekeeping (heldLogged stays false).
		if j.x != nil {
			j.x.hold = nil
		}
		return m.afterGone(j)
	} else if r != nil && !r.stale {
		if r.err != nil {
			m.log.Warn("hold job", zapJob(j), errField(r.err))
			return m.retryLater(j, stHold)
		}
		h := j.x.hold
		j.x.hold = nil
		j.heldLogged = true
		if h != nil && h.park {
			if st := j.remote.state; st != "" && st != remoteCancelling {
				// The stop gave up: the ad's "cancelling" (kept while it tried) would make
				// a restart after a release stop the instance, not watch it again.
				m.setAttrs(j, jobs.SetString(attrGridJobStatus, st))
			}
			return stParked // the instance may live: the user decides (release or rm)
		}
		return m.afterGone(j)
	}
	if j.x == nil || j.x.hold == nil {
		return m.afterGone(j) // nothing to put: the job is held already
	}
	if m.waiting(j) {
		return stHold
	}
	m.launchHold(j, *j.x.hold)
	return stHold
}

func stateSeekInstanceID(m *Manager, j *job) state {
	if j.instanceID != "" {
		return stSaveInstanceID // a pass found it (by token or keypair name)
	}
	if j.since.IsZero() {
		j.since, j.passes = m.now(), 0
		j.rs.cloud.ProbeSoon()
	}
	if !m.consistent(j) {
		return stSeekInstanceID
	}
	j.since, j.maybeStarted = timeZero, false // starts stay: a start that keeps getting lost ends in a hold
	if j.gone() {
		return m.abandon(j)
	}
	if j.ownKey {
		return stCreateKeyPair // idempotent: an existing keypair is success
	}
	return stStartVM
}

// consistent reports whether enough passes over enough time have gone by since j.since
// for a missing instance (or spot request) to be truly missing.
func (m *Manager) consistent(j *job) bool {
	if j.passes < m.opts.ConsistencyPasses {
		return false
	}
	until := j.since.Add(m.opts.ConsistencyWindow)
	if m.now().Before(until) {
		m.wake(j, until)
		return false
	}
	return true
}

func stateParked(m *Manager, j *job) state {
	switch j.status {
	case jobs.StatusIdle, jobs.StatusRunning:
		j.tries, j.x, j.heldLogged = 0, nil, false
		return stInit
	case jobs.StatusRemoved:
		if j.instanceID != "" || j.spotReqID != "" || j.token != "" {
			return m.afterGone(j)
		}
		return stDelete
	}
	return stParked
}

func stateGone(m *Manager, j *job) state { return stGone }
