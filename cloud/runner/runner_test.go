package runner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// waitLimit bounds every wait in these tests; generous, it only turns a hang into a failure.
const waitLimit = 60 * time.Second

// instanceDir returns a not yet existing instance directory whose parents any user may
// search, as the cloud's state directory must be for instances run as nobody.
func instanceDir(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	for _, d := range []string{base, filepath.Dir(base)} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(base, "i-0123")
}

func start(t *testing.T, spec Spec) *Process {
	t.Helper()
	if spec.InstanceID == "" {
		spec.InstanceID = "i-0123"
	}
	if spec.Dir == "" {
		spec.Dir = instanceDir(t)
	}
	p, err := Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { p.Kill(); waitDone(t, p) })
	return p
}

func waitDone(t *testing.T, p *Process) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(waitLimit):
		t.Fatalf("process %d did not finish within %v", p.PID(), waitLimit)
	}
}

// eventually polls cond until it holds or waitLimit passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitLimit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func consoleOf(t *testing.T, p *Process) string {
	t.Helper()
	b, err := p.Console()
	if err != nil {
		t.Fatalf("Console: %v", err)
	}
	return string(b)
}

func TestEchoHi(t *testing.T) {
	dir := instanceDir(t)
	p := start(t, Spec{Script: []byte("#!/bin/sh\necho hi"), Dir: dir})
	waitDone(t, p)
	if p.ExitCode() != 0 {
		t.Errorf("exit code %d, want 0", p.ExitCode())
	}
	if got := consoleOf(t, p); got != "hi\n" {
		t.Errorf("console %q, want %q", got, "hi\n")
	}
	if b, err := os.ReadFile(filepath.Join(dir, ConsoleFile)); err != nil || string(b) != "hi\n" {
		t.Errorf("%s: %q, %v", ConsoleFile, b, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, ScriptFile)); err != nil || string(b) != "#!/bin/sh\necho hi" {
		t.Errorf("%s: %q, %v", ScriptFile, b, err)
	}
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       int
	}{
		{"exit 0", "exit 0", 0},
		{"exit 3", "exit 3", 3},
		{"exit 255", "exit 255", 255},
		{"last command fails", "false", 1},
		{"killed by SIGTERM", "kill -TERM $$", 128 + 15},
		{"stderr goes to the console too", "echo oops >&2; exit 2", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, Spec{Script: []byte("#!/bin/sh\n" + tc.body + "\n")})
			waitDone(t, p)
			if got := p.ExitCode(); got != tc.want {
				t.Errorf("exit code %d, want %d", got, tc.want)
			}
		})
	}
	p := start(t, Spec{Script: []byte("#!/bin/sh\necho out; echo err >&2\n")})
	waitDone(t, p)
	if got := consoleOf(t, p); got != "out\nerr\n" {
		t.Errorf("console %q, want stdout and stderr", got)
	}
}

