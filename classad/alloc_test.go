//go:build !race

package classad

import "testing"

// TestPolicyEvalAllocs pins the allocation budget of the hot policy path: at most one
// allocation (the evaluation state) per evaluation. The race detector changes allocation
// counts, so this file is not built under -race.
func TestPolicyEvalAllocs(t *testing.T) {
	e := MustParseExpr("(time() - ShadowBday) >= 60")
	ctx := Context{My: policyAd(), Now: fixedNow}
	allocs := testing.AllocsPerRun(1000, func() { ctx.Eval(e) })
	if allocs > 1 {
		t.Fatalf("policy evaluation made %.1f allocations, want <= 1", allocs)
	}
}
