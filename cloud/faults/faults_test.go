package faults

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestClassOf(t *testing.T) {
	for _, tc := range []struct {
		action string
		want   Class
	}{
		{"DescribeInstances", NonMutating},
		{"DescribeSpotPriceHistory", NonMutating},
		{"GetConsoleOutput", NonMutating},
		{"RunInstances", RunInstances},
		{"RequestSpotInstances", RunInstances},
		{"TerminateInstances", Mutating},
		{"CreateTags", Mutating},
		{"CancelSpotInstanceRequests", Mutating},
		{"describeInstances", Mutating}, // EC2 action names are case-sensitive
		{"", Mutating},
		{"NoSuchAction", Mutating},
	} {
		if got := ClassOf(tc.action); got != tc.want {
			t.Errorf("ClassOf(%q) = %q, want %q", tc.action, got, tc.want)
		}
	}
}

func TestAWSLimitsProfile(t *testing.T) {
	want := map[Class]Bucket{
		NonMutating:  {Rate: 20, Burst: 100},
		Mutating:     {Rate: 5, Burst: 50},
		RunInstances: {Rate: 2, Burst: 5},
	}
	if got := AWSLimits(); !reflect.DeepEqual(got, want) {
		t.Errorf("AWSLimits() = %v, want %v", got, want)
	}
	in, err := New(Config{Profile: ProfileAWSLimits}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := in.Config().Throttle; !reflect.DeepEqual(got, want) {
		t.Errorf("aws-limits config Throttle = %v, want %v", got, want)
	}
	// A class the config names keeps its own bucket; rate 0 turns it off.
	in, err = New(Config{Profile: ProfileAWSLimits, Throttle: map[Class]Bucket{Mutating: {Rate: 0}}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want[Mutating] = Bucket{}
	if got := in.Config().Throttle; !reflect.DeepEqual(got, want) {
		t.Errorf("aws-limits with mutating off: Throttle = %v, want %v", got, want)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		errs []string // substrings the error must hold; none: valid
	}{
		{name: "zero"},
		{name: "everything", cfg: Config{
			Latency: 50 * time.Millisecond, Jitter: time.Millisecond, ConsistencyDelay: time.Second,
			Throttle:          map[Class]Bucket{NonMutating: {Rate: 0.5, Burst: 1}, Mutating: {}, RunInstances: {Rate: 1e6, Burst: 1 << 30}},
			Profile:           ProfileAWSLimits,
			InternalErrorRate: 1, DropAfterActRate: 0,
			InsufficientCapacity: []Rule{{}, {InstanceType: "m5.large"}, {Zone: "*"}},
		}},
		{name: "negative latency", cfg: Config{Latency: -1}, errs: []string{"latency -1ns is negative"}},
		{name: "negative jitter", cfg: Config{Jitter: -time.Second}, errs: []string{"jitter -1s is negative"}},
		{name: "negative consistency", cfg: Config{ConsistencyDelay: -time.Second}, errs: []string{"consistency_delay -1s is negative"}},
		{name: "huge latency", cfg: Config{Latency: 25 * time.Hour}, errs: []string{"latency 25h0m0s is longer than the maximum 24h0m0s"}},
		{name: "unknown class", cfg: Config{Throttle: map[Class]Bucket{"reads": {Rate: 1, Burst: 1}}},
			errs: []string{`unknown class "reads" (want non-mutating, mutating, run-instances)`}},
		{name: "negative rate", cfg: Config{Throttle: map[Class]Bucket{Mutating: {Rate: -1, Burst: 1}}},
			errs: []string{"throttle[mutating]: rate -1 is negative"}},
		{name: "NaN rate", cfg: Config{Throttle: map[Class]Bucket{Mutating: {Rate: math.NaN(), Burst: 1}}},
			errs: []string{"throttle[mutating]: rate NaN is not a number"}},
		{name: "infinite rate", cfg: Config{Throttle: map[Class]Bucket{Mutating: {Rate: math.Inf(1), Burst: 1}}},
			errs: []string{"throttle[mutating]: rate +Inf is not a number"}},
		{name: "negative burst", cfg: Config{Throttle: map[Class]Bucket{NonMutating: {Burst: -2}}},
			errs: []string{"throttle[non-mutating]: burst -2 is negative"}},
		{name: "rate without burst", cfg: Config{Throttle: map[Class]Bucket{RunInstances: {Rate: 2}}},
			errs: []string{"throttle[run-instances]: burst 0 must be at least 1 when rate is set"}},
		{name: "unknown profile", cfg: Config{Profile: "aws"}, errs: []string{`unknown profile "aws" (want "aws-limits" or none)`}},
		{name: "error rate above 1", cfg: Config{InternalErrorRate: 1.5}, errs: []string{"internal_error_rate 1.5 is not a fraction between 0 and 1"}},
		{name: "negative error rate", cfg: Config{InternalErrorRate: -0.1}, errs: []string{"internal_error_rate -0.1 is not"}},
		{name: "throttle rate above 1", cfg: Config{ThrottleRate: 1.5}, errs: []string{"throttle_rate 1.5 is not a fraction between 0 and 1"}},
		{name: "NaN drop rate", cfg: Config{DropAfterActRate: math.NaN()}, errs: []string{"drop_after_act_rate NaN is not"}},
		{name: "every problem at once", cfg: Config{Latency: -1, Profile: "x", DropAfterActRate: 2},
			errs: []string{"latency -1ns", `profile "x"`, "drop_after_act_rate 2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.errs) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors %q", tc.errs)
			}
			if !strings.HasPrefix(err.Error(), "faults: bad config: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			for _, want := range tc.errs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			// New and SetConfig refuse what Validate refuses.
			if _, nerr := New(tc.cfg, nil, nil); nerr == nil {
				t.Error("New accepted the bad config")
			}
			in, _ := New(Config{Latency: time.Millisecond}, nil, nil)
			if serr := in.SetConfig(tc.cfg); serr == nil {
				t.Error("SetConfig accepted the bad config")
			}
			if in.Config().Latency != time.Millisecond {
				t.Error("a refused SetConfig changed the config")
			}
		})
	}
}

func TestConfigIsACopy(t *testing.T) {
	cfg := Config{
		Throttle:             map[Class]Bucket{Mutating: {Rate: 1, Burst: 1}},
		InsufficientCapacity: []Rule{{InstanceType: "m5.large"}},
	}
	in, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Throttle[Mutating] = Bucket{}
	cfg.InsufficientCapacity[0].InstanceType = "t2.micro"
	got := in.Config()
	got.Throttle[NonMutating] = Bucket{Rate: 1, Burst: 1}
	got.InsufficientCapacity[0].Zone = "z"
	again := in.Config()
	if again.Throttle[Mutating] != (Bucket{Rate: 1, Burst: 1}) || len(again.Throttle) != 1 ||
		again.InsufficientCapacity[0] != (Rule{InstanceType: "m5.large"}) {
		t.Errorf("the Injector's config changed through a caller's map or slice: %+v", again)
	}
}
