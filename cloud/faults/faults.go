// Package faults decides, request by request, which fault the local cloud answers with
// (added latency, AWS-like throttling, internal errors, dropped connections, eventual
// consistency, insufficient capacity) and counts every call, so tests and benchmarks can
// provoke the failures real EC2 produces and count API calls exactly.
package faults

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Class is an action class: EC2 throttles each class of an account with its own token
// bucket, so a flood of DescribeInstances does not starve TerminateInstances.
type Class string

// The action classes, as EC2's request throttling documentation groups actions.
const (
	NonMutating  Class = "non-mutating"
	Mutating     Class = "mutating"
	RunInstances Class = "run-instances"
)

// classes lists every Class, in the order errors and documents show them.
var classes = [...]Class{NonMutating, Mutating, RunInstances}

// Valid reports whether c is one of the known classes.
func (c Class) Valid() bool { return slices.Contains(classes[:], c) }

// ClassOf gives the throttling class of an EC2 action: Describe* and Get* read and are
// non-mutating; RunInstances and RequestSpotInstances launch instances and have their own,
// smallest bucket on EC2; everything else changes state and is mutating. Action names are
// case-sensitive on EC2, so they are here.
func ClassOf(action string) Class {
	switch {
	case action == "RunInstances" || action == "RequestSpotInstances":
		return RunInstances
	case strings.HasPrefix(action, "Describe") || strings.HasPrefix(action, "Get"):
		return NonMutating
	default:
		return Mutating
	}
}

// Bucket is a token bucket: Burst requests at once, then Rate requests per second. Rate 0
// means unlimited (Burst is then ignored).
type Bucket struct {
	Rate  float64 `json:"rate"`
	Burst int     `json:"burst"`
}

// Rule names where capacity has run out: an empty field matches anything ("*" is accepted
// as a synonym and stored as empty).
type Rule struct {
	InstanceType string `json:"instance_type,omitempty"`
	Zone         string `json:"zone,omitempty"`
}

// matches reports whether the rule covers an instance of that type in that zone.
func (r Rule) matches(instanceType, zone string) bool {
	return (r.InstanceType == "" || r.InstanceType == instanceType) && (r.Zone == "" || r.Zone == zone)
}

// ProfileAWSLimits is the Profile that fills Throttle with AWS-like rates (AWSLimits).
const ProfileAWSLimits = "aws-limits"

// AWSLimits gives the rates of the aws-limits profile. The non-mutating figures are the
// example in EC2's "Request throttling for the Amazon EC2 API" (a bucket of 100 tokens
// refilled at 20 per second); the mutating and RunInstances figures are the ones
// Karpenter's EC2 simulator uses for the same classes.
func AWSLimits() map[Class]Bucket {
	return map[Class]Bucket{
		NonMutating:  {Rate: 20, Burst: 100},
		Mutating:     {Rate: 5, Burst: 50},
		RunInstances: {Rate: 2, Burst: 5},
	}
}

// maxDelay bounds Latency, Jitter and ConsistencyDelay. A fault delay over a day is a
// typo (seconds meant as milliseconds, say) that would hang every client past any timeout,
// and the bound keeps Latency+Jitter far from overflowing time.Duration.
const maxDelay = 24 * time.Hour

// Config sets the faults. The zero value injects nothing: every fault is off by default.
// In JSON, durations are Go duration strings ("50ms") or numbers of milliseconds.
type Config struct {
	// Latency is added to every request before it is acted on.
	Latency time.Duration `json:"latency"`
	// Jitter adds a further uniform [0, Jitter) to Latency.
	Jitter time.Duration `json:"jitter"`
	// Throttle holds a token bucket per class, applied per account. Classes it does not
	// name are not throttled, unless Profile fills them.
	Throttle map[Class]Bucket `json:"throttle,omitempty"`
	// Profile "aws-limits" fills the classes Throttle does not name with AWSLimits, so one
	// class can be overridden (or turned off with rate 0) while the others stay AWS-like.
	Profile string `json:"profile,omitempty"`
	// ThrottleRate is the fraction of requests answered 503 RequestLimitExceeded instead of
	// being acted on, whatever the buckets hold: throttling as a steady share of calls,
	// which a bucket (a share that depends on the client's pace) cannot express.
	ThrottleRate float64 `json:"throttle_rate"`
	// InternalErrorRate is the fraction of requests answered 500 InternalError instead of
	// being acted on.
	InternalErrorRate float64 `json:"internal_error_rate"`
	// DropAfterActRate is the fraction of mutating (and run-instances) requests that are
	// carried out and then answered by closing the connection, as a network failure after
	// EC2 acted looks to a client.
	DropAfterActRate float64 `json:"drop_after_act_rate"`
	// ConsistencyDelay is how long a new instance stays invisible to DescribeInstances
	// (InvalidInstanceID.NotFound when asked for by id), as EC2's eventual consistency.
	ConsistencyDelay time.Duration `json:"consistency_delay"`
	// InsufficientCapacity lists where RunInstances and spot requests fail with
	// InsufficientInstanceCapacity.
	InsufficientCapacity []Rule `json:"insufficient_capacity,omitempty"`
}

