package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ec2grid/ec2grid/api"
	"github.com/ec2grid/ec2grid/internal/testbin"
)

// Process bounds: generous for a loaded 2-core machine; only a broken system reaches them.
const (
	startTimeout = time.Minute      // the cloud printing its URL, the daemon answering ping
	stopTimeout  = 30 * time.Second // a process exiting after SIGTERM or a stop request
	pollEvery    = 100 * time.Millisecond
	pingTimeout  = time.Second // one ping while the daemon starts
)

// proc is a started child and its exit.
type proc = testbin.Process

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
	p, url, err := testbin.StartURL("ec2grid cloud", cmd, startTimeout)
	if err != nil {
		data, _ := os.ReadFile(logFile)
		return nil, fmt.Errorf("ec2grid cloud did not start: %w\n%s", err, data)
	}
	return &cloudProc{proc: p, url: url, state: state}, nil
}

// daemonEnv is the daemon's environment: ours without any EC2GRID_ knob of the caller's,
// the home, the run's knobs and extra.
func daemonEnv(home string, knobs []string, extra ...string) []string {
	return testbin.DaemonEnv(home, append(slices.Clone(knobs), extra...)...)
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
	p, err = testbin.Start("the daemon", cmd)
	if err != nil {
		return nil, false, err
	}
	c := api.NewClient(socketOf(env))
	defer c.Close()
	ping := func(ctx context.Context) error {
		pctx, cancel := context.WithTimeout(ctx, pingTimeout)
		defer cancel()
		_, err := c.Ping(pctx)
		return err
	}
	err = testbin.WaitReady(ctx, p, startTimeout, pollEvery, ping)
	switch {
	case err == nil:
		return p, true, nil
	case errors.Is(err, testbin.ErrExited):
		return p, false, nil
	}
	p.Kill()
	return nil, false, err
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
