package gridmanager

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/jobs"
)

func TestStateAttach(t *testing.T) {
	extra := []string{`EC2TagNames = "Name,owner"`, `EC2TagName = "web"`, `EC2Tagowner = "alice"`,
		`EC2ElasticIp = "1.2.3.4"`, `EC2ElasticBlockStorageVolumes = "vol-1:/dev/sdf, vol-2:/dev/sdg"`, `EC2AvailabilityZone = "z"`}
	all := []string{"EC2_VM_CREATE_TAGS", "EC2_VM_ASSOCIATE_ADDRESS", "EC2_VM_ATTACH_VOLUME", "EC2_VM_ATTACH_VOLUME"}
	runStateCases(t, []stateCase{
		{name: "tags, address and every volume", extra: extra, state: stAttach, setup: remote("running", ""), want: stSubmitted, calls: all,
			check: func(t *testing.T, h *harness, j *job) {
				if a := h.cloud.lastCall("EC2_VM_CREATE_TAGS").Args; !reflect.DeepEqual(a, []string{"i-1", "Name=web", "owner=alice", "NULL"}) {
					t.Errorf("tags %q", a)
				}
				if a := h.cloud.lastCall("EC2_VM_ATTACH_VOLUME").Args; !reflect.DeepEqual(a, []string{"vol-2", "i-1", "/dev/sdg"}) {
					t.Errorf("volume %q", a)
				}
				if !j.attached || h.attr(j, attrAttached) != "i-1" {
					t.Errorf("attached %v / %q", j.attached, h.attr(j, attrAttached))
				}
			}},
		{name: "nothing to attach", state: stAttach, setup: remote("running", ""), want: stSubmitted},
		{name: "a failure is retried from where it failed", extra: extra, state: stAttach, want: stAttach,
			calls: []string{"EC2_VM_CREATE_TAGS", "EC2_VM_ASSOCIATE_ADDRESS", "EC2_VM_ATTACH_VOLUME"},
			setup: func(h *harness, j *job) {
				remote("running", "")(h, j)
				h.cloud.answer("EC2_VM_ATTACH_VOLUME", []string{"1", "E_HTTP_RESPONSE_NOT_200 (400)", "VolumeInUse"}, nil)
			},
			check: func(t *testing.T, h *harness, j *job) {
				if j.x == nil || j.x.attachStep != 2 || j.wakeAt.IsZero() {
					t.Fatalf("step %+v wake %v", j.x, j.wakeAt)
				}
				h.clock.add(2 * time.Minute)
				h.cloud.reset()
				if got := h.run(j); got != stSubmitted {
					t.Errorf("retry → %s", got)
				}
				if c := h.cloud.cmds(); !reflect.DeepEqual(c, []string{"EC2_VM_ATTACH_VOLUME", "EC2_VM_ATTACH_VOLUME"}) {
					t.Errorf("retry calls %q", c)
				}
			}},
		{name: "third failure holds", extra: extra, state: stAttach, want: stHold, calls: []string{"EC2_VM_CREATE_TAGS"},
			setup: func(h *harness, j *job) {
				remote("running", "")(h, j)
				j.tries = maxAttachTries - 1
				h.cloud.answer("EC2_VM_CREATE_TAGS", []string{"1", "E_HTTP_RESPONSE_NOT_200 (400)", "TagLimitExceeded"}, nil)
			}, check: wantHold(40, subAttachFailedOurs, "Failed to tag the instance after 3 tries: TagLimitExceeded")},
		{name: "removed meanwhile: cancel", state: stAttach, want: stCancel,
			setup: func(h *harness, j *job) { remote("running", "")(h, j); j.status = jobs.StatusRemoved }},
	})
}

