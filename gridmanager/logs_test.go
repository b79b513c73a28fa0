package gridmanager

import (
	"context"
	"sync"
	"testing"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/jobs"
)

// TestSharedLogGroupCommit: many jobs writing to one user log at once each get their
// events written whole, and the syncer forgets the file when the last writer is done.
func TestSharedLogGroupCommit(t *testing.T) {
	h := newHarness(t, amazon)
	const n = 64
	ads := make([]*classad.ClassAd, n)
	for i := range ads {
		ads[i] = h.ad()
	}
	if _, err := h.store.SubmitCluster(context.Background(), "", ads); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(id jobs.JobID) {
			defer wg.Done()
			h.m.writeLog(context.Background(), id, logExecute, logHeld)
		}(jobs.JobID{Cluster: 1, Proc: int64(i)})
	}
	wg.Wait()
	ev := h.events()
	if count(ev, 1) != n || count(ev, 12) != n {
		t.Errorf("%d 001 and %d 012 for %d jobs", count(ev, 1), count(ev, 12), n)
	}
	if len(h.m.logSync.byPath) != 0 {
		t.Errorf("syncer still holds %d files", len(h.m.logSync.byPath))
	}
}
