package resource

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ec2grid/ec2grid/gahp"
	"github.com/ec2grid/ec2grid/gahp/ec2"
)

// Defaults for Options' zero values, each HTCondor's (htcondor-ec2.md §7) unless said.
const (
	// DefaultProbeInterval is GRIDMANAGER_JOB_PROBE_INTERVAL's default.
	DefaultProbeInterval = 60 * time.Second
	// DefaultEarlyProbeDelay is how long after the first ProbeSoon an early probe goes out:
	// long enough to gather the asks of a burst of starts and cancels into one pass, short
	// enough that a user sees running and terminated within seconds. Ours; HTCondor has none.
	DefaultEarlyProbeDelay = time.Second
	// DefaultMaxSubmitted is GRIDMANAGER_MAX_SUBMITTED_JOBS_PER_RESOURCE's default.
	DefaultMaxSubmitted = 1000
	// DefaultMaxPending is GRIDMANAGER_MAX_PENDING_REQUESTS's default.
	DefaultMaxPending = 50
	// DefaultPingInterval is GRIDMANAGER_RESOURCE_PROBE_INTERVAL's default: the re-ping
	// period while the resource is down.
	DefaultPingInterval = 300 * time.Second
	// DefaultHandshakeTimeout bounds the wait for the child's banner and COMMANDS reply.
	DefaultHandshakeTimeout = 10 * time.Second
)

// Tunables without a knob.
const (
	// probeJitter spreads each periodic probe by up to ±10% of the interval, so the
	// resources of one daemon (and daemons started together) do not probe in step.
	probeJitter = 0.10
	// minPingSpacing is HTCondor's probeDelay: while the resource is up, pings asked for
	// after transport errors go out at most this often.
	minPingSpacing = 15 * time.Second
	// restartBackoffMin and restartBackoffMax bound the wait before restarting a dead or
	// unstartable child; it doubles per failure in a row, so a broken gahp binary costs
	// one attempt a minute rather than a busy loop, while a one-off crash is fixed in a second.
	restartBackoffMin = time.Second
	restartBackoffMax = time.Minute
	// stableRun is how long a child must live for the backoff to start over at the minimum.
	stableRun = time.Minute
	// responseTimeout is GRIDMANAGER_GAHP_RESPONSE_TIMEOUT: a child that does not
	// acknowledge a request line within it is hung, and is killed and restarted.
	responseTimeout = 20 * time.Second
	// quitGrace is how long a child gets to answer QUIT and exit before it is killed.
	quitGrace = 5 * time.Second
	// maxStopBatch caps the instance ids in one EC2_VM_STOP: AWS accepts up to 1,000 per
	// TerminateInstances call.
	maxStopBatch = 1000
	// statusAllTuple and statusAllSpotTuple are the result tuple sizes (htcondor-ec2.md
	// §2.5, §2.9).
	statusAllTuple     = 8
	statusAllSpotTuple = 5
)

// Key names one resource; one ec2_gahp child per Key. HTCondor keys its gahp by URL and
// key files; the owner is added because the child runs as, and reads the files of, that user.
type Key struct{ Owner, URL, AccessKeyFile, SecretKeyFile string }

// String names the resource in logs: paths only, never a key file's contents.
func (k Key) String() string {
	return fmt.Sprintf("%s@%s#%s#%s", k.Owner, k.URL, k.AccessKeyFile, k.SecretKeyFile)
}

// Priority orders the commands waiting for a pending slot (HTCondor's order).
type Priority int

const (
	Low    Priority = iota // start, spot start
	Medium                 // stop, keypairs, tags, address, volume
	High                   // status, ping
)

func (p Priority) String() string {
	switch p {
	case Low:
		return "low"
	case Medium:
		return "medium"
	case High:
		return "high"
	}
	return fmt.Sprintf("Priority(%d)", int(p))
}

