package cloud

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	bolt "go.etcd.io/bbolt"

	"github.com/ec2grid/ec2grid/cloud/imds"
)

// setSpotPrice moves the market of typ in every zone to dollars, from the cloud's now, as
// a market move would, and wakes the spot goroutine: tests steer the market with it
// instead of waiting for a random walk.
func setSpotPrice(t *testing.T, s *Server, typ string, dollars float64) {
	t.Helper()
	p := price(math.Round(dollars * priceScale))
	st := spotOf(s)
	err := s.mutate(func(tx *bolt.Tx) (func(), error) {
		add := map[spotKey][]pricePoint{}
		for _, z := range s.cfg.Zones {
			k := spotKey{typ, z}
			var last time.Time
			if pts := st.prices[k]; len(pts) > 0 {
				last = pts[len(pts)-1].at
			}
			add[k] = []pricePoint{{laterThan(last, s.now()), p}}
		}
		return st.addPoints(tx, add)
	})
	if err != nil {
		t.Fatalf("set spot price: %v", err)
	}
	st.nudge()
}

// requestSpot makes one spot request as alice and gives its id.
func (tc *testCloud) requestSpot(bid string, kv ...string) string {
	tc.t.Helper()
	args := append([]string{"SpotPrice", bid, "LaunchSpecification.ImageId", "ami-12345678"}, kv...)
	r := tc.ok("RequestSpotInstances", args...)
	ids := r.root.texts("spotInstanceRequestSet/item/spotInstanceRequestId")
	if len(ids) == 0 {
		tc.t.Fatalf("RequestSpotInstances answered no request: %s", r.body)
	}
	return ids[0]
}

// spotRequest describes one of alice's spot requests.
func (tc *testCloud) spotRequest(id string) *node {
	tc.t.Helper()
	r := tc.ok("DescribeSpotInstanceRequests", "SpotInstanceRequestId.1", id)
	items := r.root.all("spotInstanceRequestSet/item")
	if len(items) != 1 {
		tc.t.Fatalf("DescribeSpotInstanceRequests %s: %d items", id, len(items))
	}
	return items[0]
}

// waitSpot polls until the request is in state with status code (either may be "" for any).
func (tc *testCloud) waitSpot(id, state, code string) *node {
	tc.t.Helper()
	deadline := time.Now().Add(testWait)
	for {
		r := tc.spotRequest(id)
		if (state == "" || r.get("state") == state) && (code == "" || r.get("status/code") == code) {
			return r
		}
		if time.Now().After(deadline) {
			tc.t.Fatalf("spot request %s: %s/%s, waited %v for %s/%s", id, r.get("state"), r.get("status/code"), testWait, state, code)
		}
		time.Sleep(testPoll)
	}
}

