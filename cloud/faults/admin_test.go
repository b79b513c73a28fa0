package faults

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// do sends one request to srv and gives the status and the body.
func do(t *testing.T, srv *httptest.Server, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); method != http.MethodHead && ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return resp.StatusCode, string(b)
}

func TestAdminHandler(t *testing.T) {
	in, _, _ := newTest(t, Config{})
	mux := http.NewServeMux()
	mux.Handle("/_admin/faults", in.AdminHandler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	status, body := do(t, srv, "GET", "/_admin/faults", "")
	if got, err := ParseConfigJSON([]byte(body)); status != 200 || err != nil || !reflect.DeepEqual(got, Config{}) {
		t.Fatalf("GET at start: %d %s (%v)", status, body, err)
	}

	for _, method := range []string{"PUT", "POST"} {
		status, body = do(t, srv, method, "/_admin/faults",
			`{"latency": 25, "profile": "aws-limits", "throttle": {"run-instances": {"rate": 1, "burst": 1}},
			  "internal_error_rate": 0.5, "consistency_delay": "2s",
			  "insufficient_capacity": [{"instance_type": "m5.large"}]}`)
		if status != 200 {
			t.Fatalf("%s: %d %s", method, status, body)
		}
		want := Config{
			Latency: 25 * time.Millisecond, Profile: ProfileAWSLimits,
			Throttle:          map[Class]Bucket{NonMutating: {Rate: 20, Burst: 100}, Mutating: {Rate: 5, Burst: 50}, RunInstances: {Rate: 1, Burst: 1}},
			InternalErrorRate: 0.5, ConsistencyDelay: 2 * time.Second,
			InsufficientCapacity: []Rule{{InstanceType: "m5.large"}},
		}
		if got := in.Config(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: config now %+v, want %+v", method, got, want)
		}
		// The answer and a later GET both show the config in force, and read back as it.
		_, get := do(t, srv, "GET", "/_admin/faults", "")
		for _, b := range []string{body, get} {
			if got, err := ParseConfigJSON([]byte(b)); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%s answer %s reads back as %+v (%v)", method, b, got, err)
			}
		}
		if err := in.SetConfig(Config{}); err != nil {
			t.Fatal(err)
		}
	}

	// A bad config is refused with its reasons, and changes nothing.
	if err := in.SetConfig(Config{ConsistencyDelay: time.Second}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ body, says string }{
		{`{"internal_error_rate": 7}`, "internal_error_rate 7 is not a fraction between 0 and 1"},
		{`{"latncy": "5ms"}`, `unknown field \"latncy\"`},
		{`{"throttle": {"writes": {"rate": 1, "burst": 1}}}`, `unknown class \"writes\"`},
		{``, "empty input"},
		{`{`, "unexpected EOF"},
	} {
		status, body = do(t, srv, "PUT", "/_admin/faults", tc.body)
		if status != 400 || !strings.Contains(body, tc.says) {
			t.Errorf("PUT %s: %d %s, want 400 saying %s", tc.body, status, body, tc.says)
		}
		var msg map[string]string
		if err := json.Unmarshal([]byte(body), &msg); err != nil || msg["error"] == "" {
			t.Errorf("PUT %s: error body %s is not {\"error\": ...}", tc.body, body)
		}
		if in.ConsistencyDelay() != time.Second {
			t.Errorf("PUT %s changed the config", tc.body)
		}
	}
	status, body = do(t, srv, "PUT", "/_admin/faults", `{"profile":"`+strings.Repeat("x", maxAdminBody)+`"}`)
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized PUT: %d %s", status, body)
	}

	// DELETE turns everything off.
	status, body = do(t, srv, "DELETE", "/_admin/faults", "")
	if got, err := ParseConfigJSON([]byte(body)); status != 200 || err != nil || !reflect.DeepEqual(got, Config{}) {
		t.Errorf("DELETE: %d %s", status, body)
	}
	if !reflect.DeepEqual(in.Config(), Config{}) {
		t.Errorf("after DELETE: %+v", in.Config())
	}

	status, _ = do(t, srv, "PATCH", "/_admin/faults", "{}")
	if status != http.StatusMethodNotAllowed {
		t.Errorf("PATCH: %d, want 405", status)
	}
}

func TestStatsHandler(t *testing.T) {
	in, _, _ := newTest(t, Config{InternalErrorRate: 1})
	mux := http.NewServeMux()
	mux.Handle("/_admin/stats", in.StatsHandler(func() map[string]any {
		return map[string]any{"instances": map[string]int{"running": 3}, "actions": "not the counters"}
	}))
	mux.Handle("/plain", in.StatsHandler(nil))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for range 2 {
		f := in.Before(t.Context(), "a", "DescribeInstances")
		in.Record("DescribeInstances", "error:"+f.Code)
	}
	var doc struct {
		Actions   map[string]ActionStats `json:"actions"`
		Instances map[string]int         `json:"instances"`
	}
	status, body := do(t, srv, "GET", "/_admin/stats", "")
	if err := json.Unmarshal([]byte(body), &doc); status != 200 || err != nil {
		t.Fatalf("GET: %d %s (%v)", status, body, err)
	}
	want := map[string]ActionStats{"DescribeInstances": {Calls: 2, Faults: 2, Errors: map[string]int64{"InternalError": 2}}}
	if !reflect.DeepEqual(doc.Actions, want) || doc.Instances["running"] != 3 {
		t.Errorf("GET: %s", body)
	}
	if !strings.Contains(body, `"calls": 2`) || !strings.Contains(body, `"InternalError": 2`) {
		t.Errorf("GET: field names not as documented: %s", body)
	}

	status, body = do(t, srv, "DELETE", "/_admin/stats", "")
	doc.Actions = nil
	if err := json.Unmarshal([]byte(body), &doc); status != 200 || err != nil || len(doc.Actions) != 0 {
		t.Errorf("DELETE: %d %s", status, body)
	}
	if len(in.Stats()) != 0 {
		t.Errorf("after DELETE: %v", in.Stats())
	}

	status, body = do(t, srv, "GET", "/plain", "")
	if status != 200 || strings.TrimSpace(body) != "{\n  \"actions\": {}\n}" {
		t.Errorf("GET without extra: %d %q", status, body)
	}
	if status, _ = do(t, srv, "PUT", "/_admin/stats", "{}"); status != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %d, want 405", status)
	}
}
