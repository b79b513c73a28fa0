package api

import (
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ec2grid/ec2grid/internal/benchjob"
	"github.com/ec2grid/ec2grid/jobs"
	"github.com/ec2grid/ec2grid/submit"
)

// benchRequest builds the request condor_submit sends for n jobs of benchSubmitFile.
func benchRequest(b *testing.B, n int, compact bool) *SubmitRequest {
	b.Helper()
	f, err := submit.Parse("bench.sub", strings.NewReader(benchjob.SubmitFile(n)))
	if err != nil {
		b.Fatal(err)
	}
	root := b.TempDir()
	if err := benchjob.WriteKeyFiles(root); err != nil {
		b.Fatal(err)
	}
	sub, err := f.Jobs(submit.Options{Owner: benchjob.Owner, Dir: benchjob.Dir, Root: root, MaxJobs: n,
		Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		b.Fatal(err)
	}
	return requestFor(sub, compact)
}

// BenchmarkSubmit100k is bench/daemon's submit in one process: a 100,000-job cluster
// of the README's job from the client's call over a Unix socket to the durable,
// acknowledged reply of a server on a bbolt store, as condor_submit sends it (compact)
// and with every ad whole (go test -run '^$' -bench Submit100k ./api; -cpuprofile shows
// where the time goes).
func BenchmarkSubmit100k(b *testing.B) {
	b.Run("compact", func(b *testing.B) { benchSubmit(b, true) })
	b.Run("whole", func(b *testing.B) { benchSubmit(b, false) })
}

func benchSubmit(b *testing.B, compact bool) {
	const n = 100_000
	req := benchRequest(b, n, compact)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		store, err := jobs.OpenBolt(filepath.Join(dir, "jobs.db"))
		if err != nil {
			b.Fatal(err)
		}
		srv, err := NewServer(ServerConfig{Store: store, Host: "submit.example.com", Home: dir})
		if err != nil {
			b.Fatal(err)
		}
		ln, err := net.Listen("unix", filepath.Join(dir, "s.sock"))
		if err != nil {
			b.Fatal(err)
		}
		hs := &http.Server{Handler: srv, ConnContext: func(ctx context.Context, _ net.Conn) context.Context { return WithPeer(ctx, alice) }}
		go hs.Serve(ln)
		c := NewClient(filepath.Join(dir, "s.sock"))
		b.StartTimer()
		resp, err := c.Submit(context.Background(), req)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if resp.Clusters[0].Procs != n {
			b.Fatalf("submitted %d jobs, want %d", resp.Clusters[0].Procs, n)
		}
		c.Close()
		hs.Close()
		store.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// requestFor is the request condor_submit sends for sub: compact (SubmitRequest.Common
// and each job's own attributes), or every ad whole.
func requestFor(sub *submit.Submission, compact bool) *SubmitRequest {
	req := &SubmitRequest{}
	for _, c := range sub.Clusters {
		if compact {
			req.AddCluster(c.Jobs)
			continue
		}
		ads := make([]string, len(c.Jobs))
		for i, ad := range c.Jobs {
			ads[i] = ad.MarshalLong()
		}
		req.Clusters = append(req.Clusters, ads)
	}
	return req
}
