package ec2

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.uber.org/zap"
)

// Retry tuning. The gridmanager gives each command 600 s (GRIDMANAGER_GAHP_CALL_TIMEOUT in
// its EC2 code) before giving up on it; a command's retries stop at DefaultRetryDeadline
// after it was accepted, HTCondor's own bound (signature time + 300 s), which leaves the
// last attempt its full DefaultAttemptTimeout and time for the request to wait in the
// queue. Backoff doubles from 100 ms (HTCondor's base) to the SDK's 20 s cap.
const (
	DefaultRetryDeadline  = 300 * time.Second
	DefaultAttemptTimeout = 60 * time.Second // HTCondor's curl total timeout
	DefaultBackoffBase    = 100 * time.Millisecond
	DefaultBackoffMax     = 20 * time.Second
)

// A transport failure or a server fault is retried a few times, not until the deadline:
// a cloud that is down must be reported quickly (the gridmanager's ping marks the resource
// down and stops sending work), unlike one that is merely busy (throttling, retried until
// the deadline).
const (
	maxTransportAttempts = 4
	maxServerAttempts    = 4
)

// NoRateLimit, as Options.RateLimit, is HTCondor's EC2_GAHP_RATE_LIMIT = 0: no spacing,
// so the adaptive rate never drops below its ceiling.
const NoRateLimit = time.Duration(-1)

// Options configure a Gahp. The zero value works against AWS.
type Options struct {
	// DefaultRegion signs requests to URLs whose host names no region (see ParseEndpoint);
	// "" means DefaultRegion.
	DefaultRegion string
	// RateLimit is EC2_GAHP_RATE_LIMIT: the floor of the adaptive rate is one request per
	// RateLimit. 0 means DefaultRateLimit; NoRateLimit means no floor below the ceiling.
	RateLimit time.Duration
	// MaxRate is the adaptive rate's ceiling in requests per second per endpoint; 0 means
	// DefaultMaxRate.
	MaxRate float64
	// Workers is the server's worker count, used to size the connection pool.
	Workers int
	// RetryDeadline, AttemptTimeout, BackoffBase, BackoffMax: see the defaults above.
	RetryDeadline  time.Duration
	AttemptTimeout time.Duration
	BackoffBase    time.Duration
	BackoffMax     time.Duration
	// HTTPClient replaces the shared transport (tests); nil builds one.
	HTTPClient *http.Client
	// InstanceMetadataEndpoint is the IMDS URL for FROM INSTANCE credentials; "" means the
	// SDK's default (http://169.254.169.254).
	InstanceMetadataEndpoint string
	// NewAPI replaces the SDK client (tests with a hand-written fake); nil uses *ec2.Client.
	NewAPI func(Endpoint, aws.CredentialsProvider) API
	// Logger receives the log; nil means none. Nothing secret is ever logged: no key, no
	// key material, no user data.
	Logger *zap.Logger
}

func (o *Options) floorRate() float64 {
	switch {
	case o.RateLimit < 0:
		return 0
	case o.RateLimit == 0:
		return float64(time.Second) / float64(DefaultRateLimit)
	default:
		return float64(time.Second) / float64(o.RateLimit)
	}
}

// Gahp runs the EC2_* commands. Safe for concurrent use: the server's workers share it.
type Gahp struct {
	opts    Options
	clients *clients
	log     *zap.Logger

	// STATISTICS, in HTCondor's order and meaning: HTTP attempts, distinct calls (an
	// attempt and its retries count once), attempts refused for rate, and calls abandoned
	// because the retry deadline would pass.
	requests, distinct, throttled, expired atomic.Int64
}

// New returns a Gahp.
func New(opts Options) (*Gahp, error) {
	if opts.DefaultRegion == "" {
		opts.DefaultRegion = DefaultRegion
	}
	if opts.MaxRate <= 0 {
		opts.MaxRate = DefaultMaxRate
	}
	if opts.RetryDeadline <= 0 {
		opts.RetryDeadline = DefaultRetryDeadline
	}
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = DefaultAttemptTimeout
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = DefaultBackoffBase
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = DefaultBackoffMax
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	g := &Gahp{opts: opts, log: opts.Logger}
	var err error
	if g.clients, err = newClients(&g.opts); err != nil {
		return nil, fmt.Errorf("ec2 gahp: %w", err)
	}
	return g, nil
}

