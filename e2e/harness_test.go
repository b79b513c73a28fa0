package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/ec2grid/ec2grid/internal/testbin"
	"github.com/ec2grid/ec2grid/userlog"
)

// Liveness bounds. They are generous (a loaded 2-core CI machine running other test
// binaries at once is slow) and only a broken system reaches them; no test asserts speed.
const (
	startTimeout = 60 * time.Second // a cloud or daemon opening its socket
	stateTimeout = 90 * time.Second // a job reaching a state the grid manager drives it to
	stopTimeout  = 30 * time.Second // a process exiting after SIGTERM or `ec2grid stop`
	pollEvery    = 100 * time.Millisecond
)

// The knobs every test daemon runs with: status every second instead of every minute so
// jobs move in seconds, and a short consistency window so the keypair path's recovery
// (a cloud without ClientToken) does not wait the default 30 s.
var daemonKnobs = []string{
	"EC2GRID_GRIDMANAGER_JOB_PROBE_INTERVAL=1",
	"EC2GRID_PERIODIC_EXPR_INTERVAL=1",
	"EC2GRID_EC2_RECOVERY_MIN_WAIT=2",
}

// bootDelay is how long the test cloud's instances stay pending: short, but long enough
// that a job is seen pending before running.
const bootDelay = "300ms"

// bins are the binaries the tests build and run, built once by TestMain.
var bins = &testbin.Set{Prefix: "ec2grid-e2e-bin", Commands: []string{"ec2grid", "ec2_gahp", "condor_submit",
	"condor_q", "condor_rm", "condor_hold", "condor_release", "condor_history", "condor_wait"}}

func TestMain(m *testing.M) { testbin.Main(m, bins) }

// shortDir is a fresh directory with a short path, searchable by everyone
// (testbin.ShortDir says why), removed when the test ends.
func shortDir(t testing.TB, prefix string) string {
	t.Helper()
	return testbin.TempShortDir(t, prefix)
}

// process is a started child that the test stops at cleanup, its stderr kept for
// failure messages.
type process struct {
	*testbin.Process
	stderr *testbin.Buffer
}

// start starts bin with args and env, its stdout to stdout (nil: discarded).
func start(t testing.TB, name string, env []string, stdout io.Writer, args ...string) *process {
	t.Helper()
	cmd := exec.Command(bins.Path(t, name), args...)
	cmd.Env = env
	p := &process{stderr: &testbin.Buffer{}}
	cmd.Stdout, cmd.Stderr = stdout, p.stderr
	var err error
	if p.Process, err = testbin.Start(name, cmd); err != nil {
		t.Fatal(err)
	}
	p.cleanup(t)
	return p
}

// cleanup stops the process when the test ends: SIGTERM, SIGKILL if it will not go.
func (p *process) cleanup(t testing.TB) {
	t.Cleanup(func() {
		if err := p.Stop(stopTimeout); err != nil {
			t.Errorf("%v\n%s", err, p.stderr.String())
		}
	})
}

// waitExit waits for the process to exit on its own.
func (p *process) waitExit(t testing.TB, within time.Duration) {
	t.Helper()
	if err := p.WaitExit(within); err != nil {
		t.Fatalf("%v\n%s", err, p.stderr.String())
	}
}

// waitFor polls cond until it holds; on timeout the test fails with what and cond's last
// description of the state.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	if ok, state := testbin.Poll(timeout, pollEvery, cond); !ok {
		t.Fatalf("%s: not within %v; last state:\n%s", what, timeout, state)
	}
}

// ---- the cloud ----

// cloud is a running `ec2grid cloud` and an SDK client on its demo account, to check its
// records.
type cloud struct {
	t      testing.TB
	proc   *process
	URL    string
	State  string
	AKFile string // the demo account's key files, as a submit file names them
	SKFile string
	api    *ec2.Client
}

