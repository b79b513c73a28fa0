package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Error codes the Injector answers with, and their EC2 HTTP statuses: EC2 sends server
// errors as 5xx, and RequestLimitExceeded arrives as 503 in practice (boto 2 retries it
// only because it is a 5xx).
const (
	CodeRequestLimitExceeded         = "RequestLimitExceeded"
	CodeInternalError                = "InternalError"
	CodeUnavailable                  = "Unavailable"
	CodeInsufficientInstanceCapacity = "InsufficientInstanceCapacity"
)

// Fault is an error answer the server must send instead of acting.
type Fault struct {
	Code, Message string
	HTTPStatus    int
}

// Error makes a Fault usable as an error.
func (f *Fault) Error() string { return fmt.Sprintf("%s (%d): %s", f.Code, f.HTTPStatus, f.Message) }

// bucketSweepMin is the number of token buckets kept before full ones (which behave
// exactly as absent ones) are swept out. Buckets are per account, and a request's account
// may be any string a client sends, so without a sweep the map would grow without bound.
const bucketSweepMin = 1024

// Injector applies a Config to requests. It is safe for concurrent use: each request sees
// one config whole, even while SetConfig swaps it, and every counter it keeps is exact.
type Injector struct {
	now   func() time.Time
	sleep atomic.Pointer[sleepFunc]
	gen   atomic.Pointer[generation]

	mu sync.Mutex // guards rnd and every generation's buckets
	// rnd decides jitter and which requests fail; math/rand/v2's Rand is not safe for
	// concurrent use.
	rnd *rand.Rand

	stats statsTable
}

type sleepFunc func(ctx context.Context, d time.Duration) error

// generation is one config and the buckets it throttles with: SetConfig swaps both at
// once, so a new config starts with full buckets.
type generation struct {
	cfg       Config // normalized; never changed once stored
	buckets   map[bucketKey]*tokenBucket
	nextSweep int
}

type bucketKey struct {
	account string
	class   Class
}

// New makes an Injector for cfg. now is the clock (nil: time.Now); rnd decides jitter
// and which requests fail (nil: seeded from the time, for runs that should differ).
func New(cfg Config, now func() time.Time, rnd *rand.Rand) (*Injector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	if rnd == nil {
		t := uint64(time.Now().UnixNano())
		rnd = rand.New(rand.NewPCG(t, t>>32|t<<32))
	}
	in := &Injector{now: now, rnd: rnd}
	in.gen.Store(newGeneration(cfg))
	in.SetSleep(nil)
	return in, nil
}

func newGeneration(cfg Config) *generation {
	return &generation{cfg: cfg.normalized(), buckets: map[bucketKey]*tokenBucket{}, nextSweep: bucketSweepMin}
}

