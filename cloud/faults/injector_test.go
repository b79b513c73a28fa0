package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeSleeper records the waits asked of it and returns at once.
type fakeSleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *fakeSleeper) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return ctx.Err()
}

// newTest makes an Injector on a fake clock and sleeper with a seeded rand.
func newTest(t *testing.T, cfg Config) (*Injector, *fakeClock, *fakeSleeper) {
	t.Helper()
	clock, sleeper := newFakeClock(), &fakeSleeper{}
	in, err := New(cfg, clock.Now, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	in.SetSleep(sleeper.Sleep)
	return in, clock, sleeper
}

func TestNoFaultsByDefault(t *testing.T) {
	in, _, sleeper := newTest(t, Config{})
	for i := range 1000 {
		action := []string{"RunInstances", "DescribeInstances", "TerminateInstances"}[i%3]
		if f := in.Before(t.Context(), "acct", action); f != nil {
			t.Fatalf("Before(%s) = %v with no faults", action, f)
		}
		if in.DropAfterAct(action) {
			t.Fatalf("DropAfterAct(%s) with no faults", action)
		}
	}
	if len(sleeper.waits) != 0 {
		t.Errorf("slept %v with no latency", sleeper.waits)
	}
	if in.ConsistencyDelay() != 0 || in.InsufficientCapacity("m5.large", "us-east-1a") {
		t.Error("consistency delay or capacity fault with no faults")
	}
}

func TestLatency(t *testing.T) {
	for _, tc := range []struct {
		name            string
		latency, jitter time.Duration
	}{
		{"fixed", 50 * time.Millisecond, 0},
		{"jitter only", 0, 10 * time.Millisecond},
		{"fixed and jitter", 50 * time.Millisecond, 10 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, _, sleeper := newTest(t, Config{Latency: tc.latency, Jitter: tc.jitter})
			const n = 2000
			for range n {
				if f := in.Before(t.Context(), "acct", "DescribeInstances"); f != nil {
					t.Fatal(f)
				}
			}
			if len(sleeper.waits) > n {
				t.Fatalf("%d waits for %d requests", len(sleeper.waits), n)
			}
			lo, hi := tc.latency+tc.jitter, tc.latency
			for _, w := range sleeper.waits {
				if w < tc.latency || w >= tc.latency+max(tc.jitter, 1) {
					t.Fatalf("waited %v, want in [%v, %v)", w, tc.latency, tc.latency+tc.jitter)
				}
				lo, hi = min(lo, w), max(hi, w)
			}
			if tc.jitter == 0 {
				if len(sleeper.waits) != n {
					t.Errorf("%d waits for %d requests", len(sleeper.waits), n)
				}
				return
			}
			// Jitter spreads over its range: over 2000 draws the extremes come near both
			// ends (a draw of zero jitter is a zero wait and is not slept at all).
			if lo > tc.latency+tc.jitter/10 || hi < tc.latency+tc.jitter*9/10 {
				t.Errorf("waits span [%v, %v], want most of [%v, %v)", lo, hi, tc.latency, tc.latency+tc.jitter)
			}
		})
	}
}

func TestLatencyEndsWithContext(t *testing.T) {
	in, err := New(Config{Latency: time.Hour}, nil, nil) // the real sleeper
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan *Fault)
	go func() { done <- in.Before(ctx, "acct", "RunInstances") }()
	cancel()
	select {
	case f := <-done:
		if f == nil || f.Code != CodeUnavailable || f.HTTPStatus != 503 {
			t.Errorf("Before with a cancelled context = %v, want Unavailable 503", f)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Before did not end when its context did")
	}
	// An already-cancelled request is not acted on even without latency.
	in, _, _ = newTest(t, Config{})
	if f := in.Before(ctx, "acct", "RunInstances"); f == nil || f.Code != CodeUnavailable {
		t.Errorf("Before with a done context = %v, want Unavailable", f)
	}
}

