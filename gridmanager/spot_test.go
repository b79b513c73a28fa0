package gridmanager

import (
	"reflect"
	"testing"

	"github.com/ec2grid/ec2grid/gridmanager/resource"
	"github.com/ec2grid/ec2grid/jobs"
)

var spotAd = []string{`EC2SpotPrice = "0.05"`, `EC2InstanceType = "m5.large"`}

func spotToken(h *harness, j *job) { withToken(h, j); j.spot = true }

func spotReq(st string) func(*harness, *job) {
	return func(h *harness, j *job) {
		spotToken(h, j)
		j.spotReqID = "sir-1"
		h.m.index(j)
		j.remote.state, j.changed = st, true
	}
}

func TestStateSpotStart(t *testing.T) {
	runStateCases(t, []stateCase{
		{name: "requested and committed", extra: spotAd, state: stSpotStart, setup: spotToken, want: stSpotSubmitted, calls: []string{"EC2_VM_START_SPOT"},
			check: func(t *testing.T, h *harness, j *job) {
				a := h.cloud.lastCall("EC2_VM_START_SPOT").Args
				if a[0] != "ami-1" || a[1] != "0.05" || a[9] != "tok-1" || a[5] != "m5.large" {
					t.Errorf("args %q", a)
				}
				if j.spotReqID != "sir-00000001" || h.attr(j, attrSpotRequestID) != "sir-00000001" || h.attr(j, attrGridJobStatus) != "pending" {
					t.Errorf("request %q / %q", j.spotReqID, h.attr(j, attrSpotRequestID))
				}
			}},
		{name: "failure holds 40/17", extra: spotAd, state: stSpotStart, want: stHold, calls: []string{"EC2_VM_START_SPOT"},
			setup: func(h *harness, j *job) {
				spotToken(h, j)
				h.cloud.answer("EC2_VM_START_SPOT", []string{"1", "E_HTTP_RESPONSE_NOT_200 (400)", "MaxSpotInstanceCountExceeded"}, nil)
			}, check: wantHold(40, 17, "MaxSpotInstanceCountExceeded")},
		{name: "lost: check by launch group", extra: spotAd, state: stSpotStart, want: stSpotCheck, calls: []string{"EC2_VM_START_SPOT"},
			setup: func(h *harness, j *job) {
				spotToken(h, j)
				h.cloud.answer("EC2_VM_START_SPOT", nil, resource.ErrLost)
			}},
		{name: "removed before: leave", extra: spotAd, state: stSpotStart, want: stDelete,
			setup: func(h *harness, j *job) { spotToken(h, j); j.status = jobs.StatusRemoved }},
	})
}

func TestStateSpotSubmittedAndQuery(t *testing.T) {
	runStateCases(t, []stateCase{
		{name: "waits", extra: spotAd, state: stSpotSubmitted, want: stSpotSubmitted,
			setup: func(h *harness, j *job) { spotReq("open")(h, j); j.changed = false }},
		{name: "changed: query", extra: spotAd, state: stSpotSubmitted, setup: spotReq("open"), want: stSpotQuery},
		{name: "removed: cancel the request", extra: spotAd, state: stSpotSubmitted, want: stSpotCancel,
			setup: func(h *harness, j *job) { spotReq("open")(h, j); j.status = jobs.StatusRemoved }},
		{name: "open: keep waiting", extra: spotAd, state: stSpotQuery, setup: spotReq("open"), want: stSpotSubmitted},
		{name: "fulfilled: the instance", extra: spotAd, state: stSpotQuery, want: stSaveInstanceID,
			setup: func(h *harness, j *job) { spotReq("active")(h, j); j.ext().spotInst = "i-7" },
			check: func(t *testing.T, h *harness, j *job) {
				if j.instanceID != "i-7" {
					t.Errorf("instance %q", j.instanceID)
				}
			}},
		{name: "cancelled by someone: 37/20", extra: spotAd, state: stSpotQuery, setup: spotReq("cancelled"), want: stHold,
			check: wantHold(37, 20, "You, or somebody like you, cancelled this request.")},
		{name: "failed: 38/21", extra: spotAd, state: stSpotQuery, setup: spotReq("failed"), want: stHold,
			check: wantHold(38, 21, "Request status 'failed' unexpected in GM_SPOT_QUERY.")},
		{name: "purged once: wait", extra: spotAd, state: stSpotQuery, setup: spotReq(remoteNotFound), want: stSpotSubmitted},
		{name: "purged twice: 42/19", extra: spotAd, state: stSpotQuery, want: stHold,
			setup: func(h *harness, j *job) { spotReq(remoteNotFound)(h, j); j.ext().purged = 1 },
			check: wantHold(42, 19, "Spot request purged; an instance may still be running.")},
	})
}

