package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/internal/testbin"
)

// bins are the binaries the runs start, built once by TestMain (without -race: the
// driver under test is this package; the binaries have their own tests).
var bins = &testbin.Set{Prefix: "chaos-bin", Commands: []string{"ec2grid", "ec2_gahp", "condor_submit", "condor_rm",
	"condor_hold", "condor_release"}}

func TestMain(m *testing.M) { testbin.Main(m, bins) }

// runTimeout bounds one test run beyond its kills' span: far above a healthy run's drain
// and checks, so only a hung system reaches it (a storm has its own bounds inside).
const runTimeout = 50 * time.Minute

// chaosRun runs one mode and fails the test on any count but kills and jobs, or if the
// run did not kill and run what it was asked to. It only reports with t.Errorf, so
// several may run at once in goroutines of one test.
func chaosRun(t *testing.T, o options) result {
	t.Helper()
	o.bin = bins.Must(t)
	o.seed = time.Now().UnixNano()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout+time.Duration(o.kills)*o.killEvery*2)
	defer cancel()
	var log strings.Builder
	res, err := run(ctx, o, &logWriter{t: t, b: &log})
	if err != nil {
		t.Errorf("%s run: %v", o.mode, err)
		return res
	}
	t.Log(res.line())
	if !res.ok() {
		t.Errorf("%s\n(seed %d)", res.line(), o.seed)
	}
	if res.kills < o.kills {
		t.Errorf("%d kills, want %d", res.kills, o.kills)
	}
	if res.jobs == 0 {
		t.Error("no job was acknowledged")
	}
	return res
}

// logWriter sends the run's progress to the test log.
type logWriter struct {
	t *testing.T
	b *strings.Builder
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestChaosShort is the crash loop in small, a few kills over a few dozen jobs in both
// modes (aws: ClientToken; openstack: per-job key pairs), beside the fault storm in small
// (a few dozen jobs on the storm's cloud, then on a fault-free one). The three run at
// once in goroutines rather than as parallel subtests, which -parallel (GOMAXPROCS) would
// queue behind each other: the runs mostly wait on their children.
func TestChaosShort(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	for _, mode := range []string{"aws", "openstack"} {
		wg.Go(func() { chaosRun(t, options{mode: mode, jobs: 30, kills: 4, killEvery: 3 * time.Second}) })
	}
	wg.Go(func() {
		res := chaosRun(t, options{mode: "aws", jobs: 30, storm: true})
		if res.callsPerJob <= 0 || res.baselinePerJob <= 0 {
			t.Errorf("storm: calls per job %.2f, fault-free %.2f: want both counted", res.callsPerJob, res.baselinePerJob)
		}
	})
	wg.Wait()
}

// TestResultLine pins the line's format, which scripts parse, and ok's rule: every count
// but kills and jobs must be 0.
func TestResultLine(t *testing.T) {
	r := result{mode: "aws", kills: 20, jobs: 200}
	if got, want := r.line(), "chaos: mode=aws kills=20 jobs=200 lost=0 duplicates=0 leaked_instances=0 leaked_keypairs=0 leaked_keyfiles=0"; got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
	if !r.ok() {
		t.Error("a clean result is not ok")
	}
	for i, bad := range []result{{lost: 1}, {duplicates: 1}, {leakedInstances: 1}, {leakedKeyPairs: 1}, {leakedKeyFiles: 1}} {
		if bad.ok() {
			t.Errorf("result %d %+v is ok", i, bad)
		}
	}
}
