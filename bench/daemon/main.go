// Command daemon measures `ec2grid daemon` against the targets: a 100,000-job
// cluster submitted through the daemon's socket (durable jobs/s), a condor_q -constraint
// over those 100,000 jobs through the socket (ms, end to end: request, match, stream,
// parse), and the daemon process's resident memory holding them (VmRSS, MiB). It runs
// the real binary (make build first) in a temporary EC2GRID_HOME and prints one line per
// figure. See bench/RESULTS.md.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ec2grid/ec2grid/api"
	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/internal/benchjob"
	"github.com/ec2grid/ec2grid/submit"
)

// tableProjection is what condor_q's table views ask for (cmd/internal/qfmt's
// tableAttrs, which this program cannot import).
func tableProjection() []string {
	return []string{
		"ClusterId", "ProcId", "Owner", "JobStatus", "ServerTime",
		"QDate", "JobBatchName", "JobPrio", "JobUniverse",
		"Cmd", "Args", "Arguments", "JobDescription",
		"RemoteWallClockTime", "ShadowBday", "MemoryUsage", "ImageSize", "RemoteHost",
		"EnteredCurrentStatus", "HoldReason", "HoldReasonCode", "HoldReasonSubCode",
		"GridResource", "GridJobId", "GridJobStatus", "EC2RemoteVirtualMachineName",
		"CompletionDate",
	}
}

// settle is the pause after a restart before reading the daemon's RSS.
const settle = 2 * time.Second

// readyTimeout bounds the wait for the daemon to start (or restart with a full queue).
const readyTimeout = 2 * time.Minute

func main() {
	bin := flag.String("bin", "bin/ec2grid", "the ec2grid binary (make build)")
	n := flag.Int("n", 100_000, "jobs in the cluster")
	queries := flag.Int("queries", 5, "how many times to run each query")
	small := flag.Bool("small", false, "submit the 20-attribute ads of jobs/bench_test.go instead of condor_submit's 47-attribute ones")
	whole := flag.Bool("whole", false, "send every ad whole instead of as condor_submit does (the cluster's common attributes once, then each job's own)")
	flag.Parse()
	if err := run(*bin, *n, *queries, *small, *whole); err != nil {
		fmt.Fprintln(os.Stderr, "bench/daemon:", err)
		os.Exit(1)
	}
}

