package cloud

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scaleBootDelay lets 100,000 instances boot in a few batched transactions.
const scaleBootDelay = 50 * time.Millisecond

// scaleCloud is a cloud on loopback holding n running instances of alice's, launched
// 1,000 per RunInstances as a bulk client would.
type scaleCloud struct {
	s   *Server
	url string
	cli *http.Client
}

func newScaleCloud(tb testing.TB, n int) *scaleCloud {
	tb.Helper()
	s, err := New(context.Background(), Config{StateDir: tb.TempDir(), Accounts: []Account{alice}, BootDelay: scaleBootDelay}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go s.Serve(ln)
	tb.Cleanup(func() { s.Close() })
	sc := &scaleCloud{s: s, url: "http://" + ln.Addr().String(), cli: &http.Client{Timeout: 10 * time.Minute}}
	for left := n; left > 0; left -= maxInstancesPerRun {
		count := strconv.Itoa(min(left, maxInstancesPerRun))
		status, body := sc.call(tb, url.Values{"Action": {"RunInstances"}, "ImageId": {"ami-12345678"},
			"MinCount": {count}, "MaxCount": {count}, "TagSpecification.1.ResourceType": {"instance"},
			"TagSpecification.1.Tag.1.Key": {"Name"}, "TagSpecification.1.Tag.1.Value": {"scale"}})
		if status != http.StatusOK {
			tb.Fatalf("RunInstances: %d %s", status, body)
		}
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		s.mu.RLock()
		running := 0
		for _, in := range s.mem.byID {
			if in.State == stateRunning {
				running++
			}
		}
		s.mu.RUnlock()
		if running == n {
			return sc
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d instances running", running, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (sc *scaleCloud) call(tb testing.TB, p url.Values) (int, []byte) {
	tb.Helper()
	p.Set("Version", "2016-11-15")
	body := p.Encode()
	req, _ := http.NewRequest(http.MethodPost, sc.url+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	signRequest(tb, req, []byte(body), alice)
	resp, err := sc.cli.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, data
}

// BenchmarkDescribeInstancesPage: one page of 1,000 running instances out of 100,000,
// over HTTP (signature check, paging, XML), from the middle of the list. The target is
// <= 50 ms a page.
func BenchmarkDescribeInstancesPage(b *testing.B) {
	sc := newScaleCloud(b, 100_000)
	_, first := sc.call(b, url.Values{"Action": {"DescribeInstances"}, "MaxResults": {"1000"}})
	root, err := parseXML(first)
	if err != nil {
		b.Fatal(err)
	}
	token := root.get("nextToken")
	// Resume 50 pages in: the token names the 50,000th instance.
	token = encodePageToken(mustDecodePageToken(b, token) + 49_000)
	b.ResetTimer()
	for b.Loop() {
		status, body := sc.call(b, url.Values{"Action": {"DescribeInstances"}, "MaxResults": {"1000"}, "NextToken": {token}})
		if status != http.StatusOK || strings.Count(string(body), "<instanceId>") != 1000 {
			b.Fatalf("page: %d %.200s", status, body)
		}
		b.SetBytes(int64(len(body)))
	}
}

// BenchmarkDescribeInstancesFiltered: a tag-filtered page over 100,000 instances, where
// the filter is evaluated on every instance scanned.
func BenchmarkDescribeInstancesFiltered(b *testing.B) {
	sc := newScaleCloud(b, 100_000)
	b.ResetTimer()
	for b.Loop() {
		status, body := sc.call(b, url.Values{"Action": {"DescribeInstances"}, "MaxResults": {"1000"},
			"Filter.1.Name": {"instance-state-name"}, "Filter.1.Value.1": {"running"},
			"Filter.2.Name": {"tag:Name"}, "Filter.2.Value.1": {"sc*"}})
		if status != http.StatusOK {
			b.Fatalf("page: %d %.200s", status, body)
		}
	}
}

// BenchmarkRunInstances1000: launching 1,000 instances in one call (one transaction).
func BenchmarkRunInstances1000(b *testing.B) {
	sc := newScaleCloud(b, 0)
	for b.Loop() {
		status, body := sc.call(b, url.Values{"Action": {"RunInstances"}, "ImageId": {"ami-12345678"},
			"MinCount": {"1000"}, "MaxCount": {"1000"}})
		if status != http.StatusOK {
			b.Fatalf("RunInstances: %d %.200s", status, body)
		}
	}
}

func mustDecodePageToken(tb testing.TB, tok string) uint64 {
	seq, ok := decodePageToken(tok)
	if !ok {
		tb.Fatalf("bad token %q", tok)
	}
	return seq
}
