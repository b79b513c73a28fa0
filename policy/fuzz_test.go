package policy

import (
	"testing"

	"github.com/ec2grid/ec2grid/classad"
)

// FuzzPolicy evaluates arbitrary policy expressions (whatever a user can put in a submit
// file or condor_qedit) on jobs in every status: Periodic and OnExit must not panic,
// must not change the ad, and must return a Decision that is consistent: None with
// nothing else set, any other action with a rule and a reason, holds with HTCondor's
// codes, and only the actions each entry point can give.
func FuzzPolicy(f *testing.F) {
	f.Add(int64(2), "(time() - ShadowBday) >= 60", "false", "false", "true", "false")
	f.Add(int64(5), "false", "HoldReasonCode == 3", "NumHolds > 3", "true", "false")
	f.Add(int64(1), "undefined", "error", `"x"`, "ExitCode == 0", "ExitCode != 0")
	f.Add(int64(2), "1.5", "0.5", "-1", "0", "ExitBySignal")
	f.Add(int64(7), "PeriodicHold", "PeriodicRemove", "OnExitRemove", "OnExitHold", "TimerRemove")
	f.Fuzz(func(t *testing.T, status int64, hold, release, remove, exitRemove, timer string) {
		ad := classad.New()
		ad.SetInt(AttrJobStatus, status%11)
		ad.SetInt(AttrShadowBday, now-90)
		ad.SetInt(AttrHoldReasonCode, 3)
		ad.SetInt("NumHolds", 1)
		for _, a := range []struct{ name, src string }{
			{AttrPeriodicHold, hold}, {AttrPeriodicRelease, release}, {AttrPeriodicRemove, remove},
			{AttrOnExitRemove, exitRemove}, {AttrOnExitHold, exitRemove},
			{AttrTimerRemove, timer}, {"PeriodicHoldReason", timer}, {"PeriodicHoldSubCode", release},
		} {
			if err := ad.SetExpr(a.name, a.src); err != nil {
				return
			}
		}
		before := ad.MarshalLong()
		check := func(where string, d Decision, allowed ...Action) {
			if d.Action == None {
				if d != (Decision{}) {
					t.Fatalf("%s: None with %+v", where, d)
				}
				return
			}
			ok := false
			for _, a := range allowed {
				ok = ok || d.Action == a
			}
			if !ok || d.Attr == "" || d.Reason == "" {
				t.Fatalf("%s: %+v", where, d)
			}
			if d.Action == Hold && d.Code != CodeJobPolicy && d.Code != CodeJobPolicyUndefined &&
				d.Code != CodeJobDurationExceeded && d.Code != CodeJobExecuteExceeded {
				t.Fatalf("%s: hold code %d", where, d.Code)
			}
		}
		check("Periodic", Periodic(ad, testNow), Hold, Remove, Release, Vacate)
		check("OnExit", OnExit(ad, testNow), Hold, Complete, Requeue)
		if after := ad.MarshalLong(); after != before {
			t.Fatalf("the ad changed:\n%s\nto\n%s", before, after)
		}
	})
}
