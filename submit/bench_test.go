package submit

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkJobs100k builds the ads of the README's EC2 job queued 100,000 times, as
// condor_submit does before it sends them (go test -run '^$' -bench Jobs100k ./submit).
func BenchmarkJobs100k(b *testing.B) {
	const n = 100_000
	f, err := Parse("bench.sub", strings.NewReader(fmt.Sprintf(`universe = grid
grid_resource         = ec2 https://ec2.amazonaws.com/
executable            = ec2-test
ec2_access_key_id     = /home/alice/.ec2/AccessKeyID
ec2_secret_access_key = /home/alice/.ec2/SecretAccessKey
ec2_ami_id            = ami-0123456789abcdef0
ec2_instance_type     = m5.large
ec2_user_data         = Hello EC2!
ec2_keypair_file      = /home/alice/.ec2/ec2-test-$(Process).pem
periodic_hold         = (JobStatus == 2) && (time() - EnteredCurrentStatus > 3600)
queue %d
`, n)))
	if err != nil {
		b.Fatal(err)
	}
	root := b.TempDir()
	for _, p := range []string{"home/alice/.ec2/AccessKeyID", "home/alice/.ec2/SecretAccessKey"} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o700)
		if err := os.WriteFile(filepath.Join(root, p), []byte("x\n"), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		sub, err := f.Jobs(Options{Owner: "alice", Dir: "/home/alice", Root: root, MaxJobs: n, Rand: rand.New(rand.NewPCG(1, 2))})
		if err != nil {
			b.Fatal(err)
		}
		if sub.NumJobs() != n {
			b.Fatalf("%d jobs, want %d", sub.NumJobs(), n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "jobs/s")
}
