package testbin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// wait bounds every wait here: generous, only a broken helper reaches it.
const wait = 30 * time.Second

func sh(script string) *exec.Cmd { return exec.Command("/bin/sh", "-c", script) }

func TestBufferConcurrent(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := len(b.String()); got != 800 {
		t.Errorf("%d bytes, want 800", got)
	}
}

func TestStopAndKilled(t *testing.T) {
	// A child that exits on SIGTERM: Stop returns nil, the exit is not a SIGKILL.
	p, err := Start("sleep", exec.Command("sleep", "60"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Done() {
		t.Fatal("done at once")
	}
	if err := p.Stop(wait); err != nil {
		t.Fatal(err)
	}
	if !p.Done() || p.Killed() || p.Err() == nil {
		t.Errorf("after SIGTERM: done %v killed %v err %v", p.Done(), p.Killed(), p.Err())
	}
	// A child that ignores SIGTERM is killed after the timeout, and Stop says so.
	p, err = Start("stubborn", sh(`trap "" TERM; echo ready; while :; do sleep 1; done`))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the trap be set
	err = p.Stop(300 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "did not stop on SIGTERM") || !p.Killed() {
		t.Errorf("Stop = %v, killed %v; want the timeout and a SIGKILL", err, p.Killed())
	}
	if err := p.Stop(wait); err != nil {
		t.Errorf("Stop of an exited child = %v", err)
	}
}

func TestStartURL(t *testing.T) {
	for _, c := range []struct {
		name, script, wantErr string
	}{
		{"url", `echo http://127.0.0.1:8773/; echo more; exec sleep 60`, ""},
		{"not a url", `echo hello; exec sleep 60`, `first stdout line "hello" is not the endpoint URL alone`},
		{"exits", `echo oops >&2; exit 3`, "exited without printing its URL: exit status 3"},
		{"silent", `exec sleep 60`, "printed no URL within"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, url, err := StartURL("cloud", sh(c.script), time.Second)
			if c.wantErr == "" {
				if err != nil || url != "http://127.0.0.1:8773/" {
					t.Fatalf("StartURL = %q, %v", url, err)
				}
				if err := p.Stop(wait); err != nil {
					t.Error(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("StartURL error %v, want it to contain %q", err, c.wantErr)
			}
		})
	}
}

func TestWaitReady(t *testing.T) {
	p, err := Start("sleep", exec.Command("sleep", "60"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(wait)
	calls := 0
	ready := func(context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("not yet")
		}
		return nil
	}
	if err := WaitReady(context.Background(), p, wait, time.Millisecond, ready); err != nil || calls != 3 {
		t.Errorf("WaitReady = %v after %d calls, want nil after 3", err, calls)
	}
	never := func(context.Context) error { return errors.New("refused") }
	if err := WaitReady(context.Background(), p, 50*time.Millisecond, time.Millisecond, never); err == nil ||
		errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "not ready within 50ms: refused") {
		t.Errorf("WaitReady on a child never ready = %v", err)
	}
	gone, err := Start("false", exec.Command("false"))
	if err != nil {
		t.Fatal(err)
	}
	if err := WaitReady(context.Background(), gone, wait, time.Millisecond, never); !errors.Is(err, ErrExited) {
		t.Errorf("WaitReady on an exited child = %v, want ErrExited", err)
	}
}

func TestPoll(t *testing.T) {
	n := 0
	ok, state := Poll(wait, time.Millisecond, func() (bool, string) { n++; return n == 3, fmt.Sprint(n) })
	if !ok || state != "3" {
		t.Errorf("Poll = %v, %q", ok, state)
	}
	ok, state = Poll(20*time.Millisecond, time.Millisecond, func() (bool, string) { return false, "stuck" })
	if ok || state != "stuck" {
		t.Errorf("Poll on a condition that never holds = %v, %q", ok, state)
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	r, err := Run(dir, []string{"X=1"}, "/bin/sh", "-c", `pwd; echo $X >&2; exit 4`)
	if err != nil || r.Code != 4 || r.Stdout != dir+"\n" || r.Stderr != "1\n" {
		t.Errorf("Run = %+v, %v", r, err)
	}
	if _, err := Run(dir, nil, filepath.Join(dir, "missing")); err == nil {
		t.Error("running a missing command is no error")
	}
}

func TestShortDir(t *testing.T) {
	dir := TempShortDir(t, "tb")
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o711 {
		t.Errorf("stat %s: %v, %v", dir, st.Mode(), err)
	}
}

func TestDaemonEnv(t *testing.T) {
	t.Setenv("EC2GRID_PERIODIC_EXPR_INTERVAL", "7")
	t.Setenv("TESTBIN_OTHER", "kept")
	env := DaemonEnv("/h", "EC2GRID_X=1")
	if slices.Contains(env, "EC2GRID_PERIODIC_EXPR_INTERVAL=7") || !slices.Contains(env, "TESTBIN_OTHER=kept") {
		t.Errorf("the caller's EC2GRID_ knob leaked or another variable was dropped: %v", env)
	}
	if n := len(env); n < 2 || env[n-2] != "EC2GRID_HOME=/h" || env[n-1] != "EC2GRID_X=1" {
		t.Errorf("env ends %v, want the home then the extra", env[max(0, len(env)-2):])
	}
}

type runner struct{ ran bool }

func (r *runner) Run() int { r.ran = true; return 5 }

func TestMainBuildsRunsAndRemoves(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a command")
	}
	eager := &Set{Prefix: "tb-eager", Commands: []string{"condor_wait"}}
	lazy := &Set{Prefix: "tb-lazy", Commands: []string{"condor_wait"}, OnFirstUse: true}
	r := &runner{}
	if code := mainCode(r, eager, lazy); code != 5 || !r.ran {
		t.Fatalf("mainCode = %d, ran %v; want the tests' 5", code, r.ran)
	}
	if eager.dir == "" || lazy.dir != "" {
		t.Errorf("eager dir %q, lazy dir %q: want only the eager set built", eager.dir, lazy.dir)
	}
	if _, err := os.Stat(eager.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the built directory is still there: %v", err)
	}
	bad := &Set{Prefix: "tb-bad", Commands: []string{"no_such_command"}}
	r = &runner{}
	if code := mainCode(r, bad); code != 1 || r.ran {
		t.Errorf("a failed build: code %d, ran %v; want 1 and no tests", code, r.ran)
	}
}
