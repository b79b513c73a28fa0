package gridmanager

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/gridmanager/resource"
	"github.com/ec2grid/ec2grid/jobs"
)

// fakeCall is one command the fake Cloud received.
type fakeCall struct {
	Cmd  string
	Args []string
}

// fakeInst is one instance in the fake cloud.
type fakeInst struct {
	resource.Instance
	started time.Time
	queue   string // its ec2grid:queue tag
}

// fakeCloud is a Cloud that records every call and answers from a script (answers queued
// per command, first in first out) or, when the script has none, as a small cloud would:
// starts make instances (idempotent by ClientToken when the server type honours it),
// stops terminate them, everything else succeeds. Pass delivers a status pass of its
// instances to the manager, counted as one EC2_VM_STATUS_ALL.
type fakeCloud struct {
	mu        sync.Mutex
	key       resource.Key
	l         resource.Listener
	health    resource.Health
	calls     []fakeCall
	script    map[string][]fakeAnswer
	insts     map[string]*fakeInst
	order     []string
	spot      []resource.SpotRequest
	next      int
	probeSoon int
	spotJobs  int
	slots     chan struct{}
	started   chan string // receives each command as it arrives, when set
	hide      map[string]bool
	filters   bool // EC2_VM_STATUS_ALL honours its tag filter
	// keys, when set (trackKeys), are the cloud's keypairs, name → private key material:
	// EC2_VM_CREATE_KEYPAIR answers InvalidKeyPair.Duplicate for a name there, else makes
	// fresh material and writes it to the key file as ec2_gahp does; DESTROY forgets it.
	keys   map[string]string
	keySeq int
}

type fakeAnswer struct {
	fields []string
	err    error
}

func newFakeCloud(serverType string) *fakeCloud {
	return &fakeCloud{
		health: resource.Health{Up: true, ServerType: serverType, Since: time.Unix(1, 0)},
		script: map[string][]fakeAnswer{}, insts: map[string]*fakeInst{}, hide: map[string]bool{},
	}
}

func (f *fakeCloud) Health() resource.Health { f.mu.Lock(); defer f.mu.Unlock(); return f.health }
func (f *fakeCloud) ProbeSoon()              { f.mu.Lock(); f.probeSoon++; f.mu.Unlock() }
func (f *fakeCloud) SetSpotJobs(n int)       { f.mu.Lock(); f.spotJobs = n; f.mu.Unlock() }

func (f *fakeCloud) AcquireSubmitSlot(ctx context.Context) (func(), error) {
	if f.slots == nil {
		return func() {}, nil
	}
	select {
	case f.slots <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-f.slots }) }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// answer queues an answer for the next call of cmd.
func (f *fakeCloud) answer(cmd string, fields []string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script[cmd] = append(f.script[cmd], fakeAnswer{fields, err})
}

func (f *fakeCloud) Call(ctx context.Context, prio resource.Priority, cmd string, args ...string) ([]string, error) {
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{cmd, append([]string(nil), args...)})
	ch := f.started
	var a *fakeAnswer
	if q := f.script[cmd]; len(q) > 0 {
		a, f.script[cmd] = &q[0], q[1:]
	}
	var out []string
	var err error
	if a != nil {
		out, err = a.fields, a.err
		if err == nil && cmd == "EC2_VM_START" && len(out) >= 2 && out[0] == "0" {
			f.addLocked(out[1], args)
		}
	} else {
		out, err = f.defaultLocked(cmd, args)
	}
	f.mu.Unlock()
	if ch != nil {
		ch <- cmd
	}
	return out, err
}

func (f *fakeCloud) Stop(ctx context.Context, iid string) ([]string, error) {
	return f.Call(ctx, resource.Medium, "EC2_VM_STOP", iid)
}

func (f *fakeCloud) addLocked(id string, args []string) *fakeInst {
	in := &fakeInst{Instance: resource.Instance{ID: id, State: "pending", ClientToken: args[8], KeyName: args[1]}, started: time.Now()}
	if !clientTokenWorks(f.health.ServerType) {
		in.ClientToken = ""
	}
	for i := 0; i+3 < len(args); i++ {
		if args[i+1] == TagQueue && args[i+2] == "TagSpecification.1.Tag.1.Value" {
			in.queue = args[i+3]
		}
	}
	f.insts[id] = in
	f.order = append(f.order, id)
	return in
}

// trackKeys makes the fake keep keypairs (see keys), starting with those given.
func (f *fakeCloud) trackKeys(existing map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys = map[string]string{}
	for n, k := range existing {
		f.keys[n] = k
	}
}

// keyMaterial is the private key of the cloud's keypair name, if it has one.
func (f *fakeCloud) keyMaterial(name string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, ok := f.keys[name]
	return k, ok
}

