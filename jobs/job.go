package jobs

import (
	"errors"
	"fmt"

	"github.com/ec2grid/ec2grid/classad"
)

// JobStatus codes, as HTCondor's proc.h numbers them (reference §4.1).
const (
	StatusIdle               = 1
	StatusRunning            = 2
	StatusRemoved            = 3
	StatusCompleted          = 4
	StatusHeld               = 5
	StatusTransferringOutput = 6
	StatusSuspended          = 7
	StatusFailed             = 8
	StatusBlocked            = 9
	StatusPreparing          = 10
)

// Hold reason codes used by the queue itself (reference §4.2).
const (
	HoldUserRequest = 1
	HoldJobPolicy   = 3
)

// Attribute names the queue reads and writes.
const (
	AttrClusterID            = "ClusterId"
	AttrProcID               = "ProcId"
	AttrJobStatus            = "JobStatus"
	AttrLastJobStatus        = "LastJobStatus"
	AttrOwner                = "Owner"
	AttrGridJobID            = "GridJobId"
	AttrGridResource         = "GridResource"
	AttrEnteredCurrentStatus = "EnteredCurrentStatus"
	AttrHoldReason           = "HoldReason"
	AttrHoldReasonCode       = "HoldReasonCode"
	AttrHoldReasonSubCode    = "HoldReasonSubCode"
	AttrLastHoldReason       = "LastHoldReason"
	AttrLastHoldReasonCode   = "LastHoldReasonCode"
	AttrLastHoldReasonSub    = "LastHoldReasonSubCode"
	AttrNumHolds             = "NumHolds"
	AttrNumHoldsByReason     = "NumHoldsByReason"
	AttrNumSystemHolds       = "NumSystemHolds"
	AttrJobStatusOnRelease   = "JobStatusOnRelease"
	AttrReleaseReason        = "ReleaseReason"
	AttrLastReleaseReason    = "LastReleaseReason"
	AttrRemoveReason         = "RemoveReason"
	AttrLastSuspensionTime   = "LastSuspensionTime"
)

// JobID names one job: cluster and proc.
type JobID struct {
	Cluster int64
	Proc    int64
}

// String prints the id as HTCondor does, "12.0".
func (id JobID) String() string { return fmt.Sprintf("%d.%d", id.Cluster, id.Proc) }

// Change is one attribute change: Expr set on Name, or Name deleted when Expr is nil.
type Change struct {
	Name string
	Expr classad.Expr
}

// SetInt returns the change binding name to the integer i.
func SetInt(name string, i int64) Change {
	return Change{Name: name, Expr: classad.Literal(classad.Int(i))}
}

// SetString returns the change binding name to the string s.
func SetString(name, s string) Change {
	return Change{Name: name, Expr: classad.Literal(classad.String(s))}
}

// Unset returns the change deleting name.
func Unset(name string) Change { return Change{Name: name} }

// Apply applies changes to ad in order.
func Apply(ad *classad.ClassAd, changes []Change) {
	for _, c := range changes {
		if c.Expr == nil {
			ad.Delete(c.Name)
		} else {
			ad.Set(c.Name, c.Expr)
		}
	}
}

func intAttr(ad *classad.ClassAd, name string) (int64, bool) {
	return ad.EvalAttr(name).IntValue()
}

func stringAttr(ad *classad.ClassAd, name string) string {
	s, _ := ad.EvalAttr(name).StringValue()
	return s
}

// ID returns the job's ClusterId and ProcId (zero when unset).
func ID(ad *classad.ClassAd) JobID {
	c, _ := intAttr(ad, AttrClusterID)
	p, _ := intAttr(ad, AttrProcID)
	return JobID{Cluster: c, Proc: p}
}

// ClusterID returns the job's ClusterId (0 when unset).
func ClusterID(ad *classad.ClassAd) int64 { return ID(ad).Cluster }

// ProcID returns the job's ProcId (0 when unset).
func ProcID(ad *classad.ClassAd) int64 { return ID(ad).Proc }

// Status returns the job's JobStatus (0 when unset).
func Status(ad *classad.ClassAd) int64 { s, _ := intAttr(ad, AttrJobStatus); return s }

// Owner returns the job's Owner ("" when unset).
func Owner(ad *classad.ClassAd) string { return stringAttr(ad, AttrOwner) }

// GridJobID returns the job's GridJobId ("" when unset).
func GridJobID(ad *classad.ClassAd) string { return stringAttr(ad, AttrGridJobID) }

// GridResource returns the job's GridResource ("" when unset).
func GridResource(ad *classad.ClassAd) string { return stringAttr(ad, AttrGridResource) }

// EnteredCurrentStatus returns the epoch second the job entered its status (0 when unset).
func EnteredCurrentStatus(ad *classad.ClassAd) int64 {
	t, _ := intAttr(ad, AttrEnteredCurrentStatus)
	return t
}

// HoldReasonCode returns the job's HoldReasonCode (0 when unset).
func HoldReasonCode(ad *classad.ClassAd) int64 { c, _ := intAttr(ad, AttrHoldReasonCode); return c }

// Errors of the transitions; callers print them as HTCondor's tools do.
var (
	ErrAlreadyHeld = errors.New("already held")
	ErrNotHeld     = errors.New("not held to be released")
	ErrNotHoldable = errors.New("job cannot be held in its status")
)

