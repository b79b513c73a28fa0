package userlog

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// sampleEvents has every event type, with the optional parts both present and absent.
func sampleEvents() []Event {
	h := func(c, p, s int, when string) Header {
		return Header{Cluster: c, Proc: p, Subproc: s, Time: at(when)}
	}
	res := []Resource{
		{Name: "Cpus", Usage: "0.50", Request: "1", Allocated: "1"},
		{Name: "Disk", Usage: "15", Request: "1048576", Allocated: "17605109"},
		{Name: "Gpus", Usage: "0.99", Request: "1", Allocated: "1", Assigned: "GPU-3f2a"},
		{Name: "Memory", Usage: "870", Request: "8192", Allocated: "8192"},
	}
	return []Event{
		&SubmitEvent{Header: h(1, 0, 0, "2026-11-23 12:50:11"), SubmitHost: "<127.0.0.1:36163?addrs=127.0.0.1-36163&alias=vm>"},
		&SubmitEvent{Header: h(1, 1, 0, "2026-11-23 12:50:11"), SubmitHost: "<10.0.0.1:9618>",
			LogNotes: "DAG Node: A", UserNotes: "first try", Warnings: "request_disk is small"},
		&SubmitEvent{Header: h(1, 2, 0, "2026-11-23 12:50:11")},
		&ExecuteEvent{Header: h(1, 0, 0, "2026-11-23 12:51:19"), ExecuteHost: "ec2 http://ec2.us-east-1.localhost:5055/"},
		&ExecuteEvent{Header: h(1, 0, 0, "2026-11-23 12:51:19"), ExecuteHost: "<10.0.0.2:9618>", SlotName: "slot1_1@node"},
		&EvictedEvent{Header: h(2, 0, 0, "2026-11-23 13:00:00")},
		&EvictedEvent{Header: h(2, 0, 0, "2026-11-23 13:00:00"), Checkpointed: true, ReasonCode: 6, ReasonSubCode: 1,
			RunRemoteUsage: CPUUsage{User: 3 * time.Hour, Sys: time.Minute}, RunLocalUsage: CPUUsage{Sys: time.Second},
			SentBytes: 1 << 40, ReceivedBytes: 12, Reason: "the startd was shut down", Resources: res},
		&EvictedEvent{Header: h(2, 1, 0, "2026-11-23 13:00:00"), TerminatedAndRequeued: true, TerminatedBySignal: 11,
			CoreFile: "/var/core.7", Reason: "on_exit_remove was false"},
		&EvictedEvent{Header: h(2, 2, 0, "2026-11-23 13:00:00"), TerminatedAndRequeued: true, TerminatedNormally: true, ReturnValue: 1},
		&TerminatedEvent{Header: h(1710, 0, 0, "2011-10-30 21:14:40"), TerminatedNormally: true},
		&TerminatedEvent{Header: h(3, 0, 0, "2026-11-23 14:00:00"), TerminatedNormally: true, ReturnValue: 42,
			RunRemoteUsage: CPUUsage{User: 26 * time.Hour, Sys: 61 * time.Second}, RunLocalUsage: CPUUsage{User: time.Second},
			TotalRemoteUsage: CPUUsage{User: 400 * 24 * time.Hour}, TotalLocalUsage: CPUUsage{Sys: 59 * time.Second},
			SentBytes: 1, ReceivedBytes: 2, TotalSentBytes: 3, TotalReceivedBytes: 4, Resources: res},
		&TerminatedEvent{Header: h(3, 1, 0, "2026-11-23 14:00:00"), TerminatedBySignal: 9},
		&TerminatedEvent{Header: h(3, 2, 0, "2026-11-23 14:00:00"), TerminatedBySignal: 6, CoreFile: "/tmp/core.9"},
		&AbortedEvent{Header: h(1, 0, 0, "2026-11-23 12:52:19"), Reason: "via condor_rm (by user htcu)"},
		&AbortedEvent{Header: h(1, 0, 0, "2026-11-23 12:52:19")},
		&HeldEvent{Header: h(1713, 0, 0, "2011-10-30 21:37:54"), Reason: "The job attribute PeriodicHold expression '( time() - ShadowBday ) >= 60' evaluated to TRUE", Code: 3},
		&HeldEvent{Header: h(4, 0, 0, "2026-11-23 15:00:00"), Code: 40, Subcode: 12},
		&ReleasedEvent{Header: h(4, 0, 0, "2026-11-23 15:01:00"), Reason: "via condor_release (by user alice)"},
		&ReleasedEvent{Header: h(4, 0, 0, "2026-11-23 15:01:00")},
		&GridResourceUpEvent{Header: h(5, 0, 0, "2026-11-23 16:00:00"), GridResource: "ec2 https://ec2.amazonaws.com/"},
		&GridResourceUpEvent{Header: h(5, 0, 0, "2026-11-23 16:00:00")},
		&GridResourceDownEvent{Header: h(5, 0, 0, "2026-11-23 16:00:00"), GridResource: "ec2 https://ec2.amazonaws.com/"},
		&GridSubmitEvent{Header: h(5, 0, 0, "2026-11-23 16:00:00"), GridResource: "ec2 https://ec2.amazonaws.com/",
			GridJobID: "ec2 https://ec2.amazonaws.com/ 4a5d3840 i-621d4cf62692ac985"},
		&GridSubmitEvent{Header: h(5, 0, 0, "2026-11-23 16:00:00")},
		&RemoteStatusUnknownEvent{Header: h(5, 0, 0, "2026-11-23 16:00:00")},
		&RemoteStatusKnownEvent{Header: h(123456, 7890, 12, "2026-11-23 16:00:00")},
		&GenericEvent{Header: h(6, 0, 0, "2026-11-23 17:00:00"), Number: 28, Lines: []string{"Job ad information event triggered.", "JobStatus = 2"}},
		&GenericEvent{Header: h(6, 0, 0, "2026-11-23 17:00:00"), Number: 6, Lines: []string{"Image size of job updated: 7", "\t0  -  MemoryUsage of job (MB)", "", "\t0  -  ResidentSetSize of job (KB)"}},
		&GenericEvent{Header: h(6, 0, 0, "2026-11-23 17:00:00"), Number: 999, Lines: []string{""}},
	}
}

