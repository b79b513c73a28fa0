package gridmanager

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/gridmanager/resource"
	"github.com/ec2grid/ec2grid/jobs"
)

// pass delivers one status pass, sent now, to the manager (synchronously).
func (h *harness) pass() {
	s := h.cloud.snapshot(h.clock.Now())
	rs := h.m.resources[h.cloud.key]
	if rs == nil {
		h.t.Fatal("no resource")
	}
	h.m.onSnapshot(rs, &s)
}

// later advances the clock and runs what woke.
func (h *harness) later(d time.Duration) {
	h.clock.add(d)
	h.m.fireWakes()
}

// load adds the ad as Run's first Query does and steps it.
func (h *harness) load(extra ...string) *job {
	h.t.Helper()
	j := h.submit(h.ad(extra...))
	delete(h.m.jobs, j.id)
	delete(j.rs.jobs, j)
	h.m.unindex(j)
	return h.m.add(h.get(j))
}

func gid(tail string) string { return `GridJobId = "ec2 ` + testURL + ` ` + tail + `"` }

// TestRecovery: each of issue 7's recovery rules, from the ad alone, never making a
// second instance for one job.
func TestRecovery(t *testing.T) {
	const tok = "3f8a1c2e-0000-4000-8000-000000000001"
	cases := []struct {
		name   string
		server string
		extra  []string
		cloud  func(*fakeCloud) // instances that exist before the restart
		drive  func(*harness, *job)
		state  state // after everything
		starts int   // EC2_VM_START calls
		insts  int   // instances at the end
		events []int
		check  func(*testing.T, *harness, *job)
	}{
		{name: "fresh job: token, start, id", state: stSubmitted, starts: 1, insts: 1, events: []int{27},
			check: func(t *testing.T, h *harness, j *job) {
				g, err := ParseGridJobID(h.attr(j, jobs.AttrGridJobID))
				if err != nil || g.InstanceID != "i-00000001" || g.Token != j.token {
					t.Errorf("GridJobId %q %v", h.attr(j, jobs.AttrGridJobID), err)
				}
			}},
		{name: "amazon, token, no id (crash after token commit): start with the same token",
			extra: []string{gid(tok)}, state: stSubmitted, starts: 1, insts: 1, events: []int{27},
			check: func(t *testing.T, h *harness, j *job) {
				if a := h.cloud.lastCall("EC2_VM_START").Args; a[8] != tok {
					t.Errorf("token %q", a[8])
				}
			}},
		{name: "amazon, token, no id, instance exists (crash after start): same instance",
			extra: []string{gid(tok)},
			cloud: func(f *fakeCloud) { f.addLocked("i-77", []string{"ami", "NULL", "", "", "", "", "", "", tok}) },
			state: stSubmitted, starts: 1, insts: 1, events: []int{27},
			check: func(t *testing.T, h *harness, j *job) {
				if j.instanceID != "i-77" {
					t.Errorf("instance %q", j.instanceID)
				}
			}},
		{name: "openstack, token, no id, instance exists: found by keypair, no start",
			server: openstack, extra: []string{gid(tok), `EC2KeyPair = "SSH_q-1_sched_1_0_100"`, `EC2ServerType = "OpenStack"`},
			cloud: func(f *fakeCloud) {
				f.addLocked("i-77", []string{"ami", "SSH_q-1_sched_1_0_100", "", "", "", "", "", "", tok})
			},
			drive: func(h *harness, j *job) { h.pass() },
			state: stSubmitted, starts: 0, insts: 1, events: []int{27},
			check: func(t *testing.T, h *harness, j *job) {
				if g := h.attr(j, jobs.AttrGridJobID); g != "ec2 "+testURL+" "+tok+" i-77" {
					t.Errorf("GridJobId %q", g)
				}
			}},
		{name: "openstack, token, no id, nothing there: start only after passes and window",
			server: openstack, extra: []string{gid(tok), `EC2KeyPair = "SSH_q-1_sched_1_0_100"`, `EC2ServerType = "OpenStack"`},
			drive: func(h *harness, j *job) {
				h.pass()
				h.later(time.Minute)
				if h.cloud.count("EC2_VM_START") != 0 {
					t.Fatal("started after one pass")
				}
				h.pass()
			},
			state: stSubmitted, starts: 1, insts: 1, events: []int{27},
			check: func(t *testing.T, h *harness, j *job) {
				if c := h.cloud.cmds(); !reflect.DeepEqual(c[len(c)-2:], []string{"EC2_VM_CREATE_KEYPAIR", "EC2_VM_START"}) {
					t.Errorf("calls %q", c)
				}
			}},
		{name: "openstack, two quick passes: no start before the window",
			server: openstack, extra: []string{gid(tok), `EC2KeyPair = "SSH_q-1_sched_1_0_100"`, `EC2ServerType = "OpenStack"`},
			drive: func(h *harness, j *job) { h.pass(); h.pass(); h.pass() },
			state: stSeekInstanceID, starts: 0, insts: 0},
		{name: "instance id known: probed, never started",
			extra: []string{gid(tok + " i-5"), `EC2InstanceName = "i-5"`},
			cloud: func(f *fakeCloud) {
				f.addLocked("i-5", []string{"ami", "NULL", "", "", "", "", "", "", tok})
				f.insts["i-5"].State = "running"
			},
			drive: func(h *harness, j *job) { h.pass() },
			state: stSubmitted, starts: 0, insts: 1, events: []int{1},
			check: func(t *testing.T, h *harness, j *job) {
				if jobs.Status(h.get(j)) != jobs.StatusRunning {
					t.Errorf("JobStatus %d", jobs.Status(h.get(j)))
				}
			}},
		{name: "removed, token, no id: seek, then leave (009)",
			server: openstack, extra: []string{gid(tok), `JobStatus = 3`, `EC2ServerType = "OpenStack"`},
			drive: func(h *harness, j *job) { h.pass(); h.later(time.Minute); h.pass() },
			state: stGone, starts: 0, insts: 0, events: []int{9}},
		{name: "removed, instance id: stopped, then leave",
			extra: []string{gid(tok + " i-5"), `JobStatus = 3`},
			cloud: func(f *fakeCloud) {
				f.addLocked("i-5", []string{"ami", "NULL", "", "", "", "", "", "", tok})
				f.insts["i-5"].State = "running"
			},
			drive: func(h *harness, j *job) { h.pass() },
			state: stGone, starts: 0, insts: 1, events: []int{9},
			check: func(t *testing.T, h *harness, j *job) {
				if h.cloud.count("EC2_VM_STOP") != 1 || h.cloud.insts["i-5"].State != "terminated" {
					t.Errorf("stops %d", h.cloud.count("EC2_VM_STOP"))
				}
			}},
		{name: "held, instance id: stopped, request cleared, parked",
			extra: []string{gid(tok + " i-5"), `JobStatus = 5`, `HoldReasonCode = 1`},
			cloud: func(f *fakeCloud) {
				f.addLocked("i-5", []string{"ami", "NULL", "", "", "", "", "", "", tok})
				f.insts["i-5"].State = "running"
			},
			drive: func(h *harness, j *job) { h.pass() },
			state: stParked, starts: 0, insts: 1, events: []int{4},
			check: func(t *testing.T, h *harness, j *job) {
				if g := h.attr(j, jobs.AttrGridJobID); g != "undefined" {
					t.Errorf("GridJobId %q", g)
				}
			}},
		{name: "released while a hold's cancel was under way (idle, cancelling): stop finished, request forgotten, started again; never completed",
			extra: []string{gid(tok + " i-5"), `JobStatus = 1`, `GridJobStatus = "cancelling"`},
			cloud: func(f *fakeCloud) {
				// The hold's EC2_VM_STOP went through before the crash.
				f.addLocked("i-5", []string{"ami", "NULL", "", "", "", "", "", "", tok})
				f.insts["i-5"].State, f.insts["i-5"].StateReason = "terminated", "Client.UserInitiatedShutdown"
			},
			drive: func(h *harness, j *job) { h.pass(); h.later(time.Minute); h.pass() },
			state: stSubmitted, starts: 1, insts: 2, events: []int{4, 27},
			check: func(t *testing.T, h *harness, j *job) {
				if j.instanceID == "i-5" || jobs.Status(h.get(j)) == jobs.StatusCompleted {
					t.Errorf("instance %q, JobStatus %d: the stopped instance was taken for the job's end", j.instanceID, jobs.Status(h.get(j)))
				}
			}},
		{name: "completed still queued: 005 and history", extra: []string{gid(tok + " i-5"), `JobStatus = 4`},
			state: stGone, events: []int{5}},
		{name: "NEED_CHECK_VM_START on amazon: the same token again after the window",
			cloud: func(f *fakeCloud) {
				f.script["EC2_VM_START"] = []fakeAnswer{{fields: []string{"1", "NEED_CHECK_VM_START", "curl"}}}
			},
			drive: func(h *harness, j *job) { h.pass(); h.later(time.Minute); h.pass() },
			state: stSubmitted, starts: 2, insts: 1, events: []int{27},
			check: func(t *testing.T, h *harness, j *job) {
				a, b := h.cloud.calls[0].Args, h.cloud.lastCall("EC2_VM_START").Args
				if a[8] != b[8] {
					t.Errorf("tokens %q then %q", a[8], b[8])
				}
			}},
		{name: "five starts unconfirmed in a row on amazon (a fault storm's bad luck): the sixth runs, no hold",
			cloud: func(f *fakeCloud) {
				for range 5 {
					f.script["EC2_VM_START"] = append(f.script["EC2_VM_START"],
						fakeAnswer{fields: []string{"1", "NEED_CHECK_VM_START", "InternalError: An internal error has occurred"}})
				}
			},
			drive: func(h *harness, j *job) {
				for range 5 {
					h.pass()
					h.later(time.Minute)
					h.pass()
				}
			},
			state: stSubmitted, starts: 6, insts: 1, events: []int{27}},
		{name: "lost start on amazon, instance there: adopted by token, no second start",
			cloud: func(f *fakeCloud) { f.script["EC2_VM_START"] = []fakeAnswer{{err: resource.ErrLost}} },
			drive: func(h *harness, j *job) {
				h.cloud.mu.Lock()
				h.cloud.addLocked("i-43", []string{"ami", "NULL", "", "", "", "", "", "", j.token})
				h.cloud.mu.Unlock()
				h.pass()
			},
			state: stSubmitted, starts: 1, insts: 1, events: []int{27}},
		{name: "starts lost three times: held, nothing left behind",
			server: openstack,
			cloud: func(f *fakeCloud) {
				for i := 0; i < maxStartTries; i++ {
					f.script["EC2_VM_START"] = append(f.script["EC2_VM_START"], fakeAnswer{err: resource.ErrLost})
				}
			},
			drive: func(h *harness, j *job) {
				for i := 0; i < maxStartTries; i++ {
					h.pass()
					h.later(time.Minute)
					h.pass()
				}
			},
			state: stParked, starts: maxStartTries, insts: 0, events: []int{12},
			check: func(t *testing.T, h *harness, j *job) {
				if c := jobs.HoldReasonCode(h.get(j)); c != 40 {
					t.Errorf("hold code %d", c)
				}
			}},
		{name: "lost start on openstack, its instance already ended on its own: adopted by keypair, no second start",
			server: openstack,
			cloud:  func(f *fakeCloud) { f.script["EC2_VM_START"] = []fakeAnswer{{err: resource.ErrLost}} },
			drive: func(h *harness, j *job) {
				// A short script ran and shut the instance down before any pass listed it
				// (a cloud's eventual consistency hides a new instance for a few seconds):
				// the start did happen, and starting again would run the job twice.
				h.cloud.mu.Lock()
				in := h.cloud.addLocked("i-44", []string{"ami", j.keyPair, "", "", "", "", "", "", j.token})
				in.State, in.StateReason = "terminated", "Client.InstanceInitiatedShutdown"
				h.cloud.mu.Unlock()
				h.pass()
				h.later(time.Minute)
				h.pass()
			},
			state: stGone, starts: 1, insts: 1, events: []int{27, 1, 5},
			check: func(t *testing.T, h *harness, j *job) {
				if j.instanceID != "i-44" {
					t.Errorf("instance %q", j.instanceID)
				}
			}},
		{name: "lost start (ErrLost) on openstack: instance there, adopted by keypair",
			server: openstack,
			cloud:  func(f *fakeCloud) { f.script["EC2_VM_START"] = []fakeAnswer{{err: resource.ErrLost}} },
			drive: func(h *harness, j *job) {
				// The start did reach the cloud: the instance carries the job's keypair.
				h.cloud.mu.Lock()
				h.cloud.addLocked("i-42", []string{"ami", j.keyPair, "", "", "", "", "", "", j.token})
				h.cloud.mu.Unlock()
				h.pass()
			},
			state: stSubmitted, starts: 1, insts: 1, events: []int{27},
			check: func(t *testing.T, h *harness, j *job) {
				if j.instanceID != "i-42" {
					t.Errorf("instance %q", j.instanceID)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := c.server
			if srv == "" {
				srv = amazon
			}
			h := newHarness(t, srv)
			if c.cloud != nil {
				c.cloud(h.cloud)
			}
			j := h.load(c.extra...)
			if j == nil {
				t.Fatal("job not managed")
			}
			if c.drive != nil {
				c.drive(h, j)
			}
			if j.state != c.state {
				t.Errorf("state %s, want %s", j.state, c.state)
			}
			if n := h.cloud.count("EC2_VM_START"); n != c.starts {
				t.Errorf("%d EC2_VM_START, want %d", n, c.starts)
			}
			if n := len(h.cloud.insts); n != c.insts {
				t.Errorf("%d instances, want %d", n, c.insts)
			}
			if ev := h.events(); !reflect.DeepEqual(ev, c.events) {
				t.Errorf("events %v, want %v", ev, c.events)
			}
			if c.check != nil {
				c.check(t, h, j)
			}
		})
	}
}

// TestPurgeGrace: an instance missing from a pass sent soon after its start is not yet
// listed, not gone (HTCondor bug §10.6); after PurgeGrace it is not-found and the job
// completes.
func TestPurgeGrace(t *testing.T) {
	h := newHarness(t, amazon)
	j := h.load()
	if j.state != stSubmitted {
		t.Fatalf("state %s", j.state)
	}
	h.cloud.hide[j.instanceID] = true
	h.later(time.Minute)
	h.pass()
	if j.remote.state == remoteNotFound || j.state != stSubmitted {
		t.Fatalf("missing within the grace: remote %q state %s", j.remote.state, j.state)
	}
	h.later(DefaultPurgeGrace)
	h.pass()
	if j.state != stGone {
		t.Fatalf("state %s after the grace, want gone", j.state)
	}
	if ev := h.events(); !reflect.DeepEqual(ev, []int{27, 1, 5}) {
		t.Errorf("events %v", ev)
	}
}

// TestHoldReleaseNewSubmission: condor_hold stops the instance and forgets it; release
// starts a brand-new submission (new token, new instance).
func TestHoldReleaseNewSubmission(t *testing.T) {
	h := newHarness(t, amazon)
	j := h.load()
	first, tok := j.instanceID, j.token
	h.cloud.runAll()
	h.pass()
	ad := h.get(j)
	cs, err := jobs.Hold(ad, "via condor_hold (by user alice)", jobs.HoldUserRequest, 0, h.clock.Now().Unix())
	if err != nil {
		t.Fatal(err)
	}
	h.update(j, cs...)
	h.m.step(j)
	if j.state != stCancelCheck || h.cloud.count("EC2_VM_STOP") != 1 {
		t.Fatalf("state %s, stops %d", j.state, h.cloud.count("EC2_VM_STOP"))
	}
	h.pass()
	if j.state != stParked || h.attr(j, jobs.AttrGridJobID) != "undefined" {
		t.Fatalf("state %s GridJobId %q", j.state, h.attr(j, jobs.AttrGridJobID))
	}
	rel, err := jobs.Release(h.get(j), "via condor_release", h.clock.Now().Unix())
	if err != nil {
		t.Fatal(err)
	}
	h.update(j, rel...)
	h.m.step(j)
	if j.instanceID == "" || j.instanceID == first || j.token == tok {
		t.Errorf("after release: instance %q (was %q) token %q (was %q)", j.instanceID, first, j.token, tok)
	}
	if ev := h.events(); !reflect.DeepEqual(ev, []int{27, 1, 12, 4, 27}) {
		t.Errorf("events %v", ev)
	}
}

// TestCrashPoints: the hook is called at each documented point.
func TestCrashPoints(t *testing.T) {
	h := newHarness(t, amazon)
	var points []string
	h.m.opts.Crash = func(p string) { points = append(points, p) }
	j := h.load()
	h.update(j, jobs.SetInt(jobs.AttrJobStatus, jobs.StatusRemoved))
	h.m.step(j)
	want := []string{"after-token-commit", "after-start-before-save", "during-cancel"}
	if !reflect.DeepEqual(points, want) {
		t.Errorf("points %q, want %q", points, want)
	}
}

// TestStaleStatus: no status for StaleLimit → 029 and CurrentStatusUnknown; the next
// status → 030.
func TestStaleStatus(t *testing.T) {
	h := newHarness(t, amazon)
	j := h.load()
	h.clock.add(DefaultStaleLimit + time.Second)
	h.m.checkStale(h.clock.Now())
	if !j.stale || h.attr(j, attrStatusUnknown) != "true" {
		t.Fatalf("stale %v CurrentStatusUnknown %q", j.stale, h.attr(j, attrStatusUnknown))
	}
	h.pass()
	if j.stale || h.attr(j, attrStatusUnknown) != "false" {
		t.Errorf("stale %v CurrentStatusUnknown %q", j.stale, h.attr(j, attrStatusUnknown))
	}
	if ev := h.events(); !reflect.DeepEqual(ev, []int{27, 29, 30}) {
		t.Errorf("events %v", ev)
	}
}

// TestResourceDownUp: 026 and GridResourceUnavailableTime, then 025; no commands while down.
func TestResourceDownUp(t *testing.T) {
	h := newHarness(t, amazon)
	h.cloud.health.Up = false
	j := h.load()
	if j.state != stSaveClientToken && j.state != stInit {
		t.Logf("state %s", j.state)
	}
	rs := j.rs
	h.m.onHealth(rs, resource.Health{Up: false, ServerType: amazon, Since: h.clock.Now()})
	if h.cloud.count("EC2_VM_START") != 0 {
		t.Fatal("started while down")
	}
	h.m.onHealth(rs, resource.Health{Up: true, ServerType: amazon, Since: h.clock.Now()})
	if h.cloud.count("EC2_VM_START") != 1 {
		t.Errorf("%d starts after coming up", h.cloud.count("EC2_VM_START"))
	}
	if ev := h.events(); !reflect.DeepEqual(ev, []int{26, 25, 27}) {
		t.Errorf("events %v", ev)
	}
}

// TestPolicyVerdicts: a periodic hold, remove and release go through jobs.Hold / Remove /
// Release, and the state machine reacts to the new status.
func TestPolicyVerdicts(t *testing.T) {
	h := newHarness(t, amazon)
	j := h.load()
	h.cloud.runAll()
	h.pass()
	h.m.applyVerdicts([]verdict{{id: j.id, status: j.status, d: Decision{Action: ActionHold, Reason: "The job attribute PeriodicHold expression 'true' evaluated to TRUE", Code: 3}}})
	h.pass()
	ad := h.get(j)
	if jobs.Status(ad) != jobs.StatusHeld || jobs.HoldReasonCode(ad) != 3 || j.state != stParked {
		t.Fatalf("status %d code %d state %s", jobs.Status(ad), jobs.HoldReasonCode(ad), j.state)
	}
	h.m.applyVerdicts([]verdict{{id: j.id, status: jobs.StatusHeld, d: Decision{Action: ActionRemove, Reason: "gone"}}})
	if j.state != stGone {
		t.Errorf("state %s after remove", j.state)
	}
	if ev := h.events(); !reflect.DeepEqual(ev, []int{27, 1, 12, 4, 9}) {
		t.Errorf("events %v", ev)
	}
	if h.m.Stats().Holds != 1 {
		t.Errorf("stats %+v", h.m.Stats())
	}
}

func TestOpCancelled(t *testing.T) {
	r := &result{err: errOpCancelled}
	if !r.cancelled() || r.lost() || r.ok() {
		t.Error("cancelled result misread")
	}
	if !(&result{err: errors.Join(resource.ErrLost)}).lost() {
		t.Error("ErrLost not lost")
	}
}

// TestRemoveDuringHeldFinish: a condor_rm that lands while a held job's finish (request
// forgotten, job left queued) is in flight must still move the job to the history; the
// crash loop found a removed job left in the queue for good.
func TestRemoveDuringHeldFinish(t *testing.T) {
	h := newHarness(t, "Amazon")
	j := h.submit(h.ad(`JobStatus = 5`))
	j.state, j.status = stDelete, jobs.StatusHeld
	if next := stateFuncs[stDelete](h.m, j); next != stDelete || j.res == nil {
		t.Fatalf("first step: %s, result %v; want the finish op launched and done", next, j.res)
	}
	h.update(j, jobs.SetInt(jobs.AttrJobStatus, jobs.StatusRemoved)) // condor_rm meanwhile
	for i := 0; i < 5 && j.state != stGone; i++ {
		j.state = h.run(j)
	}
	if j.state != stGone {
		t.Fatalf("state %s, want gone", j.state)
	}
	if _, err := h.store.Get(context.Background(), j.id); !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("the removed job is still queued (%v): it never reached the history", err)
	}
}

