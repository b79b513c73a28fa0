package userlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// readAll reads every event of a log file, failing on any error.
func readAll(t *testing.T, path string, opts ReaderOptions) []Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewReader(f, opts)
	var out []Event
	for {
		e, err := r.Next()
		if errors.Is(err, ErrNoEvent) {
			if r.Buffered() != 0 {
				t.Fatalf("%d bytes left over after the last event", r.Buffered())
			}
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
}

func TestWriterRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path, jpath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.json")
	w, err := Open(path, WriterOptions{Location: est, JSONPath: jpath})
	if err != nil {
		t.Fatal(err)
	}
	if !w.sync {
		t.Error("a Writer must fsync by default")
	}
	events := sampleEvents()
	for _, e := range events {
		if err := w.Write(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, path, ReaderOptions{Location: est})
	if len(got) != len(events) {
		t.Fatalf("read %d events, want %d", len(got), len(events))
	}
	for i := range events {
		if !sameEvent(got[i], events[i]) {
			t.Errorf("event %d: got %#v, want %#v", i, got[i], events[i])
		}
	}
	js, err := os.ReadFile(jpath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(js), "\n"), "\n")
	if len(lines) != len(events) {
		t.Fatalf("JSON log has %d lines, want %d", len(lines), len(events))
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("JSON line %d: %v: %s", i, err, l)
		}
		if int(m["EventTypeNumber"].(float64)) != events[i].EventNumber() {
			t.Errorf("JSON line %d has EventTypeNumber %v", i, m["EventTypeNumber"])
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&^0o644 != 0 {
		t.Errorf("log created with mode %v, want at most 0644", fi.Mode().Perm())
	}
}

// TestFormatJSON pins the JSON form of a few events against HTCondor's attribute names.
func TestFormatJSON(t *testing.T) {
	t.Parallel()
	opts := FormatOptions{Location: est}
	tests := []struct {
		ev   Event
		opts FormatOptions
		want string
	}{
		{&SubmitEvent{Header: job(1, 0, "2026-11-23 12:50:11"), SubmitHost: "<127.0.0.1:36163?addrs=127.0.0.1-36163&alias=vm>"}, opts,
			`{"EventTypeNumber":0,"MyType":"SubmitEvent","EventTime":"2026-11-23T12:50:11","Cluster":1,"Proc":0,"Subproc":0,"SubmitHost":"<127.0.0.1:36163?addrs=127.0.0.1-36163&alias=vm>"}`},
		{&GridSubmitEvent{Header: job(1, 0, "2026-11-23 12:50:19"), GridResource: "ec2 https://x/", GridJobID: "ec2 https://x/ tok i-1"}, FormatOptions{UTC: true},
			`{"EventTypeNumber":27,"MyType":"GridSubmitEvent","EventTime":"2026-11-23T17:50:19Z","Cluster":1,"Proc":0,"Subproc":0,"GridResource":"ec2 https://x/","GridJobId":"ec2 https://x/ tok i-1"}`},
		{&HeldEvent{Header: job(2, 0, "2026-11-23 12:50:19"), Reason: `say "no"`, Code: 3, Subcode: 0}, opts,
			`{"EventTypeNumber":12,"MyType":"JobHeldEvent","EventTime":"2026-11-23T12:50:19","Cluster":2,"Proc":0,"Subproc":0,"HoldReason":"say \"no\"","HoldReasonCode":3,"HoldReasonSubCode":0}`},
		{&ExecuteEvent{Header: job(1, 0, "2026-11-23 12:51:19"), ExecuteHost: "ec2 https://x/"}, opts,
			`{"EventTypeNumber":1,"MyType":"ExecuteEvent","EventTime":"2026-11-23T12:51:19","Cluster":1,"Proc":0,"Subproc":0,"ExecuteHost":"ec2 https://x/"}`},
		{&AbortedEvent{Header: job(1, 0, "2026-11-23 12:52:19"), Reason: "via condor_rm (by user htcu)"}, opts,
			`{"EventTypeNumber":9,"MyType":"JobAbortedEvent","EventTime":"2026-11-23T12:52:19","Cluster":1,"Proc":0,"Subproc":0,"Reason":"via condor_rm (by user htcu)"}`},
		{&TerminatedEvent{Header: job(3, 0, "2026-11-23 12:52:19"), TerminatedNormally: true, ReturnValue: 2, SentBytes: 5,
			Resources: []Resource{{Name: "Cpus", Usage: "0.25", Request: "1"}}}, opts,
			`{"EventTypeNumber":5,"MyType":"JobTerminatedEvent","EventTime":"2026-11-23T12:52:19","Cluster":3,"Proc":0,"Subproc":0,` +
				`"TerminatedNormally":true,"ReturnValue":2,"RunLocalUsage":"Usr 0 00:00:00, Sys 0 00:00:00","RunRemoteUsage":"Usr 0 00:00:00, Sys 0 00:00:00",` +
				`"TotalLocalUsage":"Usr 0 00:00:00, Sys 0 00:00:00","TotalRemoteUsage":"Usr 0 00:00:00, Sys 0 00:00:00",` +
				`"SentBytes":5.0,"ReceivedBytes":0.0,"TotalSentBytes":0.0,"TotalReceivedBytes":0.0,"RequestCpus":1,"CpusUsage":0.25}`},
		{&RemoteStatusUnknownEvent{Header: Header{Cluster: 1, Time: at("2026-11-23 12:52:19").Add(5 * time.Millisecond)}}, opts,
			`{"EventTypeNumber":29,"MyType":"FutureEvent","EventTime":"2026-11-23T12:52:19.005","Cluster":1,"Proc":0,"Subproc":0}`},
		{&GenericEvent{Header: job(1, 0, "2026-11-23 12:52:19"), Number: 28, Lines: []string{"Job ad information event triggered.", "A = 1"}}, opts,
			`{"EventTypeNumber":28,"MyType":"JobAdInformationEvent","EventTime":"2026-11-23T12:52:19","Cluster":1,"Proc":0,"Subproc":0,"EventHead":"Job ad information event triggered.","EventPayloadLines":["A = 1"]}`},
	}
	for _, tt := range tests {
		got, err := FormatJSON(tt.ev, tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("FormatJSON(%03d):\n got %s\nwant %s", tt.ev.EventNumber(), got, tt.want)
		}
	}
}

func TestWriterStampsZeroTime(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "job.log")
	now := at("2026-11-23 12:00:00")
	w, err := Open(path, WriterOptions{UTC: true, NoSync: true, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Write(context.Background(), &SubmitEvent{Header: Header{Cluster: 9}, SubmitHost: "<h>"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if want := "000 (009.000.000) 2026-11-23 17:00:00Z Job submitted from host: <h>\n...\n"; string(b) != want {
		t.Errorf("got %q, want %q", b, want)
	}
}

func TestWriterErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing", "job.log"), WriterOptions{}); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
	if _, err := Open(filepath.Join(dir, "job.log"), WriterOptions{JSONPath: filepath.Join(dir, "missing", "j")}); err == nil {
		t.Error("Open with a JSON log in a missing directory succeeded")
	}
	w, err := Open(filepath.Join(dir, "job.log"), WriterOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(context.Background(), &GenericEvent{Number: 5}); err == nil {
		t.Error("writing a GenericEvent 005 succeeded")
	}
	if err := w.Write(context.Background(), nil); err == nil {
		t.Error("writing nil succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Write(ctx, &RemoteStatusKnownEvent{}); !errors.Is(err, context.Canceled) {
		t.Errorf("write with a cancelled context: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(context.Background(), &RemoteStatusKnownEvent{}); err == nil {
		t.Error("write after Close succeeded")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "job.log")); len(b) != 0 {
		t.Errorf("failed writes left %q in the log", b)
	}
}

// TestWriterWaitsForLock holds the file lock elsewhere: Write waits, gives up when its
// context ends, and succeeds once the lock is free.
func TestWriterWaitsForLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "job.log")
	w, err := Open(path, WriterOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	other, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := syscall.Flock(int(other.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := w.Write(ctx, &RemoteStatusKnownEvent{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Write while locked elsewhere: %v, want a deadline error", err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Write(context.Background(), &RemoteStatusKnownEvent{}) }()
	time.Sleep(20 * time.Millisecond)
	if err := syscall.Flock(int(other.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(readAll(t, path, ReaderOptions{})); n != 1 {
		t.Fatalf("log has %d events, want 1", n)
	}
}

// stressEvent is event seq of writer wid: sizes vary from under 100 bytes to several
// kilobytes, so writes cross page boundaries and a torn write would show.
func stressEvent(wid, seq int) Event {
	h := Header{Cluster: wid, Proc: seq, Time: at("2026-11-23 12:00:00").Add(time.Duration(seq) * time.Second)}
	switch seq % 4 {
	case 0:
		return &SubmitEvent{Header: h, SubmitHost: fmt.Sprintf("<10.0.0.%d:9618>", wid)}
	case 1:
		return &HeldEvent{Header: h, Reason: strings.TrimSpace(strings.Repeat(fmt.Sprintf("w%d-s%d ", wid, seq), seq%300)), Code: wid, Subcode: seq}
	case 2:
		return &TerminatedEvent{Header: h, TerminatedNormally: true, ReturnValue: seq % 256, SentBytes: int64(seq),
			Resources: []Resource{{Name: "Cpus", Request: "1"}, {Name: "Memory", Usage: strconv.Itoa(seq), Request: "2048"}}}
	default:
		return &GenericEvent{Header: h, Number: 42, Lines: []string{"payload", strings.Repeat("x", 37*(seq%200))}}
	}
}

// checkStress reads a log written by `writers` writers of `per` events each: every event
// whole, each exactly once, each writer's in order.
func checkStress(t *testing.T, path string, writers, per int) {
	t.Helper()
	got := readAll(t, path, ReaderOptions{Location: est})
	if len(got) != writers*per {
		t.Fatalf("read %d events, want %d", len(got), writers*per)
	}
	next := make([]int, writers)
	for i, e := range got {
		h := e.EventHeader()
		if h.Cluster < 0 || h.Cluster >= writers || h.Proc != next[h.Cluster] {
			t.Fatalf("event %d is %d.%d, want writer %d's event %d", i, h.Cluster, h.Proc, h.Cluster, next[max(0, min(h.Cluster, writers-1))])
		}
		if want := stressEvent(h.Cluster, h.Proc); !sameEvent(e, want) {
			t.Fatalf("event %d.%d damaged:\n got %#v\nwant %#v", h.Cluster, h.Proc, e, want)
		}
		next[h.Cluster]++
	}
}

// TestConcurrentWriters: 8 Writers on one file (each its own open file description, so
// only flock keeps them apart), 1,000 events each from its own goroutine.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	const writers, per = 8, 1000
	path := filepath.Join(t.TempDir(), "job.log")
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for wid := range writers {
		// fsync is off: it adds only time here; the lock and single write do the work.
		w, err := Open(path, WriterOptions{Location: est, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.Close()
			for seq := range per {
				if err := w.Write(context.Background(), stressEvent(wid, seq)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkStress(t, path, writers, per)
}

// TestOneWriterManyGoroutines shares one Writer (one file description, where flock does
// not separate callers) among goroutines: its mutex must.
func TestOneWriterManyGoroutines(t *testing.T) {
	t.Parallel()
	const writers, per = 4, 250
	path := filepath.Join(t.TempDir(), "job.log")
	w, err := Open(path, WriterOptions{Location: est, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for wid := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range per {
				if err := w.Write(context.Background(), stressEvent(wid, seq)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	w.Close()
	checkStress(t, path, writers, per)
}

// TestWriterProcesses runs writers in separate processes (this test binary, re-run as a
// helper), with fsync on, as HTCondor daemons and ec2grid's would share a log.
func TestWriterProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Parallel()
	const procs, per = 3, 120
	path := filepath.Join(t.TempDir(), "job.log")
	var cmds []*exec.Cmd
	for wid := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriterProcess$")
		cmd.Env = append(os.Environ(), "USERLOG_HELPER_LOG="+path, "USERLOG_HELPER_ID="+strconv.Itoa(wid), "USERLOG_HELPER_N="+strconv.Itoa(per))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("helper %d output:\n%s", wid, out.String())
			}
		})
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper: %v", err)
		}
	}
	checkStress(t, path, procs, per)
}

// TestHelperWriterProcess is the body of TestWriterProcesses' helper processes; run
// directly it does nothing.
func TestHelperWriterProcess(t *testing.T) {
	path := os.Getenv("USERLOG_HELPER_LOG")
	if path == "" {
		t.Skip("helper process for TestWriterProcesses")
	}
	wid, _ := strconv.Atoi(os.Getenv("USERLOG_HELPER_ID"))
	n, _ := strconv.Atoi(os.Getenv("USERLOG_HELPER_N"))
	w, err := Open(path, WriterOptions{Location: est})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for seq := range n {
		if err := w.Write(context.Background(), stressEvent(wid, seq)); err != nil {
			t.Fatal(err)
		}
	}
}

func ExampleWriter() {
	dir, _ := os.MkdirTemp("", "userlog")
	defer os.RemoveAll(dir)
	w, err := Open(filepath.Join(dir, "ec2-test.log"), WriterOptions{Location: time.UTC})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()
	ctx := context.Background()
	when := time.Date(2026, 11, 23, 12, 50, 19, 0, time.UTC)
	err = w.Write(ctx, &GridSubmitEvent{
		Header:       Header{Cluster: 1, Time: when},
		GridResource: "ec2 https://ec2.us-east-1.amazonaws.com/",
		GridJobID:    "ec2 https://ec2.us-east-1.amazonaws.com/ 4a5d3840 i-0123456789abcdef0",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(filepath.Join(dir, "ec2-test.log"))
	fmt.Print(string(b))
	// Output:
	// 027 (001.000.000) 2026-11-23 12:50:19 Job submitted to grid resource
	//     GridResource: ec2 https://ec2.us-east-1.amazonaws.com/
	//     GridJobId: ec2 https://ec2.us-east-1.amazonaws.com/ 4a5d3840 i-0123456789abcdef0
	// ...
}

// TestReaderPartialEventInFile appends an event to a real file in three pieces (cut inside
// a line, then just before the "..." line's line end): the Reader on the open file returns
// nothing until the event is whole, then returns it once.
func TestReaderPartialEventInFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "job.log")
	first, err := Format(stressEvent(0, 0), FormatOptions{Location: est})
	if err != nil {
		t.Fatal(err)
	}
	second, err := Format(stressEvent(0, 2), FormatOptions{Location: est})
	if err != nil {
		t.Fatal(err)
	}
	cut1, cut2 := len(second)/2, len(second)-1
	if err := os.WriteFile(path, append(append([]byte{}, first...), second[:cut1]...), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewReader(f, ReaderOptions{Location: est})
	if e, err := r.Next(); err != nil || !sameEvent(e, stressEvent(0, 0)) {
		t.Fatalf("first event: %#v, %v", e, err)
	}
	for _, piece := range [][]byte{nil, second[cut1:cut2]} {
		if len(piece) > 0 {
			w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(piece)
			w.Close()
		}
		if e, err := r.Next(); !errors.Is(err, ErrNoEvent) || !errors.Is(err, io.EOF) {
			t.Fatalf("with the event incomplete: %#v, %v; want ErrNoEvent", e, err)
		}
		if r.Offset() != int64(len(first)) {
			t.Fatalf("Offset %d, want %d (the start of the incomplete event)", r.Offset(), len(first))
		}
	}
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(second[cut2:])
	w.Close()
	if e, err := r.Next(); err != nil || !sameEvent(e, stressEvent(0, 2)) {
		t.Fatalf("completed event: %#v, %v", e, err)
	}
	if _, err := r.Next(); !errors.Is(err, ErrNoEvent) {
		t.Fatalf("after it: %v", err)
	}
}