func TestParsePrice(t *testing.T) {
	for _, c := range []struct {
		in   string
		want price
		ok   bool
	}{
		{"0.05", 50_000, true},
		{"0.5", 500_000, true},
		{" 1 ", 1_000_000, true},
		{"0.0000015", 2, true},
		{"0.0000001", 0, false}, // rounds to nothing
		{"0", 0, false},
		{"-0.05", 0, false},
		{"NaN", 0, false},
		{"Inf", 0, false},
		{"1e300", 0, false},
		{"five cents", 0, false},
		{"", 0, false},
	} {
		got, ok := parsePrice(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("parsePrice(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	for p, want := range map[price]string{50_000: "0.050000", 1: "0.000001", 12_345_678: "12.345678", 0: "0.000000"} {
		if got := p.String(); got != want {
			t.Errorf("price(%d) = %q, want %q", p, got, want)
		}
	}
}

func TestResolveSpotMarket(t *testing.T) {
	for _, c := range []struct {
		name string
		in   SpotMarket
		want spotMarket
		err  bool
	}{
		{"defaults", SpotMarket{}, spotMarket{initial: 50_000, min: 10_000, max: 200_000, step: 10_000}, false},
		{"fixed at a price", SpotMarket{InitialPrice: 0.05, MinPrice: 0.05, MaxPrice: 0.05}, spotMarket{initial: 50_000, min: 50_000, max: 50_000, step: 10_000}, false},
		{"a low max lowers the defaults", SpotMarket{MaxPrice: 0.005}, spotMarket{initial: 5_000, min: 5_000, max: 5_000, step: 10_000}, false},
		{"a high initial raises max", SpotMarket{InitialPrice: 0.5}, spotMarket{initial: 500_000, min: 10_000, max: 500_000, step: 10_000}, false},
		{"a high min raises initial", SpotMarket{MinPrice: 0.1}, spotMarket{initial: 100_000, min: 100_000, max: 200_000, step: 10_000}, false},
		{"moving", SpotMarket{Step: 0.002, Interval: time.Second}, spotMarket{initial: 50_000, min: 10_000, max: 200_000, step: 2_000, interval: time.Second}, false},
		{"min above max", SpotMarket{MinPrice: 0.3, MaxPrice: 0.2}, spotMarket{}, true},
		{"initial outside", SpotMarket{InitialPrice: 0.3, MinPrice: 0.01, MaxPrice: 0.2}, spotMarket{}, true},
		{"negative", SpotMarket{Step: -1}, spotMarket{}, true},
		{"not a number", SpotMarket{MaxPrice: math.NaN()}, spotMarket{}, true},
		{"negative interval", SpotMarket{Interval: -time.Second}, spotMarket{}, true},
		{"interval too short", SpotMarket{Interval: time.Millisecond}, spotMarket{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := resolveSpotMarket(c.in)
			if (err != nil) != c.err {
				t.Fatalf("error %v, want error %v", err, c.err)
			}
			if !c.err && got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestWalkStep(t *testing.T) {
	m := spotMarket{initial: 50_000, min: 10_000, max: 200_000, step: 10_000, interval: time.Second}
	k := spotKey{"m1.small", "us-east-1a"}
	cur := m.initial
	moved := 0
	for tick := int64(1); tick <= 10_000; tick++ {
		next := walkStep(m, 42, k, tick, cur)
		if d := next - cur; d > m.step || d < -m.step || next < m.min || next > m.max {
			t.Fatalf("tick %d: %v → %v breaks the step or the bounds", tick, cur, next)
		}
		if next != walkStep(m, 42, k, tick, cur) {
			t.Fatalf("tick %d: the walk is not deterministic", tick)
		}
		if next != cur {
			moved++
		}
		cur = next
	}
	if moved < 9_000 {
		t.Errorf("the price moved in only %d of 10,000 ticks", moved)
	}
	// Another seed, or another market, walks differently.
	if walkStep(m, 43, k, 1, m.initial) == walkStep(m, 42, k, 1, m.initial) &&
		walkStep(m, 43, k, 2, m.initial) == walkStep(m, 42, k, 2, m.initial) {
		t.Errorf("seeds 42 and 43 walk alike")
	}
	other := spotKey{"m1.small", "us-east-1b"}
	if walkStep(m, 42, other, 1, m.initial) == walkStep(m, 42, k, 1, m.initial) &&
		walkStep(m, 42, other, 2, m.initial) == walkStep(m, 42, k, 2, m.initial) {
		t.Errorf("two zones walk alike")
	}
}

func TestRequestSpotInstancesErrors(t *testing.T) {
	tc := newTestCloud(t)
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, c := range []struct {
		name string
		args []string
		code string
	}{
		{"no image", []string{"SpotPrice", "0.1"}, "MissingParameter"},
		{"unknown image", []string{"SpotPrice", "0.1", "LaunchSpecification.ImageId", "ami-99999999"}, "InvalidAMIID.NotFound"},
		{"malformed image", []string{"SpotPrice", "0.1", "LaunchSpecification.ImageId", "img-1"}, "InvalidAMIID.Malformed"},
		{"bad price", []string{"SpotPrice", "cheap", "LaunchSpecification.ImageId", "ami-12345678"}, "InvalidParameterValue"},
		{"zero price", []string{"SpotPrice", "0", "LaunchSpecification.ImageId", "ami-12345678"}, "InvalidParameterValue"},
		{"bad type", []string{"SpotPrice", "0.1", "Type", "sometimes", "LaunchSpecification.ImageId", "ami-12345678"}, "InvalidParameterValue"},
		{"zero count", []string{"SpotPrice", "0.1", "InstanceCount", "0", "LaunchSpecification.ImageId", "ami-12345678"}, "InvalidParameterValue"},
		{"huge count", []string{"SpotPrice", "0.1", "InstanceCount", "1001", "LaunchSpecification.ImageId", "ami-12345678"}, "InvalidParameterValue"},
		{"count not a number", []string{"SpotPrice", "0.1", "InstanceCount", "a few", "LaunchSpecification.ImageId", "ami-12345678"}, "InvalidParameterValue"},
		{"unknown key", []string{"SpotPrice", "0.1", "LaunchSpecification.ImageId", "ami-12345678", "LaunchSpecification.KeyName", "nope"}, "InvalidKeyPair.NotFound"},
		{"unknown zone", []string{"SpotPrice", "0.1", "LaunchSpecification.ImageId", "ami-12345678", "LaunchSpecification.Placement.AvailabilityZone", "mars-1a"}, "InvalidParameterValue"},
		{"bad instance type", []string{"SpotPrice", "0.1", "LaunchSpecification.ImageId", "ami-12345678", "LaunchSpecification.InstanceType", "huge"}, "InvalidParameterValue"},
		{"bad user data", []string{"SpotPrice", "0.1", "LaunchSpecification.ImageId", "ami-12345678", "LaunchSpecification.UserData", "%%%"}, "InvalidParameterValue"},
		{"valid until in the past", []string{"SpotPrice", "0.1", "LaunchSpecification.ImageId", "ami-12345678", "ValidUntil", past}, "InvalidParameterValue"},
		{"valid from after until", []string{"SpotPrice", "0.1", "LaunchSpecification.ImageId", "ami-12345678", "ValidFrom", future, "ValidUntil", future}, "InvalidParameterValue"},
		{"bad time", []string{"SpotPrice", "0.1", "LaunchSpecification.ImageId", "ami-12345678", "ValidFrom", "tomorrow"}, "InvalidParameterValue"},
		{"stop on interruption", []string{"SpotPrice", "0.1", "LaunchSpecification.ImageId", "ami-12345678", "InstanceInterruptionBehavior", "stop"}, "InvalidParameterValue"},
		{"bad tag resource type", []string{"SpotPrice", "0.1", "LaunchSpecification.ImageId", "ami-12345678", "TagSpecification.1.ResourceType", "instance", "TagSpecification.1.Tag.1.Key", "a"}, "InvalidParameterValue"},
		{"private ip for two", []string{"SpotPrice", "0.1", "InstanceCount", "2", "LaunchSpecification.ImageId", "ami-12345678", "LaunchSpecification.NetworkInterface.1.DeviceIndex", "0", "LaunchSpecification.NetworkInterface.1.PrivateIpAddress", "10.1.2.3"}, "InvalidParameterCombination"},
		{"bad interface subnet", []string{"SpotPrice", "0.1", "LaunchSpecification.ImageId", "ami-12345678", "LaunchSpecification.NetworkInterface.1.SubnetId", "net-1"}, "InvalidSubnetID.Malformed"},
		{"long client token", []string{"SpotPrice", "0.1", "LaunchSpecification.ImageId", "ami-12345678", "ClientToken", strings.Repeat("t", 65)}, "InvalidParameterValue"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tc.fails(http.StatusBadRequest, c.code, "RequestSpotInstances", c.args...)
		})
	}
	if r := tc.ok("DescribeSpotInstanceRequests"); r.root.has("spotInstanceRequestSet/item") {
		t.Errorf("a failed request left a spot request: %s", r.body)
	}
}

func TestSpotFulfilment(t *testing.T) {
	tc := newTestCloud(t)
	tc.ok("CreateKeyPair", "KeyName", "spot-key")
	r := tc.ok("RequestSpotInstances", "SpotPrice", "0.10", "InstanceCount", "2", "Type", "one-time", "LaunchGroup", "lg-1",
		"LaunchSpecification.ImageId", "ami-12345678", "LaunchSpecification.InstanceType", "m1.small",
		"LaunchSpecification.KeyName", "spot-key", "LaunchSpecification.SecurityGroup.1", "web",
		"LaunchSpecification.Placement.AvailabilityZone", "us-east-1b",
		"TagSpecification.1.ResourceType", "spot-instances-request", "TagSpecification.1.Tag.1.Key", "job", "TagSpecification.1.Tag.1.Value", "7")
	items := r.root.all("spotInstanceRequestSet/item")
	if len(items) != 2 {
		t.Fatalf("%d requests, want one per instance: %s", len(items), r.body)
	}
	first := items[0]
	for path, want := range map[string]string{
		"state": "open", "status/code": "pending-evaluation", "spotPrice": "0.100000", "type": "one-time",
		"launchGroup": "lg-1", "launchSpecification/imageId": "ami-12345678", "launchSpecification/keyName": "spot-key",
		"launchSpecification/instanceType": "m1.small", "launchSpecification/groupSet/item/groupName": "web",
		"launchSpecification/placement/availabilityZone": "us-east-1b", "productDescription": "Linux/UNIX",
		"tagSet/item/value": "7", "instanceInterruptionBehavior": "terminate",
	} {
		if got := first.get(path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if !spotRequestIDPattern.MatchString(first.get("spotInstanceRequestId")) || len(first.get("spotInstanceRequestId")) != len("sir-")+spotIDLen {
		t.Errorf("request id %q", first.get("spotInstanceRequestId"))
	}
	sir := first.get("spotInstanceRequestId")
	req := tc.waitSpot(sir, "active", "fulfilled")
	id := req.get("instanceId")
	if req.get("launchedAvailabilityZone") != "us-east-1b" || id == "" {
		t.Fatalf("active request: instance %q zone %q", id, req.get("launchedAvailabilityZone"))
	}
	in := tc.waitState(id, "running")
	if in.get("instanceLifecycle") != "spot" || in.get("spotInstanceRequestId") != sir || in.get("keyName") != "spot-key" ||
		in.get("placement/availabilityZone") != "us-east-1b" || in.get("groupSet/item/groupName") != "web" {
		t.Errorf("spot instance: %+v", in)
	}
	// Only persistent requests' instances can be stopped, as on EC2.
	tc.fails(http.StatusBadRequest, "UnsupportedOperation", "StopInstances", "InstanceId.1", id)
	d := tc.ok("DescribeInstances", "Filter.1.Name", "instance-lifecycle", "Filter.1.Value.1", "spot")
	if got := len(d.root.all("reservationSet/item/instancesSet/item")); got != 2 {
		t.Errorf("%d spot instances, want 2", got)
	}
	if r := tc.doAs(bob, "DescribeSpotInstanceRequests"); r.root.has("spotInstanceRequestSet/item") {
		t.Errorf("bob sees alice's requests: %s", r.body)
	}
	if r := tc.doAs(bob, "DescribeSpotInstanceRequests", "SpotInstanceRequestId.1", sir); r.code() != "InvalidSpotInstanceRequestID.NotFound" {
		t.Errorf("bob describes alice's request: %s", r)
	}
}

func TestSpotPriceTooLowThenFulfilled(t *testing.T) {
	tc := newTestCloud(t)
	sir := tc.requestSpot("0.02") // the default market stands at 0.05
	req := tc.waitSpot(sir, "open", "price-too-low")
	if msg := req.get("status/message"); !strings.Contains(msg, "0.020000") || !strings.Contains(msg, "0.050000") {
		t.Errorf("message %q", msg)
	}
	setSpotPrice(t, tc.s, "m1.small", 0.015)
	tc.waitSpot(sir, "active", "fulfilled")
}

// spotClockCloud is a cloud on a fake clock with a fixed market at 0.05.
func spotClockCloud(t *testing.T, mods ...func(*Config)) (*testCloud, *fakeClock) {
	clock := &fakeClock{t: time.Now()}
	tc := newTestCloud(t, append([]func(*Config){func(cfg *Config) {
		cfg.Now = clock.Now
		cfg.BootDelay = time.Second
	}}, mods...)...)
	return tc, clock
}

// TestSpotReclaim: when the price rises above the bid, the instance is told (metadata
// spot/instance-action), then after the notice reclaimed with
// Server.SpotInstanceTermination, and the one-time request closes.
func TestSpotReclaim(t *testing.T) {
	tc, clock := spotClockCloud(t)
	sir := tc.requestSpot("0.10", "Type", "one-time")
	id := tc.waitSpot(sir, "active", "fulfilled").get("instanceId")
	clock.Add(2 * time.Second)
	tc.waitState(id, "running")
	noticeURL := tc.url + imds.Prefix + id + "/latest/meta-data/spot/instance-action"
	if status, _ := httpGet(t, noticeURL); status != http.StatusNotFound {
		t.Errorf("spot/instance-action before any notice: %d", status)
	}

	setSpotPrice(t, tc.s, "m1.small", 0.20)
	marked := clock.Now()
	tc.waitSpot(sir, "active", "marked-for-termination")
	status, body := httpGet(t, noticeURL)
	want := marked.Add(spotTerminationNotice).UTC().Format(time.RFC3339)
	if status != http.StatusOK || !strings.Contains(body, `"action":"terminate"`) || !strings.Contains(body, want) {
		t.Errorf("spot/instance-action: %d %s, want terminate at %s", status, body, want)
	}
	if got := tc.instance(id).get("instanceState/name"); got != "running" {
		t.Errorf("instance %s during the notice", got)
	}

	clock.Add(spotTerminationNotice)
	req := tc.waitSpot(sir, "closed", "instance-terminated-by-price")
	if req.get("instanceId") != id {
		t.Errorf("closed request lost its instance id: %q", req.get("instanceId"))
	}
	clock.Add(2 * time.Second)
	in := tc.waitState(id, "terminated")
	if in.get("stateReason/code") != "Server.SpotInstanceTermination" ||
		in.get("stateReason/message") != "Server.SpotInstanceTermination: Spot instance termination" {
		t.Errorf("stateReason %q / %q", in.get("stateReason/code"), in.get("stateReason/message"))
	}
	// Its price falling again changes nothing for a closed request.
	setSpotPrice(t, tc.s, "m1.small", 0.01)
	time.Sleep(3 * spotPoll)
	if got := tc.spotRequest(sir).get("state"); got != "closed" {
		t.Errorf("closed request is %s", got)
	}
}

// TestSpotReclaimKillsProcess: a reclaimed instance's user-data process is killed.
func TestSpotReclaimKillsProcess(t *testing.T) {
	tc, clock := spotClockCloud(t)
	sir := tc.requestSpot("0.10", "LaunchSpecification.UserData", script("#!/bin/sh\nexec sleep 600\n"))
	id := tc.waitSpot(sir, "active", "").get("instanceId")
	clock.Add(2 * time.Second)
	tc.waitState(id, "running")
	pid := waitPID(t, tc.s, id)
	setSpotPrice(t, tc.s, "m1.small", 0.20)
	tc.waitSpot(sir, "", "marked-for-termination")
	clock.Add(spotTerminationNotice)
	tc.waitSpot(sir, "closed", "instance-terminated-by-price")
	waitDead(t, pid)
}

// TestSpotPersistentReopens: a persistent request whose instance is reclaimed opens
// again, and is fulfilled anew when the price falls back.
func TestSpotPersistentReopens(t *testing.T) {
	tc, clock := spotClockCloud(t)
	sir := tc.requestSpot("0.10", "Type", "persistent")
	first := tc.waitSpot(sir, "active", "fulfilled").get("instanceId")
	clock.Add(2 * time.Second)
	tc.waitState(first, "running")

	setSpotPrice(t, tc.s, "m1.small", 0.30)
	tc.waitSpot(sir, "active", "marked-for-termination")
	clock.Add(spotTerminationNotice)
	tc.waitSpot(sir, "open", "instance-terminated-by-price")
	time.Sleep(3 * spotPoll) // the price is still too high: the request stays open, for that reason
	if r := tc.spotRequest(sir); r.get("state") != "open" || r.get("status/code") != "instance-terminated-by-price" {
		t.Errorf("reopened request: %s/%s", r.get("state"), r.get("status/code"))
	}

	setSpotPrice(t, tc.s, "m1.small", 0.05)
	second := tc.waitSpot(sir, "active", "fulfilled").get("instanceId")
	if second == first || second == "" {
		t.Fatalf("fulfilled again with %q (first %q)", second, first)
	}
	clock.Add(2 * time.Second)
	tc.waitState(first, "terminated")
	tc.waitState(second, "running")
}

// TestSpotInstanceEndsOtherwise: an instance terminated by its user (or its own script)
// closes a one-time request and reopens a persistent one, with instance-terminated-by-user.
func TestSpotInstanceEndsOtherwise(t *testing.T) {
	tc := newTestCloud(t)
	oneTime := tc.requestSpot("0.10")
	persistent := tc.requestSpot("0.10", "Type", "persistent")
	script := tc.requestSpot("0.10", "LaunchSpecification.UserData", script("#!/bin/sh\necho hi\n"))
	a := tc.waitSpot(oneTime, "active", "").get("instanceId")
	b := tc.waitSpot(persistent, "active", "").get("instanceId")
	c := tc.waitSpot(script, "active", "").get("instanceId")
	tc.ok("TerminateInstances", "InstanceId.1", a, "InstanceId.2", b)
	tc.waitSpot(oneTime, "closed", "instance-terminated-by-user")
	// A persistent request opens again and is fulfilled at once (the price allows).
	deadline := time.Now().Add(testWait)
	for tc.spotRequest(persistent).get("instanceId") == b {
		if time.Now().After(deadline) {
			t.Fatal("the persistent request was not fulfilled again")
		}
		time.Sleep(testPoll)
	}
	tc.waitSpot(persistent, "active", "fulfilled")
	// A spot instance's own shutdown terminates it (it cannot stop), closing its request.
	tc.waitState(c, "terminated")
	tc.waitSpot(script, "closed", "instance-terminated-by-user")
}

func TestCancelSpotInstanceRequests(t *testing.T) {
	tc := newTestCloud(t)
	active := tc.requestSpot("0.10")
	id := tc.waitSpot(active, "active", "").get("instanceId")
	open := tc.requestSpot("0.01")
	tc.waitSpot(open, "open", "price-too-low")
	closed := tc.requestSpot("0.10")
	gone := tc.waitSpot(closed, "active", "").get("instanceId")
	tc.ok("TerminateInstances", "InstanceId.1", gone)
	tc.waitSpot(closed, "closed", "")

	for _, c := range []struct {
		name string
		args []string
		code string
	}{
		{"no id", nil, "MissingParameter"},
		{"unknown id", []string{"SpotInstanceRequestId.1", "sir-zzzzzzzz"}, "InvalidSpotInstanceRequestID.NotFound"},
		{"one unknown among known", []string{"SpotInstanceRequestId.1", open, "SpotInstanceRequestId.2", "sir-zzzzzzzz"}, "InvalidSpotInstanceRequestID.NotFound"},
		{"malformed id", []string{"SpotInstanceRequestId.1", "i-12345678"}, "InvalidSpotInstanceRequestID.Malformed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tc.fails(http.StatusBadRequest, c.code, "CancelSpotInstanceRequests", c.args...)
		})
	}
	if r := tc.doAs(bob, "CancelSpotInstanceRequests", "SpotInstanceRequestId.1", open); r.code() != "InvalidSpotInstanceRequestID.NotFound" {
		t.Errorf("bob cancels alice's request: %s", r)
	}
	if got := tc.spotRequest(open).get("state"); got != "open" {
		t.Fatalf("the failed cancel changed the request: %s", got)
	}

	r := tc.ok("CancelSpotInstanceRequests", "SpotInstanceRequestId.1", active, "SpotInstanceRequestId.2", open, "SpotInstanceRequestId.3", closed)
	if got := strings.Join(r.root.texts("spotInstanceRequestSet/item/state"), ","); got != "cancelled,cancelled,closed" {
		t.Errorf("cancelled states %q", got)
	}
	if req := tc.spotRequest(active); req.get("state") != "cancelled" || req.get("status/code") != "request-canceled-and-instance-running" || req.get("instanceId") != id {
		t.Errorf("cancelled active request: %s/%s", req.get("state"), req.get("status/code"))
	}
	if req := tc.spotRequest(open); req.get("state") != "cancelled" || req.get("status/code") != "canceled-before-fulfillment" {
		t.Errorf("cancelled open request: %s/%s", req.get("state"), req.get("status/code"))
	}
	// Cancelling does not terminate the instance, as on EC2.
	tc.waitState(id, "running")
	time.Sleep(3 * spotPoll)
	if got := tc.instance(id).get("instanceState/name"); got != "running" {
		t.Errorf("instance of a cancelled request is %s", got)
	}
	tc.ok("CancelSpotInstanceRequests", "SpotInstanceRequestId.1", active) // again: fine
	// Once its instance goes, the cancelled request says why.
	tc.ok("TerminateInstances", "InstanceId.1", id)
	tc.waitSpot(active, "cancelled", "instance-terminated-by-user")
}

// clockLeeway is how far a test's fake clock may run from the real one: requests are
// signed with the real time, and the cloud refuses signatures 15 minutes off its own.
const clockLeeway = 10 * time.Minute

func TestSpotValidity(t *testing.T) {
	tc, clock := spotClockCloud(t)
	now := clock.Now()
	later := tc.requestSpot("0.10", "ValidFrom", now.Add(5*time.Minute).Format(time.RFC3339))
	tc.waitSpot(later, "open", "not-scheduled-yet")
	expiring := tc.requestSpot("0.01", "ValidUntil", now.Add(time.Minute).Format(time.RFC3339))
	tc.waitSpot(expiring, "open", "price-too-low")
	clock.Add(2 * time.Minute)
	tc.waitSpot(expiring, "closed", "schedule-expired")
	if got := tc.spotRequest(later).get("state"); got != "open" {
		t.Errorf("request valid from later is %s", got)
	}
	clock.Add(5 * time.Minute)
	tc.waitSpot(later, "active", "fulfilled")
}

func TestDescribeSpotInstanceRequests(t *testing.T) {
	tc := newTestCloud(t)
	var ids []string
	for i := range 6 {
		bid := "0.10"
		if i%3 == 2 {
			bid = "0.01"
		}
		ids = append(ids, tc.requestSpot(bid, "Type", []string{"one-time", "persistent"}[i%2]))
	}
	tc.ok("CreateTags", "ResourceId.1", ids[4], "Tag.1.Key", "Name", "Tag.1.Value", "four")
	for _, id := range ids {
		tc.waitSpot(id, "", "")
	}
	active := tc.waitSpot(ids[0], "active", "").get("instanceId")
	tc.waitSpot(ids[1], "active", "")
	tc.waitSpot(ids[2], "open", "price-too-low")
	for _, c := range []struct {
		name string
		args []string
		want []string
		code string
	}{
		{"all", nil, ids, ""},
		{"by id", []string{"SpotInstanceRequestId.1", ids[3], "SpotInstanceRequestId.2", ids[0]}, []string{ids[0], ids[3]}, ""},
		{"filter state open", []string{"Filter.1.Name", "state", "Filter.1.Value.1", "open"}, []string{ids[2], ids[5]}, ""},
		{"filter state active", []string{"Filter.1.Name", "state", "Filter.1.Value.1", "active"}, []string{ids[0], ids[1], ids[3], ids[4]}, ""},
		{"filter request id", []string{"Filter.1.Name", "spot-instance-request-id", "Filter.1.Value.1", ids[1]}, []string{ids[1]}, ""},
		{"filter instance id", []string{"Filter.1.Name", "instance-id", "Filter.1.Value.1", active}, []string{ids[0]}, ""},
		{"filter type", []string{"Filter.1.Name", "type", "Filter.1.Value.1", "persistent"}, []string{ids[1], ids[3], ids[5]}, ""},
		{"filter status code", []string{"Filter.1.Name", "status-code", "Filter.1.Value.1", "price-too-low"}, []string{ids[2], ids[5]}, ""},
		{"filter spot price", []string{"Filter.1.Name", "spot-price", "Filter.1.Value.1", "0.01"}, []string{ids[2], ids[5]}, ""},
		{"filter image", []string{"Filter.1.Name", "launch.image-id", "Filter.1.Value.1", "ami-12345678"}, ids, ""},
		{"filter tag", []string{"Filter.1.Name", "tag:Name", "Filter.1.Value.1", "four"}, []string{ids[4]}, ""},
		{"unknown id", []string{"SpotInstanceRequestId.1", "sir-zzzzzzzz"}, nil, "InvalidSpotInstanceRequestID.NotFound"},
		{"malformed id", []string{"SpotInstanceRequestId.1", "sir-!"}, nil, "InvalidSpotInstanceRequestID.Malformed"},
		{"unknown filter", []string{"Filter.1.Name", "colour", "Filter.1.Value.1", "x"}, nil, "InvalidParameterValue"},
		{"max results and ids", []string{"MaxResults", "5", "SpotInstanceRequestId.1", ids[0]}, nil, "InvalidParameterCombination"},
		{"max results too small", []string{"MaxResults", "2"}, nil, "InvalidParameterValue"},
		{"bad token", []string{"NextToken", "!!"}, nil, "InvalidPaginationToken"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.code != "" {
				tc.fails(http.StatusBadRequest, c.code, "DescribeSpotInstanceRequests", c.args...)
				return
			}
			r := tc.ok("DescribeSpotInstanceRequests", c.args...)
			if got := r.root.texts("spotInstanceRequestSet/item/spotInstanceRequestId"); strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("requests %q, want %q", got, c.want)
			}
		})
	}
	// Pages of five.
	p1 := tc.ok("DescribeSpotInstanceRequests", "MaxResults", "5")
	p2 := tc.ok("DescribeSpotInstanceRequests", "MaxResults", "5", "NextToken", p1.root.get("nextToken"))
	got := append(p1.root.texts("spotInstanceRequestSet/item/spotInstanceRequestId"), p2.root.texts("spotInstanceRequestSet/item/spotInstanceRequestId")...)
	if strings.Join(got, ",") != strings.Join(ids, ",") || p2.root.has("nextToken") {
		t.Errorf("pages gave %q", got)
	}
}

func TestSpotClientToken(t *testing.T) {
	tc := newTestCloud(t)
	args := []string{"SpotPrice", "0.10", "InstanceCount", "2", "LaunchSpecification.ImageId", "ami-12345678", "ClientToken", "job-1"}
	first := tc.ok("RequestSpotInstances", args...).root.texts("spotInstanceRequestSet/item/spotInstanceRequestId")
	again := tc.ok("RequestSpotInstances", args...).root.texts("spotInstanceRequestSet/item/spotInstanceRequestId")
	if len(first) != 2 || strings.Join(first, ",") != strings.Join(again, ",") {
		t.Errorf("retry made %q, first %q", again, first)
	}
	tc.fails(http.StatusBadRequest, "IdempotentParameterMismatch", "RequestSpotInstances",
		"SpotPrice", "0.20", "InstanceCount", "2", "LaunchSpecification.ImageId", "ami-12345678", "ClientToken", "job-1")
	// Tokens are per account.
	r := tc.doAs(bob, "RequestSpotInstances", args...)
	if r.status != http.StatusOK || slices.Contains(first, r.root.get("spotInstanceRequestSet/item/spotInstanceRequestId")) {
		t.Errorf("bob's request with alice's token: %s", r)
	}
	if got := len(tc.ok("DescribeSpotInstanceRequests").root.all("spotInstanceRequestSet/item")); got != 2 {
		t.Errorf("%d requests after the retry, want 2", got)
	}

	// A flavor that ignores ClientToken makes new requests every time.
	os := newTestCloud(t, func(cfg *Config) { cfg.Flavor = FlavorOpenStack })
	a := os.ok("RequestSpotInstances", args...).root.texts("spotInstanceRequestSet/item/spotInstanceRequestId")
	b := os.ok("RequestSpotInstances", args...).root.texts("spotInstanceRequestSet/item/spotInstanceRequestId")
	if strings.Join(a, ",") == strings.Join(b, ",") {
		t.Errorf("openstack flavor honoured ClientToken")
	}
}

func TestDescribeSpotPriceHistory(t *testing.T) {
	// The history starts in the past and moves twice since.
	clock := &fakeClock{t: time.Now().Add(-clockLeeway)}
	tc := newTestCloud(t, func(cfg *Config) { cfg.Now = clock.Now })
	start := clock.Now()
	clock.Add(clockLeeway / 2)
	setSpotPrice(t, tc.s, "m1.small", 0.07)
	mid := clock.Now()
	clock.Add(clockLeeway / 2)
	setSpotPrice(t, tc.s, "m1.small", 0.06)
	last := clock.Now()
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

	prices := func(r *response) string {
		var out []string
		for _, it := range r.root.all("spotPriceHistorySet/item") {
			out = append(out, it.get("availabilityZone")+"="+it.get("spotPrice"))
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		name string
		args []string
		want string
		code string
	}{
		{"boto 2's bare InstanceType", []string{"InstanceType", "m1.small"},
			"us-east-1a=0.060000,us-east-1b=0.060000,us-east-1a=0.070000,us-east-1b=0.070000,us-east-1a=0.050000,us-east-1b=0.050000", ""},
		{"InstanceType.1 and a zone", []string{"InstanceType.1", "m1.small", "AvailabilityZone", "us-east-1b"},
			"us-east-1b=0.060000,us-east-1b=0.070000,us-east-1b=0.050000", ""},
		{"since mid: the price in force then, and later", []string{"InstanceType.1", "m1.small", "AvailabilityZone", "us-east-1a", "StartTime", ts(mid.Add(time.Minute))},
			"us-east-1a=0.060000,us-east-1a=0.070000", ""},
		{"until mid", []string{"InstanceType.1", "m1.small", "AvailabilityZone", "us-east-1a", "EndTime", ts(mid.Add(time.Minute))},
			"us-east-1a=0.070000,us-east-1a=0.050000", ""},
		{"a window", []string{"InstanceType.1", "m1.small", "AvailabilityZone", "us-east-1a", "StartTime", ts(start.Add(time.Minute)), "EndTime", ts(start.Add(2 * time.Minute))},
			"us-east-1a=0.050000", ""},
		{"linux product", []string{"InstanceType.1", "m1.small", "ProductDescription.1", "Linux/UNIX", "Filter.1.Name", "availability-zone", "Filter.1.Value.1", "us-east-1a", "MaxResults", "1"},
			"us-east-1a=0.060000", ""},
		{"windows has no prices", []string{"InstanceType.1", "m1.small", "ProductDescription.1", "Windows"}, "", ""},
		{"a type without a market", []string{"InstanceType.1", "x9.huge"}, "", ""},
		{"filter spot price", []string{"InstanceType.1", "m1.small", "Filter.1.Name", "spot-price", "Filter.1.Value.1", "0.07"}, "us-east-1a=0.070000,us-east-1b=0.070000", ""},
		{"bad type", []string{"InstanceType.1", "big"}, "", "InvalidParameterValue"},
		{"unknown zone", []string{"AvailabilityZone", "mars-1a"}, "", "InvalidParameterValue"},
		{"bad time", []string{"StartTime", "yesterday"}, "", "InvalidParameterValue"},
		{"end before start", []string{"StartTime", ts(last), "EndTime", ts(start)}, "", "InvalidParameterValue"},
		{"max results zero", []string{"MaxResults", "0"}, "", "InvalidParameterValue"},
		{"bad token", []string{"NextToken", "AAAA"}, "", "InvalidPaginationToken"},
		{"unknown filter", []string{"Filter.1.Name", "colour", "Filter.1.Value.1", "x"}, "", "InvalidParameterValue"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.code != "" {
				tc.fails(http.StatusBadRequest, c.code, "DescribeSpotPriceHistory", c.args...)
				return
			}
			r := tc.ok("DescribeSpotPriceHistory", c.args...)
			if got := prices(r); got != c.want {
				t.Errorf("history %s, want %s", got, c.want)
			}
		})
	}
	r := tc.ok("DescribeSpotPriceHistory", "InstanceType", "m1.small", "MaxResults", "1")
	it := r.root.all("spotPriceHistorySet/item")[0]
	if it.get("instanceType") != "m1.small" || it.get("productDescription") != "Linux/UNIX" || it.get("timestamp") != last.UTC().Format(timeLayout) {
		t.Errorf("item %s", r.body)
	}
	// Paging, one at a time, visits every point of every market once.
	all := tc.ok("DescribeSpotPriceHistory").root.all("spotPriceHistorySet/item")
	if len(all) != len(spotMarketTypes)*2+4 {
		t.Errorf("%d points in all, want %d", len(all), len(spotMarketTypes)*2+4)
	}
	seen, next := 0, ""
	for range len(all) + 1 {
		args := []string{"MaxResults", "7"}
		if next != "" {
			args = append(args, "NextToken", next)
		}
		r := tc.ok("DescribeSpotPriceHistory", args...)
		seen += len(r.root.all("spotPriceHistorySet/item"))
		if next = r.root.get("nextToken"); next == "" {
			break
		}
	}
	if seen != len(all) {
		t.Errorf("pages gave %d points, want %d", seen, len(all))
	}
}

// TestSpotMarketMoves: with an interval the price walks within [min, max] by at most a
// step, and the history keeps each move.
func TestSpotMarketMoves(t *testing.T) {
	tc, clock := spotClockCloud(t, func(cfg *Config) {
		cfg.Spot = SpotMarket{InitialPrice: 0.05, MinPrice: 0.04, MaxPrice: 0.06, Step: 0.005, Interval: 10 * time.Second}
	})
	st := spotOf(tc.s)
	clock.Add(5 * time.Minute)
	k := spotKey{"m1.small", "us-east-1a"}
	deadline := time.Now().Add(testWait)
	for {
		tc.s.mu.RLock()
		n := len(st.prices[k])
		tick := st.meta.Tick
		tc.s.mu.RUnlock()
		if tick == 30 && n > 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the market made %d moves (%d points), want 30", tick, n)
		}
		time.Sleep(testPoll)
	}
	r := tc.ok("DescribeSpotPriceHistory", "InstanceType", "m1.small", "AvailabilityZone", "us-east-1a")
	items := r.root.all("spotPriceHistorySet/item")
	var prev price
	for i := len(items) - 1; i >= 0; i-- { // oldest first
		p, ok := parsePrice(items[i].get("spotPrice"))
		if !ok || p < 40_000 || p > 60_000 {
			t.Errorf("price %q outside [0.04, 0.06]", items[i].get("spotPrice"))
		}
		if prev != 0 && (p-prev > 5_000 || prev-p > 5_000) {
			t.Errorf("a move from %v to %v is more than a step", prev, p)
		}
		prev = p
	}
	if len(items) < 2 {
		t.Errorf("%d points after 30 moves", len(items))
	}
}

func TestSpotSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: time.Now()}
	cfg := testConfig(t, dir)
	cfg.Now = clock.Now
	a := startTestCloud(t, cfg)
	active := a.requestSpot("0.10", "Type", "persistent", "ClientToken", "kept",
		"TagSpecification.1.ResourceType", "spot-instances-request", "TagSpecification.1.Tag.1.Key", "k", "TagSpecification.1.Tag.1.Value", "v")
	inst := a.waitSpot(active, "active", "").get("instanceId")
	open := a.requestSpot("0.01", "LaunchSpecification.InstanceType", "c9.rare")
	a.waitSpot(open, "open", "price-too-low")
	setSpotPrice(t, a.s, "m1.small", 0.08)
	clock.Add(time.Second)
	history := a.ok("DescribeSpotPriceHistory", "InstanceType", "m1.small").root.texts("spotPriceHistorySet/item/spotPrice")
	a.close()

	b := startTestCloud(t, cfg)
	r := b.spotRequest(active)
	if r.get("state") != "active" || r.get("instanceId") != inst || r.get("type") != "persistent" || r.get("tagSet/item/value") != "v" {
		t.Errorf("active request after restart: %s/%s %s", r.get("state"), r.get("status/code"), r.get("instanceId"))
	}
	if r := b.spotRequest(open); r.get("state") != "open" || r.get("launchSpecification/instanceType") != "c9.rare" {
		t.Errorf("open request after restart: %s", r.get("state"))
	}
	// The history is kept; the fixed market is back at its configured price, which a
	// restarted cloud takes up again.
	history = append([]string{"0.050000", "0.050000"}, history...)
	if got := b.ok("DescribeSpotPriceHistory", "InstanceType", "m1.small").root.texts("spotPriceHistorySet/item/spotPrice"); strings.Join(got, ",") != strings.Join(history, ",") {
		t.Errorf("history after restart %q, want %q", got, history)
	}
	if !b.ok("DescribeSpotPriceHistory", "InstanceType", "c9.rare").root.has("spotPriceHistorySet/item") {
		t.Errorf("the market of a requested type is gone after restart")
	}
	again := b.ok("RequestSpotInstances", "SpotPrice", "0.10", "Type", "persistent", "LaunchSpecification.ImageId", "ami-12345678", "ClientToken", "kept",
		"TagSpecification.1.ResourceType", "spot-instances-request", "TagSpecification.1.Tag.1.Key", "k", "TagSpecification.1.Tag.1.Value", "v")
	if got := again.root.get("spotInstanceRequestSet/item/spotInstanceRequestId"); got != active {
		t.Errorf("client token after restart gave %s, want %s", got, active)
	}
	// The market still reclaims after a restart.
	setSpotPrice(t, b.s, "m1.small", 0.50)
	b.waitSpot(active, "active", "marked-for-termination")
	clock.Add(spotTerminationNotice)
	b.waitSpot(active, "open", "instance-terminated-by-price")
}

// TestSpotConfiguredFixedPrice: a restarted cloud with another fixed price moves the
// market to it.
func TestSpotConfiguredFixedPrice(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.Spot = SpotMarket{InitialPrice: 0.05, MinPrice: 0.05, MaxPrice: 0.05}
	a := startTestCloud(t, cfg)
	if got := a.ok("DescribeSpotPriceHistory", "InstanceType", "m1.small", "MaxResults", "1").root.get("spotPriceHistorySet/item/spotPrice"); got != "0.050000" {
		t.Errorf("price %s", got)
	}
	a.close()
	cfg.Spot = SpotMarket{InitialPrice: 0.03, MinPrice: 0.01, MaxPrice: 0.1}
	b := startTestCloud(t, cfg)
	if got := b.ok("DescribeSpotPriceHistory", "InstanceType", "m1.small", "MaxResults", "1").root.get("spotPriceHistorySet/item/spotPrice"); got != "0.030000" {
		t.Errorf("price after reconfiguring %s", got)
	}
	b.close()
	cfg.Spot = SpotMarket{MinPrice: 1, MaxPrice: 0.5}
	if _, err := New(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "spot") {
		t.Errorf("a bad market: %v", err)
	}
}

// TestSDKSpot runs request, describe until active, price history and cancel with
// aws-sdk-go-v2.
func TestSDKSpot(t *testing.T) {
	tc := newTestCloud(t)
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	cli := sdkClient(tc, alice, "")
	req, err := cli.RequestSpotInstances(ctx, &ec2.RequestSpotInstancesInput{
		SpotPrice: aws.String("0.50"), InstanceCount: aws.Int32(1), Type: types.SpotInstanceTypeOneTime,
		LaunchSpecification: &types.RequestSpotLaunchSpecification{ImageId: aws.String("ami-12345678"), InstanceType: types.InstanceTypeM1Small},
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSpotInstancesRequest,
			Tags: []types.Tag{{Key: aws.String("job"), Value: aws.String("1")}}}},
	})
	if err != nil || len(req.SpotInstanceRequests) != 1 {
		t.Fatalf("RequestSpotInstances: %v %+v", err, req)
	}
	sir := aws.ToString(req.SpotInstanceRequests[0].SpotInstanceRequestId)
	if req.SpotInstanceRequests[0].State != types.SpotInstanceStateOpen || aws.ToString(req.SpotInstanceRequests[0].SpotPrice) != "0.500000" {
		t.Errorf("new request %+v", req.SpotInstanceRequests[0])
	}
	var r types.SpotInstanceRequest
	for deadline := time.Now().Add(testWait); ; {
		d, err := cli.DescribeSpotInstanceRequests(ctx, &ec2.DescribeSpotInstanceRequestsInput{
			Filters: []types.Filter{{Name: aws.String("spot-instance-request-id"), Values: []string{sir}}}})
		if err != nil || len(d.SpotInstanceRequests) != 1 {
			t.Fatalf("DescribeSpotInstanceRequests: %v %+v", err, d)
		}
		if r = d.SpotInstanceRequests[0]; r.State == types.SpotInstanceStateActive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("request still %s", r.State)
		}
		time.Sleep(testPoll)
	}
	if aws.ToString(r.Status.Code) != "fulfilled" || aws.ToString(r.InstanceId) == "" || r.CreateTime == nil || len(r.Tags) != 1 ||
		r.ProductDescription != types.RIProductDescriptionLinuxUnix || aws.ToString(r.LaunchSpecification.ImageId) != "ami-12345678" {
		t.Errorf("active request %+v", r)
	}
	inst, err := cli.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{aws.ToString(r.InstanceId)}})
	if err != nil || inst.Reservations[0].Instances[0].InstanceLifecycle != types.InstanceLifecycleTypeSpot ||
		aws.ToString(inst.Reservations[0].Instances[0].SpotInstanceRequestId) != sir {
		t.Errorf("spot instance: %v", err)
	}
	hist, err := cli.DescribeSpotPriceHistory(ctx, &ec2.DescribeSpotPriceHistoryInput{InstanceTypes: []types.InstanceType{types.InstanceTypeM1Small},
		ProductDescriptions: []string{"Linux/UNIX"}, StartTime: aws.Time(time.Now().Add(-time.Hour))})
	if err != nil || len(hist.SpotPriceHistory) != 2 || aws.ToString(hist.SpotPriceHistory[0].SpotPrice) != "0.050000" ||
		hist.SpotPriceHistory[0].Timestamp == nil || aws.ToString(hist.SpotPriceHistory[0].AvailabilityZone) == "" {
		t.Errorf("DescribeSpotPriceHistory: %v %+v", err, hist)
	}
	pages := ec2.NewDescribeSpotPriceHistoryPaginator(cli, &ec2.DescribeSpotPriceHistoryInput{MaxResults: aws.Int32(3)})
	n := 0
	for pages.HasMorePages() && n < 100 {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.SpotPriceHistory)
	}
	if n != len(spotMarketTypes)*2 {
		t.Errorf("paginator gave %d points, want %d", n, len(spotMarketTypes)*2)
	}
	c, err := cli.CancelSpotInstanceRequests(ctx, &ec2.CancelSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{sir}})
	if err != nil || len(c.CancelledSpotInstanceRequests) != 1 || c.CancelledSpotInstanceRequests[0].State != types.CancelSpotInstanceRequestStateCancelled {
		t.Errorf("CancelSpotInstanceRequests: %v %+v", err, c)
	}
	_, err = cli.CancelSpotInstanceRequests(ctx, &ec2.CancelSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{"sir-zzzzzzzz"}})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidSpotInstanceRequestID.NotFound" {
		t.Errorf("cancel an unknown request: %v", err)
	}
}