func TestStateDoneSave(t *testing.T) {
	runStateCases(t, []stateCase{
		{name: "completed", state: stDoneSave, setup: remote("terminated", ""), want: stDelete,
			check: func(t *testing.T, h *harness, j *job) {
				ad := h.get(j)
				if jobs.Status(ad) != jobs.StatusCompleted || j.status != jobs.StatusCompleted {
					t.Errorf("JobStatus %d", jobs.Status(ad))
				}
				if c, _ := ad.EvalAttr(attrExitCode).IntValue(); c != 0 || ad.EvalAttr(attrExitBySignal).String() != "false" {
					t.Errorf("ExitCode %v ExitBySignal %v", ad.EvalAttr(attrExitCode), ad.EvalAttr(attrExitBySignal))
				}
			}},
		{name: "on_exit_hold", state: stDoneSave, want: stClearRequest,
			setup: func(h *harness, j *job) {
				remote("terminated", "")(h, j)
				h.policy.onExit = Decision{Action: ActionHold, Reason: "The job attribute OnExitHold expression 'true' evaluated to TRUE", Code: 3}
			},
			check: func(t *testing.T, h *harness, j *job) {
				ad := h.get(j)
				if jobs.Status(ad) != jobs.StatusHeld || jobs.HoldReasonCode(ad) != 3 || !j.heldLogged {
					t.Errorf("JobStatus %d code %d", jobs.Status(ad), jobs.HoldReasonCode(ad))
				}
				if ev := h.events(); !reflect.DeepEqual(ev, []int{12}) {
					t.Errorf("events %v", ev)
				}
			}},
		{name: "on_exit_remove false: requeued", state: stDoneSave, want: stClearRequest,
			setup: func(h *harness, j *job) {
				remote("terminated", "")(h, j)
				h.policy.onExit = Decision{Action: ActionRequeue, Reason: "stay"}
			},
			check: func(t *testing.T, h *harness, j *job) {
				if s := jobs.Status(h.get(j)); s != jobs.StatusIdle {
					t.Errorf("JobStatus %d", s)
				}
			}},
		{name: "removed while the op ran: no completion", state: stDoneSave, want: stDelete,
			setup: func(h *harness, j *job) {
				remote("terminated", "")(h, j)
				h.update(j, jobs.SetInt(jobs.AttrJobStatus, jobs.StatusRemoved))
				j.status = jobs.StatusRunning // the state has not seen the event yet
			},
			check: func(t *testing.T, h *harness, j *job) {
				if s := jobs.Status(h.get(j)); s != jobs.StatusRemoved {
					t.Errorf("JobStatus %d", s)
				}
			}},
		{name: "removed meanwhile: removal wins", state: stDoneSave, want: stDelete,
			setup: func(h *harness, j *job) { remote("terminated", "")(h, j); j.status = jobs.StatusRemoved }},
	})
}

func TestStateCancel(t *testing.T) {
	gone := func(h *harness, j *job) {
		withInstance(h, j)
		j.status = jobs.StatusRemoved
		j.remote.state = "running"
	}
	runStateCases(t, []stateCase{
		{name: "stop sent", state: stCancel, setup: gone, want: stCancelCheck, calls: []string{"EC2_VM_STOP"},
			check: func(t *testing.T, h *harness, j *job) {
				if a := h.cloud.lastCall("EC2_VM_STOP").Args; !reflect.DeepEqual(a, []string{"i-1"}) || j.tries != 1 {
					t.Errorf("args %q tries %d", a, j.tries)
				}
				if h.attr(j, attrGridJobStatus) != "cancelling" {
					t.Errorf("GridJobStatus %q", h.attr(j, attrGridJobStatus))
				}
			}},
		{name: "not found is gone", state: stCancel, want: stCancelCheck, calls: []string{"EC2_VM_STOP"},
			setup: func(h *harness, j *job) {
				gone(h, j)
				h.cloud.answer("EC2_VM_STOP", []string{"1", "E_HTTP_RESPONSE_NOT_200 (400)", "<Code>InvalidInstanceID.NotFound</Code>"}, nil)
			}, check: func(t *testing.T, h *harness, j *job) {
				if j.remote.state != remoteNotFound {
					t.Errorf("remote %q", j.remote.state)
				}
			}},
		{name: "error: retry later", state: stCancel, want: stCancel, calls: []string{"EC2_VM_STOP"},
			setup: func(h *harness, j *job) {
				gone(h, j)
				h.cloud.answer("EC2_VM_STOP", []string{"1", "E_CURL_IO", "reset"}, nil)
			}},
		{name: "error after three retries holds 42/15", state: stCancel, want: stHold, calls: []string{"EC2_VM_STOP"},
			setup: func(h *harness, j *job) {
				gone(h, j)
				j.tries = maxCancelRetries
				h.cloud.answer("EC2_VM_STOP", []string{"1", "E_CURL_IO", "reset"}, nil)
			}, check: wantHold(42, 15, "reset")},
		{name: "already terminated: no call", state: stCancel, want: stDelete,
			setup: func(h *harness, j *job) { gone(h, j); j.remote.state = "terminated" }},
		{name: "resource down: wait", state: stCancel, want: stCancel,
			setup: func(h *harness, j *job) { gone(h, j); j.rs.health.Up = false }},
	})
}

