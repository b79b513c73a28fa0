package resource

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/gahp"
	"github.com/ec2grid/ec2grid/gahp/ec2"
)

// TestCallPrependsKeyAndNulls: a command goes out as CMD id url ak sk args, empty args as NULL.
func TestCallPrependsKeyAndNulls(t *testing.T) {
	t.Parallel()
	f := newFakeGahp(t)
	var got []string
	f.handle(ec2.CmdCreateTags, func(_ context.Context, _ int, req gahp.Request) []string {
		got = req.Args[2:]
		return []string{"0"}
	})
	r := startFake(t, f, Options{}, nil)
	res, err := r.Call(ctxT(t), Medium, ec2.CmdCreateTags, "i-1", "a=b", "")
	if err != nil || !slices.Equal(res, []string{"0"}) {
		t.Fatalf("Call = %q, %v", res, err)
	}
	want := []string{testKey.URL, testKey.AccessKeyFile, testKey.SecretKeyFile, "i-1", "a=b", "NULL"}
	if !slices.Equal(got, want) {
		t.Errorf("sent %q, want %q", got, want)
	}
	if _, err := r.Call(ctxT(t), Medium, "EC2_NO_SUCH_COMMAND"); err == nil || !strings.Contains(err.Error(), "does not support") {
		t.Errorf("unsupported command: err = %v", err)
	}
}

// TestHandshakeTimeout: a child that prints no banner is given up on after HandshakeTimeout,
// the resource is reported down, and the child is started again.
func TestHandshakeTimeout(t *testing.T) {
	t.Parallel()
	f := newFakeGahp(t)
	f.hang = true
	r := New(testKey, Options{HandshakeTimeout: 50 * time.Millisecond, Logger: testLogger(t)}, nil)
	r.spawn = f.spawn
	_, _, err := r.startChild(ctxT(t))
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no banner") {
		t.Fatalf("startChild = %v, want a handshake timeout", err)
	}
	f.mu.Lock()
	ch := f.children[0]
	f.mu.Unlock()
	select {
	case <-ch.exited:
	case <-time.After(waitLong):
		t.Fatal("the silent child was not killed")
	}

	l := newRecorder()
	r2 := startFake(t, f, Options{HandshakeTimeout: 50 * time.Millisecond}, l)
	waitFor(t, "a restart after the failed handshake", func() bool { return f.spawned() >= 3 })
	if h := r2.Health(); h.Up || h.Since.IsZero() {
		t.Errorf("Health = %+v, want known down", h)
	}
	if hs := l.healths(); len(hs) == 0 || hs[0].Up {
		t.Errorf("listener heard %+v, want down", hs)
	}
	// Once a child answers, the resource comes up.
	f.mu.Lock()
	f.hang = false
	f.mu.Unlock()
	waitFor(t, "the resource up", func() bool { return r2.Health().Up })
}

