// Command condor_submit queues the jobs an HTCondor submit file describes in the ec2grid
// daemon, as HTCondor's condor_submit queues them in a schedd:
//
//	condor_submit [-terse] [-verbose] [-batch-name NAME] [-append LINE]... [NAME=value]...
//	              [-dry-run OUT] [FILE] [-queue ARGS]
//
// FILE is the submit file ("-" or absent: standard input). On success standard output
// reads, as HTCondor's does,
//
//	Submitting job(s)...
//	3 job(s) submitted to cluster 42.
//
// With -dry-run OUT nothing is queued: the ads go to OUT ("-": standard output, after the
// summary) and the summary says "Dry-Run job(s)." and "1 job(s) dry-run to cluster 1.".
//
// Errors go to standard error as "ERROR: on Line N of FILE: key: message", nothing is
// queued, and the exit status is 1. docs/condor_submit.md has the details.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ec2grid/ec2grid/api"
	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/cmd/internal/cli"
	"github.com/ec2grid/ec2grid/config"
	"github.com/ec2grid/ec2grid/submit"
)

// Exit statuses, as HTCondor's condor_submit uses them.
const (
	exitOK    = cli.ExitOK
	exitError = cli.ExitFailure
)

// dryRunCluster is the cluster id condor_submit -dry-run gives the first cluster: no
// schedd is asked for one.
const dryRunCluster = 1

// maxConflictRetries bounds how often a submit rebuilds its ads because another submit
// took the cluster id they were built for. Each retry follows a competitor's success, so
// a handful only runs out when many users submit at the same instant; failing then beats
// looping forever.
const maxConflictRetries = 8

// maxTransportRetries bounds resending a submit whose reply was lost (the daemon
// restarted, the connection broke). The resend carries the same SubmitKey, so it never
// queues the jobs twice; retryDelay gives a restarting daemon time to come back.
const (
	maxTransportRetries = 5
	retryDelay          = time.Second
)

// perJobSubmitTime is the time a submit is allowed per job on top of cli.RequestTimeout.
// One minute in all was too short for a 100,000-job cluster on a loaded machine (the
// daemon takes 42 s for one at a load average of 16 on 2 cores, and timed out at 17):
// 2 ms a job (500 jobs/s, a fifth of that rate) gives such a submit 260 s, while a
// daemon that hangs still ends a small submit within about a minute.
const perJobSubmitTime = 2 * time.Millisecond

// submitTimeout bounds sending n jobs to the daemon, resends included.
func submitTimeout(n int) time.Duration {
	return cli.RequestTimeout + time.Duration(n)*perJobSubmitTime
}

const usage = `usage: condor_submit [options] [NAME=value ...] [FILE] [-queue ARGS]
  -dry-run OUT       print the job ads FILE would queue to OUT ("-" for standard
                     output) instead of submitting them
  -append LINE, -a   add a submit command just before the queue statement (repeatable)
  -queue ARGS, -q    queue statement for a file without one; ARGS run to the next option
  -batch-name NAME   set JobBatchName, the name condor_q's batch view groups by
  -terse             print only the job ids queued ("42.0 - 42.2")
  -verbose           print each job's ad as it is queued
  NAME=value         set a submit variable, as if at the top of the file
FILE is a submit file; "-" or no FILE reads standard input.
`

func main() {
	os.Exit(runEnv(os.Args[1:], cli.OSEnv()))
}

// run is the command with the process's environment and the given streams.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runEnv(args, cli.Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: os.Getenv})
}

// options is the parsed command line.
type options struct {
	file      string
	haveFile  bool
	dryRun    bool
	out       string
	batchName string
	terse     bool
	verbose   bool
	x         extras

	refuseWritable bool // the SUBMIT_REFUSE_WRITABLE_KEY_FILES knob
}

// refuseWritableKeyFiles reads the user's configuration (EC2GRID_HOME/config.hcl and the
// EC2GRID_* environment, as the daemon does) for the one knob condor_submit uses. A
// configuration with mistakes stops the submit: the user may have asked for key files to be
// refused, and guessing otherwise would queue jobs against their wish.
func refuseWritableKeyFiles(getenv func(string) string) (bool, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return false, fmt.Errorf("read the configuration: %w", err)
	}
	return cfg.SubmitRefuseWritableKeyFiles, nil
}

