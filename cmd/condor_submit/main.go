// Command condor_submit turns an HTCondor submit file into job ads. For now it supports
// only HTCondor's -dry-run mode, which prints the ads instead of queueing them:
//
//	condor_submit -dry-run OUT [FILE]
//
// FILE is the submit file ("-" or absent: standard input). OUT receives every job's ad
// as Attr=value lines, one blank line between ads ("-": standard output, after the
// summary). The summary goes to standard output as HTCondor prints it:
//
//	Dry-Run job(s).
//	1 job(s) dry-run to cluster 1.
//
// Errors go to standard error as "ERROR: on Line N of FILE: key: message", and the exit
// status is 1. Queueing jobs for real needs the ec2grid daemon, which a later release adds.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/submit"
)

// Exit statuses, as HTCondor's condor_submit uses them.
const (
	exitOK    = 0
	exitError = 1
)

// dryRunCluster is the cluster id condor_submit -dry-run gives the first cluster: no
// schedd is asked for one.
const dryRunCluster = 1

const usage = `usage: condor_submit -dry-run OUT [FILE]
  -dry-run OUT   print the job ads FILE would queue to OUT ("-" for standard output)
                 instead of submitting them
FILE is a submit file; "-" or no FILE reads standard input.
Submitting to a schedd needs the ec2grid daemon, which is not available yet.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var out, file string
	dryRun, haveFile := false, false
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			if haveFile {
				fmt.Fprintf(stderr, "condor_submit: only one submit file may be given (%q and %q)\n%s", file, arg, usage)
				return exitError
			}
			file, haveFile = arg, true
			continue
		}
		switch strings.TrimLeft(arg, "-") {
		case "help", "h":
			fmt.Fprint(stdout, usage)
			return exitOK
		case "dry-run", "dry":
			if i+1 >= len(args) {
				fmt.Fprintf(stderr, "condor_submit: -dry-run needs an output file (\"-\" for standard output)\n%s", usage)
				return exitError
			}
			i++
			out, dryRun = args[i], true
		default:
			fmt.Fprintf(stderr, "condor_submit: unknown or unsupported option %s\n%s", arg, usage)
			return exitError
		}
	}
	if !dryRun {
		fmt.Fprintf(stderr, "\nERROR: condor_submit cannot queue jobs yet: the ec2grid daemon (schedd) is not available in this release.\n"+
			"Use condor_submit -dry-run - FILE to check a submit file and see the job ads it makes.\n")
		return exitError
	}
	if err := dryRunFile(file, out, stdin, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "\nERROR: %v\n", err)
		return exitError
	}
	return exitOK
}

// dryRunFile parses file, builds its jobs and prints them as -dry-run does.
func dryRunFile(file, out string, stdin io.Reader, stdout, stderr io.Writer) error {
	name, r := file, stdin
	if file == "" || file == "-" {
		name = "<stdin>"
	} else {
		fh, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("Failed to open command file (%s) (%v)", file, errors.Unwrap(err))
		}
		defer fh.Close()
		r = fh
	}
	f, err := submit.Parse(name, r)
	if err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("find the working directory: %w", err)
	}
	sub, err := f.Jobs(submit.Options{ClusterID: dryRunCluster, Owner: currentUser(), Dir: wd})
	if err != nil {
		return err
	}
	for _, w := range sub.Warnings {
		fmt.Fprintf(stderr, "\nWARNING: %s\n", w)
	}
	if out != "-" {
		if err := writeAdsFile(out, sub); err != nil {
			return err
		}
	}
	w := bufio.NewWriter(stdout)
	fmt.Fprintf(w, "Dry-Run job(s)%s\n", strings.Repeat(".", sub.NumJobs()))
	for _, c := range sub.Clusters {
		fmt.Fprintf(w, "%d job(s) dry-run to cluster %d.\n", len(c.Jobs), c.ID)
	}
	if out == "-" && sub.NumJobs() > 0 {
		// A blank line sets the ads apart from the summary, so a reader can skip to it.
		w.WriteString("\n")
		writeAds(w, sub)
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

// currentUser returns the submitting user's name for Owner.
func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}