// httpGet fetches url, giving the status and body.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestPriceToken(t *testing.T) {
	r := priceRow{spotKey{"m1.small", "us-east-1a"}, pricePoint{at: time.Unix(1700000000, 5).UTC()}}
	got, ok := decodePriceToken(encodePriceToken(r))
	if !ok || got.spotKey != r.spotKey || !got.at.Equal(r.at) {
		t.Errorf("round trip: %+v %v", got, ok)
	}
	for _, bad := range []string{"", "!!", "AQ", encodePageToken(5)} {
		if _, ok := decodePriceToken(bad); ok {
			t.Errorf("decodePriceToken(%q) accepted", bad)
		}
	}
}

// FuzzPriceToken: decodePriceToken never panics, and what it accepts encodes back to an
// equal row.
func FuzzPriceToken(f *testing.F) {
	f.Add(encodePriceToken(priceRow{spotKey{"m1.small", "us-east-1a"}, pricePoint{at: time.Unix(1, 0)}}))
	f.Add("AQAAAAAAAAAAbTEuc21hbGwAdXMtZWFzdC0xYQ")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		r, ok := decodePriceToken(tok)
		if !ok {
			return
		}
		back, ok := decodePriceToken(encodePriceToken(r))
		if !ok || back.spotKey != r.spotKey || !back.at.Equal(r.at) {
			t.Fatalf("%q: %+v does not round-trip (%+v)", tok, r, back)
		}
	})
}