func parseArgs(args []string, stdout, stderr io.Writer) (*options, int, bool) {
	o := &options{}
	fail := func(format string, a ...any) (*options, int, bool) {
		fmt.Fprintf(stderr, "condor_submit: "+format+"\n%s", append(a, usage)...)
		return nil, exitError, false
	}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			if arg != "-" && strings.Contains(arg, "=") {
				o.x.vars = append(o.x.vars, arg)
				continue
			}
			if o.haveFile {
				return fail("only one submit file may be given (%q and %q)", o.file, arg)
			}
			o.file, o.haveFile = arg, true
			continue
		}
		next := func() (string, bool) {
			if i+1 >= len(args) {
				return "", false
			}
			i++
			return args[i], true
		}
		switch {
		case cli.IsOption(arg, "help", 1):
			fmt.Fprint(stdout, usage)
			return nil, exitOK, false
		case cli.IsOption(arg, "dry-run", 3):
			v, ok := next()
			if !ok {
				return fail("-dry-run needs an output file (\"-\" for standard output)")
			}
			o.out, o.dryRun = v, true
		case cli.IsOption(arg, "append", 1):
			v, ok := next()
			if !ok {
				return fail("-append needs a submit command")
			}
			if q, isQ := appendIsQueue(v); isQ {
				if o.x.hasQ {
					return fail("only one -queue may be given")
				}
				o.x.queue, o.x.hasQ = q, true
				continue
			}
			o.x.appends = append(o.x.appends, v)
		case cli.IsOption(arg, "queue", 1):
			if o.x.hasQ {
				return fail("only one -queue may be given")
			}
			var parts []string
			for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				parts = append(parts, args[i])
			}
			o.x.queue, o.x.hasQ = strings.Join(parts, " "), true
		case cli.IsOption(arg, "batch-name", 1):
			v, ok := next()
			if !ok {
				return fail("-batch-name needs a name")
			}
			o.batchName = v
		case cli.IsOption(arg, "terse", 3):
			o.terse = true
		case cli.IsOption(arg, "verbose", 1):
			o.verbose = true
		case cli.IsOption(arg, "file", 2):
			v, ok := next()
			if !ok {
				return fail("-file needs a submit file")
			}
			if o.haveFile {
				return fail("only one submit file may be given (%q and %q)", o.file, v)
			}
			o.file, o.haveFile = v, true
		default:
			return fail("unknown or unsupported option %s", arg)
		}
	}
	return o, exitOK, true
}

func runEnv(args []string, env cli.Env) int {
	o, code, ok := parseArgs(args, env.Stdout, env.Stderr)
	if !ok {
		return code
	}
	f, comp, err := readFile(o, env.Stdin)
	if err != nil {
		fmt.Fprintf(env.Stderr, "\nERROR: %v\n", err)
		return exitError
	}
	if o.refuseWritable, err = refuseWritableKeyFiles(env.Getenv); err != nil {
		fmt.Fprintf(env.Stderr, "\nERROR: %v\n", err)
		return exitError
	}
	if o.dryRun {
		err = dryRun(f, comp, o, env.Stdout, env.Stderr)
	} else {
		err = queueJobs(f, comp, o, env)
	}
	if err != nil {
		var nr *api.NotRunningError
		if errors.As(err, &nr) {
			return cli.Fail(env.Stderr, err)
		}
		fmt.Fprintf(env.Stderr, "\nERROR: %s\n", cli.Message(err))
		return exitError
	}
	return exitOK
}