func TestThrottling(t *testing.T) {
	in, clock, _ := newTest(t, Config{Throttle: map[Class]Bucket{Mutating: {Rate: 2, Burst: 3}}})
	ctx := t.Context()
	wantOK := func(account, action string) {
		t.Helper()
		if f := in.Before(ctx, account, action); f != nil {
			t.Fatalf("%s %s: %v, want it allowed", account, action, f)
		}
	}
	wantThrottled := func(account, action string) {
		t.Helper()
		f := in.Before(ctx, account, action)
		want := &Fault{Code: "RequestLimitExceeded", Message: "Request limit exceeded.", HTTPStatus: 503}
		if !reflect.DeepEqual(f, want) {
			t.Fatalf("%s %s: %v, want %v", account, action, f, want)
		}
	}
	// The burst, then refusals.
	for range 3 {
		wantOK("a", "TerminateInstances")
	}
	wantThrottled("a", "CreateTags")
	wantThrottled("a", "TerminateInstances")
	// Other classes and other accounts have their own buckets.
	for range 100 {
		wantOK("a", "DescribeInstances")
		wantOK("a", "RunInstances")
	}
	wantOK("b", "TerminateInstances")
	// Refill at 2 tokens a second: half a second gives one token, and only one.
	clock.Advance(499 * time.Millisecond)
	wantThrottled("a", "TerminateInstances")
	clock.Advance(time.Millisecond)
	wantOK("a", "TerminateInstances")
	wantThrottled("a", "TerminateInstances")
	// A long pause refills to the burst, not beyond.
	clock.Advance(time.Hour)
	for range 3 {
		wantOK("a", "TerminateInstances")
	}
	wantThrottled("a", "TerminateInstances")
	// Ten tenths of a token make a token, float rounding notwithstanding.
	for range 9 {
		clock.Advance(50 * time.Millisecond)
		wantThrottled("a", "TerminateInstances")
	}
	clock.Advance(50 * time.Millisecond)
	wantOK("a", "TerminateInstances")
	// SetConfig starts with full buckets.
	if err := in.SetConfig(in.Config()); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		wantOK("a", "TerminateInstances")
	}
	wantThrottled("a", "TerminateInstances")

	st := in.Stats()["TerminateInstances"]
	if st.Throttled != 14 || st.Faults != 0 {
		t.Errorf("TerminateInstances stats %+v, want 14 throttled", st)
	}
}

// TestThrottlingAWSLimits shows the aws-limits profile's bursts and rates at work.
func TestThrottlingAWSLimits(t *testing.T) {
	in, clock, _ := newTest(t, Config{Profile: ProfileAWSLimits})
	for _, tc := range []struct {
		action string
		rate   float64
		burst  int
	}{{"DescribeInstances", 20, 100}, {"TerminateInstances", 5, 50}, {"RunInstances", 2, 5}} {
		allowed := func() int {
			n := 0
			for range 1000 {
				if in.Before(t.Context(), "acct", tc.action) == nil {
					n++
				}
			}
			return n
		}
		if n := allowed(); n != tc.burst {
			t.Errorf("%s: %d allowed at once, want the burst %d", tc.action, n, tc.burst)
		}
		clock.Advance(10 * time.Second)
		if n, want := allowed(), min(tc.burst, int(10*tc.rate)); n != want {
			t.Errorf("%s: %d allowed after 10 s, want %d", tc.action, n, want)
		}
		clock.Advance(time.Second)
		if n := allowed(); n != int(tc.rate) {
			t.Errorf("%s: %d allowed after 1 s, want the rate %v", tc.action, n, tc.rate)
		}
	}
}

