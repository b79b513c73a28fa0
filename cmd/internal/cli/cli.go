// Package cli holds what the condor_* commands share: finding the ec2grid daemon and
// saying so when it is not running, reading job-id arguments, HTCondor's exit statuses,
// the one implementation behind condor_rm, condor_hold and condor_release, and the query
// prologue condor_q and condor_history share.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/ec2grid/ec2grid/api"
)

// Exit statuses, as HTCondor's tools use them: 0 when everything asked for was done, 1
// otherwise.
const (
	ExitOK      = 0
	ExitFailure = 1
)

// RequestTimeout bounds one command's conversation with the daemon. A query over
// 100,000 jobs takes well under a second; a minute leaves room for a loaded machine
// while still ending a command whose daemon hangs.
const RequestTimeout = time.Minute

// Env is what a command takes from its process, so tests can run it in-process: the
// standard streams and the environment (os.Getenv in production).
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// OSEnv is the process's own streams and environment.
func OSEnv() Env {
	return Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}

// Connect returns a client of the daemon that $EC2GRID_HOME / $EC2GRID_SOCKET name. It
// does not dial: a daemon that is not running shows as an *api.NotRunningError on the
// first call.
func Connect(getenv func(string) string) (*api.Client, error) {
	_, socket, err := api.SocketPath(getenv)
	if err != nil {
		return nil, fmt.Errorf("find the ec2grid daemon: %w", err)
	}
	return api.NewClient(socket), nil
}

// Open is Connect and Context together, a command's start of its conversation with the
// daemon: done closes the client and cancels the context.
func Open(getenv func(string) string) (c *api.Client, ctx context.Context, done func(), err error) {
	c, err = Connect(getenv)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := Context()
	return c, ctx, func() { cancel(); c.Close() }, nil
}

// Context returns the context a command's calls to the daemon run under.
func Context() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), RequestTimeout)
}

// Fail prints err as HTCondor's tools print a fatal error ("ERROR: ..." on standard
// error) and returns ExitFailure. The daemon-not-running error's text already says how
// to start it.
func Fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "ERROR: %s\n", Message(err))
	return ExitFailure
}

// Message is the text to show for an error from the daemon: a daemon's error reply is
// shown as the daemon wrote it, without the transport's wrapping.
func Message(err error) string {
	var nr *api.NotRunningError
	if errors.As(err, &nr) {
		return nr.Error()
	}
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae.Message
	}
	return err.Error()
}

// CurrentUser is the name the daemon will know the caller by (it reads the socket's
// peer credentials; this is only for defaults such as condor_q's "your jobs").
func CurrentUser(getenv func(string) string) string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return getenv("USER")
}

// JobID is a job-id argument: a cluster ("12") or one job ("12.0").
type JobID struct {
	Cluster int64
	Proc    int64
	HasProc bool
}

// String is the id as the daemon's API takes it: "C" or "C.P".
func (j JobID) String() string {
	if j.HasProc {
		return fmt.Sprintf("%d.%d", j.Cluster, j.Proc)
	}
	return strconv.FormatInt(j.Cluster, 10)
}

// IsJobIDArg reports whether a bare argument is meant as a job id: HTCondor's tools
// take an argument that starts with a digit as cluster[.proc] and anything else as a
// user name.
func IsJobIDArg(a string) bool {
	return a != "" && a[0] >= '0' && a[0] <= '9'
}

// ParseJobID reads "C" or "C.P". Its errors are HTCondor's messages: "Invalid cluster #
// from 0." (cluster ids start at 1) and "Invalid proc # from 1.x.".
func ParseJobID(a string) (JobID, error) {
	c, p, hasProc := strings.Cut(a, ".")
	cn, err := strconv.ParseInt(c, 10, 64)
	if err != nil || cn <= 0 {
		return JobID{}, fmt.Errorf("Invalid cluster # from %s.", a)
	}
	if !hasProc {
		return JobID{Cluster: cn}, nil
	}
	pn, err := strconv.ParseInt(p, 10, 64)
	if err != nil || pn < 0 {
		return JobID{}, fmt.Errorf("Invalid proc # from %s.", a)
	}
	return JobID{Cluster: cn, Proc: pn, HasProc: true}, nil
}

// ValidUserName reports whether a can be a user-name argument: it becomes part of a
// ClassAd string literal, so quotes, backslashes and control characters are refused.
func ValidUserName(a string) bool {
	return a != "" && strings.IndexFunc(a, func(r rune) bool {
		return r < ' ' || r == '"' || r == '\\' || r == 0x7f
	}) < 0
}

// IsOption reports whether arg is -name or an abbreviation of it at least min letters
// long (HTCondor's is_dash_arg_prefix; one or two leading dashes).
func IsOption(arg, name string, min int) bool {
	if !strings.HasPrefix(arg, "-") {
		return false
	}
	a := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
	return len(a) >= min && len(a) <= len(name) && strings.EqualFold(a, name[:len(a)])
}