func run(bin string, n, queries int, small, whole bool) error {
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%w (run make build, or pass -bin)", err)
	}
	base, err := os.MkdirTemp("", "ecgb")
	if err != nil {
		return err
	}
	defer os.RemoveAll(base)
	home := filepath.Join(base, "home")
	defer func() {
		// The daemon's own account of its memory, for the record.
		b, _ := os.ReadFile(filepath.Join(home, "log", "daemon.log"))
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "memory after") {
				fmt.Println("daemon log:", line)
			}
		}
	}()
	ctx := context.Background()

	ads, err := buildAds(base, n)
	if small {
		ads = smallAds(n)
	}
	if err != nil {
		return err
	}
	req := &api.SubmitRequest{SubmitKey: uuid.NewString()}
	wholeBytes := 0
	texts := make([]string, len(ads))
	for i, ad := range ads {
		texts[i] = ad.MarshalLong()
		wholeBytes += len(texts[i])
	}
	if whole {
		req.Clusters = [][]string{texts}
	} else {
		req.AddCluster(ads)
	}
	sent := 0
	for _, c := range req.Common {
		sent += len(c)
	}
	for _, t := range req.Clusters[0] {
		sent += len(t)
	}
	fmt.Printf("cluster: %d jobs, %d attributes each, %.1f MiB of long-form ads, %.1f MiB sent (whole=%v)\n",
		n, ads[0].Len(), float64(wholeBytes)/(1<<20), float64(sent)/(1<<20), whole)
	texts, ads = nil, nil

	d, err := startDaemon(bin, home)
	if err != nil {
		return err
	}
	defer d.stop()
	c := api.NewClient(filepath.Join(home, "daemon.sock"))
	defer c.Close()

	next, err := c.NextCluster(ctx)
	if err != nil {
		return err
	}
	t0 := time.Now()
	req.ExpectCluster = next
	resp, err := c.Submit(ctx, req)
	if err != nil {
		return err
	}
	took := time.Since(t0)
	if resp.Clusters[0].Procs != n {
		return fmt.Errorf("submitted %d jobs, want %d", resp.Clusters[0].Procs, n)
	}
	fmt.Printf("submit: %d jobs in %.2f s = %.0f jobs/s (durable, acknowledged)\n", n, took.Seconds(), float64(n)/took.Seconds())
	req = nil
	// The daemon hands a large submit's memory back in the background; wait for its log
	// line saying it did.
	for deadline := time.Now().Add(readyTimeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if b, _ := os.ReadFile(filepath.Join(home, "log", "daemon.log")); strings.Contains(string(b), "memory after a large submit") {
			break
		}
	}
	rss, err := vmRSS(d.cmd.Process.Pid)
	if err != nil {
		return err
	}
	fmt.Printf("rss: %.0f MiB holding the %d jobs after the submit\n", float64(rss)/1024, n)

	if err := runQueries(ctx, c, n, queries); err != nil {
		return err
	}
	if rss, err = vmRSS(d.cmd.Process.Pid); err != nil {
		return err
	}
	fmt.Printf("rss: %.0f MiB after the queries\n", float64(rss)/1024)

	// A restart loads the queue from disk: the daemon's steady state holding n jobs.
	if err := d.stop(); err != nil {
		return err
	}
	t0 = time.Now()
	if d, err = startDaemon(bin, home); err != nil {
		return err
	}
	defer d.stop()
	fmt.Printf("restart: ready with %d jobs in %.2f s\n", n, time.Since(t0).Seconds())
	time.Sleep(settle)
	if rss, err = vmRSS(d.cmd.Process.Pid); err != nil {
		return err
	}
	fmt.Printf("rss: %.0f MiB holding the %d jobs after a restart\n", float64(rss)/1024, n)
	if err := runQueries(ctx, c, n, queries); err != nil {
		return err
	}
	if rss, err = vmRSS(d.cmd.Process.Pid); err != nil {
		return err
	}
	fmt.Printf("rss: %.0f MiB after the queries\n", float64(rss)/1024)
	return nil
}

