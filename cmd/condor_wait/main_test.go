package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/internal/testbin"
	"github.com/ec2grid/ec2grid/userlog"
)

// The events of one EC2 job's life, as the measured HTCondor run wrote them.
const ec2 = "ec2 http://ec2.us-east-1.localhost:5055/"

func hdr(c, p int) userlog.Header {
	return userlog.Header{Cluster: c, Proc: p, Time: time.Date(2026, 11, 23, 12, 50, 11, 0, time.Local)}
}

func submit(c, p int) userlog.Event {
	return &userlog.SubmitEvent{Header: hdr(c, p), SubmitHost: "<127.0.0.1:36163?addrs=127.0.0.1-36163&alias=vm>"}
}
func gridSubmit(c, p int) userlog.Event {
	return &userlog.GridSubmitEvent{Header: hdr(c, p), GridResource: ec2, GridJobID: ec2 + " 4a5d3840 i-621d4cf62692ac985"}
}
func execute(c, p int) userlog.Event {
	return &userlog.ExecuteEvent{Header: hdr(c, p), ExecuteHost: ec2}
}
func held(c, p int) userlog.Event {
	return &userlog.HeldEvent{Header: hdr(c, p), Reason: "via condor_hold (by user alice)", Code: 1}
}
func terminated(c, p int) userlog.Event {
	return &userlog.TerminatedEvent{Header: hdr(c, p), TerminatedNormally: true}
}
func aborted(c, p int) userlog.Event {
	return &userlog.AbortedEvent{Header: hdr(c, p), Reason: "via condor_rm (by user htcu)"}
}

