package e2e

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// Call-count bounds, from issue 7's acceptance list.
const (
	// removeJobs removed by one condor_rm may cost at most maxTerminateCalls
	// TerminateInstances calls: stops that pile up while one is in flight go together.
	removeJobs        = 100
	maxTerminateCalls = 5

	// probeJobs running jobs cost one DescribeInstances page per periodic probe: the
	// gahp asks for pages of 1,000, and the grid manager probes per resource, not per job.
	probeJobs = 1000
	// probeWindow is how long the probes are counted. The probe interval is 1 s,
	// jittered by up to ±10%, so the window holds at most window/0.9 periodic probes; two
	// pages per probe (or a call per job) would cost at least twice window/1.1.
	probeWindow = 10 * time.Second
	// probeJitter is the resource's jitter of the probe interval (gridmanager/resource).
	probeJitter = 0.10
)

// runningCluster submits n jobs (no key pairs, no user data: the instances run until
// terminated) and waits until all of them run.
func runningCluster(t *testing.T, c *cloud, s *system, n int) (int, []ad) {
	t.Helper()
	cluster := s.submit(s.submitFile("many.sub", jobSpec{cloud: c, queue: n}))
	jobs := s.waitJobs(cluster, n, fmt.Sprintf("%d jobs running", n), running)
	return cluster, jobs
}

// One condor_rm of 100 running jobs costs at most 5 TerminateInstances calls, and every
// instance ends terminated.
func TestRemoveBatchesStops(t *testing.T) {
	t.Parallel()
	c := startCloud(t, "aws")
	s := newSystem(t)
	s.startDaemon()
	cluster, jobs := runningCluster(t, c, s, removeJobs)
	c.resetStats()
	s.must("condor_rm", fmt.Sprint(cluster))
	s.waitGone(cluster, "the removed jobs leaving the queue")
	st := c.stats()
	if calls := st["TerminateInstances"].Calls; calls < 1 || calls > maxTerminateCalls {
		t.Errorf("%d jobs removed by one condor_rm cost %d TerminateInstances calls, want 1 to %d", removeJobs, calls, maxTerminateCalls)
	}
	var ids []string
	for _, a := range jobs {
		ids = append(ids, a.str("EC2InstanceName"))
	}
	terminated(t, c, ids...)
	t.Logf("condor_rm of %d jobs: %d TerminateInstances, %d DescribeInstances calls", removeJobs,
		st["TerminateInstances"].Calls, st["DescribeInstances"].Calls)
}

// probeCalls checks that n running jobs cost one DescribeInstances page per probe.
func probeCalls(t *testing.T, n int) {
	c := startCloud(t, "aws")
	s := newSystem(t)
	s.startDaemon()
	runningCluster(t, c, s, n)
	// Let the early probes that followed the starts settle, then count a quiet window.
	time.Sleep(2 * time.Second)
	c.resetStats()
	time.Sleep(probeWindow)
	st := c.stats()
	maxProbes := int(math.Floor(probeWindow.Seconds()/(1-probeJitter))) + 1
	calls := st["DescribeInstances"].Calls
	if calls < 1 || calls > maxProbes {
		t.Errorf("%d running jobs cost %d DescribeInstances calls in %v, want 1 to %d (one page per probe)", n, calls, probeWindow, maxProbes)
	}
	for action, a := range st {
		if action != "DescribeInstances" && a.Calls > 0 {
			t.Errorf("%d running jobs with nothing to do cost %d %s calls", n, a.Calls, action)
		}
	}
	t.Logf("%d running jobs: %d DescribeInstances calls in %v", n, calls, probeWindow)
}

// 1,000 running jobs cost one DescribeInstances page per periodic probe.
func TestProbeOnePagePerPass(t *testing.T) {
	t.Parallel()
	probeCalls(t, probeJobs)
}