// SetSleep replaces how the Injector waits out latency (nil: a timer that ends early when
// ctx is done). Tests give a fake that records the waits instead.
func (in *Injector) SetSleep(sleep func(ctx context.Context, d time.Duration) error) {
	if sleep == nil {
		sleep = sleepCtx
	}
	f := sleepFunc(sleep)
	in.sleep.Store(&f)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Before runs the faults that come before the server acts on a request of account for
// action: it waits the latency (ending early if ctx is done), then takes a token from the
// account's bucket for the action's class and draws the throttle rate
// (RequestLimitExceeded 503 if there is no token or the draw hits), then draws the internal error rate (InternalError 500). nil means proceed. A request
// whose ctx ends during the latency gets Unavailable 503 and must not be acted on. Each
// call counts in the action's Calls, and throttles and internal errors in Throttled and
// Faults.
func (in *Injector) Before(ctx context.Context, account, action string) *Fault {
	g := in.gen.Load()
	in.stats.add(action, func(s *ActionStats) { s.Calls++ })

	if d := in.latency(g.cfg); d > 0 {
		if err := (*in.sleep.Load())(ctx, d); err != nil {
			return abandoned(err)
		}
	}
	if err := ctx.Err(); err != nil {
		return abandoned(err)
	}

	in.mu.Lock()
	throttled := !in.takeLocked(g, account, ClassOf(action)) || in.drawLocked(g.cfg.ThrottleRate)
	failed := !throttled && in.drawLocked(g.cfg.InternalErrorRate)
	in.mu.Unlock()

	switch {
	case throttled:
		in.stats.add(action, func(s *ActionStats) { s.Throttled++ })
		return &Fault{Code: CodeRequestLimitExceeded, Message: "Request limit exceeded.", HTTPStatus: 503}
	case failed:
		in.stats.add(action, func(s *ActionStats) { s.Faults++ })
		return &Fault{Code: CodeInternalError, Message: "An internal error has occurred", HTTPStatus: 500}
	}
	return nil
}

// abandoned is the answer to a request whose context ended before it was acted on: the
// client has usually gone, but if the server is shutting down it may still read this, and
// a 503 tells it to retry.
func abandoned(err error) *Fault {
	return &Fault{Code: CodeUnavailable, HTTPStatus: 503,
		Message: fmt.Sprintf("The request was abandoned before it was acted on: %v.", err)}
}

// latency draws one request's latency.
func (in *Injector) latency(cfg Config) time.Duration {
	d := cfg.Latency
	if cfg.Jitter > 0 {
		in.mu.Lock()
		d += time.Duration(in.rnd.Int64N(int64(cfg.Jitter)))
		in.mu.Unlock()
	}
	return d
}

// takeLocked takes a token for account and class from g's buckets; true if there was one
// or the class is not throttled. in.mu must be held.
func (in *Injector) takeLocked(g *generation, account string, class Class) bool {
	spec, ok := g.cfg.Throttle[class]
	if !ok || spec.Rate == 0 {
		return true
	}
	now := in.now()
	key := bucketKey{account, class}
	b := g.buckets[key]
	if b == nil {
		if len(g.buckets) >= g.nextSweep {
			for k, old := range g.buckets {
				if old.full(now) {
					delete(g.buckets, k)
				}
			}
			// Sweep again only once the map has doubled, so a map of many busy accounts
			// costs amortized O(1) per new bucket.
			g.nextSweep = max(bucketSweepMin, 2*len(g.buckets))
		}
		b = newTokenBucket(spec, now)
		g.buckets[key] = b
	}
	return b.take(now)
}

// drawLocked reports true with probability rate. in.mu must be held.
func (in *Injector) drawLocked(rate float64) bool {
	return rate > 0 && in.rnd.Float64() < rate
}

// DropAfterAct reports whether the server should carry out this request and then close
// the connection without answering. Only mutating and run-instances actions are dropped:
// losing a read's answer teaches a client nothing a timeout does not. Each true counts in
// the action's Dropped.
func (in *Injector) DropAfterAct(action string) bool {
	rate := in.gen.Load().cfg.DropAfterActRate
	if rate == 0 || ClassOf(action) == NonMutating {
		return false
	}
	in.mu.Lock()
	drop := in.drawLocked(rate)
	in.mu.Unlock()
	if drop {
		in.stats.add(action, func(s *ActionStats) { s.Dropped++ })
	}
	return drop
}

// ConsistencyDelay is how long a new instance stays invisible to DescribeInstances.
func (in *Injector) ConsistencyDelay() time.Duration {
	return in.gen.Load().cfg.ConsistencyDelay
}

// InsufficientCapacity reports whether a launch of instanceType in zone (the zone the
// instance would land in) must fail with InsufficientInstanceCapacity.
func (in *Injector) InsufficientCapacity(instanceType, zone string) bool {
	for _, r := range in.gen.Load().cfg.InsufficientCapacity {
		if r.matches(instanceType, zone) {
			return true
		}
	}
	return false
}

// CapacityFault is InsufficientCapacity as the answer to send: nil if there is capacity,
// else an InsufficientInstanceCapacity fault (500, a server error on EC2) worded as EC2
// words it, counted in the action's Faults.
func (in *Injector) CapacityFault(action, instanceType, zone string) *Fault {
	if !in.InsufficientCapacity(instanceType, zone) {
		return nil
	}
	in.stats.add(action, func(s *ActionStats) { s.Faults++ })
	where := "the Region you requested"
	if zone != "" {
		where = fmt.Sprintf("the Availability Zone you requested (%s)", zone)
	}
	return &Fault{Code: CodeInsufficientInstanceCapacity, HTTPStatus: 500,
		Message: fmt.Sprintf("We currently do not have sufficient %s capacity in %s. "+
			"Our system will be working on provisioning additional capacity.", instanceType, where)}
}

// Config gives the config in force, with the profile's buckets filled in, as a copy the
// caller may change.
func (in *Injector) Config() Config {
	return in.gen.Load().cfg.clone()
}

// SetConfig replaces the config at once for every later request, with full buckets. A
// bad config changes nothing.
func (in *Injector) SetConfig(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	in.gen.Store(newGeneration(cfg))
	return nil
}
