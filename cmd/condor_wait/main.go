// Command condor_wait watches an HTCondor user log until the jobs it mentions have
// finished, as HTCondor's condor_wait does:
//
//	condor_wait [-debug] [-status] [-echo[:FMT]] [-wait SECONDS] [-num N] [-allevents] LOGFILE [CLUSTER[.PROC[.SUBPROC]]]
//
// It reads the log from the start. A submit event (000) adds a job to the set it watches; a
// terminated (005) or aborted (009) event removes it; a hold (012) does not. It prints
// "All jobs done." and exits 0 once the set is empty after the log's existing events have
// been read, or "Specifed number of jobs (N) done." [sic] once N jobs have ended with -num.
// Any other end exits 1: "Time expired." when -wait runs out, "This log does not mention
// any jobs!" (or "that job!"), "Couldn't open FILE: ERROR". -wait 0 reads to the end of
// the log once and exits 0, as HTCondor does. See docs/condor_wait.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/ec2grid/ec2grid/userlog"
)

// condor_wait's exit statuses. As HTCondor's wait.cpp insists, it exits 0 only when it has
// positively seen the jobs end; every other outcome, errors included, is 1.
const (
	exitDone    = 0
	exitNotDone = 1
)

// anyNumber in a job id field matches every cluster, proc or subproc (HTCondor's ANY_NUMBER).
const anyNumber = -1

// allEventsMin is -num's value under -allevents, HTCondor's INT_MAX: no count of finished
// jobs ever reaches it, so the log is read to its end.
const allEventsMin = math.MaxInt32