func TestThrottlingClockStepsBack(t *testing.T) {
	in, clock, _ := newTest(t, Config{Throttle: map[Class]Bucket{NonMutating: {Rate: 1, Burst: 1}}})
	if in.Before(t.Context(), "a", "DescribeImages") != nil {
		t.Fatal("first request throttled")
	}
	clock.Advance(-time.Hour)
	if in.Before(t.Context(), "a", "DescribeImages") == nil {
		t.Error("a clock stepped back refilled the bucket")
	}
	clock.Advance(time.Hour + time.Second)
	if f := in.Before(t.Context(), "a", "DescribeImages"); f != nil {
		t.Errorf("after the clock caught up: %v", f)
	}
}

func TestBucketSweep(t *testing.T) {
	in, clock, _ := newTest(t, Config{Throttle: map[Class]Bucket{Mutating: {Rate: 1, Burst: 2}}})
	// Many accounts, each leaving its bucket part used.
	for i := range 3 * bucketSweepMin {
		in.Before(t.Context(), fmt.Sprint("acct-", i), "CreateTags")
	}
	if n := len(in.gen.Load().buckets); n != 3*bucketSweepMin {
		t.Fatalf("%d buckets, want %d (none is full, so none may go)", n, 3*bucketSweepMin)
	}
	// Once they have refilled they are forgotten when the map next grows past the mark.
	clock.Advance(time.Minute)
	for i := range 2 * bucketSweepMin {
		in.Before(t.Context(), fmt.Sprint("new-", i), "CreateTags")
	}
	if n := len(in.gen.Load().buckets); n >= 4*bucketSweepMin {
		t.Errorf("%d buckets after a sweep, want full ones gone", n)
	}
	// A forgotten account starts with a full bucket, as it would have had.
	for range 2 {
		if f := in.Before(t.Context(), "acct-0", "CreateTags"); f != nil {
			t.Errorf("acct-0 after the sweep: %v", f)
		}
	}
	if f := in.Before(t.Context(), "acct-0", "CreateTags"); f == nil {
		t.Error("acct-0 got more than its burst")
	}
}

func TestInternalErrorRate(t *testing.T) {
	for _, tc := range []struct {
		rate   float64
		lo, hi int // errors allowed in n calls
	}{
		{0, 0, 0},
		{1, 10000, 10000},
		{0.5, 4800, 5200}, // 4 standard deviations (50) each side, and the rand is seeded
		{0.01, 60, 140},
	} {
		t.Run(fmt.Sprint(tc.rate), func(t *testing.T) {
			in, _, _ := newTest(t, Config{InternalErrorRate: tc.rate})
			const n = 10000
			errs := 0
			for range n {
				switch f := in.Before(t.Context(), "acct", "DescribeInstances"); {
				case f == nil:
				case reflect.DeepEqual(f, &Fault{Code: "InternalError", Message: "An internal error has occurred", HTTPStatus: 500}):
					errs++
				default:
					t.Fatalf("unexpected fault %v", f)
				}
			}
			if errs < tc.lo || errs > tc.hi {
				t.Errorf("%d internal errors in %d calls at rate %v, want %d..%d", errs, n, tc.rate, tc.lo, tc.hi)
			}
			if st := in.Stats()["DescribeInstances"]; st.Faults != int64(errs) || st.Calls != n {
				t.Errorf("stats %+v, want %d calls and %d faults", st, n, errs)
			}
		})
	}
}

func TestThrottleRate(t *testing.T) {
	for _, tc := range []struct {
		rate   float64
		lo, hi int // throttles allowed in n calls
	}{
		{0, 0, 0},
		{1, 10000, 10000},
		{0.3, 2800, 3200}, // over 4 standard deviations (46) each side, and the rand is seeded
	} {
		t.Run(fmt.Sprint(tc.rate), func(t *testing.T) {
			// An internal error rate of 1 shows that a throttled call is never also failed.
			in, _, _ := newTest(t, Config{ThrottleRate: tc.rate, InternalErrorRate: 1})
			const n = 10000
			throttled := 0
			for range n {
				switch f := in.Before(t.Context(), "acct", "RunInstances"); {
				case f == nil:
					t.Fatal("a call went through at internal error rate 1")
				case f.Code == CodeRequestLimitExceeded && f.HTTPStatus == 503:
					throttled++
				case f.Code != CodeInternalError:
					t.Fatalf("unexpected fault %v", f)
				}
			}
			if throttled < tc.lo || throttled > tc.hi {
				t.Errorf("%d throttles in %d calls at rate %v, want %d..%d", throttled, n, tc.rate, tc.lo, tc.hi)
			}
			if st := in.Stats()["RunInstances"]; st.Throttled != int64(throttled) || st.Faults != int64(n-throttled) {
				t.Errorf("stats %+v, want %d throttled and %d faults", st, throttled, n-throttled)
			}
		})
	}
}

