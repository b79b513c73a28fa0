package ec2

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	"github.com/ec2grid/ec2grid/gahp"
	"github.com/ec2grid/ec2grid/gahp/ec2/ec2test"
)

// TestConformance feeds request lines written as HTCondor's gridmanager writes them (§2 of
// the reference: NULL for unset values and as list terminators, escaped spaces, CRLF) and
// checks each reply byte by byte: first the immediate S or E, then the result line.
func TestConformance(t *testing.T) {
	t.Parallel()
	f := newFake(t, ec2test.Options{AccessKey: "AKIDTEST"})
	r := newRig(t, f.URL, fastOptions())
	pre := func(cmd, id string) string {
		return cmd + " " + id + " " + gahp.Escape(r.url) + " " + gahp.Escape(r.ak) + " " + gahp.Escape(r.sk)
	}
	const rid = `\ (request\ id\ 11111111-2222-3333-4444-555555555555)`
	i1, i2, i3 := "i-00000000000000001", "i-00000000000000002", "i-00000000000000003"
	for _, tc := range []struct {
		line string // without the command prefix's URL and keys (pre adds them)
		want string // the raw result line; "E" for an immediate E
	}{
		{pre("EC2_VM_SERVER_TYPE", "2"), "2 0 Amazon"},
		{pre("ec2_vm_server_type", "3"), "3 0 Amazon"},
		{pre("EC2_VM_CREATE_KEYPAIR", "4") + " SSH_NoPool_1 /dev/null", "4 0"},
		{pre("EC2_VM_CREATE_KEYPAIR", "5") + " SSH_NoPool_1 /dev/null",
			`5 1 E_HTTP_RESPONSE_NOT_200\ (400) InvalidKeyPair.Duplicate:\ The\ keypair\ 'SSH_NoPool_1'\ already\ exists.` + rid},
		// The minimal EC2_VM_START: 21 tokens, three empty NULL-terminated lists.
		{pre("EC2_VM_START", "6") + " ami-1 NULL NULL NULL NULL NULL NULL NULL NULL NULL NULL NULL 1 NULL NULL NULL", "6 0 " + i1},
		// Everything set: escaped user data, a block device mapping, two groups of each kind,
		// one free-form parameter.
		{pre("EC2_VM_START", "7") + ` ami-2 SSH_NoPool_1 Hello\ EC2! NULL m5.large us-east-1a subnet-1 NULL 4a5d3840-40dc-4203-afc0-f4e980ddd696` +
			` ephemeral0:/dev/sdb NULL NULL 1 default web NULL sg-1 sg-2 NULL Monitoring.Enabled true NULL`, "7 0 " + i2},
		{pre("EC2_VM_START", "8") + " ami-3 NULL NULL NULL NULL NULL NULL NULL NULL NULL NULL NULL 2 NULL NULL NULL", "8 0 " + i3 + " i-00000000000000004"},
		{pre("EC2_VM_STATUS_ALL", "9"),
			"9 0 " + i1 + " running NULL NULL NULL ec2-" + i1 + ".compute.example NULL NULL " +
				i2 + " running 4a5d3840-40dc-4203-afc0-f4e980ddd696 SSH_NoPool_1 NULL ec2-" + i2 + ".compute.example NULL NULL " +
				i3 + " running NULL NULL NULL ec2-" + i3 + ".compute.example NULL NULL " +
				"i-00000000000000004 running NULL NULL NULL ec2-i-00000000000000004.compute.example NULL NULL"},
		{pre("EC2_VM_STATUS_ALL", "10") + " client-token 4a5d3840-40dc-4203-afc0-f4e980ddd696",
			"10 0 " + i2 + " running 4a5d3840-40dc-4203-afc0-f4e980ddd696 SSH_NoPool_1 NULL ec2-" + i2 + ".compute.example NULL NULL"},
		{pre("EC2_VM_STATUS_ALL", "11") + " NULL NULL", "11 0 " + i1 + " running NULL NULL NULL ec2-" + i1 + ".compute.example NULL NULL " +
			i2 + " running 4a5d3840-40dc-4203-afc0-f4e980ddd696 SSH_NoPool_1 NULL ec2-" + i2 + ".compute.example NULL NULL " +
			i3 + " running NULL NULL NULL ec2-" + i3 + ".compute.example NULL NULL " +
			"i-00000000000000004 running NULL NULL NULL ec2-i-00000000000000004.compute.example NULL NULL"},
		{pre("EC2_VM_STATUS", "12") + " " + i2, "12 0 " + i2 + " running ami-2 NULL ec2-" + i2 + ".compute.example ip-" + i2 + ".internal SSH_NoPool_1 sg-1 sg-2"},
		{pre("EC2_VM_STATUS", "13") + " i-0000000000000dead", "13 0"},
		{pre("EC2_VM_CREATE_TAGS", "14") + " " + i1 + ` Name=ec2-test Owner=alice\ smith NULL`, "14 0"},
		{pre("EC2_VM_CREATE_TAGS", "15") + " " + i1 + " NULL", "15 0"},
		{pre("EC2_VM_ASSOCIATE_ADDRESS", "16") + " " + i1 + " 203.0.113.7", "16 0"},
		{pre("EC2_VM_ASSOCIATE_ADDRESS", "17") + " " + i1 + " 203.0.113.7:eipalloc-1", "17 0"},
		{pre("EC2_VM_ATTACH_VOLUME", "18") + " vol-1 " + i1 + " /dev/sdf", "18 0"},
		{pre("EC2_VM_STOP", "19") + " " + i3 + " i-00000000000000004", "19 0"},
		{pre("EC2_VM_STOP", "20") + " i-0000000000000dead",
			`20 1 E_HTTP_RESPONSE_NOT_200\ (400) InvalidInstanceID.NotFound:\ The\ instance\ ID\ 'i-0000000000000dead'\ does\ not\ exist` + rid},
		{pre("EC2_VM_DESTROY_KEYPAIR", "21") + " SSH_NoPool_1", "21 0"},
		// Spot: 19 tokens minimum (two empty lists).
		{pre("EC2_VM_START_SPOT", "22") + " ami-4 0.05 NULL NULL NULL m1.large NULL NULL NULL tok-22 NULL NULL NULL NULL", "22 0 sir-00000005"},
		{pre("EC2_VM_STATUS_ALL_SPOT", "23"), "23 0 sir-00000005 active tok-22 i-00000000000000006 fulfilled"},
		{pre("EC2_VM_STATUS_SPOT", "24") + " sir-00000005", "24 0 sir-00000005 active tok-22 i-00000000000000006 fulfilled"},
		{pre("EC2_VM_STOP_SPOT", "25") + " sir-00000005", "25 0"},
		// A spot request without a launch group prints an empty field (two spaces).
		{pre("EC2_VM_START_SPOT", "26") + " ami-4 0.05 NULL NULL NULL NULL NULL NULL NULL NULL NULL NULL NULL NULL", "26 0 sir-00000007"},
		{pre("EC2_VM_STATUS_SPOT", "27") + " sir-00000007", "27 0 sir-00000007 active  i-00000000000000008 fulfilled"},
		// E: wrong argument counts, bad ids, bad max-count.
		{pre("EC2_VM_START", "30") + " ami-1 NULL NULL NULL NULL NULL NULL NULL NULL NULL NULL NULL 1 NULL NULL", "E"},
		{pre("EC2_VM_START", "31") + " ami-1 NULL NULL NULL NULL NULL NULL NULL NULL NULL NULL NULL x NULL NULL NULL", "E"},
		{pre("EC2_VM_START_SPOT", "32") + " ami-4 0.05 NULL NULL NULL m1.large NULL NULL NULL tok NULL NULL NULL", "E"},
		{pre("EC2_VM_STOP", "33"), "E"},
		{pre("EC2_VM_STATUS", "34"), "E"},
		{pre("EC2_VM_STATUS", "35") + " i-1 i-2", "E"},
		{pre("EC2_VM_STATUS_ALL", "x36"), "E"},
		{"EC2_VM_STATUS_ALL 37 " + gahp.Escape(r.url) + " " + gahp.Escape(r.ak), "E"},
		{pre("EC2_VM_CREATE_KEYPAIR", "38") + " k", "E"},
		{pre("EC2_VM_CREATE_KEYPAIR", "39") + " k /dev/null x", "E"},
		{pre("EC2_VM_DESTROY_KEYPAIR", "40"), "E"},
		{pre("EC2_VM_ASSOCIATE_ADDRESS", "41") + " i-1", "E"},
		{pre("EC2_VM_ATTACH_VOLUME", "42") + " vol-1 i-1", "E"},
		{pre("EC2_VM_CREATE_TAGS", "43"), "E"},
		{pre("EC2_VM_SERVER_TYPE", "44") + " x", "E"},
		{pre("EC2_VM_STOP_SPOT", "45"), "E"},
		{pre("EC2_VM_STATUS_SPOT", "46") + " a b", "E"},
		{pre("EC2_VM_STATUS_ALL_SPOT", "47")[:len(pre("EC2_VM_STATUS_ALL_SPOT", "47"))-len(gahp.Escape(r.sk))-1], "E"},
		{pre("EC2_BULK_START", "48"), "E"},
	} {
		if tc.want == "E" {
			r.send(tc.line + "\r\n")
			if got := r.readLine(); got != "E" {
				t.Errorf("%q answered %q, want E", tc.line, got)
			}
			continue
		}
		if got := r.raw(tc.line); got != tc.want {
			t.Errorf("%q\n got %q\nwant %q", tc.line, got, tc.want)
		}
	}

	// What the cloud received for the fully specified start.
	inst, _ := f.Instance(i2)
	p := inst.Params
	for k, want := range map[string]string{
		"ImageId": "ami-2", "KeyName": "SSH_NoPool_1", "InstanceType": "m5.large", "Placement.AvailabilityZone": "us-east-1a",
		"SubnetId": "subnet-1", "ClientToken": "4a5d3840-40dc-4203-afc0-f4e980ddd696", "MinCount": "1", "MaxCount": "1",
		"InstanceInitiatedShutdownBehavior": "terminate", "UserData": base64.StdEncoding.EncodeToString([]byte("Hello EC2!")),
		"BlockDeviceMapping.1.VirtualName": "ephemeral0", "BlockDeviceMapping.1.DeviceName": "/dev/sdb",
		// Names from 1, unlike HTCondor's SecurityGroup.0 (its quirk §10.3).
		"SecurityGroup.1": "default", "SecurityGroup.2": "web", "SecurityGroupId.1": "sg-1", "SecurityGroupId.2": "sg-2",
		"Monitoring.Enabled": "true",
	} {
		if got := p.Get(k); got != want {
			t.Errorf("RunInstances %s = %q, want %q", k, got, want)
		}
	}
	if _, sent := f.Instances()[0].Params["ClientToken"]; sent {
		t.Error("a NULL client token sent a ClientToken (the SDK's automatic one must be off)")
	}
	if got := f.Instances()[0].Tags; !reflect.DeepEqual(got, map[string]string{"Name": "ec2-test", "Owner": "alice smith"}) {
		t.Errorf("tags = %v", got)
	}
	sirs := f.SpotRequests()
	if len(sirs) != 2 || sirs[0].State != "cancelled" || sirs[0].Params.Get("LaunchGroup") != "tok-22" ||
		sirs[0].Params.Get("ClientToken") != "tok-22" || sirs[0].Params.Get("LaunchSpecification.InstanceType") != "m1.large" ||
		sirs[0].Params.Get("InstanceCount") != "1" || sirs[0].Params.Get("SpotPrice") != "0.05" {
		t.Errorf("spot requests = %+v", sirs)
	}
	if _, ok := sirs[1].Params["LaunchSpecification.InstanceType"]; ok {
		t.Error("an unset spot instance type was sent (HTCondor's m1.small default is not copied)")
	}
	if f.Calls("CreateTags") != 1 {
		t.Errorf("CreateTags calls = %d, want 1 (zero tags need no call)", f.Calls("CreateTags"))
	}
	if regions := f.Regions(); len(regions) != 1 || regions["us-east-1"] == 0 {
		t.Errorf("signing regions = %v, want us-east-1 only", regions)
	}
	if got := r.stats(); got[2] != 0 || got[3] != 0 || got[0] != got[1] {
		t.Errorf("STATISTICS = %v, want no retries", got)
	}
}

