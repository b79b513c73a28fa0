package cloud

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
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

func TestRunInstancesErrors(t *testing.T) {
	tc := newTestCloud(t)
	tc.ok("CreateKeyPair", "KeyName", "k")
	big := base64.StdEncoding.EncodeToString(make([]byte, maxUserData+1))
	base := func(kv ...string) []string {
		return append([]string{"ImageId", "ami-12345678", "MinCount", "1", "MaxCount", "1"}, kv...)
	}
	for _, c := range []struct {
		name string
		args []string
		code string
	}{
		{"no image", []string{"MinCount", "1", "MaxCount", "1"}, "MissingParameter"},
		{"malformed image", []string{"ImageId", "img-1", "MinCount", "1", "MaxCount", "1"}, "InvalidAMIID.Malformed"},
		{"unknown image", []string{"ImageId", "ami-00000000", "MinCount", "1", "MaxCount", "1"}, "InvalidAMIID.NotFound"},
		{"no MinCount", []string{"ImageId", "ami-12345678", "MaxCount", "1"}, "MissingParameter"},
		{"no MaxCount", []string{"ImageId", "ami-12345678", "MinCount", "1"}, "MissingParameter"},
		{"MinCount 0", []string{"ImageId", "ami-12345678", "MinCount", "0", "MaxCount", "1"}, "InvalidParameterValue"},
		{"MinCount not a number", []string{"ImageId", "ami-12345678", "MinCount", "x", "MaxCount", "1"}, "InvalidParameterValue"},
		{"MaxCount < MinCount", []string{"ImageId", "ami-12345678", "MinCount", "3", "MaxCount", "2"}, "InvalidParameterValue"},
		{"too many", []string{"ImageId", "ami-12345678", "MinCount", "1001", "MaxCount", "1001"}, "InstanceLimitExceeded"},
		{"unknown key", base("KeyName", "nope"), "InvalidKeyPair.NotFound"},
		{"user data not base64", base("UserData", "!!!"), "InvalidParameterValue"},
		{"user data too big", base("UserData", big), "InvalidParameterValue"},
		{"shutdown behaviour", base("InstanceInitiatedShutdownBehavior", "explode"), "InvalidParameterValue"},
		{"zone", base("Placement.AvailabilityZone", "mars-1a"), "InvalidParameterValue"},
		{"instance type", base("InstanceType", "huge"), "InvalidParameterValue"},
		{"client token too long", base("ClientToken", strings.Repeat("t", 65)), "InvalidParameterValue"},
		{"subnet", base("SubnetId", "net-1"), "InvalidSubnetID.Malformed"},
		{"group id", base("SecurityGroupId.1", "group"), "InvalidGroupId.Malformed"},
		{"private ip", base("PrivateIpAddress", "8.8.8.8"), "InvalidParameterValue"},
		{"private ip with many", []string{"ImageId", "ami-12345678", "MinCount", "1", "MaxCount", "2", "PrivateIpAddress", "10.1.2.3"}, "InvalidParameterCombination"},
		{"tag spec type", base("TagSpecification.1.ResourceType", "bucket", "TagSpecification.1.Tag.1.Key", "a"), "InvalidParameterValue"},
		{"tag spec aws:", base("TagSpecification.1.ResourceType", "instance", "TagSpecification.1.Tag.1.Key", "aws:x"), "InvalidParameterValue"},
		{"device without name", base("BlockDeviceMapping.1.Ebs.VolumeSize", "8"), "MissingParameter"},
		{"volume size", base("BlockDeviceMapping.1.DeviceName", "/dev/sdb", "BlockDeviceMapping.1.Ebs.VolumeSize", "0"), "InvalidParameterValue"},
		{"dry run", base("DryRun", "true"), "DryRunOperation"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := tc.do("RunInstances", c.args...)
			want := http.StatusBadRequest
			if c.code == "DryRunOperation" {
				want = http.StatusPreconditionFailed
			}
			if r.status != want || r.code() != c.code {
				t.Errorf("want %d %s, got %s", want, c.code, r)
			}
		})
	}
	// None of them launched anything.
	if r := tc.ok("DescribeInstances"); r.root.has("reservationSet/item") {
		t.Errorf("a failed RunInstances launched: %s", r.body)
	}
}

