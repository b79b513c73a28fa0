package userlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// FuzzReader checks that no input makes the Reader panic or stall, that every error it
// returns is a *ParseError (the input is in memory, so there are no read errors), and that
// every event it returns formats, and reads back equal, in text and as valid JSON.
func FuzzReader(f *testing.F) {
	var all []byte
	for _, e := range sampleEvents() {
		b, err := Format(e, FormatOptions{Location: est})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		all = append(all, b...)
	}
	f.Add(all)
	f.Add(all[:len(all)/2]) // ends inside an event
	for _, s := range []string{
		"005 (1710.000.000) 10/30 21:14:40 Job terminated.\n\t(1) Normal termination (return value 0)\n" +
			"\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Remote Usage\n\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Local Usage\n" +
			"\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Total Remote Usage\n\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Total Local Usage\n" +
			"\t0  -  Run Bytes Sent By Job\n\t0  -  Run Bytes Received By Job\n\t0  -  Total Bytes Sent By Job\n\t0  -  Total Bytes Received By Job\n...\n",
		"004 (1708.099.000) 12/13 08:47:08 Job was evicted.\n  (0) Job was not checkpointed.\n    Usr 0 14:48:28, Sys 0 00:16:42  -  Run Remote Usage\n" +
			"    Usr 0 00:00:00, Sys 0 00:00:00  -  Run Local Usage\n  0  -  Run Bytes Sent By Job\n  0  -  Run Bytes Received By Job\n" +
			"  Partitionable Resources :    Usage  Request Allocated\n     Cpus                 :                 2         2\n" +
			"     Disk (KB)            :       75       75   1627536\n     Memory (MB)          :    17797    35840     35840\n...\n",
		"009 (001.000.000) 2026-11-23 12:52:19.5Z Job was aborted.\r\n\tvia condor_rm\r\n...\r\n",
		"hello\n\n...\n000 (1.0.0) 2026-11-23T12:50:11 Job submitted from host:\n    WARNING: Committed job submission into the queue with the following warning(s): x\n...\n",
		"012 (001.000.000) 2026-02-31 24:00:60 Job was held.\n\tCode 1 Subcode 2\n...\n",
	} {
		f.Add([]byte(s))
	}
	fixedNow := func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) }
	ropts := ReaderOptions{Location: time.UTC, Now: fixedNow}
	fopts := FormatOptions{Location: time.UTC, SubSecond: true}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), ropts)
		var events []Event
		var text []byte // the events read, formatted again
		for calls := 0; ; calls++ {
			if calls > len(data)+1 {
				t.Fatalf("Reader returned more results than there are bytes")
			}
			before := r.Offset()
			e, err := r.Next()
			if errors.Is(err, ErrNoEvent) {
				break
			}
			if r.Offset() <= before {
				t.Fatalf("Next returned without moving on (offset %d)", before)
			}
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("error %v is not a *ParseError", err)
				}
				if pe.Offset < before || pe.Offset >= r.Offset() || pe.Line < 1 {
					t.Fatalf("error %+v outside the text it skipped [%d, %d)", pe, before, r.Offset())
				}
				continue
			}
			b, err := Format(e, fopts)
			if err != nil {
				t.Fatalf("event read from the log does not format: %v\n%#v", err, e)
			}
			events = append(events, e)
			text = append(text, b...)
			js, err := FormatJSON(e, fopts)
			if err != nil || !json.Valid(js) {
				t.Fatalf("FormatJSON = %s, %v", js, err)
			}
		}
		// Everything read, formatted and concatenated, reads back as the same events.
		r2 := NewReader(bytes.NewReader(text), ropts)
		for _, e := range events {
			e2, err := r2.Next()
			if err != nil || !sameEvent(e, e2) {
				b, _ := Format(e, fopts)
				t.Fatalf("event changed through Format: %v\n was %#v\n now %#v\ntext %q", err, e, e2, b)
			}
		}
		if _, err := r2.Next(); !errors.Is(err, ErrNoEvent) {
			t.Fatalf("formatted events read back as more: %v", err)
		}
	})
}