// holdLabels are HTCondor's enum names for hold codes, used as NumHoldsByReason labels.
var holdLabels = map[int64]string{
	0: "Unspecified", 1: "UserRequest", 2: "GlobusGramError", 3: "JobPolicy",
	4: "CorruptedCredential", 5: "JobPolicyUndefined", 15: "SubmittedOnHold",
	16: "SpoolingInput", 21: "StartdHeldJob", 26: "SystemPolicy",
	27: "SystemPolicyUndefined", 46: "JobDurationExceeded", 47: "JobExecuteExceeded",
}

// HoldLabel returns the NumHoldsByReason label of a hold code.
func HoldLabel(code int64) string {
	if l, ok := holdLabels[code]; ok {
		return l
	}
	return fmt.Sprintf("HoldCode%d", code)
}

// statusChange is what the qmgmt SetAttribute hook adds on every JobStatus change.
func statusChange(old, now int64, to int64) []Change {
	return []Change{
		SetInt(AttrJobStatus, to),
		SetInt(AttrLastJobStatus, old),
		SetInt(AttrEnteredCurrentStatus, now),
	}
}

// moveHoldReasons moves HoldReason* to LastHoldReason*, as release and remove do.
func moveHoldReasons(ad *classad.ClassAd) []Change {
	var cs []Change
	for _, p := range [][2]string{
		{AttrHoldReason, AttrLastHoldReason},
		{AttrHoldReasonCode, AttrLastHoldReasonCode},
		{AttrHoldReasonSubCode, AttrLastHoldReasonSub},
	} {
		if e, ok := ad.Lookup(p[0]); ok {
			cs = append(cs, Change{Name: p[1], Expr: e}, Unset(p[0]))
		}
	}
	return cs
}

// Hold returns the changes that hold the job (holdJobRaw, §4.4). A job is held from
// idle, running, or removed (then JobStatusOnRelease = 3 so release returns it to Removed).
// A held job may be held again only by a user hold over a non-user hold.
func Hold(ad *classad.ClassAd, reason string, code, subcode, now int64) ([]Change, error) {
	old := Status(ad)
	var cs []Change
	switch old {
	case StatusHeld:
		if code != HoldUserRequest || HoldReasonCode(ad) == HoldUserRequest {
			return nil, ErrAlreadyHeld
		}
	case StatusRemoved:
		cs = append(cs, SetInt(AttrJobStatusOnRelease, StatusRemoved))
	case StatusCompleted:
		return nil, ErrNotHoldable
	}
	cs = append(cs,
		SetString(AttrHoldReason, reason),
		SetInt(AttrHoldReasonCode, code),
		SetInt(AttrHoldReasonSubCode, subcode),
		SetInt(AttrLastSuspensionTime, 0),
	)
	if e, ok := ad.Lookup(AttrReleaseReason); ok {
		cs = append(cs, Change{Name: AttrLastReleaseReason, Expr: e}, Unset(AttrReleaseReason))
	}
	if old != StatusHeld {
		cs = append(cs, statusChange(old, now, StatusHeld)...)
	} else {
		// Overwriting a hold changes no status, but HTCondor still stamps the time.
		cs = append(cs, SetInt(AttrEnteredCurrentStatus, now))
	}
	n, _ := intAttr(ad, AttrNumHolds)
	cs = append(cs, SetInt(AttrNumHolds, n+1))
	byReason := classad.New()
	if nested, ok := ad.EvalAttr(AttrNumHoldsByReason).ClassAdValue(); ok && nested != nil {
		byReason = nested.Copy()
	}
	label := HoldLabel(code)
	k, _ := intAttr(byReason, label)
	byReason.SetInt(label, k+1)
	cs = append(cs, Change{Name: AttrNumHoldsByReason, Expr: classad.Literal(classad.AdValue(byReason))})
	if code != HoldUserRequest {
		s, _ := intAttr(ad, AttrNumSystemHolds)
		cs = append(cs, SetInt(AttrNumSystemHolds, s+1))
	}
	return cs, nil
}

// Release returns the changes that release a held job (releaseJobRaw, §4.4): back to
// JobStatusOnRelease (default idle), HoldReason* moved to LastHoldReason*.
func Release(ad *classad.ClassAd, reason string, now int64) ([]Change, error) {
	if Status(ad) != StatusHeld {
		return nil, ErrNotHeld
	}
	to, ok := intAttr(ad, AttrJobStatusOnRelease)
	if !ok {
		to = StatusIdle
	}
	cs := []Change{SetString(AttrReleaseReason, reason)}
	cs = append(cs, moveHoldReasons(ad)...)
	cs = append(cs, Unset(AttrJobStatusOnRelease))
	cs = append(cs, statusChange(StatusHeld, now, to)...)
	return cs, nil
}

// Remove returns the changes that remove a job (abortJobRaw, §4.4), from any status.
// The job stays in the queue, Removed, until its cleanup is done and Delete is called.
func Remove(ad *classad.ClassAd, reason string, now int64) ([]Change, error) {
	cs := []Change{SetString(AttrRemoveReason, reason)}
	cs = append(cs, moveHoldReasons(ad)...)
	cs = append(cs, Unset(AttrJobStatusOnRelease))
	cs = append(cs, statusChange(Status(ad), now, StatusRemoved)...)
	return cs, nil
}