// TestRestartReissues: the child dies with a stop and a tag call in flight; both are sent
// again to the next child and succeed; a start in flight is reported lost and not resent.
func TestRestartReissues(t *testing.T) {
	t.Parallel()
	f := newFakeGahp(t)
	entered := make(chan string, 10)
	block := func(ctx context.Context, gen int, req gahp.Request) []string {
		if gen == 1 {
			entered <- req.Args[0]
			<-ctx.Done() // until the child dies
			return []string{"1", "GAHPERROR", "killed"}
		}
		return []string{"0", "gen2"}
	}
	f.handle(ec2.CmdStop, block)
	f.handle(ec2.CmdCreateTags, block)
	f.handle(ec2.CmdStart, block)
	r := startFake(t, f, Options{}, nil)
	ctx := ctxT(t)

	type out struct {
		res []string
		err error
	}
	results := map[string]chan out{}
	for _, c := range []string{ec2.CmdStop, ec2.CmdCreateTags, ec2.CmdStart} {
		ch := make(chan out, 1)
		results[c] = ch
		go func() {
			res, err := r.Call(ctx, Medium, c, "i-1")
			ch <- out{res, err}
		}()
	}
	for range 3 {
		select {
		case <-entered:
		case <-time.After(waitLong):
			t.Fatal("commands did not reach the first child")
		}
	}
	f.kill(1)
	for _, c := range []string{ec2.CmdStop, ec2.CmdCreateTags} {
		o := <-results[c]
		if o.err != nil || !slices.Equal(o.res, []string{"0", "gen2"}) {
			t.Errorf("%s after the restart = %q, %v; want the second child's answer", c, o.res, o.err)
		}
		if n := f.count(c); n != 2 {
			t.Errorf("%s sent %d times, want 2 (once per child)", c, n)
		}
	}
	o := <-results[ec2.CmdStart]
	if !errors.Is(o.err, ErrLost) {
		t.Errorf("start in flight = %q, %v; want ErrLost", o.res, o.err)
	}
	if n := f.count(ec2.CmdStart); n != 1 {
		t.Errorf("start sent %d times, want 1", n)
	}
	if f.spawned() != 2 {
		t.Errorf("%d children started, want 2", f.spawned())
	}
	// Starts sent after the restart work as ever.
	res, err := r.Call(ctx, Low, ec2.CmdStart, "ami")
	if err != nil || res[0] != "0" {
		t.Errorf("start on the new child = %q, %v", res, err)
	}
}

// TestHungChildKilled: a child that stops answering request lines is killed after the
// response timeout; the command in flight goes to the next child (a start: ErrLost).
func TestHungChildKilled(t *testing.T) {
	t.Parallel()
	f := newFakeGahp(t)
	f.mute = true
	r := New(testKey, Options{Logger: testLogger(t), ProbeInterval: time.Hour}, nil)
	r.spawn = f.spawn
	r.backoffMin = 10 * time.Millisecond
	r.respTimeout = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the first child", func() bool { return f.spawned() == 1 })
	f.mu.Lock()
	f.mute = false
	f.mu.Unlock()
	if res, err := r.Call(ctxT(t), Medium, ec2.CmdCreateTags, "i-1", "a=b"); err != nil || res[0] != "0" {
		t.Errorf("tags via a hung child = %q, %v; want the next child's answer", res, err)
	}
	if f.spawned() < 2 {
		t.Errorf("%d children, want the hung one replaced", f.spawned())
	}
	f.mu.Lock()
	f.mute = true
	f.mu.Unlock()
	f.kill(f.spawned())
	waitFor(t, "a mute child", func() bool { return f.spawned() >= 3 })
	if _, err := r.Call(ctxT(t), Low, ec2.CmdStart, "ami"); !errors.Is(err, ErrLost) {
		t.Errorf("start via a hung child = %v, want ErrLost", err)
	}
}

// TestChildExitReplaced: a child that exits on its own (QUIT by someone else, a crash) is
// noticed and replaced, again and again.
func TestChildExitReplaced(t *testing.T) {
	t.Parallel()
	f := newFakeGahp(t)
	r := startFake(t, f, Options{}, nil)
	waitFor(t, "the first ping", func() bool { return r.Health().Up })
	for i := 1; i <= 3; i++ {
		f.kill(i)
		waitFor(t, fmt.Sprintf("child %d", i+1), func() bool { return f.spawned() == i+1 })
	}
	if res, err := r.Call(ctxT(t), High, ec2.CmdStatusAll); err != nil || res[0] != "0" {
		t.Errorf("status on the fourth child = %q, %v", res, err)
	}
	if st, err := r.Statistics(ctxT(t)); err != nil || len(st) != 4 {
		t.Errorf("Statistics = %q, %v", st, err)
	}
}