// dupKeyPair is ec2_gahp's answer to CreateKeyPair for a name already there.
var dupKeyPair = []string{"1", "E_HTTP_RESPONSE_NOT_200 (400)", "<Code>InvalidKeyPair.Duplicate</Code><Message>The keypair already exists</Message>"}

func (f *fakeCloud) defaultLocked(cmd string, args []string) ([]string, error) {
	switch {
	case f.keys != nil && cmd == "EC2_VM_CREATE_KEYPAIR":
		if _, ok := f.keys[args[0]]; ok {
			return dupKeyPair, nil
		}
		f.keySeq++
		k := fmt.Sprintf("-----BEGIN RSA PRIVATE KEY----- %s #%d", args[0], f.keySeq)
		f.keys[args[0]] = k
		if args[1] != "/dev/null" {
			if err := os.WriteFile(args[1], []byte(k), 0o600); err != nil {
				return []string{"1", "E_FILE_IO", "Failed to write private key to file: " + err.Error()}, nil
			}
		}
		return []string{"0"}, nil
	case f.keys != nil && cmd == "EC2_VM_DESTROY_KEYPAIR":
		delete(f.keys, args[0])
		return []string{"0"}, nil
	}
	switch cmd {
	case "EC2_VM_START":
		if clientTokenWorks(f.health.ServerType) {
			for _, id := range f.order {
				if f.insts[id].ClientToken == args[8] {
					return []string{"0", id}, nil
				}
			}
		}
		f.next++
		id := fmt.Sprintf("i-%08x", f.next)
		f.addLocked(id, args)
		return []string{"0", id}, nil
	case "EC2_VM_START_SPOT":
		f.next++
		return []string{"0", fmt.Sprintf("sir-%08x", f.next)}, nil
	case "EC2_VM_STOP":
		for _, id := range args {
			in := f.insts[id]
			if in == nil {
				return []string{"1", "E_HTTP_RESPONSE_NOT_200 (400)", "<Code>InvalidInstanceID.NotFound</Code>"}, nil
			}
			in.State, in.StateReason = "terminated", "Client.UserInitiatedShutdown"
		}
		return []string{"0"}, nil
	case "EC2_VM_STATUS_ALL":
		out := []string{"0"}
		for _, id := range f.order {
			in := f.insts[id]
			if f.filters && len(args) == 2 && args[0] == "tag:"+TagQueue && in.queue != args[1] {
				continue
			}
			out = append(out, in.ID, in.State, null(in.ClientToken), null(in.KeyName), null(in.StateReason), null(in.PublicDNS), "NULL", "NULL")
		}
		return out, nil
	}
	return []string{"0"}, nil
}

func null(s string) string {
	if s == "" {
		return "NULL"
	}
	return s
}

// set changes an instance's state (and reason).
func (f *fakeCloud) set(id, state, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in := f.insts[id]; in != nil {
		in.State, in.StateReason = state, reason
	}
}

// runAll moves every pending instance to running.
func (f *fakeCloud) runAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, in := range f.insts {
		if in.State == "pending" {
			in.State = "running"
		}
	}
}

// snapshot is a pass as the resource would make it, sent at started.
func (f *fakeCloud) snapshot(started time.Time) resource.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fakeCall{Cmd: "EC2_VM_STATUS_ALL"})
	s := resource.Snapshot{Started: started, SpotQueried: f.spotJobs > 0, Spot: append([]resource.SpotRequest(nil), f.spot...)}
	for _, id := range f.order {
		if !f.hide[id] {
			s.Instances = append(s.Instances, f.insts[id].Instance)
		}
	}
	return s
}

// pass delivers a status pass through the listener (as the resource's goroutine does).
func (f *fakeCloud) pass(started time.Time) {
	s := f.snapshot(started)
	f.mu.Lock()
	l, k := f.l, f.key
	f.mu.Unlock()
	l.Snapshot(k, s)
}

func (f *fakeCloud) count(cmd string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c.Cmd == cmd {
			n++
		}
	}
	return n
}

func (f *fakeCloud) cmds() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		out = append(out, c.Cmd)
	}
	return out
}

func (f *fakeCloud) lastCall(cmd string) fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.calls) - 1; i >= 0; i-- {
		if f.calls[i].Cmd == cmd {
			return f.calls[i]
		}
	}
	return fakeCall{}
}

func (f *fakeCloud) reset() { f.mu.Lock(); f.calls = nil; f.mu.Unlock() }

// clock is a settable time source for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }
func (c *clock) set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// fakePolicy answers from fields the test sets.
type fakePolicy struct {
	mu       sync.Mutex
	periodic func(ad *classad.ClassAd) Decision
	onExit   Decision
}

func (p *fakePolicy) Periodic(ad *classad.ClassAd, now time.Time) Decision {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.periodic == nil {
		return Decision{}
	}
	return p.periodic(ad)
}

