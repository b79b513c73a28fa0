package policy

import (
	"fmt"
	"testing"

	"github.com/ec2grid/ec2grid/classad"
)

// benchJobs is the queue size the grid manager's periodic pass is sized for (issue 7).
const benchJobs = 100_000

// benchAds builds n EC2 grid job ads of condor_submit's size (about 45 attributes, the
// default policy attributes among them): 80% running, 15% idle, 5% held; every tenth
// carries the Condor article's periodic_hold, and every hundredth a periodic_remove on
// NumJobStarts. runningFor is how long the running ones have run.
func benchAds(n int, runningFor int64) []*classad.ClassAd {
	ads := make([]*classad.ClassAd, n)
	for i := range ads {
		ad := classad.New()
		for j := 0; j < 25; j++ {
			ad.SetInt(fmt.Sprintf("Attr%02d", j), int64(j))
		}
		ad.SetInt("ClusterId", 1)
		ad.SetInt("ProcId", int64(i))
		ad.SetString("Owner", "alice")
		ad.SetInt("JobUniverse", 9)
		ad.SetString("GridResource", "ec2 https://ec2.us-east-1.amazonaws.com/")
		ad.SetString("EC2AmiID", "ami-0123456789abcdef0")
		ad.SetString("EC2InstanceType", "m5.large")
		ad.SetInt("QDate", now-7200)
		ad.SetInt("NumJobStarts", 1)
		status := int64(2)
		switch {
		case i%20 == 0:
			status = 5
			ad.SetInt("HoldReasonCode", 1)
		case i%20 < 4:
			status = 1
		default:
			ad.SetInt("ShadowBday", now-runningFor)
		}
		ad.SetInt("JobStatus", status)
		ad.SetInt("EnteredCurrentStatus", now-runningFor)
		ad.SetBool("PeriodicHold", false)
		ad.SetBool("PeriodicRelease", false)
		ad.SetBool("PeriodicRemove", false)
		ad.SetBool("OnExitHold", false)
		ad.SetBool("OnExitRemove", true)
		if i%10 == 1 {
			must(ad.SetExpr("PeriodicHold", "(time() - ShadowBday) >= 60"))
		}
		if i%100 == 2 {
			must(ad.SetExpr("PeriodicRemove", "NumJobStarts > 5"))
		}
		ads[i] = ad
	}
	return ads
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// BenchmarkPeriodic100k runs one periodic pass over 100,000 jobs per iteration, as the
// grid manager does (one Evaluator per pass), none of which fires: the steady state, the
// article's jobs having run 30 s.
func BenchmarkPeriodic100k(b *testing.B) {
	benchPass(b, benchAds(benchJobs, 30), 0, true)
}

// BenchmarkPeriodic100kFiring is the same with every article job past its minute: the 5,000
// running ones are held each pass, each formatting its reason.
func BenchmarkPeriodic100kFiring(b *testing.B) {
	benchPass(b, benchAds(benchJobs, 3600), 5_000, true)
}

// BenchmarkPeriodic100kPerJob calls the package's Periodic for each job, which makes an
// Evaluator per call.
func BenchmarkPeriodic100kPerJob(b *testing.B) {
	benchPass(b, benchAds(benchJobs, 30), 0, false)
}

func benchPass(b *testing.B, ads []*classad.ClassAd, wantHolds int, shared bool) {
	b.ReportAllocs()
	for b.Loop() {
		holds := 0
		ev := NewEvaluator(testNow)
		for _, ad := range ads {
			var d Decision
			if shared {
				d = ev.Periodic(ad)
			} else {
				d = Periodic(ad, testNow)
			}
			if d.Action == Hold {
				holds++
			}
		}
		if holds != wantHolds {
			b.Fatalf("%d holds, want %d", holds, wantHolds)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/pass")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(ads)), "ns/job")
}