// TestStopBatching: 100 concurrent stops cost a few EC2_VM_STOP calls, every id is stopped
// exactly once, and every caller hears success.
func TestStopBatching(t *testing.T) {
	t.Parallel()
	f := newFakeGahp(t)
	f.handle(ec2.CmdStop, func(ctx context.Context, _ int, _ gahp.Request) []string {
		time.Sleep(20 * time.Millisecond) // a cloud's latency, so stops pile up behind the first
		return []string{"0"}
	})
	r := startFake(t, f, Options{}, nil)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Go(func() {
			res, err := r.Stop(ctx, fmt.Sprintf("i-%03d", i))
			if err != nil || !slices.Equal(res, []string{"0"}) {
				errs <- fmt.Errorf("stop i-%03d = %q, %v", i, res, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	f.mu.Lock()
	stops := f.stops
	f.mu.Unlock()
	seen := map[string]int{}
	for _, ids := range stops {
		for _, id := range ids {
			seen[id]++
		}
	}
	if len(seen) != 100 {
		t.Errorf("%d distinct ids stopped, want 100", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s stopped %d times", id, n)
		}
	}
	t.Logf("100 stops in %d EC2_VM_STOP calls", len(stops))
	if len(stops) > 5 {
		t.Errorf("%d EC2_VM_STOP calls for 100 stops, want <= 5", len(stops))
	}
	// A lone stop goes out at once, on its own.
	if res, err := r.Stop(ctx, "i-lone"); err != nil || res[0] != "0" {
		t.Errorf("lone stop = %q, %v", res, err)
	}
	f.mu.Lock()
	last := f.stops[len(f.stops)-1]
	f.mu.Unlock()
	if !slices.Equal(last, []string{"i-lone"}) {
		t.Errorf("lone stop sent %q", last)
	}
}

// TestStopFallback: a batched stop that fails because one id is unknown is retried per id:
// the unknown one gets its own failure, the others succeed.
func TestStopFallback(t *testing.T) {
	t.Parallel()
	f := newFakeGahp(t)
	release := make(chan struct{})
	first := true
	var mu sync.Mutex
	notFound := []string{"1", "E_HTTP_RESPONSE_NOT_200 (400)", "<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code></Error></Errors></Response>"}
	f.handle(ec2.CmdStop, func(ctx context.Context, _ int, req gahp.Request) []string {
		mu.Lock()
		hold := first
		first = false
		mu.Unlock()
		if hold {
			<-release
		}
		if slices.Contains(req.Args[5:], "i-gone") {
			return notFound // like AWS: one bad id fails the whole call
		}
		return []string{"0"}
	})
	r := startFake(t, f, Options{}, nil)
	ctx := ctxT(t)
	type out struct {
		res []string
		err error
	}
	lone := make(chan out, 1)
	go func() { res, err := r.Stop(ctx, "i-first"); lone <- out{res, err} }()
	waitFor(t, "the first stop in flight", func() bool { return f.count(ec2.CmdStop) == 1 })
	ids := []string{"i-a", "i-gone", "i-b"}
	outs := make([]chan out, len(ids))
	for i, id := range ids {
		outs[i] = make(chan out, 1)
		go func() { res, err := r.Stop(ctx, id); outs[i] <- out{res, err} }()
	}
	waitFor(t, "three stops queued", func() bool {
		r.stops.mu.Lock()
		defer r.stops.mu.Unlock()
		return len(r.stops.queue) == 3
	})
	close(release)
	if o := <-lone; o.err != nil || o.res[0] != "0" {
		t.Errorf("first stop = %q, %v", o.res, o.err)
	}
	for i, id := range ids {
		o := <-outs[i]
		want := []string{"0"}
		if id == "i-gone" {
			want = notFound
		}
		if o.err != nil || !slices.Equal(o.res, want) {
			t.Errorf("stop %s = %q, %v; want %q", id, o.res, o.err, want)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// first alone, the batch of three, then one per id.
	if len(f.stops) != 5 || len(f.stops[1]) != 3 {
		t.Errorf("EC2_VM_STOP calls %q, want [first] [a gone b] then one per id", f.stops)
	}
}

// TestStopBatchTransportFailure: a batched stop that fails in transport is every caller's
// answer; it is not retried per id against a cloud that cannot be reached.
func TestStopBatchTransportFailure(t *testing.T) {
	t.Parallel()
	f := newFakeGahp(t)
	release := make(chan struct{})
	var mu sync.Mutex
	first := true
	refused := []string{"1", "E_CURL_IO", "curl_easy_perform() failed (7): 'Couldn't connect to server'."}
	f.handle(ec2.CmdStop, func(context.Context, int, gahp.Request) []string {
		mu.Lock()
		hold := first
		first = false
		mu.Unlock()
		if hold {
			<-release
		}
		return refused
	})
	r := startFake(t, f, Options{}, nil)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	wg.Go(func() { r.Stop(ctx, "i-first") })
	waitFor(t, "the first stop in flight", func() bool { return f.count(ec2.CmdStop) == 1 })
	for i := range 10 {
		wg.Go(func() {
			if res, err := r.Stop(ctx, fmt.Sprintf("i-%d", i)); err != nil || !slices.Equal(res, refused) {
				t.Errorf("stop = %q, %v; want the transport failure", res, err)
			}
		})
	}
	waitFor(t, "ten stops queued", func() bool {
		r.stops.mu.Lock()
		defer r.stops.mu.Unlock()
		return len(r.stops.queue) == 10
	})
	close(release)
	wg.Wait()
	if n := f.count(ec2.CmdStop); n != 2 {
		t.Errorf("%d EC2_VM_STOP calls, want 2 (the first, then the batch of ten)", n)
	}
}

// TestPendingPriorities: with the pending cap full, waiting commands go high, then medium,
// then low, each in arrival order.
func TestPendingPriorities(t *testing.T) {
	t.Parallel()
	f := newFakeGahp(t)
	release := make(chan struct{})
	f.handle(ec2.CmdAttachVolume, func(ctx context.Context, _ int, _ gahp.Request) []string {
		<-release
		return []string{"0"}
	})
	r := startFake(t, f, Options{MaxPending: 1}, nil)
	ctx := ctxT(t)
	waitFor(t, "the first ping", func() bool { return r.Health().Up })
	done := make(chan struct{})
	go func() { r.Call(ctx, Medium, ec2.CmdAttachVolume, "vol", "i", "/dev/x"); close(done) }()
	waitFor(t, "the blocker in flight", func() bool { return f.count(ec2.CmdAttachVolume) == 1 })

	var wg sync.WaitGroup
	queue := func(prio Priority, command string) {
		_, before := r.pending.held()
		wg.Go(func() {
			if _, err := r.Call(ctx, prio, command, "x"); err != nil {
				t.Errorf("%s: %v", command, err)
			}
		})
		waitFor(t, command+" queued", func() bool { _, w := r.pending.held(); return w == before+1 })
	}
	queue(Low, ec2.CmdStart)
	queue(Medium, ec2.CmdDestroyKeypair)
	queue(High, ec2.CmdStatusAll)
	queue(Low, ec2.CmdStartSpot)
	queue(Medium, ec2.CmdCreateTags)
	queue(High, ec2.CmdServerType)
	f.mu.Lock()
	f.order = nil
	f.mu.Unlock()
	close(release)
	wg.Wait()
	<-done
	want := []string{ec2.CmdStatusAll, ec2.CmdServerType, ec2.CmdDestroyKeypair, ec2.CmdCreateTags, ec2.CmdStart, ec2.CmdStartSpot}
	f.mu.Lock()
	got := f.order
	f.mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("order %q, want %q", got, want)
	}
	if used, waiting := r.pending.held(); used != 0 || waiting != 0 {
		t.Errorf("after all: %d held, %d waiting", used, waiting)
	}
}

// TestSubmitSlotsFIFO: slots beyond MaxSubmitted are granted in arrival order; a waiter
// that gives up takes nothing.
func TestSubmitSlotsFIFO(t *testing.T) {
	t.Parallel()
	r := New(testKey, Options{MaxSubmitted: 2}, nil)
	ctx := ctxT(t)
	rel1, err := r.AcquireSubmitSlot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rel2, err := r.AcquireSubmitSlot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	granted := make(chan int, 10)
	releases := make(chan func(), 10)
	for i := range 3 {
		_, before := r.submits.held()
		go func() {
			rel, err := r.AcquireSubmitSlot(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			granted <- i
			releases <- rel
		}()
		waitFor(t, "a waiter queued", func() bool { _, w := r.submits.held(); return w == before+1 })
	}
	// A waiter that gives up leaves no trace.
	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	if _, err := r.AcquireSubmitSlot(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled wait = %v", err)
	}
	cancel()
	rel1()
	rel1() // a second release does nothing
	if i := <-granted; i != 0 {
		t.Errorf("first grant to waiter %d", i)
	}
	select {
	case i := <-granted:
		t.Fatalf("waiter %d granted with no slot free", i)
	case <-time.After(20 * time.Millisecond):
	}
	rel2()
	if i := <-granted; i != 1 {
		t.Errorf("second grant to waiter %d", i)
	}
	(<-releases)()
	if i := <-granted; i != 2 {
		t.Errorf("third grant to waiter %d", i)
	}
	(<-releases)()
	(<-releases)()
	if used, waiting := r.submits.held(); used != 0 || waiting != 0 {
		t.Errorf("after all: %d held, %d waiting", used, waiting)
	}
}

// TestPing: the first ping's answer sets Health and tells the listener.
func TestPing(t *testing.T) {
	t.Parallel()
	authMsg := "<Response><Errors><Error><Code>AuthFailure</Code>\n</Error></Errors></Response>"
	for _, tc := range []struct {
		name   string
		res    []string
		want   Health
		probes bool
	}{
		{"up", []string{"0", "OpenStack"}, Health{Up: true, ServerType: "OpenStack"}, true},
		{"auth failure", []string{"1", "E_HTTP_RESPONSE_NOT_200 (401)", authMsg},
			Health{Up: true, AuthFailure: `(E_HTTP_RESPONSE_NOT_200 (401)): '<Response><Errors><Error><Code>AuthFailure</Code>\n</Error></Errors></Response>'`}, true},
		{"refused", []string{"1", "E_HTTP_RESPONSE_NOT_200 (403)", "UnauthorizedOperation"}, Health{Up: true}, true},
		{"transport", []string{"1", "E_CURL_IO", "connection refused"}, Health{}, false},
		{"empty code", []string{"1"}, Health{}, false},
		{"server fault", []string{"1", "E_HTTP_RESPONSE_NOT_200 (503)", "busy"}, Health{}, false},
		{"malformed", []string{"0"}, Health{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeGahp(t)
			f.handle(ec2.CmdServerType, func(context.Context, int, gahp.Request) []string { return tc.res })
			l := newRecorder()
			before := time.Now()
			r := startFake(t, f, Options{ProbeInterval: 20 * time.Millisecond}, l)
			waitFor(t, "the first health", func() bool { return len(l.healths()) > 0 })
			h := l.healths()[0]
			if h.Since.Before(before) {
				t.Errorf("Since %v before the start %v", h.Since, before)
			}
			h.Since = time.Time{}
			if h != tc.want {
				t.Errorf("health %+v, want %+v", h, tc.want)
			}
			if got := r.Health(); got.Up != tc.want.Up {
				t.Errorf("Health() = %+v", got)
			}
			if tc.probes {
				waitFor(t, "a probe", func() bool { return len(l.snapshots()) > 0 })
			} else {
				// Down: probes are skipped for many probe intervals.
				time.Sleep(200 * time.Millisecond)
				if n := f.count(ec2.CmdStatusAll); n != 0 {
					t.Errorf("%d probes while down", n)
				}
				// Re-pinged every PingInterval (an hour by default), not in a loop.
				if n := f.count(ec2.CmdServerType); n != 1 {
					t.Errorf("%d pings while down, want 1", n)
				}
			}
		})
	}
}

// TestDownThenUp: a down resource is re-pinged every PingInterval; when the ping succeeds
// the listener hears it up, and probes begin.
func TestDownThenUp(t *testing.T) {
	t.Parallel()
	f := newFakeGahp(t)
	var mu sync.Mutex
	up := false
	f.handle(ec2.CmdServerType, func(context.Context, int, gahp.Request) []string {
		mu.Lock()
		defer mu.Unlock()
		if up {
			return []string{"0", "Amazon"}
		}
		return []string{"1", "E_CURL_IO", "curl_easy_perform() failed (7): 'Couldn't connect to server'."}
	})
	l := newRecorder()
	r := startFake(t, f, Options{PingInterval: 10 * time.Millisecond, ProbeInterval: 10 * time.Millisecond}, l)
	waitFor(t, "three pings", func() bool { return f.count(ec2.CmdServerType) >= 3 })
	if h := r.Health(); h.Up || h.Since.IsZero() {
		t.Errorf("Health = %+v, want down", h)
	}
	if n := f.count(ec2.CmdStatusAll); n != 0 {
		t.Errorf("%d probes while down", n)
	}
	mu.Lock()
	up = true
	mu.Unlock()
	waitFor(t, "up", func() bool { return r.Health().Up })
	waitFor(t, "a probe", func() bool { return len(l.snapshots()) > 0 })
	hs := l.healths()
	if len(hs) != 2 || hs[0].Up || !hs[1].Up || hs[1].ServerType != "Amazon" || !hs[1].Since.After(hs[0].Since) && !hs[1].Since.Equal(hs[0].Since) {
		t.Errorf("health news %+v, want down then up", hs)
	}
	// Up: no more periodic pings.
	n := f.count(ec2.CmdServerType)
	time.Sleep(100 * time.Millisecond)
	if m := f.count(ec2.CmdServerType); m != n {
		t.Errorf("%d pings while up, want none after the first success", m-n)
	}
}

// TestProbeCadence: with a short interval passes keep coming, each with the instances, and
// spot status only while spot jobs exist.
func TestProbeCadence(t *testing.T) {
	t.Parallel()
	f := newFakeGahp(t)
	f.handle(ec2.CmdStatusAll, func(context.Context, int, gahp.Request) []string {
		return []string{"0", "i-1", "running", "tok-1", "NULL", "NULL", "ec2-1.example", "NULL", "NULL",
			"i-2", "pending", "NULL", "key-2", "NULL", "NULL", "NULL", "NULL"}
	})
	f.handle(ec2.CmdStatusAllSpot, func(context.Context, int, gahp.Request) []string {
		return []string{"0", "sir-1", "open", "tok-3", "NULL", "pending-evaluation"}
	})
	l := newRecorder()
	r := startFake(t, f, Options{ProbeInterval: 20 * time.Millisecond}, l)
	waitFor(t, "three passes", func() bool { return len(l.snapshots()) >= 3 })
	s := l.snapshots()[0]
	want := []Instance{
		{ID: "i-1", State: "running", ClientToken: "tok-1", PublicDNS: "ec2-1.example"},
		{ID: "i-2", State: "pending", KeyName: "key-2"},
	}
	if !slices.Equal(s.Instances, want) || s.SpotQueried || s.Spot != nil || s.Started.IsZero() {
		t.Errorf("snapshot %+v", s)
	}
	if n := f.count(ec2.CmdStatusAllSpot); n != 0 {
		t.Errorf("%d spot probes without spot jobs", n)
	}
	r.SetSpotJobs(1)
	waitFor(t, "a pass with spot", func() bool {
		ss := l.snapshots()
		return ss[len(ss)-1].SpotQueried
	})
	ss := l.snapshots()
	if sp := ss[len(ss)-1].Spot; !slices.Equal(sp, []SpotRequest{{ID: "sir-1", State: "open", LaunchGroup: "tok-3", StatusCode: "pending-evaluation"}}) {
		t.Errorf("spot %+v", sp)
	}
	r.SetSpotJobs(0)
	n := len(l.snapshots())
	waitFor(t, "passes without spot again", func() bool {
		ss := l.snapshots()
		return len(ss) > n+1 && !ss[len(ss)-1].SpotQueried
	})
}

// TestEarlyProbeCoalesced: many ProbeSoon calls within the delay make one pass; an ask made
// after that pass makes another.
func TestEarlyProbeCoalesced(t *testing.T) {
	t.Parallel()
	f := newFakeGahp(t)
	l := newRecorder()
	r := startFake(t, f, Options{ProbeInterval: time.Hour, EarlyProbeDelay: 300 * time.Millisecond}, l)
	// Coming up asks for a pass at once (the periodic one is an hour away).
	waitFor(t, "the pass after coming up", func() bool { return len(l.snapshots()) == 1 })
	for range 50 {
		r.ProbeSoon()
	}
	waitFor(t, "the early pass", func() bool { return len(l.snapshots()) == 2 })
	time.Sleep(600 * time.Millisecond) // two more delays: a second pass would have come
	if n := f.count(ec2.CmdStatusAll); n != 2 {
		t.Errorf("%d passes for one burst of asks, want 1", n-1)
	}
	r.ProbeSoon()
	waitFor(t, "another early pass", func() bool { return len(l.snapshots()) == 3 })
}

// TestMalformedStatus: a STATUS_ALL whose values are not whole 8-tuples yields no snapshot
// (and no panic); the next good answer does.
func TestMalformedStatus(t *testing.T) {
	t.Parallel()
	f := newFakeGahp(t)
	var mu sync.Mutex
	bad := true
	f.handle(ec2.CmdStatusAll, func(context.Context, int, gahp.Request) []string {
		mu.Lock()
		defer mu.Unlock()
		if bad {
			return []string{"0", "i-1", "running", "NULL"}
		}
		return []string{"0"}
	})
	l := newRecorder()
	startFake(t, f, Options{ProbeInterval: 10 * time.Millisecond}, l)
	waitFor(t, "three bad passes", func() bool { return f.count(ec2.CmdStatusAll) >= 3 })
	if n := len(l.snapshots()); n != 0 {
		t.Errorf("%d snapshots from malformed answers", n)
	}
	mu.Lock()
	bad = false
	mu.Unlock()
	waitFor(t, "a snapshot", func() bool { return len(l.snapshots()) > 0 })
	if s := l.snapshots()[0]; len(s.Instances) != 0 {
		t.Errorf("snapshot %+v, want empty", s)
	}
}

// TestRunStopsChild: when Run's context ends the child gets QUIT and Run returns; calls
// made afterwards fail with ErrStopped rather than hang.
func TestRunStopsChild(t *testing.T) {
	t.Parallel()
	f := newFakeGahp(t)
	r := New(testKey, Options{Logger: testLogger(t)}, nil)
	r.spawn = f.spawn
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	waitFor(t, "up", func() bool { return r.Health().Up })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(waitLong):
		t.Fatal("Run did not return")
	}
	f.mu.Lock()
	ch := f.children[0]
	f.mu.Unlock()
	if err := ch.err(); err != nil {
		t.Errorf("child ended with %v, want a clean QUIT", err)
	}
	if _, err := r.Call(ctxT(t), High, ec2.CmdStatusAll); !errors.Is(err, ErrStopped) {
		t.Errorf("Call after Run = %v, want ErrStopped", err)
	}
	if err := r.Run(context.Background()); err == nil {
		t.Error("a second Run succeeded")
	}
}
