package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ec2grid/ec2grid/api"
	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/daemon"
	"github.com/ec2grid/ec2grid/userlog"
)

// waitDaemon bounds waits for a daemon to start or exit; generous, for loaded machines.
const waitDaemon = 60 * time.Second

// readyLine is the daemon's message on stderr once it serves.
var readyLine = regexp.MustCompile(`^ec2grid daemon: listening on (.+) \(pid ([0-9]+)\)$`)

// daemonProcess is a started `ec2grid daemon`.
type daemonProcess struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan struct{}
	err    error // cmd.Wait's, once exited is closed
}

// shortHome returns an EC2GRID_HOME in a fresh directory with a short path: a socket
// path must stay under 108 bytes, and t.TempDir's paths are long.
func shortHome(t *testing.T) string {
	t.Helper()
	base, err := os.MkdirTemp("", "ecg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	return filepath.Join(base, "home")
}

// startDaemon starts `bin daemon` with home and extra environment, and waits for its
// ready line.
func startDaemon(t *testing.T, bin, home string, extraEnv ...string) *daemonProcess {
	t.Helper()
	cmd := exec.Command(bin, "daemon")
	cmd.Env = append(os.Environ(), "EC2GRID_HOME="+home, "EC2GRID_SOCKET=")
	cmd.Env = append(cmd.Env, extraEnv...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &daemonProcess{cmd: cmd, stderr: &syncBuffer{}, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.stderr.Write([]byte(sc.Text() + "\n"))
			if readyLine.MatchString(sc.Text()) {
				select {
				case ready <- sc.Text():
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			cmd.Process.Kill()
			<-p.exited
		}
	})
	select {
	case line := <-ready:
		m := readyLine.FindStringSubmatch(line)
		if want := filepath.Join(home, "daemon.sock"); m[1] != want || m[2] != fmt.Sprint(cmd.Process.Pid) {
			t.Errorf("ready line %q, want socket %s and pid %d", line, want, cmd.Process.Pid)
		}
	case <-p.exited:
		t.Fatalf("daemon exited before it was ready: %v\n%s", p.err, p.stderr.String())
	case <-time.After(waitDaemon):
		t.Fatalf("daemon not ready:\n%s", p.stderr.String())
	}
	return p
}

// waitExit waits for the daemon to exit.
func (p *daemonProcess) waitExit(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(waitDaemon):
		t.Fatalf("daemon did not exit:\n%s", p.stderr.String())
	}
}

// runCmd runs bin with args and home and returns its exit status and output.
func runCmd(t *testing.T, bin, home string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "EC2GRID_HOME="+home, "EC2GRID_SOCKET=")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return 0, string(out)
}

// The commands end to end: daemon, status, a second daemon refused, stop.
func TestDaemonStatusStop(t *testing.T) {
	bin := buildBinary(t)
	home := shortHome(t)
	if code, out := runCmd(t, bin, home, "status"); code != 1 || !strings.Contains(out, "not running") {
		t.Errorf("status with no daemon: %d %q", code, out)
	}
	if code, out := runCmd(t, bin, home, "stop"); code != 1 || !strings.Contains(out, "not running") {
		t.Errorf("stop with no daemon: %d %q", code, out)
	}
	d := startDaemon(t, bin, home)
	pid := d.cmd.Process.Pid
	code, out := runCmd(t, bin, home, "status")
	if code != 0 {
		t.Errorf("status: exit %d\n%s", code, out)
	}
	for _, want := range []string{"running", fmt.Sprintf("pid:     %d", pid), "home:    " + home, "socket:  " + filepath.Join(home, "daemon.sock"), "uptime:  ", "jobs:    0"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	// -home overrides EC2GRID_HOME.
	cmd := exec.Command(bin, "status", "-home", home)
	cmd.Env = append(os.Environ(), "EC2GRID_HOME=/nonexistent", "EC2GRID_SOCKET=")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), fmt.Sprint(pid)) {
		t.Errorf("status -home: %v\n%s", err, out)
	}
	code, out = runCmd(t, bin, home, "daemon")
	if code != 1 || !strings.Contains(out, fmt.Sprintf("already running (pid %d)", pid)) {
		t.Errorf("second daemon: exit %d %q", code, out)
	}
	code, out = runCmd(t, bin, home, "stop")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("(pid %d) stopped", pid)) {
		t.Errorf("stop: exit %d %q", code, out)
	}
	d.waitExit(t)
	if d.err != nil {
		t.Errorf("daemon exit after stop: %v\n%s", d.err, d.stderr.String())
	}
	if code, _ := runCmd(t, bin, home, "status"); code != 1 {
		t.Errorf("status after stop: exit %d", code)
	}
	// SIGTERM stops it cleanly too.
	d = startDaemon(t, bin, home)
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.waitExit(t)
	if d.err != nil {
		t.Errorf("daemon exit after SIGTERM: %v", d.err)
	}
	if _, err := os.Stat(filepath.Join(home, "daemon.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left after SIGTERM: %v", err)
	}
}

