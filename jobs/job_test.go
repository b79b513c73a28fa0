package jobs

import (
	"errors"
	"testing"

	"github.com/ec2grid/ec2grid/classad"
)

func mustAd(t *testing.T, src string) *classad.ClassAd {
	t.Helper()
	ad, err := classad.ParseAd(src)
	if err != nil {
		t.Fatalf("ParseAd(%q): %v", src, err)
	}
	return ad
}

// attrs evaluates the named attributes of ad as unparsed strings, "" when undefined.
func attrs(ad *classad.ClassAd, names ...string) map[string]string {
	m := map[string]string{}
	for _, n := range names {
		if e, ok := ad.Lookup(n); ok {
			m[n] = classad.Unparse(e)
		} else {
			m[n] = ""
		}
	}
	return m
}

func TestTransitions(t *testing.T) {
	const now = 1700000000
	type op func(ad *classad.ClassAd) ([]Change, error)
	hold := func(reason string, code int64) op {
		return func(ad *classad.ClassAd) ([]Change, error) { return Hold(ad, reason, code, 0, now) }
	}
	release := func(ad *classad.ClassAd) ([]Change, error) { return Release(ad, "via condor_release", now) }
	remove := func(ad *classad.ClassAd) ([]Change, error) { return Remove(ad, "via condor_rm", now) }
	tests := []struct {
		name    string
		ad      string
		op      op
		wantErr error
		want    map[string]string
	}{
		{
			name: "hold idle",
			ad:   `[ JobStatus = 1; EnteredCurrentStatus = 5; ReleaseReason = "r0" ]`,
			op:   hold("via condor_hold", HoldUserRequest),
			want: map[string]string{
				"JobStatus": "5", "LastJobStatus": "1", "EnteredCurrentStatus": "1700000000",
				"HoldReason": `"via condor_hold"`, "HoldReasonCode": "1", "HoldReasonSubCode": "0",
				"NumHolds": "1", "NumHoldsByReason": "[ UserRequest = 1 ]", "NumSystemHolds": "",
				"ReleaseReason": "", "LastReleaseReason": `"r0"`, "JobStatusOnRelease": "",
			},
		},
		{
			name: "policy hold of running counts by reason",
			ad:   `[ JobStatus = 2; NumHolds = 2; NumHoldsByReason = [ UserRequest = 2 ] ]`,
			op:   hold("periodic", HoldJobPolicy),
			want: map[string]string{
				"JobStatus": "5", "LastJobStatus": "2", "HoldReasonCode": "3", "NumHolds": "3",
				"NumHoldsByReason": "[ JobPolicy = 1; UserRequest = 2 ]", "NumSystemHolds": "1",
			},
		},
		{
			name:    "hold held by user",
			ad:      `[ JobStatus = 5; HoldReasonCode = 1 ]`,
			op:      hold("again", HoldUserRequest),
			wantErr: ErrAlreadyHeld,
		},
		{
			name:    "policy hold over any hold",
			ad:      `[ JobStatus = 5; HoldReasonCode = 3 ]`,
			op:      hold("again", HoldJobPolicy),
			wantErr: ErrAlreadyHeld,
		},
		{
			name: "user hold overwrites policy hold",
			ad:   `[ JobStatus = 5; LastJobStatus = 2; HoldReasonCode = 3; HoldReason = "p"; NumHolds = 1; NumHoldsByReason = [ JobPolicy = 1 ] ]`,
			op:   hold("via condor_hold", HoldUserRequest),
			want: map[string]string{
				"JobStatus": "5", "LastJobStatus": "2", "HoldReason": `"via condor_hold"`,
				"HoldReasonCode": "1", "NumHolds": "2", "NumHoldsByReason": "[ JobPolicy = 1; UserRequest = 1 ]",
			},
		},
		{
			name: "hold of removed returns to removed on release",
			ad:   `[ JobStatus = 3 ]`,
			op:   hold("cancel failed", 0),
			want: map[string]string{"JobStatus": "5", "LastJobStatus": "3", "JobStatusOnRelease": "3"},
		},
		{
			name:    "hold of completed",
			ad:      `[ JobStatus = 4 ]`,
			op:      hold("x", HoldUserRequest),
			wantErr: ErrNotHoldable,
		},
		{
			name: "release to idle",
			ad:   `[ JobStatus = 5; LastJobStatus = 2; HoldReason = "h"; HoldReasonCode = 1; HoldReasonSubCode = 0 ]`,
			op:   release,
			want: map[string]string{
				"JobStatus": "1", "LastJobStatus": "5", "EnteredCurrentStatus": "1700000000",
				"HoldReason": "", "HoldReasonCode": "", "HoldReasonSubCode": "",
				"LastHoldReason": `"h"`, "LastHoldReasonCode": "1", "LastHoldReasonSubCode": "0",
				"ReleaseReason": `"via condor_release"`,
			},
		},
		{
			name: "release to removed",
			ad:   `[ JobStatus = 5; JobStatusOnRelease = 3; HoldReason = "h"; HoldReasonCode = 0 ]`,
			op:   release,
			want: map[string]string{"JobStatus": "3", "JobStatusOnRelease": "", "LastHoldReasonCode": "0"},
		},
		{
			name:    "release idle",
			ad:      `[ JobStatus = 1 ]`,
			op:      release,
			wantErr: ErrNotHeld,
		},
		{
			name: "remove held",
			ad:   `[ JobStatus = 5; HoldReason = "h"; HoldReasonCode = 1; HoldReasonSubCode = 2 ]`,
			op:   remove,
			want: map[string]string{
				"JobStatus": "3", "LastJobStatus": "5", "RemoveReason": `"via condor_rm"`,
				"HoldReason": "", "LastHoldReason": `"h"`, "LastHoldReasonSubCode": "2",
				"EnteredCurrentStatus": "1700000000",
			},
		},
		{
			name: "remove running",
			ad:   `[ JobStatus = 2 ]`,
			op:   remove,
			want: map[string]string{"JobStatus": "3", "LastJobStatus": "2", "LastHoldReason": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ad := mustAd(t, tt.ad)
			cs, err := tt.op(ad)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			Apply(ad, cs)
			names := make([]string, 0, len(tt.want))
			for n := range tt.want {
				names = append(names, n)
			}
			got := attrs(ad, names...)
			for n, w := range tt.want {
				if got[n] != w {
					t.Errorf("%s = %q, want %q", n, got[n], w)
				}
			}
		})
	}
}