// startCloud starts `ec2grid cloud` with the flavor and extra flags.
func startCloud(t testing.TB, flavor string, flags ...string) *cloud {
	t.Helper()
	state := filepath.Join(shortDir(t, "e2ec"), "state")
	args := append([]string{"cloud", "--state", state, "--flavor", flavor, "--boot-delay", bootDelay, "--log-level", "warn"}, flags...)
	cmd := exec.Command(bins.Path(t, "ec2grid"), args...)
	p := &process{stderr: &testbin.Buffer{}}
	cmd.Stderr = p.stderr
	var url string
	var err error
	if p.Process, url, err = testbin.StartURL("ec2grid cloud", cmd, startTimeout); err != nil {
		t.Fatalf("%v\n%s", err, p.stderr.String())
	}
	p.cleanup(t)
	c := &cloud{t: t, proc: p, URL: url, State: state,
		AKFile: filepath.Join(state, "credentials", "demo", "AccessKeyID"),
		SKFile: filepath.Join(state, "credentials", "demo", "SecretAccessKey")}
	ak, err1 := os.ReadFile(c.AKFile)
	sk, err2 := os.ReadFile(c.SKFile)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	c.api = ec2.New(ec2.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(strings.TrimSpace(string(ak)), strings.TrimSpace(string(sk)), ""),
	})
	return c
}

// instance is one instance as the cloud records it.
type instance struct {
	ID, State, ClientToken, KeyName string
	Tags                            map[string]string
}

// instances lists every instance of the demo account (terminated ones included).
func (c *cloud) instances() []instance {
	c.t.Helper()
	var out []instance
	pages := ec2.NewDescribeInstancesPaginator(c.api, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(1000)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			c.t.Fatalf("DescribeInstances: %v", err)
		}
		for _, r := range page.Reservations {
			for _, in := range r.Instances {
				i := instance{ID: aws.ToString(in.InstanceId), ClientToken: aws.ToString(in.ClientToken),
					KeyName: aws.ToString(in.KeyName), Tags: map[string]string{}}
				if in.State != nil {
					i.State = string(in.State.Name)
				}
				for _, tag := range in.Tags {
					i.Tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
				}
				out = append(out, i)
			}
		}
	}
	return out
}

// instance returns the instance with the id.
func (c *cloud) instance(id string) (instance, bool) {
	for _, i := range c.instances() {
		if i.ID == id {
			return i, true
		}
	}
	return instance{}, false
}

// keyPairs lists the demo account's key pair names.
func (c *cloud) keyPairs() []string {
	c.t.Helper()
	out, err := c.api.DescribeKeyPairs(context.Background(), &ec2.DescribeKeyPairsInput{})
	if err != nil {
		c.t.Fatalf("DescribeKeyPairs: %v", err)
	}
	var names []string
	for _, k := range out.KeyPairs {
		names = append(names, aws.ToString(k.KeyName))
	}
	sort.Strings(names)
	return names
}

// spotRequest is one spot instance request as the cloud records it.
type spotRequest struct{ ID, State, InstanceID string }

// spotRequests lists the demo account's spot requests.
func (c *cloud) spotRequests() []spotRequest {
	c.t.Helper()
	out, err := c.api.DescribeSpotInstanceRequests(context.Background(), &ec2.DescribeSpotInstanceRequestsInput{})
	if err != nil {
		c.t.Fatalf("DescribeSpotInstanceRequests: %v", err)
	}
	var reqs []spotRequest
	for _, r := range out.SpotInstanceRequests {
		reqs = append(reqs, spotRequest{ID: aws.ToString(r.SpotInstanceRequestId), State: string(r.State),
			InstanceID: aws.ToString(r.InstanceId)})
	}
	return reqs
}

// actionStats is one action's counters in /_admin/stats.
type actionStats struct {
	Calls   int `json:"calls"`
	Dropped int `json:"dropped"`
}

// stats reads the call counters.
func (c *cloud) stats() map[string]actionStats {
	c.t.Helper()
	var doc struct {
		Actions map[string]actionStats `json:"actions"`
	}
	c.admin(http.MethodGet, "stats", "", &doc)
	return doc.Actions
}

// resetStats zeroes the call counters.
func (c *cloud) resetStats() { c.admin(http.MethodDelete, "stats", "", nil) }

// setFaults replaces the fault config with the JSON one ("" turns every fault off).
func (c *cloud) setFaults(cfg string) {
	if cfg == "" {
		c.admin(http.MethodDelete, "faults", "", nil)
		return
	}
	c.admin(http.MethodPut, "faults", cfg, nil)
}

// admin calls the cloud's /_admin/ endpoint.
func (c *cloud) admin(method, what, body string, into any) {
	c.t.Helper()
	req, err := http.NewRequest(method, strings.TrimSuffix(c.URL, "/")+"/_admin/"+what, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s /_admin/%s: %v", method, what, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("%s /_admin/%s: %s\n%s", method, what, resp.Status, data)
	}
	if into != nil {
		if err := json.Unmarshal(data, into); err != nil {
			c.t.Fatalf("/_admin/%s: %v\n%s", what, err, data)
		}
	}
}