// raceStore runs after once, right after the next Update: a tool's change landing between
// an op's commit and the loop applying its result.
type raceStore struct {
	jobs.Store
	after    func()
	getAfter func() // the same, right after the next Get
}

func (s *raceStore) Get(ctx context.Context, id jobs.JobID) (*classad.ClassAd, error) {
	ad, err := s.Store.Get(ctx, id)
	if f := s.getAfter; f != nil {
		s.getAfter = nil
		f()
	}
	return ad, err
}

func (s *raceStore) Update(ctx context.Context, id jobs.JobID, cs []jobs.Change, d jobs.Durability) error {
	err := s.Store.Update(ctx, id, cs, d)
	if f := s.after; f != nil {
		s.after = nil
		f()
	}
	return err
}

func (s *raceStore) UpdateIf(ctx context.Context, id jobs.JobID, want int64, cs []jobs.Change, d jobs.Durability) error {
	err := s.Store.UpdateIf(ctx, id, want, cs, d)
	if f := s.after; f != nil {
		s.after = nil
		f()
	}
	return err
}

// TestPolicyHoldKeepsLaterRemove: a condor_rm that lands between a periodic_hold's commit
// and the loop applying it is not overwritten in the manager's view by the hold, or the
// job sits parked as held while the queue says removed, never to leave (the crash loop's
// two removed jobs left queued).
func TestPolicyHoldKeepsLaterRemove(t *testing.T) {
	h := newHarness(t, "Amazon")
	j := h.submit(h.ad(`JobStatus = 2`))
	j.status = jobs.StatusRunning
	rs := &raceStore{Store: h.store}
	h.m.store = rs
	rs.after = func() {
		if err := h.store.Update(context.Background(), j.id, []jobs.Change{jobs.SetInt(jobs.AttrJobStatus, jobs.StatusRemoved)}, jobs.Durable); err != nil {
			t.Fatal(err)
		}
		h.m.setStatus(j, jobs.StatusRemoved) // the store's event, handled by the loop first
	}
	h.m.launchPolicy(j, Decision{Action: ActionHold, Reason: "periodic_hold", Code: 3})
	if j.status != jobs.StatusRemoved {
		t.Errorf("JobStatus in the manager %d after the hold's result, want %d (removed): the later condor_rm was overwritten", j.status, jobs.StatusRemoved)
	}
}