// inUTC returns a copy of e (as a pointer) with its time in UTC, so events compare equal
// with reflect.DeepEqual whatever zone they were read in.
func inUTC(e Event) Event {
	v := reflect.ValueOf(e)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	c := reflect.New(v.Type())
	c.Elem().Set(v)
	f := c.Elem().FieldByName("Time")
	f.Set(reflect.ValueOf(f.Interface().(time.Time).UTC()))
	return c.Interface().(Event)
}

func sameEvent(a, b Event) bool { return reflect.DeepEqual(inUTC(a), inUTC(b)) }

// TestRoundTrip writes every sample event in every time format and reads it back equal.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	formats := map[string]FormatOptions{
		"local":      {Location: est},
		"utc":        {UTC: true},
		"sub-second": {Location: est, SubSecond: true},
	}
	for name, opts := range formats {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var log []byte
			events := sampleEvents()
			for _, e := range events {
				b, err := Format(e, opts)
				if err != nil {
					t.Fatal(err)
				}
				log = append(log, b...)
			}
			r := NewReader(bytes.NewReader(log), ReaderOptions{Location: est})
			for i, want := range events {
				got, err := r.Next()
				if err != nil {
					t.Fatalf("event %d (%03d): %v", i, want.EventNumber(), err)
				}
				if !sameEvent(got, want) {
					t.Errorf("event %d:\n got %#v\nwant %#v", i, got, want)
				}
			}
			if _, err := r.Next(); !errors.Is(err, ErrNoEvent) {
				t.Errorf("after the last event: %v, want ErrNoEvent", err)
			}
			if r.Offset() != int64(len(log)) {
				t.Errorf("Offset = %d, want %d", r.Offset(), len(log))
			}
		})
	}
}

// TestRoundTripLegacyDate reads MM/DD dates in the year Now gives.
func TestRoundTripLegacyDate(t *testing.T) {
	t.Parallel()
	e := &TerminatedEvent{Header: Header{Cluster: 1710, Time: at("2011-10-30 21:14:40")}, TerminatedNormally: true}
	b, err := Format(e, FormatOptions{Location: est, Legacy: true})
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(bytes.NewReader(b), ReaderOptions{Location: est, Now: func() time.Time { return at("2011-12-01 00:00:00") }})
	got, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if !sameEvent(got, e) {
		t.Errorf("got %#v, want %#v", got, e)
	}
}