// TestTupleSizes: STATUS_ALL answers in 8-tuples and STATUS_ALL_SPOT in 5-tuples whatever
// the values (HTCondor's gridmanager asserts it).
func TestTupleSizes(t *testing.T) {
	t.Parallel()
	f := newFake(t, ec2test.Options{})
	r := newRig(t, f.URL, fastOptions())
	for i := range 5 {
		r.must(CmdStart, startArgs("ami-1", gahp.Null, gahp.Null)...)
		if i%2 == 0 {
			r.must(CmdStartSpot, "ami-2", "0.1", gahp.Null, gahp.Null, gahp.Null, gahp.Null, gahp.Null, gahp.Null, gahp.Null, gahp.Null, gahp.Null, gahp.Null, gahp.Null, gahp.Null)
		}
	}
	for _, id := range []string{"i-00000000000000001", "i-00000000000000003"} {
		f.SetState(id, "stopped", "Client.UserInitiatedShutdown")
	}
	if res := r.must(CmdStatusAll); len(res)%8 != 0 || len(res) == 0 {
		t.Errorf("STATUS_ALL %d fields: %q", len(res), res)
	}
	if res := r.must(CmdStatusAllSpot); len(res) != 3*5 {
		t.Errorf("STATUS_ALL_SPOT %d fields: %q", len(res), res)
	}
	res := r.must(CmdStatusAll)
	for i := 0; i < len(res); i += 8 {
		if res[i] == "i-00000000000000001" && (res[i+1] != "stopped" || res[i+4] != "Client.UserInitiatedShutdown") {
			t.Errorf("stopped instance tuple %q", res[i:i+8])
		}
	}
}