// crashSubmits is how many submits the crash test attempts (crashSubmitsLong with the
// long tag).
const crashSubmits = 1000

// crashWorkers submit concurrently, so submits race for cluster ids (409s) as well as
// meet crashes.
const crashWorkers = 4

// attempt is one submit of the crash test: its key and the sizes of its clusters.
type attempt struct {
	key   string
	sizes []int
}

// crashAd builds a job of attempt a: cluster idx of it, built for cluster built.
func crashAd(a attempt, idx int, built int64, logPath string) string {
	ad := classad.New()
	ad.SetString("Cmd", "crash-test")
	ad.SetString("Key", a.key)
	ad.SetInt("Idx", int64(idx))
	ad.SetInt("Procs", int64(a.sizes[idx]))
	ad.SetInt("Built", built)
	ad.SetString("UserLog", logPath)
	return ad.MarshalLong()
}

// submitAttempt submits a as condor_submit does: ask the next cluster id, build the ads
// for it, submit, and on a lost race rebuild for the id the daemon names.
func submitAttempt(ctx context.Context, c *api.Client, a attempt, logPath string) ([]api.SubmittedCluster, error) {
	next, err := c.NextCluster(ctx)
	if err != nil {
		return nil, err
	}
	for {
		req := &api.SubmitRequest{SubmitKey: a.key, ExpectCluster: next}
		for i, n := range a.sizes {
			var cl []string
			for range n {
				cl = append(cl, crashAd(a, i, next+int64(i), logPath))
			}
			req.Clusters = append(req.Clusters, cl)
		}
		resp, err := c.Submit(ctx, req)
		var ae *api.Error
		if errors.As(err, &ae) && ae.Code == api.CodeConflict {
			next = ae.NextCluster
			continue
		}
		if err != nil {
			return nil, err
		}
		return resp.Clusters, nil
	}
}