// TestReadHTCondorVariants reads texts HTCondor writes (or wrote) that Format does not
// produce: older wordings, CRLF line ends, missing optional lines, extra lines.
func TestReadHTCondorVariants(t *testing.T) {
	t.Parallel()
	const hdr = " (001.000.000) 2026-11-23 12:50:11 "
	when := at("2026-11-23 12:50:11")
	hd := Header{Cluster: 1, Time: when}
	tests := []struct {
		name, text string
		want       Event
	}{
		{"CRLF", "009" + hdr + "Job was aborted.\r\n\tvia condor_rm (by user htcu)\r\n...\r\n",
			&AbortedEvent{Header: hd, Reason: "via condor_rm (by user htcu)"}},
		{"T separator and Z", "029 (001.000.000) 2026-11-23T17:50:11Z The job's remote status is unknown\n...\n",
			&RemoteStatusUnknownEvent{Header: hd}},
		{"held without code line", "012" + hdr + "Job was held.\n\tbad\n...\n", &HeldEvent{Header: hd, Reason: "bad"}},
		{"held bare", "012" + hdr + "Job was held.\n...\n", &HeldEvent{Header: hd}},
		{"old evicted wording, no byte lines", "004" + hdr + "Job was evicted.\n\t(0) Job was not checkpointed.\n" +
			"\t\tUsr 0 14:48:28, Sys 0 00:16:42  -  Run Remote Usage\n\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Local Usage\n...\n",
			&EvictedEvent{Header: hd, RunRemoteUsage: CPUUsage{User: 14*time.Hour + 48*time.Minute + 28*time.Second, Sys: 16*time.Minute + 42*time.Second}}},
		{"execute with properties", "001" + hdr + "Job executing on host: <1.2.3.4:9618>\n\tSlotName: \"slot1@x\"\n\tCpus = 1\n...\n",
			&ExecuteEvent{Header: hd, ExecuteHost: "<1.2.3.4:9618>", SlotName: "slot1@x"}},
		{"submit notes", "000" + hdr + "Job submitted from host: <h>\n    DAG Node: A\n...\n", &SubmitEvent{Header: hd, SubmitHost: "<h>", LogNotes: "DAG Node: A"}},
		{"terminated, old table without Allocated, then more", "005" + hdr + "Job terminated.\n\t(1) Normal termination (return value 2)\n" +
			"\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Remote Usage\n\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Local Usage\n" +
			"\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Total Remote Usage\n\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Total Local Usage\n" +
			"\t23  -  Run Bytes Sent By Job\n\t113  -  Run Bytes Received By Job\n" +
			"\tPartitionable Resources :    Usage  Request\n\t   Cpus                 :                 1\n" +
			"\t   Memory (MB)          :               674\n\tJob terminated by the user\n...\n",
			&TerminatedEvent{Header: hd, TerminatedNormally: true, ReturnValue: 2, SentBytes: 23, ReceivedBytes: 113,
				Resources: []Resource{{Name: "Cpus", Request: "1"}, {Name: "Memory", Request: "674"}}}},
		{"grid UNKNOWN", "027" + hdr + "Job submitted to grid resource\n    GridResource: UNKNOWN\n    GridJobId: UNKNOWN\n...\n",
			&GridSubmitEvent{Header: hd}},
		{"unknown number", "042" + hdr + "Something new\n  a = 1\n...\n", &GenericEvent{Header: hd, Number: 42, Lines: []string{"Something new", "  a = 1"}}},
		{"negative cluster", "029 (-01.000.000) 2026-11-23 12:50:11 The job's remote status is unknown\n...\n",
			&RemoteStatusUnknownEvent{Header: Header{Cluster: -1, Time: when}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := NewReader(bytes.NewReader([]byte(tt.text)), ReaderOptions{Location: est})
			got, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !sameEvent(got, tt.want) {
				t.Errorf("\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

// TestMalformed checks each error names the line and the problem, and that the reader
// goes on with the next event.
func TestMalformed(t *testing.T) {
	t.Parallel()
	good := "029 (001.000.000) 2026-11-23 12:50:11 The job's remote status is unknown\n...\n"
	tests := []struct {
		name, bad string
		line      int // of the fault, with the bad text starting on line 3
		msg       string
	}{
		{"bad date", "001 (001.000.000) 2026-13-23 12:50:11 Job executing on host: x\n...\n", 3, "out of range"},
		{"bad job id", "001 (001.x.000) 2026-11-23 12:50:11 Job executing on host: x\n...\n", 3, "bad job id"},
		{"wrong first line", "005 (001.000.000) 2026-11-23 12:50:11 Job executing on host: x\n...\n", 3, `expected "Job terminated."`},
		{"bad termination", "005 (001.000.000) 2026-11-23 12:50:11 Job terminated.\n\t(7) Odd\n...\n", 4, "Normal termination"},
		{"short terminated", "005 (001.000.000) 2026-11-23 12:50:11 Job terminated.\n\t(1) Normal termination (return value 0)\n...\n", 5, "ends before"},
		{"bad rusage", "004 (001.000.000) 2026-11-23 12:50:11 Job was evicted.\n\t(0) CPU times\n\t\tUsr x\n...\n", 5, "Run Remote Usage"},
		{"grid submit without job id", "027 (001.000.000) 2026-11-23 12:50:11 Job submitted to grid resource\n    GridResource: ec2 x\n...\n", 5, "GridJobId"},
		{"stray text", "hello\nworld\n...\n", 3, "text outside an event"},
		{"unfinished event", "001 (001.000.000) 2026-11-23 12:50:11 Job executing on host: x\n", 4, "new event starts before"},
		{"lone sync line", "...\n", 3, "text outside an event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			log := good + tt.bad + good
			r := NewReader(bytes.NewReader([]byte(log)), ReaderOptions{Location: est})
			if _, err := r.Next(); err != nil {
				t.Fatalf("first event: %v", err)
			}
			_, err := r.Next()
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a *ParseError", err)
			}
			if pe.Offset != int64(len(good)) || pe.Line != tt.line || !bytes.Contains([]byte(pe.Msg), []byte(tt.msg)) {
				t.Errorf("got %+v, want offset %d, line %d, message with %q", pe, len(good), tt.line, tt.msg)
			}
			if _, err := r.Next(); err != nil {
				t.Fatalf("event after the bad one: %v", err)
			}
			if _, err := r.Next(); !errors.Is(err, ErrNoEvent) {
				t.Fatalf("at the end: %v", err)
			}
		})
	}
}

// TestPartialEvent feeds a log one byte at a time: no event may come back before its
// "..." line is complete, and each comes back exactly once.
func TestPartialEvent(t *testing.T) {
	t.Parallel()
	var log []byte
	events := sampleEvents()
	ends := map[int]int{} // log length after event i -> i
	for i, e := range events {
		b, err := Format(e, FormatOptions{Location: est})
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, b...)
		ends[len(log)] = i
	}
	var src growing
	r := NewReader(&src, ReaderOptions{Location: est})
	next := 0
	for n := 0; n <= len(log); n++ {
		src.data = log[:n]
		for {
			got, err := r.Next()
			if errors.Is(err, ErrNoEvent) {
				break
			}
			if err != nil {
				t.Fatalf("at %d bytes: %v", n, err)
			}
			i, ok := ends[n]
			if !ok || i != next {
				t.Fatalf("event %d returned with %d bytes available", next, n)
			}
			if !sameEvent(got, events[i]) {
				t.Fatalf("event %d: got %#v", i, got)
			}
			next++
		}
	}
	if next != len(events) {
		t.Fatalf("read %d events, want %d", next, len(events))
	}
}

// growing is a reader over data that grows between calls, like a file being appended to.
type growing struct {
	data []byte
	pos  int
}

func (g *growing) Read(p []byte) (int, error) {
	if g.pos >= len(g.data) {
		return 0, nil // like a file at its current end: no data, no error... or EOF
	}
	n := copy(p, g.data[g.pos:])
	g.pos += n
	return n, nil
}

func TestOversizeEvent(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("x"), 100)
	var log []byte
	log = append(log, "042 (001.000.000) 2026-11-23 12:50:11 big\n"...)
	for len(log) < maxEventBytes+1000 {
		log = append(append(log, big...), '\n')
	}
	good := "029 (001.000.000) 2026-11-23 12:50:11 The job's remote status is unknown\n...\n"
	log = append(log, "...\n"+good...)
	r := NewReader(bytes.NewReader(log), ReaderOptions{Location: est})
	var errs, events int
	for {
		_, err := r.Next()
		if errors.Is(err, ErrNoEvent) {
			break
		}
		if err != nil {
			errs++
			continue
		}
		events++
	}
	if errs == 0 || events != 1 {
		t.Errorf("got %d errors and %d events; want errors for the oversize event, then 1 event", errs, events)
	}
}

func ExampleReader() {
	log := "000 (001.000.000) 2026-11-23 12:50:11 Job submitted from host: <127.0.0.1:36163>\n...\n" +
		"027 (001.000.000) 2026-11-23 12:50:19 Job submitted to grid resource\n" +
		"    GridResource: ec2 https://ec2.us-east-1.amazonaws.com/\n" +
		"    GridJobId: ec2 https://ec2.us-east-1.amazonaws.com/ tok i-0123456789abcdef0\n...\n" +
		"001 (001.000.000) 2026-11-23 12:51:19 Job executing on host: ec2 https://ec2.us-east-1.amazonaws.com/\n" // still being written
	r := NewReader(bytes.NewReader([]byte(log)), ReaderOptions{Location: time.UTC})
	for {
		e, err := r.Next()
		if errors.Is(err, ErrNoEvent) {
			fmt.Println("no complete event yet; resume at byte", r.Offset())
			return
		}
		if err != nil {
			fmt.Println(err)
			continue
		}
		switch e := e.(type) {
		case *SubmitEvent:
			fmt.Printf("%d.%d submitted from %s\n", e.Cluster, e.Proc, e.SubmitHost)
		case *GridSubmitEvent:
			fmt.Printf("%d.%d runs as %s\n", e.Cluster, e.Proc, e.GridJobID)
		}
	}
	// Output:
	// 1.0 submitted from <127.0.0.1:36163>
	// 1.0 runs as ec2 https://ec2.us-east-1.amazonaws.com/ tok i-0123456789abcdef0
	// no complete event yet; resume at byte 297
}
