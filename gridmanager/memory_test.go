package gridmanager

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/gridmanager/resource"
	"github.com/ec2grid/ec2grid/jobs"
)

// maxBytesPerJob is the budget of the manager's own state per job (job struct, indexes,
// strings): 100,000 jobs then take at most 200 MiB besides the store, well under 1 GiB.
const maxBytesPerJob = 2048

// managedJobsHeap loads n submitted jobs (token, instance id, keypair, remote status) into
// a manager and returns the heap the manager's state took per job.
func managedJobsHeap(t testing.TB, n int) float64 {
	h := &harness{t: t.(*testing.T), dir: t.TempDir()}
	store := jobs.NewMemory()
	defer store.Close()
	ads := make([]*classad.ClassAd, n)
	for i := range ads {
		ads[i] = h.ad(gid(fmt.Sprintf("3f8a1c2e-0000-4000-8000-%012d i-%017x", i, i)),
			fmt.Sprintf(`EC2KeyPair = "SSH_q_sched_%d"`, i), `EC2ServerType = "Amazon"`,
			`GridJobStatus = "running"`, fmt.Sprintf(`EC2RemoteVirtualMachineName = "ec2-10-0-%d-%d.compute.internal"`, i/256, i%256))
	}
	if _, err := store.SubmitCluster(context.Background(), "", ads); err != nil {
		t.Fatal(err)
	}
	ads = nil
	cloud := newFakeCloud(amazon)
	m := New(store, Options{QueueID: "q", NewCloud: func(context.Context, resource.Key, resource.Listener) Cloud { return cloud }})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := m.resync(); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if len(m.jobs) != n {
		t.Fatalf("%d jobs managed", len(m.jobs))
	}
	for _, j := range m.jobs {
		if j.state != stSubmitted {
			t.Fatalf("job in %s", j.state)
		}
		break
	}
	runtime.KeepAlive(m)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

func TestMemoryPerJob(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 20,000 jobs")
	}
	per := managedJobsHeap(t, 20000)
	t.Logf("%.0f bytes of manager state per job (%.0f MiB for 100,000)", per, per*100000/(1<<20))
	if per > maxBytesPerJob {
		t.Errorf("%.0f bytes per job, budget %d", per, maxBytesPerJob)
	}
}