func TestRunInstancesParameters(t *testing.T) {
	tc := newTestCloud(t)
	tc.ok("CreateKeyPair", "KeyName", "mykey")
	r := tc.ok("RunInstances", "ImageId", "ami-12345678", "MinCount", "2", "MaxCount", "3",
		"KeyName", "mykey", "InstanceType", "m5.large", "Placement.AvailabilityZone", "us-east-1b",
		"SubnetId", "subnet-0123abcd", "SecurityGroup.0", "web", "SecurityGroup.1", "db",
		"SecurityGroupId.1", "sg-0123456789abcdef0",
		"IamInstanceProfile.Name", "worker",
		"BlockDeviceMapping.1.DeviceName", "/dev/sdb", "BlockDeviceMapping.1.VirtualName", "ephemeral0",
		"BlockDeviceMapping.2.DeviceName", "/dev/sdc", "BlockDeviceMapping.2.Ebs.VolumeSize", "20",
		"BlockDeviceMapping.2.Ebs.DeleteOnTermination", "false",
		"TagSpecification.1.ResourceType", "instance", "TagSpecification.1.Tag.1.Key", "Name",
		"TagSpecification.1.Tag.1.Value", "web-1", "TagSpecification.2.ResourceType", "volume",
		"TagSpecification.2.Tag.1.Key", "v", "InstanceInitiatedShutdownBehavior", "terminate")
	items := r.root.all("instancesSet/item")
	if len(items) != 3 {
		t.Fatalf("MaxCount 3 launched %d", len(items))
	}
	if got := r.root.texts("groupSet/item/groupName"); !slices.Equal(got, []string{"web", "db", "sg-0123456789abcdef0"}) {
		t.Errorf("reservation groups %q", got)
	}
	for i, in := range items {
		for path, want := range map[string]string{
			"keyName": "mykey", "instanceType": "m5.large", "placement/availabilityZone": "us-east-1b",
			"subnetId": "subnet-0123abcd", "amiLaunchIndex": fmt.Sprint(i),
			"iamInstanceProfile/arn": "arn:aws:iam::" + alice.OwnerID + ":instance-profile/worker",
			"tagSet/item/key":        "Name", "tagSet/item/value": "web-1", "rootDeviceType": "ebs",
		} {
			if got := in.get(path); got != want {
				t.Errorf("instance %d %s = %q, want %q", i, path, got, want)
			}
		}
		if !strings.HasPrefix(in.get("vpcId"), "vpc-") || len(in.all("groupSet/item")) != 3 {
			t.Errorf("instance %d: vpc/groups: %+v", i, in)
		}
		devs := in.texts("blockDeviceMapping/item/deviceName")
		if !slices.Equal(devs, []string{"/dev/sda1", "/dev/sdc"}) {
			t.Errorf("instance %d devices %q (EBS ones only)", i, devs)
		}
		if in.all("blockDeviceMapping/item")[1].get("ebs/deleteOnTermination") != "false" {
			t.Errorf("deleteOnTermination not kept")
		}
	}
	// A private address is honoured; instances have distinct addresses otherwise.
	r = tc.ok("RunInstances", "ImageId", "ami-12345678", "MinCount", "1", "MaxCount", "1", "PrivateIpAddress", "10.9.8.7")
	if got := r.root.get("instancesSet/item/privateIpAddress"); got != "10.9.8.7" {
		t.Errorf("privateIpAddress %q", got)
	}
	ips := map[string]bool{}
	for _, in := range items {
		ips[in.get("privateIpAddress")] = true
	}
	if len(ips) != 3 {
		t.Errorf("private addresses not distinct: %v", ips)
	}
}

