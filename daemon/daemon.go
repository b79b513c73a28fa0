// Package daemon runs `ec2grid daemon`: it owns one user's job queue under EC2GRID_HOME
// and serves the api package's HTTP/JSON API on a Unix socket, with the grid manager
// (when one is given) working the queue beside it.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ec2grid/ec2grid/api"
	"github.com/ec2grid/ec2grid/config"
	"github.com/ec2grid/ec2grid/jobs"
)

// Files under EC2GRID_HOME besides the spool and log directories.
const (
	LockFile = "daemon.lock" // flock'd while a daemon runs
	PIDFile  = "daemon.pid"  // the running daemon's pid, for status and stop
	LogFile  = "daemon.log"  // under LogDir: JSON lines
	StoreDB  = "jobs.db"     // under SpoolDir: the bbolt job queue
)

// MaxSocketPath is the longest socket path the kernel takes: sun_path is 108 bytes,
// one of them the terminating NUL.
const MaxSocketPath = 107

// ShutdownGrace bounds how long a stopping daemon waits for requests in flight (a large
// submit's commit, a query being streamed) before it closes their connections: long
// enough for any normal request, short enough that `ec2grid stop` returns promptly.
const ShutdownGrace = 10 * time.Second

// readHeaderTimeout bounds how long a connection may take to send a request's headers, so
// a stuck client does not hold a connection for ever; bodies are not bounded in time (a
// submit of 100,000 jobs may take a while to send).
const readHeaderTimeout = 10 * time.Second

// idleTimeout closes keep-alive connections nobody uses.
const idleTimeout = 2 * time.Minute

// CrashEnv is a test hook, not a feature: when the environment sets it to
// CrashAfterSubmitCommit, the daemon SIGKILLs itself right after a submit's commit and
// before its reply, so the crash test can check that such a submit is neither lost nor
// duplicated on retry.
const (
	CrashEnv               = "EC2GRID_CRASH_AT"
	CrashAfterSubmitCommit = "after-submit-commit"
)

// ErrAlreadyRunning says another daemon holds the home's lock.
var ErrAlreadyRunning = errors.New("ec2grid daemon already running")

// Options are what the caller adds to the configuration.
type Options struct {
	// Manager, when set, is the grid manager: it runs in its own goroutine from the
	// moment the socket serves until shutdown, when its context ends. If it returns an
	// error first, the daemon logs it and stops with it.
	Manager func(ctx context.Context, store jobs.Store, queueID string, log *zap.Logger) error
	// Ready, when set, is called once the socket accepts requests.
	Ready func(socket string, pid int)
	// Version is reported by ping; "" means the build's module version and revision.
	Version string
	// Getenv reads the test hook CrashEnv; nil means os.Getenv.
	Getenv func(string) string
}

