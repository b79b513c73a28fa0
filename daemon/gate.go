package daemon

import (
	"context"
	"sync"
	"time"

	"github.com/ec2grid/ec2grid/jobs"
)

// submitGateTimeout bounds how long the grid manager's news of a new cluster waits for
// its 000 events: writing them takes milliseconds (one fsync per log file), so a cluster
// still held after this long has a submit handler that failed without saying so, and
// the jobs must not wait for ever.
const submitGateTimeout = 10 * time.Second

// releasedMemory is how long a cluster's "logged" note is kept for an event that has not
// been read from the store yet; the event follows the commit within microseconds, so a
// minute only keeps the map from growing.
const releasedMemory = time.Minute

// gateTick is how often a gate looks for held clusters past submitGateTimeout.
const gateTick = time.Second

// gatedStore is the job store as the grid manager sees it. Its guarantee: the grid
// manager hears of a newly submitted cluster (and of anything else that happens to its
// jobs) only after the API server has written the cluster's 000 events, so 000 is the
// first event in every job's user log, as in HTCondor, where the schedd logs the submit
// before the grid manager learns of the job. Every other method is the store's own.
type gatedStore struct {
	jobs.Store

	mu    sync.Mutex
	gates map[*gate]struct{}
}

func newGatedStore(st jobs.Store) *gatedStore {
	return &gatedStore{Store: st, gates: map[*gate]struct{}{}}
}

// logged is api.ServerConfig.SubmitLogged: it releases the clusters in every gate.
func (g *gatedStore) logged(clusters []int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for gt := range g.gates {
		gt.note(clusters)
	}
}

// Subscribe is the store's subscription, passed through a gate.
func (g *gatedStore) Subscribe(ctx context.Context) <-chan jobs.Event {
	in := g.Store.Subscribe(ctx)
	gt := &gate{
		in:       in,
		out:      make(chan jobs.Event, jobs.SubscriberBuffer),
		wake:     make(chan struct{}, 1),
		timeout:  submitGateTimeout,
		held:     map[int64]*heldCluster{},
		released: map[int64]time.Time{},
	}
	g.mu.Lock()
	g.gates[gt] = struct{}{}
	g.mu.Unlock()
	go func() {
		gt.run(ctx, gateTick)
		g.mu.Lock()
		delete(g.gates, gt)
		g.mu.Unlock()
	}()
	return gt.out
}

// heldCluster is the events of one cluster not yet passed on.
type heldCluster struct {
	since  time.Time
	events []jobs.Event
}

// gate passes one subscription's events on, holding a new cluster's until it is logged.
type gate struct {
	in      <-chan jobs.Event
	out     chan jobs.Event
	timeout time.Duration // submitGateTimeout; tests shorten it

	// logged collects released clusters from the API server, which must never wait
	// for the gate (the gate may be waiting for a slow grid manager); wake tells run.
	mu     sync.Mutex
	logged []int64
	wake   chan struct{}

	held     map[int64]*heldCluster // run's own
	released map[int64]time.Time    // run's own
}

// note records clusters whose 000 events are written; it never blocks.
func (gt *gate) note(clusters []int64) {
	gt.mu.Lock()
	gt.logged = append(gt.logged, clusters...)
	gt.mu.Unlock()
	select {
	case gt.wake <- struct{}{}:
	default:
	}
}

func (gt *gate) run(ctx context.Context, every time.Duration) {
	defer close(gt.out)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case ev, ok := <-gt.in:
			if !ok {
				for c := range gt.held {
					gt.release(ctx, c)
				}
				return
			}
			gt.event(ctx, ev)
		case <-gt.wake:
			gt.mu.Lock()
			clusters := gt.logged
			gt.logged = nil
			gt.mu.Unlock()
			now := time.Now()
			for _, c := range clusters {
				gt.released[c] = now
				gt.release(ctx, c)
			}
		case now := <-tick.C:
			for c, h := range gt.held {
				if now.Sub(h.since) >= gt.timeout {
					gt.release(ctx, c)
				}
			}
			for c, at := range gt.released {
				if now.Sub(at) >= releasedMemory {
					delete(gt.released, c)
				}
			}
		}
	}
}

// event passes ev on, or holds it behind its cluster's unlogged submit.
func (gt *gate) event(ctx context.Context, ev jobs.Event) {
	c := ev.ID.Cluster
	if h, ok := gt.held[c]; ok && ev.Kind != jobs.Resync {
		h.events = append(h.events, ev)
		return
	}
	if ev.Kind == jobs.JobAdded {
		if _, ok := gt.released[c]; !ok {
			gt.held[c] = &heldCluster{since: time.Now(), events: []jobs.Event{ev}}
			return
		}
	}
	gt.send(ctx, ev)
}

// release passes on a cluster's held events, in the order they came.
func (gt *gate) release(ctx context.Context, c int64) {
	h, ok := gt.held[c]
	if !ok {
		return
	}
	delete(gt.held, c)
	for _, ev := range h.events {
		gt.send(ctx, ev)
	}
}

// send blocks while the subscriber is behind: the store then drops events for this gate
// and sends a Resync, which the grid manager answers by reading the queue again.
func (gt *gate) send(ctx context.Context, ev jobs.Event) {
	select {
	case gt.out <- ev:
	case <-ctx.Done():
	}
}
