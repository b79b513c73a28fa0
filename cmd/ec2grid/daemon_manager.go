package main

import (
	"context"
	"os"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/ec2grid/ec2grid/config"
	"github.com/ec2grid/ec2grid/daemon"
	"github.com/ec2grid/ec2grid/gridmanager"
	"github.com/ec2grid/ec2grid/jobs"
)

// gridManager is the daemon's Options.Manager: the grid manager working the daemon's
// queue with the configuration's knobs. The join lives here, in the command, so that
// package daemon never imports gridmanager (nor gridmanager daemon).
func gridManager(cfg *config.Config, getenv func(string) string) func(ctx context.Context, store jobs.Store, queueID string, log *zap.Logger) error {
	return func(ctx context.Context, store jobs.Store, queueID string, log *zap.Logger) error {
		return gridmanager.New(store, managerOptions(cfg, queueID, log, getenv)).Run(ctx)
	}
}

// managerOptions maps the configuration onto the grid manager's options. A knob the
// configuration leaves at zero means the grid manager's own default (config fills every
// knob it has a default for, so a zero here is a zero the user asked for only where
// config allows it).
func managerOptions(cfg *config.Config, queueID string, log *zap.Logger, getenv func(string) string) gridmanager.Options {
	return gridmanager.Options{
		QueueID:              queueID,
		ProbeInterval:        cfg.ProbeInterval,
		PeriodicExprInterval: periodicInterval(cfg.PeriodicExprInterval),
		PingInterval:         cfg.ResourcePingInterval,
		ConsistencyPasses:    cfg.ConsistencyPasses,
		ConsistencyWindow:    cfg.ConsistencyWindow,
		PurgeGrace:           cfg.PurgeGrace,
		OrphanGrace:          cfg.OrphanGrace,
		MaxSubmitted:         cfg.MaxSubmittedPerResource,
		MaxPending:           cfg.MaxPendingRequests,
		GahpPath:             cfg.EC2Gahp,
		// ec2_gahp reads its knobs (EC2_GAHP_RATE_LIMIT, its log, its debug flags) from
		// EC2GRID_EC2_GAHP_* variables, not flags; GahpEnv hands them to each child, so a
		// knob set only in config.hcl reaches the gahp too.
		GahpEnv: cfg.GahpEnv(),
		Logger:  log,
		Crash:   crashHook(getenv, log),
	}
}

// periodicInterval maps PERIODIC_EXPR_INTERVAL onto the grid manager's option: HTCondor's
// 0 ("never evaluate periodic expressions") is the option's negative value, because the
// option's zero means its default.
func periodicInterval(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// crashHook is a test hook, not a feature: when the environment's EC2GRID_CRASH_AT
// (daemon.CrashEnv) names one of the grid manager's crash points ("after-token-commit",
// "after-start-before-save", "during-cancel", "during-spot-cancel",
// "after-spot-start-before-save"; see docs/architecture.md), the daemon kills itself with SIGKILL the first time the grid
// manager reaches that point, as HTCondor's GM_FAILURE_INJECTION does, so the crash tests
// can check that a restart neither loses a job nor starts or leaks an instance. Unset (or
// naming the daemon's own point, daemon.CrashAfterSubmitCommit) it is nil: no hook.
func crashHook(getenv func(string) string, log *zap.Logger) func(point string) {
	at := getenv(daemon.CrashEnv)
	if at == "" || at == daemon.CrashAfterSubmitCommit {
		return nil
	}
	log.Warn("test hook armed: the daemon kills itself when the grid manager reaches the crash point",
		zap.String("env", daemon.CrashEnv), zap.String("point", at))
	return func(point string) {
		if point != at {
			return
		}
		log.Warn("test hook: crash point reached, killing the daemon", zap.String("point", point))
		_ = log.Sync()
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
}
