//go:build long

package main

import (
	"testing"
	"time"
)

// TestChaosLong is `make chaos LONG=1` as a test (make test-long): 200 kills over 1,000
// jobs in each mode, and the full fault storm of 1,000 jobs, side by side so the three fit
// in test-long's hour; a kill every 3 s on average (not 4) for the same reason.
func TestChaosLong(t *testing.T) {
	for _, mode := range []string{"aws", "openstack"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			chaosRun(t, options{mode: mode, jobs: 1000, kills: 200, killEvery: 3 * time.Second})
		})
	}
	t.Run("storm", func(t *testing.T) {
		t.Parallel()
		chaosRun(t, options{mode: "aws", jobs: 1000, storm: true})
	})
}
