package jobs

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/ec2grid/ec2grid/classad"
)

// benchJobs is the size of the queue the targets are stated for.
const benchJobs = 100_000

// benchAd is a job of the size condor_submit makes for an EC2 grid job.
func benchAds(n int) []*classad.ClassAd {
	ads := newJobs(n, "alice")
	for i, ad := range ads {
		ad.SetInt("JobUniverse", 9)
		ad.SetString(AttrGridResource, "ec2 https://ec2.us-east-1.amazonaws.com/")
		ad.SetString("EC2AmiID", "ami-0123456789abcdef0")
		ad.SetString("EC2InstanceType", "m5.large")
		ad.SetString("EC2KeyPairFile", fmt.Sprintf("/home/alice/keys/%d.pem", i))
		ad.SetString("EC2AccessKeyId", "/home/alice/.aws/id")
		ad.SetString("EC2SecretAccessKey", "/home/alice/.aws/secret")
		ad.SetInt("QDate", 1700000000)
		ad.SetInt(AttrEnteredCurrentStatus, 1700000000)
		ad.SetExpr("PeriodicHold", "false")
		ad.SetExpr("PeriodicRemove", "false")
		ad.SetExpr("OnExitRemove", "true")
		ad.SetString("UserLog", "/home/alice/job.log")
		ad.SetString("Iwd", "/home/alice")
	}
	return ads
}

// BenchmarkSubmitCluster100k: one durable submit of a 100,000-job cluster (jobs/s).
func BenchmarkSubmitCluster100k(b *testing.B) {
	ads := benchAds(benchJobs)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		s, err := OpenBolt(filepath.Join(b.TempDir(), "jobs.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := s.SubmitCluster(ctx, "", ads); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(benchJobs)*float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// BenchmarkQuery100k: a condor_q -constraint over 100,000 queued jobs (ms/op), matching 1%.
func BenchmarkQuery100k(b *testing.B) {
	ctx := context.Background()
	s, err := OpenBolt(filepath.Join(b.TempDir(), "jobs.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.SubmitCluster(ctx, "", benchAds(benchJobs)); err != nil {
		b.Fatal(err)
	}
	constraint := classad.MustParseExpr(`Owner == "alice" && JobStatus == 1 && Index % 100 == 7`)
	for b.Loop() {
		res, err := s.Query(ctx, constraint)
		if err != nil || len(res) != benchJobs/100 {
			b.Fatalf("Query = %d, %v", len(res), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/query")
}

// benchDeletes is how many jobs BenchmarkDelete10k moves to the history per iteration.
const benchDeletes = 10_000

// benchDeleters is how many goroutines delete at once in the concurrent case: about as
// many as the grid manager's finish ops (MaxOps) run together.
const benchDeleters = 64

// BenchmarkDelete10k: 10,000 Deletes (queue to history, durable) on the bbolt store, from
// one goroutine and from benchDeleters goroutines (deletes/s).
func BenchmarkDelete10k(b *testing.B) {
	for _, workers := range []int{1, benchDeleters} {
		b.Run(fmt.Sprintf("goroutines=%d", workers), func(b *testing.B) {
			ctx := context.Background()
			ads := benchAds(benchDeletes)
			for b.Loop() {
				b.StopTimer()
				s, err := OpenBolt(filepath.Join(b.TempDir(), "jobs.db"))
				if err != nil {
					b.Fatal(err)
				}
				c, err := s.SubmitCluster(ctx, "", ads)
				if err != nil {
					b.Fatal(err)
				}
				ids := make(chan JobID, benchDeletes)
				for p := range int64(benchDeletes) {
					ids <- JobID{Cluster: c, Proc: p}
				}
				close(ids)
				errs := make(chan error, workers)
				b.StartTimer()
				for range workers {
					go func() {
						for id := range ids {
							if err := s.Delete(ctx, id); err != nil {
								errs <- err
								return
							}
						}
						errs <- nil
					}()
				}
				for range workers {
					if err := <-errs; err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				if left, err := s.Query(ctx, nil); err != nil || len(left) != 0 {
					b.Fatalf("after the deletes: %d jobs queued, %v", len(left), err)
				}
				s.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(benchDeletes)*float64(b.N)/b.Elapsed().Seconds(), "deletes/s")
		})
	}
}