// buildAds runs the submit file through the submit package, as condor_submit does.
func buildAds(dir string, n int) ([]*classad.ClassAd, error) {
	f, err := submit.Parse("bench.sub", strings.NewReader(benchjob.SubmitFile(n)))
	if err != nil {
		return nil, err
	}
	root := filepath.Join(dir, "root")
	if err := benchjob.WriteKeyFiles(root); err != nil {
		return nil, err
	}
	sub, err := f.Jobs(submit.Options{Owner: benchjob.Owner, Dir: benchjob.Dir, Root: root, MaxJobs: n,
		Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		return nil, err
	}
	var ads []*classad.ClassAd
	for _, cl := range sub.Clusters {
		ads = append(ads, cl.Jobs...)
	}
	return ads, nil
}

// smallAds are the jobs package benchmark's ads (jobs/bench_test.go): 20 attributes.
func smallAds(n int) []*classad.ClassAd {
	out := make([]*classad.ClassAd, n)
	for i := range out {
		ad := classad.New()
		ad.SetString("Owner", "alice")
		ad.SetInt("JobStatus", 1)
		ad.SetString("Cmd", "/bin/true")
		ad.SetInt("Index", int64(i))
		ad.SetInt("JobUniverse", 9)
		ad.SetString("GridResource", "ec2 https://ec2.us-east-1.amazonaws.com/")
		ad.SetString("EC2AmiID", "ami-0123456789abcdef0")
		ad.SetString("EC2InstanceType", "m5.large")
		ad.SetString("EC2KeyPairFile", fmt.Sprintf("/home/alice/keys/%d.pem", i))
		ad.SetString("EC2AccessKeyId", "/home/alice/.aws/id")
		ad.SetString("EC2SecretAccessKey", "/home/alice/.aws/secret")
		ad.SetInt("QDate", 1700000000)
		ad.SetInt("EnteredCurrentStatus", 1700000000)
		ad.SetExpr("PeriodicHold", "false")
		ad.SetExpr("PeriodicRemove", "false")
		ad.SetExpr("OnExitRemove", "true")
		ad.SetString("Iwd", "/home/alice")
		out[i] = ad
	}
	return out
}

// runQueries times condor_q -constraint through the socket: the default view's
// projection, a constraint matching 1% of the jobs and one matching all of them.
func runQueries(ctx context.Context, c *api.Client, n, times int) error {
	// The daemon sets Owner to the caller, this program's user.
	me, err := user.Current()
	if err != nil {
		return err
	}
	owner := strconv.Quote(me.Username)
	for _, q := range []struct {
		name, constraint string
		want             int
	}{
		{"1% match", `Owner == ` + owner + ` && JobStatus == 1 && ProcId % 100 == 7`, n / 100},
		{"all match", `Owner == ` + owner + ` && JobStatus == 1`, n},
	} {
		best, worst := time.Duration(1<<62), time.Duration(0)
		for range times {
			t0 := time.Now()
			ads, err := c.Query(ctx, &api.QueryRequest{Constraint: q.constraint, Projection: tableProjection()})
			took := time.Since(t0)
			if err != nil {
				return err
			}
			if len(ads) != q.want {
				return fmt.Errorf("query %s: %d ads, want %d", q.constraint, len(ads), q.want)
			}
			best, worst = min(best, took), max(worst, took)
		}
		fmt.Printf("query (%s, condor_q batch projection): %d ads in %d-%d ms over %d runs\n", q.name, q.want, best.Milliseconds(), worst.Milliseconds(), times)
	}
	// The whole ads (condor_q -long), matching all.
	t0 := time.Now()
	ads, err := c.Query(ctx, &api.QueryRequest{Constraint: `Owner == ` + owner})
	if err != nil {
		return err
	}
	fmt.Printf("query (all match, whole ads as -long): %d ads in %d ms\n", len(ads), time.Since(t0).Milliseconds())
	return nil
}

// daemonProc is a started daemon.
type daemonProc struct {
	cmd  *exec.Cmd
	done chan error
}

func startDaemon(bin, home string) (*daemonProc, error) {
	cmd := exec.Command(bin, "daemon")
	cmd.Env = append(os.Environ(), "EC2GRID_HOME="+home, "EC2GRID_SOCKET=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &daemonProc{cmd: cmd, done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				close(ready)
			}
		}
		io.Copy(io.Discard, stderr)
		d.done <- cmd.Wait()
	}()
	select {
	case <-ready:
		return d, nil
	case err := <-d.done:
		return nil, fmt.Errorf("daemon exited: %v", err)
	case <-time.After(readyTimeout):
		cmd.Process.Kill()
		return nil, fmt.Errorf("daemon not ready after %s", readyTimeout)
	}
}

// stop ends the daemon with SIGTERM and waits.
func (d *daemonProc) stop() error {
	if d.cmd.ProcessState != nil {
		return nil
	}
	d.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-d.done:
		d.done <- err
		return err
	case <-time.After(readyTimeout):
		d.cmd.Process.Kill()
		return fmt.Errorf("daemon did not stop")
	}
}

// vmRSS reads a process's resident set size in KiB from /proc.
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err != nil {
				return 0, fmt.Errorf("VmRSS line %q: %v", line, err)
			}
			return kb, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
