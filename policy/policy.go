package policy

import (
	"fmt"
	"time"

	"github.com/ec2grid/ec2grid/classad"
)

// Action is what a policy evaluation tells the grid manager to do with a job.
type Action int

const (
	// None: nothing fired; the job stays as it is.
	None Action = iota
	// Hold the job: HoldReason = Reason, HoldReasonCode = Code, HoldReasonSubCode = SubCode.
	Hold
	// Remove the job (periodic_remove or an expired TimerRemove): RemoveReason = Reason.
	Remove
	// Release the held job: ReleaseReason = Reason. HTCondor's gridmanager leaves this to
	// the schedd; in ec2grid the daemon is both, so it releases.
	Release
	// Vacate: PeriodicVacate fired for a running job. HTCondor's gridmanager ignores it
	// (a grid job cannot be vacated), but it still ends the pass: no later rule is tried.
	Vacate
	// Complete (at exit only): the job leaves the queue as COMPLETED.
	Complete
	// Requeue (at exit only): on_exit_remove was false, so the job stays in the queue
	// and runs again.
	Requeue
)

// String names the action as the documentation does.
func (a Action) String() string {
	switch a {
	case None:
		return "none"
	case Hold:
		return "hold"
	case Remove:
		return "remove"
	case Release:
		return "release"
	case Vacate:
		return "vacate"
	case Complete:
		return "complete"
	case Requeue:
		return "requeue"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Decision is the outcome of one evaluation. For None everything else is zero. Otherwise
// Attr names the rule that decided ("PeriodicHold", "TimerRemove", "AllowedJobDuration",
// "OnExitRemove", ...) and Reason, Code and SubCode are what HTCondor's
// UserPolicy::FiringReason gives: the hold reason for Hold, the remove or release reason
// for Remove and Release (their Code is also set, as HTCondor's is, but nothing uses it).
type Decision struct {
	Action  Action
	Reason  string
	Code    int64 // HoldReasonCode
	SubCode int64 // HoldReasonSubCode
	Attr    string
}

// Hold reason codes a policy gives (condor_holdcodes.h, reference §4.2).
const (
	CodeUserRequest         = 1  // condor_hold: periodic_release ignores such jobs
	CodeJobPolicy           = 3  // a job attribute's expression fired
	CodeJobPolicyUndefined  = 5  // TimerRemove is set but is not an integer
	CodeJobDurationExceeded = 46 // AllowedJobDuration
	CodeJobExecuteExceeded  = 47 // AllowedExecuteDuration
)

// The job attributes the policy reads (condor_attributes.h).
const (
	AttrPeriodicHold           = "PeriodicHold"
	AttrPeriodicRelease        = "PeriodicRelease"
	AttrPeriodicRemove         = "PeriodicRemove"
	AttrPeriodicVacate         = "PeriodicVacate"
	AttrOnExitHold             = "OnExitHold"
	AttrOnExitRemove           = "OnExitRemove"
	AttrTimerRemove            = "TimerRemove"
	AttrAllowedJobDuration     = "AllowedJobDuration"
	AttrAllowedExecuteDuration = "AllowedExecuteDuration"
	AttrJobStatus              = "JobStatus"
	AttrHoldReasonCode         = "HoldReasonCode"
	AttrShadowBday             = "ShadowBday"
	AttrStartExecutingDate     = "JobCurrentStartExecutingDate"
	AttrTransferOutFinished    = "TransferOutFinished"
	AttrExitBySignal           = "ExitBySignal"
	AttrExitCode               = "ExitCode"
	AttrExitSignal             = "ExitSignal"
)

// JobStatus values the rules depend on (proc.h; jobs.Status* are the same numbers).
const (
	statusRunning   = 2
	statusRemoved   = 3
	statusCompleted = 4
	statusHeld      = 5
	statusSuspended = 7
)

// keys are the lower-case names of the plain attributes read on every pass.
const (
	keyJobStatus          = "jobstatus"
	keyHoldReasonCode     = "holdreasoncode"
	keyTimerRemove        = "timerremove"
	keyAllowedJobDuration = "allowedjobduration"
	keyAllowedExecute     = "allowedexecuteduration"
	keyShadowBday         = "shadowbday"
	keyStartExecuting     = "jobcurrentstartexecutingdate"
	keyTransferOut        = "transferoutfinished"
	keyExitBySignal       = "exitbysignal"
	keyExitCode           = "exitcode"
	keyExitSignal         = "exitsignal"
	keyPeriodicHold       = "periodichold"
	keyPeriodicRelease    = "periodicrelease"
	keyPeriodicRemove     = "periodicremove"
	keyPeriodicVacate     = "periodicvacate"
	keyOnExitHold         = "onexithold"
	keyOnExitRemove       = "onexitremove"
)

// Periodic evaluates the periodic policy of a job as the gridmanager does every
// PERIODIC_EXPR_INTERVAL (AnalyzePolicy in PERIODIC_ONLY mode), with now as the time
// time() and the duration rules see. The first rule that fires decides:
//
//  1. REMOVED: nothing.
//  2. RUNNING or SUSPENDED: AllowedJobDuration (hold 46), AllowedExecuteDuration (hold
//     47), PeriodicVacate (Vacate).
//  3. TimerRemove: an integer >= 0 before now removes; set but not an integer holds (5).
//  4. PeriodicHold, unless HELD or COMPLETED (hold 3, PeriodicHoldReason/SubCode).
//  5. PeriodicRelease, only when HELD and not by condor_hold (HoldReasonCode != 1).
//  6. PeriodicRemove, in any status.
//
// An expression fires when it evaluates to a nonzero number (true, 1, 2.5); UNDEFINED,
// ERROR and strings never fire. The ad is only read, so Periodic may run alongside
// other readers. HTCondor's gridmanager adds the current run to RemoteWallClockTime
// before evaluating (BaseJob::UpdateJobTime); a caller wanting that sets it first.
func Periodic(ad *classad.ClassAd, now time.Time) Decision {
	return NewEvaluator(now).Periodic(ad)
}

// Evaluator evaluates many jobs at one instant, as one periodic pass over the queue
// does: every job sees the same now, and a job whose rules do not fire costs no
// allocation. It holds nothing else, so one Evaluator may serve several goroutines.
type Evaluator struct {
	now   time.Time
	clock func() time.Time
}

// NewEvaluator returns an Evaluator whose time() and duration rules see now.
func NewEvaluator(now time.Time) *Evaluator {
	return &Evaluator{now: now, clock: func() time.Time { return now }}
}

// Periodic is the package's Periodic at the Evaluator's time.
func (ev *Evaluator) Periodic(ad *classad.ClassAd) Decision {
	p := ev.pass(ad)
	d, _ := p.periodic(false)
	return d
}

// OnExit evaluates the policy of a job whose instance has ended (AnalyzePolicy in
// PERIODIC_THEN_EXIT mode, as BaseJob::EvalOnExitJobExpr calls it): first the periodic
// rules, then OnExitHold (hold 3, OnExitHoldReason/SubCode), then OnExitRemove, where
// only a value that is a number equal to 0 (false) keeps the job (Requeue); absent,
// UNDEFINED or anything else completes it. A periodic rule that would remove the job
// completes it instead, as in HTCondor's gridmanager, which calls JobCompleted for any
// REMOVE_FROM_QUEUE at exit.
//
// The caller sets ExitBySignal and ExitCode (or ExitSignal) first. When it has neither
// code, OnExit evaluates as if the job exited normally with code 0 (ExitBySignal =
// false, ExitCode = 0), on a copy, as the gridmanager fakes them when the cloud reports
// none. A job already HELD, COMPLETED or REMOVED gets None: BaseJob::JobTerminated
// evaluates nothing for those.
func OnExit(ad *classad.ClassAd, now time.Time) Decision {
	return NewEvaluator(now).OnExit(ad)
}

// OnExit is the package's OnExit at the Evaluator's time.
func (ev *Evaluator) OnExit(ad *classad.ClassAd) Decision {
	status, ok := intAttr(ad, keyJobStatus)
	if !ok || status == statusHeld || status == statusCompleted || status == statusRemoved {
		return Decision{}
	}
	_, hasCode := intAttr(ad, keyExitCode)
	_, hasSignal := intAttr(ad, keyExitSignal)
	_, hasBySignal := ad.Lookup(keyExitBySignal)
	if !hasCode && !hasSignal || !hasBySignal {
		ad = ad.Copy()
		if !hasCode && !hasSignal {
			ad.SetInt(AttrExitCode, 0)
			ad.SetBool(AttrExitBySignal, false)
		} else {
			// HTCondor's AnalyzePolicy gives up (UNDEFINED_EVAL) without
			// ExitBySignal, which holds the job with a meaningless reason;
			// a code without it is a normal exit.
			ad.SetBool(AttrExitBySignal, hasSignal && !hasCode)
		}
	}
	p := ev.pass(ad)
	if d, decided := p.periodic(true); decided {
		if d.Action == Remove {
			d.Action = Complete
		}
		return d
	}
	if d, fired := p.fires(keyOnExitHold, AttrOnExitHold, Hold); fired {
		return d
	}
	e, ok := ad.Lookup(keyOnExitRemove)
	if !ok {
		return Decision{Action: Complete, Attr: AttrOnExitRemove, Code: CodeJobPolicy,
			Reason: firingReason(AttrOnExitRemove, "true", "TRUE")}
	}
	if i, isNum := p.c.Eval(e).NumberAsInt(); isNum && i == 0 {
		return Decision{Action: Requeue, Attr: AttrOnExitRemove, Code: CodeJobPolicy,
			Reason: firingReason(AttrOnExitRemove, classad.Unparse(e), "FALSE")}
	}
	return Decision{Action: Complete, Attr: AttrOnExitRemove, Code: CodeJobPolicy,
		Reason: firingReason(AttrOnExitRemove, classad.Unparse(e), "TRUE")}
}

// pass is one evaluation of one job. It lives on the caller's stack.
type pass struct {
	ad  *classad.ClassAd
	now time.Time
	c   classad.Context
}

func (ev *Evaluator) pass(ad *classad.ClassAd) pass {
	return pass{ad: ad, now: ev.now, c: classad.Context{My: ad, Now: ev.clock}}
}

// periodic runs rules 1-6; decided is false when none fired (and, at exit, the exit
// rules are next).
func (p *pass) periodic(atExit bool) (d Decision, decided bool) {
	status, ok := p.int(keyJobStatus)
	if !ok || status == statusRemoved {
		// Without JobStatus HTCondor's AnalyzePolicy returns UNDEFINED_EVAL with no
		// rule named; the gridmanager never meets it, since it passes its own state.
		return Decision{}, true
	}
	if status == statusRunning || status == statusSuspended {
		if d, fired := p.durations(); fired {
			return d, true
		}
		if !atExit {
			if d, fired := p.fires(keyPeriodicVacate, AttrPeriodicVacate, Vacate); fired {
				return d, true
			}
		}
	}
	if e, ok := p.ad.Lookup(keyTimerRemove); ok {
		t, isInt := p.c.Eval(e).IntValue()
		switch {
		case !isInt:
			return Decision{Action: Hold, Attr: AttrTimerRemove, Code: CodeJobPolicyUndefined,
				Reason: firingReason(AttrTimerRemove, classad.Unparse(e), "UNDEFINED")}, true
		case t >= 0 && t < p.now.Unix():
			return Decision{Action: Remove, Attr: AttrTimerRemove, Code: CodeJobPolicy,
				Reason: firingReason(AttrTimerRemove, classad.Unparse(e), "TRUE")}, true
		}
	}
	if status != statusHeld && status != statusCompleted {
		if d, fired := p.fires(keyPeriodicHold, AttrPeriodicHold, Hold); fired {
			return d, true
		}
	}
	if status == statusHeld {
		if code, _ := p.int(keyHoldReasonCode); code != CodeUserRequest {
			if d, fired := p.fires(keyPeriodicRelease, AttrPeriodicRelease, Release); fired {
				return d, true
			}
		}
	}
	if d, fired := p.fires(keyPeriodicRemove, AttrPeriodicRemove, Remove); fired {
		return d, true
	}
	return Decision{}, false
}

// durations applies AllowedJobDuration and AllowedExecuteDuration to a running job.
func (p *pass) durations() (Decision, bool) {
	// The limits are looked up first: most jobs have none, and each lookup in a queue
	// of 100,000 ads is a cache miss.
	now := p.now.Unix()
	if allowed, ok := p.int(keyAllowedJobDuration); ok {
		if bday, ok := p.int(keyShadowBday); ok && now-bday >= allowed {
			return Decision{Action: Hold, Attr: AttrAllowedJobDuration, Code: CodeJobDurationExceeded,
				Reason: "The job exceeded allowed job duration of " + formatTimeShort(allowed)}, true
		}
	}
	allowed, ok := p.int(keyAllowedExecute)
	if !ok {
		return Decision{}, false
	}
	began, hasBegan := p.int(keyStartExecuting)
	bday, hasBday := p.int(keyShadowBday)
	// An execution start older than the current run is left over from an earlier one.
	// The gridmanager sets both to the same second, so for grid jobs this never fires;
	// HTCondor's does not either.
	if !hasBegan || !hasBday || began <= bday {
		return Decision{}, false
	}
	if tof, ok := p.int(keyTransferOut); ok && tof > began {
		began = tof // output transferred since: a checkpoint restarts the clock
	}
	if now-began > allowed {
		return Decision{Action: Hold, Attr: AttrAllowedExecuteDuration, Code: CodeJobExecuteExceeded,
			Reason: "The job exceeded allowed execute duration of " + formatTimeShort(allowed)}, true
	}
	return Decision{}, false
}

// fires evaluates the job attribute (lower-case key, proper name) and, when it is a
// nonzero number, returns action with HTCondor's reason: <name>Reason when that is a
// non-empty string, else the standard text; the subcode from <name>SubCode.
func (p *pass) fires(key, name string, action Action) (Decision, bool) {
	// Evaluating by name reads a constant from the binding itself, where evaluating the
	// looked-up expression would follow one more pointer; the expression is only
	// needed, for the reason's text, when it fires. An absent attribute is UNDEFINED.
	if !p.c.EvalAttr(key).IsTrue() {
		return Decision{}, false
	}
	e, _ := p.ad.Lookup(key)
	d := Decision{Action: action, Attr: name, Code: CodeJobPolicy}
	if sub, ok := p.c.EvalAttr(name + "SubCode").NumberAsInt(); ok {
		d.SubCode = sub
	}
	if r, ok := p.c.EvalAttr(name + "Reason").StringValue(); ok && r != "" {
		d.Reason = r
	} else {
		d.Reason = firingReason(name, classad.Unparse(e), "TRUE")
	}
	return d, true
}

// firingReason is UserPolicy::FiringReason's text for a job attribute.
func firingReason(attr, expr, value string) string {
	return "The job attribute " + attr + " expression '" + expr + "' evaluated to " + value
}

// int evaluates key as HTCondor's LookupInteger does: only an integer counts.
func (p *pass) int(key string) (int64, bool) {
	return p.c.EvalAttr(key).IntValue()
}

// intAttr is int for an ad outside a pass.
func intAttr(ad *classad.ClassAd, key string) (int64, bool) {
	return ad.EvalAttr(key).IntValue()
}

// formatTimeShort prints seconds as HTCondor's format_time_short: "ddd+hh:mm:ss" with
// leading zeros, blanks and '+' dropped up to the first significant digit, and never
// less than "mm:ss" ("00:30", "10:00", "1:00:00", "1+01:01:01"); "[?????]" when negative.
func formatTimeShort(secs int64) string {
	if secs < 0 {
		return "[?????]"
	}
	full := fmt.Sprintf("%3d+%02d:%02d:%02d", secs/86400, secs%86400/3600, secs%3600/60, secs%60)
	i := 0
	for i < len(full) {
		c := full[i]
		if c != ' ' && c != '0' && c != '+' {
			if c == ':' {
				i++
			}
			break
		}
		i++
	}
	return full[i:]
}
