// Command gridmanager measures the whole system (condor_submit → daemon → grid manager →
// ec2_gahp → cloud) against issue 7's targets, with the real binaries (make build first)
// against `ec2grid cloud` with no injected latency:
//
//   - throughput: one condor_submit of N jobs (default 10,000) until every job runs, then
//     condor_rm -all until every instance is terminated and the queue is empty: wall time
//     and the cloud's API calls for each;
//   - latency: L jobs (default 1,000) submitted one condor_submit at a time, each timed
//     from the moment condor_submit is started to the moment its RunInstances reaches the
//     cloud; then each removed by its own condor_rm, timed to its TerminateInstances: p50,
//     p99 and max. A recording proxy between ec2_gahp and the cloud sees the calls arrive;
//   - scale (-scale, `make scale`: -n 100000 -l 0): once all N jobs run, the steady state
//     with N instances at the cloud: the time of one probe pass (ec2_gahp's EC2_VM_STATUS_ALL,
//     from its log at D_FULLDEBUG), the cloud calls over a window of passes, condor_q's time
//     (the default view of every job, and one -constraint), and the daemon's VmRSS and
//     VmHWM (peak) from /proc.
//
// -aws-limits runs the cloud with its AWS-like throttling (`--fault-throttle-profile
// aws-limits`: RunInstances 2/s with a burst of 5, other writes 5/s, reads 20/s), to set
// beside HTCondor's limits.
//
// Usage: go run ./bench/gridmanager [-bin DIR] [-n 10000] [-l 1000] [-scale] [-aws-limits].
// See bench/RESULTS.md.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ec2grid/ec2grid/api"
)

// Bounds and paces. The bounds only stop a broken run; they are far above any healthy one.
const (
	readyTimeout = time.Minute      // the cloud and the daemon starting
	phaseTimeout = 30 * time.Minute // one phase (all running, all terminated)
	pollInterval = 200 * time.Millisecond
	// probeInterval is GRIDMANAGER_JOB_PROBE_INTERVAL for the run, in seconds: the
	// status pass that turns a started instance into a running job. The default (60 s)
	// would measure the probe interval, not the system; the early probe after starts
	// comes about a second later either way.
	probeInterval = "1"
	// steadyWindow is how long -scale watches the steady state (all jobs running): long
	// enough for several probe passes, which take seconds each with 100,000 instances.
	steadyWindow = 30 * time.Second
)

func main() {
	bin := flag.String("bin", "bin", "the directory of the built binaries (make build)")
	n := flag.Int("n", 10_000, "jobs in the throughput run")
	l := flag.Int("l", 1000, "jobs in the latency run")
	scale := flag.Bool("scale", false, "measure the steady state of the throughput run (probe pass, condor_q, memory)")
	awsLimits := flag.Bool("aws-limits", false, "throttle the cloud as EC2 does (its aws-limits fault profile)")
	flag.Parse()
	var cloudArgs []string
	if *awsLimits {
		cloudArgs = append(cloudArgs, "--fault-throttle-profile", "aws-limits")
	}
	if err := run(*bin, *n, *l, *scale, cloudArgs); err != nil {
		fmt.Fprintln(os.Stderr, "bench/gridmanager:", err)
		os.Exit(1)
	}
}

