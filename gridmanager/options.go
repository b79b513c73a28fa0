package gridmanager

import (
	"context"
	"io/fs"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/gridmanager/resource"
)

// Cloud is what the state machine needs from one resource; *resource.Resource satisfies
// it and tests use a fake. Call and Stop return the gahp's result fields after the request
// id (["0", ...] or ["1", code, message]); an error means no answer came (resource.ErrLost
// for a start that may have happened).
type Cloud interface {
	Health() resource.Health
	ProbeSoon()
	SetSpotJobs(n int)
	AcquireSubmitSlot(ctx context.Context) (func(), error)
	Call(ctx context.Context, prio resource.Priority, command string, args ...string) ([]string, error)
	Stop(ctx context.Context, instanceID string) ([]string, error)
}

var _ Cloud = (*resource.Resource)(nil)

// Defaults for Options' zero values, each with its reason.
const (
	// DefaultPeriodicExprInterval is HTCondor's PERIODIC_EXPR_INTERVAL.
	DefaultPeriodicExprInterval = 60 * time.Second
	// DefaultConsistencyWindow and DefaultConsistencyPasses: how long, and over how many
	// status passes, an instance that may have been started must stay unseen before a
	// cloud without ClientToken is asked to start it again. EC2's DescribeInstances lags
	// RunInstances by seconds; two passes and 30 s cover it (issue 7).
	DefaultConsistencyWindow = 30 * time.Second
	DefaultConsistencyPasses = 2
	// DefaultPurgeGrace: an instance missing from a pass sent within this long of its
	// start is not yet listed, not gone (HTCondor bug §10.6).
	DefaultPurgeGrace = 5 * time.Minute
	// DefaultOrphanGrace: a tagged instance no job owns is terminated only after it has
	// been seen unowned this long, well past PurgeGrace, so a start whose answer is still
	// on its way (and whose id is not yet committed) is never mistaken for an orphan.
	DefaultOrphanGrace = 10 * time.Minute
	// DefaultOrphanSweepInterval: orphans are rare (a job deleted by hand, a crash of an
	// older version); looking every five minutes costs one DescribeInstances per resource.
	DefaultOrphanSweepInterval = 5 * time.Minute
	// DefaultStaleLimit is HTCondor's hard-coded stale status limit (§3.4): 029 after it.
	DefaultStaleLimit = 15 * time.Minute
	// DefaultRetryDelay is how long a job waits before trying a failed or unconfirmed
	// command again. HTCondor waits 300 s (submitInterval); a gahp restart or a dropped
	// answer heals in seconds, so a user should not wait five minutes for it.
	DefaultRetryDelay = 30 * time.Second
	// DefaultMaxOps caps the goroutines running job I/O (store commits, user log writes,
	// cloud calls) at once, outside submits. 4,096 goroutines cost about 32 MiB of stack
	// and keep far more than the resource's MaxPending commands queued, so the cap never
	// slows the cloud; 100,000 jobs reacting at once (a resource coming back) queue in the
	// event loop as small structs instead of 100,000 goroutines.
	DefaultMaxOps = 4096
	// DefaultMaxStartOps caps goroutines waiting for a submit slot or running a start.
	// Kept apart from DefaultMaxOps so starts blocked on slots never starve cancels.
	DefaultMaxStartOps = 2048
	// emptyResourceDelay is HTCondor's GRIDMANAGER_EMPTY_RESOURCE_DELAY: a resource whose
	// last job left is stopped (its gahp with it) after this long.
	emptyResourceDelay = 300 * time.Second
)

// Retry limits.
const (
	// maxCancelRetries: EC2_VM_STOP is retried three times (four checks), then hold 42/16,
	// as HTCondor does and its manual says.
	maxCancelRetries = 3
	// maxStartTries: an EC2_VM_START that keeps coming back unconfirmed (NEED_CHECK_VM_START
	// or a lost gahp) is tried this many times, then the job is held (HTCondor retries
	// forever, §10.5). Each unconfirmed try is one ambiguous answer (a 5xx, a dropped
	// connection) that the seek then shows started nothing, so the bound must make a run
	// of such answers vanishingly rare: at the fault storm's 7% (docs/chaos.md), 3 tries
	// held about one job in 3,000 (seen in 1,000); 10 hold one in 10^11, while a cloud
	// that never confirms still holds the job after 10 consistency windows (5 min).
	maxStartTries = 10
	// maxAttachTries: tags, elastic IP and each volume are tried this many times before
	// the job is held (HTCondor fires and forgets, §10.1).
	maxAttachTries = 3
	// maxKeypairTries: NEED_CHECK_SSHKEY (a transport failure) is retried this often;
	// creation is idempotent (a duplicate is success). As for starts, the bound must make
	// a run of ambiguous answers vanishingly rare: at the fault storm's 7%, 3 tries held
	// one job in 1,000 (docs/chaos.md).
	maxKeypairTries = 10
	// maxKeypairReplacements: a keypair found made but its key file missing is destroyed
	// and created again (stReplaceKeyPair) at most this often in a row before the job is
	// held 40/11. One replacement heals the case it exists for (a gahp killed between
	// CreateKeyPair and the key file's rename); a second covers a cloud slow to forget the
	// destroyed name. More means the file never appears where the daemon looks (a cloud
	// answering "duplicate" for a name it does not list, a key file path the gahp cannot
	// write but the daemon cannot see either), which no retry fixes.
	maxKeypairReplacements = 3
	// maxSpotPurged: a spot request missing from two passes is lost (§3.6).
	maxSpotPurged = 2
)