// TestOpResultKeepsLaterRemove: like the policy's, the grid manager's own hold and the
// completion's on-exit commit must not overwrite in the manager's view a condor_rm that
// landed while they ran (its event handled before their result), or the job is parked
// as held, or requeued, while the queue says removed, and never leaves the queue.
func TestOpResultKeepsLaterRemove(t *testing.T) {
	for _, tc := range []struct {
		name      string
		heldFirst bool // a condor_hold committed before the op read the ad
		launch    func(m *Manager, j *job)
	}{
		{"grid manager hold", false, func(m *Manager, j *job) { m.launchHold(j, holdStart("InvalidAMIID.NotFound")) }},
		{"grid manager hold finds a hold", true, func(m *Manager, j *job) { m.launchHold(j, holdStart("InvalidAMIID.NotFound")) }},
		{"completion", false, func(m *Manager, j *job) { m.launchDone(j) }},
		{"completion finds a hold", true, func(m *Manager, j *job) { m.launchDone(j) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "Amazon")
			j := h.submit(h.ad(`JobStatus = 2`))
			j.status = jobs.StatusRunning
			if tc.heldFirst {
				if err := h.store.Update(context.Background(), j.id, []jobs.Change{jobs.SetInt(jobs.AttrJobStatus, jobs.StatusHeld)}, jobs.Durable); err != nil {
					t.Fatal(err)
				}
			}
			rs := &raceStore{Store: h.store}
			h.m.store = rs
			remove := func() {
				if err := h.store.Update(context.Background(), j.id, []jobs.Change{jobs.SetInt(jobs.AttrJobStatus, jobs.StatusRemoved)}, jobs.Durable); err != nil {
					t.Fatal(err)
				}
				h.m.setStatus(j, jobs.StatusRemoved) // the store's event, handled by the loop first
			}
			if tc.heldFirst {
				rs.getAfter = remove // the op commits nothing: the rm lands after its read
			} else {
				rs.after = remove
			}
			tc.launch(h.m, j)
			if j.status != jobs.StatusRemoved {
				t.Errorf("JobStatus in the manager %d after the op's result, want %d (removed): the later condor_rm was overwritten", j.status, jobs.StatusRemoved)
			}
		})
	}
}

