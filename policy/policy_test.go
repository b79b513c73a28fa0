package policy

import (
	"fmt"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/jobs"
)

// now is the clock of every test: expressions' time() and the duration rules see it.
var testNow = time.Unix(1_700_000_000, 0)

// ad parses "[ ... ]" body text; tests write attributes with testNow-relative times
// through fmt verbs.
func ad(t *testing.T, body string, args ...any) *classad.ClassAd {
	t.Helper()
	a, err := classad.ParseAd("[ " + fmt.Sprintf(body, args...) + " ]")
	if err != nil {
		t.Fatalf("ad %q: %v", body, err)
	}
	return a
}

// reason is UserPolicy::FiringReason's text, written out in full in each row below
// rather than computed, so a change to the format fails the tests.
const (
	now = 1_700_000_000
)

// TestPeriodic covers each rule of reference §4.5 (order) and §4.6 (what fires, the
// texts and codes), one row each.
func TestPeriodic(t *testing.T) {
	tests := []struct {
		name string
		ad   string
		want Decision
	}{
		// §4.5 step 1: REMOVED jobs have no policy.
		{"removed: nothing, even PeriodicRemove", "JobStatus = 3; PeriodicRemove = true; PeriodicHold = true", Decision{}},
		{"no policy attributes", "JobStatus = 1", Decision{}},
		{"condor_submit's defaults", "JobStatus = 2; PeriodicHold = false; PeriodicRelease = false; PeriodicRemove = false; PeriodicVacate = false; OnExitHold = false; OnExitRemove = true", Decision{}},

		// Step 2: running or suspended only.
		{"AllowedJobDuration reached", fmt.Sprintf("JobStatus = 2; ShadowBday = %d; AllowedJobDuration = 3600", now-3600),
			Decision{Action: Hold, Attr: "AllowedJobDuration", Code: 46, Reason: "The job exceeded allowed job duration of 1:00:00"}},
		{"AllowedJobDuration while suspended", fmt.Sprintf("JobStatus = 7; ShadowBday = %d; AllowedJobDuration = 90", now-100),
			Decision{Action: Hold, Attr: "AllowedJobDuration", Code: 46, Reason: "The job exceeded allowed job duration of 01:30"}},
		{"AllowedJobDuration not yet", fmt.Sprintf("JobStatus = 2; ShadowBday = %d; AllowedJobDuration = 3600", now-3599), Decision{}},
		{"AllowedJobDuration ignored when idle", fmt.Sprintf("JobStatus = 1; ShadowBday = %d; AllowedJobDuration = 60", now-3600), Decision{}},
		{"AllowedJobDuration without ShadowBday", "JobStatus = 2; AllowedJobDuration = 60", Decision{}},
		{"AllowedJobDuration before PeriodicHold", fmt.Sprintf("JobStatus = 2; ShadowBday = %d; AllowedJobDuration = 10; PeriodicHold = true", now-10),
			Decision{Action: Hold, Attr: "AllowedJobDuration", Code: 46, Reason: "The job exceeded allowed job duration of 00:10"}},
		{"AllowedExecuteDuration exceeded", fmt.Sprintf("JobStatus = 2; ShadowBday = %d; JobCurrentStartExecutingDate = %d; AllowedExecuteDuration = 86400", now-90000, now-86401),
			Decision{Action: Hold, Attr: "AllowedExecuteDuration", Code: 47, Reason: "The job exceeded allowed execute duration of 1+00:00:00"}},
		{"AllowedExecuteDuration exactly reached: not yet", fmt.Sprintf("JobStatus = 2; ShadowBday = %d; JobCurrentStartExecutingDate = %d; AllowedExecuteDuration = 60", now-100, now-60), Decision{}},
		{"AllowedExecuteDuration: execution start from an earlier run", fmt.Sprintf("JobStatus = 2; ShadowBday = %d; JobCurrentStartExecutingDate = %d; AllowedExecuteDuration = 60", now-100, now-100), Decision{}},
		{"AllowedExecuteDuration: restarted by output transfer", fmt.Sprintf("JobStatus = 2; ShadowBday = %d; JobCurrentStartExecutingDate = %d; TransferOutFinished = %d; AllowedExecuteDuration = 60", now-1000, now-900, now-30), Decision{}},
		{"PeriodicVacate on a running job ends the pass", "JobStatus = 2; PeriodicVacate = true; PeriodicHold = true",
			Decision{Action: Vacate, Attr: "PeriodicVacate", Code: 3, Reason: "The job attribute PeriodicVacate expression 'true' evaluated to TRUE"}},
		{"PeriodicVacate ignored when idle", "JobStatus = 1; PeriodicVacate = true", Decision{}},

		// Step 3: TimerRemove.
		{"TimerRemove passed", fmt.Sprintf("JobStatus = 1; TimerRemove = %d", now-1),
			Decision{Action: Remove, Attr: "TimerRemove", Code: 3, Reason: fmt.Sprintf("The job attribute TimerRemove expression '%d' evaluated to TRUE", now-1)}},
		{"TimerRemove as an expression", fmt.Sprintf("JobStatus = 5; QDate = %d; TimerRemove = QDate + 60", now-61),
			Decision{Action: Remove, Attr: "TimerRemove", Code: 3, Reason: "The job attribute TimerRemove expression 'QDate + 60' evaluated to TRUE"}},
		{"TimerRemove now: not yet", fmt.Sprintf("JobStatus = 1; TimerRemove = %d", now), Decision{}},
		{"TimerRemove -1: never", "JobStatus = 1; TimerRemove = -1", Decision{}},
		{"TimerRemove not an integer: hold 5", "JobStatus = 1; TimerRemove = NoSuchAttr",
			Decision{Action: Hold, Attr: "TimerRemove", Code: 5, Reason: "The job attribute TimerRemove expression 'NoSuchAttr' evaluated to UNDEFINED"}},
		{"TimerRemove a real: hold 5", "JobStatus = 1; TimerRemove = 1.5",
			Decision{Action: Hold, Attr: "TimerRemove", Code: 5, Reason: "The job attribute TimerRemove expression '1.5' evaluated to UNDEFINED"}},
		{"TimerRemove before PeriodicHold", fmt.Sprintf("JobStatus = 1; TimerRemove = %d; PeriodicHold = true", now-1),
			Decision{Action: Remove, Attr: "TimerRemove", Code: 3, Reason: fmt.Sprintf("The job attribute TimerRemove expression '%d' evaluated to TRUE", now-1)}},

		// Step 4: PeriodicHold unless HELD or COMPLETED.
		{"PeriodicHold idle", "JobStatus = 1; PeriodicHold = true",
			Decision{Action: Hold, Attr: "PeriodicHold", Code: 3, Reason: "The job attribute PeriodicHold expression 'true' evaluated to TRUE"}},
		{"PeriodicHold running", "JobStatus = 2; NumJobStarts = 3; PeriodicHold = NumJobStarts > 2",
			Decision{Action: Hold, Attr: "PeriodicHold", Code: 3, Reason: "The job attribute PeriodicHold expression 'NumJobStarts > 2' evaluated to TRUE"}},
		{"PeriodicHold suspended", "JobStatus = 7; PeriodicHold = 1",
			Decision{Action: Hold, Attr: "PeriodicHold", Code: 3, Reason: "The job attribute PeriodicHold expression '1' evaluated to TRUE"}},
		{"PeriodicHold transferring output", "JobStatus = 6; PeriodicHold = true",
			Decision{Action: Hold, Attr: "PeriodicHold", Code: 3, Reason: "The job attribute PeriodicHold expression 'true' evaluated to TRUE"}},
		{"PeriodicHold not for held", "JobStatus = 5; HoldReasonCode = 3; PeriodicHold = true", Decision{}},
		{"PeriodicHold not for completed", "JobStatus = 4; PeriodicHold = true", Decision{}},
		{"PeriodicHoldReason and SubCode", `JobStatus = 1; PeriodicHold = true; PeriodicHoldReason = strcat("too slow: ", Owner); Owner = "alice"; PeriodicHoldSubCode = 42`,
			Decision{Action: Hold, Attr: "PeriodicHold", Code: 3, SubCode: 42, Reason: "too slow: alice"}},
		{"empty PeriodicHoldReason: the standard text", `JobStatus = 1; PeriodicHold = true; PeriodicHoldReason = ""`,
			Decision{Action: Hold, Attr: "PeriodicHold", Code: 3, Reason: "The job attribute PeriodicHold expression 'true' evaluated to TRUE"}},
		{"non-string PeriodicHoldReason: the standard text", `JobStatus = 1; PeriodicHold = true; PeriodicHoldReason = 7; PeriodicHoldSubCode = "x"`,
			Decision{Action: Hold, Attr: "PeriodicHold", Code: 3, Reason: "The job attribute PeriodicHold expression 'true' evaluated to TRUE"}},
		{"real PeriodicHoldSubCode truncates", `JobStatus = 1; PeriodicHold = true; PeriodicHoldSubCode = 7.9`,
			Decision{Action: Hold, Attr: "PeriodicHold", Code: 3, SubCode: 7, Reason: "The job attribute PeriodicHold expression 'true' evaluated to TRUE"}},

		// §4.6: what fires.
		{"nonzero int fires", "JobStatus = 1; PeriodicHold = 2",
			Decision{Action: Hold, Attr: "PeriodicHold", Code: 3, Reason: "The job attribute PeriodicHold expression '2' evaluated to TRUE"}},
		{"real truncating to nonzero fires", "JobStatus = 1; PeriodicHold = 1.5",
			Decision{Action: Hold, Attr: "PeriodicHold", Code: 3, Reason: "The job attribute PeriodicHold expression '1.5' evaluated to TRUE"}},
		{"real truncating to zero does not", "JobStatus = 1; PeriodicHold = 0.5", Decision{}},
		{"UNDEFINED does not fire", "JobStatus = 1; PeriodicHold = NoSuchAttr > 5", Decision{}},
		{"literal undefined does not fire", "JobStatus = 1; PeriodicHold = undefined", Decision{}},
		{"ERROR does not fire", `JobStatus = 1; PeriodicHold = "a" + 1`, Decision{}},
		{"a string does not fire", `JobStatus = 1; PeriodicHold = "true"`, Decision{}},
		{"false does not fire", "JobStatus = 1; PeriodicHold = false", Decision{}},
		{"names are case-insensitive", "jobstatus = 1; periodichold = TRUE",
			Decision{Action: Hold, Attr: "PeriodicHold", Code: 3, Reason: "The job attribute PeriodicHold expression 'true' evaluated to TRUE"}},

		// Step 5: PeriodicRelease.
		{"PeriodicRelease of a policy hold", fmt.Sprintf("JobStatus = 5; HoldReasonCode = 3; EnteredCurrentStatus = %d; PeriodicRelease = (time() - EnteredCurrentStatus) > 300", now-301),
			Decision{Action: Release, Attr: "PeriodicRelease", Code: 3, Reason: "The job attribute PeriodicRelease expression '(time() - EnteredCurrentStatus) > 300' evaluated to TRUE"}},
		{"PeriodicReleaseReason", `JobStatus = 5; HoldReasonCode = 39; PeriodicRelease = true; PeriodicReleaseReason = "retrying"`,
			Decision{Action: Release, Attr: "PeriodicRelease", Code: 3, Reason: "retrying"}},
		{"PeriodicRelease without HoldReasonCode", "JobStatus = 5; PeriodicRelease = true",
			Decision{Action: Release, Attr: "PeriodicRelease", Code: 3, Reason: "The job attribute PeriodicRelease expression 'true' evaluated to TRUE"}},
		{"PeriodicRelease ignores condor_hold", "JobStatus = 5; HoldReasonCode = 1; PeriodicRelease = true", Decision{}},
		{"PeriodicRelease only when held", "JobStatus = 1; PeriodicRelease = true", Decision{}},
		{"PeriodicRelease before PeriodicRemove", "JobStatus = 5; HoldReasonCode = 3; PeriodicRelease = true; PeriodicRemove = true",
			Decision{Action: Release, Attr: "PeriodicRelease", Code: 3, Reason: "The job attribute PeriodicRelease expression 'true' evaluated to TRUE"}},

		// Step 6: PeriodicRemove in any non-removed status.
		{"PeriodicRemove idle", "JobStatus = 1; PeriodicRemove = true",
			Decision{Action: Remove, Attr: "PeriodicRemove", Code: 3, Reason: "The job attribute PeriodicRemove expression 'true' evaluated to TRUE"}},
		{"PeriodicRemove held by the user", "JobStatus = 5; HoldReasonCode = 1; PeriodicRelease = true; PeriodicRemove = NumHolds >= 2; NumHolds = 2",
			Decision{Action: Remove, Attr: "PeriodicRemove", Code: 3, Reason: "The job attribute PeriodicRemove expression 'NumHolds >= 2' evaluated to TRUE"}},
		{"PeriodicRemove completed", "JobStatus = 4; PeriodicRemove = true",
			Decision{Action: Remove, Attr: "PeriodicRemove", Code: 3, Reason: "The job attribute PeriodicRemove expression 'true' evaluated to TRUE"}},
		{"PeriodicRemoveReason", `JobStatus = 2; PeriodicRemove = true; PeriodicRemoveReason = "over budget"; PeriodicRemoveSubCode = 4`,
			Decision{Action: Remove, Attr: "PeriodicRemove", Code: 3, SubCode: 4, Reason: "over budget"}},
		{"hold takes precedence over remove", "JobStatus = 2; PeriodicHold = true; PeriodicRemove = true",
			Decision{Action: Hold, Attr: "PeriodicHold", Code: 3, Reason: "The job attribute PeriodicHold expression 'true' evaluated to TRUE"}},
		{"OnExit rules are not periodic", "JobStatus = 2; OnExitHold = true; OnExitRemove = false", Decision{}},
		{"no JobStatus: nothing", "PeriodicHold = true", Decision{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := ad(t, "%s", tt.ad)
			if got := Periodic(a, testNow); got != tt.want {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
			if got := NewEvaluator(testNow).Periodic(a); got != tt.want {
				t.Errorf("Evaluator:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestCondorArticle is the Condor article's periodic_hold: hold a job that has run a
// minute. ShadowBday is set while the job runs and UNDEFINED otherwise.
func TestCondorArticle(t *testing.T) {
	const expr = "(time() - ShadowBday) >= 60"
	want := Decision{Action: Hold, Attr: "PeriodicHold", Code: 3,
		Reason: "The job attribute PeriodicHold expression '(time() - ShadowBday) >= 60' evaluated to TRUE"}
	tests := []struct {
		name string
		ad   string
		want Decision
	}{
		{"ran a minute", fmt.Sprintf("JobStatus = 2; ShadowBday = %d; PeriodicHold = %s", now-60, expr), want},
		{"ran an hour", fmt.Sprintf("JobStatus = 2; ShadowBday = %d; PeriodicHold = %s", now-3600, expr), want},
		{"ran 59 seconds", fmt.Sprintf("JobStatus = 2; ShadowBday = %d; PeriodicHold = %s", now-59, expr), Decision{}},
		{"idle: ShadowBday undefined", fmt.Sprintf("JobStatus = 1; PeriodicHold = %s", expr), Decision{}},
		{"after the hold: not again", fmt.Sprintf("JobStatus = 5; HoldReasonCode = 3; PeriodicHold = %s", expr), Decision{}},
	}
	for _, tt := range tests {
		if got := Periodic(ad(t, "%s", tt.ad), testNow); got != tt.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}

// TestOnExit covers §4.5 step 7 and the periodic rules as they apply at exit.
func TestOnExit(t *testing.T) {
	tests := []struct {
		name string
		ad   string
		want Decision
	}{
		{"defaults: complete", "JobStatus = 2; ExitBySignal = false; ExitCode = 0; OnExitHold = false; OnExitRemove = true",
			Decision{Action: Complete, Attr: "OnExitRemove", Code: 3, Reason: "The job attribute OnExitRemove expression 'true' evaluated to TRUE"}},
		{"no OnExitRemove: complete", "JobStatus = 2; ExitBySignal = false; ExitCode = 1",
			Decision{Action: Complete, Attr: "OnExitRemove", Code: 3, Reason: "The job attribute OnExitRemove expression 'true' evaluated to TRUE"}},
		{"OnExitRemove false: requeue", "JobStatus = 2; ExitBySignal = false; ExitCode = 1; OnExitRemove = ExitCode == 0",
			Decision{Action: Requeue, Attr: "OnExitRemove", Code: 3, Reason: "The job attribute OnExitRemove expression 'ExitCode == 0' evaluated to FALSE"}},
		{"OnExitRemove 0: requeue", "JobStatus = 2; ExitBySignal = false; ExitCode = 0; OnExitRemove = 0",
			Decision{Action: Requeue, Attr: "OnExitRemove", Code: 3, Reason: "The job attribute OnExitRemove expression '0' evaluated to FALSE"}},
		{"OnExitRemove true by expression", "JobStatus = 2; ExitBySignal = false; ExitCode = 0; OnExitRemove = ExitCode == 0",
			Decision{Action: Complete, Attr: "OnExitRemove", Code: 3, Reason: "The job attribute OnExitRemove expression 'ExitCode == 0' evaluated to TRUE"}},
		{"OnExitRemove UNDEFINED: complete", "JobStatus = 2; ExitBySignal = false; ExitCode = 0; OnExitRemove = NoSuchAttr",
			Decision{Action: Complete, Attr: "OnExitRemove", Code: 3, Reason: "The job attribute OnExitRemove expression 'NoSuchAttr' evaluated to TRUE"}},
		{"OnExitRemove a string: complete", `JobStatus = 2; ExitBySignal = false; ExitCode = 0; OnExitRemove = "false"`,
			Decision{Action: Complete, Attr: "OnExitRemove", Code: 3, Reason: `The job attribute OnExitRemove expression '"false"' evaluated to TRUE`}},
		{"OnExitRemove 0.5 truncates to 0: requeue", "JobStatus = 2; ExitBySignal = false; ExitCode = 0; OnExitRemove = 0.5",
			Decision{Action: Requeue, Attr: "OnExitRemove", Code: 3, Reason: "The job attribute OnExitRemove expression '0.5' evaluated to FALSE"}},
		{"OnExitHold", "JobStatus = 2; ExitBySignal = false; ExitCode = 3; OnExitHold = ExitCode != 0; OnExitRemove = true",
			Decision{Action: Hold, Attr: "OnExitHold", Code: 3, Reason: "The job attribute OnExitHold expression 'ExitCode != 0' evaluated to TRUE"}},
		{"OnExitHoldReason and SubCode", `JobStatus = 2; ExitBySignal = false; ExitCode = 3; OnExitHold = true; OnExitHoldReason = strcat("exit ", string(ExitCode)); OnExitHoldSubCode = ExitCode`,
			Decision{Action: Hold, Attr: "OnExitHold", Code: 3, SubCode: 3, Reason: "exit 3"}},
		{"OnExitHold UNDEFINED: does not fire", "JobStatus = 2; ExitBySignal = false; ExitCode = 0; OnExitHold = NoSuchAttr",
			Decision{Action: Complete, Attr: "OnExitRemove", Code: 3, Reason: "The job attribute OnExitRemove expression 'true' evaluated to TRUE"}},
		{"OnExitHold before OnExitRemove", "JobStatus = 2; ExitBySignal = true; ExitSignal = 9; OnExitHold = ExitBySignal; OnExitRemove = false",
			Decision{Action: Hold, Attr: "OnExitHold", Code: 3, Reason: "The job attribute OnExitHold expression 'ExitBySignal' evaluated to TRUE"}},
		{"no exit status: a normal exit with code 0", "JobStatus = 2; OnExitHold = ExitCode != 0 || ExitBySignal",
			Decision{Action: Complete, Attr: "OnExitRemove", Code: 3, Reason: "The job attribute OnExitRemove expression 'true' evaluated to TRUE"}},
		{"no exit status: OnExitRemove sees ExitCode 0", "JobStatus = 2; OnExitRemove = ExitCode =?= 0",
			Decision{Action: Complete, Attr: "OnExitRemove", Code: 3, Reason: "The job attribute OnExitRemove expression 'ExitCode =?= 0' evaluated to TRUE"}},
		{"ExitCode without ExitBySignal", "JobStatus = 2; ExitCode = 2; OnExitHold = ExitBySignal =?= false && ExitCode == 2",
			Decision{Action: Hold, Attr: "OnExitHold", Code: 3, Reason: "The job attribute OnExitHold expression 'ExitBySignal =?= false && ExitCode == 2' evaluated to TRUE"}},

		// The periodic rules come first.
		{"PeriodicHold at exit", "JobStatus = 2; ExitBySignal = false; ExitCode = 0; PeriodicHold = true; OnExitHold = false",
			Decision{Action: Hold, Attr: "PeriodicHold", Code: 3, Reason: "The job attribute PeriodicHold expression 'true' evaluated to TRUE"}},
		{"PeriodicRemove at exit completes", "JobStatus = 2; ExitBySignal = false; ExitCode = 0; PeriodicRemove = true; OnExitRemove = false",
			Decision{Action: Complete, Attr: "PeriodicRemove", Code: 3, Reason: "The job attribute PeriodicRemove expression 'true' evaluated to TRUE"}},
		{"TimerRemove at exit completes", fmt.Sprintf("JobStatus = 1; ExitBySignal = false; ExitCode = 0; TimerRemove = %d; OnExitRemove = false", now-5),
			Decision{Action: Complete, Attr: "TimerRemove", Code: 3, Reason: fmt.Sprintf("The job attribute TimerRemove expression '%d' evaluated to TRUE", now-5)}},
		{"AllowedJobDuration at exit", fmt.Sprintf("JobStatus = 2; ExitBySignal = false; ExitCode = 0; ShadowBday = %d; AllowedJobDuration = 60", now-61),
			Decision{Action: Hold, Attr: "AllowedJobDuration", Code: 46, Reason: "The job exceeded allowed job duration of 01:00"}},
		{"PeriodicVacate not at exit", "JobStatus = 2; ExitBySignal = false; ExitCode = 0; PeriodicVacate = true; OnExitRemove = false",
			Decision{Action: Requeue, Attr: "OnExitRemove", Code: 3, Reason: "The job attribute OnExitRemove expression 'false' evaluated to FALSE"}},

		// States the gridmanager does not evaluate at exit.
		{"held", "JobStatus = 5; ExitBySignal = false; ExitCode = 0; OnExitHold = true", Decision{}},
		{"completed", "JobStatus = 4; ExitBySignal = false; ExitCode = 0", Decision{}},
		{"removed", "JobStatus = 3; ExitBySignal = false; ExitCode = 0; OnExitHold = true", Decision{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := ad(t, "%s", tt.ad)
			before := a.MarshalLong()
			got := OnExit(a, testNow)
			if got != tt.want {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
			if after := a.MarshalLong(); after != before {
				t.Errorf("OnExit changed the ad:\n%s\nto\n%s", before, after)
			}
		})
	}
}

func TestFormatTimeShort(t *testing.T) {
	tests := []struct {
		secs int64
		want string
	}{
		{0, "00:00"}, {5, "00:05"}, {30, "00:30"}, {60, "01:00"}, {600, "10:00"},
		{3599, "59:59"}, {3600, "1:00:00"}, {36000, "10:00:00"}, {86399, "23:59:59"},
		{86400, "1+00:00:00"}, {90061, "1+01:01:01"}, {10 * 86400, "10+00:00:00"},
		{1000 * 86400, "1000+00:00:00"}, {-1, "[?????]"},
	}
	for _, tt := range tests {
		if got := formatTimeShort(tt.secs); got != tt.want {
			t.Errorf("formatTimeShort(%d) = %q, want %q", tt.secs, got, tt.want)
		}
	}
}

// TestConstantsMatchJobs pins the status and hold-code numbers this package keeps to the
// queue's, so the two cannot drift apart.
func TestConstantsMatchJobs(t *testing.T) {
	pairs := []struct {
		name      string
		got, want int64
	}{
		{"running", statusRunning, jobs.StatusRunning},
		{"removed", statusRemoved, jobs.StatusRemoved},
		{"completed", statusCompleted, jobs.StatusCompleted},
		{"held", statusHeld, jobs.StatusHeld},
		{"suspended", statusSuspended, jobs.StatusSuspended},
		{"user request", CodeUserRequest, jobs.HoldUserRequest},
		{"job policy", CodeJobPolicy, jobs.HoldJobPolicy},
	}
	for _, p := range pairs {
		if p.got != p.want {
			t.Errorf("%s: %d here, %d in jobs", p.name, p.got, p.want)
		}
	}
}

func TestActionString(t *testing.T) {
	want := map[Action]string{None: "none", Hold: "hold", Remove: "remove", Release: "release",
		Vacate: "vacate", Complete: "complete", Requeue: "requeue", Action(99): "Action(99)"}
	for a, s := range want {
		if a.String() != s {
			t.Errorf("%d: %q, want %q", int(a), a.String(), s)
		}
	}
}

// TestPeriodicReadsOnly checks that Periodic leaves the ad as it was.
func TestPeriodicReadsOnly(t *testing.T) {
	a := ad(t, "JobStatus = 2; ShadowBday = %d; PeriodicHold = (time() - ShadowBday) >= 60; PeriodicHoldReason = \"x\"", now-100)
	before := a.MarshalLong()
	if d := Periodic(a, testNow); d.Action != Hold {
		t.Fatalf("got %+v", d)
	}
	if after := a.MarshalLong(); after != before {
		t.Errorf("Periodic changed the ad:\n%s\nto\n%s", before, after)
	}
}