// readPID waits for the script to write a child's pid into name in dir.
func readPID(t *testing.T, dir, name string) int {
	t.Helper()
	var pid int
	eventually(t, "child pid written", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}

func TestKillKillsTheGroup(t *testing.T) {
	dir := instanceDir(t)
	p := start(t, Spec{Dir: dir, Script: []byte("#!/bin/sh\nsleep 300 &\necho $! > child.pid\nsleep 300\n")})
	child := readPID(t, dir, "child.pid")
	if !Alive(child) || !Alive(p.PID()) {
		t.Fatalf("before Kill: script alive %v, child alive %v", Alive(p.PID()), Alive(child))
	}
	if err := p.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	if err := p.Kill(); err != nil {
		t.Fatalf("second Kill: %v", err)
	}
	waitDone(t, p)
	if got := p.ExitCode(); got != 128+9 {
		t.Errorf("exit code %d, want %d (SIGKILL)", got, 128+9)
	}
	eventually(t, "background child gone", func() bool { return !Alive(child) })
	if err := p.Kill(); err != nil {
		t.Errorf("Kill after Done: %v", err)
	}
}

func TestExitEndsTheGroup(t *testing.T) {
	dir := instanceDir(t)
	p := start(t, Spec{Dir: dir, Script: []byte("#!/bin/sh\nsleep 300 &\necho $! > child.pid\nexit 3\n")})
	child := readPID(t, dir, "child.pid")
	waitDone(t, p)
	if p.ExitCode() != 3 {
		t.Errorf("exit code %d, want 3", p.ExitCode())
	}
	eventually(t, "leftover child gone", func() bool { return !Alive(child) })
}

// TestEscapedProcessDoesNotHoldDone: a process that left the group (setsid) keeps the
// output pipe open; Done still comes, drainGrace after the script exits.
func TestEscapedProcessDoesNotHoldDone(t *testing.T) {
	dir := instanceDir(t)
	p := start(t, Spec{Dir: dir, Script: []byte("#!/bin/sh\necho before\n" +
		// The pid is written after setsid: the script must not exit (and its group be
		// killed) before the escape.
		"setsid sh -c 'echo $$ > escaped.pid; exec sleep 300' &\n" +
		"while [ ! -s escaped.pid ]; do sleep 0.01; done\n")})
	escaped := readPID(t, dir, "escaped.pid")
	t.Cleanup(func() { syscall.Kill(escaped, syscall.SIGKILL) })
	waitDone(t, p)
	if !Alive(escaped) {
		t.Fatal("the escaped process did not survive: the test did not test the drain grace")
	}
	if p.ExitCode() != 0 {
		t.Errorf("exit code %d", p.ExitCode())
	}
	if got := consoleOf(t, p); got != "before\n" {
		t.Errorf("console %q", got)
	}
}

func TestRejectsNonScripts(t *testing.T) {
	for _, script := range []string{"", "echo hi\n", " #!/bin/sh\n", "\n#!/bin/sh\n", "#", "\x00#!"} {
		dir := instanceDir(t)
		if _, err := Start(context.Background(), Spec{InstanceID: "i-1", Script: []byte(script), Dir: dir}); err == nil {
			t.Errorf("Start accepted %q", script)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("Start of %q created %s", script, dir)
		}
	}
	if _, err := Start(context.Background(), Spec{InstanceID: "i-1", Script: []byte("#!/bin/sh\n")}); err == nil {
		t.Error("Start accepted an empty Dir")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Start(ctx, Spec{InstanceID: "i-1", Script: []byte("#!/bin/sh\n"), Dir: instanceDir(t)}); err == nil {
		t.Error("Start ran with a canceled context")
	}
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: checks dropping to the instance user")
	}
}

func owner(t *testing.T, path string) (uid uint32, perm os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Uid, fi.Mode().Perm()
}

func TestRunsAsNobodyUnderRoot(t *testing.T) {
	needRoot(t)
	nobody, err := user.Lookup(DefaultUser)
	if err != nil {
		t.Skipf("no %s user: %v", DefaultUser, err)
	}
	dir := instanceDir(t)
	p := start(t, Spec{Dir: dir, Script: []byte("#!/bin/sh\nid -u\nid -G\ntouch made-here\n")})
	waitDone(t, p)
	lines := strings.Split(strings.TrimSpace(consoleOf(t, p)), "\n")
	if len(lines) != 2 || lines[0] == "0" || lines[0] != nobody.Uid {
		t.Fatalf("console %q: want nobody's uid %s first", lines, nobody.Uid)
	}
	for _, g := range strings.Fields(lines[1]) {
		if g == "0" {
			t.Errorf("instance kept root's group: id -G = %q", lines[1])
		}
	}
	if p.ExitCode() != 0 {
		t.Errorf("exit code %d (could it not write in its own directory?)", p.ExitCode())
	}
	want := map[string]os.FileMode{dir: 0o700, filepath.Join(dir, ScriptFile): 0o700,
		filepath.Join(dir, ConsoleFile): 0o600, filepath.Join(dir, "made-here"): 0}
	for path, mode := range want {
		uid, perm := owner(t, path)
		if strconv.Itoa(int(uid)) != nobody.Uid {
			t.Errorf("%s owned by uid %d, want %s", path, uid, nobody.Uid)
		}
		if mode != 0 && perm != mode {
			t.Errorf("%s mode %o, want %o", path, perm, mode)
		}
	}
}

func TestAllowRootRunsAsRoot(t *testing.T) {
	needRoot(t)
	dir := instanceDir(t)
	p := start(t, Spec{Dir: dir, AllowRoot: true, Script: []byte("#!/bin/sh\nid -u\n")})
	waitDone(t, p)
	if got := consoleOf(t, p); got != "0\n" {
		t.Errorf("console %q, want uid 0", got)
	}
	if uid, perm := owner(t, dir); uid != 0 || perm != 0o700 {
		t.Errorf("dir owned by %d mode %o, want root 0700", uid, perm)
	}
}

func TestRefusedUsers(t *testing.T) {
	needRoot(t)
	for _, u := range []string{"root", "no-such-user-ec2grid"} {
		if _, err := Start(context.Background(), Spec{InstanceID: "i-1", Script: []byte("#!/bin/sh\n"), Dir: instanceDir(t), User: u}); err == nil {
			t.Errorf("Start as %q succeeded", u)
		}
	}
}

func TestIdentity(t *testing.T) {
	nobody, err := user.Lookup(DefaultUser)
	if err != nil {
		t.Skipf("no %s user: %v", DefaultUser, err)
	}
	for _, tc := range []struct {
		name    string
		spec    Spec
		euid    int
		wantUID string // "" = the cloud's own user (no credential)
		wantErr bool
	}{
		{"not root: own user", Spec{}, 1000, "", false},
		{"not root: User ignored", Spec{User: "root"}, 1000, "", false},
		{"root, AllowRoot: root", Spec{AllowRoot: true}, 0, "", false},
		{"root: nobody by default", Spec{}, 0, nobody.Uid, false},
		{"root: named user", Spec{User: DefaultUser}, 0, nobody.Uid, false},
		{"root: User root refused", Spec{User: "root"}, 0, "", true},
		{"root: unknown user", Spec{User: "no-such-user-ec2grid"}, 0, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as, err := identity(tc.spec, tc.euid)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			got := ""
			if as.cred != nil {
				got = strconv.Itoa(int(as.cred.Uid))
				if as.cred.Uid == 0 || as.cred.Gid == 0 || containsGid(as.cred.Groups, 0) {
					t.Errorf("credential keeps root: %+v", as.cred)
				}
			}
			if got != tc.wantUID {
				t.Errorf("runs as uid %q, want %q", got, tc.wantUID)
			}
		})
	}
}