func run(bin string, n, l int, scale bool, cloudArgs []string) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	for _, b := range []string{"ec2grid", "ec2_gahp", "condor_submit", "condor_rm", "condor_q"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return fmt.Errorf("%w (run make build, or pass -bin)", err)
		}
	}
	base, err := os.MkdirTemp("", "ecgm")
	if err != nil {
		return err
	}
	defer os.RemoveAll(base)
	// Instance processes may run as another user when this runs as root.
	if err := os.Chmod(base, 0o711); err != nil {
		return err
	}
	ctx := context.Background()

	cl, err := startCloud(bin, filepath.Join(base, "cloud"), cloudArgs...)
	if err != nil {
		return err
	}
	defer cl.stop()
	px, err := startProxy(cl.url)
	if err != nil {
		return err
	}
	defer px.close()

	home := filepath.Join(base, "home")
	// Every job of the throughput run holds a submit slot while it runs; the default of
	// 1,000 per resource would cap the run at 1,000 instances.
	env := []string{"EC2GRID_GRIDMANAGER_MAX_SUBMITTED_JOBS_PER_RESOURCE=" + strconv.Itoa(max(n, l))}
	if scale {
		// Every call logged with its time: the probe pass is read from the log.
		env = append(env, "EC2GRID_EC2_GAHP_DEBUG=D_FULLDEBUG")
	}
	d, err := startDaemon(bin, home, env...)
	if err != nil {
		return err
	}
	defer d.stop()
	u := &user{bin: bin, dir: filepath.Join(base, "user"), home: home, c: api.NewClient(filepath.Join(home, "daemon.sock"))}
	defer u.c.Close()
	if err := os.Mkdir(u.dir, 0o755); err != nil {
		return err
	}
	fmt.Printf("cloud %s (aws flavor, no injected latency, boot delay 0, %q), probe interval %s s\n", cl.url, cloudArgs, probeInterval)

	if n > 0 {
		var steady func() error
		if scale {
			steady = func() error { return steadyState(u, cl, d, n) }
		}
		if err := throughput(ctx, u, cl, n, steady); err != nil {
			return err
		}
		rss, _ := vmStatus(d.cmd.Process.Pid, "VmRSS")
		hwm, _ := vmStatus(d.cmd.Process.Pid, "VmHWM")
		fmt.Printf("daemon rss after the throughput run: %.0f MiB (peak %.0f MiB)\n", float64(rss)/1024, float64(hwm)/1024)
	}
	if l > 0 {
		if err := latency(ctx, u, cl, px, l); err != nil {
			return err
		}
	}
	return nil
}

// ---- the phases ----

// throughput submits n jobs, waits for all running, runs steady (if not nil), then
// removes them all.
func throughput(ctx context.Context, u *user, cl *cloud, n int, steady func() error) error {
	sub, err := u.submitFile("many.sub", cl.url, n)
	if err != nil {
		return err
	}
	if err := cl.resetStats(); err != nil {
		return err
	}
	t0 := time.Now()
	if _, err := u.submit(sub); err != nil {
		return err
	}
	tSubmitted := time.Since(t0)
	if err := waitUntil(func() (bool, error) {
		k, err := u.count(ctx, "JobStatus == 2")
		return k == n, err
	}); err != nil {
		return fmt.Errorf("waiting for %d running jobs: %w", n, err)
	}
	tRunning := time.Since(t0)
	st, err := cl.stats()
	if err != nil {
		return err
	}
	fmt.Printf("throughput: submit of %d jobs acknowledged in %.2f s; all running after %.2f s (%.0f jobs/s)\n",
		n, tSubmitted.Seconds(), tRunning.Seconds(), float64(n)/tRunning.Seconds())
	fmt.Printf("  cloud calls to all running: %s\n", st.calls())
	if steady != nil {
		if err := steady(); err != nil {
			return err
		}
	}

	if err := cl.resetStats(); err != nil {
		return err
	}
	t1 := time.Now()
	if err := u.cmd("condor_rm", "-all"); err != nil {
		// The daemon may go on with the removal after the command gave up waiting (its
		// one-minute bound): report the failure, then see whether the jobs go anyway.
		fmt.Printf("throughput: condor_rm -all failed after %.2f s: %v\n", time.Since(t1).Seconds(), err)
	}
	if err := waitUntil(func() (bool, error) {
		st, err := cl.stats()
		if err != nil || st.Instances["terminated"] < n {
			return false, err
		}
		k, err := u.count(ctx, "true")
		return k == 0, err
	}); err != nil {
		return fmt.Errorf("waiting for %d terminated instances and an empty queue: %w", n, err)
	}
	tGone := time.Since(t1)
	st, err = cl.stats()
	if err != nil {
		return err
	}
	fmt.Printf("throughput: condor_rm -all of %d jobs: all terminated and gone after %.2f s (%.0f jobs/s)\n",
		n, tGone.Seconds(), float64(n)/tGone.Seconds())
	fmt.Printf("  cloud calls to all terminated: %s\n", st.calls())
	return nil
}

