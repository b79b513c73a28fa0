package gridmanager

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ec2grid/ec2grid/gridmanager/resource"
	"github.com/ec2grid/ec2grid/jobs"
)

// The spot flow (htcondor-ec2.md §3.6): a spot request is tracked until it has an
// instance, which then follows the on-demand path from stSaveInstanceID.

func stateSpotStart(m *Manager, j *job) state {
	if r := j.take(); r != nil && !r.cancelled() {
		switch {
		case r.ok() && len(r.fields) >= 2:
			j.tries = 0
			m.stats.starts.Add(1)
			j.rs.cloud.ProbeSoon()
			return stSpotSubmitted // the request id was committed by the op
		case r.lost():
			j.maybeStarted = true
			return stSpotCheck
		case r.err != nil && len(r.fields) == 0:
			m.log.Warn("request spot instance", zapJob(j), errField(r.err))
			m.releaseSlot(j)
			return m.retryLater(j, stSpotStart) // never sent: try again
		}
		m.releaseSlot(j)
		return holdWith(j, holdSpotStart(r.errorString()))
	}
	if j.gone() {
		m.releaseSlot(j)
		if j.maybeStarted {
			return stSpotCheck
		}
		return m.abandon(j)
	}
	if m.waiting(j) || !m.canCall(j) {
		return stSpotStart
	}
	m.launchSpotStart(j)
	return stSpotStart
}

// launchSpotStart: a submit slot, EC2_VM_START_SPOT, and the request id committed
// durably in the same op (a crash between them is found again by launch group).
func (m *Manager) launchSpotStart(j *job) {
	cloud, have, id, token, keyName := j.rs.cloud, j.release != nil, j.id, j.token, j.keyPair
	slotCtx, cancel := context.WithCancel(m.ctx)
	j.cancel = cancel
	m.launch(j, m.startOps, func(ctx context.Context) *result {
		defer cancel()
		_, keep, fail := takeSlot(ctx, slotCtx, cloud, have)
		if fail != nil {
			return fail
		}
		ad, err := m.store.Get(ctx, id)
		if err != nil {
			return &result{err: err, apply: keep}
		}
		s := func(n string) string { v, _ := ad.EvalAttr(n).StringValue(); return v }
		args := []string{s("EC2AmiID"), s(attrSpotPrice), keyName, s("EC2UserData"), s("EC2UserDataFile"),
			s("EC2InstanceType"), s("EC2AvailabilityZone"), s("EC2VpcSubnet"), s("EC2VpcIp"), token,
			s("EC2IamProfileArn"), s("EC2IamProfileName")}
		args = append(append(args, splitList(s("EC2SecurityGroups"))...), "NULL")
		args = append(append(args, splitList(s("EC2SecurityIDs"))...), "NULL")
		f, err := cloud.Call(ctx, resource.Low, "EC2_VM_START_SPOT", args...)
		if err != nil || len(f) < 2 || f[0] != "0" {
			return &result{fields: f, err: err, apply: keep}
		}
		m.opts.Crash("after-spot-start-before-save")
		sir := f[1]
		err = m.store.Update(ctx, id, []jobs.Change{jobs.SetString(attrSpotRequestID, sir), jobs.SetString(attrGridJobStatus, "pending")}, jobs.Durable)
		return &result{fields: f, err: err, apply: func(j *job) {
			keep(j)
			j.spotReqID = sir
			j.rs.bySpot[sir] = j
			j.remote.state = "pending"
		}}
	})
}

func stateSpotSubmitted(m *Manager, j *job) state {
	if j.gone() {
		return stSpotCancel
	}
	if j.changed {
		return stSpotQuery
	}
	return stSpotSubmitted
}