func TestDirPermissions(t *testing.T) {
	dir := instanceDir(t)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	p := start(t, Spec{Dir: dir, Script: []byte("#!/bin/sh\n")})
	waitDone(t, p)
	if _, perm := owner(t, dir); perm != 0o700 {
		t.Errorf("existing dir left mode %o, want 0700", perm)
	}
	if _, perm := owner(t, filepath.Join(dir, ScriptFile)); perm != 0o700 {
		t.Errorf("script mode %o, want 0700", perm)
	}

	// Missing parents are created searchable but not listable.
	deep := filepath.Join(instanceDir(t), "a", "i-2")
	p = start(t, Spec{Dir: deep, Script: []byte("#!/bin/sh\n")})
	waitDone(t, p)
	if _, perm := owner(t, filepath.Dir(deep)); perm != dirParentMode {
		t.Errorf("created parent mode %o, want %o", perm, dirParentMode)
	}
}

func TestUnreachableDirRefused(t *testing.T) {
	needRoot(t)
	base := t.TempDir() // 0700 parent: nobody cannot pass it
	dir := filepath.Join(base, "closed", "i-1")
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), Spec{InstanceID: "i-1", Script: []byte("#!/bin/sh\n"), Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "cannot reach") {
		t.Fatalf("Start under a 0700 parent: %v, want a 'cannot reach' error", err)
	}
}

