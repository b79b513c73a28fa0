package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long the daemon may take to open its socket: generous, as a
// loaded CI machine may be slow, and only a broken daemon takes that long.
const startTimeout = 60 * time.Second

// commands are the binaries the tests build and run.
var commands = []string{"ec2grid", "condor_submit", "condor_q", "condor_hold", "condor_release", "condor_rm", "condor_qedit", "condor_history"}

// binDir holds the binaries, built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ec2grid-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	args := []string{"build", "-o", dir + string(os.PathSeparator)}
	for _, c := range commands {
		args = append(args, "github.com/ec2grid/ec2grid/cmd/"+c)
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

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
	sockDir, err := os.MkdirTemp("", "e2e")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	e := &env{t: t, home: t.TempDir(), work: t.TempDir()}
	e.vars = append(os.Environ(), "EC2GRID_HOME="+e.home, "EC2GRID_SOCKET="+filepath.Join(sockDir, "d.sock"))
	return e
}

// result is one command's outcome.
type result struct {
	code           int
	stdout, stderr string
}

// run runs a built command in the work directory.
func (e *env) run(name string, args ...string) result {
	e.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, name), args...)
	cmd.Dir, cmd.Env = e.work, e.vars
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("%s %v: %v", name, args, err)
	}
	return r
}

// ok runs a command that must succeed with the given standard output (exact) and
// returns it.
func (e *env) ok(want string, name string, args ...string) {
	e.t.Helper()
	r := e.run(name, args...)
	if r.code != 0 || r.stdout != want {
		e.t.Fatalf("%s %s: exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", name, strings.Join(args, " "), r.code, r.stdout, want, r.stderr)
	}
}

// fails runs a command that must exit 1 with stderr containing want.
func (e *env) fails(want string, name string, args ...string) {
	e.t.Helper()
	r := e.run(name, args...)
	if r.code != 1 || !strings.Contains(r.stderr, want) {
		e.t.Fatalf("%s %s: exit %d, want 1\nstderr %q, want it to contain %q\nstdout:\n%s", name, strings.Join(args, " "), r.code, r.stderr, want, r.stdout)
	}
}

// startDaemon runs `ec2grid daemon` (without a grid manager) until the test ends.
func (e *env) startDaemon() {
	e.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "ec2grid"), "daemon")
	cmd.Env = e.vars
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	e.t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(startTimeout):
			cmd.Process.Kill()
			<-exited
			e.t.Errorf("the daemon did not stop on SIGTERM\n%s", stderr.String())
		}
	})
	deadline := time.Now().Add(startTimeout)
	for {
		if r := e.run("ec2grid", "status"); r.code == 0 {
			return
		}
		select {
		case err := <-exited:
			e.t.Fatalf("the daemon exited: %v\n%s", err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the daemon did not start within %v\n%s", startTimeout, stderr.String())
		}
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
	if batch.code != 0 || !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(name)+` +ID: 1 +\d+/\d+ \d\d:\d\d +_ +_ +1 +1 1\.0$`).MatchString(batch.stdout) ||
		!strings.Contains(batch.stdout, "Total for query: 1 jobs; 0 completed, 0 removed, 1 idle, 0 running, 0 held, 0 suspended") {
		t.Fatalf("condor_q: exit %d\n%s%s", batch.code, batch.stdout, batch.stderr)
	}
	long := e.run("condor_q", "-long", "1.0")
	for _, want := range []string{"\nClusterId = 1\n", "\nPeriodicHold = (JobStatus == 2) && (time() - EnteredCurrentStatus > 3600)\n",
		"\nOwner = \"" + name + "\"\n", "\nEC2KeyPairFile = \"" + keypair + "\"\n"} {
		if !strings.Contains("\n"+long.stdout, want) {
			t.Errorf("condor_q -long lacks %q:\n%s", want, long.stdout)
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
	if hold.code != 0 || !strings.Contains(hold.stdout, "   1.0   "+name) || !strings.Contains(hold.stdout, "1/0      via condor_hold (by user "+name+")") {
		t.Errorf("condor_q -hold:\n%s%s", hold.stdout, hold.stderr)
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
	if hist.code != 0 || !regexp.MustCompile(`(?m)^ ID +OWNER +SUBMITTED +RUN_TIME ST +COMPLETED CMD\n +1\.0 +`+regexp.QuoteMeta(name)+` .* X .*EC2_Instance-ami-60bd4609$`).MatchString(hist.stdout) {
		t.Errorf("condor_history:\n%s%s", hist.stdout, hist.stderr)
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
	lines := strings.Split(strings.TrimSuffix(h.stdout, "\n"), "\n")
	slices.Sort(lines)
	if h.code != 0 || !slices.Equal(lines, []string{"1.0 3", "2.0 3", "2.1 3"}) {
		t.Errorf("condor_history -af:j JobStatus: exit %d\n%s%s", h.code, h.stdout, h.stderr)
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
	deadline := time.Now().Add(time.Minute) // liveness only: generous on a loaded machine
	for {
		r := e.run("condor_q", "-af", "ClusterId")
		if r.code == 0 && r.stdout == "" {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("jobs still queued after a minute: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		time.Sleep(100 * time.Millisecond)
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
		if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "ERROR: the ec2grid daemon is not running (no socket at ") ||
			!strings.Contains(r.stderr, "Start it with: ec2grid daemon") {
			t.Errorf("%v: exit %d stdout %q stderr %q", c, r.code, r.stdout, r.stderr)
		}
	}
}
