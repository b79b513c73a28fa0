//go:build long

package cloud

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestHundredThousandInstances: 100,000 instances in one cloud, created 1,000 per
// RunInstances; every one is listed exactly once across 100 pages; a restarted cloud
// still knows them all.
func TestHundredThousandInstances(t *testing.T) {
	const n = 100_000
	sc := newScaleCloud(t, n)
	seen := make(map[string]bool, n)
	token, pages := "", 0
	for {
		p := url.Values{"Action": {"DescribeInstances"}, "MaxResults": {"1000"}}
		if token != "" {
			p.Set("NextToken", token)
		}
		status, body := sc.call(t, p)
		if status != http.StatusOK {
			t.Fatalf("page %d: %d %.300s", pages, status, body)
		}
		root, err := parseXML(body)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range root.texts("reservationSet/item/instancesSet/item/instanceId") {
			if seen[id] {
				t.Fatalf("%s listed twice", id)
			}
			seen[id] = true
		}
		pages++
		if token = root.get("nextToken"); token == "" {
			break
		}
	}
	if len(seen) != n || pages != n/1000 {
		t.Fatalf("%d instances in %d pages", len(seen), pages)
	}

	dir := sc.s.cfg.StateDir
	if err := sc.s.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s, err := New(context.Background(), Config{StateDir: dir, Accounts: []Account{alice}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t.Logf("reopened %d instances in %v", len(s.mem.byID), time.Since(start))
	if len(s.mem.byID) != n {
		t.Errorf("restarted cloud knows %d instances", len(s.mem.byID))
	}
}