// TestPlantedLinks: the instance user owns its directory and may leave links at the names
// the cloud writes; a later Start (perhaps as root) must write only files of its own.
func TestPlantedLinks(t *testing.T) {
	dir := instanceDir(t)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{ConsoleFile, ScriptFile} {
		if err := os.Symlink(victim, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	p := start(t, Spec{Dir: dir, Script: []byte("#!/bin/sh\necho hi\n")})
	waitDone(t, p)
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("victim file changed: %q", b)
	}
	if got := consoleOf(t, p); got != "hi\n" {
		t.Errorf("console %q", got)
	}
	for _, name := range []string{ConsoleFile, ScriptFile} {
		if fi, err := os.Lstat(filepath.Join(dir, name)); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s is not a regular file: %v %v", name, fi, err)
		}
	}

	// A hard link to a file elsewhere is replaced too.
	if err := os.Remove(filepath.Join(dir, ConsoleFile)); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(victim, filepath.Join(dir, ConsoleFile)); err != nil {
		t.Fatal(err)
	}
	p = start(t, Spec{Dir: dir, Script: []byte("#!/bin/sh\necho again\n")})
	waitDone(t, p)
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("victim file changed through a hard link: %q", b)
	}
}

func TestConsoleBounded(t *testing.T) {
	dir := instanceDir(t)
	// About 169 KB of numbered lines, more than twice the limit: the file is compacted.
	p := start(t, Spec{Dir: dir, Script: []byte("#!/bin/sh\nseq 1 30000\n")})
	waitDone(t, p)
	got := consoleOf(t, p)
	if len(got) != ConsoleLimit {
		t.Errorf("console is %d bytes, want %d", len(got), ConsoleLimit)
	}
	if !strings.HasSuffix(got, "\n29999\n30000\n") {
		t.Errorf("console does not end with the last lines: ...%q", got[max(0, len(got)-20):])
	}
	var all strings.Builder
	for i := 1; i <= 30000; i++ {
		fmt.Fprintf(&all, "%d\n", i)
	}
	if want := all.String()[all.Len()-ConsoleLimit:]; got != want {
		t.Error("console is not exactly the last ConsoleLimit bytes of the output")
	}
	fi, err := os.Stat(filepath.Join(dir, ConsoleFile))
	if err != nil || fi.Size() > consoleCompactAt || fi.Size() < ConsoleLimit {
		t.Errorf("%s size %v (%v), want between %d and %d", ConsoleFile, fi.Size(), err, ConsoleLimit, consoleCompactAt)
	}

	// A restarted instance's console continues, and stays bounded from the start.
	p = start(t, Spec{Dir: dir, Script: []byte("#!/bin/sh\necho rebooted\n")})
	waitDone(t, p)
	got = consoleOf(t, p)
	if len(got) != ConsoleLimit || !strings.HasSuffix(got, "30000\nrebooted\n") {
		t.Errorf("console after restart: %d bytes ending %q", len(got), got[max(0, len(got)-20):])
	}
}

func TestConsoleWhileRunning(t *testing.T) {
	dir := instanceDir(t)
	p := start(t, Spec{Dir: dir, Script: []byte("#!/bin/sh\necho first\nsleep 300\n")})
	eventually(t, "first line in console", func() bool {
		b, err := p.Console()
		return err == nil && string(b) == "first\n"
	})
	if got := p.ExitCode(); got != -1 {
		t.Errorf("ExitCode while running = %d, want -1", got)
	}
	p.Kill()
	waitDone(t, p)
	if got := consoleOf(t, p); got != "first\n" {
		t.Errorf("console after Kill %q", got)
	}
}

