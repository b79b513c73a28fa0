package gridmanager

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/ec2grid/ec2grid/gridmanager/resource"
)

// The orphan sweep. EC2_VM_STATUS_ALL's 8-tuples carry no tags, so the sweep asks the
// cloud for this queue's instances alone with the command's optional filter
// (tag:ec2grid:queue = QueueID). Before trusting a cloud's filter it asks once with a
// random queue id: a cloud that ignores the filter answers with instances, and the sweep
// is then off for that resource (it could not tell this queue's instances from others').
// An instance listed by the filter that no job owns (by instance id, client token or
// keypair name, on any resource of the same URL) and that stays so for OrphanGrace from
// when it was first seen is terminated and logged. Untagged instances, and other queues',
// are never listed, so never touched.

type orphanReport struct {
	rs        *resState
	verified  int8 // non-zero: the answer of the filter check (1 honoured, -1 ignored)
	instances []resource.Instance
	err       error
}

func (m *Manager) maybeSweep(rs *resState, now time.Time) {
	if m.opts.OrphanSweepInterval < 0 || m.opts.QueueID == "" || rs.sweeping || rs.filterOK < 0 ||
		now.Before(rs.nextSweep) || !rs.health.Up || rs.health.Since.IsZero() {
		return
	}
	rs.sweeping = true
	rs.nextSweep = now.Add(m.opts.OrphanSweepInterval)
	ctx, cloud, queue, verify := m.ctx, rs.cloud, m.opts.QueueID, rs.filterOK == 0
	m.inflight.Add(1)
	go func() {
		defer m.inflight.Done()
		rep := orphanReport{rs: rs}
		if verify {
			ins, err := listTagged(ctx, cloud, uuid.NewString())
			switch {
			case err != nil:
				rep.err = err
			case len(ins) == 0:
				rep.verified = 1
			default:
				rep.verified = -1
			}
		}
		if rep.err == nil && rep.verified >= 0 {
			rep.instances, rep.err = listTagged(ctx, cloud, queue)
		}
		select {
		case m.orphanOut <- rep:
		case <-ctx.Done():
		}
	}()
}

// listTagged lists the instances tagged ec2grid:queue = queue.
func listTagged(ctx context.Context, cloud Cloud, queue string) ([]resource.Instance, error) {
	f, err := cloud.Call(ctx, resource.Medium, "EC2_VM_STATUS_ALL", "tag:"+TagQueue, queue)
	if err != nil {
		return nil, fmt.Errorf("list instances tagged %s=%s: %w", TagQueue, queue, err)
	}
	return parseInstances(f)
}

// parseInstances reads EC2_VM_STATUS_ALL's result fields: "0" and 8-tuples, NULL as "".
func parseInstances(f []string) ([]resource.Instance, error) {
	if len(f) == 0 || f[0] != "0" {
		return nil, fmt.Errorf("EC2_VM_STATUS_ALL failed: %s", errorString(f))
	}
	v := f[1:]
	if len(v)%8 != 0 {
		return nil, fmt.Errorf("EC2_VM_STATUS_ALL: %d values, not whole 8-tuples", len(v))
	}
	d := func(s string) string {
		if s == "NULL" {
			return ""
		}
		return s
	}
	out := make([]resource.Instance, 0, len(v)/8)
	for i := 0; i < len(v); i += 8 {
		out = append(out, resource.Instance{ID: v[i], State: d(v[i+1]), ClientToken: d(v[i+2]), KeyName: d(v[i+3]),
			StateReason: d(v[i+4]), PublicDNS: d(v[i+5]), SpotFleetID: d(v[i+6]), AnnexName: d(v[i+7])})
	}
	return out, nil
}

func (m *Manager) onOrphans(rep orphanReport) {
	rs := rep.rs
	rs.sweeping = false
	if rep.err != nil {
		m.log.Warn("orphan sweep", zap.String("url", rs.key.URL), zap.Error(rep.err))
		return
	}
	if rep.verified != 0 {
		rs.filterOK = rep.verified
	}
	if rs.filterOK < 0 {
		m.log.Warn("the cloud ignores tag filters on DescribeInstances; orphan sweep off for this resource", zap.String("url", rs.key.URL))
		return
	}
	now := m.now()
	present := make(map[string]bool, len(rep.instances))
	for i := range rep.instances {
		in := &rep.instances[i]
		if in.State == "terminated" || in.State == "shutting-down" {
			continue
		}
		present[in.ID] = true
		if m.owned(rs, in) {
			delete(rs.orphans, in.ID)
			continue
		}
		first, seen := rs.orphans[in.ID]
		if !seen {
			rs.orphans[in.ID] = now
			continue
		}
		if now.Sub(first) >= m.opts.OrphanGrace {
			delete(rs.orphans, in.ID)
			m.stopOrphan(rs, *in, first)
		}
	}
	for id := range rs.orphans {
		if !present[id] {
			delete(rs.orphans, id)
		}
	}
}

// owned reports whether any job of any resource with the same URL (other owners and
// credentials may see the same account's instances) claims the instance.
func (m *Manager) owned(rs *resState, in *resource.Instance) bool {
	for _, o := range m.resources {
		if o.key.URL != rs.key.URL {
			continue
		}
		if o.byInstance[in.ID] != nil || in.ClientToken != "" && o.byToken[in.ClientToken] != nil ||
			in.KeyName != "" && o.byKey[in.KeyName] != nil {
			return true
		}
	}
	return false
}

func (m *Manager) stopOrphan(rs *resState, in resource.Instance, first time.Time) {
	ctx, cloud := m.ctx, rs.cloud
	m.inflight.Add(1)
	go func() {
		defer m.inflight.Done()
		f, err := cloud.Stop(ctx, in.ID)
		log := m.log.With(zap.String("url", rs.key.URL), zap.String("instance", in.ID), zap.String("state", in.State),
			zap.String("client_token", in.ClientToken), zap.Time("first_seen", first))
		if err != nil || len(f) == 0 || f[0] != "0" {
			log.Warn("terminate orphan instance", zap.Strings("result", f), zap.Error(err))
			return
		}
		m.stats.orphans.Add(1)
		log.Info("terminated orphan instance: tagged with this queue, owned by no job")
	}()
}
