package testbin

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Buffer is a bytes.Buffer safe for a child's writer goroutine and a reading test.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String is what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Process is a started child whose exit is watched from the moment it starts: Exited is
// closed once it has exited and been reaped, and Err is then cmd.Wait's result.
type Process struct {
	Name   string
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// Start starts cmd and watches for its exit. name is for messages.
func Start(name string, cmd *exec.Cmd) (*Process, error) {
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Pid is the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the child has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err is cmd.Wait's result; only meaningful once Exited is closed.
func (p *Process) Err() error {
	<-p.exited
	return p.err
}

// Done reports whether the child has exited.
func (p *Process) Done() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Killed reports whether the child ended by SIGKILL (a caller's, or a crash hook's).
func (p *Process) Killed() bool {
	if !p.Done() {
		return false
	}
	var ee *exec.ExitError
	if !errors.As(p.err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// Kill sends SIGKILL and waits for the exit.
func (p *Process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Stop sends SIGTERM unless the child has exited, and waits for the exit; a child that
// has not exited within timeout is killed and Stop says so. Whether it exited cleanly is
// Err's.
func (p *Process) Stop(timeout time.Duration) error {
	if p.Done() {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !p.Done() {
		p.Kill()
		return fmt.Errorf("signal %s: %w", p.Name, err)
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("%s did not stop on SIGTERM within %v", p.Name, timeout)
	}
}

// WaitExit waits for the child to exit on its own within timeout.
func (p *Process) WaitExit(timeout time.Duration) error {
	select {
	case <-p.exited:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("%s did not exit within %v", p.Name, timeout)
	}
}

// URLLine is the form of an `ec2grid cloud` listening on loopback's first stdout line:
// its endpoint URL alone.
var URLLine = regexp.MustCompile(`^http://127\.0\.0\.1:[0-9]+/$`)

// StartURL starts cmd, an `ec2grid cloud` command line, and waits up to timeout for the
// first line of its standard output, the endpoint URL, which must match URLLine. The rest
// of its output is read and discarded, so the child never blocks on a full pipe, and
// exec's Wait returns only once all of it is read. A child that exits first, or prints
// no URL in time or something else, is an error (and killed if still running); cmd's
// Stdout must be unset, its Stderr is the caller's.
func StartURL(name string, cmd *exec.Cmd, timeout time.Duration) (*Process, string, error) {
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	p, err := Start(name, cmd)
	if err != nil {
		return nil, "", err
	}
	// exec copies the child's stdout into pw until the child's end of the pipe closes;
	// closing pw after the exit ends the reader's drain.
	go func() {
		<-p.exited
		pw.Close()
	}()
	lines := make(chan string, 1)
	go func() {
		if line, err := bufio.NewReader(pr).ReadString('\n'); err == nil {
			lines <- strings.TrimSuffix(line, "\n")
		}
		close(lines)
		io.Copy(io.Discard, pr)
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			return nil, "", fmt.Errorf("%s exited without printing its URL: %v", name, p.Err())
		}
		if !URLLine.MatchString(line) {
			p.Kill()
			return nil, "", fmt.Errorf("%s: first stdout line %q is not the endpoint URL alone", name, line)
		}
		return p, line, nil
	case <-time.After(timeout):
		p.Kill()
		return nil, "", fmt.Errorf("%s printed no URL within %v", name, timeout)
	}
}

// ErrExited says a child exited before it was ready.
var ErrExited = errors.New("exited before it was ready")

// WaitReady calls ready every `every` until it returns nil, and returns nil then. It
// returns an error wrapping ErrExited as soon as p has exited, and one with ready's last
// error once timeout has passed or ctx is done.
func WaitReady(ctx context.Context, p *Process, timeout, every time.Duration, ready func(context.Context) error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s %w: %v", p.Name, ErrExited, p.err)
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last: %v)", p.Name, ctx.Err(), err)
		case <-time.After(every):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within %v: %v", p.Name, timeout, err)
		}
	}
}

// Poll calls cond every `every` until it holds (true) or timeout has passed (false);
// it returns cond's last description of the state.
func Poll(timeout, every time.Duration, cond func() (bool, string)) (bool, string) {
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok || time.Now().After(deadline) {
			return ok, state
		}
		time.Sleep(every)
	}
}

// Result is one command's outcome.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Run runs the command at path with args in dir (env: its whole environment) to its end.
// An exit status is a Result; an error is a command that could not run at all.
func Run(dir string, env []string, path string, args ...string) (Result, error) {
	cmd := exec.Command(path, args...)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.Code = ee.ExitCode()
	} else if err != nil {
		return r, fmt.Errorf("run %s %v: %w", path, args, err)
	}
	return r, nil
}

// ShortDir makes a fresh directory with a short path under os.TempDir, searchable by
// everyone (0711): a daemon's socket path must stay under the kernel's 108 bytes (a
// t.TempDir path can pass it), and instance scripts run as an unprivileged user when the
// cloud runs as root, who must reach their instance directories.
func ShortDir(prefix string) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", fmt.Errorf("short directory: %w", err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("short directory: %w", err)
	}
	return dir, nil
}

// TempShortDir is ShortDir for a test: removed when it ends.
func TempShortDir(t TB, prefix string) string {
	t.Helper()
	dir, err := ShortDir(prefix)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// DaemonEnv is the environment of an ec2grid command pointed at the daemon home: this
// process's environment without any EC2GRID_ variable of its own (so a caller's knobs
// never leak into a test), EC2GRID_HOME=home, then extra (later values of a name win).
func DaemonEnv(home string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EC2GRID_") {
			env = append(env, kv)
		}
	}
	env = append(env, "EC2GRID_HOME="+home)
	return append(env, extra...)
}
