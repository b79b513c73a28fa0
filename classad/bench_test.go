package classad

import (
	"fmt"
	"testing"
	"time"
)

// policyAd builds a 60-attribute running job ad, the size of a real EC2 grid job ad.
func policyAd() *ClassAd {
	ad := New()
	for i := 0; i < 56; i++ {
		ad.SetInt(fmt.Sprintf("Attr%02d", i), int64(i))
	}
	ad.SetInt("ShadowBday", 1_700_000_000)
	ad.SetInt("JobStatus", 2)
	ad.SetInt("EnteredCurrentStatus", 1_700_000_000)
	ad.SetString("Owner", "alice")
	return ad
}

var fixedNow = func() time.Time { return time.Unix(1_700_000_100, 0) }

// BenchmarkPolicyEval measures the periodic_hold check the grid manager runs for every
// job each PERIODIC_EXPR_INTERVAL.
func BenchmarkPolicyEval(b *testing.B) {
	e := MustParseExpr("(time() - ShadowBday) >= 60")
	ctx := Context{My: policyAd(), Now: fixedNow}
	b.ReportAllocs()
	for b.Loop() {
		if !ctx.Eval(e).IsTrue() {
			b.Fatal("policy did not fire")
		}
	}
}

// BenchmarkPolicyEvalWallClock is the same with the real clock (time.Now per call).
func BenchmarkPolicyEvalWallClock(b *testing.B) {
	e := MustParseExpr("(time() - ShadowBday) >= 60")
	ad := policyAd()
	b.ReportAllocs()
	for b.Loop() {
		ad.Eval(e)
	}
}

// BenchmarkConstraint100k evaluates a condor_q -constraint over 100,000 job ads; one
// iteration is the whole queue.
func BenchmarkConstraint100k(b *testing.B) {
	ads := make([]*ClassAd, 100_000)
	for i := range ads {
		ad := policyAd()
		ad.SetInt("ClusterId", int64(i/10))
		ad.SetInt("ProcId", int64(i%10))
		if i%3 == 0 {
			ad.SetString("Owner", "bob")
		}
		ads[i] = ad
	}
	e := MustParseExpr(`Owner == "alice" && JobStatus == 2 && ClusterId > 500`)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		for _, ad := range ads {
			ctx := Context{My: ad, Now: fixedNow}
			if ctx.Eval(e).IsTrue() {
				n++
			}
		}
		if n == 0 {
			b.Fatal("no match")
		}
	}
}

func BenchmarkParsePolicy(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseExpr("(JobStatus == 2) && (time() - EnteredCurrentStatus > 60)"); err != nil {
			b.Fatal(err)
		}
	}
}
