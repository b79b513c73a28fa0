package daemon

import (
	"context"
	"errors"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/ec2grid/ec2grid/api"
	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/config"
	"github.com/ec2grid/ec2grid/jobs"
)

// waitLimit bounds every wait; generous, it only stops a hung test.
const waitLimit = 30 * time.Second

// testConfig loads the configuration for a home in a fresh temporary directory.
func testConfig(t *testing.T, extra map[string]string) *config.Config {
	t.Helper()
	// A short base directory: t.TempDir's paths can approach the socket path limit.
	base, err := os.MkdirTemp("", "ecgd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	env := map[string]string{"EC2GRID_HOME": filepath.Join(base, "home"), "HOME": base, "PATH": ""}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// running is a daemon started in this process.
type running struct {
	cancel context.CancelFunc
	done   chan error
	pid    int
}

// start runs the daemon until the test ends and waits until it serves.
func start(t *testing.T, cfg *config.Config, opts Options) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan int, 1)
	opts.Ready = func(socket string, pid int) { ready <- pid }
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- Run(ctx, cfg, opts) }()
	select {
	case r.pid = <-ready:
	case err := <-r.done:
		cancel()
		t.Fatalf("daemon stopped before it was ready: %v", err)
	case <-time.After(waitLimit):
		cancel()
		t.Fatal("daemon not ready")
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop ends the daemon (if still running) and returns Run's error.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return err
	case <-time.After(waitLimit):
		t.Fatal("daemon did not stop")
	}
	return nil
}

// wait waits for Run to return by itself.
func (r *running) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		close(r.done)
		return err
	case <-time.After(waitLimit):
		t.Fatal("daemon did not stop")
	}
	return nil
}

func TestDaemonLifecycle(t *testing.T) {
	cfg := testConfig(t, nil)
	ctx := context.Background()
	d := start(t, cfg, Options{Version: "v-test"})

	// Files and modes.
	for path, mode := range map[string]os.FileMode{cfg.Home: 0o700 | os.ModeDir, cfg.SpoolDir: 0o700 | os.ModeDir, cfg.LogDir: 0o700 | os.ModeDir, cfg.Socket: 0o600 | os.ModeSocket} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), mode)
		}
	}
	if pid, err := ReadPID(cfg.Home); err != nil || pid != os.Getpid() {
		t.Errorf("pid file: %d, %v", pid, err)
	}

	c := api.NewClient(cfg.Socket)
	defer c.Close()
	p, err := c.Ping(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != "v-test" || p.PID != os.Getpid() || p.Home != cfg.Home || p.Socket != cfg.Socket || p.Jobs != 0 {
		t.Errorf("ping = %+v", p)
	}
	// A submit over the real socket is owned by this process's user (SO_PEERCRED).
	ad := classad.New()
	ad.SetString("Cmd", "x")
	ad.SetString("Owner", "mallory")
	resp, err := c.Submit(ctx, &api.SubmitRequest{SubmitKey: "k", ExpectCluster: 1, Clusters: [][]string{{ad.MarshalLong(), ad.MarshalLong()}}})
	if err != nil {
		t.Fatal(err)
	}
	me, _ := user.Current()
	got, err := c.Query(ctx, &api.QueryRequest{Projection: []string{"Owner"}})
	if err != nil || len(got) != 2 {
		t.Fatalf("query: %v %v", got, err)
	}
	if o, _ := got[0].EvalAttr("Owner").StringValue(); o != me.Username {
		t.Errorf("Owner = %q, want %q", o, me.Username)
	}

	// A second daemon on the same home refuses, naming the first's pid.
	err = Run(ctx, cfg, Options{})
	if !errors.Is(err, ErrAlreadyRunning) || !strings.Contains(err.Error(), "(pid "+strconv.Itoa(os.Getpid())+")") {
		t.Errorf("second daemon: %v", err)
	}
	if _, err := c.Ping(ctx); err != nil {
		t.Errorf("the refused second daemon disturbed the first: %v", err)
	}

	// Stop over the API: Run returns nil, the socket and pid file are gone.
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.wait(t); err != nil {
		t.Errorf("Run after stop: %v", err)
	}
	for _, path := range []string{cfg.Socket, filepath.Join(cfg.Home, PIDFile)} {
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind: %v", path, err)
		}
	}
	if _, err := c.Ping(ctx); !errors.Is(err, api.ErrNotRunning) {
		t.Errorf("ping after stop: %v", err)
	}
	logText, _ := os.ReadFile(filepath.Join(cfg.LogDir, LogFile))
	for _, want := range []string{`"msg":"daemon started"`, `"msg":"submitted"`, `"msg":"daemon stopped"`} {
		if !strings.Contains(string(logText), want) {
			t.Errorf("daemon.log lacks %s:\n%s", want, logText)
		}
	}

	// A restart keeps the queue, the queue id and the submit keys.
	start(t, cfg, Options{})
	p, err = c.Ping(ctx)
	if err != nil || p.Jobs != 2 {
		t.Fatalf("after restart: %+v %v", p, err)
	}
	again, err := c.Submit(ctx, &api.SubmitRequest{SubmitKey: "k", ExpectCluster: 1, Clusters: [][]string{{ad.MarshalLong(), ad.MarshalLong()}}})
	if err != nil || again.Clusters[0].Cluster != resp.Clusters[0].Cluster {
		t.Errorf("retried key after restart: %v %v", again, err)
	}
}