// TestStatusAllAllPages: every page of DescribeInstances is read (HTCondor read the first
// only, and the gridmanager took the instances on later pages for finished jobs).
func TestStatusAllAllPages(t *testing.T) {
	t.Parallel()
	f := newFake(t, ec2test.Options{PageSize: 2})
	r := newRig(t, f.URL, fastOptions())
	for range 7 {
		r.must(CmdStart, startArgs("ami-1", gahp.Null, gahp.Null)...)
	}
	before := f.Calls("DescribeInstances")
	res := r.must(CmdStatusAll)
	if len(res) != 7*8 {
		t.Fatalf("STATUS_ALL returned %d instances, want 7", len(res)/8)
	}
	seen := map[string]bool{}
	for i := 0; i < len(res); i += 8 {
		seen[res[i]] = true
	}
	if len(seen) != 7 {
		t.Errorf("instances %v, want 7 distinct", seen)
	}
	if got := f.Calls("DescribeInstances") - before; got != 4 {
		t.Errorf("DescribeInstances calls = %d, want 4 pages", got)
	}
}

// TestStatusAllPagesOf1000: STATUS_ALL asks for pages of statusPageSize instances, so
// 1,000 instances are one DescribeInstances call and 1,001 are two; a cloud that refuses
// MaxResults is asked again without it and still answers in full.
func TestStatusAllPagesOf1000(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		opts      ec2test.Options
		instances int
		calls     int
	}{
		{"1000 in one page", ec2test.Options{}, 1000, 1},
		{"1001 in two pages", ec2test.Options{}, 1001, 2},
		{"no paging: refused, then unpaged", ec2test.Options{NoPaging: true}, 1001, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, tc.opts)
			r := newRig(t, f.URL, fastOptions())
			for range tc.instances {
				r.must(CmdStart, startArgs("ami-1", gahp.Null, gahp.Null)...)
			}
			before := f.Calls("DescribeInstances")
			if res := r.must(CmdStatusAll); len(res) != tc.instances*8 {
				t.Fatalf("STATUS_ALL returned %d instances, want %d", len(res)/8, tc.instances)
			}
			if got := f.Calls("DescribeInstances") - before; got != tc.calls {
				t.Errorf("DescribeInstances calls = %d, want %d", got, tc.calls)
			}
		})
	}
}

