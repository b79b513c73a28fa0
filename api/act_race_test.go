package api

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ec2grid/ec2grid/jobs"
)

// completeBeforeWrite commits the grid manager's completion (JobStatus 4) of a job the
// moment the API writes to it, before the API's write reaches the store: a condor_hold
// decided from the idle status it read lands after the job completed.
type completeBeforeWrite struct {
	jobs.Store
	fired atomic.Bool
}

func (s *completeBeforeWrite) complete(ctx context.Context, id jobs.JobID) error {
	if s.fired.Swap(true) {
		return nil
	}
	return s.Store.Update(ctx, id, []jobs.Change{jobs.SetInt(jobs.AttrJobStatus, jobs.StatusCompleted),
		jobs.SetInt(jobs.AttrLastJobStatus, jobs.StatusIdle)}, jobs.Durable)
}

func (s *completeBeforeWrite) Update(ctx context.Context, id jobs.JobID, cs []jobs.Change, d jobs.Durability) error {
	if err := s.complete(ctx, id); err != nil {
		return err
	}
	return s.Store.Update(ctx, id, cs, d)
}

func (s *completeBeforeWrite) UpdateIf(ctx context.Context, id jobs.JobID, want int64, cs []jobs.Change, d jobs.Durability) error {
	if err := s.complete(ctx, id); err != nil {
		return err
	}
	return s.Store.UpdateIf(ctx, id, want, cs, d)
}

// TestActDecidesAgainAfterARace: condor_hold reads an idle job; the grid manager commits
// its completion before the hold's write. The hold must not overwrite it (a completed job
// cannot be held, and a held one would never leave the queue as completed): the API reads
// the job again and refuses, as it would have had it read the completion first.
func TestActDecidesAgainAfterARace(t *testing.T) {
	f := newFixture(t)
	cl := f.submit(alice, 1, nil)
	rs := &completeBeforeWrite{Store: f.store}
	f.srv.cfg.Store = rs
	resp, err := f.client(alice).Act(context.Background(), &ActRequest{Action: ActionHold, IDs: []string{fmt.Sprintf("%d.0", cl)}})
	if err != nil {
		t.Fatal(err)
	}
	if !rs.fired.Load() {
		t.Fatal("the hold never wrote: the race was not exercised")
	}
	if len(resp.Results) != 1 || resp.Results[0].Status != StatusBadStatus || !strings.Contains(resp.Results[0].Error, jobs.ErrNotHoldable.Error()) {
		t.Errorf("hold of a job completed under it: %+v", resp.Results)
	}
	if ad := f.get(cl, 0); num(ad, "JobStatus") != jobs.StatusCompleted {
		t.Errorf("JobStatus %d after the hold, want %d (completed): the completion was overwritten", num(ad, "JobStatus"), jobs.StatusCompleted)
	}
}