func TestDaemonSocketChecks(t *testing.T) {
	ctx := context.Background()
	t.Run("too long", func(t *testing.T) {
		cfg := testConfig(t, nil)
		cfg.Socket = "/tmp/" + strings.Repeat("s", MaxSocketPath)
		err := Run(ctx, cfg, Options{})
		if err == nil || !strings.Contains(err.Error(), "EC2GRID_SOCKET") || !strings.Contains(err.Error(), "107") {
			t.Errorf("long socket path: %v", err)
		}
	})
	t.Run("stale socket replaced", func(t *testing.T) {
		cfg := testConfig(t, nil)
		os.MkdirAll(filepath.Dir(cfg.Socket), 0o700)
		ln, err := net.Listen("unix", cfg.Socket)
		if err != nil {
			t.Fatal(err)
		}
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		ln.Close()
		start(t, cfg, Options{})
		if _, err := api.NewClient(cfg.Socket).Ping(ctx); err != nil {
			t.Errorf("ping: %v", err)
		}
	})
	t.Run("not a socket", func(t *testing.T) {
		cfg := testConfig(t, nil)
		os.MkdirAll(filepath.Dir(cfg.Socket), 0o700)
		os.WriteFile(cfg.Socket, []byte("precious"), 0o600)
		err := Run(ctx, cfg, Options{})
		if err == nil || !strings.Contains(err.Error(), "is not a socket") {
			t.Errorf("regular file at the socket path: %v", err)
		}
		if b, _ := os.ReadFile(cfg.Socket); string(b) != "precious" {
			t.Error("the file was removed")
		}
	})
	t.Run("socket of another home's daemon", func(t *testing.T) {
		first := testConfig(t, nil)
		start(t, first, Options{})
		second := testConfig(t, map[string]string{"EC2GRID_SOCKET": first.Socket})
		err := Run(ctx, second, Options{})
		if err == nil || !strings.Contains(err.Error(), "another daemon serves the socket") {
			t.Errorf("shared socket: %v", err)
		}
		if _, err := api.NewClient(first.Socket).Ping(ctx); err != nil {
			t.Errorf("first daemon disturbed: %v", err)
		}
	})
}

func TestDaemonManagerHook(t *testing.T) {
	t.Run("runs until shutdown", func(t *testing.T) {
		cfg := testConfig(t, nil)
		type seen struct {
			queueID string
			jobs    int
		}
		got := make(chan seen, 1)
		stopped := make(chan struct{})
		d := start(t, cfg, Options{Manager: func(ctx context.Context, store jobs.Store, queueID string, log *zap.Logger) error {
			all, err := store.Query(ctx, nil)
			if err != nil {
				return err
			}
			got <- seen{queueID, len(all)}
			<-ctx.Done()
			close(stopped)
			return ctx.Err()
		}})
		var s seen
		select {
		case s = <-got:
		case <-time.After(waitLimit):
			t.Fatal("manager not started")
		}
		if len(s.queueID) != 36 {
			t.Errorf("queue id %q", s.queueID)
		}
		if err := d.stop(t); err != nil {
			t.Errorf("Run: %v", err)
		}
		select {
		case <-stopped:
		default:
			t.Error("Run returned before the manager stopped")
		}
		// The same queue id after a restart.
		d = start(t, cfg, Options{Manager: func(ctx context.Context, store jobs.Store, queueID string, log *zap.Logger) error {
			got <- seen{queueID, 0}
			<-ctx.Done()
			return nil
		}})
		if again := <-got; again.queueID != s.queueID {
			t.Errorf("queue id changed over a restart: %q then %q", s.queueID, again.queueID)
		}
		d.stop(t)
	})
	t.Run("its error ends the daemon", func(t *testing.T) {
		cfg := testConfig(t, nil)
		boom := errors.New("boom")
		d := start(t, cfg, Options{Manager: func(ctx context.Context, store jobs.Store, queueID string, log *zap.Logger) error {
			return boom
		}})
		err := d.wait(t)
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), "grid manager") {
			t.Errorf("Run = %v", err)
		}
		if _, err := os.Stat(cfg.Socket); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket left behind: %v", err)
		}
	})
}

// A signal (ctx) while a request is in flight: the request finishes, then the daemon
// stops.
func TestDaemonShutdownFinishesRequests(t *testing.T) {
	cfg := testConfig(t, nil)
	d := start(t, cfg, Options{})
	c := api.NewClient(cfg.Socket)
	defer c.Close()
	ad := classad.New()
	ad.SetString("Cmd", "x")
	cluster := make([]string, 20000)
	for i := range cluster {
		cluster[i] = ad.MarshalLong()
	}
	res := make(chan error, 1)
	go func() {
		_, err := c.Submit(context.Background(), &api.SubmitRequest{Clusters: [][]string{cluster}})
		res <- err
	}()
	// Let the request reach the server, then stop.
	time.Sleep(50 * time.Millisecond)
	if err := d.stop(t); err != nil {
		t.Errorf("Run: %v", err)
	}
	// The submit either reached the server, which finished it before stopping, or it
	// did not and failed (refused, or its connection closed unread): never partly done.
	err := <-res
	start(t, cfg, Options{})
	all, qerr := c.Query(context.Background(), &api.QueryRequest{Projection: []string{"ClusterId"}})
	if qerr != nil {
		t.Fatal(qerr)
	}
	if n := len(all); n != 0 && n != 20000 || (err == nil && n != 20000) {
		t.Errorf("%d jobs after a submit (err %v) during shutdown", n, err)
	}
}
