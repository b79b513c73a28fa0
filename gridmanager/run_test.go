package gridmanager

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/gridmanager/resource"
	"github.com/ec2grid/ec2grid/jobs"
)

// waitTimeout bounds every wait in the Run tests: generous, since tests never assert speed.
const waitTimeout = 30 * time.Second

// running is a Manager under Run with the real clock, a memory store and one fake cloud.
type running struct {
	t      *testing.T
	m      *Manager
	store  jobs.Store
	cloud  *fakeCloud
	cancel context.CancelFunc
	done   chan error
	dir    string
}

func startRun(t *testing.T, serverType string, opts Options) *running {
	t.Helper()
	return startRunWrapped(t, serverType, opts, nil)
}

// startRunWrapped is startRun with the manager seeing the store through wrap (nil: the
// store itself); r.store stays the store underneath.
func startRunWrapped(t *testing.T, serverType string, opts Options, wrap func(jobs.Store) jobs.Store) *running {
	t.Helper()
	r := &running{t: t, store: jobs.NewMemory(), cloud: newFakeCloud(serverType), done: make(chan error, 1), dir: t.TempDir()}
	opts.QueueID = "q-run"
	if opts.OrphanSweepInterval == 0 {
		opts.OrphanSweepInterval = -1
	}
	opts.NewCloud = func(ctx context.Context, key resource.Key, l resource.Listener) Cloud {
		r.cloud.mu.Lock()
		r.cloud.key, r.cloud.l = key, l
		r.cloud.mu.Unlock()
		return r.cloud
	}
	seen := r.store
	if wrap != nil {
		seen = wrap(r.store)
	}
	r.m = New(seen, opts)
	r.m.strict = true
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-r.done; err != nil {
			t.Errorf("Run: %v", err)
		}
		r.store.Close()
	})
	return r
}

// submitN submits n grid jobs in one cluster.
func (r *running) submitN(n int, extra ...string) []jobs.JobID {
	r.t.Helper()
	h := &harness{t: r.t, dir: r.dir}
	ads := make([]*classad.ClassAd, n)
	for i := range ads {
		ads[i] = h.ad(extra...)
		ads[i].SetString(attrGlobalJobID, fmt.Sprintf("sched#x.%d#1", i))
	}
	c, err := r.store.SubmitCluster(context.Background(), "", ads)
	if err != nil {
		r.t.Fatal(err)
	}
	ids := make([]jobs.JobID, n)
	for i := range ids {
		ids[i] = jobs.JobID{Cluster: c, Proc: int64(i)}
	}
	return ids
}

