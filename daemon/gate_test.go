package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/jobs"
)

// gateWait bounds each wait for an event (liveness only).
const gateWait = 10 * time.Second

func newTestGate(timeout time.Duration) (*gate, chan jobs.Event) {
	in := make(chan jobs.Event, 16)
	return &gate{
		in: in, out: make(chan jobs.Event, 16), wake: make(chan struct{}, 1), timeout: timeout,
		held: map[int64]*heldCluster{}, released: map[int64]time.Time{},
	}, in
}

func added(c, p int64) jobs.Event {
	return jobs.Event{Kind: jobs.JobAdded, ID: jobs.JobID{Cluster: c, Proc: p}, Status: 1}
}

func expectEvent(t *testing.T, out <-chan jobs.Event, want jobs.Event) {
	t.Helper()
	select {
	case got := <-out:
		if got != want {
			t.Fatalf("event %+v, want %+v", got, want)
		}
	case <-time.After(gateWait):
		t.Fatalf("no event, want %+v", want)
	}
}

func expectNone(t *testing.T, out <-chan jobs.Event, d time.Duration) {
	t.Helper()
	select {
	case got := <-out:
		t.Fatalf("event %+v passed the gate", got)
	case <-time.After(d):
	}
}

// TestGateHoldsUntilLogged: a new cluster's events (its jobs' adds and a hold that came
// quickly after) wait for the cluster's 000 events; other clusters' events pass; the
// held ones come out in order once the cluster is logged.
func TestGateHoldsUntilLogged(t *testing.T) {
	gt, in := newTestGate(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go gt.run(ctx, time.Hour)

	held := jobs.Event{Kind: jobs.StatusChanged, ID: jobs.JobID{Cluster: 7}, Status: 5}
	in <- added(7, 0)
	in <- added(7, 1)
	in <- held
	other := jobs.Event{Kind: jobs.StatusChanged, ID: jobs.JobID{Cluster: 3}, Status: 3}
	in <- other
	expectEvent(t, gt.out, other)
	expectNone(t, gt.out, 50*time.Millisecond)

	gt.note([]int64{7})
	expectEvent(t, gt.out, added(7, 0))
	expectEvent(t, gt.out, added(7, 1))
	expectEvent(t, gt.out, held)
}

// TestGateLoggedFirst: the API may finish logging before the gate reads the cluster's
// first event from the store; the events then pass at once.
func TestGateLoggedFirst(t *testing.T) {
	gt, in := newTestGate(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gt.note([]int64{9})
	go gt.run(ctx, time.Hour)
	// Let run take the note before the event arrives.
	time.Sleep(20 * time.Millisecond)
	in <- added(9, 0)
	expectEvent(t, gt.out, added(9, 0))
}

// TestGateTimeout: a cluster whose submit never reports its events is released after
// the timeout, so its jobs are not stranded.
func TestGateTimeout(t *testing.T) {
	gt, in := newTestGate(30 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go gt.run(ctx, 10*time.Millisecond)
	in <- added(4, 0)
	expectEvent(t, gt.out, added(4, 0))
}

// TestGateCloses: when the store's channel closes, held events are passed on and the
// gate's channel closes.
func TestGateCloses(t *testing.T) {
	gt, in := newTestGate(time.Hour)
	go gt.run(context.Background(), time.Hour)
	in <- added(2, 0)
	close(in)
	expectEvent(t, gt.out, added(2, 0))
	select {
	case _, ok := <-gt.out:
		if ok {
			t.Fatal("event after close")
		}
	case <-time.After(gateWait):
		t.Fatal("gate did not close")
	}
}
