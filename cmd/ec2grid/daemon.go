package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ec2grid/ec2grid/config"
	"github.com/ec2grid/ec2grid/daemon"
)

// homeEnv returns an environment lookup in which EC2GRID_HOME is home when home is set
// (the -home flag), else the process's environment.
func homeEnv(home string) func(string) string {
	return func(name string) string {
		if name == "EC2GRID_HOME" && home != "" {
			return home
		}
		return os.Getenv(name)
	}
}

// homeFlag adds -home to fs.
func homeFlag(fs *flag.FlagSet) *string {
	return fs.String("home", "", "the daemon's directory (overrides EC2GRID_HOME; default ~/.ec2grid)")
}

// runDaemon is `ec2grid daemon`: the job queue daemon, in the foreground.
func runDaemon(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ec2grid daemon", flag.ContinueOnError)
	fs.SetOutput(stderr)
	home := homeFlag(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: ec2grid daemon [-home DIR]\n\n"+
			"Runs the job queue daemon and its grid manager in the foreground until SIGINT/SIGTERM\n"+
			"or `ec2grid stop`.\n"+
			"Knobs come from $EC2GRID_HOME/config.hcl and EC2GRID_<NAME> variables (docs/configuration.md).\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ec2grid daemon: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	cfg, err := config.Load(homeEnv(*home))
	if err != nil {
		fmt.Fprintf(stderr, "ec2grid daemon: configuration:\n%v\n", err)
		return exitUsage
	}
	err = daemon.Run(ctx, cfg, daemon.Options{
		Manager: gridManager(cfg, os.Getenv),
		Ready: func(socket string, pid int) {
			fmt.Fprintf(stderr, "ec2grid daemon: listening on %s (pid %d)\n", socket, pid)
		},
	})
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return exitFailure
	}
	return exitOK
}