func TestClientTokenIdempotency(t *testing.T) {
	for _, c := range []struct {
		flavor  string
		honours bool
	}{{FlavorAWS, true}, {FlavorNimbus, true}, {FlavorOpenStack, false}, {FlavorEucalyptus, false}} {
		t.Run(c.flavor, func(t *testing.T) {
			tc := newTestCloud(t, func(cfg *Config) { cfg.Flavor = c.flavor })
			args := []string{"ImageId", "ami-12345678", "MinCount", "1", "MaxCount", "2", "ClientToken", "tok-1"}
			first := tc.ok("RunInstances", args...)
			again := tc.ok("RunInstances", args...)
			ids1, ids2 := first.root.texts("instancesSet/item/instanceId"), again.root.texts("instancesSet/item/instanceId")
			same := slices.Equal(ids1, ids2) && first.root.get("reservationId") == again.root.get("reservationId")
			if same != c.honours {
				t.Fatalf("same token: ids %q then %q; honoured=%v, want %v", ids1, ids2, same, c.honours)
			}
			other := append(slices.Clone(args), "InstanceType", "m5.large")
			r := tc.do("RunInstances", other...)
			all := tc.ok("DescribeInstances").root.texts("reservationSet/item/instancesSet/item/instanceId")
			if c.honours {
				if r.code() != "IdempotentParameterMismatch" {
					t.Errorf("changed parameters, same token: %s", r)
				}
				if len(all) != 2 {
					t.Errorf("%d instances, want 2", len(all))
				}
				if got := first.root.get("instancesSet/item/clientToken"); got != "tok-1" {
					t.Errorf("clientToken %q", got)
				}
				r := tc.ok("DescribeInstances", "Filter.1.Name", "client-token", "Filter.1.Value.1", "tok-1")
				if n := len(r.root.all("reservationSet/item/instancesSet/item")); n != 2 {
					t.Errorf("client-token filter: %d instances", n)
				}
				// A replay answers the instances as they are now.
				tc.waitState(ids1[0], "running")
				r = tc.ok("RunInstances", args...)
				if got := r.root.get("instancesSet/item/instanceState/name"); got != "running" {
					t.Errorf("replay state %q", got)
				}
			} else {
				if r.status != http.StatusOK {
					t.Errorf("token ignored, yet: %s", r)
				}
				if len(all) != 6 {
					t.Errorf("%d instances, want 6", len(all))
				}
			}
		})
	}
}

func TestClientTokenIsPerAccount(t *testing.T) {
	tc := newTestCloud(t)
	args := []string{"ImageId", "ami-12345678", "MinCount", "1", "MaxCount", "1", "ClientToken", "shared"}
	a := tc.ok("RunInstances", args...)
	b := tc.doAs(bob, "RunInstances", args...)
	if b.status != http.StatusOK || a.root.get("reservationId") == b.root.get("reservationId") {
		t.Errorf("bob's token replayed alice's reservation: %s", b)
	}
}

