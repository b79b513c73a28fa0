package gridmanager

import (
	"context"
	"fmt"
	"strings"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/gridmanager/resource"
	"github.com/ec2grid/ec2grid/jobs"
)

// attachCall is one step of HTCondor's associate_n_attach: tags, the elastic IP, each
// EBS volume, each one checked (HTCondor fires and forgets them and attaches only the
// first volume, §10.1).
type attachCall struct {
	what string // for the hold reason: "tag the instance", "attach vol-1 at /dev/sdf", ...
	cmd  string
	args []string
}

// attachCalls lists the calls a running instance needs, in order.
func attachCalls(ad *classad.ClassAd, iid string) []attachCall {
	s := func(n string) string { v, _ := ad.EvalAttr(n).StringValue(); return v }
	var calls []attachCall
	var tags []string
	for _, n := range splitList(s(attrTagNames)) {
		if v := s("EC2Tag" + n); v != "" {
			tags = append(tags, n+"="+v)
		}
	}
	if len(tags) > 0 {
		args := append(append([]string{iid}, tags...), "NULL")
		calls = append(calls, attachCall{"tag the instance", "EC2_VM_CREATE_TAGS", args})
	}
	if ip := s(attrElasticIP); ip != "" {
		calls = append(calls, attachCall{"associate address " + ip, "EC2_VM_ASSOCIATE_ADDRESS", []string{iid, ip}})
	}
	for _, v := range strings.Split(s(attrVolumes), ",") {
		vol, dev, ok := strings.Cut(strings.TrimSpace(v), ":")
		if ok && vol != "" && dev != "" {
			calls = append(calls, attachCall{"attach volume " + vol + " at " + dev, "EC2_VM_ATTACH_VOLUME", []string{vol, iid, dev}})
		}
	}
	return calls
}

// launchAttach makes the remaining calls from the job's attach step on; a failed call is
// retried (from that call) up to maxAttachTries, then the job is held.
func (m *Manager) launchAttach(j *job) {
	id, iid, cloud := j.id, j.instanceID, j.rs.cloud
	step := 0
	if j.x != nil {
		step = j.x.attachStep
	}
	j.tries++
	tries := j.tries
	m.launch(j, m.ops, func(ctx context.Context) *result {
		ad, err := m.store.Get(ctx, id)
		if err != nil {
			return &result{err: err}
		}
		calls := attachCalls(ad, iid)
		for ; step < len(calls); step++ {
			c := calls[step]
			f, err := cloud.Call(ctx, resource.Medium, c.cmd, c.args...)
			if err == nil && len(f) > 0 && f[0] == "0" {
				continue
			}
			r := &result{fields: f, err: err}
			done := step
			failure := fmt.Errorf("%s: %s", c.what, r.errorString())
			if tries >= maxAttachTries {
				failure = holdAttach(c.what, r.errorString())
			}
			return &result{err: failure, apply: func(j *job) { j.ext().attachStep = done }}
		}
		if err := m.store.Update(ctx, id, []jobs.Change{jobs.SetString(attrAttached, iid)}, jobs.Batched); err != nil {
			return &result{err: err}
		}
		return &result{apply: func(j *job) {
			if j.x != nil {
				j.x.attachStep = 0
			}
		}}
	})
}