// Validate reports every problem of the config in one error, or nil if it is usable.
func (c Config) Validate() error {
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"latency", c.Latency}, {"jitter", c.Jitter}, {"consistency_delay", c.ConsistencyDelay}} {
		switch {
		case d.v < 0:
			bad("%s %v is negative", d.name, d.v)
		case d.v > maxDelay:
			bad("%s %v is longer than the maximum %v", d.name, d.v, maxDelay)
		}
	}
	keys := make([]Class, 0, len(c.Throttle))
	for k := range c.Throttle {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !k.Valid() {
			bad("throttle: unknown class %q (want %s)", k, classList())
			continue
		}
		if err := c.Throttle[k].check(); err != nil {
			bad("throttle[%s]: %v", k, err)
		}
	}
	if c.Profile != "" && c.Profile != ProfileAWSLimits {
		bad("unknown profile %q (want %q or none)", c.Profile, ProfileAWSLimits)
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"throttle_rate", c.ThrottleRate}, {"internal_error_rate", c.InternalErrorRate}, {"drop_after_act_rate", c.DropAfterActRate}} {
		if !(r.v >= 0 && r.v <= 1) { // also catches NaN
			bad("%s %v is not a fraction between 0 and 1", r.name, r.v)
		}
	}
	if len(probs) == 0 {
		return nil
	}
	return fmt.Errorf("faults: bad config: %s", strings.Join(probs, "; "))
}

// check reports what is wrong with a bucket, if anything.
func (b Bucket) check() error {
	switch {
	case math.IsNaN(b.Rate) || math.IsInf(b.Rate, 0):
		return fmt.Errorf("rate %v is not a number of tokens per second", b.Rate)
	case b.Rate < 0:
		return fmt.Errorf("rate %v is negative (0 means unlimited)", b.Rate)
	case b.Burst < 0:
		return fmt.Errorf("burst %d is negative", b.Burst)
	case b.Rate > 0 && b.Burst < 1:
		// A bucket that holds no token refuses every request forever; that is never what
		// a rate means, so ask for the burst rather than guess one.
		return fmt.Errorf("burst %d must be at least 1 when rate is set", b.Burst)
	}
	return nil
}

func classList() string {
	s := make([]string, len(classes))
	for i, c := range classes {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

// normalized gives a deep copy of c with the profile applied to Throttle and "*" in rules
// stored as the empty "any", so the Injector never shares maps or slices with a caller.
func (c Config) normalized() Config {
	out := c
	out.Throttle = nil
	if len(c.Throttle) > 0 || c.Profile == ProfileAWSLimits {
		out.Throttle = make(map[Class]Bucket, len(classes))
		for k, b := range c.Throttle {
			out.Throttle[k] = b
		}
		if c.Profile == ProfileAWSLimits {
			for k, b := range AWSLimits() {
				if _, set := out.Throttle[k]; !set {
					out.Throttle[k] = b
				}
			}
		}
	}
	out.InsufficientCapacity = nil
	for _, r := range c.InsufficientCapacity {
		if r.InstanceType == anyName {
			r.InstanceType = ""
		}
		if r.Zone == anyName {
			r.Zone = ""
		}
		out.InsufficientCapacity = append(out.InsufficientCapacity, r)
	}
	return out
}

// clone gives a deep copy of c.
func (c Config) clone() Config {
	out := c
	if c.Throttle != nil {
		out.Throttle = make(map[Class]Bucket, len(c.Throttle))
		for k, b := range c.Throttle {
			out.Throttle[k] = b
		}
	}
	out.InsufficientCapacity = slices.Clone(c.InsufficientCapacity)
	return out
}
