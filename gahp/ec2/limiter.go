package ec2

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"
)

// DefaultMaxRate is the limiter's starting and highest rate, in requests per second per
// endpoint. It is high enough never to slow a cloud that does not throttle (32 workers at
// 50 ms each make 640 calls/s), and the limiter halves it within seconds on a cloud that
// does: AWS's own buckets refill at 2 to 20 requests per second per action.
const DefaultMaxRate = 1000

// DefaultRateLimit is EC2_GAHP_RATE_LIMIT's default: HTCondor spaces every call 100 ms
// apart. ec2grid uses it as the floor under the adaptive rate (10 requests per second): the
// rate halves on throttling but never below one request per RATE_LIMIT.
const DefaultRateLimit = 100 * time.Millisecond

// Limiter tuning. Halving at most once per interval keeps a burst of throttled answers to
// requests that were all sent at the old rate from halving the rate once each; 5% growth
// per second takes about 14 s to double, so recovery is much slower than backing off
// (multiplicative decrease, slow increase: the shape that keeps senders below a shared
// limit without oscillating).
const (
	burstWindow        = 100 * time.Millisecond // the bucket holds this much time's worth of tokens
	halvingInterval    = time.Second
	recoveryPerSecond  = 1.05
	unlimitedFloorRate = 0 // RATE_LIMIT 0: HTCondor's "no spacing"; the rate never drops
)

// errLimiterDeadline: the next permitted request time is after the caller's deadline.
var errLimiterDeadline = errors.New("rate limit: next permitted request is past the deadline")

// limiter is an adaptive token bucket for one endpoint. Its guarantee: requests through
// Wait start no faster than the current rate (with a burst of burstWindow's worth); the
// rate halves on Throttled (at most once per halvingInterval, never below the floor) and
// grows back by recoveryPerSecond up to the ceiling. Safe for concurrent use.
type limiter struct {
	mu         sync.Mutex
	now        func() time.Time
	floor      float64 // requests per second
	ceil       float64
	rate       float64
	tokens     float64 // may go negative: requests already promised a later start
	last       time.Time
	lastHalved time.Time
}

func newLimiter(floor, ceil float64, now func() time.Time) *limiter {
	if ceil <= 0 {
		ceil = DefaultMaxRate
	}
	if floor <= unlimitedFloorRate || floor > ceil {
		floor = ceil
	}
	l := &limiter{now: now, floor: floor, ceil: ceil, rate: ceil, last: now()}
	l.tokens = l.burst()
	return l
}

func (l *limiter) burst() float64 {
	return math.Max(1, l.rate*burstWindow.Seconds())
}

// advance refills tokens and recovers the rate up to now. l.mu is held.
func (l *limiter) advance(now time.Time) {
	dt := now.Sub(l.last).Seconds()
	if dt <= 0 {
		return
	}
	if l.rate < l.ceil {
		l.rate = math.Min(l.ceil, l.rate*math.Pow(recoveryPerSecond, dt))
	}
	l.tokens = math.Min(l.burst(), l.tokens+dt*l.rate)
	l.last = now
}

// reserve takes a token and returns how long to wait before using it, or false (taking
// nothing) if that wait would end after deadline.
func (l *limiter) reserve(deadline time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.advance(now)
	if l.tokens >= 1 {
		l.tokens--
		return 0, true
	}
	wait := time.Duration((1 - l.tokens) / l.rate * float64(time.Second))
	if !deadline.IsZero() && now.Add(wait).After(deadline) {
		return 0, false
	}
	l.tokens--
	return wait, true
}

// Wait blocks until the next request may start, or returns errLimiterDeadline at once if
// that is after deadline (zero: none), or ctx's error.
func (l *limiter) Wait(ctx context.Context, deadline time.Time) error {
	wait, ok := l.reserve(deadline)
	if !ok {
		return errLimiterDeadline
	}
	if wait <= 0 {
		return nil
	}
	return sleep(ctx, wait)
}

// Throttled records a RequestLimitExceeded answer: the rate halves, at most once per
// halvingInterval, down to the floor.
func (l *limiter) Throttled() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.advance(now)
	if !l.lastHalved.IsZero() && now.Sub(l.lastHalved) < halvingInterval {
		return
	}
	l.lastHalved = now
	l.rate = math.Max(l.floor, l.rate/2)
	l.tokens = math.Min(l.tokens, l.burst())
}

// Rate returns the current rate in requests per second.
func (l *limiter) Rate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.advance(l.now())
	return l.rate
}
