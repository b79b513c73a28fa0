package gridmanager

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/jobs"
)

// rmBeforeRunning commits a condor_rm of the job the moment the grid manager writes
// JobStatus = 2 for it, before the write reaches the store: the interleaving of docs/
// gridmanager.md "Store races" (read idle, a tool's rm commits, write running), forced
// rather than hoped for.
type rmBeforeRunning struct {
	jobs.Store
	t     *testing.T
	fired atomic.Bool
}

func (s *rmBeforeRunning) intercept(id jobs.JobID, cs []jobs.Change) {
	for _, c := range cs {
		if !strings.EqualFold(c.Name, jobs.AttrJobStatus) || c.Expr == nil || classad.Unparse(c.Expr) != "2" || s.fired.Swap(true) {
			continue
		}
		ctx := context.Background()
		ad, err := s.Store.Get(ctx, id)
		if err != nil {
			s.t.Error(err)
			return
		}
		rm, _ := jobs.Remove(ad, "via condor_rm (by user alice)", time.Now().Unix())
		if err := s.Store.Update(ctx, id, rm, jobs.Durable); err != nil {
			s.t.Error(err)
		}
		return
	}
}

func (s *rmBeforeRunning) Update(ctx context.Context, id jobs.JobID, cs []jobs.Change, d jobs.Durability) error {
	s.intercept(id, cs)
	return s.Store.Update(ctx, id, cs, d)
}

func (s *rmBeforeRunning) UpdateIf(ctx context.Context, id jobs.JobID, want int64, cs []jobs.Change, d jobs.Durability) error {
	s.intercept(id, cs)
	return s.Store.UpdateIf(ctx, id, want, cs, d)
}

// TestRemoveBetweenReadAndRunning: a condor_rm committed between the grid manager's read
// of an idle job (instance now running) and its write of JobStatus 2 is not lost: the
// write is refused, the job stays removed, its instance is stopped and it leaves the
// queue for the history as removed. (With an unconditional write the job shows running
// again, its instance is never stopped, and it never leaves the queue.)
func TestRemoveBetweenReadAndRunning(t *testing.T) {
	var rs *rmBeforeRunning
	r := startRunWrapped(t, amazon, Options{}, func(s jobs.Store) jobs.Store {
		rs = &rmBeforeRunning{Store: s, t: t}
		return rs
	})
	ids := r.submitN(1)
	r.waitFor("an instance", func() bool { return r.countJobs(hasInstance) == 1 })
	ad, err := r.store.Get(context.Background(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	g, _ := ParseGridJobID(jobs.GridJobID(ad))
	r.cloud.runAll()
	r.cloud.pass(time.Now())
	r.waitFor("the job to leave the queue", func() bool {
		if r.countJobs(func(*classad.ClassAd) bool { return true }) == 0 {
			return true
		}
		r.cloud.pass(time.Now())
		time.Sleep(20 * time.Millisecond)
		return false
	})
	if !rs.fired.Load() {
		t.Fatal("the grid manager never wrote JobStatus 2: the race was not exercised")
	}
	if stop := r.cloud.lastCall("EC2_VM_STOP"); !slices.Contains(stop.Args, g.InstanceID) {
		t.Errorf("instance %s of the removed job was never stopped", g.InstanceID)
	}
	hist, err := r.store.History(context.Background(), nil, 0)
	if err != nil || len(hist) != 1 || jobs.Status(hist[0]) != jobs.StatusRemoved {
		t.Fatalf("history %v (%v), want the job, removed", hist, err)
	}
}

// TestOpWriteKeepsEarlierRemove: each op that writes JobStatus from a status it read
// (running, the grid manager's hold, completion, a periodic hold) leaves a condor_rm
// committed between its read and its write standing, and the job goes on to be stopped.
func TestOpWriteKeepsEarlierRemove(t *testing.T) {
	for _, tc := range []struct {
		name   string
		launch func(m *Manager, j *job)
	}{
		{"running", func(m *Manager, j *job) { m.launchRunning(j) }},
		{"grid manager hold", func(m *Manager, j *job) { m.launchHold(j, holdStart("InvalidAMIID.NotFound")) }},
		{"completion", func(m *Manager, j *job) { m.launchDone(j) }},
		{"periodic hold", func(m *Manager, j *job) {
			m.launchPolicy(j, Decision{Action: ActionHold, Reason: "PeriodicHold", Code: 3})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "Amazon")
			j := h.submit(h.ad(`JobStatus = 2`))
			j.status = jobs.StatusRunning
			rs := &raceStore{Store: h.store}
			h.m.store = rs
			rs.getAfter = func() { // the op has read the ad: the rm commits before its write
				ad, _ := h.store.Get(context.Background(), j.id)
				rm, _ := jobs.Remove(ad, "via condor_rm", time.Now().Unix())
				if err := h.store.Update(context.Background(), j.id, rm, jobs.Durable); err != nil {
					t.Fatal(err)
				}
			}
			tc.launch(h.m, j)
			if st := jobs.Status(h.get(j)); st != jobs.StatusRemoved {
				t.Errorf("JobStatus in the store %d after the op, want %d (removed): the condor_rm was overwritten", st, jobs.StatusRemoved)
			}
			if j.status != jobs.StatusRemoved {
				t.Errorf("JobStatus in the manager %d after the op's result, want %d (removed)", j.status, jobs.StatusRemoved)
			}
		})
	}
}
