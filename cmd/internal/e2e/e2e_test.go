package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/internal/testbin"
)

// Liveness bounds: generous, as a loaded CI machine may be slow, and only a broken
// daemon reaches them; no test asserts speed.
const (
	startTimeout = 60 * time.Second // the daemon opening its socket
	stopTimeout  = 60 * time.Second // the daemon exiting on SIGTERM
	readyPoll    = 50 * time.Millisecond
	emptyTimeout = time.Minute // removed jobs leaving the queue
	emptyPoll    = 100 * time.Millisecond
)

// bins are the binaries the tests build and run, built once by TestMain.
var bins = &testbin.Set{Prefix: "ec2grid-e2e-bin", Commands: []string{"ec2grid", "condor_submit", "condor_q",
	"condor_hold", "condor_release", "condor_rm", "condor_qedit", "condor_history"}}

func TestMain(m *testing.M) { testbin.Main(m, bins) }

// env is a daemon home and the environment that points commands at it.
type env struct {
	t    *testing.T
	home string
	work string // the user's working directory: submit files, key files, logs
	vars []string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	// The socket lives in a short directory: t.TempDir() paths can pass the kernel's
	// 108-byte limit for socket paths.
	sockDir := testbin.TempShortDir(t, "e2e")
	e := &env{t: t, home: t.TempDir(), work: t.TempDir()}
	e.vars = testbin.DaemonEnv(e.home, "EC2GRID_SOCKET="+filepath.Join(sockDir, "d.sock"))
	return e
}

// run runs a built command in the work directory.
func (e *env) run(name string, args ...string) testbin.Result {
	e.t.Helper()
	r, err := testbin.Run(e.work, e.vars, bins.Path(e.t, name), args...)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// ok runs a command that must succeed with the given standard output (exact) and
// returns it.
func (e *env) ok(want string, name string, args ...string) {
	e.t.Helper()
	r := e.run(name, args...)
	if r.Code != 0 || r.Stdout != want {
		e.t.Fatalf("%s %s: exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", name, strings.Join(args, " "), r.Code, r.Stdout, want, r.Stderr)
	}
}

// fails runs a command that must exit 1 with stderr containing want.
func (e *env) fails(want string, name string, args ...string) {
	e.t.Helper()
	r := e.run(name, args...)
	if r.Code != 1 || !strings.Contains(r.Stderr, want) {
		e.t.Fatalf("%s %s: exit %d, want 1\nstderr %q, want it to contain %q\nstdout:\n%s", name, strings.Join(args, " "), r.Code, r.Stderr, want, r.Stdout)
	}
}

// startDaemon runs `ec2grid daemon` (without a grid manager) until the test ends.
func (e *env) startDaemon() {
	e.t.Helper()
	cmd := exec.Command(bins.Path(e.t, "ec2grid"), "daemon")
	cmd.Env = e.vars
	stderr := &testbin.Buffer{}
	cmd.Stderr = stderr
	p, err := testbin.Start("the daemon", cmd)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if err := p.Stop(stopTimeout); err != nil {
			e.t.Errorf("%v\n%s", err, stderr.String())
		}
	})
	status := func(context.Context) error {
		if r := e.run("ec2grid", "status"); r.Code != 0 {
			return fmt.Errorf("ec2grid status: exit %d", r.Code)
		}
		return nil
	}
	if err := testbin.WaitReady(context.Background(), p, startTimeout, readyPoll, status); err != nil {
		e.t.Fatalf("the daemon did not start: %v\n%s", err, stderr.String())
	}
}