// FuzzParsePrice: parsePrice never panics, and what it accepts is a positive price that
// prints and parses back to itself.
func FuzzParsePrice(f *testing.F) {
	for _, s := range []string{"0.05", "1", "0.000001", "1e-7", "-1", "NaN", "999999.999999", " 2 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := parsePrice(s)
		if !ok {
			return
		}
		if p <= 0 || p > maxSpotPrice {
			t.Fatalf("%q gave %d", s, p)
		}
		if back, ok := parsePrice(p.String()); !ok || back != p {
			t.Fatalf("%q: %v does not round-trip (%d, %v)", s, p, back, ok)
		}
	})
}

// FuzzResourceActions drives the actions of spot.go, addresses.go, volumes.go,
// catalog.go and console.go with any parameters: every answer is an EC2 document.
func FuzzResourceActions(f *testing.F) {
	for _, seed := range []string{
		"Action=RequestSpotInstances&SpotPrice=0.1&InstanceCount=2&Type=persistent&LaunchSpecification.ImageId=ami-12345678&ValidUntil=2999-01-01T00:00:00Z",
		"Action=RequestSpotInstances&SpotPrice=0.01&LaunchSpecification.ImageId=ami-12345678&LaunchSpecification.NetworkInterface.1.PrivateIpAddress=10.0.0.9&ClientToken=t",
		"Action=DescribeSpotInstanceRequests&Filter.1.Name=state&Filter.1.Value.1=open&MaxResults=5&NextToken=AQAAAAAAAAAB",
		"Action=CancelSpotInstanceRequests&SpotInstanceRequestId.1=sir-abcdefgh",
		"Action=DescribeSpotPriceHistory&InstanceType=m1.small&StartTime=2020-01-01T00:00:00Z&MaxResults=3",
		"Action=DescribeSpotPriceHistory&NextToken=AQAAAAAAAAAAbTEuc21hbGwAdXMtZWFzdC0xYQ",
		"Action=AllocateAddress&Domain=vpc",
		"Action=AssociateAddress&PublicIp=198.51.100.1&InstanceId=i-0123456789abcdef0",
		"Action=DescribeAddresses&Filter.1.Name=instance-id&Filter.1.Value.1=i-*",
		"Action=DisassociateAddress&AssociationId=eipassoc-12345678",
		"Action=ReleaseAddress&PublicIp=198.51.100.1",
		"Action=CreateVolume&AvailabilityZone=us-east-1a&Size=8&VolumeType=gp3&Iops=4000",
		"Action=AttachVolume&VolumeId=vol-12345678&InstanceId=i-12345678&Device=/dev/sdf",
		"Action=DescribeVolumes&MaxResults=5&Filter.1.Name=status&Filter.1.Value.1=available",
		"Action=DetachVolume&VolumeId=vol-12345678",
		"Action=DeleteVolume&VolumeId=vol-12345678",
		"Action=DescribeImages&Owner.1=amazon&ExecutableBy.1=all&Filter.1.Name=name&Filter.1.Value.1=*",
		"Action=DescribeRegions&RegionName.1=us-east-1",
		"Action=DescribeAvailabilityZones&ZoneId.1=use1-az1",
		"Action=GetConsoleOutput&InstanceId=i-0123456789abcdef0",
	} {
		f.Add(seed)
	}
	// Few instances are launched here (spot requests launch one each); a fresh cloud
	// now and then keeps state small so the fuzzer stays fast.
	const fuzzMaxRequests = 2000
	var s *Server
	base := f.TempDir()
	fresh := func() {
		if s != nil {
			s.Close()
		}
		dir, err := os.MkdirTemp(base, "cloud")
		if err != nil {
			f.Fatal(err)
		}
		s, err = New(context.Background(), Config{StateDir: dir, Accounts: []Account{alice}, BootDelay: time.Hour}, nil)
		if err != nil {
			f.Fatal(err)
		}
	}
	fresh()
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, body string) {
		s.mu.RLock()
		n := len(spotOf(s).list) + len(s.mem.byID)
		s.mu.RUnlock()
		if n > fuzzMaxRequests {
			fresh()
		}
		u := &url.URL{Scheme: "http", Host: "127.0.0.1:1", Path: "/"}
		req, err := http.NewRequest(http.MethodPost, u.String(), strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		signRequest(t, req, []byte(body), alice)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		out := rec.Body.Bytes()
		if rec.Code == http.StatusInternalServerError || !bytes.Contains(out, []byte("Response")) {
			t.Fatalf("answer %d %s", rec.Code, out)
		}
		if err := xml.Unmarshal(out, new(node)); err != nil {
			t.Fatalf("answer is not XML: %v: %s", err, out)
		}
	})
}

