package submit

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ec2grid/ec2grid/internal/benchjob"
)

// BenchmarkJobs100k builds the ads of the README's EC2 job queued 100,000 times, as
// condor_submit does before it sends them (go test -run '^$' -bench Jobs100k ./submit).
func BenchmarkJobs100k(b *testing.B) {
	const n = 100_000
	f, err := Parse("bench.sub", strings.NewReader(benchjob.SubmitFile(n)))
	if err != nil {
		b.Fatal(err)
	}
	root := b.TempDir()
	if err := benchjob.WriteKeyFiles(root); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		sub, err := f.Jobs(Options{Owner: benchjob.Owner, Dir: benchjob.Dir, Root: root, MaxJobs: n, Rand: rand.New(rand.NewPCG(1, 2))})
		if err != nil {
			b.Fatal(err)
		}
		if sub.NumJobs() != n {
			b.Fatalf("%d jobs, want %d", sub.NumJobs(), n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "jobs/s")
}
