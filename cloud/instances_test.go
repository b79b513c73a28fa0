package cloud

import (
	"strings"
	"testing"
)

func TestInstanceLifecycle(t *testing.T) {
	tc := newTestCloud(t)
	r := tc.ok("RunInstances", "ImageId", "ami-12345678", "MinCount", "1", "MaxCount", "1")
	if r.root.get("ownerId") != alice.OwnerID || !strings.HasPrefix(r.root.get("reservationId"), "r-") {
		t.Errorf("reservation: %s", r.body)
	}
	id := r.root.get("instancesSet/item/instanceId")
	item := r.root.all("instancesSet/item")[0]
	for path, want := range map[string]string{
		"instanceState/code": "0", "instanceState/name": "pending", "instanceType": "m1.small",
		"privateDnsName": "", "dnsName": "", "stateReason/code": "pending", "amiLaunchIndex": "0",
		"placement/availabilityZone": "us-east-1a", "groupSet/item/groupName": "default",
	} {
		if got := item.get(path); got != want {
			t.Errorf("RunInstances %s = %q, want %q", path, got, want)
		}
	}
	if !item.has("privateIpAddress") || item.has("ipAddress") {
		t.Errorf("pending instance addresses: %s", r.body)
	}

	in := tc.waitState(id, "running")
	if in.get("instanceState/code") != "16" || !strings.HasSuffix(in.get("dnsName"), ".compute-1.amazonaws.com") ||
		!strings.HasSuffix(in.get("privateDnsName"), ".ec2.internal") || in.get("ipAddress") == "" || in.has("stateReason") {
		t.Errorf("running instance: %+v", in)
	}

	r = tc.ok("TerminateInstances", "InstanceId.1", id)
	if r.root.get("instancesSet/item/currentState/name") != "shutting-down" ||
		r.root.get("instancesSet/item/previousState/name") != "running" ||
		r.root.get("instancesSet/item/currentState/code") != "32" {
		t.Errorf("TerminateInstances: %s", r.body)
	}
	in = tc.waitState(id, "terminated")
	if in.get("stateReason/code") != "Client.UserInitiatedShutdown" ||
		in.get("stateReason/message") != "Client.UserInitiatedShutdown: User initiated shutdown" ||
		!strings.HasPrefix(in.get("reason"), "User initiated (") {
		t.Errorf("terminated instance reasons: %+v", in)
	}
	if in.get("dnsName") != "" || in.get("privateDnsName") != "" || in.has("ipAddress") || in.has("privateIpAddress") {
		t.Errorf("terminated instance keeps addresses")
	}
	// Terminating again is a no-op, as on EC2.
	r = tc.ok("TerminateInstances", "InstanceId.1", id)
	if r.root.get("instancesSet/item/currentState/name") != "terminated" || r.root.get("instancesSet/item/previousState/name") != "terminated" {
		t.Errorf("second TerminateInstances: %s", r.body)
	}
}