func TestThrottleComesBeforeInternalError(t *testing.T) {
	in, _, _ := newTest(t, Config{InternalErrorRate: 1, Throttle: map[Class]Bucket{RunInstances: {Rate: 1, Burst: 1}}})
	if f := in.Before(t.Context(), "a", "RunInstances"); f == nil || f.Code != CodeInternalError {
		t.Errorf("first call = %v, want InternalError", f)
	}
	if f := in.Before(t.Context(), "a", "RunInstances"); f == nil || f.Code != CodeRequestLimitExceeded {
		t.Errorf("second call = %v, want RequestLimitExceeded", f)
	}
}

func TestDropAfterAct(t *testing.T) {
	for _, tc := range []struct {
		rate   float64
		action string
		lo, hi int
	}{
		{1, "RunInstances", 1000, 1000},
		{1, "TerminateInstances", 1000, 1000},
		{1, "RequestSpotInstances", 1000, 1000},
		{1, "DescribeInstances", 0, 0}, // reads are never dropped
		{1, "GetConsoleOutput", 0, 0},
		{0, "RunInstances", 0, 0},
		{0.5, "CreateTags", 400, 600},
	} {
		t.Run(fmt.Sprint(tc.action, "@", tc.rate), func(t *testing.T) {
			in, _, _ := newTest(t, Config{DropAfterActRate: tc.rate})
			drops := 0
			for range 1000 {
				if in.DropAfterAct(tc.action) {
					drops++
				}
			}
			if drops < tc.lo || drops > tc.hi {
				t.Errorf("%d of 1000 %s dropped at rate %v, want %d..%d", drops, tc.action, tc.rate, tc.lo, tc.hi)
			}
			if got := in.Stats()[tc.action].Dropped; got != int64(drops) {
				t.Errorf("Dropped = %d, want %d", got, drops)
			}
		})
	}
}

func TestConsistencyDelay(t *testing.T) {
	in, _, _ := newTest(t, Config{ConsistencyDelay: 3 * time.Second})
	if got := in.ConsistencyDelay(); got != 3*time.Second {
		t.Errorf("ConsistencyDelay() = %v, want 3s", got)
	}
	if err := in.SetConfig(Config{}); err != nil {
		t.Fatal(err)
	}
	if got := in.ConsistencyDelay(); got != 0 {
		t.Errorf("after SetConfig(off): ConsistencyDelay() = %v", got)
	}
}