func TestStateCancelCheck(t *testing.T) {
	sent := func(st string, tries int) func(*harness, *job) {
		return func(h *harness, j *job) {
			withInstance(h, j)
			j.status = jobs.StatusRemoved
			j.remote.state, j.tries, j.passes = st, tries, 1
		}
	}
	runStateCases(t, []stateCase{
		{name: "no pass yet: wait", state: stCancelCheck, want: stCancelCheck,
			setup: func(h *harness, j *job) { sent("running", 1)(h, j); j.passes = 0 }},
		{name: "terminated: delete", state: stCancelCheck, setup: sent("terminated", 1), want: stDelete},
		{name: "held: clear the request", state: stCancelCheck, want: stClearRequest,
			setup: func(h *harness, j *job) { sent("terminated", 1)(h, j); j.status = jobs.StatusHeld }},
		{name: "completion (stopped): done", state: stCancelCheck, want: stDoneSave,
			setup: func(h *harness, j *job) {
				sent("terminated", 1)(h, j)
				j.status = jobs.StatusRunning
				j.completion = true
			}},
		{name: "shutting-down trusted on Amazon", state: stCancelCheck, setup: sent("shutting-down", 1), want: stDelete},
		{name: "shutting-down not trusted on OpenStack", server: openstack, state: stCancelCheck, want: stCancel,
			setup: func(h *harness, j *job) { sent("shutting-down", 1)(h, j); j.since = h.clock.Now().Add(-time.Minute) }},
		{name: "still running: cancel again, RetryDelay after the last stop", state: stCancelCheck, want: stCancel,
			setup: func(h *harness, j *job) { sent("running", 2)(h, j); j.since = h.clock.Now().Add(-time.Minute) }},
		{name: "still running right after the stop: wait", state: stCancelCheck, want: stCancelCheck,
			setup: func(h *harness, j *job) { sent("running", 2)(h, j); j.since = h.clock.Now() }},
		{name: "still running after three retries: hold 42/16", state: stCancelCheck, setup: sent("running", maxCancelRetries+1), want: stHold,
			check: wantHold(42, 16, "Job cancel did not succeed after 3 tries, giving up.")},
	})
}

func TestStateClearRequest(t *testing.T) {
	runStateCases(t, []stateCase{
		{name: "forgets GridJobId; 004 after a submit", state: stClearRequest, want: stDelete,
			setup: func(h *harness, j *job) {
				withInstance(h, j)
				h.update(j, jobs.SetString(jobs.AttrGridJobID, "ec2 "+testURL+" tok-1 i-1"), jobs.SetString(attrInstanceName, "i-1"))
				j.status, j.remote.state, j.submitLogged = jobs.StatusHeld, "terminated", true
			},
			check: func(t *testing.T, h *harness, j *job) {
				if g := h.attr(j, jobs.AttrGridJobID); g != "undefined" || h.attr(j, attrInstanceName) != "undefined" {
					t.Errorf("GridJobId %q", g)
				}
				if j.token != "" || j.instanceID != "" || h.m.resources[j.rs.key].byToken["tok-1"] != nil {
					t.Errorf("job still knows token %q instance %q", j.token, j.instanceID)
				}
				if ev := h.events(); !reflect.DeepEqual(ev, []int{4}) {
					t.Errorf("events %v", ev)
				}
			}},
		{name: "nothing to clear", state: stClearRequest, want: stDelete},
		{name: "a live instance is never forgotten", state: stClearRequest, want: stCancel,
			setup: func(h *harness, j *job) { withInstance(h, j); j.status = jobs.StatusHeld; j.remote.state = "running" }},
	})
}