// TestSpotRequestsPurged: ended requests vanish after TerminatedRetention, with their
// tags and client tokens; live ones stay.
func TestSpotRequestsPurged(t *testing.T) {
	tc, clock := spotClockCloud(t, func(cfg *Config) { cfg.TerminatedRetention = 5 * time.Minute })
	ended := tc.requestSpot("0.01", "ClientToken", "once",
		"TagSpecification.1.ResourceType", "spot-instances-request", "TagSpecification.1.Tag.1.Key", "k", "TagSpecification.1.Tag.1.Value", "v")
	waiting := tc.requestSpot("0.01")
	tc.waitSpot(ended, "open", "price-too-low")
	tc.ok("CancelSpotInstanceRequests", "SpotInstanceRequestId.1", ended)
	clock.Add(6 * time.Minute)
	deadline := time.Now().Add(testWait)
	for tc.do("DescribeSpotInstanceRequests", "SpotInstanceRequestId.1", ended).code() != "InvalidSpotInstanceRequestID.NotFound" {
		if time.Now().After(deadline) {
			t.Fatal("the cancelled request was never purged")
		}
		time.Sleep(testPoll)
	}
	if got := tc.spotRequest(waiting).get("state"); got != "open" {
		t.Errorf("the open request is %s", got)
	}
	if r := tc.ok("DescribeTags", "Filter.1.Name", "resource-type", "Filter.1.Value.1", "spot-instances-request"); r.root.has("tagSet/item") {
		t.Errorf("a purged request's tags remain: %s", r.body)
	}
	if again := tc.requestSpot("0.01", "ClientToken", "once"); again == ended {
		t.Errorf("a purged request's client token still answers it")
	}
}
