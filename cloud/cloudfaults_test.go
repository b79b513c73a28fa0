package cloud

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/cloud/faults"
)

func TestFaultThrottle(t *testing.T) {
	tc := newTestCloud(t, func(cfg *Config) {
		cfg.Faults.Throttle = map[faults.Class]faults.Bucket{faults.NonMutating: {Rate: 0.001, Burst: 2}}
	})
	tc.ok("DescribeInstances")
	tc.ok("DescribeInstances")
	r := tc.fails(http.StatusServiceUnavailable, "RequestLimitExceeded", "DescribeInstances")
	if msg := r.root.get("Errors/Error/Message"); msg != "Request limit exceeded." {
		t.Errorf("message %q", msg)
	}
	// Per account, and per class: bob and alice's mutations are not throttled.
	if r := tc.doAs(bob, "DescribeInstances"); r.status != http.StatusOK {
		t.Errorf("bob throttled: %s", r)
	}
	tc.ok("CreateKeyPair", "KeyName", "k")
	if st := tc.s.Faults().Stats()["DescribeInstances"]; st.Throttled != 1 || st.Errors["RequestLimitExceeded"] != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestFaultInternalError(t *testing.T) {
	tc := newTestCloud(t, func(cfg *Config) { cfg.Faults.InternalErrorRate = 1 })
	tc.fails(http.StatusInternalServerError, "InternalError", "RunInstances", "ImageId", "ami-12345678", "MinCount", "1", "MaxCount", "1")
	if err := tc.s.Faults().SetConfig(faults.Config{}); err != nil {
		t.Fatal(err)
	}
	if r := tc.ok("DescribeInstances"); r.root.has("reservationSet/item") {
		t.Errorf("a request answered InternalError was acted on")
	}
}

func TestFaultDropAfterAct(t *testing.T) {
	tc := newTestCloud(t, func(cfg *Config) { cfg.Faults.DropAfterActRate = 1 })
	p := url.Values{"Action": {"RunInstances"}, "Version": {"2016-11-15"}, "ImageId": {"ami-12345678"},
		"MinCount": {"1"}, "MaxCount": {"1"}, "ClientToken": {"dropped"}}
	body := p.Encode()
	req, _ := http.NewRequest(http.MethodPost, tc.url+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	signRequest(t, req, []byte(body), alice)
	if resp, err := tc.http.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("answered %d; want the connection dropped", resp.StatusCode)
	}
	// Reads are never dropped; the launch happened; the retry with its token replays it.
	r := tc.ok("DescribeInstances")
	ids := r.root.texts("reservationSet/item/instancesSet/item/instanceId")
	if len(ids) != 1 {
		t.Fatalf("instances after a dropped RunInstances: %q", ids)
	}
	if err := tc.s.Faults().SetConfig(faults.Config{}); err != nil {
		t.Fatal(err)
	}
	r = tc.ok("RunInstances", "ImageId", "ami-12345678", "MinCount", "1", "MaxCount", "1", "ClientToken", "dropped")
	if got := r.root.get("instancesSet/item/instanceId"); got != ids[0] {
		t.Errorf("retry launched %s, want the dropped call's %s", got, ids[0])
	}
	if st := tc.s.Faults().Stats()["RunInstances"]; st.Dropped != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestFaultConsistencyDelay(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	tc := newTestCloud(t, func(cfg *Config) {
		cfg.Faults.ConsistencyDelay = time.Minute
		cfg.Now = clock.Now
	})
	id := tc.run(1)[0]
	tc.fails(http.StatusBadRequest, "InvalidInstanceID.NotFound", "DescribeInstances", "InstanceId.1", id)
	if r := tc.ok("DescribeInstances"); r.root.has("reservationSet/item") {
		t.Errorf("a new instance is listed during the consistency delay")
	}
	clock.Add(2 * time.Minute)
	tc.instance(id)
}

func TestFaultInsufficientCapacity(t *testing.T) {
	tc := newTestCloud(t, func(cfg *Config) {
		cfg.Faults.InsufficientCapacity = []faults.Rule{{InstanceType: "m5.large"}, {Zone: "us-east-1b"}}
	})
	r := tc.fails(http.StatusInternalServerError, "InsufficientInstanceCapacity", "RunInstances",
		"ImageId", "ami-12345678", "MinCount", "1", "MaxCount", "1", "InstanceType", "m5.large")
	if !strings.Contains(r.root.get("Errors/Error/Message"), "m5.large") {
		t.Errorf("message: %s", r.body)
	}
	tc.fails(http.StatusInternalServerError, "InsufficientInstanceCapacity", "RunInstances",
		"ImageId", "ami-12345678", "MinCount", "1", "MaxCount", "1", "Placement.AvailabilityZone", "us-east-1b")
	tc.run(1, "Placement.AvailabilityZone", "us-east-1a")
	if n := len(tc.ok("DescribeInstances").root.all("reservationSet/item/instancesSet/item")); n != 1 {
		t.Errorf("%d instances, want only the one with capacity", n)
	}
}
