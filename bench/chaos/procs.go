package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ec2grid/ec2grid/api"
)

// Process bounds: generous for a loaded 2-core machine; only a broken system reaches them.
const (
	startTimeout = time.Minute      // the cloud printing its URL, the daemon answering ping
	stopTimeout  = 30 * time.Second // a process exiting after SIGTERM or a stop request
	pollEvery    = 100 * time.Millisecond
)

// proc is a started child and its exit.
type proc struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // cmd.Wait's, once exited is closed
}

func startProc(cmd *exec.Cmd) (*proc, error) {
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &proc{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *proc) done() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// killed reports whether the process ended by SIGKILL (ours or its crash hook's).
func (p *proc) killed() bool {
	var ee *exec.ExitError
	if !errors.As(p.err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// kill sends SIGKILL and waits for the exit.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// term sends SIGTERM and waits, SIGKILL after stopTimeout.
func (p *proc) term() {
	if p.done() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		p.kill()
	}
}

// cloudProc is a running `ec2grid cloud`.
type cloudProc struct {
	*proc
	url, state string
}

// startCloud starts `ec2grid cloud` with the flavor and extra flags, its log in logFile.
func startCloud(bin, state, flavor, logFile string, flags ...string) (*cloudProc, error) {
	args := append([]string{"cloud", "--state", state, "--flavor", flavor,
		"--boot-delay", bootDelay.String(), "--terminated-retention", retention.String(), "--log-level", "warn"}, flags...)
	cmd := exec.Command(filepath.Join(bin, "ec2grid"), args...)
	log, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child has its own descriptor
	cmd.Stderr = log
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p, err := startProc(cmd)
	if err != nil {
		return nil, err
	}
	urls := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		urls <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case u := <-urls:
		if u != "" {
			return &cloudProc{proc: p, url: u, state: state}, nil
		}
	case <-time.After(startTimeout):
	}
	p.kill()
	data, _ := os.ReadFile(logFile)
	return nil, fmt.Errorf("ec2grid cloud did not start: %s", data)
}

// daemonEnv is the daemon's environment: ours without any EC2GRID_ knob of the caller's,
// the home, the run's knobs and extra.
func daemonEnv(home string, knobs []string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EC2GRID_") {
			env = append(env, kv)
		}
	}
	env = append(env, "EC2GRID_HOME="+home)
	return append(append(env, knobs...), extra...)
}

// startDaemon starts `ec2grid daemon` and waits until it answers ping. A daemon that exits
// before it answers (a crash hook that fires at once, say) is returned all the same, with
// ready false.
func startDaemon(ctx context.Context, bin string, env []string, logFile string) (p *proc, ready bool, err error) {
	cmd := exec.Command(filepath.Join(bin, "ec2grid"), "daemon")
	cmd.Env = env
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, false, err
	}
	defer log.Close()
	cmd.Stderr = log
	p, err = startProc(cmd)
	if err != nil {
		return nil, false, err
	}
	c := api.NewClient(socketOf(env))
	defer c.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := c.Ping(pctx)
		cancel()
		if err == nil {
			return p, true, nil
		}
		if p.done() {
			return p, false, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.kill()
			return nil, false, fmt.Errorf("the daemon did not answer within %v: %v", startTimeout, err)
		}
		time.Sleep(pollEvery)
	}
}

func socketOf(env []string) string {
	for _, kv := range env {
		if h, ok := strings.CutPrefix(kv, "EC2GRID_HOME="); ok {
			return filepath.Join(h, "daemon.sock")
		}
	}
	return ""
}

// gahpChildren lists the pids of the ec2_gahp processes whose parent is pid.
func gahpChildren(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold blanks, so split after its ')'.
		s := string(data)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		fields := strings.Fields(s[close+1:])
		if s[open+1:close] != "ec2_gahp" || len(fields) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == pid {
			out = append(out, n)
		}
	}
	return out
}
