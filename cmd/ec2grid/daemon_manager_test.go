package main

import (
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/ec2grid/ec2grid/config"
	"github.com/ec2grid/ec2grid/daemon"
)

// managerOptions carries every grid manager knob of the configuration, and the gahp's
// knobs as the child's environment.
func TestManagerOptions(t *testing.T) {
	home := t.TempDir()
	env := map[string]string{
		"EC2GRID_HOME":                                        home,
		"EC2GRID_GRIDMANAGER_JOB_PROBE_INTERVAL":              "7",
		"EC2GRID_PERIODIC_EXPR_INTERVAL":                      "3",
		"EC2GRID_EC2_RECOVERY_STATUS_PASSES":                  "4",
		"EC2GRID_EC2_RECOVERY_MIN_WAIT":                       "11",
		"EC2GRID_EC2_PURGE_GRACE":                             "13",
		"EC2GRID_EC2_ORPHAN_GRACE":                            "17",
		"EC2GRID_GRIDMANAGER_MAX_SUBMITTED_JOBS_PER_RESOURCE": "19",
		"EC2GRID_GRIDMANAGER_MAX_PENDING_REQUESTS":            "23",
		"EC2GRID_EC2_GAHP_RATE_LIMIT":                         "250",
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	o := managerOptions(cfg, "q-1", zap.NewNop(), func(string) string { return "" })
	checks := []struct {
		name      string
		got, want any
	}{
		{"QueueID", o.QueueID, "q-1"},
		{"ProbeInterval", o.ProbeInterval, 7 * time.Second},
		{"PeriodicExprInterval", o.PeriodicExprInterval, 3 * time.Second},
		{"ConsistencyPasses", o.ConsistencyPasses, 4},
		{"ConsistencyWindow", o.ConsistencyWindow, 11 * time.Second},
		{"PurgeGrace", o.PurgeGrace, 13 * time.Second},
		{"OrphanGrace", o.OrphanGrace, 17 * time.Second},
		{"MaxSubmitted", o.MaxSubmitted, 19},
		{"MaxPending", o.MaxPending, 23},
		{"GahpPath", o.GahpPath, cfg.EC2Gahp},
		{"Crash is nil without the hook", o.Crash == nil, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !slices.Contains(o.GahpEnv, "EC2GRID_EC2_GAHP_RATE_LIMIT=250") {
		t.Errorf("GahpEnv %q lacks the rate limit", o.GahpEnv)
	}
}

// The crash hook is armed only by one of the grid manager's points, and fires only there.
func TestCrashHook(t *testing.T) {
	for _, tc := range []struct {
		env   string
		armed bool
	}{
		{"", false},
		{daemon.CrashAfterSubmitCommit, false}, // the daemon's own hook, not the grid manager's
		{"after-token-commit", true},
		{"during-cancel", true},
	} {
		hook := crashHook(func(k string) string {
			if k == daemon.CrashEnv {
				return tc.env
			}
			return ""
		}, zap.NewNop())
		if (hook != nil) != tc.armed {
			t.Errorf("%s=%q: armed %v, want %v", daemon.CrashEnv, tc.env, hook != nil, tc.armed)
		}
		if hook != nil {
			// Another point must not kill the test process; reaching here after it proves it.
			hook("after-start-before-save-of-another-name")
		}
	}
}
