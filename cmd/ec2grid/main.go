// Command ec2grid runs ec2grid's long-lived servers, one subcommand each:
//
//	ec2grid cloud --state DIR [--listen ADDR] [--config FILE.hcl] [flags]   a local EC2-compatible cloud
//	ec2grid daemon [-home DIR]                                              the job queue daemon (docs/ec2grid-daemon.md)
//	ec2grid status [-home DIR]                                              is the daemon running
//	ec2grid stop [-home DIR]                                                stop the daemon
//	ec2grid help [COMMAND]                                                 usage
//
// Subcommands live in one table (commands), so the job queue's `ec2grid daemon` joins as
// one more entry. See docs/ec2grid-cloud.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// The exit statuses of every subcommand.
const (
	exitOK      = 0 // the command did its work, or stopped cleanly on SIGINT/SIGTERM
	exitFailure = 1 // it failed while running (a port in use, an unreadable state directory)
	exitUsage   = 2 // the command line or a config file is wrong; nothing was started
)

// command is one subcommand of ec2grid.
type command struct {
	name     string
	synopsis string // one line for the command list
	// run runs the subcommand with its arguments (after its name); it returns the exit
	// status. ctx ends on SIGINT or SIGTERM.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands is the subcommand table, in the order usage lists it. It is a function so the
// table is not a mutable global.
func commands() []command {
	return []command{
		{name: "cloud", synopsis: "run a local EC2-compatible cloud (EC2 Query API) for demos and tests", run: runCloud},
		{name: "daemon", synopsis: "run the job queue daemon in the foreground", run: runDaemon},
		{name: "status", synopsis: "say whether the daemon is running, and its pid, home, socket, uptime and jobs", run: runStatus},
		{name: "stop", synopsis: "stop the running daemon and wait until it has exited", run: runStop},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal starts a graceful stop, restore the default handling so
		// that a second Ctrl-C ends a shutdown that hangs.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is ec2grid with its arguments (without the program name) and output streams.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 {
			if c, ok := lookup(rest[0]); ok {
				return c.run(ctx, []string{"-help"}, stdout, stdout)
			}
			fmt.Fprintf(stderr, "ec2grid: unknown command %q\n", rest[0])
			usage(stderr)
			return exitUsage
		}
		usage(stdout)
		return exitOK
	}
	c, ok := lookup(name)
	if !ok {
		fmt.Fprintf(stderr, "ec2grid: unknown command %q\n", name)
		usage(stderr)
		return exitUsage
	}
	return c.run(ctx, rest, stdout, stderr)
}

// lookup finds a subcommand by name.
func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// usage prints the command list.
func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: ec2grid <command> [arguments]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.synopsis)
	}
	fmt.Fprintf(w, "  %-8s %s\n", "help", "this list, or a command's options: ec2grid help <command>")
}