func TestUserDataFile(t *testing.T) {
	t.Parallel()
	f := newFake(t, ec2test.Options{})
	r := newRig(t, f.URL, fastOptions())
	ud := r.dir + "/user data"
	writeFile(t, ud, "#!/bin/sh\necho from file\n")
	args := startArgs("ami-1", gahp.Null, gahp.Null)
	args[2], args[3] = "inline;", ud
	r.must(CmdStart, args...)
	want := base64.StdEncoding.EncodeToString([]byte("inline;#!/bin/sh\necho from file\n"))
	if got := f.Instances()[0].UserData; got != want {
		t.Errorf("UserData = %q, want %q", got, want)
	}
	args[3] = r.dir + "/missing"
	if res := r.cmd(CmdStart, args...); res[0] != "1" || res[1] != "E_FILE_IO" || !strings.Contains(res[2], "userdata") {
		t.Errorf("missing user data file: %q", res)
	}
	if len(f.Instances()) != 1 {
		t.Error("a start with an unreadable user data file reached the cloud")
	}
}

// TestFreeFormParamsOverride: ec2_parameter_names values are sent verbatim and win over
// what the other arguments set.
func TestFreeFormParamsOverride(t *testing.T) {
	t.Parallel()
	f := newFake(t, ec2test.Options{})
	r := newRig(t, f.URL, fastOptions())
	args := startArgs("ami-1", gahp.Null, gahp.Null)
	args = append(args[:len(args)-1], "InstanceType", "c5.xlarge", "InstanceMarketOptions.MarketType", "spot", "Dangling", gahp.Null)
	r.must(CmdStart, args...)
	p := f.Instances()[0].Params
	if p.Get("InstanceType") != "c5.xlarge" || p.Get("InstanceMarketOptions.MarketType") != "spot" {
		t.Errorf("params %v", p)
	}
	if _, ok := p["Dangling"]; ok {
		t.Error("a parameter without a value was sent")
	}
}
