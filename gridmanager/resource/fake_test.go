package resource

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ec2grid/ec2grid/gahp"
	"github.com/ec2grid/ec2grid/gahp/ec2"
)

// waitLong bounds every wait in these tests: generous, since tests never assert speed.
const waitLong = 30 * time.Second

// fakeGahp is an in-process GAHP server (gahp.Server over io.Pipe) standing in for the
// ec2_gahp child: each spawn is a fresh "child" whose commands the test scripts.
type fakeGahp struct {
	t *testing.T

	mu       sync.Mutex
	spawns   int
	hang     bool // the next children never print a banner
	mute     bool // the next children answer the handshake, then nothing
	children []*child
	calls    map[string]int // per command, over all children
	stops    [][]string     // the ids of each EC2_VM_STOP
	order    []string       // commands in the order their handlers started
	handlers map[string]func(ctx context.Context, gen int, req gahp.Request) []string
}

func newFakeGahp(t *testing.T) *fakeGahp {
	return &fakeGahp{t: t, calls: map[string]int{}, handlers: map[string]func(context.Context, int, gahp.Request) []string{}}
}

// handle scripts a command; the handler gets the child's number (1 for the first spawn).
func (f *fakeGahp) handle(command string, h func(ctx context.Context, gen int, req gahp.Request) []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers[command] = h
}

func (f *fakeGahp) count(command string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[command]
}

func (f *fakeGahp) spawned() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.spawns
}

// kill crashes child n (1-based).
func (f *fakeGahp) kill(n int) {
	f.mu.Lock()
	ch := f.children[n-1]
	f.mu.Unlock()
	ch.kill()
}

var fakeCommands = []string{ec2.CmdStart, ec2.CmdStartSpot, ec2.CmdStop, ec2.CmdStopSpot, ec2.CmdStatusAllSpot,
	ec2.CmdStatusAll, ec2.CmdCreateKeypair, ec2.CmdDestroyKeypair, ec2.CmdAssociateAddr, ec2.CmdAttachVolume,
	ec2.CmdCreateTags, ec2.CmdServerType}

func (f *fakeGahp) run(ctx context.Context, gen int, req gahp.Request) []string {
	name := strings.ToUpper(req.Args[0])
	f.mu.Lock()
	f.calls[name]++
	f.order = append(f.order, name)
	if name == ec2.CmdStop {
		f.stops = append(f.stops, append([]string(nil), req.Args[5:]...))
	}
	h := f.handlers[name]
	f.mu.Unlock()
	if h != nil {
		return h(ctx, gen, req)
	}
	switch name {
	case ec2.CmdServerType:
		return []string{"0", ec2.ServerAmazon}
	case ec2.CmdStart:
		return []string{"0", "i-started"}
	}
	return []string{"0"}
}

func (f *fakeGahp) spawn(ctx context.Context) (*child, error) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	sctx, cancel := context.WithCancel(context.Background())
	f.mu.Lock()
	f.spawns++
	gen, hang, mute := f.spawns, f.hang, f.mute
	f.mu.Unlock()
	exited := make(chan struct{})
	var serr error
	go func() {
		defer close(exited)
		if hang {
			<-sctx.Done()
		} else if mute {
			serr = muteServe(sctx, inR, outW)
		} else {
			var cmds []gahp.Command
			for _, c := range fakeCommands {
				cmds = append(cmds, gahp.Command{
					Name:  c,
					Check: func([]string) bool { return true },
					Run:   func(ctx context.Context, req gahp.Request) []string { return f.run(ctx, gen, req) },
				})
			}
			srv := gahp.NewServer(gahp.ServerOptions{
				Version:    ec2.Version,
				Commands:   cmds,
				Statistics: func() []string { return []string{"1", "2", "3", "4"} },
			})
			serr = srv.Serve(sctx, inR, outW)
		}
		outW.Close()
		inR.Close()
	}()
	var once sync.Once
	ch := &child{
		stdin: inW, stdout: outR, pid: gen, exited: exited,
		err: func() error { <-exited; return serr },
		kill: func() {
			once.Do(func() {
				cancel()
				inW.Close()
				outR.Close()
			})
		},
	}
	f.mu.Lock()
	f.children = append(f.children, ch)
	f.mu.Unlock()
	return ch, nil
}

// recorder is a Listener that keeps everything it hears.
type recorder struct {
	mu     sync.Mutex
	snaps  []Snapshot
	health []Health
	kick   chan struct{}
}

func newRecorder() *recorder { return &recorder{kick: make(chan struct{}, 1)} }

func (l *recorder) Snapshot(_ Key, s Snapshot) {
	l.mu.Lock()
	l.snaps = append(l.snaps, s)
	l.mu.Unlock()
	l.poke()
}

func (l *recorder) Health(_ Key, h Health) {
	l.mu.Lock()
	l.health = append(l.health, h)
	l.mu.Unlock()
	l.poke()
}

func (l *recorder) poke() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

func (l *recorder) snapshots() []Snapshot {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Snapshot(nil), l.snaps...)
}

func (l *recorder) healths() []Health {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Health(nil), l.health...)
}

// waitFor polls cond until it holds, failing the test after waitLong.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitLong, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var testKey = Key{Owner: "alice", URL: "http://cloud.test/", AccessKeyFile: "/keys/ak", SecretKeyFile: "/keys/sk"}

// startFake runs a Resource on a fake gahp until the test ends.
func startFake(t *testing.T, f *fakeGahp, opts Options, l Listener) *Resource {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	if opts.ProbeInterval == 0 {
		opts.ProbeInterval = time.Hour
	}
	r := New(testKey, opts, l)
	r.spawn = f.spawn
	r.backoffMin = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(waitLong):
			t.Errorf("Run did not return within %v of its context's end", waitLong)
		}
	})
	return r
}

// testLogger keeps the log in memory and prints it if the test failed: goroutines may
// still log after the test ends, when t.Log no longer may be called.
func testLogger(t *testing.T) *zap.Logger {
	var mu sync.Mutex
	var b strings.Builder
	w := zapcore.AddSync(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return b.Write(p)
	}))
	enc := zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			t.Logf("log:\n%s", b.String())
			mu.Unlock()
		}
	})
	return zap.New(zapcore.NewCore(enc, w, zapcore.DebugLevel))
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	t.Cleanup(cancel)
	return ctx
}

// teeTo copies every log entry, encoded, to w as well.
func teeTo(w func([]byte)) zap.Option {
	return zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		enc := zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
		sink := zapcore.AddSync(writerFunc(func(p []byte) (int, error) { w(p); return len(p), nil }))
		return zapcore.NewTee(c, zapcore.NewCore(enc, sink, zapcore.DebugLevel))
	})
}

// muteServe answers the handshake as a GAHP server does, then reads lines and answers none:
// a hung server.
func muteServe(ctx context.Context, in io.Reader, out io.Writer) error {
	if _, err := io.WriteString(out, ec2.Version+"\n"); err != nil {
		return err
	}
	lr := gahp.NewLineReader(in, gahp.MaxRequestLine)
	for {
		line, err := lr.ReadLine()
		if err != nil {
			return err
		}
		var reply []string
		switch gahp.Tokenize(string(line))[0] {
		case gahp.CmdCommands:
			reply = append([]string{gahp.ReturnSuccess, gahp.CmdAsyncModeOn, gahp.CmdResults, gahp.CmdQuit}, fakeCommands...)
		case gahp.CmdAsyncModeOn:
			reply = []string{gahp.ReturnSuccess}
		default:
			continue
		}
		if _, err := out.Write(gahp.AppendLine(nil, reply...)); err != nil {
			return err
		}
	}
}
