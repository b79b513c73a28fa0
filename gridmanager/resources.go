package gridmanager

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/gridmanager/resource"
	"github.com/ec2grid/ec2grid/jobs"
)

// resourceFor returns the resource for key, starting its Cloud on first use.
func (m *Manager) resourceFor(key resource.Key, gridResource string) *resState {
	if rs := m.resources[key]; rs != nil {
		return rs
	}
	ctx, cancel := context.WithCancel(m.ctx)
	rs := &resState{
		key: key, gridResource: gridResource, cancel: cancel,
		jobs:       map[*job]struct{}{},
		byInstance: map[string]*job{}, byToken: map[string]*job{},
		byKey: map[string]*job{}, bySpot: map[string]*job{},
		orphans:   map[string]time.Time{},
		nextSweep: m.now().Add(max(m.opts.OrphanSweepInterval, 0)), // not with the first passes: those are the jobs'
	}
	rs.cloud = m.opts.NewCloud(ctx, key, listener{m})
	rs.health = rs.cloud.Health()
	m.resources[key] = rs
	return rs
}

// listener hands a resource's news to the loop without blocking: the latest snapshot and
// health per resource wait in the inbox (a newer one replaces an unread older one, which
// it supersedes) and a kick wakes the loop.
type listener struct{ m *Manager }

func (l listener) Snapshot(k resource.Key, s resource.Snapshot) { l.m.inbox.put(k, &s, nil) }
func (l listener) Health(k resource.Key, h resource.Health)     { l.m.inbox.put(k, nil, &h) }

type news struct {
	snap   *resource.Snapshot
	health *resource.Health
}

type inbox struct {
	mu   sync.Mutex
	m    map[resource.Key]*news
	kick chan struct{}
}

func (b *inbox) init() {
	b.m = map[resource.Key]*news{}
	b.kick = make(chan struct{}, 1)
}

