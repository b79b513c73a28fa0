package cloud

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

func TestCreateVolume(t *testing.T) {
	tc := newTestCloud(t)
	for _, c := range []struct {
		name            string
		args            []string // AvailabilityZone us-east-1a is added unless args name a zone
		size, iops, typ string
		code            string
		wantTag         bool
	}{
		{name: "gp2 default", args: []string{"Size", "10"}, size: "10", iops: "100", typ: "gp2"},
		{name: "gp2 iops scale with size", args: []string{"Size", "100"}, size: "100", iops: "300", typ: "gp2"},
		{name: "gp3", args: []string{"Size", "10", "VolumeType", "gp3"}, size: "10", iops: "3000", typ: "gp3"},
		{name: "io1 with iops", args: []string{"Size", "10", "VolumeType", "io1", "Iops", "500"}, size: "10", iops: "500", typ: "io1"},
		{name: "standard", args: []string{"Size", "1", "VolumeType", "standard"}, size: "1", typ: "standard"},
		{name: "from a snapshot", args: []string{"SnapshotId", "snap-12345678"}, size: "8", iops: "100", typ: "gp2"},
		{name: "tagged", args: []string{"Size", "1", "TagSpecification.1.ResourceType", "volume", "TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "data"}, size: "1", iops: "100", typ: "gp2", wantTag: true},
		{name: "no zone", args: []string{"Size", "1", "AvailabilityZone", ""}, code: "MissingParameter"},
		{name: "unknown zone", args: []string{"Size", "1", "AvailabilityZone", "mars-1a"}, code: "InvalidParameterValue"},
		{name: "no size nor snapshot", args: nil, code: "MissingParameter"},
		{name: "size zero", args: []string{"Size", "0"}, code: "InvalidParameterValue"},
		{name: "size too big", args: []string{"Size", "16385"}, code: "InvalidParameterValue"},
		{name: "standard too big", args: []string{"Size", "2000", "VolumeType", "standard"}, code: "InvalidParameterValue"},
		{name: "size not a number", args: []string{"Size", "ten"}, code: "InvalidParameterValue"},
		{name: "bad type", args: []string{"Size", "1", "VolumeType", "floppy"}, code: "InvalidParameterValue"},
		{name: "io1 without iops", args: []string{"Size", "10", "VolumeType", "io1"}, code: "MissingParameter"},
		{name: "iops on gp2", args: []string{"Size", "10", "Iops", "300"}, code: "InvalidParameterCombination"},
		{name: "throughput on gp2", args: []string{"Size", "10", "Throughput", "300"}, code: "InvalidParameterCombination"},
		{name: "malformed snapshot", args: []string{"SnapshotId", "snapshot-1"}, code: "InvalidSnapshotID.Malformed"},
		{name: "bad tag type", args: []string{"Size", "1", "TagSpecification.1.ResourceType", "instance", "TagSpecification.1.Tag.1.Key", "a"}, code: "InvalidParameterValue"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if !slices.Contains(args, "AvailabilityZone") {
				args = append([]string{"AvailabilityZone", "us-east-1a"}, args...)
			}
			if c.code != "" {
				tc.fails(http.StatusBadRequest, c.code, "CreateVolume", args...)
				return
			}
			r := tc.ok("CreateVolume", args...)
			if !volumeIDPattern.MatchString(r.root.get("volumeId")) || r.root.get("size") != c.size || r.root.get("volumeType") != c.typ ||
				r.root.get("iops") != c.iops || r.root.get("status") != volumeCreating || r.root.get("availabilityZone") != "us-east-1a" {
				t.Errorf("answer %s", r.body)
			}
			if got := r.root.get("tagSet/item/value") == "data"; got != c.wantTag {
				t.Errorf("tags in %s", r.body)
			}
		})
	}
}

// volumeCloud is a test cloud on a fake clock, with a running instance in us-east-1a.
func volumeCloud(t *testing.T) (*testCloud, *fakeClock, string) {
	clock := &fakeClock{t: time.Now()}
	tc := newTestCloud(t, func(cfg *Config) {
		cfg.Now = clock.Now
		cfg.BootDelay = time.Second
	})
	id := tc.run(1, "Placement.AvailabilityZone", "us-east-1a")[0]
	clock.Add(2 * time.Second)
	tc.waitState(id, "running")
	return tc, clock, id
}

func TestAttachAndDetachVolume(t *testing.T) {
	tc, clock, inst := volumeCloud(t)
	vol := tc.ok("CreateVolume", "AvailabilityZone", "us-east-1a", "Size", "1").root.get("volumeId")
	other := tc.ok("CreateVolume", "AvailabilityZone", "us-east-1b", "Size", "1").root.get("volumeId")
	attach := func(v, dev string) *response {
		return tc.do("AttachVolume", "VolumeId", v, "InstanceId", inst, "Device", dev)
	}

	if r := attach(vol, "/dev/sdf"); r.code() != "IncorrectState" {
		t.Errorf("attach while creating: %s", r)
	}
	clock.Add(2 * time.Second)
	if got := tc.ok("DescribeVolumes", "VolumeId.1", vol).root.get("volumeSet/item/status"); got != volumeAvailable {
		t.Fatalf("volume %s after the delay", got)
	}
	pending := tc.run(1, "Placement.AvailabilityZone", "us-east-1a")[0] // the clock stands: it stays pending
	bobsVol := tc.doAs(bob, "CreateVolume", "AvailabilityZone", "us-east-1a", "Size", "1").root.get("volumeId")
	for _, c := range []struct {
		name string
		args []string
		code string
	}{
		{"no volume", []string{"InstanceId", inst, "Device", "/dev/sdf"}, "MissingParameter"},
		{"no instance", []string{"VolumeId", vol, "Device", "/dev/sdf"}, "MissingParameter"},
		{"no device", []string{"VolumeId", vol, "InstanceId", inst}, "MissingParameter"},
		{"bad device", []string{"VolumeId", vol, "InstanceId", inst, "Device", "C:"}, "InvalidParameterValue"},
		{"unknown volume", []string{"VolumeId", "vol-0123456789abcdef0", "InstanceId", inst, "Device", "/dev/sdf"}, "InvalidVolume.NotFound"},
		{"bob's volume", []string{"VolumeId", bobsVol, "InstanceId", inst, "Device", "/dev/sdf"}, "InvalidVolume.NotFound"},
		{"malformed volume", []string{"VolumeId", "volume-1", "InstanceId", inst, "Device", "/dev/sdf"}, "InvalidVolumeID.Malformed"},
		{"unknown instance", []string{"VolumeId", vol, "InstanceId", "i-0123456789abcdef0", "Device", "/dev/sdf"}, "InvalidInstanceID.NotFound"},
		{"pending instance", []string{"VolumeId", vol, "InstanceId", pending, "Device", "/dev/sdf"}, "IncorrectState"},
		{"other zone", []string{"VolumeId", other, "InstanceId", inst, "Device", "/dev/sdf"}, "InvalidVolume.ZoneMismatch"},
		{"root device taken", []string{"VolumeId", vol, "InstanceId", inst, "Device", "/dev/sda1"}, "InvalidParameterValue"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tc.fails(http.StatusBadRequest, c.code, "AttachVolume", c.args...)
		})
	}

	r := attach(vol, "/dev/sdf")
	if r.status != http.StatusOK || r.root.get("status") != attachAttaching || r.root.get("instanceId") != inst || r.root.get("device") != "/dev/sdf" {
		t.Fatalf("AttachVolume: %s", r)
	}
	if r := attach(vol, "/dev/sdg"); r.code() != "VolumeInUse" {
		t.Errorf("second attach: %s", r)
	}
	clock.Add(2 * time.Second)
	second := tc.ok("CreateVolume", "AvailabilityZone", "us-east-1a", "Size", "1").root.get("volumeId")
	clock.Add(2 * time.Second)
	if r := attach(second, "sdf"); r.code() != "InvalidParameterValue" {
		t.Errorf("attach at a device in use (without /dev/): %s", r)
	}
	d := tc.ok("DescribeVolumes", "VolumeId.1", vol).root.all("volumeSet/item")[0]
	if d.get("status") != volumeInUse || d.get("attachmentSet/item/status") != attachAttached || d.get("attachmentSet/item/instanceId") != inst {
		t.Errorf("attached volume: status %s attachment %s", d.get("status"), d.get("attachmentSet/item/status"))
	}
	tc.fails(http.StatusBadRequest, "VolumeInUse", "DeleteVolume", "VolumeId", vol)
	tc.fails(http.StatusBadRequest, "InvalidAttachment.NotFound", "DetachVolume", "VolumeId", vol, "InstanceId", pending)
	tc.fails(http.StatusBadRequest, "InvalidAttachment.NotFound", "DetachVolume", "VolumeId", vol, "Device", "/dev/sdz")
	tc.fails(http.StatusBadRequest, "IncorrectState", "DetachVolume", "VolumeId", second)
	tc.fails(http.StatusBadRequest, "MissingParameter", "DetachVolume")

	r = tc.ok("DetachVolume", "VolumeId", vol, "InstanceId", inst, "Device", "/dev/sdf")
	if r.root.get("status") != attachDetaching {
		t.Errorf("DetachVolume: %s", r.body)
	}
	if r := tc.ok("DetachVolume", "VolumeId", vol); r.root.get("status") != attachDetaching {
		t.Errorf("DetachVolume again while detaching: %s", r.body)
	}
	clock.Add(2 * time.Second)
	if got := tc.ok("DescribeVolumes", "VolumeId.1", vol).root.get("volumeSet/item/status"); got != volumeAvailable {
		t.Errorf("after detaching: %s", got)
	}
	tc.fails(http.StatusBadRequest, "IncorrectState", "DetachVolume", "VolumeId", vol)
	tc.ok("AttachVolume", "VolumeId", second, "InstanceId", inst, "Device", "/dev/sdf") // the device is free again
	tc.ok("DeleteVolume", "VolumeId", vol)
	tc.fails(http.StatusBadRequest, "InvalidVolume.NotFound", "DescribeVolumes", "VolumeId.1", vol)
	tc.fails(http.StatusBadRequest, "InvalidVolume.NotFound", "DeleteVolume", "VolumeId", vol)
	if r := tc.doAs(bob, "DeleteVolume", "VolumeId", second); r.code() != "InvalidVolume.NotFound" {
		t.Errorf("bob deletes alice's volume: %s", r)
	}

	// A terminated instance's volumes are detached.
	tc.ok("TerminateInstances", "InstanceId.1", inst)
	clock.Add(2 * time.Second)
	tc.waitState(inst, "terminated")
	if got := tc.ok("DescribeVolumes", "VolumeId.1", second).root.get("volumeSet/item/status"); got != volumeAvailable {
		t.Errorf("volume of a terminated instance: %s", got)
	}
	tc.ok("DeleteVolume", "VolumeId", second)
}

