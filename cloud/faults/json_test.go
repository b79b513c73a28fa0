package faults

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestConfigJSONNames keeps configJSON's fields and JSON names the same as Config's.
func TestConfigJSONNames(t *testing.T) {
	a, b := reflect.TypeFor[Config](), reflect.TypeFor[configJSON]()
	if a.NumField() != b.NumField() {
		t.Fatalf("Config has %d fields, configJSON %d", a.NumField(), b.NumField())
	}
	for i := range a.NumField() {
		fa, fb := a.Field(i), b.Field(i)
		if fa.Name != fb.Name || fa.Tag.Get("json") != fb.Tag.Get("json") {
			t.Errorf("field %d: Config has %s `%s`, configJSON %s `%s`", i, fa.Name, fa.Tag, fb.Name, fb.Tag)
		}
	}
}

func TestParseConfigJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want Config
		err  string // substring; empty: no error
	}{
		{name: "empty object", in: `{}`},
		{name: "null", in: `null`},
		{name: "duration strings", in: `{"latency":"50ms","jitter":"1.5s","consistency_delay":"2m"}`,
			want: Config{Latency: 50 * time.Millisecond, Jitter: 1500 * time.Millisecond, ConsistencyDelay: 2 * time.Minute}},
		{name: "milliseconds", in: `{"latency":50,"jitter":0.25,"consistency_delay":2000}`,
			want: Config{Latency: 50 * time.Millisecond, Jitter: 250 * time.Microsecond, ConsistencyDelay: 2 * time.Second}},
		{name: "everything", in: `{
			"latency": "10ms", "jitter": "5ms",
			"throttle": {"mutating": {"rate": 5, "burst": 50}, "run-instances": {"rate": 0.5, "burst": 1}},
			"profile": "aws-limits",
			"internal_error_rate": 0.1, "drop_after_act_rate": 0.05,
			"consistency_delay": "3s",
			"insufficient_capacity": [{"instance_type": "m5.large", "zone": "us-east-1a"}, {"zone": "us-east-1b"}]
		}`, want: Config{
			Latency: 10 * time.Millisecond, Jitter: 5 * time.Millisecond,
			Throttle:          map[Class]Bucket{Mutating: {Rate: 5, Burst: 50}, RunInstances: {Rate: 0.5, Burst: 1}},
			Profile:           ProfileAWSLimits,
			InternalErrorRate: 0.1, DropAfterActRate: 0.05,
			ConsistencyDelay:     3 * time.Second,
			InsufficientCapacity: []Rule{{InstanceType: "m5.large", Zone: "us-east-1a"}, {Zone: "us-east-1b"}},
		}},
		{name: "empty input", in: ``, err: "faults: parse config JSON: empty input"},
		{name: "not an object", in: `[1]`, err: "faults: parse config JSON"},
		{name: "misspelt field", in: `{"latncy":"5ms"}`, err: `unknown field "latncy"`},
		{name: "trailing data", in: `{} {}`, err: "data after the config object"},
		{name: "bad duration", in: `{"latency":"5 parsecs"}`, err: `duration "5 parsecs"`},
		{name: "bool duration", in: `{"latency":true}`, err: "want a string like"},
		{name: "huge milliseconds", in: `{"latency":1e300}`, err: "out of range"},
		{name: "negative milliseconds", in: `{"latency":-5}`, err: "latency -5ms is negative"},
		{name: "unknown class", in: `{"throttle":{"reads":{"rate":1,"burst":1}}}`, err: `unknown class "reads"`},
		{name: "unknown bucket field", in: `{"throttle":{"mutating":{"rate":1,"brust":1}}}`, err: `unknown field "brust"`},
		{name: "rate over 1", in: `{"internal_error_rate":2}`, err: "internal_error_rate 2 is not a fraction"},
		{name: "unknown profile", in: `{"profile":"azure"}`, err: `unknown profile "azure"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseConfigJSON([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseConfigJSON(%s) error = %v, want one saying %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfigJSON(%s): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseConfigJSON(%s) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestConfigJSONRoundTrip(t *testing.T) {
	cfg := Config{
		Latency: 1500 * time.Microsecond, Jitter: time.Second, ConsistencyDelay: 90 * time.Second,
		Throttle:          map[Class]Bucket{NonMutating: {Rate: 20, Burst: 100}},
		InternalErrorRate: 0.25, DropAfterActRate: 1,
		InsufficientCapacity: []Rule{{InstanceType: "c5.xlarge"}},
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"latency":"1.5ms"`) || !strings.Contains(string(b), `"consistency_delay":"1m30s"`) {
		t.Errorf("durations not written as Go duration strings: %s", b)
	}
	back, err := ParseConfigJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, cfg) {
		t.Errorf("round trip changed the config:\n got %+v\nwant %+v", back, cfg)
	}
	b, err = json.Marshal(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"latency":"0s","jitter":"0s","throttle_rate":0,"internal_error_rate":0,"drop_after_act_rate":0,"consistency_delay":"0s"}`; string(b) != want {
		t.Errorf("zero config = %s, want %s", b, want)
	}
}