func (p *fakePolicy) OnExit(ad *classad.ClassAd, now time.Time) Decision {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.onExit.Action == ActionNone {
		return Decision{Action: ActionComplete}
	}
	return p.onExit
}

// harness is a Manager in synchronous mode (ops run inline) over a memory store, with one
// fake cloud per resource.
type harness struct {
	t      *testing.T
	m      *Manager
	store  jobs.Store
	cloud  *fakeCloud
	clock  *clock
	policy *fakePolicy
	dir    string
}

const testURL = "https://ec2.us-east-1.amazonaws.com/"

func newHarness(t *testing.T, serverType string) *harness {
	t.Helper()
	h := &harness{t: t, store: jobs.NewMemory(), cloud: newFakeCloud(serverType), clock: newClock(), policy: &fakePolicy{}, dir: t.TempDir()}
	t.Cleanup(func() { h.store.Close() })
	h.m = New(h.store, Options{
		QueueID: "q-1", Now: h.clock.Now, Policy: h.policy, RetryDelay: time.Minute,
		NewCloud: func(ctx context.Context, key resource.Key, l resource.Listener) Cloud {
			h.cloud.mu.Lock()
			h.cloud.key, h.cloud.l = key, l
			h.cloud.mu.Unlock()
			return h.cloud
		},
	})
	h.m.sync, h.m.strict = true, true
	return h
}

// ad is a submitted grid job's ad, with extra attributes as name=expression pairs.
func (h *harness) ad(extra ...string) *classad.ClassAd {
	ad := classad.New()
	ad.SetInt(attrJobUniverse, gridUniverse)
	ad.SetInt(jobs.AttrJobStatus, jobs.StatusIdle)
	ad.SetString(jobs.AttrOwner, "alice")
	ad.SetString(jobs.AttrGridResource, "ec2 "+testURL)
	ad.SetString(attrAccessKey, "/home/alice/ak")
	ad.SetString(attrSecretKey, "/home/alice/sk")
	ad.SetString("EC2AmiID", "ami-1")
	ad.SetString(attrGlobalJobID, "sched#1.0#100")
	ad.SetString(attrUserLog, h.dir+"/job.log")
	for _, e := range extra {
		n, v, _ := strings.Cut(e, "=")
		if err := ad.SetExpr(strings.TrimSpace(n), strings.TrimSpace(v)); err != nil {
			h.t.Fatalf("%s: %v", e, err)
		}
	}
	return ad
}

// submit puts the ad in the store and returns the job the manager builds from it,
// without stepping it.
func (h *harness) submit(ad *classad.ClassAd) *job {
	h.t.Helper()
	if _, err := h.store.SubmitCluster(context.Background(), "", []*classad.ClassAd{ad}); err != nil {
		h.t.Fatal(err)
	}
	stored, err := h.store.Query(context.Background(), nil)
	if err != nil {
		h.t.Fatal(err)
	}
	ad = stored[len(stored)-1]
	j := h.m.newJob(ad)
	j.startedAt, j.lastSeen = h.clock.Now(), h.clock.Now()
	h.m.jobs[j.id] = j
	if j.rs != nil {
		j.rs.jobs[j] = struct{}{}
		h.m.index(j)
	}
	return j
}

// get returns the job's stored ad.
func (h *harness) get(j *job) *classad.ClassAd {
	h.t.Helper()
	ad, err := h.store.Get(context.Background(), j.id)
	if err != nil {
		h.t.Fatal(err)
	}
	return ad
}

func (h *harness) attr(j *job, name string) string {
	v := h.get(j).EvalAttr(name)
	if s, ok := v.StringValue(); ok {
		return s
	}
	return v.String()
}

// update changes the job's ad as a tool would; the job sees the new status without
// being stepped.
func (h *harness) update(j *job, changes ...jobs.Change) {
	h.t.Helper()
	if err := h.store.Update(context.Background(), j.id, changes, jobs.Durable); err != nil {
		h.t.Fatal(err)
	}
	j.status = jobs.Status(h.get(j))
}

// run runs the job's current state function until it returns another state or waits
// without a result, as step does, and returns what it returned.
func (h *harness) run(j *job) state {
	h.t.Helper()
	for i := 0; i < 10; i++ {
		from := j.state
		next := stateFuncs[from](h.m, j)
		if next != from {
			if !allowed(from, next) {
				h.t.Fatalf("%s → %s is not in the transition table", from, next)
			}
			return next
		}
		if j.res == nil {
			return next
		}
	}
	h.t.Fatalf("state %s kept returning results", j.state)
	return j.state
}

// events returns the event numbers in the job's user log.
func (h *harness) events() []int {
	h.t.Helper()
	return logEvents(h.t, h.dir+"/job.log")
}