// Run runs the daemon until ctx ends, a client asks it to stop, or the grid manager
// fails; it then shuts down cleanly. Its guarantees: one daemon per home at a time; the
// socket is mode 0600 before it serves; on return the store is closed and the socket and
// pid file are gone.
func Run(ctx context.Context, cfg *config.Config, opts Options) (err error) {
	if cfg == nil {
		return errors.New("ec2grid daemon: no configuration")
	}
	if n := len(cfg.Socket); n > MaxSocketPath {
		return fmt.Errorf("ec2grid daemon: the socket path %s is %d bytes, over the kernel's limit of %d; set EC2GRID_SOCKET to a shorter path", cfg.Socket, n, MaxSocketPath)
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if err := os.MkdirAll(cfg.Home, 0o700); err != nil {
		return fmt.Errorf("ec2grid daemon: create home %s: %w", cfg.Home, err)
	}
	for _, d := range []string{cfg.SpoolDir, cfg.LogDir, filepath.Dir(cfg.Socket)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("ec2grid daemon: create %s: %w", d, err)
		}
	}
	unlock, err := lockHome(cfg.Home)
	if err != nil {
		return err
	}
	defer unlock()

	pid := os.Getpid()
	pidPath := filepath.Join(cfg.Home, PIDFile)
	if err := writeFileAtomic(pidPath, []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		return fmt.Errorf("ec2grid daemon: write %s: %w", pidPath, err)
	}
	defer os.Remove(pidPath)

	log, closeLog, err := openLog(filepath.Join(cfg.LogDir, LogFile), cfg.LogLevel)
	if err != nil {
		return err
	}
	defer closeLog()
	defer func() {
		if err != nil {
			log.Error("daemon stopped with an error", zap.Error(err))
		} else {
			log.Info("daemon stopped")
		}
	}()

	store, err := jobs.OpenBolt(filepath.Join(cfg.SpoolDir, StoreDB))
	if err != nil {
		return fmt.Errorf("ec2grid daemon: %w", err)
	}
	defer func() {
		if cerr := store.Close(); cerr != nil {
			log.Error("close job store", zap.Error(cerr))
			if err == nil {
				err = fmt.Errorf("ec2grid daemon: close job store: %w", cerr)
			}
		}
	}()
	queueID, err := store.QueueID(ctx)
	if err != nil {
		return fmt.Errorf("ec2grid daemon: %w", err)
	}

	version := opts.Version
	if version == "" {
		version = Version()
	}
	stopReq := make(chan struct{}, 1)
	gated := newGatedStore(store)
	scfg := api.ServerConfig{
		SubmitLogged:    gated.logged,
		Store:           store,
		QueueSuperUsers: cfg.QueueSuperUsers,
		Home:            cfg.Home,
		Socket:          cfg.Socket,
		Version:         version,
		PID:             pid,
		Started:         time.Now(),
		DaemonUID:       os.Getuid(),
		Log:             log.Named("api"),
		Stop: func() {
			select {
			case stopReq <- struct{}{}:
			default:
			}
		},
	}
	if getenv(CrashEnv) == CrashAfterSubmitCommit {
		log.Warn("test hook armed: the daemon kills itself after the next submit commit", zap.String("env", CrashEnv))
		scfg.AfterSubmitCommit = func() { _ = syscall.Kill(pid, syscall.SIGKILL) }
	}
	server, err := api.NewServer(scfg)
	if err != nil {
		return fmt.Errorf("ec2grid daemon: %w", err)
	}
	if err := server.RecoverSubmitEvents(ctx); err != nil {
		return fmt.Errorf("ec2grid daemon: %w", err)
	}

	ln, err := listen(cfg.Socket)
	if err != nil {
		return err
	}
	defer os.Remove(cfg.Socket)
	srv := &http.Server{
		Handler:           server,
		ConnContext:       api.ConnContext,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("daemon started", zap.String("version", version), zap.Int("pid", pid),
		zap.String("home", cfg.Home), zap.String("socket", cfg.Socket), zap.String("queue_id", queueID))

	mctx, mcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer mcancel()
	managerErr := make(chan error, 1)
	managerDone := make(chan struct{})
	if opts.Manager != nil {
		go func() {
			defer close(managerDone)
			managerErr <- opts.Manager(mctx, gated, queueID, log.Named("gridmanager"))
		}()
	} else {
		close(managerDone)
	}
	if opts.Ready != nil {
		opts.Ready(cfg.Socket, pid)
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down: signal")
	case <-stopReq:
		log.Info("shutting down: stop requested")
	case err := <-serveErr:
		runErr = fmt.Errorf("ec2grid daemon: serve %s: %w", cfg.Socket, err)
	case err := <-managerErr:
		if err == nil {
			err = errors.New("returned before shutdown")
		}
		runErr = fmt.Errorf("ec2grid daemon: grid manager: %w", err)
	}

	// Stop accepting, let requests in flight finish within the grace, then stop the
	// grid manager and close the store (deferred) once nothing uses it.
	sctx, scancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("requests still running after the shutdown grace; closing their connections", zap.Error(err))
		srv.Close()
	}
	mcancel()
	select {
	case <-managerDone:
		select {
		case err := <-managerErr:
			if err != nil && !errors.Is(err, context.Canceled) && runErr == nil {
				runErr = fmt.Errorf("ec2grid daemon: grid manager: %w", err)
			}
		default:
		}
	case <-sctx.Done():
		log.Error("grid manager did not stop within the shutdown grace")
	}
	return runErr
}

// lockHome takes the home's exclusive lock, or says which daemon holds it.
func lockHome(home string) (unlock func(), err error) {
	path := filepath.Join(home, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("ec2grid daemon: open %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if pid, perr := ReadPID(home); perr == nil {
				return nil, fmt.Errorf("%w (pid %d) with home %s", ErrAlreadyRunning, pid, home)
			}
			return nil, fmt.Errorf("%w with home %s", ErrAlreadyRunning, home)
		}
		return nil, fmt.Errorf("ec2grid daemon: lock %s: %w", path, err)
	}
	// The lock goes with the descriptor: closing it (or the process dying) releases it.
	return func() { f.Close() }, nil
}

// ReadPID returns the pid in home's pid file.
func ReadPID(home string) (int, error) {
	path := filepath.Join(home, PIDFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s: not a pid: %q", path, strings.TrimSpace(string(b)))
	}
	return pid, nil
}

// writeFileAtomic writes data to path through a temporary file and a rename, so a reader
// never sees a half-written file.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// listen makes the socket: a stale file from a daemon that died is removed, a socket
// another daemon still serves (another home with the same EC2GRID_SOCKET) is left alone,
// and the socket is mode 0600 before anything is accepted.
func listen(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("ec2grid daemon: %s exists and is not a socket; remove it or set EC2GRID_SOCKET elsewhere", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("ec2grid daemon: another daemon serves the socket %s (another EC2GRID_HOME with the same EC2GRID_SOCKET?)", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("ec2grid daemon: remove stale socket %s: %w", path, err)
		}
	}
	// The umask makes the socket 0600 from its creation, leaving no moment in which
	// another user could connect; nothing else creates files while the daemon starts.
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("ec2grid daemon: listen on %s (EC2GRID_SOCKET): %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("ec2grid daemon: chmod socket %s: %w", path, err)
	}
	// The daemon removes the socket itself, after its requests finished.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	return ln, nil
}

// openLog opens the daemon's JSON-lines log at path with the given level.
func openLog(path, level string) (*zap.Logger, func(), error) {
	lvl, err := zapcore.ParseLevel(level)
	if level == "" {
		lvl, err = zapcore.InfoLevel, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("ec2grid daemon: EC2GRID_LOG_LEVEL %q: %w", level, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("ec2grid daemon: open log %s: %w", path, err)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(f), lvl)
	log := zap.New(core)
	return log, func() { _ = log.Sync(); f.Close() }, nil
}

// Version is the build's module version and VCS revision, e.g. "(devel) 487d1e9".
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 7 {
			v += " " + s.Value[:7]
		}
		if s.Key == "vcs.modified" && s.Value == "true" {
			v += "+dirty"
		}
	}
	return v
}
