// Command ec2_gahp is the EC2 GAHP server: HTCondor's gridmanager (or ec2grid's) starts it,
// writes EC2_* requests to its standard input and reads results from its standard output,
// in HTCondor's GAHP line protocol. It is a drop-in for HTCondor's ec2_gahp (set EC2_GAHP to
// it), that runs requests in parallel behind an adaptive per-endpoint rate limiter.
//
//	ec2_gahp [-f LOGFILE] [-w MIN_WORKERS] [-m MAX_WORKERS] [-d DEBUG] [-l LOGDIR] [-s SUBSYSTEM]
//
// Flags are HTCondor's. Knobs come from the environment as EC2GRID_<SUBSYSTEM>_<KNOB>
// (subsystem EC2_GAHP unless -s says otherwise), the way the ec2grid daemon passes its
// configuration: RATE_LIMIT (ms), WORKER_MIN_NUM, WORKER_MAX_NUM, LOG, DEBUG,
// DEFAULT_REGION, MAX_RATE (requests/s). A flag wins over its knob. Logs go to the log file or
// stderr, never stdout (the protocol) and never with a secret. It exits 0 after QUIT and 1
// when its input ends (the gridmanager went away) or on error. See docs/ec2_gahp.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ec2grid/ec2grid/gahp"
	"github.com/ec2grid/ec2grid/gahp/ec2"
)

// Exit statuses, as HTCondor's ec2_gahp: 0 after QUIT, 1 when stdin closes or on error.
const (
	exitQuit  = 0
	exitError = 1
)

// defaultSubsystem names the knobs (EC2GRID_EC2_GAHP_*), HTCondor's default -s.
const defaultSubsystem = "EC2_GAHP"

