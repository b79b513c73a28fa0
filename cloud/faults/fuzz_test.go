package faults

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// FuzzParseConfigJSON checks that no input makes ParseConfigJSON panic, that what it
// accepts is valid, runs an Injector, and reads back equal from its own JSON.
func FuzzParseConfigJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `null`, ``, `{`, `[]`, `{"latency":"50ms","jitter":10}`,
		`{"latency": "10ms", "jitter": "5ms",
		  "throttle": {"mutating": {"rate": 5, "burst": 50}, "run-instances": {"rate": 0.5, "burst": 1}},
		  "profile": "aws-limits", "internal_error_rate": 0.1, "drop_after_act_rate": 0.05,
		  "consistency_delay": "3s",
		  "insufficient_capacity": [{"instance_type": "m5.large", "zone": "us-east-1a"}, {"zone": "*"}]}`,
		`{"latency":1e300}`, `{"latency":-0.000001}`, `{"latency":"-5ms"}`, `{"throttle":{"x":{}}}`,
		`{"throttle":{"mutating":{"rate":1e308,"burst":9223372036854775807}}}`,
		`{"internal_error_rate":1,"drop_after_act_rate":0}`, `{} trailing`, `{"profile":null,"throttle":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfigJSON(data)
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted an invalid config %+v: %v", cfg, err)
		}
		b, err := json.Marshal(cfg)
		if err != nil {
			t.Fatalf("marshal %+v: %v", cfg, err)
		}
		back, err := ParseConfigJSON(b)
		if err != nil {
			t.Fatalf("own JSON %s refused: %v", b, err)
		}
		if !reflect.DeepEqual(back, cfg) {
			t.Fatalf("round trip through %s:\n got %+v\nwant %+v", b, back, cfg)
		}
		in, err := New(cfg, nil, nil)
		if err != nil {
			t.Fatalf("New refused a parsed config: %v", err)
		}
		in.SetSleep(func(ctx context.Context, d time.Duration) error { return nil })
		in.Before(t.Context(), "acct", "RunInstances")
		in.DropAfterAct("TerminateInstances")
		in.InsufficientCapacity("m5.large", "us-east-1a")
	})
}

// FuzzParseThrottle checks that an accepted throttle flag is a valid bucket that reads
// back equal from FormatThrottle.
func FuzzParseThrottle(f *testing.F) {
	for _, s := range []string{"mutating=5/50", "run-instances=0.5/1", "non-mutating=0", "x", "mutating=1e400/1", "mutating=0x10/1", "mutating=5/", "=/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, b, err := ParseThrottle(s)
		if err != nil {
			return
		}
		if err := (Config{Throttle: map[Class]Bucket{k: b}}).Validate(); err != nil {
			t.Fatalf("ParseThrottle(%q) accepted a bad bucket: %v", s, err)
		}
		k2, b2, err := ParseThrottle(FormatThrottle(k, b))
		if err != nil || k2 != k || b2 != b {
			t.Fatalf("ParseThrottle(%q) = %q %+v; its form %q reads as %q %+v, %v", s, k, b, FormatThrottle(k, b), k2, b2, err)
		}
	})
}

// FuzzParseRule checks that an accepted capacity rule reads back equal from its String.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{"m5.large@us-east-1a", "m5.large", "@us-east-1a", "*", "@", "", "a@b@c", "m5.*", "\xff@\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRule(s)
		if err != nil {
			return
		}
		r2, err := ParseRule(r.String())
		if err != nil || r2 != r {
			t.Fatalf("ParseRule(%q) = %+v; its form %q reads as %+v, %v", s, r, r.String(), r2, err)
		}
	})
}