// writeLog writes events to a new log and returns its path.
func writeLog(t *testing.T, events ...userlog.Event) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "job.log")
	w, err := userlog.Open(path, userlog.WriterOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, e := range events {
		if err := w.Write(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func text(t *testing.T, events ...userlog.Event) string {
	t.Helper()
	var b []byte
	for _, e := range events {
		x, err := userlog.Format(e, userlog.FormatOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, x...)
	}
	return string(b)
}

// bins is the condor_wait binary, built once on first use (the -short run builds nothing).
var bins = &testbin.Set{Prefix: "condor_wait-bin", Commands: []string{"condor_wait"}, OnFirstUse: true}

func TestMain(m *testing.M) { testbin.Main(m, bins) }

// runTimeout ends a run that would otherwise wait forever (a test without -wait on a log
// whose jobs never end); no case should come near it.
const runTimeout = 20 * time.Second

func runArgs(args ...string) (code int, stdout, stderr string) {
	var out, errOut testbin.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	code = run(ctx, args, &out, &errOut)
	if ctx.Err() != nil {
		errOut.Write([]byte("(test: run timed out)"))
	}
	return code, out.String(), errOut.String()
}

// TestRun covers every way condor_wait ends on a log that does not change.
func TestRun(t *testing.T) {
	t.Parallel()
	oneJobDone := writeLog(t, submit(1, 0), gridSubmit(1, 0), execute(1, 0), terminated(1, 0))
	removed := writeLog(t, submit(1, 0), gridSubmit(1, 0), execute(1, 0), aborted(1, 0))
	twoJobsOneDone := writeLog(t, submit(1, 0), submit(1, 1), execute(1, 0), held(1, 1), terminated(1, 0))
	twoClusters := writeLog(t, submit(1, 0), submit(2, 0), terminated(1, 0))
	doneThenNew := writeLog(t, submit(1, 0), terminated(1, 0), submit(1, 1))
	empty := writeLog(t)
	noJobs := writeLog(t, &userlog.GridResourceDownEvent{Header: hdr(0, 0), GridResource: ec2})
	malformed := filepath.Join(t.TempDir(), "bad.log")
	if err := os.WriteFile(malformed, []byte(text(t, submit(1, 0))+"005 (001.000.000) 2026-11-23 12:50:11 Job terminated.\n\tgarbage\n...\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.log")

	tests := []struct {
		name       string
		args       []string
		code       int
		out, err   string // exact stdout; stderr must contain err
		exactError bool
	}{
		{"all jobs done", []string{oneJobDone}, 0, "All jobs done.\n", "", true},
		{"aborted counts as done", []string{removed}, 0, "All jobs done.\n", "", true},
		{"held does not count", []string{"-wait", "1", twoJobsOneDone}, 1, "Time expired.\n", "", true},
		{"num reached", []string{"-num", "1", twoJobsOneDone}, 0, "Specifed number of jobs (1) done.\n", "", true},
		{"num reached by abort", []string{"-num", "1", removed}, 0, "Specifed number of jobs (1) done.\n", "", true},
		{"num not reached", []string{"-num", "2", "-wait", "1", twoJobsOneDone}, 1, "Time expired.\n", "", true},
		{"job id done", []string{twoClusters, "1"}, 0, "All jobs done.\n", "", true},
		{"job id proc done", []string{twoJobsOneDone, "1.0"}, 0, "All jobs done.\n", "", true},
		{"job id full done", []string{twoJobsOneDone, "1.0.0"}, 0, "All jobs done.\n", "", true},
		{"job id not done", []string{"-wait", "1", twoClusters, "2"}, 1, "Time expired.\n", "", true},
		{"bare -1 means all", []string{"-wait", "1", twoClusters, "-1"}, 1, "Time expired.\n", "", true},
		{"a job ending before another starts is not the end", []string{"-wait", "1", doneThenNew}, 1, "Time expired.\n", "", true},
		// HTCondor's condor_wait reports an empty log as done once its first scan ends.
		{"empty log", []string{empty}, 0, "All jobs done.\n", "", true},
		{"no jobs, -num", []string{"-num", "1", "-wait", "1", noJobs}, 1, "", "This log does not mention any jobs!\n", true},
		{"not that job, -num", []string{"-num", "1", "-wait", "1", twoClusters, "7"}, 1, "", "This log does not mention that job!\n", true},
		// -wait 0 reads to the end and exits 0, jobs outstanding or not, as HTCondor does.
		{"wait 0 outstanding", []string{"-wait", "0", twoJobsOneDone}, 0, "", "", true},
		{"wait 0 no jobs -num", []string{"-wait", "0", "-num", "1", noJobs}, 0, "", "", true},
		{"negative wait has already expired", []string{"-wait", "-5", oneJobDone}, 1, "Time expired.\n", "", true},
		{"missing log", []string{missing}, 1, "", "Couldn't open " + missing + ": No such file or directory\n", true},
		{"directory", []string{filepath.Dir(missing)}, 1, "", "Couldn't open " + filepath.Dir(missing) + ": Is a directory\n", true},
		{"malformed event", []string{malformed}, 1, "", "condor_wait: userlog: line 4 (event at byte 116): expected", false},
		{"status", []string{"-status", oneJobDone}, 0,
			"1.0.0 submitted\n1.0.0 executing on host " + ec2 + "\n1.0.0 completed\nAll jobs done.\n", "", true},
		{"status abort", []string{"-status", removed}, 0,
			"1.0.0 submitted\n1.0.0 executing on host " + ec2 + "\n1.0.0 aborted\nAll jobs done.\n", "", true},
		{"status after debug", []string{"-debug", "-status", oneJobDone}, 0, "All jobs done.\n", "-status is implied by -debug\n", false},
		{"debug", []string{"-debug", oneJobDone}, 0, "All jobs done.\n", "Reading log file " + oneJobDone, false},
		{"echo", []string{"-echo", oneJobDone}, 0,
			text(t, submit(1, 0), gridSubmit(1, 0), execute(1, 0), terminated(1, 0)) + "All jobs done.\n", "", true},
		{"echo one job", []string{"-echo", "-wait", "1", twoClusters, "2"}, 1, text(t, submit(2, 0)) + "Time expired.\n", "", true},
		{"allevents transcribes everything", []string{"-allevents", "-echo:UTC", doneThenNew}, 0,
			strings.ReplaceAll(text(t, submit(1, 0), terminated(1, 0), submit(1, 1)), "2026-11-23 12:50:11 ",
				hdr(0, 0).Time.UTC().Format("2006-01-02 15:04:05Z ")), "", true},
		{"echo JSON", []string{"-echo:JSON", removed, "1.0"}, 0, "", "", false},
		{"help", []string{"-help"}, 0, "", "Use: condor_wait [options] <log-file> [job-number]", false},
		{"version", []string{"-version"}, 1, "", "", false},
		{"no log", []string{}, 1, "", "Use: condor_wait", false},
		{"unknown option", []string{"-bogus", oneJobDone}, 1, "", "Use: condor_wait", false},
		{"wait without value", []string{oneJobDone, "-wait"}, 1, "", "-wait requires an argument\n", false},
		{"num without value", []string{oneJobDone, "-num"}, 1, "", "-num requires an argument\n", false},
		{"num zero", []string{"-num", "0", oneJobDone}, 1, "", "-num must be greater than zero\n", false},
		{"num with allevents", []string{"-allevents", "-num", "2", oneJobDone}, 1, "", "-num cannot be used with -allevents\n", false},
		{"allevents with num", []string{"-num", "2", "-all", oneJobDone}, 1, "", "-allevents cannot be used with -num\n", false},
		{"extra argument", []string{oneJobDone, "1", "2"}, 1, "", "Extra argument: 2\n\n", false},
		{"bad job id", []string{oneJobDone, "x"}, 1, "", "Couldn't understand job number: x\n", true},
		{"echo XML", []string{"-echo:XML", oneJobDone}, 1, "", "not supported", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runArgs(tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stdout %q, stderr %q)", code, tt.code, out, errOut)
			}
			if tt.out != "" || tt.exactError {
				if out != tt.out {
					t.Errorf("stdout:\n got %q\nwant %q", out, tt.out)
				}
			}
			if tt.exactError && errOut != tt.err || !strings.Contains(errOut, tt.err) {
				t.Errorf("stderr:\n got %q\nwant %q", errOut, tt.err)
			}
		})
	}
}

func TestEchoJSON(t *testing.T) {
	t.Parallel()
	path := writeLog(t, submit(1, 0), aborted(1, 0))
	code, out, _ := runArgs("-echo:JSON,UTC", path)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(out, "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], `{"EventTypeNumber":0,"MyType":"SubmitEvent","EventTime":"`) ||
		!strings.Contains(lines[1], `"Reason":"via condor_rm (by user htcu)"`) || lines[2] != "All jobs done." {
		t.Errorf("unexpected output:\n%s", out)
	}
}

// TestRunFollows starts condor_wait on a log whose job has not ended, then writes the rest
// of the job's life from another goroutine.
func TestRunFollows(t *testing.T) {
	t.Parallel()
	path := writeLog(t, submit(1, 0), submit(1, 1), gridSubmit(1, 0))
	var out, errOut testbin.Buffer
	done := make(chan int, 1)
	go func() { done <- run(context.Background(), []string{"-status", path}, &out, &errOut) }()

	w, err := userlog.Open(path, userlog.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, e := range []userlog.Event{execute(1, 0), held(1, 1), terminated(1, 0), aborted(1, 1)} {
		select {
		case code := <-done:
			t.Fatalf("condor_wait ended (exit %d) before the jobs did: %q %q", code, out.String(), errOut.String())
		case <-time.After(50 * time.Millisecond):
		}
		if err := w.Write(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case code := <-done:
		want := "1.0.0 submitted\n1.1.0 submitted\n1.0.0 executing on host " + ec2 + "\n1.0.0 completed\n1.1.0 aborted\nAll jobs done.\n"
		if code != 0 || out.String() != want {
			t.Errorf("exit %d, stdout %q; want 0, %q (stderr %q)", code, out.String(), want, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("condor_wait did not see the jobs end")
	}
}

func TestRunInterrupted(t *testing.T) {
	t.Parallel()
	path := writeLog(t, submit(1, 0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{path}, &testbin.Buffer{}, &testbin.Buffer{}) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case code := <-done:
		if code != 1 {
			t.Errorf("exit %d after interruption, want 1", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("condor_wait ignored its context")
	}
}

func TestScanJobID(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]struct {
		ids [3]int
		n   int
	}{
		"35": {[3]int{35, -1, -1}, 1}, "1406.35": {[3]int{1406, 35, -1}, 2}, "13.25.3": {[3]int{13, 25, 3}, 3},
		"12abc": {[3]int{12, -1, -1}, 1}, "x": {[3]int{-1, -1, -1}, 0}, " 7.x": {[3]int{7, -1, -1}, 1}, "-1": {[3]int{-1, -1, -1}, 1},
	} {
		ids, n := scanJobID(in)
		if ids != want.ids || n != want.n {
			t.Errorf("scanJobID(%q) = %v, %d; want %v, %d", in, ids, n, want.ids, want.n)
		}
	}
	for in, want := range map[string]int{"10": 10, " 10s": 10, "-3": -3, "x": 0, "": 0, "99999999999": 2147483647} {
		if got := atoi(in); got != want {
			t.Errorf("atoi(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestEndToEnd builds the real binary and runs it against a log that a Writer in this
// process appends to, then checks -wait's exit status from outside.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	bin := bins.Path(t, "condor_wait")

	path := writeLog(t, submit(1, 0), gridSubmit(1, 0))
	cmd := exec.Command(bin, "-status", path, "1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		w, err := userlog.Open(path, userlog.WriterOptions{})
		if err != nil {
			t.Error(err)
			return
		}
		defer w.Close()
		for _, e := range []userlog.Event{execute(1, 0), held(1, 0), terminated(1, 0)} {
			time.Sleep(150 * time.Millisecond)
			if err := w.Write(context.Background(), e); err != nil {
				t.Error(err)
			}
		}
	}()
	timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	if err != nil {
		t.Fatalf("condor_wait: %v\nstdout %q\nstderr %q", err, out.String(), errOut.String())
	}
	want := "1.0.0 submitted\n1.0.0 executing on host " + ec2 + "\n1.0.0 completed\nAll jobs done.\n"
	if out.String() != want {
		t.Errorf("stdout %q, want %q", out.String(), want)
	}

	// A job that never ends: -wait gives up with exit status 1.
	path = writeLog(t, submit(2, 0))
	cmd = exec.Command(bin, "-wait", "1", path)
	got, err := cmd.Output()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 || string(got) != "Time expired.\n" {
		t.Errorf("-wait 1 on an unfinished job: %v, stdout %q; want exit status 1, \"Time expired.\"", err, got)
	}
}