// defaultLogName is the log file's name under -l DIR when no -f or LOG knob names one
// (HTCondor's EC2_GAHP_LOG default is /tmp/EC2GahpLog.$(USERNAME)).
const defaultLogName = "EC2GahpLog"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGQUIT, os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// config is the command line and knobs, resolved.
type config struct {
	logFile    string
	minWorkers int // accepted for HTCondor's sake: goroutines are cheap, all -m start at once
	maxWorkers int
	debug      string
	rateLimit  time.Duration
	maxRate    float64
	region     string
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ec2_gahp: %v\n", err)
		return exitError
	}
	logger, closeLog, err := newLogger(cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ec2_gahp: %v\n", err)
		return exitError
	}
	defer closeLog()
	logger.Info("ec2_gahp starting", zap.Int("workers", cfg.maxWorkers),
		zap.Duration("rate_limit", cfg.rateLimit), zap.Float64("max_rate", cfg.maxRate), zap.String("default_region", cfg.region))

	g, err := ec2.New(ec2.Options{
		DefaultRegion:            cfg.region,
		RateLimit:                cfg.rateLimit,
		MaxRate:                  cfg.maxRate,
		Workers:                  cfg.maxWorkers,
		InstanceMetadataEndpoint: getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT"),
		Logger:                   logger,
	})
	if err != nil {
		logger.Error("ec2_gahp cannot start", zap.Error(err))
		fmt.Fprintf(stderr, "ec2_gahp: %v\n", err)
		return exitError
	}
	srv := gahp.NewServer(gahp.ServerOptions{
		Version:    ec2.Version,
		Commands:   g.Commands(),
		Workers:    cfg.maxWorkers,
		Statistics: g.Statistics,
		Logger:     logger,
	})
	err = srv.Serve(ctx, stdin, stdout)
	switch {
	case err == nil:
		logger.Info("ec2_gahp: QUIT")
		return exitQuit
	case errors.Is(err, gahp.ErrInputClosed):
		logger.Info("ec2_gahp: request pipe closed, exiting")
		return exitError
	default:
		logger.Error("ec2_gahp stopped", zap.Error(err))
		return exitError
	}
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("ec2_gahp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	logFile := fs.String("f", "", "log `file` (default: the LOG knob, then LOGDIR/"+defaultLogName+" with -l, then stderr)")
	minWorkers := fs.Int("w", -1, "minimum `workers` (accepted for HTCondor; all -m workers start at once)")
	maxWorkers := fs.Int("m", -1, fmt.Sprintf("maximum `workers`: requests run at once (default %d)", gahp.DefaultWorkers))
	debug := fs.String("d", "", "HTCondor debug `flags`; D_FULLDEBUG or D_ALL logs every call")
	logDir := fs.String("l", "", "log `directory`")
	subsystem := fs.String("s", defaultSubsystem, "`subsystem` naming the knobs (EC2GRID_<SUBSYSTEM>_<KNOB>)")
	if err := fs.Parse(args); err != nil {
		return config{}, fmt.Errorf("parse flags: %w", err)
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	knob := func(name string) string {
		return strings.TrimSpace(getenv("EC2GRID_" + strings.ToUpper(*subsystem) + "_" + name))
	}
	cfg := config{logFile: *logFile, minWorkers: *minWorkers, maxWorkers: *maxWorkers, debug: *debug}
	var err error
	if cfg.logFile == "" {
		cfg.logFile = knob("LOG")
	}
	if cfg.logFile == "" && *logDir != "" {
		cfg.logFile = filepath.Join(*logDir, defaultLogName)
	}
	if cfg.debug == "" {
		cfg.debug = knob("DEBUG")
	}
	if cfg.minWorkers < 0 {
		if cfg.minWorkers, err = intKnob(knob("WORKER_MIN_NUM"), 1); err != nil {
			return config{}, fmt.Errorf("WORKER_MIN_NUM: %w", err)
		}
	}
	if cfg.maxWorkers < 0 {
		if cfg.maxWorkers, err = intKnob(knob("WORKER_MAX_NUM"), gahp.DefaultWorkers); err != nil {
			return config{}, fmt.Errorf("WORKER_MAX_NUM: %w", err)
		}
	}
	if cfg.maxWorkers < 1 {
		return config{}, fmt.Errorf("-m %d: at least one worker is needed", cfg.maxWorkers)
	}
	ms, err := intKnob(knob("RATE_LIMIT"), int(ec2.DefaultRateLimit/time.Millisecond))
	if err != nil {
		return config{}, fmt.Errorf("RATE_LIMIT: %w", err)
	}
	cfg.rateLimit = time.Duration(ms) * time.Millisecond
	if ms == 0 {
		cfg.rateLimit = ec2.NoRateLimit // HTCondor's 0: no spacing
	}
	cfg.maxRate = ec2.DefaultMaxRate
	if v := knob("MAX_RATE"); v != "" {
		if cfg.maxRate, err = strconv.ParseFloat(v, 64); err != nil || cfg.maxRate <= 0 {
			return config{}, fmt.Errorf("MAX_RATE %q: want a positive number of requests per second", v)
		}
	}
	cfg.region = knob("DEFAULT_REGION")
	if cfg.region == "" {
		cfg.region = ec2.DefaultRegion
	}
	return cfg, nil
}

func intKnob(v string, def int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a non-negative integer", v)
	}
	return n, nil
}

// newLogger logs to the log file (appended, as HTCondor's daemons do) or stderr. Debug
// level when the HTCondor debug flags ask for full debugging.
func newLogger(cfg config, stderr io.Writer) (*zap.Logger, func(), error) {
	var w zapcore.WriteSyncer = zapcore.AddSync(stderr)
	closeFn := func() {}
	if cfg.logFile != "" {
		f, err := os.OpenFile(cfg.logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("open log: %w", err)
		}
		w = f
		closeFn = func() { f.Close() }
	}
	level := zapcore.InfoLevel
	d := strings.ToUpper(cfg.debug)
	if strings.Contains(d, "D_FULLDEBUG") || strings.Contains(d, "D_ALL") {
		level = zapcore.DebugLevel
	}
	ec := zap.NewProductionEncoderConfig()
	ec.EncodeTime = zapcore.ISO8601TimeEncoder
	ec.EncodeDuration = zapcore.StringDurationEncoder
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(ec), zapcore.Lock(w), level)
	return zap.New(core).With(zap.Int("pid", os.Getpid())), closeFn, nil
}