// Options configure a Resource. Zero values take the Default constants.
type Options struct {
	GahpPath string   // EC2_GAHP: the ec2_gahp binary
	GahpArgs []string // extra arguments, e.g. -m 32, -f LOGFILE
	GahpEnv  []string // added to this process's environment for the child (NAME=value)

	ProbeInterval    time.Duration // GRIDMANAGER_JOB_PROBE_INTERVAL; jittered by probeJitter
	EarlyProbeDelay  time.Duration // ProbeSoon's delay, coalescing the asks made meanwhile
	MaxSubmitted     int           // GRIDMANAGER_MAX_SUBMITTED_JOBS_PER_RESOURCE: submit slots
	MaxPending       int           // GRIDMANAGER_MAX_PENDING_REQUESTS: commands in flight
	PingInterval     time.Duration // GRIDMANAGER_RESOURCE_PROBE_INTERVAL: re-ping while down
	HandshakeTimeout time.Duration // the child's banner and COMMANDS reply within this

	Logger *zap.Logger
	Now    func() time.Time
}

func (o *Options) setDefaults() {
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = DefaultProbeInterval
	}
	if o.EarlyProbeDelay <= 0 {
		o.EarlyProbeDelay = DefaultEarlyProbeDelay
	}
	if o.MaxSubmitted <= 0 {
		o.MaxSubmitted = DefaultMaxSubmitted
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Instance is one EC2_VM_STATUS_ALL 8-tuple, NULL read as "".
type Instance struct {
	ID, State, ClientToken, KeyName, StateReason, PublicDNS, SpotFleetID, AnnexName string
}

// SpotRequest is one EC2_VM_STATUS_ALL_SPOT 5-tuple, NULL read as "": the request id, its
// state, its launch group (ec2grid's, like HTCondor's, is the job's client token), the
// instance id once fulfilled, and the status code.
type SpotRequest struct{ ID, State, LaunchGroup, InstanceID, StatusCode string }

// Snapshot is one complete probe pass. Started is when EC2_VM_STATUS_ALL was sent, so the
// job layer can tell an instance started after it (not yet listed) from one gone.
// SpotQueried says whether Spot holds an answer (spot jobs existed and the call succeeded).
type Snapshot struct {
	Started     time.Time
	Instances   []Instance
	Spot        []SpotRequest
	SpotQueried bool
}

// Health is what the last ping said. Since is when Up last changed; zero until the first
// ping is answered (so Up=false with a zero Since means "not known yet", not "down").
// AuthFailure is "(code): 'message'" after an authentication failure (the text HTCondor
// holds jobs with, 37/9: "Failed to authenticate " + AuthFailure + "."), else "".
type Health struct {
	Up          bool
	ServerType  string
	AuthFailure string
	Since       time.Time
}

// Listener hears the resource's news. It is called from the resource's own goroutines and
// must not block.
type Listener interface {
	Snapshot(Key, Snapshot)
	Health(Key, Health)
}

// ErrLost is returned by Call for EC2_VM_START and EC2_VM_START_SPOT when the child died
// or hung with the start in flight: the cloud may or may not have acted, so the job layer
// applies its recovery rule, as for NEED_CHECK_VM_START.
var ErrLost = errors.New("resource: gahp lost with a start in flight; the instance may exist")

// ErrStopped is returned (wrapped) by calls made after Run has returned.
var ErrStopped = errors.New("resource: stopped")

// Resource is one cloud resource and its ec2_gahp child. Its guarantees: at most one child
// runs at a time; at most MaxPending commands are in flight, granted high before medium
// before low and in arrival order within a priority; at most MaxSubmitted submit slots
// are held, granted in arrival order; every Call gets exactly one answer; an idempotent
// command whose child died is sent again on the next child, and a start never is.
// Safe for concurrent use.
type Resource struct {
	key  Key
	opts Options
	l    Listener
	log  *zap.Logger

	// spawn starts a child; tests replace it with an in-process fake.
	spawn func(ctx context.Context) (*child, error)
	// backoffMin is restartBackoffMin and respTimeout responseTimeout; tests shorten them.
	backoffMin  time.Duration
	respTimeout time.Duration

	pending *slots // MaxPending, three priorities
	submits *slots // MaxSubmitted, one priority

	base       context.Context // ends when Run returns: calls then fail with ErrStopped
	baseCancel context.CancelFunc

	notifyMu sync.Mutex // orders Health news; taken before mu

	mu       sync.Mutex
	running  bool
	cl       *gahp.Client  // the live child's client; nil while there is none
	curChild *child        // the live child
	gen      int           // counts clients published
	changed  chan struct{} // closed (and replaced) whenever cl changes
	health   Health
	spotJobs int
	lastPing time.Time
	newChild bool // a child started since the last ping

	probeAsk chan struct{} // ProbeSoon: one pending ask is enough
	pingAsk  chan struct{} // a ping is wanted
	stops    stopBatcher
}

// New returns a resource for key; Run starts it.
func New(key Key, opts Options, l Listener) *Resource {
	opts.setDefaults()
	r := &Resource{
		key:         key,
		opts:        opts,
		l:           l,
		log:         opts.Logger.With(zap.String("resource", key.String())),
		backoffMin:  restartBackoffMin,
		respTimeout: responseTimeout,
		pending:     newSlots(opts.MaxPending),
		submits:     newSlots(opts.MaxSubmitted),
		changed:     make(chan struct{}),
		probeAsk:    make(chan struct{}, 1),
		pingAsk:     make(chan struct{}, 1),
	}
	r.spawn = r.execGahp
	r.base, r.baseCancel = context.WithCancel(context.Background())
	r.stops.r = r
	return r
}

// Key returns the resource's key.
func (r *Resource) Key() Key { return r.key }

// Health returns what the last ping said.
func (r *Resource) Health() Health {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.health
}

// ProbeSoon asks for a probe pass EarlyProbeDelay from now; asks made before that pass
// starts share it.
func (r *Resource) ProbeSoon() {
	select {
	case r.probeAsk <- struct{}{}:
	default:
	}
}

// SetSpotJobs says how many spot jobs exist: EC2_VM_STATUS_ALL_SPOT is sent only while
// some do (HTCondor: "should prevent us from breaking OpenStack").
func (r *Resource) SetSpotJobs(n int) {
	r.mu.Lock()
	r.spotJobs = n
	r.mu.Unlock()
}

// AcquireSubmitSlot waits, first come first served, until fewer than MaxSubmitted slots
// are held, and takes one. release gives it back (once; later calls do nothing).
func (r *Resource) AcquireSubmitSlot(ctx context.Context) (release func(), err error) {
	if err := r.submits.acquire(ctx, Low); err != nil {
		return nil, fmt.Errorf("resource %s: waiting for a submit slot: %w", r.key.URL, err)
	}
	var once sync.Once
	return func() { once.Do(r.submits.release) }, nil
}

// Statistics asks the child for STATISTICS (S's fields: requests, distinct requests,
// requests over the rate limit, expired signatures).
func (r *Resource) Statistics(ctx context.Context) ([]string, error) {
	cl, _, err := r.client(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("resource %s: statistics: %w", r.key.URL, err)
	}
	fields, err := cl.Statistics(ctx)
	if err != nil {
		return nil, fmt.Errorf("resource %s: statistics: %w", r.key.URL, err)
	}
	return fields, nil
}

// isStart reports whether a command may start an instance: it is never sent twice.
func isStart(command string) bool {
	return strings.EqualFold(command, ec2.CmdStart) || strings.EqualFold(command, ec2.CmdStartSpot)
}

// Call sends one command with the resource's URL and key files prepended and returns the
// result fields after the request id (["0", ...] or ["1", code, message]). Empty arguments
// travel as NULL. It waits for a pending slot by prio, and for a child if none is running.
// If the child dies (or hangs) with the command in flight, an idempotent command is sent
// again on the next child; EC2_VM_START and EC2_VM_START_SPOT return ErrLost instead.
func (r *Resource) Call(ctx context.Context, prio Priority, command string, args ...string) ([]string, error) {
	if err := r.pending.acquire(ctx, prio); err != nil {
		return nil, fmt.Errorf("resource %s: %s waiting for a pending slot: %w", r.key.URL, command, err)
	}
	defer r.pending.release()

	line := make([]string, 0, 3+len(args))
	line = append(line, r.key.URL, r.key.AccessKeyFile, r.key.SecretKeyFile)
	for _, a := range args {
		line = append(line, gahp.OrNull(a))
	}
	after := 0 // the generation of the last child that lost this command
	for {
		cl, gen, err := r.client(ctx, after)
		if err != nil {
			return nil, fmt.Errorf("resource %s: %s: %w", r.key.URL, command, err)
		}
		if !cl.Supports(command) {
			return nil, fmt.Errorf("resource %s: the gahp does not support %s", r.key.URL, command)
		}
		res, err := r.send(ctx, cl, command, line)
		if err == nil {
			if len(res) == 0 {
				return nil, fmt.Errorf("resource %s: %s: empty result line", r.key.URL, command)
			}
			if res[0] != gahp.ResultSuccess && transportCode(res) && !strings.EqualFold(command, ec2.CmdServerType) {
				r.askPing()
			}
			return res, nil
		}
		if !errors.Is(err, errChildLost) {
			return nil, fmt.Errorf("resource %s: %s: %w", r.key.URL, command, err)
		}
		if isStart(command) {
			return nil, fmt.Errorf("resource %s: %s: %w", r.key.URL, command, ErrLost)
		}
		r.log.Info("gahp lost a command in flight; sending it again on the next gahp", zap.String("command", command))
		after = gen
	}
}

// errChildLost says the child died or hung while a command was in flight.
var errChildLost = errors.New("gahp child lost")

// send sends one request on cl and waits for its result. A child that does not accept the
// line within responseTimeout is hung: it is killed, and the command counts as lost.
func (r *Resource) send(ctx context.Context, cl *gahp.Client, command string, line []string) ([]string, error) {
	sctx, cancel := context.WithTimeout(ctx, r.respTimeout)
	_, ch, err := cl.Submit(sctx, command, line...)
	cancel()
	if err != nil {
		var rej *gahp.RejectedError
		switch {
		case errors.As(err, &rej):
			return nil, err
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			r.log.Error("gahp did not accept a request in time; killing it", zap.String("command", command), zap.Duration("timeout", r.respTimeout))
			r.killClient(cl)
			return nil, errChildLost
		default: // the pipe broke or the output ended: the child is going
			t := time.NewTimer(r.respTimeout)
			defer t.Stop()
			select {
			case <-cl.Done():
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-t.C:
				r.log.Error("gahp's input is broken but it lives on; killing it", zap.String("command", command), zap.Error(err))
				r.killClient(cl)
			}
			return nil, errChildLost
		}
	}
	select {
	case res := <-ch:
		return res, nil
	case <-cl.Done():
		// A result read just before the end is still good.
		select {
		case res := <-ch:
			return res, nil
		default:
		}
		return nil, errChildLost
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-r.base.Done():
		return nil, ErrStopped
	}
}

// transportCode reports whether a failure code says the cloud could not be reached (or
// answered with a server fault), which is worth a ping to tell whether it is down.
func transportCode(res []string) bool {
	code := ""
	if len(res) > 1 {
		code = res[1]
	}
	switch code {
	case "", "E_CURL_IO", "NEED_CHECK_VM_START", "NEED_CHECK_SSHKEY":
		return true
	}
	return strings.Contains(code, "(5")
}

// client returns the live child's client of a generation after `after`, waiting for one.
func (r *Resource) client(ctx context.Context, after int) (*gahp.Client, int, error) {
	for {
		r.mu.Lock()
		cl, gen, changed := r.cl, r.gen, r.changed
		r.mu.Unlock()
		if cl != nil && gen > after {
			select {
			case <-cl.Done():
				// Dead but not yet withdrawn by Run: wait for the change.
			default:
				return cl, gen, nil
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-r.base.Done():
			return nil, 0, ErrStopped
		}
	}
}

// publish makes cl the live client (nil: none).
func (r *Resource) publish(cl *gahp.Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cl = cl
	if cl != nil {
		r.gen++
	}
	close(r.changed)
	r.changed = make(chan struct{})
}