func TestDescribeVolumes(t *testing.T) {
	tc, clock, inst := volumeCloud(t)
	var ids []string
	for i := range 7 {
		zone := "us-east-1a"
		if i%2 == 1 {
			zone = "us-east-1b"
		}
		ids = append(ids, tc.ok("CreateVolume", "AvailabilityZone", zone, "Size", fmt.Sprint(i+1)).root.get("volumeId"))
	}
	clock.Add(2 * time.Second)
	tc.ok("AttachVolume", "VolumeId", ids[0], "InstanceId", inst, "Device", "/dev/sdf")
	tc.ok("CreateTags", "ResourceId.1", ids[2], "Tag.1.Key", "Name", "Tag.1.Value", "logs")
	clock.Add(2 * time.Second)
	for _, c := range []struct {
		name string
		args []string
		want []string
		code string
	}{
		{"all", nil, ids, ""},
		{"by id", []string{"VolumeId.1", ids[3], "VolumeId.2", ids[1]}, []string{ids[1], ids[3]}, ""},
		{"filter zone", []string{"Filter.1.Name", "availability-zone", "Filter.1.Value.1", "us-east-1b"}, []string{ids[1], ids[3], ids[5]}, ""},
		{"filter status", []string{"Filter.1.Name", "status", "Filter.1.Value.1", "in-use"}, []string{ids[0]}, ""},
		{"filter attachment", []string{"Filter.1.Name", "attachment.instance-id", "Filter.1.Value.1", inst}, []string{ids[0]}, ""},
		{"filter attachment status", []string{"Filter.1.Name", "attachment.status", "Filter.1.Value.1", "attached"}, []string{ids[0]}, ""},
		{"filter size", []string{"Filter.1.Name", "size", "Filter.1.Value.1", "7"}, []string{ids[6]}, ""},
		{"filter tag", []string{"Filter.1.Name", "tag:Name", "Filter.1.Value.1", "logs"}, []string{ids[2]}, ""},
		{"filters combine", []string{"Filter.1.Name", "availability-zone", "Filter.1.Value.1", "us-east-1a", "Filter.2.Name", "size", "Filter.2.Value.1", "1", "Filter.2.Value.2", "3"}, []string{ids[0], ids[2]}, ""},
		{"unknown id", []string{"VolumeId.1", ids[0], "VolumeId.2", "vol-0123456789abcdef0"}, nil, "InvalidVolume.NotFound"},
		{"malformed id", []string{"VolumeId.1", "vol-x"}, nil, "InvalidVolumeID.Malformed"},
		{"unknown filter", []string{"Filter.1.Name", "colour", "Filter.1.Value.1", "x"}, nil, "InvalidParameterValue"},
		{"max results too small", []string{"MaxResults", "4"}, nil, "InvalidParameterValue"},
		{"max results with ids", []string{"MaxResults", "5", "VolumeId.1", ids[0]}, nil, "InvalidParameterCombination"},
		{"bad token", []string{"NextToken", "nope"}, nil, "InvalidPaginationToken"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.code != "" {
				tc.fails(http.StatusBadRequest, c.code, "DescribeVolumes", c.args...)
				return
			}
			r := tc.ok("DescribeVolumes", c.args...)
			if got := r.root.texts("volumeSet/item/volumeId"); strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("volumes %q, want %q", got, c.want)
			}
		})
	}
	// Pages of five: all seven, each once, in order.
	var got []string
	next := ""
	for pages := 0; ; pages++ {
		args := []string{"MaxResults", "5"}
		if next != "" {
			args = append(args, "NextToken", next)
		}
		r := tc.ok("DescribeVolumes", args...)
		got = append(got, r.root.texts("volumeSet/item/volumeId")...)
		if next = r.root.get("nextToken"); next == "" || pages > 3 {
			break
		}
	}
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Errorf("pages gave %q", got)
	}
	if r := tc.doAs(bob, "DescribeVolumes"); r.root.has("volumeSet/item") {
		t.Errorf("bob sees alice's volumes: %s", r.body)
	}
}

func TestVolumesSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	a := startTestCloud(t, cfg)
	id := a.run(1, "Placement.AvailabilityZone", "us-east-1a")[0]
	a.waitState(id, "running")
	attached := a.ok("CreateVolume", "AvailabilityZone", "us-east-1a", "Size", "2").root.get("volumeId")
	spare := a.ok("CreateVolume", "AvailabilityZone", "us-east-1b", "Size", "3", "VolumeType", "gp3",
		"TagSpecification.1.ResourceType", "volume", "TagSpecification.1.Tag.1.Key", "k", "TagSpecification.1.Tag.1.Value", "v").root.get("volumeId")
	waitVolume(t, a, attached, volumeAvailable)
	a.ok("AttachVolume", "VolumeId", attached, "InstanceId", id, "Device", "/dev/sdf")
	waitVolume(t, a, attached, volumeInUse)
	a.close()

	b := startTestCloud(t, cfg)
	r := b.ok("DescribeVolumes")
	items := r.root.all("volumeSet/item")
	if len(items) != 2 || items[0].get("volumeId") != attached || items[0].get("attachmentSet/item/instanceId") != id ||
		items[0].get("attachmentSet/item/device") != "/dev/sdf" || items[1].get("volumeId") != spare ||
		items[1].get("volumeType") != "gp3" || items[1].get("tagSet/item/value") != "v" || items[1].get("size") != "3" {
		t.Errorf("after restart: %s", r.body)
	}
	fresh := b.ok("CreateVolume", "AvailabilityZone", "us-east-1a", "Size", "1").root.get("volumeId")
	if ids := b.ok("DescribeVolumes").root.texts("volumeSet/item/volumeId"); len(ids) != 3 || ids[2] != fresh {
		t.Errorf("a new volume after restart is not last: %q", ids)
	}
}