// TestRestartCleansKeyFile: a held job's cleanup forgets its GridJobId before it destroys
// the keypair and removes the key file; a crash between the two (the crash loop left key
// files whose keypairs were gone) must not leave the cleanup undone after the restart:
// the job's keypair name in the ad is enough to destroy it, and remove the file, again.
func TestRestartCleansKeyFile(t *testing.T) {
	for _, status := range []int64{jobs.StatusRemoved, jobs.StatusHeld} {
		t.Run(fmt.Sprint("JobStatus ", status), func(t *testing.T) {
			h := newHarness(t, amazon)
			file := filepath.Join(h.dir, "k.pem")
			if err := os.WriteFile(file, []byte("secret"), 0o600); err != nil {
				t.Fatal(err)
			}
			j := h.load(fmt.Sprintf("JobStatus = %d", status), `RemoveReason = "via condor_rm"`,
				`EC2KeyPair = "SSH_q-1_sched_1_0_100"`, fmt.Sprintf("EC2KeyPairFile = %q", file))
			if n := h.cloud.count("EC2_VM_DESTROY_KEYPAIR"); n != 1 {
				t.Errorf("%d EC2_VM_DESTROY_KEYPAIR, want 1 (state %s)", n, j.state)
			}
			if _, err := os.Stat(file); !os.IsNotExist(err) {
				t.Errorf("key file still there after the restart's cleanup (state %s): %v", j.state, err)
			}
		})
	}
}