func TestDescribeInstancesFilters(t *testing.T) {
	tc := newTestCloud(t)
	tc.ok("CreateKeyPair", "KeyName", "k1")
	web := tc.run(2, "KeyName", "k1", "InstanceType", "m5.large", "TagSpecification.1.ResourceType", "instance",
		"TagSpecification.1.Tag.1.Key", "role", "TagSpecification.1.Tag.1.Value", "web")
	db := tc.run(1, "ClientToken", "db-token", "TagSpecification.1.ResourceType", "instance",
		"TagSpecification.1.Tag.1.Key", "role", "TagSpecification.1.Tag.1.Value", "database",
		"TagSpecification.1.Tag.2.Key", "Name", "TagSpecification.1.Tag.2.Value", "primary")
	old := tc.run(1, "ImageId", "ami-60bd4609")
	tc.ok("TerminateInstances", "InstanceId.1", old[0])
	tc.waitState(old[0], "terminated")
	all := slices.Concat(web, db, old)
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"none", nil, all},
		{"key-name", []string{"Filter.1.Name", "key-name", "Filter.1.Value.1", "k1"}, web},
		{"instance-type", []string{"Filter.1.Name", "instance-type", "Filter.1.Value.1", "m5.large"}, web},
		{"client-token", []string{"Filter.1.Name", "client-token", "Filter.1.Value.1", "db-token"}, db},
		{"state", []string{"Filter.1.Name", "instance-state-name", "Filter.1.Value.1", "terminated"}, old},
		{"state any of", []string{"Filter.1.Name", "instance-state-name", "Filter.1.Value.1", "pending", "Filter.1.Value.2", "running"}, slices.Concat(web, db)},
		{"state code", []string{"Filter.1.Name", "instance-state-code", "Filter.1.Value.1", "48"}, old},
		{"instance-id", []string{"Filter.1.Name", "instance-id", "Filter.1.Value.1", db[0]}, db},
		{"image-id", []string{"Filter.1.Name", "image-id", "Filter.1.Value.1", "ami-60bd4609"}, old},
		{"tag:role", []string{"Filter.1.Name", "tag:role", "Filter.1.Value.1", "web"}, web},
		{"tag:role wildcard", []string{"Filter.1.Name", "tag:role", "Filter.1.Value.1", "*a*"}, db},
		{"tag-key", []string{"Filter.1.Name", "tag-key", "Filter.1.Value.1", "Name"}, db},
		{"tag-value", []string{"Filter.1.Name", "tag-value", "Filter.1.Value.1", "w?b"}, web},
		{"two filters", []string{"Filter.1.Name", "tag-key", "Filter.1.Value.1", "role", "Filter.2.Name", "key-name", "Filter.2.Value.1", "k1"}, web},
		{"nothing matches", []string{"Filter.1.Name", "key-name", "Filter.1.Value.1", "zz"}, nil},
		{"ids and filter", []string{"InstanceId.1", web[0], "InstanceId.2", db[0], "Filter.1.Name", "tag:role", "Filter.1.Value.1", "web"}, web[:1]},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := tc.ok("DescribeInstances", c.args...)
			got := r.root.texts("reservationSet/item/instancesSet/item/instanceId")
			if !sameSet(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
	tc.fails(http.StatusBadRequest, "InvalidParameterValue", "DescribeInstances", "Filter.1.Name", "flavour", "Filter.1.Value.1", "x")
	tc.fails(http.StatusBadRequest, "MissingParameter", "DescribeInstances", "Filter.1.Value.1", "x")
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestDescribeInstancesByID(t *testing.T) {
	tc := newTestCloud(t)
	ids := tc.run(3)
	r := tc.ok("DescribeInstances", "InstanceId.1", ids[2], "InstanceId.2", ids[0], "InstanceId.3", ids[2])
	if got := r.root.texts("reservationSet/item/instancesSet/item/instanceId"); !sameSet(got, []string{ids[0], ids[2]}) {
		t.Errorf("got %q", got)
	}
	// The three came in one reservation.
	if n := len(r.root.all("reservationSet/item")); n != 1 {
		t.Errorf("%d reservations, want 1", n)
	}
	missing := "i-0000000000000000f"
	r = tc.fails(http.StatusBadRequest, "InvalidInstanceID.NotFound", "DescribeInstances", "InstanceId.1", ids[0], "InstanceId.2", missing)
	if msg := r.root.get("Errors/Error/Message"); msg != "The instance ID '"+missing+"' does not exist" {
		t.Errorf("message %q", msg)
	}
	r = tc.fails(http.StatusBadRequest, "InvalidInstanceID.NotFound", "DescribeInstances", "InstanceId.1", missing, "InstanceId.2", "i-12345678")
	if msg := r.root.get("Errors/Error/Message"); !strings.Contains(msg, "IDs '"+missing+", i-12345678' do not exist") {
		t.Errorf("message %q", msg)
	}
	tc.fails(http.StatusBadRequest, "InvalidInstanceID.Malformed", "DescribeInstances", "InstanceId.1", "instance-1")
	tc.fails(http.StatusBadRequest, "InvalidInstanceID.Malformed", "TerminateInstances", "InstanceId.1", "i-xyz")
	tc.fails(http.StatusBadRequest, "InvalidInstanceID.NotFound", "TerminateInstances", "InstanceId.1", ids[0], "InstanceId.2", missing)
	tc.fails(http.StatusBadRequest, "MissingParameter", "TerminateInstances")
	// A failed TerminateInstances changed nothing.
	if got := tc.instance(ids[0]).get("instanceState/name"); got == "shutting-down" || got == "terminated" {
		t.Errorf("a failed TerminateInstances terminated %s", ids[0])
	}
}

func TestDescribeInstancesPagination(t *testing.T) {
	// States must hold still while the pages are read: with the usual short boot delay a
	// loaded machine saw the shutting-down instance finish terminating mid-test.
	tc := newTestCloud(t, func(c *Config) { c.BootDelay = time.Hour })
	var all []string
	for range 4 {
		all = append(all, tc.run(6)...)
	}
	tc.ok("TerminateInstances", "InstanceId.1", all[3])
	for _, c := range []struct {
		max     int
		filters []string
		want    []string
	}{
		{5, nil, all},
		{7, nil, all},
		{1000, nil, all},
		{5, []string{"Filter.1.Name", "instance-state-name", "Filter.1.Value.1", "shutting-down"}, all[3:4]},
		{5, []string{"Filter.1.Name", "instance-state-name", "Filter.1.Value.1", "pending", "Filter.1.Value.2", "running"}, slices.Delete(slices.Clone(all), 3, 4)},
	} {
		var got []string
		token, pages := "", 0
		for {
			args := append([]string{"MaxResults", fmt.Sprint(c.max)}, c.filters...)
			if token != "" {
				args = append(args, "NextToken", token)
			}
			r := tc.ok("DescribeInstances", args...)
			page := r.root.texts("reservationSet/item/instancesSet/item/instanceId")
			if len(page) > c.max {
				t.Fatalf("page of %d, MaxResults %d", len(page), c.max)
			}
			got = append(got, page...)
			pages++
			token = r.root.get("nextToken")
			if token == "" {
				break
			}
			if len(page) == 0 || pages > 100 {
				t.Fatalf("empty page with a NextToken, or no end")
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("MaxResults %d %q: got %d instances %q, want %q", c.max, c.filters, len(got), got, c.want)
		}
		if wantPages := max(1, (len(c.want)+c.max-1)/c.max); pages != wantPages {
			t.Errorf("MaxResults %d: %d pages, want %d", c.max, pages, wantPages)
		}
	}
	tc.fails(http.StatusBadRequest, "InvalidParameterValue", "DescribeInstances", "MaxResults", "4")
	tc.fails(http.StatusBadRequest, "InvalidParameterValue", "DescribeInstances", "MaxResults", "1001")
	tc.fails(http.StatusBadRequest, "InvalidParameterCombination", "DescribeInstances", "MaxResults", "5", "InstanceId.1", all[0])
	tc.fails(http.StatusBadRequest, "InvalidPaginationToken", "DescribeInstances", "MaxResults", "5", "NextToken", "garbage!")
}

func TestStopStart(t *testing.T) {
	for _, c := range []struct{ flavor, stopped string }{{FlavorAWS, "stopped"}, {FlavorOpenStack, "shutoff"}} {
		t.Run(c.flavor, func(t *testing.T) {
			tc := newTestCloud(t, func(cfg *Config) { cfg.Flavor = c.flavor })
			id := tc.run(1)[0]
			tc.fails(http.StatusBadRequest, "IncorrectInstanceState", "StopInstances", "InstanceId.1", id)
			tc.waitState(id, "running")
			r := tc.ok("StopInstances", "InstanceId.1", id)
			if r.root.get("instancesSet/item/currentState/name") != "stopping" || r.root.get("instancesSet/item/currentState/code") != "64" {
				t.Errorf("StopInstances: %s", r.body)
			}
			in := tc.waitState(id, c.stopped)
			if in.get("instanceState/code") != "80" || in.get("stateReason/code") != "Client.UserInitiatedShutdown" ||
				in.has("ipAddress") || in.get("dnsName") != "" || in.get("privateDnsName") == "" {
				t.Errorf("stopped instance: %s", tc.ok("DescribeInstances").body)
			}
			r = tc.ok("DescribeInstances", "Filter.1.Name", "instance-state-name", "Filter.1.Value.1", c.stopped)
			if len(r.root.all("reservationSet/item")) != 1 {
				t.Errorf("state filter %s found nothing", c.stopped)
			}
			tc.ok("StopInstances", "InstanceId.1", id) // again: a no-op
			r = tc.ok("StartInstances", "InstanceId.1", id)
			if r.root.get("instancesSet/item/currentState/name") != "pending" || r.root.get("instancesSet/item/previousState/name") != c.stopped {
				t.Errorf("StartInstances: %s", r.body)
			}
			tc.waitState(id, "running")
			tc.ok("StartInstances", "InstanceId.1", id) // again: a no-op
			tc.ok("TerminateInstances", "InstanceId.1", id)
			tc.fails(http.StatusBadRequest, "IncorrectInstanceState", "StopInstances", "InstanceId.1", id)
			tc.fails(http.StatusBadRequest, "IncorrectInstanceState", "StartInstances", "InstanceId.1", id)

			store := tc.run(1, "ImageId", "ami-60bd4609")[0]
			tc.waitState(store, "running")
			tc.fails(http.StatusBadRequest, "UnsupportedOperation", "StopInstances", "InstanceId.1", store)
		})
	}
}

func TestTerminatedInstancesExpire(t *testing.T) {
	tc := newTestCloud(t, func(cfg *Config) { cfg.TerminatedRetention = 300 * time.Millisecond })
	ids := tc.run(2, "ClientToken", "expiring")
	tc.ok("CreateTags", "ResourceId.1", ids[0], "Tag.1.Key", "k")
	tc.ok("TerminateInstances", "InstanceId.1", ids[0], "InstanceId.2", ids[1])
	tc.waitState(ids[0], "terminated")
	deadline := time.Now().Add(testWait)
	for tc.do("DescribeInstances", "InstanceId.1", ids[0]).status == http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("terminated instance never expired")
		}
		time.Sleep(testPoll)
	}
	if r := tc.ok("DescribeTags"); r.root.has("tagSet/item") {
		t.Errorf("an expired instance's tags remain: %s", r.body)
	}
	// Its client token went with it: the same token launches anew.
	again := tc.run(2, "ClientToken", "expiring")
	if slices.Contains(ids, again[0]) {
		t.Errorf("expired token replayed")
	}
}