func latency(ctx context.Context, u *user, cl *cloud, px *proxy, l int) error {
	sub, err := u.submitFile("one.sub", px.url, 1)
	if err != nil {
		return err
	}
	submitted := map[int]time.Time{} // cluster → when condor_submit was started
	for range l {
		t := time.Now()
		c, err := u.submit(sub)
		if err != nil {
			return err
		}
		submitted[c] = t
	}
	if err := waitUntil(func() (bool, error) {
		k, err := u.count(ctx, fmt.Sprintf("JobStatus == 2 && GridResource == \"ec2 %s\"", px.url))
		return k == l, err
	}); err != nil {
		return fmt.Errorf("waiting for %d running jobs: %w", l, err)
	}
	ads, err := u.c.Query(ctx, &api.QueryRequest{Constraint: fmt.Sprintf("GridResource == \"ec2 %s\"", px.url),
		Projection: []string{"EC2InstanceName", "GlobalJobId"}})
	if err != nil {
		return err
	}
	instanceOf := map[int]string{}
	for _, a := range ads {
		c, _ := a.EvalAttr("ClusterId").IntValue()
		iid, _ := a.EvalAttr("EC2InstanceName").StringValue()
		instanceOf[int(c)] = iid
	}
	removed := map[int]time.Time{}
	for c := range submitted {
		t := time.Now()
		if err := u.cmd("condor_rm", strconv.Itoa(c)); err != nil {
			return err
		}
		removed[c] = t
	}
	if err := waitUntil(func() (bool, error) {
		k, err := u.count(ctx, fmt.Sprintf("GridResource == \"ec2 %s\"", px.url))
		return k == 0, err
	}); err != nil {
		return fmt.Errorf("waiting for the removed jobs to leave: %w", err)
	}

	var starts, stops []time.Duration
	for c, t := range submitted {
		at, ok := px.startOf(c)
		if !ok {
			return fmt.Errorf("cluster %d: no RunInstances seen", c)
		}
		starts = append(starts, at.Sub(t))
		at, ok = px.stopOf(instanceOf[c])
		if !ok {
			return fmt.Errorf("cluster %d: no TerminateInstances for %s seen", c, instanceOf[c])
		}
		stops = append(stops, at.Sub(removed[c]))
	}
	fmt.Printf("latency over %d jobs, one command each (from the command's start to the call reaching the cloud):\n", l)
	fmt.Printf("  condor_submit → RunInstances:    %s\n", percentiles(starts))
	fmt.Printf("  condor_rm → TerminateInstances:  %s\n", percentiles(stops))
	return nil
}

func percentiles(ds []time.Duration) string {
	slices.Sort(ds)
	p := func(q float64) time.Duration { return ds[int(q*float64(len(ds)-1))] }
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	return fmt.Sprintf("p50 %s, p99 %s, max %s", ms(p(0.50)), ms(p(0.99)), ms(ds[len(ds)-1]))
}

// waitUntil polls cond until it holds, an error, or phaseTimeout.
func waitUntil(cond func() (bool, error)) error {
	deadline := time.Now().Add(phaseTimeout)
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", phaseTimeout)
		}
		time.Sleep(pollInterval)
	}
}

// ---- the user: submit files and commands ----

type user struct {
	bin, dir, home string
	c              *api.Client
}

func (u *user) env() []string { return append(os.Environ(), "EC2GRID_HOME="+u.home) }

// submitFile writes the README's job (no user data, so each instance runs until it is
// terminated), queued n times, pointed at url with the demo account's key files.
func (u *user) submitFile(name, url string, n int) (string, error) {
	creds := filepath.Join(filepath.Dir(u.dir), "cloud", "credentials", "demo")
	src := fmt.Sprintf(`universe = grid
grid_resource = ec2 %s
executable = ec2-bench
ec2_access_key_id = %s
ec2_secret_access_key = %s
ec2_ami_id = ami-0123456789abcdef0
ec2_instance_type = m5.large
queue %d
`, url, filepath.Join(creds, "AccessKeyID"), filepath.Join(creds, "SecretAccessKey"), n)
	p := filepath.Join(u.dir, name)
	return p, os.WriteFile(p, []byte(src), 0o644)
}

// submit runs condor_submit and returns the cluster.
func (u *user) submit(file string) (int, error) {
	cmd := exec.Command(filepath.Join(u.bin, "condor_submit"), file)
	cmd.Dir, cmd.Env = u.dir, u.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("condor_submit: %w\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		var n, c int
		if _, err := fmt.Sscanf(line, "%d job(s) submitted to cluster %d.", &n, &c); err == nil {
			return c, nil
		}
	}
	return 0, fmt.Errorf("condor_submit: no cluster in %q", out)
}

// output runs a command and returns its standard output.
func (u *user) output(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(u.bin, name), args...)
	cmd.Dir, cmd.Env = u.dir, u.env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %v: %w\n%s", name, args, err, stderr.Bytes())
	}
	return out, nil
}