// TestRestartCreatesKeyPairBeforeStart: a crash after a token commit for a job with its
// own keypair (on Amazon: an ec2_keypair_file) may have come before the keypair was
// created, or after a hold's cleanup destroyed it and a release committed a new token;
// recovery creates it (idempotently) before the start, or the start fails on
// InvalidKeyPair.NotFound and the job is held (the crash loop's 40/12 hold).
func TestRestartCreatesKeyPairBeforeStart(t *testing.T) {
	h := newHarness(t, amazon)
	file := filepath.Join(h.dir, "k.pem")
	j := h.load(gid("3f8a1c2e-0000-4000-8000-000000000001"), `EC2KeyPair = "SSH_q-1_sched_1_0_100"`,
		fmt.Sprintf("EC2KeyPairFile = %q", file))
	c := h.cloud.cmds()
	ci, si := slices.Index(c, "EC2_VM_CREATE_KEYPAIR"), slices.Index(c, "EC2_VM_START")
	if ci < 0 || si < 0 || ci > si {
		t.Errorf("calls %q (state %s): want EC2_VM_CREATE_KEYPAIR before EC2_VM_START", c, j.state)
	}
}

// TestStopForHoldKeepsCancelling: while a job stops its instance to forget it (a hold,
// released meanwhile), passes do not write the stopped instance's state over the ad's
// GridJobStatus "cancelling", so a crash before the request is cleared recovers into
// finishing the stop, not into taking the terminated instance for the job's end.
func TestStopForHoldKeepsCancelling(t *testing.T) {
	h := newHarness(t, amazon)
	h.cloud.addLocked("i-1", []string{"ami", "NULL", "", "", "", "", "", "", "3f8a1c2e-0000-4000-8000-000000000001"})
	h.cloud.insts["i-1"].State = "running"
	j := h.load(`JobStatus = 1`, gid("3f8a1c2e-0000-4000-8000-000000000001 i-1"), `EC2InstanceName = "i-1"`, `GridJobStatus = "cancelling"`)
	if j.state != stCancelCheck {
		t.Fatalf("state %s after recovery, want the stop finished and checked", j.state)
	}
	h.m.statusUpdate(j, "terminated", "Client.UserInitiatedShutdown", "", h.clock.Now())
	if got := h.attr(j, attrGridJobStatus); got != remoteCancelling {
		t.Errorf("GridJobStatus %q after a pass, want %q until the request is cleared", got, remoteCancelling)
	}
	if st := h.m.recoverState(h.m.newJob(h.get(j))); st != stCancel {
		t.Errorf("a restart now recovers into %s, want %s", st, stCancel)
	}
}

