package gridmanager

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/jobs"
	"github.com/ec2grid/ec2grid/policy"
)

// jobPolicy is the policy package behind the Policy interface.
type jobPolicy struct{}

func defaultPolicy() Policy { return jobPolicy{} }

func (jobPolicy) Periodic(ad *classad.ClassAd, now time.Time) Decision {
	return fromPolicy(policy.Periodic(ad, now), ActionNone)
}

// OnExit: policy.OnExit gives None only for a job already held, completed or removed,
// which the state machine never asks about; should it, the job completes.
func (jobPolicy) OnExit(ad *classad.ClassAd, now time.Time) Decision {
	return fromPolicy(policy.OnExit(ad, now), ActionComplete)
}

func fromPolicy(d policy.Decision, none Action) Decision {
	out := Decision{Reason: d.Reason, Code: int(d.Code), SubCode: int(d.SubCode)}
	switch d.Action {
	case policy.Hold:
		out.Action = ActionHold
	case policy.Remove:
		out.Action = ActionRemove
	case policy.Release:
		out.Action = ActionRelease
	case policy.Complete:
		out.Action = ActionComplete
	case policy.Requeue:
		out.Action = ActionRequeue
	default: // None, and Vacate, which a grid job cannot do (HTCondor's gridmanager ignores it)
		out.Action = none
	}
	return out
}

// withRunTime adds the current run to RemoteWallClockTime on the ad (a copy) before policy
// sees it, as HTCondor's BaseJob::UpdateJobTime does.
func withRunTime(ad *classad.ClassAd, now time.Time) *classad.ClassAd {
	if cs := leaveRunning(ad, now.Unix()); cs != nil {
		jobs.Apply(ad, cs[:1])
	}
	return ad
}

// verdict is one periodic decision, with the status it was made for.
type verdict struct {
	id     jobs.JobID
	status int64
	d      Decision
}

// startPolicyPass evaluates periodic policy for every job outside the loop, one ad at a
// time (never the whole queue copied at once), and sends the decisions back.
func (m *Manager) startPolicyPass() {
	ids := make([]jobs.JobID, 0, len(m.jobs))
	for id, j := range m.jobs {
		if j.status != jobs.StatusRemoved && j.status != jobs.StatusCompleted {
			ids = append(ids, id)
		}
	}
	m.policyRun = true
	ctx, pol, now := m.ctx, m.opts.Policy, m.now()
	m.inflight.Add(1)
	go func() {
		defer m.inflight.Done()
		var out []verdict
		for _, id := range ids {
			ad, err := m.store.Get(ctx, id)
			if err != nil {
				continue
			}
			if d := pol.Periodic(withRunTime(ad, now), now); d.Action != ActionNone {
				out = append(out, verdict{id: id, status: jobs.Status(ad), d: d})
			}
		}
		select {
		case m.policyOut <- out:
		case <-ctx.Done():
		}
	}()
}

// applyVerdicts applies the pass's decisions to jobs whose status has not changed since.
func (m *Manager) applyVerdicts(vs []verdict) {
	m.policyRun = false
	for _, v := range vs {
		j := m.jobs[v.id]
		if j == nil || j.status != v.status {
			continue
		}
		j.ext().verdict = &v.d
		m.step(j)
	}
}

// evalPolicy evaluates periodic policy for one job at a status change; a decision waits
// in the job for housekeeping to apply.
func (m *Manager) evalPolicy(j *job) {
	ad, err := m.store.Get(m.ctx, j.id)
	if err != nil {
		return
	}
	if d := m.opts.Policy.Periodic(withRunTime(ad, m.now()), m.now()); d.Action != ActionNone {
		j.ext().verdict = &d
	}
}

// launchPolicy applies one decision as the schedd would: jobs.Hold (012), jobs.Remove
// (009 follows when the job leaves), jobs.Release (013). The state machine then reacts to
// the new status as it does to condor_hold, condor_rm or condor_release.
func (m *Manager) launchPolicy(j *job, d Decision) {
	id, from := j.id, j.status
	m.launch(j, m.ops, func(ctx context.Context) *result {
		ad, err := m.store.Get(ctx, id)
		if err != nil {
			return &result{house: true}
		}
		if st := jobs.Status(ad); st != from && gone(st) {
			// The decision was made for a status the job no longer has (a condor_rm or
			// condor_hold landed since): drop it; the state and the next evaluation see
			// the new one. (The loop's status may lag the manager's own writes, so only
			// a change to a status that runs nothing counts.)
			return raced(from, st, true)
		}
		now := m.now().Unix()
		var cs []jobs.Change
		var log logKind
		switch d.Action {
		case ActionHold:
			cs, err = jobs.Hold(ad, d.Reason, int64(d.Code), int64(d.SubCode), now)
			cs = append(cs, leaveRunning(ad, now)...)
			log = logHeld
		case ActionRemove:
			cs, err = jobs.Remove(ad, d.Reason, now)
		case ActionRelease:
			cs, err = jobs.Release(ad, d.Reason, now)
			log = logReleased
		}
		if err != nil || len(cs) == 0 {
			return &result{house: true}
		}
		if err := m.store.UpdateIf(ctx, id, jobs.Status(ad), cs, jobs.Durable); err != nil {
			if errors.Is(err, jobs.ErrStatusChanged) {
				// A tool changed the status after the read: the decision was for a
				// status the job no longer has; the state decides again, and the next
				// evaluation of policy sees the new one.
				return m.lostRace(ctx, id, from, err, true)
			}
			m.log.Warn("apply policy", zap.Stringer("job", id), zap.Error(err))
			return &result{house: true}
		}
		if log != 0 {
			m.writeLog(ctx, id, log)
		}
		jobs.Apply(ad, cs)
		st := jobs.Status(ad)
		return &result{house: true, apply: func(j *job) {
			if d.Action == ActionHold {
				m.stats.holds.Add(1)
				j.heldLogged = true
			}
			// A status the loop learned while the op ran (a condor_rm's event after the
			// commit) is newer than the op's: keep it.
			if st != j.status && j.status == from {
				j.status = st
				if st != jobs.StatusHeld {
					j.heldLogged = false
				}
			}
		}}
	})
}