// TestDaemonCrash SIGKILLs a real daemon in the middle of concurrent submits, again and
// again, restarting it each time: every acknowledged submit must be there with all its
// jobs, no cluster partial, a retried unacknowledged submit never duplicated, every job
// built for the cluster it got, and each job's submit event in the user log once.
func TestDaemonCrash(t *testing.T) {
	total := crashSubmits
	if longTests {
		total = crashSubmitsLong
	}
	bin := buildBinary(t)
	home := shortHome(t)
	logPath := filepath.Join(filepath.Dir(home), "jobs.log")
	socket := filepath.Join(home, "daemon.sock")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	ctx := context.Background()

	acked := map[string][]api.SubmittedCluster{} // key -> clusters
	var sizes = map[string][]int{}
	var unacked []attempt
	attempted := 0
	hookRound := 1 // this round's daemon kills itself after its first submit commit
	rounds := 0
	for attempted < total || len(unacked) > 0 {
		rounds++
		var env []string
		if rounds == hookRound+1 {
			env = append(env, daemon.CrashEnv+"="+daemon.CrashAfterSubmitCommit)
		}
		d := startDaemon(t, bin, home, env...)
		c := api.NewClient(socket)

		// Retry what the last crash left unacknowledged: same key, so never twice.
		for _, a := range unacked {
			if len(env) > 0 {
				break // this daemon dies at its first commit; retry in the next round
			}
			got, err := submitAttempt(ctx, c, a, logPath)
			if err != nil {
				t.Fatalf("round %d: retry of %s: %v\n%s", rounds, a.key, err, d.stderr.String())
			}
			acked[a.key] = got
		}
		if len(env) == 0 {
			unacked = nil
		}

		var mu sync.Mutex
		var killed atomic.Bool
		killAfter := time.Duration(50+rng.IntN(700)) * time.Millisecond
		remaining := total - attempted
		var wg sync.WaitGroup
		var next atomic.Int64
		var failures []error
		for range crashWorkers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1)
					if i > int64(remaining) {
						return
					}
					mu.Lock()
					a := attempt{key: uuid.NewString()}
					for range 1 + rng.IntN(2) {
						a.sizes = append(a.sizes, 1+rng.IntN(5))
					}
					sizes[a.key] = a.sizes
					attempted++
					mu.Unlock()
					got, err := submitAttempt(ctx, c, a, logPath)
					mu.Lock()
					if err != nil {
						unacked = append(unacked, a)
						failures = append(failures, err)
						mu.Unlock()
						return // the daemon is gone; the round ends
					}
					acked[a.key] = got
					mu.Unlock()
				}
			}()
		}
		// Kill at a random moment, unless the crash hook does it.
		stopKiller := make(chan struct{})
		if len(env) == 0 {
			go func() {
				select {
				case <-time.After(killAfter):
					killed.Store(true)
					d.cmd.Process.Signal(syscall.SIGKILL)
				case <-stopKiller:
				}
			}()
		} else {
			killed.Store(true)
		}
		wg.Wait()
		close(stopKiller)
		c.Close()
		if len(failures) > 0 && !killed.Load() {
			t.Fatalf("round %d: submits failed with no crash: %v\n%s", rounds, failures, d.stderr.String())
		}
		if !killed.Load() {
			// All attempted: stop cleanly for the final check.
			if code, out := runCmd(t, bin, home, "stop"); code != 0 {
				t.Fatalf("stop: %d %s", code, out)
			}
		} else {
			d.cmd.Process.Signal(syscall.SIGKILL)
		}
		d.waitExit(t)
		if rounds == hookRound+1 && (d.err == nil || !strings.Contains(d.err.Error(), "killed")) {
			t.Errorf("the crash hook did not kill the daemon: %v", d.err)
		}
		if rounds > 10*total {
			t.Fatal("no progress")
		}
	}

	// The final check, on a restarted daemon.
	startDaemon(t, bin, home)
	c := api.NewClient(socket)
	defer c.Close()
	all, err := c.Query(ctx, &api.QueryRequest{Projection: []string{"Key", "Idx", "Procs", "Built"}})
	if err != nil {
		t.Fatal(err)
	}
	type clusterInfo struct {
		key        string
		idx, procs int64
		n          int64
	}
	clusters := map[int64]*clusterInfo{}
	for _, ad := range all {
		cl, _ := ad.EvalAttr("ClusterId").IntValue()
		built, _ := ad.EvalAttr("Built").IntValue()
		if built != cl {
			t.Errorf("job %d.%s was built for cluster %d", cl, ad.EvalAttr("ProcId"), built)
		}
		ci := clusters[cl]
		if ci == nil {
			key, _ := ad.EvalAttr("Key").StringValue()
			idx, _ := ad.EvalAttr("Idx").IntValue()
			procs, _ := ad.EvalAttr("Procs").IntValue()
			ci = &clusterInfo{key: key, idx: idx, procs: procs}
			clusters[cl] = ci
		}
		ci.n++
	}
	byKey := map[string]map[int64]int64{} // key -> idx -> cluster
	for cl, ci := range clusters {
		if ci.n != ci.procs {
			t.Errorf("cluster %d is partial: %d of %d jobs", cl, ci.n, ci.procs)
		}
		if byKey[ci.key] == nil {
			byKey[ci.key] = map[int64]int64{}
		}
		if other, dup := byKey[ci.key][ci.idx]; dup {
			t.Errorf("submit %s cluster %d made twice: %d and %d", ci.key, ci.idx, other, cl)
		}
		byKey[ci.key][ci.idx] = cl
	}
	if len(acked) != attempted {
		t.Errorf("%d submits acknowledged of %d attempted", len(acked), attempted)
	}
	wantJobs := 0
	for key, got := range acked {
		if len(got) != len(sizes[key]) {
			t.Errorf("submit %s: %d clusters acknowledged, sent %d", key, len(got), len(sizes[key]))
			continue
		}
		for i, sc := range got {
			wantJobs += sizes[key][i]
			if sc.Procs != sizes[key][i] || byKey[key][int64(i)] != sc.Cluster {
				t.Errorf("submit %s cluster %d: acknowledged %+v, queue has cluster %d", key, i, sc, byKey[key][int64(i)])
			}
		}
	}
	if len(all) != wantJobs {
		t.Errorf("%d jobs queued, the acknowledged submits made %d", len(all), wantJobs)
	}
	// Each queued job's 000 event is in the log exactly once.
	events := map[string]int{}
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := userlog.NewReader(f, userlog.ReaderOptions{})
	for {
		ev, err := r.Next()
		if errors.Is(err, userlog.ErrNoEvent) {
			break
		}
		if err != nil {
			t.Fatalf("user log: %v", err)
		}
		h := ev.EventHeader()
		events[fmt.Sprintf("%d.%d", h.Cluster, h.Proc)]++
	}
	for _, ad := range all {
		id := fmt.Sprintf("%s.%s", ad.EvalAttr("ClusterId"), ad.EvalAttr("ProcId"))
		if events[id] != 1 {
			t.Errorf("job %s has %d submit events", id, events[id])
		}
	}
	if len(events) != len(all) {
		t.Errorf("%d jobs have submit events, %d are queued", len(events), len(all))
	}
	t.Logf("%d submits (%d jobs) over %d daemon runs, %d SIGKILLs", attempted, wantJobs, rounds, rounds-1)
}
