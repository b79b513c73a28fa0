package faults

import (
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRegisterFlags(t *testing.T) {
	var cfg Config
	fs := flag.NewFlagSet("cloud", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.RegisterFlags(fs)
	err := fs.Parse([]string{
		"-fault-latency", "50ms", "-fault-jitter=20ms", "--fault-consistency-delay", "2s",
		"-fault-throttle-profile", "aws-limits",
		"-fault-throttle", "mutating=5/50", "-fault-throttle", "run-instances=0.5/1", "-fault-throttle", "non-mutating=0",
		"-fault-internal-error-rate", "0.1", "-fault-drop-after-act-rate", "0.05",
		"-fault-insufficient-capacity", "m5.large@us-east-1a", "-fault-insufficient-capacity", "@us-east-1b",
		"-fault-insufficient-capacity", "t2.micro",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Latency: 50 * time.Millisecond, Jitter: 20 * time.Millisecond, ConsistencyDelay: 2 * time.Second,
		Profile:           ProfileAWSLimits,
		Throttle:          map[Class]Bucket{Mutating: {Rate: 5, Burst: 50}, RunInstances: {Rate: 0.5, Burst: 1}, NonMutating: {}},
		InternalErrorRate: 0.1, DropAfterActRate: 0.05,
		InsufficientCapacity: []Rule{{InstanceType: "m5.large", Zone: "us-east-1a"}, {Zone: "us-east-1b"}, {InstanceType: "t2.micro"}},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("flags gave %+v, want %+v", cfg, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Error(err)
	}
	if got := fs.Lookup("fault-throttle").Value.String(); got != "non-mutating=0/0 mutating=5/50 run-instances=0.5/1" {
		t.Errorf("-fault-throttle shows %q", got)
	}
	if got := fs.Lookup("fault-insufficient-capacity").Value.String(); got != "m5.large@us-east-1a *@us-east-1b t2.micro" {
		t.Errorf("-fault-insufficient-capacity shows %q", got)
	}

	// Flags override the config file's values they name, and keep the rest.
	file := Config{Latency: time.Second, InternalErrorRate: 0.5}
	fs = flag.NewFlagSet("cloud", flag.ContinueOnError)
	file.RegisterFlags(fs)
	if err := fs.Parse([]string{"-fault-latency", "0"}); err != nil {
		t.Fatal(err)
	}
	if file.Latency != 0 || file.InternalErrorRate != 0.5 {
		t.Errorf("flags over a file's config: %+v", file)
	}

	for _, bad := range [][]string{
		{"-fault-throttle", "writes=1/1"},
		{"-fault-throttle", "mutating=5"},
		{"-fault-insufficient-capacity", ""},
		{"-fault-latency", "5"},
	} {
		var c Config
		fs := flag.NewFlagSet("cloud", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.RegisterFlags(fs)
		if err := fs.Parse(bad); err == nil {
			t.Errorf("flags %q accepted", bad)
		}
	}
}

func TestParseThrottle(t *testing.T) {
	for _, tc := range []struct {
		in    string
		class Class
		b     Bucket
		err   string
	}{
		{in: "mutating=5/50", class: Mutating, b: Bucket{5, 50}},
		{in: "non-mutating=20/100", class: NonMutating, b: Bucket{20, 100}},
		{in: "run-instances=0.5/1", class: RunInstances, b: Bucket{0.5, 1}},
		{in: "mutating=0", class: Mutating},
		{in: "mutating=0/7", class: Mutating, b: Bucket{0, 7}},
		{in: "mutating", err: "want CLASS=RATE/BURST"},
		{in: "reads=1/1", err: `unknown class "reads"`},
		{in: "mutating=fast/1", err: `rate "fast" is not a number`},
		{in: "mutating=NaN/1", err: `rate "NaN" is not a number`},
		{in: "mutating=1/1.5", err: `burst "1.5" is not a whole number`},
		{in: "mutating=-1/1", err: "rate -1 is negative"},
		{in: "mutating=2", err: "burst 0 must be at least 1 when rate is set"},
		{in: "mutating=2/-1", err: "burst -1 is negative"},
	} {
		class, b, err := ParseThrottle(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseThrottle(%q) error = %v, want one saying %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || class != tc.class || b != tc.b {
			t.Errorf("ParseThrottle(%q) = %q, %+v, %v; want %q, %+v", tc.in, class, b, err, tc.class, tc.b)
		}
	}
}

func TestParseRule(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Rule
		str  string // String() of the result
		err  string
	}{
		{in: "m5.large@us-east-1a", want: Rule{"m5.large", "us-east-1a"}, str: "m5.large@us-east-1a"},
		{in: "m5.large", want: Rule{InstanceType: "m5.large"}, str: "m5.large"},
		{in: "m5.large@", want: Rule{InstanceType: "m5.large"}, str: "m5.large"},
		{in: "m5.large@*", want: Rule{InstanceType: "m5.large"}, str: "m5.large"},
		{in: "@us-east-1a", want: Rule{Zone: "us-east-1a"}, str: "*@us-east-1a"},
		{in: "*@us-east-1a", want: Rule{Zone: "us-east-1a"}, str: "*@us-east-1a"},
		{in: "*", want: Rule{}, str: "*"},
		{in: "@", want: Rule{}, str: "*"},
		{in: "", err: "empty"},
		{in: "m5.large@us-east-1a@x", err: `zone "us-east-1a@x" has a stray '@'`},
		{in: "m5.*", err: `instance type "m5.*" has a stray '*'`},
		{in: "m5 large", err: `has a stray ' '`},
		{in: "m5\u00a0large", err: `has a stray '\u00a0'`},
		{in: "m5\xfflarge", err: "instance type is not UTF-8"},
	} {
		r, err := ParseRule(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseRule(%q) error = %v, want one saying %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || r != tc.want || r.String() != tc.str {
			t.Errorf("ParseRule(%q) = %+v (%q), %v; want %+v (%q)", tc.in, r, r.String(), err, tc.want, tc.str)
		}
	}
}