// article writes the Condor article's submit file and its key files into the work
// directory. The endpoint is unreachable, so the daemon's grid manager never
// starts an instance: the jobs stay idle.
func (e *env) article(name string) string {
	e.t.Helper()
	for _, f := range []string{"AccessKeyID", "SecretAccessKey"} {
		if err := os.WriteFile(filepath.Join(e.work, f), []byte("secret\n"), 0o600); err != nil {
			e.t.Fatal(err)
		}
	}
	src := fmt.Sprintf(`universe = grid
grid_resource = ec2 http://127.0.0.1:1/
ec2_access_key_id = %s
ec2_secret_access_key = %s
ec2_ami_id = ami-60bd4609
ec2_instance_type = m1.small
ec2_user_data = Hello $(executable)!
executable = EC2_Instance-$(ec2_ami_id)
log = $(executable).$(cluster).log
ec2_keypair_file = $(executable).$(cluster).pem
periodic_hold = (JobStatus == 2) && (time() - EnteredCurrentStatus > 3600)
queue
`, filepath.Join(e.work, "AccessKeyID"), filepath.Join(e.work, "SecretAccessKey"))
	p := filepath.Join(e.work, name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) userLog(cluster int) string {
	e.t.Helper()
	data, err := os.ReadFile(filepath.Join(e.work, fmt.Sprintf("EC2_Instance-ami-60bd4609.%d.log", cluster)))
	if err != nil {
		e.t.Fatalf("user log: %v", err)
	}
	return string(data)
}

func me(t *testing.T) string {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

// TestQueueCommands walks one job through its life with the real commands: submit,
// look, hold, release, edit, remove, force-remove, history.
func TestQueueCommands(t *testing.T) {
	e := newEnv(t)
	e.startDaemon()
	name := me(t)
	sub := e.article("ec2.sub")

	e.ok("Submitting job(s).\n1 job(s) submitted to cluster 1.\n", "condor_submit", sub)
	keypair := filepath.Join(e.work, "EC2_Instance-ami-60bd4609.1.pem")

	// The article's three -format arguments: the endpoint is unreachable, so the
	// instance is not there and its attributes are undefined; the key pair file is known.
	e.ok("Instance name: undefined\nInstance hostname: undefined\nKeypair: "+keypair+"\n", "condor_q",
		"-format", `Instance name: %s\n`, "EC2InstanceName",
		"-format", `Instance hostname: %s\n`, "EC2RemoteVirtualMachineName",
		"-format", `Keypair: %s\n`, "EC2KeyPairFile")
	e.ok("1.0 1 "+name+"\n", "condor_q", "-af:j", "JobStatus", "Owner")
	batch := e.run("condor_q")
	if batch.Code != 0 || !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(name)+` +ID: 1 +\d+/\d+ \d\d:\d\d +_ +_ +1 +1 1\.0$`).MatchString(batch.Stdout) ||
		!strings.Contains(batch.Stdout, "Total for query: 1 jobs; 0 completed, 0 removed, 1 idle, 0 running, 0 held, 0 suspended") {
		t.Fatalf("condor_q: exit %d\n%s%s", batch.Code, batch.Stdout, batch.Stderr)
	}
	long := e.run("condor_q", "-long", "1.0")
	for _, want := range []string{"\nClusterId = 1\n", "\nPeriodicHold = (JobStatus == 2) && (time() - EnteredCurrentStatus > 3600)\n",
		"\nOwner = \"" + name + "\"\n", "\nEC2KeyPairFile = \"" + keypair + "\"\n"} {
		if !strings.Contains("\n"+long.Stdout, want) {
			t.Errorf("condor_q -long lacks %q:\n%s", want, long.Stdout)
		}
	}
	if log := e.userLog(1); !strings.HasPrefix(log, "000 (001.000.000) ") {
		t.Errorf("user log after submit:\n%s", log)
	}

	// Hold: status 5 with HTCondor's reason; holding again is refused.
	e.ok("Job 1.0 held\n", "condor_hold", "1.0")
	e.ok("5 1 via condor_hold (by user "+name+")\n", "condor_q", "-af", "JobStatus", "HoldReasonCode", "HoldReason")
	e.fails("Job 1.0 already held", "condor_hold", "1.0")
	hold := e.run("condor_q", "-hold")
	if hold.Code != 0 || !strings.Contains(hold.Stdout, "   1.0   "+name) || !strings.Contains(hold.Stdout, "1/0      via condor_hold (by user "+name+")") {
		t.Errorf("condor_q -hold:\n%s%s", hold.Stdout, hold.Stderr)
	}

	// Release: back to idle, event 013 in the user log.
	e.ok("All jobs in cluster 1 have been released\n", "condor_release", "1")
	e.ok("1\n", "condor_q", "-af", "JobStatus")
	e.fails("Job 1.0 not held to be released", "condor_release", "1.0")
	if log := e.userLog(1); !strings.Contains(log, "\n013 (001.000.000) ") {
		t.Errorf("user log after release has no 013 event:\n%s", log)
	}

	// Edit the policy; system attributes are refused.
	e.ok("Set attribute \"PeriodicHold\" for 1 matching jobs.\n", "condor_qedit", "1.0", "PeriodicHold", "(JobStatus == 2) && (time() - EnteredCurrentStatus > 60)")
	e.ok("(JobStatus == 2) && (time() - EnteredCurrentStatus > 60)\n", "condor_q", "-af:r", "PeriodicHold")
	e.fails("JobStatus", "condor_qedit", "1.0", "JobStatus", "4")
	e.ok("1\n", "condor_q", "-af", "JobStatus")

	// Remove: the daemon's grid manager finds nothing at the cloud for a job that never
	// started (its endpoint is unreachable), so the job leaves for the history as
	// Removed at once. -forcex is for jobs stuck in X (the api tests cover it).
	e.ok("Job 1.0 marked for removal\n", "condor_rm", "1.0")
	e.waitEmpty()
	e.ok("1 0 3 "+name+"\n", "condor_history", "-af", "ClusterId", "ProcId", "JobStatus", "Owner")
	hist := e.run("condor_history")
	if hist.Code != 0 || !regexp.MustCompile(`(?m)^ ID +OWNER +SUBMITTED +RUN_TIME ST +COMPLETED CMD\n +1\.0 +`+regexp.QuoteMeta(name)+` .* X .*EC2_Instance-ami-60bd4609$`).MatchString(hist.Stdout) {
		t.Errorf("condor_history:\n%s%s", hist.Stdout, hist.Stderr)
	}
	if log := e.userLog(1); !strings.Contains(log, "\n009 (001.000.000) ") {
		t.Errorf("user log after condor_rm has no 009 event:\n%s", log)
	}
	e.fails("Job 1.0 not found", "condor_rm", "1.0")

	// A second submit: -queue, -batch-name, then everything of the user removed.
	noQueue := strings.Replace(readFile(t, sub), "queue\n", "", 1)
	if err := os.WriteFile(filepath.Join(e.work, "noqueue.sub"), []byte(noQueue), 0o644); err != nil {
		t.Fatal(err)
	}
	e.ok("Submitting job(s)..\n2 job(s) submitted to cluster 2.\n", "condor_submit", "-batch-name", "twins", "noqueue.sub", "-queue", "2")
	e.ok("2.0 twins\n2.1 twins\n", "condor_q", "-af:j", "JobBatchName")
	e.fails("Job 2.0 not in `X' state to be forcibly removed", "condor_rm", "-forcex", "2.0")
	e.ok("All jobs of user "+name+" have been marked for removal\n", "condor_rm", name)
	e.waitEmpty()
	// The order of jobs that left in the same second is the daemon's business: compare
	// the set.
	h := e.run("condor_history", "-af:j", "JobStatus")
	lines := strings.Split(strings.TrimSuffix(h.Stdout, "\n"), "\n")
	slices.Sort(lines)
	if h.Code != 0 || !slices.Equal(lines, []string{"1.0 3", "2.0 3", "2.1 3"}) {
		t.Errorf("condor_history -af:j JobStatus: exit %d\n%s%s", h.Code, h.Stdout, h.Stderr)
	}

	// A bad submit file queues nothing and says where.
	if err := os.WriteFile(filepath.Join(e.work, "bad.sub"), []byte("universe = grid\ngrid_resource = ec2\nexecutable = x\nqueue\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.fails("ERROR: on Line 2 of bad.sub: grid_resource: EC2 grid jobs require a service URL", "condor_submit", "bad.sub")
	e.ok("", "condor_q", "-af", "ClusterId")
}

// waitEmpty waits until the queue is empty: removed jobs leave it when the grid manager
// has cleaned them up.
func (e *env) waitEmpty() {
	e.t.Helper()
	ok, state := testbin.Poll(emptyTimeout, emptyPoll, func() (bool, string) {
		r := e.run("condor_q", "-af", "ClusterId")
		return r.Code == 0 && r.Stdout == "", fmt.Sprintf("exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	})
	if !ok {
		e.t.Fatalf("jobs still queued after %v: %s", emptyTimeout, state)
	}
}

// readFile reads a file the test wrote.
func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestDaemonNotRunning: every command says the daemon is not running and how to start
// it, with exit status 1.
func TestDaemonNotRunning(t *testing.T) {
	e := newEnv(t)
	sub := e.article("ec2.sub")
	for _, c := range [][]string{
		{"condor_submit", sub}, {"condor_q"}, {"condor_hold", "1.0"}, {"condor_release", "1"},
		{"condor_rm", "-all"}, {"condor_qedit", "1.0", "Foo", "1"}, {"condor_history"},
	} {
		r := e.run(c[0], c[1:]...)
		if r.Code != 1 || r.Stdout != "" || !strings.Contains(r.Stderr, "ERROR: the ec2grid daemon is not running (no socket at ") ||
			!strings.Contains(r.Stderr, "Start it with: ec2grid daemon") {
			t.Errorf("%v: exit %d stdout %q stderr %q", c, r.Code, r.Stdout, r.Stderr)
		}
	}
}