// ---- the daemon and the commands ----

// system is one user's ec2grid: a daemon home, a working directory with submit files and
// logs, and the environment pointing the commands at the daemon.
type system struct {
	t      testing.TB
	home   string
	work   string
	env    []string
	daemon *process
}

// newSystem makes the directories; startDaemon starts the daemon.
func newSystem(t testing.TB) *system {
	t.Helper()
	dir := shortDir(t, "e2e")
	s := &system{t: t, home: filepath.Join(dir, "h"), work: filepath.Join(dir, "w")}
	if err := os.Mkdir(s.work, 0o755); err != nil {
		t.Fatal(err)
	}
	s.env = testbin.DaemonEnv(s.home) // the test's own knobs only
	return s
}

// startDaemon starts `ec2grid daemon` with the test knobs and extra environment, and waits
// until it answers.
func (s *system) startDaemon(extraEnv ...string) *process {
	s.t.Helper()
	env := append(append(append([]string{}, s.env...), daemonKnobs...), extraEnv...)
	p := start(s.t, "ec2grid", env, nil, "daemon")
	s.daemon = p
	status := func(context.Context) error {
		if r := s.run("ec2grid", "status"); r.Code != 0 {
			return fmt.Errorf("ec2grid status: exit %d", r.Code)
		}
		return nil
	}
	if err := testbin.WaitReady(context.Background(), p.Process, startTimeout, pollEvery, status); err != nil {
		s.t.Fatalf("the daemon did not start: %v\n%s", err, p.stderr.String())
	}
	return p
}

// daemonLog is the tail of the daemon's and the gahp's logs, for failure messages.
func (s *system) daemonLog() string {
	const tail = 6000
	var b strings.Builder
	for _, name := range []string{"daemon.log", "EC2GahpLog"} {
		data, _ := os.ReadFile(filepath.Join(s.home, "log", name))
		if len(data) > tail {
			data = data[len(data)-tail:]
		}
		fmt.Fprintf(&b, "---- %s (tail)\n%s", name, data)
	}
	return b.String()
}

