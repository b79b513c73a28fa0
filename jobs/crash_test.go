package jobs

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/classad"
)

// crashChildEnv names the bbolt file the re-executed test binary submits to.
const crashChildEnv = "EC2GRID_JOBS_CRASH_CHILD"

// crashJobsPerCluster makes each cluster big enough that a torn write would show.
const crashJobsPerCluster = 7

// crashDeletes is how many jobs of each cluster the child deletes (procs 1..n) before it
// acknowledges the cluster.
const crashDeletes = 3

// TestCrashChild is the child of TestCrashSubmits; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("only run as the child of TestCrashSubmits")
	}
	s, err := OpenBolt(path)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	ctx := context.Background()
	for i := 0; ; i++ {
		c, err := s.SubmitCluster(ctx, fmt.Sprintf("k%d", i), newJobs(crashJobsPerCluster, "crash"))
		if err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		// Ordinary updates in between, so group commits race with the kill too.
		s.Update(ctx, JobID{c, 0}, []Change{SetInt("Seen", int64(i))}, Batched)
		// And deletes, from goroutines at once so they share group commits: each moves
		// its job to the history in the commit's one transaction.
		errs := make(chan error, crashDeletes)
		for p := 1; p <= crashDeletes; p++ {
			go func() { errs <- s.Delete(ctx, JobID{c, int64(p)}) }()
		}
		for range crashDeletes {
			if err := <-errs; err != nil {
				fmt.Println("error", err)
				os.Exit(2)
			}
		}
		fmt.Printf("ack %d\n", c)
	}
}

func TestCrashSubmits(t *testing.T) {
	crashTest(t, crashSubmits)
}

func crashTest(t *testing.T, submits int) {
	if testing.Short() {
		t.Skip("-short")
	}
	path := filepath.Join(t.TempDir(), "jobs.db")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []int64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "ack "); ok {
			c, err := strconv.ParseInt(rest, 10, 64)
			if err != nil {
				t.Fatalf("child said %q", line)
			}
			acked = append(acked, c)
			if len(acked) == submits {
				cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		} else if strings.HasPrefix(line, "error") {
			t.Fatalf("child: %s", line)
		}
	}
	// Drain what the child wrote before it died: those submits were acknowledged too.
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			c, _ := strconv.ParseInt(rest, 10, 64)
			acked = append(acked, c)
		}
	}
	cmd.Wait()
	if len(acked) < submits {
		t.Fatalf("child stopped after %d acknowledged submits", len(acked))
	}

	s, err := OpenBolt(path)
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer s.Close()
	all, err := s.Query(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := s.History(context.Background(), nil, 0)
	if err != nil {
		t.Fatalf("history after SIGKILL: %v", err)
	}
	// Every job of a cluster is queued or in the history: never both, never neither.
	where := map[JobID]string{}
	perCluster := map[int64]int{}
	for _, ad := range all {
		where[ID(ad)] = "queue"
		perCluster[ClusterID(ad)]++
	}
	for _, ad := range hist {
		id := ID(ad)
		if w, ok := where[id]; ok {
			t.Errorf("job %s is in the %s and the history", id, w)
		}
		where[id] = "history"
		perCluster[id.Cluster]++
	}
	for c, n := range perCluster {
		if n != crashJobsPerCluster {
			t.Errorf("cluster %d is partial: %d of %d jobs", c, n, crashJobsPerCluster)
		}
	}
	for _, c := range acked {
		if perCluster[c] != crashJobsPerCluster {
			t.Errorf("acknowledged cluster %d has %d jobs", c, perCluster[c])
		}
		// Its deletes were acknowledged too: durable, so in the history.
		for p := int64(1); p <= crashDeletes; p++ {
			if w := where[JobID{c, p}]; w != "history" {
				t.Errorf("acknowledged delete of job %d.%d: the job is in the %q", c, p, w)
			}
		}
	}
	// The cluster counter must not hand out an id already used.
	next, _ := s.NextClusterID(context.Background())
	if next <= acked[len(acked)-1] {
		t.Errorf("NextClusterID = %d after cluster %d", next, acked[len(acked)-1])
	}
	if _, err := s.Query(context.Background(), classad.MustParseExpr(`Seen >= 0`)); err != nil {
		t.Error(err)
	}
	t.Logf("%d submits (and %d deletes each) acknowledged, %d clusters found, %d jobs in the history",
		len(acked), crashDeletes, len(perCluster), len(hist))
}