// waitVolume polls until alice's volume has status.
func waitVolume(t *testing.T, tc *testCloud, id, status string) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for {
		got := tc.ok("DescribeVolumes", "VolumeId.1", id).root.get("volumeSet/item/status")
		if got == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("volume %s is %s, waited %v for %s", id, got, testWait, status)
		}
		time.Sleep(testPoll)
	}
}

// TestSDKVolumes runs create, describe, attach, detach and delete with aws-sdk-go-v2.
func TestSDKVolumes(t *testing.T) {
	tc := newTestCloud(t)
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	cli := sdkClient(tc, alice, "")
	id := tc.run(1, "Placement.AvailabilityZone", "us-east-1b")[0]

	vol, err := cli.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1b"), Size: aws.Int32(4),
		VolumeType: types.VolumeTypeGp3, TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeVolume,
			Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("sdk")}}}}})
	if err != nil || vol.State != types.VolumeStateCreating || aws.ToInt32(vol.Size) != 4 || len(vol.Tags) != 1 {
		t.Fatalf("CreateVolume: %v %+v", err, vol)
	}
	tc.waitState(id, "running")
	waitVolume(t, tc, aws.ToString(vol.VolumeId), volumeAvailable)
	att, err := cli.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: vol.VolumeId, InstanceId: aws.String(id), Device: aws.String("/dev/sdf")})
	if err != nil || att.State != types.VolumeAttachmentStateAttaching || aws.ToString(att.InstanceId) != id {
		t.Fatalf("AttachVolume: %v %+v", err, att)
	}
	waitVolume(t, tc, aws.ToString(vol.VolumeId), volumeInUse)
	desc, err := cli.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []types.Filter{{Name: aws.String("attachment.instance-id"), Values: []string{id}}}})
	if err != nil || len(desc.Volumes) != 1 || len(desc.Volumes[0].Attachments) != 1 || desc.Volumes[0].State != types.VolumeStateInUse {
		t.Fatalf("DescribeVolumes: %v %+v", err, desc)
	}
	_, err = cli.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: vol.VolumeId})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "VolumeInUse" {
		t.Errorf("delete attached volume: %v", err)
	}
	det, err := cli.DetachVolume(ctx, &ec2.DetachVolumeInput{VolumeId: vol.VolumeId})
	if err != nil || det.State != types.VolumeAttachmentStateDetaching {
		t.Fatalf("DetachVolume: %v %+v", err, det)
	}
	waitVolume(t, tc, aws.ToString(vol.VolumeId), volumeAvailable)
	if _, err := cli.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: vol.VolumeId}); err != nil {
		t.Errorf("DeleteVolume: %v", err)
	}
	pages := ec2.NewDescribeVolumesPaginator(cli, &ec2.DescribeVolumesInput{MaxResults: aws.Int32(5)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil || len(page.Volumes) != 0 {
			t.Errorf("volumes left: %v %+v", err, page)
		}
	}
}