const usageText = `
Use: condor_wait [options] <log-file> [job-number]
Where options are:
    -help             Display options
    -version          Display version
    -debug            Show extra debugging info
    -status           Show job start and terminate info
    -echo[:<fmt>]     Echo log events relevant to [job-number]
       optional <fmt> is one or more log format options:
         ISO_DATE     date in Year-Month-Day form
         UTC          echo time as UTC time
         SUB_SECOND   echo time with milliseconds
         LEGACY       date in Month/Day form
         JSON         echo in JSON log format
    -num <number>     Wait for this many jobs to end
                       (default is all jobs)
    -wait <seconds>   Wait no more than this time
                       (default is unlimited)
    -allevents        Continue on even if all jobs have ended.
                      use with -echo to transcribe the whole log
                      cannot be used with -num

This command watches a log file, and indicates when
a specific job (or all jobs mentioned in the log)
have completed or aborted. It returns success if
all such jobs have completed or aborted, and returns
failure otherwise.

Examples:
    condor_wait logfile
    condor_wait logfile 35
    condor_wait logfile 1406.35
    condor_wait -wait 60 logfile 13.25.3
    condor_wait -num 2 logfile

Transcribe an entire log to UTC timestamps:
    condor_wait -all -echo:UTC logfile
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is the parsed command line.
type config struct {
	logFile, jobName string
	debug, status    bool
	echo, echoJSON   bool
	echoFormat       userlog.FormatOptions
	minJobs          int
	dontWait         bool      // -wait 0 (or -allevents without -wait): read to the end once
	stop             time.Time // -wait's deadline; zero means wait forever
	cluster          int
	proc             int
	subproc          int
}

// run is condor_wait with its arguments (without the program name) and output streams.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, code, ok := parseArgs(args, stdout, stderr)
	if !ok {
		return code
	}
	return watch(ctx, cfg, stdout, stderr)
}

// dashArg strips the one or two dashes HTCondor's tools accept before an option name.
func dashArg(a string) (string, bool) {
	if !strings.HasPrefix(a, "-") {
		return "", false
	}
	a = strings.TrimPrefix(a[1:], "-")
	return a, a != ""
}

// parseArgs reads the command line the way wait.cpp does, in order, so later options can
// undo earlier ones (-debug turns -status off; -wait after -allevents sets a deadline).
func parseArgs(args []string, stdout, stderr io.Writer) (cfg config, code int, ok bool) {
	usage := func() { fmt.Fprint(stderr, usageText) }
	cfg.cluster, cfg.proc, cfg.subproc = anyNumber, anyNumber, anyNumber
	waitSecs := 0
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, isOpt := dashArg(a)
		switch {
		case a == "-help":
			usage()
			return cfg, exitDone, false
		case a == "-version":
			// HTCondor's condor_wait exits 1 after -version too: nothing was waited for.
			fmt.Fprintf(stdout, "$CondorVersion: ec2grid condor_wait $\n$CondorPlatform: %s-%s $\n", runtime.GOOS, runtime.GOARCH)
			return cfg, exitNotDone, false
		case a == "-debug":
			cfg.debug, cfg.status = true, false
		case a == "-status":
			if cfg.debug {
				fmt.Fprintln(stderr, "-status is implied by -debug")
			} else {
				cfg.status = true
			}
		case isOpt && (name == "echo" || strings.HasPrefix(name, "echo:")):
			cfg.echo = true
			if _, fmtOpts, found := strings.Cut(name, ":"); found {
				if msg := parseEchoFormat(fmtOpts, &cfg); msg != "" {
					fmt.Fprintf(stderr, "condor_wait: %s\n", msg)
					return cfg, exitNotDone, false
				}
			}
		case isOpt && len(name) >= 3 && strings.HasPrefix("allevents", name):
			if cfg.minJobs != 0 {
				fmt.Fprintln(stderr, "-allevents cannot be used with -num")
				usage()
				return cfg, exitNotDone, false
			}
			cfg.minJobs = allEventsMin
			if waitSecs == 0 {
				cfg.dontWait = true
			}
		case a == "-wait":
			i++
			if i >= len(args) {
				fmt.Fprintln(stderr, "-wait requires an argument")
				usage()
				return cfg, exitNotDone, false
			}
			waitSecs = atoi(args[i])
			if waitSecs != 0 {
				cfg.dontWait = false
				cfg.stop = time.Now().Add(time.Duration(waitSecs) * time.Second)
			} else {
				cfg.dontWait = true
			}
		case a == "-num":
			i++
			if i >= len(args) {
				fmt.Fprintln(stderr, "-num requires an argument")
				usage()
				return cfg, exitNotDone, false
			}
			if cfg.minJobs == allEventsMin {
				fmt.Fprintln(stderr, "-num cannot be used with -allevents")
				usage()
				return cfg, exitNotDone, false
			}
			cfg.minJobs = atoi(args[i])
			if cfg.minJobs < 1 {
				fmt.Fprintln(stderr, "-num must be greater than zero")
				usage()
				return cfg, exitNotDone, false
			}
		case cfg.logFile != "" && cfg.jobName == "" && a == "-1":
			cfg.jobName = a // a bare -1 means all clusters
		case a == "" || a[0] != '-':
			switch {
			case cfg.logFile == "":
				cfg.logFile = a
			case cfg.jobName == "":
				cfg.jobName = a
			default:
				fmt.Fprintf(stderr, "Extra argument: %s\n\n", a)
				usage()
				return cfg, exitNotDone, false
			}
		default:
			usage()
			return cfg, exitNotDone, false
		}
	}
	if cfg.logFile == "" {
		usage()
		return cfg, exitNotDone, false
	}
	if cfg.jobName != "" {
		ids, n := scanJobID(cfg.jobName)
		if n < 1 {
			fmt.Fprintf(stderr, "Couldn't understand job number: %s\n", cfg.jobName)
			return cfg, exitNotDone, false
		}
		cfg.cluster, cfg.proc, cfg.subproc = ids[0], ids[1], ids[2]
	}
	return cfg, 0, true
}

// parseEchoFormat applies -echo:<fmt>, HTCondor's user log format options: a list of
// ISO_DATE, UTC, SUB_SECOND, LEGACY, JSON (case-insensitive, "!" to turn one off);
// unknown words are ignored, as HTCondor ignores them. XML output is not implemented.
func parseEchoFormat(s string, cfg *config) string {
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		on := !strings.HasPrefix(w, "!")
		switch strings.ToUpper(strings.TrimPrefix(w, "!")) {
		case "ISO_DATE":
			cfg.echoFormat.Legacy = !on
		case "UTC":
			cfg.echoFormat.UTC = on
		case "SUB_SECOND":
			cfg.echoFormat.SubSecond = on
		case "LEGACY":
			if on {
				cfg.echoFormat.Legacy, cfg.echoFormat.UTC, cfg.echoFormat.SubSecond = true, false, false
			} else {
				cfg.echoFormat.Legacy = false
			}
		case "JSON":
			cfg.echoJSON = on
		case "XML":
			if on {
				return "-echo:XML is not supported; -echo:JSON is"
			}
		}
	}
	return ""
}

// atoi is C's atoi: leading blanks, a sign, digits, and anything after ignored; 0 if there
// are no digits. HTCondor reads -wait and -num with it.
func atoi(s string) int {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	v := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		v = min(v*10+int(s[i]-'0'), math.MaxInt32) // C's int; clamp rather than wrap
	}
	if neg {
		return -v
	}
	return v
}

// scanJobID is sscanf(s, "%d.%d.%d"): it returns the fields read (unread ones stay
// anyNumber) and how many matched.
func scanJobID(s string) ([3]int, int) {
	ids := [3]int{anyNumber, anyNumber, anyNumber}
	for n := 0; n < 3; n++ {
		if n > 0 {
			if s == "" || s[0] != '.' {
				return ids, n
			}
			s = s[1:]
		}
		t := strings.TrimLeft(s, " \t\n\v\f\r")
		j := 0
		if j < len(t) && (t[j] == '-' || t[j] == '+') {
			j++
		}
		k := j
		for k < len(t) && t[k] >= '0' && t[k] <= '9' {
			k++
		}
		if k == j {
			return ids, n
		}
		ids[n] = atoi(t[:k])
		s = t[k:]
	}
	return ids, 3
}

// openError renders an open failure as HTCondor does, with strerror's wording
// ("No such file or directory").
func openError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	msg := err.Error()
	if msg != "" && msg[0] >= 'a' && msg[0] <= 'z' {
		msg = string(msg[0]-'a'+'A') + msg[1:]
	}
	return msg
}

// watch is wait.cpp's main loop. First it reads the events already in the log without
// waiting (the initial scan); then it waits for more, up to -wait's deadline.
func watch(ctx context.Context, cfg config, stdout, stderr io.Writer) int {
	debugf := func(format string, args ...any) {
		if cfg.debug {
			fmt.Fprintf(stderr, "%s %s\n", time.Now().Format("01/02/06 15:04:05"), fmt.Sprintf(format, args...))
		}
	}
	if cfg.minJobs > 0 && cfg.minJobs != allEventsMin {
		debugf("Will wait until %d jobs end", cfg.minJobs)
	}
	if !cfg.stop.IsZero() {
		debugf("Will wait until %s", cfg.stop.Format(time.ANSIC))
	} else if cfg.dontWait {
		debugf("Will exit at EOF")
	}
	debugf("Reading log file %s", cfg.logFile)

	if fi, err := os.Stat(cfg.logFile); err == nil && fi.IsDir() {
		fmt.Fprintf(stderr, "Couldn't open %s: %s\n", cfg.logFile, openError(syscall.EISDIR))
		return exitNotDone
	}
	fl, err := userlog.Follow(cfg.logFile, userlog.FollowOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "Couldn't open %s: %s\n", cfg.logFile, openError(err))
		return exitNotDone
	}
	defer fl.Close()

	matches := func(h userlog.Header) bool {
		return (cfg.cluster == anyNumber || h.Cluster == cfg.cluster) &&
			(cfg.proc == anyNumber || h.Proc == cfg.proc) &&
			(cfg.subproc == anyNumber || h.Subproc == cfg.subproc)
	}
	table := map[string]bool{} // jobs submitted and not yet ended, by "C.P.S"
	submitted, aborted, completed := 0, 0, 0
	initialScan := true
	for {
		if !cfg.dontWait && !cfg.stop.IsZero() && !time.Now().Before(cfg.stop) {
			fmt.Fprintln(stdout, "Time expired.")
			return exitNotDone
		}
		var ev userlog.Event
		var err error
		if initialScan || cfg.dontWait {
			ev, err = fl.Poll()
		} else {
			ev, err = next(ctx, fl, cfg.stop)
			if ctx.Err() != nil {
				return exitNotDone // interrupted
			}
		}
		switch {
		case err == nil:
			h := ev.EventHeader()
			key := fmt.Sprintf("%d.%d.%d", h.Cluster, h.Proc, h.Subproc)
			if matches(h) {
				if cfg.echo {
					echo(stdout, stderr, ev, cfg)
				}
				switch ev.EventNumber() {
				case userlog.EventSubmit:
					debugf("%s submitted", key)
					if cfg.status {
						fmt.Fprintf(stdout, "%s submitted\n", key)
					}
					table[key] = true
					submitted++
				case userlog.EventTerminated:
					debugf("%s completed", key)
					if cfg.status {
						fmt.Fprintf(stdout, "%s completed\n", key)
					}
					delete(table, key)
					completed++
				case userlog.EventAborted:
					debugf("%s aborted", key)
					if cfg.status {
						fmt.Fprintf(stdout, "%s aborted\n", key)
					}
					delete(table, key)
					aborted++
				case userlog.EventExecute:
					if cfg.status {
						host := ""
						if x, ok := ev.(*userlog.ExecuteEvent); ok {
							host = x.ExecuteHost
						}
						fmt.Fprintf(stdout, "%s executing on host %s\n", key, host)
					}
				}
			}
			if cfg.minJobs > 0 && completed+aborted >= cfg.minJobs {
				fmt.Fprintf(stdout, "Specifed number of jobs (%d) done.\n", cfg.minJobs)
				return exitDone
			}
			if len(table) == 0 && submitted > 0 && cfg.minJobs == 0 && !initialScan {
				fmt.Fprintln(stdout, "All jobs done.")
				return exitDone
			}
		case errors.Is(err, userlog.ErrNoEvent):
			if initialScan {
				// The initial scan ends at the first moment nothing more is there.
				initialScan = false
				if len(table) == 0 && cfg.minJobs == 0 {
					fmt.Fprintln(stdout, "All jobs done.")
					return exitDone
				}
			} else if len(table) == 0 && submitted == 0 {
				if cfg.cluster == anyNumber {
					fmt.Fprintln(stderr, "This log does not mention any jobs!")
				} else {
					fmt.Fprintln(stderr, "This log does not mention that job!")
				}
				if !cfg.dontWait {
					return exitNotDone
				}
			}
			if cfg.dontWait {
				return exitDone
			}
		default:
			// HTCondor stops at a log it cannot read (ULOG_RD_ERROR) and says so only
			// under -debug; saying why is kinder, and stdout stays as HTCondor's.
			debugf("Got ULOG_RD_ERROR, done.")
			fmt.Fprintf(stderr, "condor_wait: %v\n", err)
			return exitNotDone
		}
	}
}

// next waits for the next event until the deadline (none if zero). It reports a deadline
// passing with nothing new as userlog.ErrNoEvent, as HTCondor's wait does.
func next(ctx context.Context, fl *userlog.Follower, stop time.Time) (userlog.Event, error) {
	wctx := ctx
	if !stop.IsZero() {
		var cancel context.CancelFunc
		wctx, cancel = context.WithDeadline(ctx, stop)
		defer cancel()
	}
	ev, err := fl.Next(wctx)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, userlog.ErrNoEvent
	}
	return ev, err
}

// echo prints an event as -echo does: in the log's text form, "..." line included, or as
// one JSON object.
func echo(stdout, stderr io.Writer, ev userlog.Event, cfg config) {
	var b []byte
	var err error
	if cfg.echoJSON {
		b, err = userlog.FormatJSON(ev, cfg.echoFormat)
		b = append(b, '\n')
	} else {
		b, err = userlog.Format(ev, cfg.echoFormat)
	}
	if err != nil {
		fmt.Fprintf(stderr, "condor_wait: %v\n", err)
		return
	}
	stdout.Write(b)
}