// TestCancelGaveUpParksWithRemoteState: a job parked because its stop gave up (42) gets
// its instance's last known state back in GridJobStatus, which kept "cancelling" while it
// tried, so a release after a restart watches the instance again instead of stopping it.
func TestCancelGaveUpParksWithRemoteState(t *testing.T) {
	h := newHarness(t, amazon)
	j := h.submit(h.ad(`JobStatus = 2`, gid("3f8a1c2e-0000-4000-8000-000000000001 i-1"), `EC2InstanceName = "i-1"`, `GridJobStatus = "cancelling"`))
	j.state, j.remote.state = stHold, "running"
	j.ext().hold = &holdCancelGaveUp
	for i := 0; i < 5 && j.state == stHold; i++ {
		j.state = h.run(j)
	}
	if j.state != stParked {
		t.Fatalf("state %s, want parked", j.state)
	}
	if got := h.attr(j, attrGridJobStatus); got != "running" {
		t.Errorf("GridJobStatus %q when parked, want the instance's last state %q", got, "running")
	}
}

// TestRestartReplacesLostKeyPair: an ec2_gahp killed after the cloud made a job's keypair
// but before the key file was renamed into place leaves the keypair at the cloud and no
// file; the restarted daemon's create is answered "duplicate", which HTCondor takes for
// success (the job runs, the user can never log in). Recovery must start exactly one
// instance, with a keypair whose private key is in the job's key file. On Amazon the
// restart comes to the create without a seek, and a start may have gone out: it seeks
// first, and an instance it finds is adopted with the keypair left alone.
func TestRestartReplacesLostKeyPair(t *testing.T) {
	const (
		tok  = "3f8a1c2e-0000-4000-8000-000000000001"
		name = "SSH_q-1_sched_1_0_100"
		lost = "lost with the killed gahp"
	)
	for _, tc := range []struct {
		name     string
		server   string
		instance bool // the start went out before the crash (and the file was removed since)
	}{
		{name: "amazon", server: amazon},
		{name: "openstack", server: openstack},
		{name: "amazon, instance already started: adopted, keypair kept", server: amazon, instance: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.server)
			file := filepath.Join(h.dir, "k.pem")
			h.cloud.trackKeys(map[string]string{name: lost})
			if tc.instance {
				h.cloud.addLocked("i-77", []string{"ami", name, "", "", "", "", "", "", tok})
			}
			j := h.load(gid(tok), fmt.Sprintf("EC2ServerType = %q", tc.server), `EC2KeyPair = "`+name+`"`,
				fmt.Sprintf("EC2KeyPairFile = %q", file))
			h.pass()
			h.later(time.Minute)
			h.pass()
			if j.state != stSubmitted {
				t.Fatalf("state %s after recovery, want %s (calls %q)", j.state, stSubmitted, h.cloud.cmds())
			}
			h.cloud.mu.Lock()
			insts := len(h.cloud.insts)
			h.cloud.mu.Unlock()
			if insts != 1 {
				t.Errorf("%d instances, want 1", insts)
			}
			k, ok := h.cloud.keyMaterial(name)
			b, err := os.ReadFile(file)
			if tc.instance {
				if j.instanceID != "i-77" || h.cloud.count("EC2_VM_DESTROY_KEYPAIR") != 0 || k != lost {
					t.Errorf("instance %q, calls %q, key %q: want i-77 adopted and its keypair left alone", j.instanceID, h.cloud.cmds(), k)
				}
				return
			}
			if n := h.cloud.count("EC2_VM_START"); n != 1 {
				t.Errorf("%d EC2_VM_START, want 1", n)
			}
			if err != nil {
				t.Fatalf("key file after recovery: %v (calls %q)", err, h.cloud.cmds())
			}
			if !ok || k == lost || string(b) != k {
				t.Errorf("key file %q, the cloud's keypair %q (%v): want the cloud's keypair's key in the file", b, k, ok)
			}
			c := h.cloud.cmds()
			d, s := slices.Index(c, "EC2_VM_DESTROY_KEYPAIR"), slices.Index(c, "EC2_VM_START")
			if d < 0 || s < d || h.cloud.count("EC2_VM_DESTROY_KEYPAIR") != 1 {
				t.Errorf("calls %q: want one EC2_VM_DESTROY_KEYPAIR before the start", c)
			}
			if a := h.cloud.lastCall("EC2_VM_START").Args; a[1] != name {
				t.Errorf("started with keypair %q, want %q", a[1], name)
			}
		})
	}
}