// Statistics answers STATISTICS: NumRequests NumDistinctRequests NumRequestsExceedingLimit
// NumExpiredSignatures, HTCondor's four counters.
func (g *Gahp) Statistics() []string {
	return []string{
		strconv.FormatInt(g.requests.Load(), 10),
		strconv.FormatInt(g.distinct.Load(), 10),
		strconv.FormatInt(g.throttled.Load(), 10),
		strconv.FormatInt(g.expired.Load(), 10),
	}
}

// callError is a call that failed for good.
type callError struct {
	op      string
	cls     class // what the last attempt's error proves
	err     error // the last attempt's error
	expired bool  // the retry deadline stopped the retries
}

func (e *callError) Error() string {
	if e.expired {
		return fmt.Sprintf("%s: retry deadline would be exceeded; last error: %v", e.op, e.err)
	}
	return fmt.Sprintf("%s: %v", e.op, e.err)
}

func (e *callError) Unwrap() error { return e.err }

// call makes one EC2 call through c's endpoint limiter, retrying as the error's class
// allows: throttling until the deadline; a request that never left, a few times; a request
// the cloud may have acted on (transport error after sending, 5xx), a few times if
// repeatable, else never. fn must be safe to call again with the same input.
func (g *Gahp) call(ctx context.Context, c *client, deadline time.Time, op string, repeatable bool, fn func(context.Context) error) error {
	g.distinct.Add(1)
	var last error
	lastCls := classNone
	transport, server := 0, 0
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			delay := g.backoff(attempt)
			if time.Now().Add(delay).After(deadline) {
				g.expired.Add(1)
				return &callError{op: op, cls: lastCls, err: last, expired: true}
			}
			if err := sleep(ctx, delay); err != nil {
				return &callError{op: op, cls: classInternal, err: err}
			}
		}
		if err := c.ep.limiter.Wait(ctx, deadline); err != nil {
			if errors.Is(err, errLimiterDeadline) {
				g.expired.Add(1)
				if last == nil {
					last = err
				}
				return &callError{op: op, cls: lastCls, err: last, expired: true}
			}
			return &callError{op: op, cls: classInternal, err: err}
		}

		var wrote atomic.Bool
		actx, cancel := context.WithTimeout(ctx, g.opts.AttemptTimeout)
		actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{
			// Only a completely written request can be acted on: the cloud reads the whole
			// form body before it does anything.
			WroteRequest: func(info httptrace.WroteRequestInfo) {
				if info.Err == nil {
					wrote.Store(true)
				}
			},
		})
		g.requests.Add(1)
		err := fn(actx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return &callError{op: op, cls: classInternal, err: ctx.Err()}
		}
		cls := classify(err, wrote.Load())
		last, lastCls = err, cls
		g.log.Debug("attempt failed", zap.String("op", op), zap.Int("attempt", attempt+1),
			zap.Stringer("class", cls), zap.Error(err))
		switch cls {
		case classThrottled:
			g.throttled.Add(1)
			c.ep.limiter.Throttled()
			continue
		case classNotSent:
			if transport++; transport < maxTransportAttempts {
				continue
			}
		case classMaybeActed:
			if transport++; repeatable && transport < maxTransportAttempts {
				continue
			}
		case classServerFault:
			if server++; repeatable && server < maxServerAttempts {
				continue
			}
		}
		return &callError{op: op, cls: cls, err: err}
	}
}

// backoff is the wait before retry n (n >= 1): exponential from BackoffBase, capped at
// BackoffMax, with "equal jitter" (half fixed, half random) so that requests throttled
// together do not come back together, yet every wait is at least half the step.
func (g *Gahp) backoff(n int) time.Duration {
	d := g.opts.BackoffMax
	if n-1 < 40 {
		d = min(g.opts.BackoffMax, g.opts.BackoffBase<<(n-1))
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// callFailure turns call's error into the command's failure fields. needCheck is the
// command's "may have acted" code, or "".
func callFailure(err error, needCheck string) []string {
	var ce *callError
	if !errors.As(err, &ce) {
		return (&failure{codeInternal, err.Error()}).fields()
	}
	if ce.expired {
		return (&failure{codeDeadline, "Retry deadline would be exceeded before the next permissible attempt; last error: " + lastErrorText(ce)}).fields()
	}
	if ce.cls == classInternal && errors.Is(ce.err, context.Canceled) {
		return (&failure{codeInternal, "Shutting down: " + ce.op + " abandoned."}).fields()
	}
	return errorFailure(ce.err, ce.cls, needCheck).fields()
}

func lastErrorText(ce *callError) string {
	if ce.err == nil || errors.Is(ce.err, errLimiterDeadline) {
		return "none (waiting for the rate limit)"
	}
	f := errorFailure(ce.err, ce.cls, "")
	return f.code + " " + f.msg
}