// readFile reads and parses the submit file with the command line's lines put in.
func readFile(o *options, stdin io.Reader) (*submit.File, *composed, error) {
	name, r := o.file, stdin
	if o.file == "" || o.file == "-" {
		name = "<stdin>"
	} else {
		fh, err := os.Open(o.file)
		if err != nil {
			return nil, nil, fmt.Errorf("Failed to open command file (%s) (%v)", o.file, errors.Unwrap(err))
		}
		defer fh.Close()
		r = fh
	}
	if o.x.empty() {
		f, err := submit.Parse(name, r)
		return f, nil, err
	}
	// Parse bounds what it reads; this read, for composing, must be bounded the same way
	// (condor_submit -a x=1 /dev/zero).
	src, err := io.ReadAll(io.LimitReader(r, submit.MaxFileBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read submit file %s: %w", name, err)
	}
	if len(src) > submit.MaxFileBytes {
		return nil, nil, fmt.Errorf("in %s: submit file is larger than %d bytes", name, submit.MaxFileBytes)
	}
	comp, err := compose(string(src), &o.x)
	if err != nil {
		return nil, nil, err
	}
	f, err := submit.Parse(name, strings.NewReader(comp.text))
	if err != nil {
		return nil, nil, comp.fixError(name, err)
	}
	return f, comp, nil
}

// build runs the file for a first cluster id and applies -batch-name.
func build(f *submit.File, comp *composed, o *options, cluster int64) (*submit.Submission, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("find the working directory: %w", err)
	}
	sub, err := f.Jobs(submit.Options{ClusterID: int(cluster), Owner: cli.CurrentUser(os.Getenv), Dir: wd, RefuseWritableKeyFiles: o.refuseWritable})
	if err != nil {
		return nil, comp.fixError(f.Name, err)
	}
	if o.batchName != "" {
		for _, c := range sub.Clusters {
			for _, ad := range c.Jobs {
				ad.SetString("JobBatchName", o.batchName)
			}
		}
	}
	return sub, nil
}

func printWarnings(stderr io.Writer, sub *submit.Submission) {
	for _, w := range sub.Warnings {
		fmt.Fprintf(stderr, "\nWARNING: %s\n", w)
	}
}

// dryRun builds the jobs and prints them as -dry-run does.
func dryRun(f *submit.File, comp *composed, o *options, stdout, stderr io.Writer) error {
	sub, err := build(f, comp, o, dryRunCluster)
	if err != nil {
		return err
	}
	printWarnings(stderr, sub)
	if o.out != "-" {
		if err := writeAdsFile(o.out, sub); err != nil {
			return err
		}
	}
	w := bufio.NewWriter(stdout)
	fmt.Fprintf(w, "Dry-Run job(s)%s\n", strings.Repeat(".", sub.NumJobs()))
	for _, c := range sub.Clusters {
		fmt.Fprintf(w, "%d job(s) dry-run to cluster %d.\n", len(c.Jobs), c.ID)
	}
	if o.out == "-" && sub.NumJobs() > 0 {
		// A blank line sets the ads apart from the summary, so a reader can skip to it.
		w.WriteString("\n")
		writeAds(w, sub)
	}
	return w.Flush()
}

// queueJobs builds the jobs for the daemon's next cluster id and submits them, rebuilding
// when another submit wins that id, and resending with the same SubmitKey when a reply
// is lost.
func queueJobs(f *submit.File, comp *composed, o *options, env cli.Env) error {
	client, err := cli.Connect(env.Getenv)
	if err != nil {
		return err
	}
	defer client.Close()
	ctx, cancel := cli.Context()
	defer cancel()
	next, err := client.NextCluster(ctx)
	if err != nil {
		return err
	}
	var sub *submit.Submission
	var resp *api.SubmitResponse
	for attempt := 0; ; attempt++ {
		if sub, err = build(f, comp, o, next); err != nil {
			return err
		}
		if sub.NumJobs() == 0 {
			break
		}
		req := &api.SubmitRequest{SubmitKey: uuid.NewString(), ExpectCluster: next}
		for _, c := range sub.Clusters {
			// Each cluster's common attributes once, then each job's own, as
			// condor_submit sends HTCondor's schedd a cluster ad and proc ads.
			req.AddCluster(c.Jobs)
		}
		sctx, scancel := context.WithTimeout(context.Background(), submitTimeout(sub.NumJobs()))
		resp, err = submitOnce(sctx, client, req)
		scancel()
		var ae *api.Error
		if err == nil || !errors.As(err, &ae) || ae.Code != api.CodeConflict {
			break
		}
		if attempt+1 >= maxConflictRetries {
			return fmt.Errorf("Failed to queue the jobs: cluster id %d was taken by other submits %d times; try again", next, maxConflictRetries)
		}
		if next = ae.NextCluster; next == 0 {
			// A fresh bound: a large build and submit may have used up ctx's.
			nctx, ncancel := cli.Context()
			next, err = client.NextCluster(nctx)
			ncancel()
			if err != nil {
				return err
			}
		}
	}
	if err != nil {
		return err
	}
	if resp != nil && len(resp.Clusters) != len(sub.Clusters) {
		return fmt.Errorf("the ec2grid daemon queued %d clusters, condor_submit sent %d", len(resp.Clusters), len(sub.Clusters))
	}
	printWarnings(env.Stderr, sub)
	return printSubmitted(env.Stdout, o, sub, resp)
}

