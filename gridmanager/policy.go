package gridmanager

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/jobs"
)

// noPolicy is used until the policy package is wired: nothing fires periodically, and a
// completed job leaves the queue (on_exit_remove's default).
type noPolicy struct{}

func (noPolicy) Periodic(*classad.ClassAd, time.Time) Decision { return Decision{} }
func (noPolicy) OnExit(*classad.ClassAd, time.Time) Decision {
	return Decision{Action: ActionRemove}
}

func defaultPolicy() Policy { return noPolicy{} }

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
			if d := pol.Periodic(ad, now); d.Action != ActionNone {
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
	if d := m.opts.Policy.Periodic(ad, m.now()); d.Action != ActionNone {
		j.ext().verdict = &d
	}
}

// launchPolicy applies one decision as the schedd would: jobs.Hold (012), jobs.Remove
// (009 follows when the job leaves), jobs.Release (013). The state machine then reacts to
// the new status as it does to condor_hold, condor_rm or condor_release.
func (m *Manager) launchPolicy(j *job, d Decision) {
	id := j.id
	m.launch(j, m.ops, func(ctx context.Context) *result {
		ad, err := m.store.Get(ctx, id)
		if err != nil {
			return &result{house: true}
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
		if err := m.store.Update(ctx, id, cs, jobs.Durable); err != nil {
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
			if st != j.status {
				j.status = st
				if st != jobs.StatusHeld {
					j.heldLogged = false
				}
			}
		}}
	})
}
