package ec2

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

// clock is a settable time for the limiter.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func near(a, b float64) bool             { return math.Abs(a-b) < 1e-6*math.Max(1, b) }
func reserveN(l *limiter, n int) (d time.Duration) {
	for range n {
		d, _ = l.reserve(time.Time{})
	}
	return d
}

func TestLimiterBucket(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Unix(1e9, 0)}
	l := newLimiter(10, 100, c.now) // burst: 100/s * 100 ms = 10 tokens
	if d := reserveN(l, 10); d != 0 {
		t.Errorf("burst of 10 waited %v", d)
	}
	if d, _ := l.reserve(time.Time{}); d != 10*time.Millisecond {
		t.Errorf("11th request waits %v, want 10ms", d)
	}
	if d, _ := l.reserve(time.Time{}); d != 20*time.Millisecond {
		t.Errorf("12th request waits %v, want 20ms (promised starts queue up)", d)
	}
	// A wait that would end after the deadline is refused and takes nothing.
	if _, ok := l.reserve(c.t.Add(25 * time.Millisecond)); ok {
		t.Error("reservation past the deadline accepted")
	}
	if d, _ := l.reserve(c.t.Add(time.Second)); d != 30*time.Millisecond {
		t.Errorf("after a refused reservation: wait %v, want 30ms", d)
	}
	c.advance(time.Second)
	if d := reserveN(l, 10); d != 0 {
		t.Errorf("refilled bucket waited %v", d)
	}
}

func TestLimiterAdapts(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Unix(1e9, 0)}
	l := newLimiter(10, 1000, c.now)
	l.Throttled()
	if r := l.Rate(); !near(r, 500) {
		t.Errorf("after one throttle: %v, want 500", r)
	}
	// A burst of throttled answers within the halving interval halves once.
	l.Throttled()
	l.Throttled()
	if r := l.Rate(); !near(r, 500) {
		t.Errorf("after a burst of throttles: %v, want 500", r)
	}
	for range 20 {
		c.advance(halvingInterval)
		l.Throttled()
	}
	if r := l.Rate(); r != 10 {
		t.Errorf("after many throttles: %v, want the floor 10", r)
	}
	// Recovery: 5% a second, up to the ceiling.
	c.advance(10 * time.Second)
	if r := l.Rate(); r < 10*math.Pow(recoveryPerSecond, 10)-1e-6 || r > 10*math.Pow(recoveryPerSecond, 11) {
		t.Errorf("after 10 s: %v, want about %v", r, 10*math.Pow(recoveryPerSecond, 10))
	}
	c.advance(time.Hour)
	if r := l.Rate(); r != 1000 {
		t.Errorf("after an hour: %v, want the ceiling", r)
	}
}

func TestLimiterNoFloor(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Unix(1e9, 0)}
	l := newLimiter(0, 200, c.now) // RATE_LIMIT 0: never slows
	l.Throttled()
	if r := l.Rate(); r != 200 {
		t.Errorf("rate %v, want 200", r)
	}
	if got := (&Options{RateLimit: NoRateLimit}).floorRate(); got != 0 {
		t.Errorf("NoRateLimit floor %v", got)
	}
	if got := (&Options{}).floorRate(); got != 10 {
		t.Errorf("default floor %v, want 10/s (100 ms)", got)
	}
	if got := (&Options{RateLimit: 50 * time.Millisecond}).floorRate(); got != 20 {
		t.Errorf("50 ms floor %v, want 20/s", got)
	}
}

func TestLimiterWait(t *testing.T) {
	t.Parallel()
	l := newLimiter(1, 1, time.Now) // one token, one per second
	ctx, cancel := context.WithCancel(context.Background())
	if err := l.Wait(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := l.Wait(ctx, time.Now().Add(10*time.Millisecond)); !errors.Is(err, errLimiterDeadline) {
		t.Errorf("Wait past deadline: %v", err)
	}
	cancel()
	if err := l.Wait(ctx, time.Time{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with a cancelled context: %v", err)
	}
}