// submitOnce sends req, resending it (same SubmitKey) when the reply is lost. A daemon
// that is not running when the first attempt dials has received nothing, so that is
// reported at once; after a lost reply it may be restarting, so resends go on.
func submitOnce(ctx context.Context, client *api.Client, req *api.SubmitRequest) (*api.SubmitResponse, error) {
	var lastErr error
	for attempt := 0; attempt <= maxTransportRetries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("submit %s: %w (after: %v)", req.SubmitKey, ctx.Err(), lastErr)
			case <-time.After(retryDelay):
			}
		}
		resp, err := client.Submit(ctx, req)
		if err == nil {
			return resp, nil
		}
		var ae *api.Error
		if errors.As(err, &ae) || attempt == 0 && errors.Is(err, api.ErrNotRunning) {
			return nil, err
		}
		lastErr = err
	}
	return nil, fmt.Errorf("Failed to queue the jobs: no reply from the ec2grid daemon after %d attempts (the jobs were queued at most once): %w", maxTransportRetries+1, lastErr)
}

// printSubmitted prints HTCondor's summary: "Submitting job(s)" with a dot per job (or
// each job's ad with -verbose), then "N job(s) submitted to cluster C." per cluster;
// -terse prints only "C.first - C.last" per cluster.
func printSubmitted(stdout io.Writer, o *options, sub *submit.Submission, resp *api.SubmitResponse) error {
	w := bufio.NewWriter(stdout)
	if resp == nil {
		// Nothing to queue ("queue 0"): the daemon was not asked, and HTCondor prints
		// the heading alone.
		if !o.terse {
			w.WriteString("Submitting job(s)\n")
		}
		return w.Flush()
	}
	clusters := resp.Clusters
	if o.terse {
		for _, c := range clusters {
			if c.Procs > 0 {
				fmt.Fprintf(w, "%d.0 - %d.%d\n", c.Cluster, c.Cluster, c.Procs-1)
			}
		}
		return w.Flush()
	}
	w.WriteString("Submitting job(s)")
	for i, c := range sub.Clusters {
		for p, ad := range c.Jobs {
			if !o.verbose {
				w.WriteString(".")
				continue
			}
			fmt.Fprintf(w, "\n** Proc %d.%d:\n", clusters[i].Cluster, p)
			ad = ad.Copy()
			ad.SetInt("ClusterId", clusters[i].Cluster)
			w.WriteString(ad.MarshalLong())
		}
	}
	w.WriteString("\n")
	for _, c := range clusters {
		if c.Procs > 0 {
			fmt.Fprintf(w, "%d job(s) submitted to cluster %d.\n", c.Procs, c.Cluster)
		}
	}
	return w.Flush()
}

func writeAdsFile(path string, sub *submit.Submission) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cannot write the dry-run output: %w", err)
	}
	w := bufio.NewWriter(fh)
	writeAds(w, sub)
	if err := w.Flush(); err != nil {
		fh.Close()
		return fmt.Errorf("write the dry-run output %s: %w", path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("write the dry-run output %s: %w", path, err)
	}
	return nil
}

// writeAds prints each ad as HTCondor's -dry-run does: Attr=value lines, the value in
// old ClassAd syntax as stored (not evaluated), attributes sorted case-insensitively, and
// one blank line between ads.
func writeAds(w *bufio.Writer, sub *submit.Submission) {
	first := true
	for _, c := range sub.Clusters {
		for _, ad := range c.Jobs {
			if !first {
				w.WriteString("\n")
			}
			first = false
			for _, name := range ad.Names() {
				e, _ := ad.Lookup(name)
				w.WriteString(name)
				w.WriteString("=")
				w.WriteString(classad.Unparse(e))
				w.WriteString("\n")
			}
		}
	}
}