func (u *user) cmd(name string, args ...string) error {
	cmd := exec.Command(filepath.Join(u.bin, name), args...)
	cmd.Dir, cmd.Env = u.dir, u.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %v: %w\n%s", name, args, err, out)
	}
	return nil
}

// count is how many queued jobs match the constraint.
func (u *user) count(ctx context.Context, constraint string) (int, error) {
	ads, err := u.c.Query(ctx, &api.QueryRequest{Constraint: constraint, Projection: []string{"JobStatus"}})
	return len(ads), err
}

// ---- the cloud ----

type cloud struct {
	cmd *exec.Cmd
	url string
}

func startCloud(bin, state string, extra ...string) (*cloud, error) {
	args := append([]string{"cloud", "--state", state, "--boot-delay", "0s", "--log-level", "warn"}, extra...)
	cmd := exec.Command(filepath.Join(bin, "ec2grid"), args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	urls := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		urls <- strings.TrimSpace(line)
		io.Copy(io.Discard, out)
	}()
	select {
	case u := <-urls:
		if u == "" {
			cmd.Process.Kill()
			return nil, errors.New("ec2grid cloud printed no URL")
		}
		return &cloud{cmd: cmd, url: u}, nil
	case <-time.After(readyTimeout):
		cmd.Process.Kill()
		return nil, errors.New("ec2grid cloud did not start")
	}
}

func (c *cloud) stop() {
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.cmd.Wait()
}

// cloudStats is /_admin/stats.
type cloudStats struct {
	Actions   map[string]struct{ Calls, Throttled int } `json:"actions"`
	Instances map[string]int                            `json:"instances"`
}

func (s cloudStats) calls() string {
	var names []string
	total, throttled := 0, 0
	for a, v := range s.Actions {
		if v.Calls > 0 {
			names = append(names, fmt.Sprintf("%s %d", a, v.Calls))
			total += v.Calls
			throttled += v.Throttled
		}
	}
	slices.Sort(names)
	if throttled > 0 {
		// Throttled calls are among the calls: answered RequestLimitExceeded, not acted on.
		return fmt.Sprintf("%d (%s; %d of them throttled)", total, strings.Join(names, ", "), throttled)
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(names, ", "))
}

func (c *cloud) stats() (cloudStats, error) {
	var s cloudStats
	resp, err := http.Get(strings.TrimSuffix(c.url, "/") + "/_admin/stats")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

func (c *cloud) resetStats() error {
	req, _ := http.NewRequest(http.MethodDelete, strings.TrimSuffix(c.url, "/")+"/_admin/stats", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// ---- the recording proxy ----

// proxy forwards every request to the cloud unchanged (the Host header included, which
// the request's signature covers) and records when each job's RunInstances (by its
// ec2grid:job tag) and each instance's TerminateInstances first arrive.
type proxy struct {
	url    string
	srv    *http.Server
	mu     sync.Mutex
	starts map[int]time.Time    // cluster → first RunInstances
	stops  map[string]time.Time // instance id → first TerminateInstances
}

func startProxy(target string) (*proxy, error) {
	tu, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{url: "http://" + ln.Addr().String() + "/", starts: map[int]time.Time{}, stops: map[string]time.Time{}}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(tu)
		r.Out.Host = r.In.Host
	}}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		p.record(now, body)
		rp.ServeHTTP(w, r)
	})}
	go p.srv.Serve(ln)
	return p, nil
}

func (p *proxy) record(at time.Time, body []byte) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch form.Get("Action") {
	case "RunInstances":
		// The ec2grid:job tag's value is the GlobalJobId, "<schedd>#<cluster>.<proc>#<qdate>".
		for k, v := range form {
			if strings.HasSuffix(k, ".Key") && len(v) == 1 && v[0] == "ec2grid:job" {
				gid := form.Get(strings.TrimSuffix(k, ".Key") + ".Value")
				parts := strings.Split(gid, "#")
				if len(parts) < 2 {
					continue
				}
				c, err := strconv.Atoi(strings.SplitN(parts[1], ".", 2)[0])
				if _, seen := p.starts[c]; err == nil && !seen {
					p.starts[c] = at
				}
			}
		}
	case "TerminateInstances":
		for k, v := range form {
			if strings.HasPrefix(k, "InstanceId.") && len(v) == 1 {
				if _, seen := p.stops[v[0]]; !seen {
					p.stops[v[0]] = at
				}
			}
		}
	}
}