// waitFor polls cond until it holds.
func (r *running) waitFor(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// countJobs counts queued jobs for which pred holds.
func (r *running) countJobs(pred func(*classad.ClassAd) bool) int {
	ads, err := r.store.Query(context.Background(), nil)
	if err != nil {
		r.t.Fatal(err)
	}
	n := 0
	for _, ad := range ads {
		if pred(ad) {
			n++
		}
	}
	return n
}

func hasInstance(ad *classad.ClassAd) bool {
	g, err := ParseGridJobID(jobs.GridJobID(ad))
	return err == nil && g.InstanceID != ""
}

// TestProbeOneStatusAllPerPass: 1,000 jobs get their status from one EC2_VM_STATUS_ALL
// per pass; the manager itself sends no status command at all.
func TestProbeOneStatusAllPerPass(t *testing.T) {
	const n = 1000
	r := startRun(t, amazon, Options{})
	r.submitN(n)
	r.waitFor("1,000 instances", func() bool { return r.countJobs(hasInstance) == n })
	r.cloud.runAll()
	passes := 0
	r.waitFor("1,000 running jobs", func() bool {
		if r.countJobs(func(ad *classad.ClassAd) bool { return jobs.Status(ad) == jobs.StatusRunning }) == n {
			return true
		}
		r.cloud.pass(time.Now())
		passes++
		time.Sleep(20 * time.Millisecond)
		return false
	})
	if got := r.cloud.count("EC2_VM_STATUS_ALL"); got != passes {
		t.Errorf("%d EC2_VM_STATUS_ALL for %d passes", got, passes)
	}
	if got := r.cloud.count("EC2_VM_STATUS"); got != 0 {
		t.Errorf("%d per-job EC2_VM_STATUS", got)
	}
	if got := r.cloud.count("EC2_VM_START"); got != n {
		t.Errorf("%d starts for %d jobs", got, n)
	}
	// The inbox keeps only a resource's latest pass: passes the loop had no time for
	// are superseded, never queued.
	if s := r.m.Stats(); s.Jobs != n || s.Starts != n || s.Probes > int64(passes) || s.Probes == 0 {
		t.Errorf("stats %+v, passes %d", s, passes)
	}
	t.Logf("%d passes brought %d jobs to running", passes, n)
}

// TestRemovesReachStop: condor_rm of 100 running jobs reaches EC2_VM_STOP for each of them
// without waiting for a status pass, and the jobs leave the queue after the next pass.
func TestRemovesReachStop(t *testing.T) {
	const n = 100
	r := startRun(t, amazon, Options{})
	ids := r.submitN(n)
	r.waitFor("100 instances", func() bool { return r.countJobs(hasInstance) == n })
	r.cloud.runAll()
	r.cloud.pass(time.Now())
	r.waitFor("100 running jobs", func() bool {
		return r.countJobs(func(ad *classad.ClassAd) bool { return jobs.Status(ad) == jobs.StatusRunning }) == n
	})
	stops := r.cloud.count("EC2_VM_STOP")
	for _, id := range ids {
		ad, err := r.store.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		cs, _ := jobs.Remove(ad, "via condor_rm (by user alice)", time.Now().Unix())
		if err := r.store.Update(context.Background(), id, cs, jobs.Durable); err != nil {
			t.Fatal(err)
		}
	}
	r.waitFor("100 stops", func() bool { return r.cloud.count("EC2_VM_STOP") == stops+n })
	r.waitFor("100 jobs gone", func() bool {
		if r.countJobs(func(*classad.ClassAd) bool { return true }) == 0 {
			return true
		}
		r.cloud.pass(time.Now())
		time.Sleep(20 * time.Millisecond)
		return false
	})
	hist, err := r.store.History(context.Background(), nil, 0)
	if err != nil || len(hist) != n {
		t.Errorf("history has %d jobs (%v)", len(hist), err)
	}
	if ev := logEvents(t, r.dir+"/job.log"); count(ev, 9) != n || count(ev, 27) != n || count(ev, 1) != n {
		t.Errorf("user log: %d 027, %d 001, %d 009", count(ev, 27), count(ev, 1), count(ev, 9))
	}
}

func count(ev []int, n int) int {
	c := 0
	for _, e := range ev {
		if e == n {
			c++
		}
	}
	return c
}

// TestSubmitReachesTheCloud: a job submitted while Run runs reaches EC2_VM_START through
// the store's event, with no pass or tick in between.
func TestSubmitReachesTheCloud(t *testing.T) {
	r := startRun(t, amazon, Options{PeriodicExprInterval: time.Hour})
	started := make(chan string, 16)
	r.cloud.mu.Lock()
	r.cloud.started = started
	r.cloud.mu.Unlock()
	r.submitN(1)
	select {
	case cmd := <-started:
		if cmd != "EC2_VM_START" {
			t.Errorf("first command %s", cmd)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no start")
	}
}

// TestSubmitSlots: with one submit slot, the second job waits; removing it while it waits
// abandons the wait and it leaves without ever starting.
func TestSubmitSlots(t *testing.T) {
	r := startRun(t, amazon, Options{})
	r.cloud.mu.Lock()
	r.cloud.slots = make(chan struct{}, 1)
	r.cloud.mu.Unlock()
	ids := r.submitN(2)
	r.waitFor("one instance", func() bool { return r.countJobs(hasInstance) == 1 })
	time.Sleep(50 * time.Millisecond)
	if n := r.cloud.count("EC2_VM_START"); n != 1 {
		t.Fatalf("%d starts with one slot", n)
	}
	waiting := ids[1]
	if ad, _ := r.store.Get(context.Background(), ids[0]); !hasInstance(ad) {
		waiting = ids[0]
	}
	ad, _ := r.store.Get(context.Background(), waiting)
	cs, _ := jobs.Remove(ad, "rm", time.Now().Unix())
	if err := r.store.Update(context.Background(), waiting, cs, jobs.Durable); err != nil {
		t.Fatal(err)
	}
	r.waitFor("the waiting job gone", func() bool {
		_, err := r.store.Get(context.Background(), waiting)
		return err != nil
	})
	if n := r.cloud.count("EC2_VM_START"); n != 1 {
		t.Errorf("%d starts", n)
	}
}

// TestPeriodicPolicyRuns: the periodic pass holds a job whose policy fires, and the hold
// stops its instance.
func TestPeriodicPolicyRuns(t *testing.T) {
	pol := &fakePolicy{}
	r := startRun(t, amazon, Options{PeriodicExprInterval: 50 * time.Millisecond, Policy: pol})
	ids := r.submitN(1)
	r.waitFor("an instance", func() bool { return r.countJobs(hasInstance) == 1 })
	pol.mu.Lock()
	pol.periodic = func(ad *classad.ClassAd) Decision {
		if jobs.Status(ad) == jobs.StatusHeld {
			return Decision{}
		}
		return Decision{Action: ActionHold, Reason: "The job attribute PeriodicHold expression 'true' evaluated to TRUE", Code: jobs.HoldJobPolicy}
	}
	pol.mu.Unlock()
	r.waitFor("held and stopped", func() bool {
		ad, err := r.store.Get(context.Background(), ids[0])
		return err == nil && jobs.Status(ad) == jobs.StatusHeld && r.cloud.count("EC2_VM_STOP") == 1
	})
}

// TestBigCluster: a cluster larger than the store's subscriber buffer overflows the event
// channel; every job is still managed (the queue is read again once the channel drains).
func TestBigCluster(t *testing.T) {
	n := jobs.SubscriberBuffer + 500
	r := startRun(t, amazon, Options{})
	r.submitN(n)
	deadline := time.Now().Add(2 * waitTimeout)
	for r.countJobs(hasInstance) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d jobs started", r.countJobs(hasInstance), n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestPeriodicPolicyOff: a negative PeriodicExprInterval (HTCondor's
// PERIODIC_EXPR_INTERVAL = 0) runs no periodic pass, so a policy that would hold a
// submitted job is not evaluated while nothing else happens to the job.
func TestPeriodicPolicyOff(t *testing.T) {
	o := Options{PeriodicExprInterval: -1}
	o.setDefaults()
	if o.PeriodicExprInterval >= 0 {
		t.Fatalf("setDefaults made PeriodicExprInterval %v; want it kept off", o.PeriodicExprInterval)
	}
	pol := &fakePolicy{}
	r := startRun(t, amazon, Options{PeriodicExprInterval: -1, Policy: pol})
	ids := r.submitN(1)
	r.waitFor("an instance", func() bool { return r.countJobs(hasInstance) == 1 })
	var calls atomic.Int64
	pol.mu.Lock()
	pol.periodic = func(ad *classad.ClassAd) Decision {
		calls.Add(1)
		return Decision{Action: ActionHold, Reason: "held", Code: jobs.HoldJobPolicy}
	}
	pol.mu.Unlock()
	// A pass is due at every tick once the interval is past; three ticks show none runs.
	time.Sleep(3 * tickInterval)
	ad, err := r.store.Get(context.Background(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if jobs.Status(ad) == jobs.StatusHeld || calls.Load() != 0 {
		t.Errorf("status %d after %d periodic evaluations; want not held and none", jobs.Status(ad), calls.Load())
	}
}
