//go:build !race

package policy

import "testing"

// TestEvaluatorAllocations pins the cost of a pass: a job whose rules do not fire is
// evaluated without allocating, so a pass over 100,000 jobs makes no garbage. The race
// detector changes allocation counts (sync.Pool drops items), so this file is not built
// under -race.
func TestEvaluatorAllocations(t *testing.T) {
	a := ad(t, "JobStatus = 2; ShadowBday = %d; PeriodicHold = (time() - ShadowBday) >= 60; PeriodicRemove = false; OnExitRemove = true", now-30)
	ev := NewEvaluator(testNow)
	if n := testing.AllocsPerRun(100, func() {
		if ev.Periodic(a).Action != None {
			t.Fatal("fired")
		}
	}); n != 0 {
		t.Errorf("%v allocations per job, want 0", n)
	}
}
