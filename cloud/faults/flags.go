package faults

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// anyName is how flags (and, as a synonym of the empty string, configs) write "any
// instance type" or "any zone".
const anyName = "*"

// RegisterFlags adds a -fault-* flag for every field of c to fs, writing into c as they
// are parsed, so `ec2grid cloud` can set faults from its command line on top of its
// config file. Validate (or New) checks the result.
//
//	-fault-latency 50ms  -fault-jitter 20ms  -fault-consistency-delay 2s
//	-fault-throttle-profile aws-limits  -fault-throttle mutating=5/50  (repeatable)
//	-fault-internal-error-rate 0.1  -fault-drop-after-act-rate 0.05
//	-fault-insufficient-capacity m5.large@us-east-1a  (repeatable; TYPE, @ZONE, * also)
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&c.Latency, "fault-latency", c.Latency, "add `DURATION` to every request")
	fs.DurationVar(&c.Jitter, "fault-jitter", c.Jitter, "add a further uniform [0, `DURATION`) to every request")
	fs.StringVar(&c.Profile, "fault-throttle-profile", c.Profile, "throttle profile: "+ProfileAWSLimits+" (AWS-like rates) or empty")
	fs.Var(throttleFlag{c}, "fault-throttle", "throttle a class per account: `CLASS=RATE/BURST` ("+classList()+"; rate 0 is unlimited); repeatable")
	fs.Float64Var(&c.ThrottleRate, "fault-throttle-rate", c.ThrottleRate, "`FRACTION` of requests answered 503 RequestLimitExceeded, beside any bucket")
	fs.Float64Var(&c.InternalErrorRate, "fault-internal-error-rate", c.InternalErrorRate, "`FRACTION` of requests answered 500 InternalError")
	fs.Float64Var(&c.DropAfterActRate, "fault-drop-after-act-rate", c.DropAfterActRate, "`FRACTION` of mutating requests acted on, then dropped unanswered")
	fs.DurationVar(&c.ConsistencyDelay, "fault-consistency-delay", c.ConsistencyDelay, "keep a new instance out of DescribeInstances for `DURATION`")
	fs.Var(capacityFlag{c}, "fault-insufficient-capacity", "fail launches with InsufficientInstanceCapacity for `TYPE@ZONE` (TYPE, @ZONE or * for any); repeatable")
}

type throttleFlag struct{ c *Config }

func (f throttleFlag) String() string {
	if f.c == nil {
		return ""
	}
	var parts []string
	for _, k := range classes {
		if b, ok := f.c.Throttle[k]; ok {
			parts = append(parts, FormatThrottle(k, b))
		}
	}
	return strings.Join(parts, " ")
}

func (f throttleFlag) Set(s string) error {
	k, b, err := ParseThrottle(s)
	if err != nil {
		return err
	}
	if f.c.Throttle == nil {
		f.c.Throttle = map[Class]Bucket{}
	}
	f.c.Throttle[k] = b
	return nil
}

type capacityFlag struct{ c *Config }

func (f capacityFlag) String() string {
	if f.c == nil {
		return ""
	}
	parts := make([]string, len(f.c.InsufficientCapacity))
	for i, r := range f.c.InsufficientCapacity {
		parts[i] = r.String()
	}
	return strings.Join(parts, " ")
}

func (f capacityFlag) Set(s string) error {
	r, err := ParseRule(s)
	if err != nil {
		return err
	}
	f.c.InsufficientCapacity = append(f.c.InsufficientCapacity, r)
	return nil
}

// ParseThrottle reads a throttle flag, CLASS=RATE/BURST (RATE tokens per second, BURST
// at once), or CLASS=0 for an unthrottled class.
func ParseThrottle(s string) (Class, Bucket, error) {
	name, spec, ok := strings.Cut(s, "=")
	if !ok {
		return "", Bucket{}, fmt.Errorf("faults: throttle %q: want CLASS=RATE/BURST", s)
	}
	k := Class(name)
	if !k.Valid() {
		return "", Bucket{}, fmt.Errorf("faults: throttle %q: unknown class %q (want %s)", s, name, classList())
	}
	rateText, burstText, hasBurst := strings.Cut(spec, "/")
	rate, err := strconv.ParseFloat(rateText, 64)
	if err != nil || math.IsNaN(rate) || math.IsInf(rate, 0) {
		return "", Bucket{}, fmt.Errorf("faults: throttle %q: rate %q is not a number", s, rateText)
	}
	var b Bucket
	b.Rate = rate
	if hasBurst {
		burst, err := strconv.Atoi(burstText)
		if err != nil {
			return "", Bucket{}, fmt.Errorf("faults: throttle %q: burst %q is not a whole number", s, burstText)
		}
		b.Burst = burst
	}
	if err := b.check(); err != nil {
		return "", Bucket{}, fmt.Errorf("faults: throttle %q: %w", s, err)
	}
	return k, b, nil
}

// FormatThrottle writes a class's bucket as ParseThrottle reads it.
func FormatThrottle(k Class, b Bucket) string {
	return fmt.Sprintf("%s=%s/%d", k, strconv.FormatFloat(b.Rate, 'g', -1, 64), b.Burst)
}

// ParseRule reads an insufficient-capacity flag: TYPE@ZONE, TYPE (any zone), @ZONE or
// *@ZONE (any type), or * (everywhere).
func ParseRule(s string) (Rule, error) {
	typ, zone, _ := strings.Cut(s, "@")
	if s == "" {
		return Rule{}, fmt.Errorf("faults: capacity rule is empty: want TYPE@ZONE, TYPE, @ZONE or %s", anyName)
	}
	var r Rule
	for _, part := range []struct {
		what string
		text string
		dst  *string
	}{{"instance type", typ, &r.InstanceType}, {"zone", zone, &r.Zone}} {
		if part.text == anyName || part.text == "" {
			continue
		}
		if !utf8.ValidString(part.text) {
			return Rule{}, fmt.Errorf("faults: capacity rule %q: %s is not UTF-8", s, part.what)
		}
		if i := strings.IndexFunc(part.text, func(c rune) bool {
			return c == '@' || c == '*' || unicode.IsSpace(c) || !unicode.IsPrint(c)
		}); i >= 0 {
			c, _ := utf8.DecodeRuneInString(part.text[i:])
			return Rule{}, fmt.Errorf("faults: capacity rule %q: %s %q has a stray %q", s, part.what, part.text, c)
		}
		*part.dst = part.text
	}
	return r, nil
}

// String writes the rule as ParseRule reads it.
func (r Rule) String() string {
	typ, zone := r.InstanceType, r.Zone
	if typ == "" {
		typ = anyName
	}
	if zone == "" {
		return typ
	}
	return typ + "@" + zone
}