func TestStateDelete(t *testing.T) {
	keyFile := func(h *harness) string { return filepath.Join(h.dir, "k.pem") }
	owned := func(st int64) func(*harness, *job) {
		return func(h *harness, j *job) {
			withToken(h, j)
			j.keyPair, j.ownKey, j.keyMaybeCreated, j.keyFile = "SSH_k", true, true, keyFile(h)
			if err := os.WriteFile(j.keyFile, []byte("secret"), 0o600); err != nil {
				t.Fatal(err)
			}
			h.update(j, jobs.SetInt(jobs.AttrJobStatus, st), jobs.SetString(jobs.AttrRemoveReason, "via condor_rm (by user alice)"))
		}
	}
	runStateCases(t, []stateCase{
		{name: "removed: keypair, key file, 009, history", state: stDelete, setup: owned(jobs.StatusRemoved), want: stGone,
			calls: []string{"EC2_VM_DESTROY_KEYPAIR"},
			check: func(t *testing.T, h *harness, j *job) {
				if _, err := os.Stat(keyFile(h)); !os.IsNotExist(err) {
					t.Errorf("key file still there: %v", err)
				}
				if ev := h.events(); !reflect.DeepEqual(ev, []int{9}) {
					t.Errorf("events %v", ev)
				}
				if _, err := h.store.Get(t.Context(), j.id); err == nil {
					t.Error("job still queued")
				}
				if hist, _ := h.store.History(t.Context(), nil, 0); len(hist) != 1 {
					t.Errorf("history has %d jobs", len(hist))
				}
			}},
		{name: "completed: 005, history", state: stDelete, want: stGone,
			setup: func(h *harness, j *job) { h.update(j, jobs.SetInt(jobs.AttrJobStatus, jobs.StatusCompleted)) },
			check: func(t *testing.T, h *harness, j *job) {
				if ev := h.events(); !reflect.DeepEqual(ev, []int{5}) {
					t.Errorf("events %v", ev)
				}
			}},
		{name: "held: keypair cleaned, job stays", state: stDelete, setup: owned(jobs.StatusHeld), want: stParked,
			calls: []string{"EC2_VM_DESTROY_KEYPAIR"},
			check: func(t *testing.T, h *harness, j *job) {
				if _, err := h.store.Get(t.Context(), j.id); err != nil {
					t.Error(err)
				}
			}},
		{name: "requeued: start over", state: stDelete, want: stInit},
		{name: "keypair needs the resource", state: stDelete, want: stDelete,
			setup: func(h *harness, j *job) { owned(jobs.StatusRemoved)(h, j); j.rs.health.Up = false }},
	})
}

func TestStateHold(t *testing.T) {
	with := func(h hold, setup func(*harness, *job)) func(*harness, *job) {
		return func(hs *harness, j *job) {
			if setup != nil {
				setup(hs, j)
			}
			j.ext().hold = &h
		}
	}
	held := func(t *testing.T, h *harness, j *job) {
		ad := h.get(j)
		if jobs.Status(ad) != jobs.StatusHeld || jobs.HoldReasonCode(ad) != 40 || h.attr(j, jobs.AttrHoldReason) != "boom" {
			t.Errorf("status %d code %d reason %q", jobs.Status(ad), jobs.HoldReasonCode(ad), h.attr(j, jobs.AttrHoldReason))
		}
		if n, _ := ad.EvalAttr(jobs.AttrNumSystemHolds).IntValue(); n != 1 {
			t.Errorf("NumSystemHolds %d", n)
		}
		if ev := h.events(); !reflect.DeepEqual(ev, []int{12}) {
			t.Errorf("events %v", ev)
		}
	}
	runStateCases(t, []stateCase{
		{name: "nothing remote: clear", state: stHold, setup: with(holdStart("boom"), nil), want: stClearRequest, check: held},
		{name: "an instance: cancel it", state: stHold, setup: with(holdStart("boom"), withInstance), want: stCancel, check: held},
		{name: "a start may have happened: seek", state: stHold, want: stSeekInstanceID, check: held,
			setup: with(holdStart("boom"), func(h *harness, j *job) { withToken(h, j); j.maybeStarted = true })},
		{name: "potentially lost: park with the instance", state: stHold, want: stParked,
			setup: with(holdCancelGaveUp, withInstance),
			check: func(t *testing.T, h *harness, j *job) {
				if j.instanceID != "i-1" || jobs.HoldReasonCode(h.get(j)) != 42 {
					t.Errorf("instance %q code %d", j.instanceID, jobs.HoldReasonCode(h.get(j)))
				}
			}},
		{name: "already held by the user: the hold stands", state: stHold, want: stClearRequest,
			setup: with(holdStart("boom"), func(h *harness, j *job) {
				h.update(j, jobs.SetInt(jobs.AttrJobStatus, jobs.StatusHeld), jobs.SetInt(jobs.AttrHoldReasonCode, 1))
			}),
			check: func(t *testing.T, h *harness, j *job) {
				if jobs.HoldReasonCode(h.get(j)) != 1 {
					t.Error("user hold overwritten")
				}
			}},
	})
}

