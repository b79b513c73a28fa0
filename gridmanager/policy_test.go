package gridmanager

import (
	"reflect"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/jobs"
)

// TestRealPolicy: the policy package behind the Policy interface, as issue 7's
// acceptance test uses it: periodic_hold on ShadowBday holds with code 3 and stops the
// instance; on_exit_hold and on_exit_remove = false at completion.
func TestRealPolicy(t *testing.T) {
	t.Run("periodic_hold", func(t *testing.T) {
		h := newHarness(t, amazon)
		h.m.opts.Policy = defaultPolicy()
		j := h.load(`PeriodicHold = (time() - ShadowBday) >= 5`)
		h.cloud.runAll()
		h.pass()
		if jobs.Status(h.get(j)) != jobs.StatusRunning {
			t.Fatalf("JobStatus %d", jobs.Status(h.get(j)))
		}
		h.clock.add(6 * time.Second)
		h.m.evalPolicy(j)
		h.m.step(j)
		ad := h.get(j)
		if jobs.Status(ad) != jobs.StatusHeld || jobs.HoldReasonCode(ad) != 3 {
			t.Fatalf("JobStatus %d code %d", jobs.Status(ad), jobs.HoldReasonCode(ad))
		}
		if r := h.attr(j, jobs.AttrHoldReason); r != "The job attribute PeriodicHold expression '(time() - ShadowBday) >= 5' evaluated to TRUE" {
			t.Errorf("HoldReason %q", r)
		}
		if h.cloud.count("EC2_VM_STOP") != 1 {
			t.Errorf("%d stops", h.cloud.count("EC2_VM_STOP"))
		}
		if ev := h.events(); !reflect.DeepEqual(ev, []int{27, 1, 12}) {
			t.Errorf("events %v", ev)
		}
	})
	for _, c := range []struct {
		name   string
		extra  string
		status int64
		state  state
	}{
		{"completes by default", `OnExitRemove = true`, jobs.StatusCompleted, stGone},
		{"on_exit_hold", `OnExitHold = true`, jobs.StatusHeld, stParked},
		{"on_exit_remove false requeues", `OnExitRemove = false`, jobs.StatusIdle, stSubmitted},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, amazon)
			h.m.opts.Policy = defaultPolicy()
			j := h.load(c.extra)
			first := j.instanceID
			h.cloud.set(first, "terminated", "Client.InstanceInitiatedShutdown")
			h.pass()
			if j.state != c.state {
				t.Errorf("state %s, want %s", j.state, c.state)
			}
			if c.state == stGone {
				return
			}
			if s := jobs.Status(h.get(j)); s != c.status && !(c.status == jobs.StatusIdle && s == jobs.StatusIdle) {
				t.Errorf("JobStatus %d, want %d", s, c.status)
			}
			if c.status == jobs.StatusIdle && (j.instanceID == first || j.instanceID == "") {
				t.Errorf("requeued job: instance %q (first %q)", j.instanceID, first)
			}
		})
	}
}
