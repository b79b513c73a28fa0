package userlog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testPoll keeps follower tests fast; the production interval is FollowPollInterval.
const testPoll = 2 * time.Millisecond

// waitTimeout bounds each wait for an event that must come; generous for loaded machines.
const waitTimeout = 10 * time.Second

func appendText(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

func eventText(t *testing.T, e Event) string {
	t.Helper()
	b, err := Format(e, FormatOptions{Location: est})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func statusEvent(c int) Event {
	return &RemoteStatusKnownEvent{Header: Header{Cluster: c, Time: at("2026-11-23 12:00:00")}}
}

// expect reads the next event and checks it is statusEvent(c).
func expect(t *testing.T, fl *Follower, c int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	e, err := fl.Next(ctx)
	if err != nil {
		t.Fatalf("waiting for event of cluster %d: %v", c, err)
	}
	if !sameEvent(e, statusEvent(c)) {
		t.Fatalf("got %#v, want cluster %d", e, c)
	}
}

// expectNothing checks no event comes within a few polls.
func expectNothing(t *testing.T, fl *Follower) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*testPoll)
	defer cancel()
	if e, err := fl.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %#v, %v; want no event", e, err)
	}
}

func follow(t *testing.T, path string) *Follower {
	t.Helper()
	fl, err := Follow(path, FollowOptions{ReaderOptions: ReaderOptions{Location: est}, PollInterval: testPoll})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fl.Close() })
	return fl
}

func TestFollowGrowingLog(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "job.log")
	appendText(t, path, eventText(t, statusEvent(1)))
	fl := follow(t, path)
	expect(t, fl, 1)
	expectNothing(t, fl)

	// An event written in two pieces comes back only once whole.
	text := eventText(t, statusEvent(2))
	appendText(t, path, text[:len(text)-2])
	expectNothing(t, fl)
	go func() {
		time.Sleep(10 * testPoll)
		f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		f.WriteString(text[len(text)-2:])
		f.Close()
	}()
	expect(t, fl, 2)

	// Events written by a Writer while Next waits.
	w, err := Open(path, WriterOptions{Location: est, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	go func() {
		for c := 3; c <= 5; c++ {
			time.Sleep(5 * testPoll)
			w.Write(context.Background(), statusEvent(c))
		}
	}()
	for c := 3; c <= 5; c++ {
		expect(t, fl, c)
	}
}

// TestFollowRotation renames the log away (still written to for a moment, as a writer
// finishing its last event would) and starts a new one at the same path.
func TestFollowRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "job.log")
	appendText(t, path, eventText(t, statusEvent(1)))
	fl := follow(t, path)
	expect(t, fl, 1)

	old, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".old"); err != nil {
		t.Fatal(err)
	}
	// The old file gets one more event and an unfinished one, which is dropped.
	old.WriteString(eventText(t, statusEvent(2)) + "030 (099.000.000) 2026-11-23 12:00:00 The job")
	old.Close()
	expect(t, fl, 2)
	// Between the rename and the new file, the follower keeps waiting.
	expectNothing(t, fl)
	appendText(t, path, eventText(t, statusEvent(3))+eventText(t, statusEvent(4)))
	expect(t, fl, 3)
	expect(t, fl, 4)
	expectNothing(t, fl)

	// Replaced in one step (rename over the path).
	tmp := filepath.Join(dir, "new.log")
	appendText(t, tmp, eventText(t, statusEvent(5)))
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	expect(t, fl, 5)
}

func TestFollowTruncation(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "job.log")
	appendText(t, path, eventText(t, statusEvent(1))+eventText(t, statusEvent(2)))
	fl := follow(t, path)
	expect(t, fl, 1)
	expect(t, fl, 2)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	expectNothing(t, fl)
	appendText(t, path, eventText(t, statusEvent(3)))
	expect(t, fl, 3)
}

func TestFollowErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := Follow(filepath.Join(dir, "missing.log"), FollowOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Follow of a missing file: %v", err)
	}
	path := filepath.Join(dir, "job.log")
	appendText(t, path, "junk\n...\n"+eventText(t, statusEvent(1)))
	fl := follow(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	var pe *ParseError
	if _, err := fl.Next(ctx); !errors.As(err, &pe) {
		t.Fatalf("got %v, want a *ParseError", err)
	}
	expect(t, fl, 1)
	cancel()
	if _, err := fl.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Next with a cancelled context: %v", err)
	}
	if _, err := fl.Poll(); !errors.Is(err, ErrNoEvent) {
		t.Errorf("Poll at the end: %v", err)
	}
}

func ExampleFollower() {
	dir, _ := os.MkdirTemp("", "userlog")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "job.log")
	w, _ := Open(path, WriterOptions{NoSync: true})
	defer w.Close()
	fl, err := Follow(path, FollowOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer fl.Close()
	go func() {
		// Another process (the grid manager) writes the job's events later.
		w.Write(context.Background(), &SubmitEvent{Header: Header{Cluster: 1}, SubmitHost: "<127.0.0.1:9618>"})
		w.Write(context.Background(), &AbortedEvent{Header: Header{Cluster: 1}, Reason: "via condor_rm (by user alice)"})
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		e, err := fl.Next(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%03d %d.%d\n", e.EventNumber(), e.EventHeader().Cluster, e.EventHeader().Proc)
		if _, ok := e.(*AbortedEvent); ok {
			return
		}
	}
	// Output:
	// 000 1.0
	// 009 1.0
}
