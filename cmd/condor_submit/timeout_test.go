package main

import (
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/cmd/internal/cli"
)

// A submit's bound grows with its jobs: a 100,000-job cluster is not cut off at the
// one minute every other command gets (it was, on a loaded machine), and a small submit
// keeps about that minute.
func TestSubmitTimeout(t *testing.T) {
	// slowest is the slowest submit rate seen on the 2-core bench machine (100,000 jobs
	// in 42 s at a load average of 16); the bound must hold a submit at a quarter of it.
	const slowest = 100_000 / 42.0
	for _, n := range []int{0, 1, 1000, 10_000, 100_000, 1_000_000} {
		got := submitTimeout(n)
		if got < cli.RequestTimeout {
			t.Errorf("submitTimeout(%d) = %v, below RequestTimeout %v", n, got, cli.RequestTimeout)
		}
		if need := time.Duration(float64(n) / (slowest / 4) * float64(time.Second)); got < need {
			t.Errorf("submitTimeout(%d) = %v, want at least %v (a quarter of the slowest rate seen)", n, got, need)
		}
		if n <= 1000 && got > cli.RequestTimeout+5*time.Second {
			t.Errorf("submitTimeout(%d) = %v: a small submit to a hung daemon should end within about %v", n, got, cli.RequestTimeout)
		}
	}
}