// Options configure a Manager. Zero values take the defaults named above or resource's.
type Options struct {
	QueueID string // the ec2grid:queue tag value, made once with the queue's store

	ProbeInterval        time.Duration // GRIDMANAGER_JOB_PROBE_INTERVAL, passed to each resource
	PeriodicExprInterval time.Duration // PERIODIC_EXPR_INTERVAL; negative: no periodic policy (HTCondor's 0)
	PingInterval         time.Duration // GRIDMANAGER_RESOURCE_PROBE_INTERVAL, passed to each resource
	ConsistencyWindow    time.Duration // see DefaultConsistencyWindow
	PurgeGrace           time.Duration // see DefaultPurgeGrace
	OrphanGrace          time.Duration // see DefaultOrphanGrace
	StaleLimit           time.Duration // see DefaultStaleLimit
	ConsistencyPasses    int           // see DefaultConsistencyPasses
	MaxSubmitted         int           // GRIDMANAGER_MAX_SUBMITTED_JOBS_PER_RESOURCE
	MaxPending           int           // GRIDMANAGER_MAX_PENDING_REQUESTS

	GahpPath string   // EC2_GAHP; "" holds every job 39/6 unless NewCloud is set
	GahpArgs []string // extra ec2_gahp arguments
	GahpEnv  []string // added to the daemon's environment for each ec2_gahp child (its knobs)

	Logger *zap.Logger
	Now    func() time.Time

	// NewCloud makes the Cloud for one resource; nil runs resource.New in a goroutine
	// for as long as the resource has jobs. Tests inject fakes.
	NewCloud func(ctx context.Context, key resource.Key, l resource.Listener) Cloud
	// Crash is a test hook (EC2GRID_CRASH_AT): called at the points listed in
	// docs/architecture.md ("after-token-commit", "after-start-before-save",
	// "during-cancel", ...); the daemon kills itself there. nil = no-op.
	Crash func(point string)

	// Policy evaluates periodic and on-exit policy; nil = the policy package.
	Policy Policy
	// RetryDelay: see DefaultRetryDelay.
	RetryDelay time.Duration
	// OrphanSweepInterval: see DefaultOrphanSweepInterval; negative disables the sweep.
	OrphanSweepInterval time.Duration
	// MaxOps and MaxStartOps: see DefaultMaxOps and DefaultMaxStartOps.
	MaxOps, MaxStartOps int
	// StatKeyFile looks at a job's EC2KeyPairFile when EC2_VM_CREATE_KEYPAIR answers that
	// the keypair already exists: a file that does not exist (fs.ErrNotExist) means the
	// keypair's private key was lost, and the keypair is replaced. nil = os.Stat; the
	// daemon runs as the user, so it sees the file as the user's ec2_gahp wrote it. Tests
	// inject their own.
	StatKeyFile func(name string) (fs.FileInfo, error)
}

func (o *Options) setDefaults() {
	durations := []struct {
		p *time.Duration
		d time.Duration
	}{
		{&o.ProbeInterval, resource.DefaultProbeInterval},
		{&o.ConsistencyWindow, DefaultConsistencyWindow},
		{&o.PurgeGrace, DefaultPurgeGrace},
		{&o.OrphanGrace, DefaultOrphanGrace},
		{&o.StaleLimit, DefaultStaleLimit},
		{&o.RetryDelay, DefaultRetryDelay},
	}
	if o.PeriodicExprInterval == 0 {
		o.PeriodicExprInterval = DefaultPeriodicExprInterval
	}
	for _, d := range durations {
		if *d.p <= 0 {
			*d.p = d.d
		}
	}
	if o.OrphanSweepInterval == 0 {
		o.OrphanSweepInterval = DefaultOrphanSweepInterval
	}
	ints := []struct {
		p *int
		d int
	}{
		{&o.ConsistencyPasses, DefaultConsistencyPasses},
		{&o.MaxSubmitted, resource.DefaultMaxSubmitted},
		{&o.MaxPending, resource.DefaultMaxPending},
		{&o.MaxOps, DefaultMaxOps},
		{&o.MaxStartOps, DefaultMaxStartOps},
	}
	for _, i := range ints {
		if *i.p <= 0 {
			*i.p = i.d
		}
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Crash == nil {
		o.Crash = func(string) {}
	}
	if o.Policy == nil {
		o.Policy = defaultPolicy()
	}
	if o.StatKeyFile == nil {
		o.StatKeyFile = os.Stat
	}
}

// Action is what a policy decision asks of the job.
type Action int

// The actions. Periodic gives None, Hold, Remove or Release; OnExit gives Hold, Complete
// or Requeue.
const (
	ActionNone     Action = iota
	ActionHold            // HoldReason = Reason, HoldReasonCode = Code, HoldReasonSubCode = SubCode
	ActionRemove          // RemoveReason = Reason
	ActionRelease         // ReleaseReason = Reason
	ActionComplete        // at exit: the job leaves the queue as Completed (on_exit_remove true)
	ActionRequeue         // at exit: on_exit_remove false, the job runs again
)

// Decision is one policy outcome: the action and, for a hold, its reason and codes.
type Decision struct {
	Action        Action
	Reason        string
	Code, SubCode int
}

// Policy evaluates a job's policy (classad-and-submit.md §4.5-§4.6).
//
// Periodic is periodic_hold / periodic_release / periodic_remove: ActionNone when nothing
// fires. OnExit is evaluated at completion on an ad with ExitCode 0 and ExitBySignal false:
// ActionHold when on_exit_hold fires, ActionComplete when the job leaves the queue
// (on_exit_remove true, the default), ActionRequeue when it stays queued to run again.
type Policy interface {
	Periodic(ad *classad.ClassAd, now time.Time) Decision
	OnExit(ad *classad.ClassAd, now time.Time) Decision
}
