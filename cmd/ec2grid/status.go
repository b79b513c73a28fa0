package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ec2grid/ec2grid/api"
	"github.com/ec2grid/ec2grid/daemon"
)

// pingTimeout bounds status's and stop's calls: a daemon that does not answer a ping in
// this long is wedged, and saying so beats hanging.
const pingTimeout = 10 * time.Second

// stopWait bounds how long `ec2grid stop` waits for the daemon's process to exit: its
// shutdown grace plus time to close the store.
const stopWait = daemon.ShutdownGrace + 20*time.Second

// stopPoll is how often stop looks whether the daemon's process is gone.
const stopPoll = 50 * time.Millisecond

// parseCtlArgs parses the -home flag of status and stop and returns the socket and home.
func parseCtlArgs(name string, args []string, stderr io.Writer) (home, socket string, code int, ok bool) {
	fs := flag.NewFlagSet("ec2grid "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	homeDir := homeFlag(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", "", exitOK, false
		}
		return "", "", exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ec2grid %s: unexpected argument %q\n", name, fs.Arg(0))
		return "", "", exitUsage, false
	}
	home, socket, err := api.SocketPath(homeEnv(*homeDir))
	if err != nil {
		fmt.Fprintf(stderr, "ec2grid %s: %v\n", name, err)
		return "", "", exitUsage, false
	}
	return home, socket, 0, true
}

// pingDaemon is the prologue status and stop share: read the subcommand's -home flag,
// ping the daemon there and, if then is not nil, call it under the same bounded context
// once the ping has answered. A daemon that is not running is said on stdout, any other
// error on stderr as "ec2grid name: ...", and then the exit status is returned with ok
// false.
func pingDaemon(ctx context.Context, name string, args []string, stdout, stderr io.Writer,
	then func(context.Context, *api.Client) error) (p *api.PingResponse, code int, ok bool) {
	_, socket, code, ok := parseCtlArgs(name, args, stderr)
	if !ok {
		return nil, code, false
	}
	c := api.NewClient(socket)
	defer c.Close()
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	p, err := c.Ping(pctx)
	if err == nil && then != nil {
		err = then(pctx, c)
	}
	if err != nil {
		if errors.Is(err, api.ErrNotRunning) {
			fmt.Fprintf(stdout, "ec2grid daemon: not running (no daemon at %s)\n", socket)
			return nil, exitFailure, false
		}
		fmt.Fprintf(stderr, "ec2grid %s: %v\n", name, err)
		return nil, exitFailure, false
	}
	return p, exitOK, true
}

// runStatus is `ec2grid status`: is the daemon running, and what is it.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	p, code, ok := pingDaemon(ctx, "status", args, stdout, stderr, nil)
	if !ok {
		return code
	}
	fmt.Fprintf(stdout, "ec2grid daemon: running\n")
	fmt.Fprintf(stdout, "  version: %s\n", p.Version)
	fmt.Fprintf(stdout, "  pid:     %d\n", p.PID)
	fmt.Fprintf(stdout, "  home:    %s\n", p.Home)
	fmt.Fprintf(stdout, "  socket:  %s\n", p.Socket)
	fmt.Fprintf(stdout, "  started: %s\n", p.Started.Local().Format(time.RFC3339))
	fmt.Fprintf(stdout, "  uptime:  %s\n", p.Uptime)
	fmt.Fprintf(stdout, "  jobs:    %d\n", p.Jobs)
	return exitOK
}

// runStop is `ec2grid stop`: ask the daemon to stop and wait until its process is gone.
// The pid comes from the daemon itself (its ping), not the pid file, so stop waits for
// the process it talked to.
func runStop(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	stop := func(ctx context.Context, c *api.Client) error { return c.Stop(ctx) }
	p, code, ok := pingDaemon(ctx, "stop", args, stdout, stderr, stop)
	if !ok {
		return code
	}
	deadline := time.Now().Add(stopWait)
	for processAlive(p.PID) && !lockFree(p.Home) {
		if time.Now().After(deadline) {
			fmt.Fprintf(stderr, "ec2grid stop: the daemon (pid %d) is still running after %s\n", p.PID, stopWait)
			return exitFailure
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(stderr, "ec2grid stop: interrupted while the daemon (pid %d) stops\n", p.PID)
			return exitFailure
		case <-time.After(stopPoll):
		}
	}
	fmt.Fprintf(stdout, "ec2grid daemon (pid %d) stopped\n", p.PID)
	return exitOK
}

// lockFree says whether home's daemon lock is free: the daemon releases it last, after
// closing its store, so a free lock means it has finished even while its process is
// still a zombie its parent has not reaped.
func lockFree(home string) bool {
	f, err := os.Open(filepath.Join(home, daemon.LockFile))
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return false
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return true
}

// processAlive says whether a process with pid exists (signal 0 probes without
// signalling; EPERM means it exists but belongs to someone else).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