func TestInsufficientCapacity(t *testing.T) {
	type launch struct{ typ, zone string }
	for _, tc := range []struct {
		name  string
		rules []Rule
		fail  []launch
		pass  []launch
	}{
		{name: "type in any zone", rules: []Rule{{InstanceType: "m5.large"}},
			fail: []launch{{"m5.large", "us-east-1a"}, {"m5.large", "us-east-1b"}, {"m5.large", ""}},
			pass: []launch{{"m5.xlarge", "us-east-1a"}, {"t2.micro", ""}}},
		{name: "zone for any type", rules: []Rule{{Zone: "us-east-1a"}},
			fail: []launch{{"m5.large", "us-east-1a"}, {"t2.micro", "us-east-1a"}},
			pass: []launch{{"m5.large", "us-east-1b"}, {"m5.large", ""}}},
		{name: "type in zone", rules: []Rule{{InstanceType: "m5.large", Zone: "us-east-1a"}},
			fail: []launch{{"m5.large", "us-east-1a"}},
			pass: []launch{{"m5.large", "us-east-1b"}, {"t2.micro", "us-east-1a"}}},
		{name: "any", rules: []Rule{{}},
			fail: []launch{{"m5.large", "us-east-1a"}, {"", ""}}},
		{name: "star is any", rules: []Rule{{InstanceType: "*", Zone: "us-east-1c"}},
			fail: []launch{{"c5.large", "us-east-1c"}},
			pass: []launch{{"c5.large", "us-east-1a"}}},
		{name: "several rules", rules: []Rule{{InstanceType: "p3.2xlarge"}, {Zone: "us-east-1d"}},
			fail: []launch{{"p3.2xlarge", "us-east-1a"}, {"t2.micro", "us-east-1d"}},
			pass: []launch{{"t2.micro", "us-east-1a"}}},
		{name: "none", pass: []launch{{"m5.large", "us-east-1a"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, _, _ := newTest(t, Config{InsufficientCapacity: tc.rules})
			for _, l := range tc.fail {
				if !in.InsufficientCapacity(l.typ, l.zone) {
					t.Errorf("%s in %q launched, want InsufficientInstanceCapacity", l.typ, l.zone)
				}
				f := in.CapacityFault("RunInstances", l.typ, l.zone)
				if f == nil || f.Code != "InsufficientInstanceCapacity" || f.HTTPStatus != 500 {
					t.Errorf("CapacityFault(%s, %q) = %v", l.typ, l.zone, f)
				}
			}
			for _, l := range tc.pass {
				if in.InsufficientCapacity(l.typ, l.zone) || in.CapacityFault("RunInstances", l.typ, l.zone) != nil {
					t.Errorf("%s in %q refused, want it launched", l.typ, l.zone)
				}
			}
			if got := in.Stats()["RunInstances"].Faults; got != int64(len(tc.fail)) {
				t.Errorf("RunInstances Faults = %d, want %d", got, len(tc.fail))
			}
		})
	}
	in, _, _ := newTest(t, Config{InsufficientCapacity: []Rule{{}}})
	want := "We currently do not have sufficient m5.large capacity in the Availability Zone you requested (us-east-1a). " +
		"Our system will be working on provisioning additional capacity."
	if f := in.CapacityFault("RunInstances", "m5.large", "us-east-1a"); f.Message != want {
		t.Errorf("message %q, want %q", f.Message, want)
	}
}

func TestStats(t *testing.T) {
	in, _, _ := newTest(t, Config{Throttle: map[Class]Bucket{RunInstances: {Rate: 1, Burst: 2}}, DropAfterActRate: 1})
	ctx := t.Context()
	for range 3 {
		if f := in.Before(ctx, "a", "RunInstances"); f != nil {
			in.Record("RunInstances", "error:"+f.Code)
			continue
		}
		if in.DropAfterAct("RunInstances") {
			continue // nothing answered, so nothing recorded
		}
		in.Record("RunInstances", "ok")
	}
	for range 2 {
		in.Before(ctx, "a", "DescribeInstances")
		in.Record("DescribeInstances", "ok")
	}
	in.Before(ctx, "a", "DescribeInstances")
	in.Record("DescribeInstances", "error:InvalidInstanceID.NotFound")
	in.Record("DescribeInstances", "")
	in.Record("Bogus", "error:InvalidAction")
	in.Record("Bogus", "panic")

	want := map[string]ActionStats{
		"RunInstances":      {Calls: 3, Throttled: 1, Dropped: 2, Errors: map[string]int64{"RequestLimitExceeded": 1}},
		"DescribeInstances": {Calls: 3, Errors: map[string]int64{"InvalidInstanceID.NotFound": 1}},
		"Bogus":             {Errors: map[string]int64{"InvalidAction": 1, "panic": 1}},
	}
	got := in.Stats()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Stats() =\n%+v\nwant\n%+v", got, want)
	}
	// Stats is a copy.
	got["Bogus"].Errors["InvalidAction"] = 99
	if in.Stats()["Bogus"].Errors["InvalidAction"] != 1 {
		t.Error("Stats() shares its Errors maps with the Injector")
	}
	in.ResetStats()
	if got := in.Stats(); len(got) != 0 {
		t.Errorf("after ResetStats: %v", got)
	}
	in.Before(ctx, "a", "DescribeInstances")
	if got := in.Stats()["DescribeInstances"]; got.Calls != 1 {
		t.Errorf("counting after ResetStats: %+v", got)
	}
}