func TestEnvironment(t *testing.T) {
	t.Setenv("EC2GRID_RUNNER_LEAK", "leaked")
	dir := instanceDir(t)
	p := start(t, Spec{Dir: dir,
		Env:    []string{"AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:9/_imds/i-0123/"},
		Script: []byte("#!/bin/sh\necho \"$PATH\"\necho \"$HOME\"\necho \"$AWS_EC2_METADATA_SERVICE_ENDPOINT\"\npwd\necho \"[$EC2GRID_RUNNER_LEAK]\"\n")})
	waitDone(t, p)
	want := strings.Join([]string{defaultPath, dir, "http://127.0.0.1:9/_imds/i-0123/", dir, "[]"}, "\n") + "\n"
	if got := consoleOf(t, p); got != want {
		t.Errorf("console:\n%s\nwant:\n%s", got, want)
	}

	// spec.Env may override the defaults.
	p = start(t, Spec{Env: []string{"PATH=/bin"}, Script: []byte("#!/bin/sh\necho \"$PATH\"\n")})
	waitDone(t, p)
	if got := consoleOf(t, p); got != "/bin\n" {
		t.Errorf("PATH override: %q", got)
	}
}

// TestConcurrentStarts starts many instances at once: scripts written while other
// goroutines fork are where exec meets ETXTBSY.
func TestConcurrentStarts(t *testing.T) {
	const n = 32
	var wg sync.WaitGroup
	procs := make([]*Process, n)
	dirs := make([]string, n)
	for i := range n {
		dirs[i] = instanceDir(t)
	}
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			p, err := Start(context.Background(), Spec{InstanceID: fmt.Sprint("i-", i), Dir: dirs[i],
				Script: []byte(fmt.Sprintf("#!/bin/sh\necho %d\n", i))})
			if err != nil {
				errs <- err
				return
			}
			procs[i] = p
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, p := range procs {
		if p == nil {
			continue
		}
		waitDone(t, p)
		if got := consoleOf(t, p); got != fmt.Sprintf("%d\n", i) || p.ExitCode() != 0 {
			t.Errorf("instance %d: console %q exit %d", i, got, p.ExitCode())
		}
	}
}

func TestAlive(t *testing.T) {
	for _, pid := range []int{0, -1, -os.Getpid()} {
		if Alive(pid) {
			t.Errorf("Alive(%d) = true", pid)
		}
	}
	if !Alive(os.Getpid()) {
		t.Error("Alive(self) = false")
	}
	// An exited child not yet reaped is a zombie: not alive.
	cmd := exec.Command("/bin/sh", "-c", "exit 0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	eventually(t, "zombie reported dead", func() bool { return !Alive(pid) })
	cmd.Wait()
	if Alive(pid) {
		t.Error("reaped child reported alive")
	}
}

func TestProcState(t *testing.T) {
	for _, tc := range []struct {
		stat  string
		state byte
		ok    bool
	}{
		{"123 (sleep) S 1 123 123 0 -1", 'S', true},
		{"9 (a) b) (c) Z 1 2", 'Z', true},
		{"9 (x) R", 'R', true},
		{"9 (x)", 0, false},
		{"9 (x) ", 0, false},
		{"9 (x)Z", 0, false},
		{"garbage", 0, false},
		{"", 0, false},
	} {
		state, ok := procState([]byte(tc.stat))
		if state != tc.state || ok != tc.ok {
			t.Errorf("procState(%q) = %q, %v; want %q, %v", tc.stat, state, ok, tc.state, tc.ok)
		}
	}
}

// FuzzProcState: any bytes from /proc parse without panic, and a found state is the byte
// after the last ") ".
func FuzzProcState(f *testing.F) {
	f.Add([]byte("123 (sleep) S 1 123 123 0 -1"))
	f.Add([]byte("9 (a) b) (c) Z 1 2"))
	f.Add([]byte(")"))
	f.Fuzz(func(t *testing.T, stat []byte) {
		state, ok := procState(stat)
		if !ok {
			return
		}
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 || i+2 >= len(stat) || stat[i+2] != state {
			t.Fatalf("procState(%q) = %q", stat, state)
		}
	})
}
