package gridmanager

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/gridmanager/resource"
	"github.com/ec2grid/ec2grid/jobs"
)

// Job attributes the grid manager reads and writes (htcondor-ec2.md §3.4, §5).
const (
	attrGlobalJobID        = "GlobalJobId"
	attrUserLog            = "UserLog"
	attrIwd                = "Iwd"
	attrJobUniverse        = "JobUniverse"
	attrAccessKey          = "EC2AccessKeyId"
	attrSecretKey          = "EC2SecretAccessKey"
	attrKeyPair            = "EC2KeyPair"
	attrKeyPairFile        = "EC2KeyPairFile"
	attrServerType         = "EC2ServerType"
	attrInstanceName       = "EC2InstanceName"
	attrRemoteVMName       = "EC2RemoteVirtualMachineName"
	attrStatusReasonCode   = "EC2StatusReasonCode"
	attrSpotPrice          = "EC2SpotPrice"
	attrSpotRequestID      = "EC2SpotRequestID"
	attrGridJobStatus      = "GridJobStatus"
	attrLastRemoteStatus   = "LastRemoteStatusUpdate"
	attrStatusUnknown      = "CurrentStatusUnknown"
	attrUnavailableTime    = "GridResourceUnavailableTime"
	attrAttached           = "EC2ResourcesAttached" // ours: the instance whose tags, address and volumes are done
	attrTagNames           = "EC2TagNames"
	attrElasticIP          = "EC2ElasticIp"
	attrVolumes            = "EC2ElasticBlockStorageVolumes"
	attrParamNames         = "EC2ParamNames"
	attrShadowBday         = "ShadowBday"
	attrJobStartDate       = "JobStartDate"
	attrJobCurrentStart    = "JobCurrentStartDate"
	attrJobLastStart       = "JobLastStartDate"
	attrJobCurrentStartExe = "JobCurrentStartExecutingDate"
	attrNumJobStarts       = "NumJobStarts"
	attrJobRunCount        = "JobRunCount"
	attrRemoteWallClock    = "RemoteWallClockTime"
	attrCompletionDate     = "CompletionDate"
	attrExitCode           = "ExitCode"
	attrExitBySignal       = "ExitBySignal"
)

// gridUniverse is JobUniverse for grid jobs.
const gridUniverse = 9

// Remote states the grid manager sets itself (§3, never returned by EC2).
const (
	remoteNotFound       = "not-found"
	remoteCancelling     = "cancelling"
	remoteCancellingSpot = "cancelling-spot"
)

// Server types whose behaviour differs (§3.7).
func clientTokenWorks(serverType string) bool {
	return serverType == "Amazon" || serverType == "Nimbus"
}
func shuttingDownTrusted(serverType string) bool { return serverType == "Amazon" }

// job is the grid manager's state of one job: what the state machine needs between
// events, nothing of the ad it can read again. It is owned by the event loop; an op
// reads it only through the values captured when the op was launched.
type job struct {
	id     jobs.JobID
	rs     *resState // nil when the ad cannot name a resource (setupErr is set)
	state  state
	status int64 // JobStatus as last seen

	token, instanceID, spotReqID string
	keyPair, keyFile             string
	serverType                   string // the type recorded with the token (EC2ServerType)
	ownKey                       bool   // the keypair is ours to create and destroy
	spot                         bool

	remote  remoteStatus
	changed bool // remote status changed since the state machine last looked

	executeLogged, heldLogged, submitLogged bool
	attached, completion, maybeStarted      bool
	keyMaybeCreated, stale                  bool

	tries     int       // attempts of the current command (cancel, keypair, attach)
	starts    int       // starts whose outcome was lost, since the last confirmed one
	since     time.Time // when the current wait began (cancel sent, seek begun)
	passes    int       // status passes begun after since
	startedAt time.Time // start of the instance as far as we know (for PurgeGrace)
	lastSeen  time.Time // last status for the instance (for StaleLimit)
	wakeAt    time.Time
	armed     time.Time // the wake time pushed on the heap
	mark      uint32    // the pass that last listed this job's instance
	spotMark  uint32    // the pass that last listed its spot request

	busy   bool
	queued func(context.Context) *result // an op waiting for a pool slot
	pool   *opPool
	gen    uint32
	cancel context.CancelFunc // cancels an op that may be abandoned (a submit-slot wait)
	res    *result

	release  func() // the submit slot, while held
	setupErr *hold  // the ad cannot be managed: hold with this
	x        *extra // rarely needed state, nil most of the time
	logs     []logKind
}

// extra holds state only a few jobs need at a time.
type extra struct {
	hold       *hold
	lastErr    string
	attachStep int
	spotInst   string
	purged     int
	verdict    *Decision // a policy decision waiting to be applied
	// retired are the instances of the job's earlier submissions (forgotten at a hold or
	// requeue): ended, and carrying the job's keypair name, they are never a lost start's.
	retired []string
	// keyReplaced counts the job's keypair replacements (stReplaceKeyPair) since a create
	// last left the key file in place; bounded by maxKeypairReplacements. keyErr is the
	// last answer that called for one (or failed one), for the hold's reason.
	keyReplaced int
	keyErr      string
	// finishing is the JobStatus the finish op in flight acts on (moves to the history or
	// leaves queued); a status that changes meanwhile needs another finish.
	finishing int64
}

func (j *job) ext() *extra {
	if j.x == nil {
		j.x = &extra{}
	}
	return j.x
}

// remoteStatus is the cloud's last word on the job's instance (or spot request).
type remoteStatus struct {
	state, reason, dns string
}