func (p *proxy) startOf(cluster int) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.starts[cluster]
	return t, ok
}

func (p *proxy) stopOf(instance string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.stops[instance]
	return t, ok
}

func (p *proxy) close() { p.srv.Close() }

// ---- the daemon ----

type daemonProc struct{ cmd *exec.Cmd }

func startDaemon(bin, home string, env ...string) (*daemonProc, error) {
	cmd := exec.Command(filepath.Join(bin, "ec2grid"), "daemon")
	cmd.Env = append(os.Environ(), "EC2GRID_HOME="+home, "EC2GRID_SOCKET=",
		"EC2GRID_GRIDMANAGER_JOB_PROBE_INTERVAL="+probeInterval)
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &daemonProc{cmd: cmd}
	c := api.NewClient(filepath.Join(home, "daemon.sock"))
	defer c.Close()
	deadline := time.Now().Add(readyTimeout)
	for {
		if _, err := c.Ping(context.Background()); err == nil {
			return d, nil
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, fmt.Errorf("the daemon did not start: %s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *daemonProc) stop() {
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.cmd.Wait()
}

// vmStatus is one of a process's memory figures in /proc/PID/status (VmRSS, the resident
// set; VmHWM, its peak), in KiB.
func vmStatus(pid int, field string) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// ---- the steady state (-scale) ----

// steadyState measures the system holding n running jobs: the probe passes and the cloud
// calls over steadyWindow, then condor_q's time, then the daemon's memory.
func steadyState(u *user, cl *cloud, d *daemonProc, n int) error {
	gahpLog := filepath.Join(u.home, "log", "EC2GahpLog")
	before, err := os.Stat(gahpLog)
	if err != nil {
		return fmt.Errorf("ec2_gahp's log: %w", err)
	}
	if err := cl.resetStats(); err != nil {
		return err
	}
	time.Sleep(steadyWindow)
	st, err := cl.stats()
	if err != nil {
		return err
	}
	f, err := os.Open(gahpLog)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(before.Size(), io.SeekStart); err != nil {
		return err
	}
	passes, err := statusAllTimes(f)
	if err != nil {
		return err
	}
	if len(passes) == 0 {
		return fmt.Errorf("no EC2_VM_STATUS_ALL in %s within %v", gahpLog, steadyWindow)
	}
	slices.Sort(passes)
	fmt.Printf("scale: %d running jobs; over %v: %d probe passes (EC2_VM_STATUS_ALL), median %.2f s, max %.2f s\n",
		n, steadyWindow, len(passes), passes[len(passes)/2].Seconds(), passes[len(passes)-1].Seconds())
	fmt.Printf("  cloud calls over %v: %s\n", steadyWindow, st.calls())

	for _, q := range [][]string{nil, {"-constraint", fmt.Sprintf("ProcId == %d", n/2)}} {
		t0 := time.Now()
		out, err := u.output("condor_q", q...)
		if err != nil {
			return err
		}
		fmt.Printf("  condor_q %s: %.2f s, %d lines of output\n", strings.Join(q, " "), time.Since(t0).Seconds(), bytes.Count(out, []byte("\n")))
	}
	rss, err1 := vmStatus(d.cmd.Process.Pid, "VmRSS")
	hwm, err2 := vmStatus(d.cmd.Process.Pid, "VmHWM")
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	fmt.Printf("  daemon memory with %d running jobs: VmRSS %.0f MiB, VmHWM (peak so far) %.0f MiB\n", n, float64(rss)/1024, float64(hwm)/1024)
	return nil
}

// statusAllLine matches ec2_gahp's debug line for a finished EC2_VM_STATUS_ALL (zap's
// console encoding: the fields as JSON after the message).
var statusAllLine = regexp.MustCompile(`command done.*"command": "EC2_VM_STATUS_ALL".*"took": "([^"]+)"`)

// statusAllTimes reads the times of the EC2_VM_STATUS_ALL calls in an ec2_gahp log.
func statusAllTimes(r io.Reader) ([]time.Duration, error) {
	var ds []time.Duration
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := statusAllLine.FindSubmatch(sc.Bytes())
		if m == nil {
			continue
		}
		d, err := time.ParseDuration(string(m[1]))
		if err != nil {
			return nil, fmt.Errorf("ec2_gahp log: took %q: %w", m[1], err)
		}
		ds = append(ds, d)
	}
	return ds, sc.Err()
}