// run runs a built command in the work directory.
func (s *system) run(name string, args ...string) testbin.Result {
	s.t.Helper()
	r, err := testbin.Run(s.work, s.env, bins.Path(s.t, name), args...)
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

// must runs a command that must succeed and returns its stdout.
func (s *system) must(name string, args ...string) string {
	s.t.Helper()
	r := s.run(name, args...)
	if r.Code != 0 {
		s.t.Fatalf("%s %s: exit %d\nstdout:\n%s\nstderr:\n%s\ndaemon log:\n%s", name, strings.Join(args, " "),
			r.Code, r.Stdout, r.Stderr, s.daemonLog())
	}
	return r.Stdout
}

// write writes a file into the work directory and returns its path.
func (s *system) write(name, content string, mode os.FileMode) string {
	s.t.Helper()
	p := filepath.Join(s.work, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// submit submits the file and returns the cluster id.
func (s *system) submit(file string) int {
	s.t.Helper()
	out := s.must("condor_submit", file)
	var n, cluster int
	for _, line := range strings.Split(out, "\n") {
		if _, err := fmt.Sscanf(line, "%d job(s) submitted to cluster %d.", &n, &cluster); err == nil {
			return cluster
		}
	}
	s.t.Fatalf("condor_submit %s: no cluster in %q", file, out)
	return 0
}

// ad is one job ad from condor_q -json or condor_history -json.
type ad map[string]any

func (a ad) str(name string) string {
	v, _ := a[name].(string)
	return v
}

func (a ad) num(name string) int {
	v, _ := a[name].(float64)
	return int(v)
}

func (a ad) id() string { return fmt.Sprintf("%d.%d", a.num("ClusterId"), a.num("ProcId")) }

// queue returns the queued job ads (condor_q -json, with extra arguments such as a
// cluster id).
func (s *system) queue(args ...string) []ad {
	s.t.Helper()
	return s.ads("condor_q", append([]string{"-json"}, args...)...)
}

// history returns the ads of jobs that left the queue.
func (s *system) history(args ...string) []ad {
	s.t.Helper()
	return s.ads("condor_history", append([]string{"-json"}, args...)...)
}

func (s *system) ads(name string, args ...string) []ad {
	s.t.Helper()
	out := s.must(name, args...)
	if strings.TrimSpace(out) == "" {
		return nil
	}
	var ads []ad
	if err := json.Unmarshal([]byte(out), &ads); err != nil {
		s.t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return ads
}

// describe prints ads briefly for failure messages.
func describe(ads []ad) string {
	var b strings.Builder
	for _, a := range ads {
		fmt.Fprintf(&b, "%s JobStatus=%d GridJobStatus=%q GridJobId=%q EC2InstanceName=%q HoldReason=%q\n",
			a.id(), a.num("JobStatus"), a.str("GridJobStatus"), a.str("GridJobId"), a.str("EC2InstanceName"), a.str("HoldReason"))
	}
	return b.String()
}

// waitJobs waits until every queued job of the cluster satisfies ok (and there are n).
func (s *system) waitJobs(cluster, n int, what string, ok func(ad) bool) []ad {
	s.t.Helper()
	var last []ad
	waitFor(s.t, stateTimeout, what, func() (bool, string) {
		last = s.queue(fmt.Sprint(cluster))
		if len(last) != n {
			return false, describe(last) + s.daemonLog()
		}
		for _, a := range last {
			if !ok(a) {
				return false, describe(last) + s.daemonLog()
			}
		}
		return true, ""
	})
	return last
}

// waitGone waits until the cluster has left the queue.
func (s *system) waitGone(cluster int, what string) {
	s.t.Helper()
	waitFor(s.t, stateTimeout, what, func() (bool, string) {
		q := s.queue(fmt.Sprint(cluster))
		return len(q) == 0, describe(q) + s.daemonLog()
	})
}

// running reports a job running with its instance known.
func running(a ad) bool { return a.num("JobStatus") == 2 && a.str("EC2InstanceName") != "" }

// events reads a user log's events.
func (s *system) events(log string) []userlog.Event {
	s.t.Helper()
	f, err := os.Open(filepath.Join(s.work, log))
	if err != nil {
		s.t.Fatalf("user log: %v", err)
	}
	defer f.Close()
	r := userlog.NewReader(f, userlog.ReaderOptions{})
	var evs []userlog.Event
	for {
		ev, err := r.Next()
		if errors.Is(err, userlog.ErrNoEvent) {
			return evs
		}
		if err != nil {
			s.t.Fatalf("user log %s: %v", log, err)
		}
		evs = append(evs, ev)
	}
}

// eventCodes lists the event numbers for one job (cluster.proc) in log order.
func eventCodes(evs []userlog.Event, cluster, proc int) []int {
	var codes []int
	for _, ev := range evs {
		if h := ev.EventHeader(); h.Cluster == cluster && h.Proc == proc {
			codes = append(codes, ev.EventNumber())
		}
	}
	return codes
}

// ---- submit files ----

// jobSpec is what a test's submit file says beyond the article's common lines.
type jobSpec struct {
	cloud     *cloud
	userData  string   // a script for ec2_user_data_file; "" for none (the instance then runs until terminated)
	keyFile   bool     // ec2_keypair_file = <executable>.<cluster>.<proc>.pem
	extra     []string // further submit lines
	queue     int      // jobs in the cluster; 0 means 1
	logSuffix string   // distinguishes logs of several submit files in one work directory
}

// submitFile writes the Condor article's submit file shape, pointed at the test cloud.
func (s *system) submitFile(name string, j jobSpec) string {
	s.t.Helper()
	lines := []string{
		"universe = grid",
		"grid_resource = ec2 " + j.cloud.URL,
		"ec2_access_key_id = " + j.cloud.AKFile,
		"ec2_secret_access_key = " + j.cloud.SKFile,
		"ec2_ami_id = ami-60bd4609",
		"ec2_instance_type = m1.small",
		"executable = EC2_Instance-$(ec2_ami_id)",
		"log = $(executable)" + j.logSuffix + ".$(cluster).log",
	}
	if j.userData != "" {
		s.write(name+".sh", j.userData, 0o644)
		lines = append(lines, "ec2_user_data_file = "+name+".sh")
	}
	if j.keyFile {
		lines = append(lines, "ec2_keypair_file = $(executable).$(cluster).$(process).pem")
	}
	lines = append(lines, j.extra...)
	q := j.queue
	if q == 0 {
		q = 1
	}
	lines = append(lines, fmt.Sprintf("queue %d", q))
	return s.write(name, strings.Join(lines, "\n")+"\n", 0o644)
}

// logName is the user log of cluster for a jobSpec with logSuffix.
func logName(suffix string, cluster int) string {
	return fmt.Sprintf("EC2_Instance-ami-60bd4609%s.%d.log", suffix, cluster)
}