func stateSpotQuery(m *Manager, j *job) state {
	j.changed = false
	if j.x != nil && j.x.spotInst != "" {
		j.instanceID = j.x.spotInst
		j.startedAt, j.lastSeen = m.now(), m.now()
		return stSaveInstanceID
	}
	m.evalPolicy(j)
	switch j.remote.state {
	case "open", "pending", "active", "":
		return stSpotSubmitted
	case "cancelled":
		return holdWith(j, holdSpotCancelledBy)
	case remoteNotFound:
		if j.ext().purged++; j.x.purged >= maxSpotPurged {
			return holdWith(j, holdSpotPurged)
		}
		return stSpotSubmitted
	}
	return holdWith(j, holdSpotState(j.remote.state))
}

func stateSpotCheck(m *Manager, j *job) state {
	if j.spotReqID != "" {
		m.setAttrs(j, jobs.SetString(attrSpotRequestID, j.spotReqID))
		return stSpotSubmitted // a pass found the request by launch group
	}
	if j.since.IsZero() {
		j.since, j.passes = m.now(), 0
		j.rs.cloud.ProbeSoon()
	}
	if !m.consistent(j) {
		return stSpotCheck
	}
	j.since, j.maybeStarted = timeZero, false
	if j.gone() {
		return m.abandon(j)
	}
	if j.ownKey {
		return stCreateKeyPair
	}
	return stSpotStart
}

// errSpotCancelNotSent: the commit before EC2_VM_STOP_SPOT failed, so the cancel was never
// sent; it is tried again later rather than held as a failed cancel.
var errSpotCancelNotSent = errors.New("commit before spot cancel")

func stateSpotCancel(m *Manager, j *job) state {
	if r := j.take(); r != nil {
		if errors.Is(r.err, errSpotCancelNotSent) {
			m.log.Warn("spot cancel", zapJob(j), errField(r.err))
			return m.retryLater(j, stSpotCancel)
		}
		if r.ok() || strings.Contains(r.failureText(), "InvalidSpotInstanceRequestID.NotFound") {
			j.tries++
			j.since, j.passes = m.now(), 0
			j.rs.cloud.ProbeSoon()
			return stSpotCancelCheck
		}
		j.tries = 0
		return holdWith(j, holdSpotCancel(r.errorString()))
	}
	if m.waiting(j) || !m.canCall(j) {
		return stSpotCancel
	}
	if j.remote.state != remoteCancellingSpot {
		j.remote.state = remoteCancellingSpot
		m.setAttrs(j, jobs.SetString(attrGridJobStatus, remoteCancellingSpot))
	}
	id, sir, cloud := j.id, j.spotReqID, j.rs.cloud
	m.launch(j, m.ops, func(ctx context.Context) *result {
		// Durable first, as in stateCancel: the store announces a condor_rm or condor_hold
		// before its commit is on disk, and a request cancelled for a removal a crash then
		// forgets would come back as cancelled "by somebody else" (hold 37/20).
		if err := m.store.Update(ctx, id, []jobs.Change{jobs.SetString(attrGridJobStatus, remoteCancellingSpot)}, jobs.Durable); err != nil {
			return &result{err: fmt.Errorf("%w: %w", errSpotCancelNotSent, err)}
		}
		f, err := cloud.Call(ctx, resource.Medium, "EC2_VM_STOP_SPOT", sir)
		m.opts.Crash("during-spot-cancel")
		return &result{fields: f, err: err}
	})
	return stSpotCancel
}

func stateSpotCancelCheck(m *Manager, j *job) state {
	if j.x != nil && j.x.spotInst != "" {
		j.instanceID = j.x.spotInst // fulfilled before the cancel: stop the instance
		j.startedAt, j.lastSeen = m.now(), m.now()
		j.tries = 0
		return stSaveInstanceID
	}
	if j.passes == 0 {
		return stSpotCancelCheck
	}
	switch j.remote.state {
	case "cancelled", remoteNotFound, "closed", "failed":
		j.tries = 0
		delete(j.rs.bySpot, j.spotReqID)
		j.spotReqID = ""
		return m.abandon(j)
	}
	if j.tries <= maxCancelRetries {
		return stSpotCancel
	}
	j.tries = 0
	return holdWith(j, holdSpotCancelGave)
}
