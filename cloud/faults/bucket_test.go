package faults

import (
	"testing"
	"time"
)

func TestTokenBucket(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		at   time.Duration // since start
		want bool          // take succeeds
	}
	for _, tc := range []struct {
		name  string
		b     Bucket
		steps []step
	}{
		{"burst then refuse", Bucket{Rate: 1, Burst: 2}, []step{{0, true}, {0, true}, {0, false}, {999 * time.Millisecond, false}, {time.Second, true}, {time.Second, false}}},
		{"refill stops at burst", Bucket{Rate: 10, Burst: 1}, []step{{0, true}, {time.Hour, true}, {time.Hour, false}}},
		{"fractional rate", Bucket{Rate: 0.25, Burst: 1}, []step{{0, true}, {3 * time.Second, false}, {4 * time.Second, true}}},
		{"tenths add up", Bucket{Rate: 10, Burst: 1}, []step{{0, true},
			{10 * time.Millisecond, false}, {20 * time.Millisecond, false}, {30 * time.Millisecond, false},
			{40 * time.Millisecond, false}, {50 * time.Millisecond, false}, {60 * time.Millisecond, false},
			{70 * time.Millisecond, false}, {80 * time.Millisecond, false}, {90 * time.Millisecond, false},
			{100 * time.Millisecond, true}}},
		{"clock steps back", Bucket{Rate: 1, Burst: 1}, []step{{time.Hour, true}, {0, false}, {time.Hour, false}, {time.Hour + time.Second, true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newTokenBucket(tc.b, start)
			for i, s := range tc.steps {
				if got := b.take(start.Add(s.at)); got != s.want {
					t.Fatalf("step %d at %v: take = %v, want %v", i, s.at, got, s.want)
				}
			}
		})
	}
}

func TestTokenBucketFull(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := newTokenBucket(Bucket{Rate: 2, Burst: 4}, start)
	if !b.full(start) {
		t.Error("a new bucket is not full")
	}
	b.take(start)
	if b.full(start.Add(499 * time.Millisecond)) {
		t.Error("full before the token is back")
	}
	if !b.full(start.Add(500 * time.Millisecond)) {
		t.Error("not full once the token is back")
	}
}