func TestHoldReleaseRemoveCycle(t *testing.T) {
	ad := mustAd(t, `[ JobStatus = 1 ]`)
	step := func(cs []Change, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		Apply(ad, cs)
	}
	step(Hold(ad, "u", HoldUserRequest, 0, 10))
	step(Release(ad, "r", 20))
	step(Hold(ad, "p", HoldJobPolicy, 7, 30))
	step(Remove(ad, "rm", 40))
	step(Hold(ad, "cancel failed", 0, 0, 50))
	step(Release(ad, "r2", 60))
	got := attrs(ad, "JobStatus", "NumHolds", "NumHoldsByReason", "LastHoldReason", "LastReleaseReason", "EnteredCurrentStatus")
	want := map[string]string{
		"JobStatus": "3", "NumHolds": "3", "NumHoldsByReason": "[ JobPolicy = 1; Unspecified = 1; UserRequest = 1 ]",
		"LastHoldReason": `"cancel failed"`, "LastReleaseReason": `"r"`, "EnteredCurrentStatus": "60",
	}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s = %q, want %q", n, got[n], w)
		}
	}
}

func TestAccessors(t *testing.T) {
	ad := mustAd(t, `[ ClusterId = 12; ProcId = 3; JobStatus = 2; Owner = "alice"; GridJobId = "ec2 https://x i-1"; GridResource = "ec2 https://x"; EnteredCurrentStatus = 99 ]`)
	if id := ID(ad); id != (JobID{12, 3}) || id.String() != "12.3" {
		t.Errorf("ID = %v", id)
	}
	if ClusterID(ad) != 12 || ProcID(ad) != 3 || Status(ad) != StatusRunning || Owner(ad) != "alice" ||
		GridJobID(ad) != "ec2 https://x i-1" || GridResource(ad) != "ec2 https://x" || EnteredCurrentStatus(ad) != 99 {
		t.Errorf("accessors wrong on %s", ad)
	}
	if HoldLabel(99) != "HoldCode99" || HoldLabel(1) != "UserRequest" {
		t.Error("HoldLabel")
	}
}