func (b *inbox) put(k resource.Key, s *resource.Snapshot, h *resource.Health) {
	b.mu.Lock()
	n := b.m[k]
	if n == nil {
		n = &news{}
		b.m[k] = n
	}
	if s != nil {
		n.snap = s
	}
	if h != nil {
		n.health = h
	}
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

func (b *inbox) take() map[resource.Key]*news {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.m
	b.m = map[resource.Key]*news{}
	return out
}

func (m *Manager) drainInbox() {
	for k, n := range m.inbox.take() {
		rs := m.resources[k]
		if rs == nil {
			continue
		}
		if n.health != nil {
			m.onHealth(rs, *n.health)
		}
		if n.snap != nil {
			m.onSnapshot(rs, n.snap)
		}
	}
}

// onHealth records a ping's outcome: 026 / 025 to every job on a change, and every job
// stepped (those waiting for the first ping, or for the resource to come back, go on).
func (m *Manager) onHealth(rs *resState, h resource.Health) {
	old := rs.health
	rs.health = h
	known := !old.Since.IsZero()
	if h.Since.IsZero() {
		return
	}
	down, up := !h.Up && (old.Up || !known), h.Up && known && !old.Up
	for j := range rs.jobs {
		if j.state == stParked {
			continue
		}
		switch {
		case down:
			j.logs = append(j.logs, logResourceDown)
			m.setAttrs(j, jobs.SetInt(attrUnavailableTime, m.now().Unix()))
		case up:
			j.logs = append(j.logs, logResourceUp)
			m.setAttrs(j, jobs.Unset(attrUnavailableTime))
		}
		m.step(j)
	}
}

// onSnapshot applies one status pass to the resource's jobs (§3.4): each instance is
// matched by instance id, else client token, else (clouds that ignore ClientToken) the
// job's own keypair name; a job's instance missing from a pass sent at least PurgeGrace
// after its start is not-found.
func (m *Manager) onSnapshot(rs *resState, snap *resource.Snapshot) {
	rs.pass++
	seq, now := rs.pass, m.now()
	m.stats.probes.Add(1)
	for i := range snap.Instances {
		in := &snap.Instances[i]
		j := m.matchInstance(rs, in)
		if j == nil {
			continue
		}
		j.mark = seq
		m.statusUpdate(j, in.State, in.StateReason, in.PublicDNS, now)
	}
	if snap.SpotQueried {
		for i := range snap.Spot {
			m.spotUpdate(rs, &snap.Spot[i], seq, now)
		}
	}
	for j := range rs.jobs {
		if !j.since.IsZero() && !snap.Started.Before(j.since) {
			j.passes++
			j.changed = j.changed || waitsForPass(j.state)
		}
		late := snap.Started.Sub(j.startedAt) >= m.opts.PurgeGrace
		if j.instanceID != "" && j.mark != seq && late && j.remote.state != remoteNotFound && j.state != stParked {
			m.statusUpdate(j, remoteNotFound, "", "", now)
		}
		if snap.SpotQueried && j.spotReqID != "" && j.instanceID == "" && j.spotMark != seq && late {
			j.remote.state, j.changed = remoteNotFound, true
		}
		if j.changed {
			m.step(j)
		}
	}
}

func waitsForPass(s state) bool {
	switch s {
	case stCancelCheck, stSeekInstanceID, stSpotCheck, stSpotCancelCheck:
		return true
	}
	return false
}

// matchInstance finds the job an instance belongs to, adopting it for a job that was
// looking for it (a start whose answer was lost).
func (m *Manager) matchInstance(rs *resState, in *resource.Instance) *job {
	if j := rs.byInstance[in.ID]; j != nil {
		return j
	}
	var j *job
	if in.ClientToken != "" {
		j = rs.byToken[in.ClientToken]
	}
	if j == nil && in.KeyName != "" && !clientTokenWorks(rs.health.ServerType) {
		j = rs.byKey[in.KeyName]
		if j != nil && endedBefore(j, in) {
			j = nil
		}
	}
	if j == nil || j.instanceID != "" || !(j.maybeStarted || j.state == stSeekInstanceID) {
		return nil
	}
	j.instanceID = in.ID
	j.startedAt = m.now()
	rs.byInstance[in.ID] = j
	j.changed = true
	return j
}

// endedBefore reports an ended instance carrying j's keypair name that is not the one j's
// lost start made: one stopped (by the grid manager, for an earlier submission after a
// hold and release that keep the keypair name; shut-down reasons other than the
// instance's own), or one j already had. An instance that shut itself down (its script
// ran, perhaps before any pass listed it: a cloud's eventual consistency hides a new
// instance for seconds) is the lost start's, and starting again would run the job twice.
func endedBefore(j *job, in *resource.Instance) bool {
	if in.State != "terminated" && in.State != "shutting-down" {
		return false
	}
	return in.StateReason != "Client.InstanceInitiatedShutdown" || j.x != nil && slices.Contains(j.x.retired, in.ID)
}

// stoppingToForget reports a job stopping its instance to forget it (a hold, a release
// meanwhile, a requeue), not to complete: its ad keeps GridJobStatus "cancelling" until
// the request is cleared, as recovery tells such an idle job from one whose instance
// ended by itself by that alone. Written over by the stopped instance's "terminated", a
// release landing before the cleanup made a restart take the stop for the job's end
// (the crash loop completed a job without user data).
func stoppingToForget(j *job) bool {
	return (j.state == stCancel || j.state == stCancelCheck) && !j.completion
}

// statusUpdate records one instance's status (StatusUpdate, §3.4): attributes written
// when they change, a changed state wakes the job.
func (m *Manager) statusUpdate(j *job, st, reason, dns string, now time.Time) {
	j.lastSeen = now
	var cs []jobs.Change
	if j.stale {
		j.stale = false
		j.logs = append(j.logs, logStatusKnown)
		cs = append(cs, jobs.Change{Name: attrStatusUnknown, Expr: classad.Literal(classad.Bool(false))})
		j.changed = true
	}
	if dns != "" && dns != j.remote.dns {
		j.remote.dns = dns
		cs = append(cs, jobs.SetString(attrRemoteVMName, dns))
	}
	if reason != j.remote.reason {
		j.remote.reason = reason
		cs = append(cs, jobs.SetString(attrStatusReasonCode, reason))
	}
	if st != j.remote.state {
		j.remote.state = st
		j.changed = true
		cs = append(cs, jobs.SetInt(attrLastRemoteStatus, now.Unix()))
		if !stoppingToForget(j) {
			cs = append(cs, jobs.SetString(attrGridJobStatus, st))
		}
	}
	if len(cs) > 0 {
		m.setAttrs(j, cs...)
	}
}

// spotUpdate records one spot request's status, matched by request id or, for a job
// recovering a lost request, by launch group (the client token).
func (m *Manager) spotUpdate(rs *resState, sr *resource.SpotRequest, seq uint32, now time.Time) {
	j := rs.bySpot[sr.ID]
	if j == nil && sr.LaunchGroup != "" {
		if c := rs.byToken[sr.LaunchGroup]; c != nil && c.spot && c.spotReqID == "" && c.instanceID == "" {
			j = c
			j.spotReqID = sr.ID
			rs.bySpot[sr.ID] = j
			j.changed = true
		}
	}
	if j == nil || j.instanceID != "" {
		return
	}
	j.spotMark = seq
	if sr.InstanceID != "" && (j.x == nil || j.x.spotInst == "") {
		j.ext().spotInst = sr.InstanceID
		j.changed = true
	}
	m.statusUpdate(j, sr.State, sr.StatusCode, "", now)
	if j.x == nil || j.x.spotInst == "" {
		return
	}
	m.setAttrs(j, jobs.SetString(attrSpotRequestID, sr.ID))
}