// take returns the result of the job's last op, once.
func (j *job) take() *result {
	r := j.res
	j.res = nil
	return r
}

func (j *job) gone() bool { return gone(j.status) }

func (j *job) gridJobID() GridJobID {
	return GridJobID{URL: j.rs.key.URL, Token: j.token, InstanceID: j.instanceID}
}

// result is what an op hands back to the loop.
type result struct {
	fields []string // the gahp's result fields, for cloud calls
	err    error
	apply  func(j *job) // run in the loop before the state function sees the result
	house  bool         // a housekeeping op's: applied, never seen by a state function
	// stale: the op wrote nothing, because the job's status changed after the state
	// decided (see raced); the state decides again from the status apply set.
	stale bool
	// keyLost: EC2_VM_CREATE_KEYPAIR answered that the keypair exists and the job's key
	// file does not: the keypair's private key was lost (see stReplaceKeyPair).
	keyLost bool
}

func (r *result) ok() bool { return r.err == nil && len(r.fields) > 0 && r.fields[0] == "0" }

// failureText is the gahp failure code and message together, for matching AWS codes.
func (r *result) failureText() string {
	if r.err != nil {
		return r.err.Error()
	}
	return strings.Join(r.fields, " ")
}

func (r *result) errorString() string {
	if r.err != nil {
		return r.err.Error()
	}
	return errorString(r.fields)
}

func (r *result) code() string {
	if r.err == nil && len(r.fields) >= 2 && r.fields[0] != "0" {
		return r.fields[1]
	}
	return ""
}

// lost reports a start whose outcome is unknown: NEED_CHECK_VM_START or a gahp lost with
// the start in flight.
func (r *result) lost() bool {
	return errors.Is(r.err, resource.ErrLost) || r.code() == "NEED_CHECK_VM_START"
}

func (r *result) cancelled() bool { return errors.Is(r.err, errOpCancelled) }

var errOpCancelled = errors.New("abandoned: the job was removed or held while waiting")

// newJob builds a job from its ad. A job whose ad cannot be managed gets setupErr.
func (m *Manager) newJob(ad *classad.ClassAd) *job {
	j := &job{id: jobs.ID(ad), status: jobs.Status(ad)}
	str := func(n string) string { s, _ := ad.EvalAttr(n).StringValue(); return s }
	j.keyPair, j.keyFile = str(attrKeyPair), str(attrKeyPairFile)
	j.spot = str(attrSpotPrice) != ""
	j.spotReqID = str(attrSpotRequestID)
	j.serverType = str(attrServerType)
	j.remote.state = str(attrGridJobStatus)
	j.remote.dns = str(attrRemoteVMName)
	j.remote.reason = str(attrStatusReasonCode)
	j.ownKey = j.keyFile != "" || (j.keyPair != "" && j.keyPair == m.keyPairName(ad))
	// The keypair's name is committed with the token, before any create; whether a
	// cleanup already destroyed it is not in the ad (a hold's ClearRequest forgets the
	// GridJobId first, and a crash may cut the cleanup short), so after a restart it is
	// destroyed, and the key file removed, again: both are idempotent.
	j.keyMaybeCreated = j.ownKey && j.keyPair != ""
	j.executeLogged = j.status == jobs.StatusRunning || j.status == jobs.StatusCompleted
	j.heldLogged = j.status == jobs.StatusHeld
	fail := func(h hold) *job { j.setupErr = &h; return j }
	url, err := ParseGridResource(jobs.GridResource(ad))
	if err != nil {
		return fail(err.(hold))
	}
	if gid := jobs.GridJobID(ad); gid != "" {
		g, err := ParseGridJobID(gid)
		if err != nil {
			return fail(holdBadGridJobID)
		}
		j.token, j.instanceID = g.Token, g.InstanceID
		j.submitLogged = j.instanceID != ""
		j.attached = j.instanceID != "" && str(attrAttached) == j.instanceID
	}
	key := resource.Key{Owner: jobs.Owner(ad), URL: url, AccessKeyFile: str(attrAccessKey), SecretKeyFile: str(attrSecretKey)}
	switch {
	case key.AccessKeyFile == "":
		return fail(holdNoPublicKey)
	case key.SecretKeyFile == "":
		return fail(holdNoPrivateKey)
	case m.opts.NewCloud == nil && m.opts.GahpPath == "":
		return fail(holdNoGahp)
	}
	j.rs = m.resourceFor(key, jobs.GridResource(ad))
	return j
}

// isGridJob says whether the grid manager manages the ad: a grid-universe job, or any
// job naming a GridResource.
func isGridJob(ad *classad.ClassAd) bool {
	if u, ok := ad.EvalAttr(attrJobUniverse).IntValue(); ok {
		return u == gridUniverse
	}
	return jobs.GridResource(ad) != ""
}

// keyPairName is the per-job keypair name the grid manager generates: HTCondor's
// "SSH_<pool>_<GlobalJobId>" with the queue id as the pool, every character outside
// [A-Za-z0-9_-] written '_' (HTCondor writes a blank; blanks need escaping on every wire).
func (m *Manager) keyPairName(ad *classad.ClassAd) string {
	gj, _ := ad.EvalAttr(attrGlobalJobID).StringValue()
	if gj == "" {
		gj = jobs.ID(ad).String()
	}
	pool := m.opts.QueueID
	if pool == "" {
		pool = "NoPool"
	}
	b := []byte("SSH_" + pool + "_" + gj)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}