func TestStateSpotCheck(t *testing.T) {
	runStateCases(t, []stateCase{
		{name: "found by launch group", extra: spotAd, state: stSpotCheck, want: stSpotSubmitted,
			setup: func(h *harness, j *job) { spotToken(h, j); j.spotReqID = "sir-9" },
			check: func(t *testing.T, h *harness, j *job) {
				if h.attr(j, attrSpotRequestID) != "sir-9" {
					t.Errorf("EC2SpotRequestID %q", h.attr(j, attrSpotRequestID))
				}
			}},
		{name: "not yet consistent: wait", extra: spotAd, state: stSpotCheck, setup: spotToken, want: stSpotCheck},
		{name: "not there: request again", extra: spotAd, state: stSpotCheck, want: stSpotStart,
			setup: func(h *harness, j *job) {
				spotToken(h, j)
				j.since, j.passes = h.clock.Now().Add(-DefaultConsistencyWindow), 2
			}},
		{name: "not there, removed: leave", extra: spotAd, state: stSpotCheck, want: stDelete,
			setup: func(h *harness, j *job) {
				spotToken(h, j)
				j.since, j.passes, j.status = h.clock.Now().Add(-DefaultConsistencyWindow), 2, jobs.StatusRemoved
			}},
	})
}

func TestStateSpotCancel(t *testing.T) {
	gone := func(h *harness, j *job) { spotReq("open")(h, j); j.status = jobs.StatusRemoved }
	runStateCases(t, []stateCase{
		{name: "cancel sent", extra: spotAd, state: stSpotCancel, setup: gone, want: stSpotCancelCheck, calls: []string{"EC2_VM_STOP_SPOT"},
			check: func(t *testing.T, h *harness, j *job) {
				if a := h.cloud.lastCall("EC2_VM_STOP_SPOT").Args; !reflect.DeepEqual(a, []string{"sir-1"}) || h.attr(j, attrGridJobStatus) != "cancelling-spot" {
					t.Errorf("args %q status %q", a, h.attr(j, attrGridJobStatus))
				}
			}},
		{name: "failure holds 42/17", extra: spotAd, state: stSpotCancel, want: stHold, calls: []string{"EC2_VM_STOP_SPOT"},
			setup: func(h *harness, j *job) {
				gone(h, j)
				h.cloud.answer("EC2_VM_STOP_SPOT", []string{"1", "E_CURL_IO", "reset"}, nil)
			}, check: wantHold(42, 17, "reset")},
		{name: "check: cancelled, leave", extra: spotAd, state: stSpotCancelCheck, want: stDelete,
			setup: func(h *harness, j *job) { gone(h, j); j.remote.state, j.passes, j.tries = "cancelled", 1, 1 }},
		{name: "check: fulfilled meanwhile, stop the instance", extra: spotAd, state: stSpotCancelCheck, want: stSaveInstanceID,
			setup: func(h *harness, j *job) { gone(h, j); j.ext().spotInst = "i-8"; j.passes = 1 }},
		{name: "check: still open, again", extra: spotAd, state: stSpotCancelCheck, want: stSpotCancel,
			setup: func(h *harness, j *job) { gone(h, j); j.passes, j.tries = 1, 1 }},
		{name: "check: still open after three retries, 42/18", extra: spotAd, state: stSpotCancelCheck, want: stHold,
			setup: func(h *harness, j *job) { gone(h, j); j.passes, j.tries = 1, maxCancelRetries+1 },
			check: wantHold(42, 18, "Spot job cancel did not succeed after 3 tries, giving up.")},
	})
}

// TestSpotLife: request, fulfilment through a spot pass, then the on-demand path.
func TestSpotLife(t *testing.T) {
	h := newHarness(t, amazon)
	j := h.load(spotAd...)
	if j.state != stSpotSubmitted || h.cloud.spotJobs != 1 {
		t.Fatalf("state %s spot jobs %d", j.state, h.cloud.spotJobs)
	}
	h.cloud.spot = []resource.SpotRequest{{ID: j.spotReqID, State: "active", LaunchGroup: j.token, InstanceID: "i-s"}}
	h.instance("i-s", "", "")
	h.pass()
	if j.state != stSubmitted || j.instanceID != "i-s" || h.attr(j, attrSpotRequestID) != "undefined" {
		t.Fatalf("state %s instance %q request %q", j.state, j.instanceID, h.attr(j, attrSpotRequestID))
	}
	if g := h.attr(j, jobs.AttrGridJobID); g != "ec2 "+testURL+" "+j.token+" i-s" {
		t.Errorf("GridJobId %q", g)
	}
}