func TestStateSeekInstanceID(t *testing.T) {
	seeking := func(passes int, age time.Duration) func(*harness, *job) {
		return func(h *harness, j *job) {
			withToken(h, j)
			j.maybeStarted = true
			j.since, j.passes = h.clock.Now().Add(-age), passes
		}
	}
	runStateCases(t, []stateCase{
		{name: "begins: asks for a pass", state: stSeekInstanceID, want: stSeekInstanceID,
			setup: func(h *harness, j *job) { withToken(h, j); j.maybeStarted = true },
			check: func(t *testing.T, h *harness, j *job) {
				if j.since.IsZero() || h.cloud.probeSoon == 0 {
					t.Error("seek not begun")
				}
			}},
		{name: "found: save it", state: stSeekInstanceID, setup: withInstance, want: stSaveInstanceID},
		{name: "two passes but not 30 s: wait", server: openstack, state: stSeekInstanceID, setup: seeking(2, 10*time.Second), want: stSeekInstanceID},
		{name: "30 s but one pass: wait", server: openstack, state: stSeekInstanceID, setup: seeking(1, time.Minute), want: stSeekInstanceID},
		{name: "not there: start again (keypair first)", server: openstack, state: stSeekInstanceID, want: stCreateKeyPair,
			setup: func(h *harness, j *job) { seeking(2, time.Minute)(h, j); j.ownKey = true }},
		{name: "not there, amazon: start again", state: stSeekInstanceID, setup: seeking(2, time.Minute), want: stStartVM},
		{name: "not there, removed: leave", state: stSeekInstanceID, want: stDelete,
			setup: func(h *harness, j *job) { seeking(2, time.Minute)(h, j); j.status = jobs.StatusRemoved }},
		{name: "not there, held: clear", state: stSeekInstanceID, want: stClearRequest,
			setup: func(h *harness, j *job) { seeking(2, time.Minute)(h, j); j.status = jobs.StatusHeld }},
	})
}

func TestStateParked(t *testing.T) {
	runStateCases(t, []stateCase{
		{name: "held: wait", state: stParked, want: stParked, setup: func(h *harness, j *job) { j.status = jobs.StatusHeld }},
		{name: "released: start over", state: stParked, want: stInit},
		{name: "removed: leave", state: stParked, want: stDelete, setup: func(h *harness, j *job) { j.status = jobs.StatusRemoved }},
		{name: "removed with an instance kept by a 42 hold: cancel", state: stParked, want: stCancel,
			setup: func(h *harness, j *job) { withInstance(h, j); j.status = jobs.StatusRemoved }},
	})
}

// seqStore records durable updates in the fake cloud's call list, so a test sees their
// order against cloud calls.
type seqStore struct {
	jobs.Store
	cloud *fakeCloud
}

func (s seqStore) Update(ctx context.Context, id jobs.JobID, cs []jobs.Change, d jobs.Durability) error {
	if d == jobs.Durable {
		s.cloud.mu.Lock()
		s.cloud.calls = append(s.cloud.calls, fakeCall{Cmd: "durable-commit"})
		s.cloud.mu.Unlock()
	}
	return s.Store.Update(ctx, id, cs, d)
}

func (s seqStore) UpdateIf(ctx context.Context, id jobs.JobID, want int64, cs []jobs.Change, d jobs.Durability) error {
	if d == jobs.Durable {
		s.cloud.mu.Lock()
		s.cloud.calls = append(s.cloud.calls, fakeCall{Cmd: "durable-commit"})
		s.cloud.mu.Unlock()
	}
	return s.Store.UpdateIf(ctx, id, want, cs, d)
}

// TestCancelCommitsFirst: the removal that caused a cancel is durable before EC2_VM_STOP.
func TestCancelCommitsFirst(t *testing.T) {
	h := newHarness(t, amazon)
	h.m.store = seqStore{h.store, h.cloud}
	j := h.submit(h.ad())
	withInstance(h, j)
	j.state, j.status, j.remote.state = stCancel, jobs.StatusRemoved, "running"
	h.cloud.reset()
	if got := h.run(j); got != stCancelCheck {
		t.Fatalf("state %s", got)
	}
	if c := h.cloud.cmds(); !reflect.DeepEqual(c, []string{"durable-commit", "EC2_VM_STOP"}) {
		t.Errorf("order %q", c)
	}
}