func TestStatsBoundsActionNames(t *testing.T) {
	in, _, _ := newTest(t, Config{})
	for i := range maxStatsActions + 500 {
		in.Before(t.Context(), "a", fmt.Sprint("Action", i))
	}
	in.Before(t.Context(), "a", "Action0") // a name already counted keeps its entry
	st := in.Stats()
	if len(st) != maxStatsActions+1 {
		t.Errorf("%d entries, want %d names and %s", len(st), maxStatsActions, OtherAction)
	}
	if st[OtherAction].Calls != 500 || st["Action0"].Calls != 2 {
		t.Errorf("%s has %d calls (want 500), Action0 %d (want 2)", OtherAction, st[OtherAction].Calls, st["Action0"].Calls)
	}
}

// TestConcurrency runs every method at once (meant for -race) and checks that no count is
// lost.
func TestConcurrency(t *testing.T) {
	in, err := New(Config{Profile: ProfileAWSLimits, InternalErrorRate: 0.1, DropAfterActRate: 0.1, Jitter: time.Microsecond}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	const workers, perWorker = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			account := fmt.Sprint("acct-", w%3)
			for i := range perWorker {
				action := []string{"RunInstances", "DescribeInstances", "TerminateInstances"}[i%3]
				if f := in.Before(t.Context(), account, action); f != nil {
					in.Record(action, "error:"+f.Code)
				} else if !in.DropAfterAct(action) {
					in.Record(action, "ok")
				}
				in.InsufficientCapacity("m5.large", "us-east-1a")
				in.ConsistencyDelay()
			}
		})
	}
	wg.Go(func() {
		for i := range 200 {
			cfg := in.Config()
			cfg.Latency = time.Duration(i%2) * time.Microsecond
			if err := in.SetConfig(cfg); err != nil {
				t.Error(err)
			}
			in.Stats()
		}
	})
	wg.Wait()
	var calls, throttled, faults, errs int64
	for _, s := range in.Stats() {
		calls += s.Calls
		throttled += s.Throttled
		faults += s.Faults
		for _, n := range s.Errors {
			errs += n
		}
	}
	if calls != workers*perWorker {
		t.Errorf("%d calls counted, want %d", calls, workers*perWorker)
	}
	if errs != throttled+faults {
		t.Errorf("%d errors recorded, want %d throttled + %d faults", errs, throttled, faults)
	}
}

func TestFaultIsAnError(t *testing.T) {
	var err error = &Fault{Code: "InternalError", Message: "An internal error has occurred", HTTPStatus: 500}
	var f *Fault
	if !errors.As(fmt.Errorf("call: %w", err), &f) || f.Error() != "InternalError (500): An internal error has occurred" {
		t.Errorf("Fault as error: %v", err)
	}
}

func BenchmarkBefore(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  Config
	}{{"off", Config{}}, {"aws-limits", Config{Profile: ProfileAWSLimits, InternalErrorRate: 0.01}}} {
		b.Run(bc.name, func(b *testing.B) {
			in, err := New(bc.cfg, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					in.Before(ctx, "acct", "DescribeInstances")
				}
			})
		})
	}
}
