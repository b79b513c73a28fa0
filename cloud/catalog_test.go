package cloud

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

func TestDescribeImages(t *testing.T) {
	tc := newTestCloud(t)
	tc.ok("CreateTags", "ResourceId.1", "ami-12345678", "Tag.1.Key", "role", "Tag.1.Value", "base")
	all := []string{"ami-60bd4609", "ami-12345678", "ami-0123456789abcdef0", "ami-0fedcba9876543210"}
	for _, c := range []struct {
		name string
		args []string
		want []string // image ids in order; nil with code set
		code string
	}{
		{"all", nil, all, ""},
		{"by id", []string{"ImageId.1", "ami-12345678", "ImageId.2", "ami-60bd4609"}, []string{"ami-60bd4609", "ami-12345678"}, ""},
		{"by id, repeated", []string{"ImageId.1", "ami-12345678", "ImageId.2", "ami-12345678"}, []string{"ami-12345678"}, ""},
		{"owner amazon", []string{"Owner.1", "amazon"}, all, ""},
		{"owner id", []string{"Owner.1", catalogueOwnerID}, all, ""},
		{"owner self", []string{"Owner.1", "self"}, nil, ""},
		{"owner another account", []string{"Owner.1", bob.OwnerID}, nil, ""},
		{"owner self or amazon", []string{"Owner.1", "self", "Owner.2", "amazon"}, all, ""},
		{"executable by all", []string{"ExecutableBy.1", "all"}, all, ""},
		{"executable by self", []string{"ExecutableBy.1", "self"}, nil, ""},
		{"filter name", []string{"Filter.1.Name", "name", "Filter.1.Value.1", "debian-*"}, []string{"ami-0123456789abcdef0", "ami-0fedcba9876543210"}, ""},
		{"filter architecture", []string{"Filter.1.Name", "architecture", "Filter.1.Value.1", "arm64"}, []string{"ami-0fedcba9876543210"}, ""},
		{"filter image-id", []string{"Filter.1.Name", "image-id", "Filter.1.Value.1", "ami-6*"}, []string{"ami-60bd4609"}, ""},
		{"filter state", []string{"Filter.1.Name", "state", "Filter.1.Value.1", "available"}, all, ""},
		{"filter state pending", []string{"Filter.1.Name", "state", "Filter.1.Value.1", "pending"}, nil, ""},
		{"filter root device", []string{"Filter.1.Name", "root-device-type", "Filter.1.Value.1", "instance-store"}, []string{"ami-60bd4609"}, ""},
		{"filter tag", []string{"Filter.1.Name", "tag:role", "Filter.1.Value.1", "base"}, []string{"ami-12345678"}, ""},
		{"filters and id", []string{"ImageId.1", "ami-12345678", "Filter.1.Name", "architecture", "Filter.1.Value.1", "arm64"}, nil, ""},
		{"unknown id", []string{"ImageId.1", "ami-12345678", "ImageId.2", "ami-99999999"}, nil, "InvalidAMIID.NotFound"},
		{"malformed id", []string{"ImageId.1", "i-12345678"}, nil, "InvalidAMIID.Malformed"},
		{"bad owner", []string{"Owner.1", "someone"}, nil, "InvalidUserID.Malformed"},
		{"bad executable-by", []string{"ExecutableBy.1", "everyone"}, nil, "InvalidUserID.Malformed"},
		{"unknown filter", []string{"Filter.1.Name", "colour", "Filter.1.Value.1", "x"}, nil, "InvalidParameterValue"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.code != "" {
				tc.fails(http.StatusBadRequest, c.code, "DescribeImages", c.args...)
				return
			}
			r := tc.ok("DescribeImages", c.args...)
			if got := r.root.texts("imagesSet/item/imageId"); strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("images %q, want %q", got, c.want)
			}
		})
	}

	r := tc.ok("DescribeImages", "ImageId.1", "ami-12345678")
	im := r.root.all("imagesSet/item")[0]
	for path, want := range map[string]string{
		"imageState": "available", "imageOwnerId": catalogueOwnerID, "imageOwnerAlias": "amazon", "isPublic": "true",
		"architecture": "x86_64", "rootDeviceType": "ebs", "rootDeviceName": "/dev/sda1", "virtualizationType": "hvm",
		"name": "example", "imageType": "machine", "blockDeviceMapping/item/ebs/volumeSize": "8",
		"tagSet/item/key": "role", "platformDetails": "Linux/UNIX",
	} {
		if got := im.get(path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	// Tags are the account's own: bob does not see alice's tag on the shared image.
	r = tc.doAs(bob, "DescribeImages", "ImageId.1", "ami-12345678")
	if r.root.has("imagesSet/item/tagSet/item") {
		t.Errorf("bob sees alice's image tags: %s", r.body)
	}
	r = tc.fails(http.StatusBadRequest, "InvalidAMIID.NotFound", "DescribeImages", "ImageId.1", "ami-99999999")
	if msg := r.root.get("Errors/Error/Message"); msg != "The image id '[ami-99999999]' does not exist" {
		t.Errorf("message %q", msg)
	}
}

func TestDescribeImagesConfiguredCatalogue(t *testing.T) {
	tc := newTestCloud(t, func(cfg *Config) {
		cfg.Images = []Image{{ID: "ami-0aaaaaaaaaaaaaaaa", Name: "mine"}}
	})
	r := tc.ok("DescribeImages")
	if got := r.root.texts("imagesSet/item/imageId"); strings.Join(got, ",") != "ami-0aaaaaaaaaaaaaaaa" {
		t.Errorf("catalogue %q", got)
	}
	tc.fails(http.StatusBadRequest, "InvalidAMIID.NotFound", "DescribeImages", "ImageId.1", "ami-12345678")
}

func TestDescribeRegions(t *testing.T) {
	tc := newTestCloud(t, func(cfg *Config) { cfg.Region = "eu-west-1" })
	host := strings.TrimPrefix(tc.url, "http://")
	for _, c := range []struct {
		name string
		args []string
		want string // region names, comma-separated
		code string
	}{
		{"all", nil, "eu-west-1", ""},
		{"by name", []string{"RegionName.1", "eu-west-1"}, "eu-west-1", ""},
		{"all regions flag", []string{"AllRegions", "true"}, "eu-west-1", ""},
		{"filter name", []string{"Filter.1.Name", "region-name", "Filter.1.Value.1", "eu-*"}, "eu-west-1", ""},
		{"filter endpoint", []string{"Filter.1.Name", "endpoint", "Filter.1.Value.1", host}, "eu-west-1", ""},
		{"filter no match", []string{"Filter.1.Name", "region-name", "Filter.1.Value.1", "us-*"}, "", ""},
		{"unknown region", []string{"RegionName.1", "us-east-1"}, "", "InvalidParameterValue"},
		{"unknown filter", []string{"Filter.1.Name", "colour", "Filter.1.Value.1", "x"}, "", "InvalidParameterValue"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.code != "" {
				tc.fails(http.StatusBadRequest, c.code, "DescribeRegions", c.args...)
				return
			}
			r := tc.ok("DescribeRegions", c.args...)
			if got := strings.Join(r.root.texts("regionInfo/item/regionName"), ","); got != c.want {
				t.Errorf("regions %q, want %q", got, c.want)
			}
			if c.want != "" {
				if got := r.root.get("regionInfo/item/regionEndpoint"); got != host {
					t.Errorf("endpoint %q, want %q", got, host)
				}
			}
		})
	}
}

func TestDescribeAvailabilityZones(t *testing.T) {
	tc := newTestCloud(t, func(cfg *Config) {
		cfg.Region = "ap-southeast-2"
		cfg.Zones = []string{"ap-southeast-2a", "ap-southeast-2b", "ap-southeast-2c"}
	})
	for _, c := range []struct {
		name string
		args []string
		want string
		code string
	}{
		{"all", nil, "ap-southeast-2a,ap-southeast-2b,ap-southeast-2c", ""},
		{"by name", []string{"ZoneName.1", "ap-southeast-2b"}, "ap-southeast-2b", ""},
		{"by id", []string{"ZoneId.1", "apse2-az3"}, "ap-southeast-2c", ""},
		{"by name and id", []string{"ZoneName.1", "ap-southeast-2a", "ZoneId.1", "apse2-az3"}, "ap-southeast-2a,ap-southeast-2c", ""},
		{"filter state", []string{"Filter.1.Name", "state", "Filter.1.Value.1", "available"}, "ap-southeast-2a,ap-southeast-2b,ap-southeast-2c", ""},
		{"filter zone", []string{"Filter.1.Name", "zone-name", "Filter.1.Value.1", "*a", "Filter.1.Value.2", "*c"}, "ap-southeast-2a,ap-southeast-2c", ""},
		{"filter region", []string{"Filter.1.Name", "region-name", "Filter.1.Value.1", "us-east-1"}, "", ""},
		{"unknown zone", []string{"ZoneName.1", "ap-southeast-2z"}, "", "InvalidParameterValue"},
		{"unknown zone id", []string{"ZoneId.1", "use1-az1"}, "", "InvalidParameterValue"},
		{"unknown filter", []string{"Filter.1.Name", "colour", "Filter.1.Value.1", "x"}, "", "InvalidParameterValue"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.code != "" {
				tc.fails(http.StatusBadRequest, c.code, "DescribeAvailabilityZones", c.args...)
				return
			}
			r := tc.ok("DescribeAvailabilityZones", c.args...)
			if got := strings.Join(r.root.texts("availabilityZoneInfo/item/zoneName"), ","); got != c.want {
				t.Errorf("zones %q, want %q", got, c.want)
			}
			for _, z := range r.root.all("availabilityZoneInfo/item") {
				if z.get("zoneState") != "available" || z.get("regionName") != "ap-southeast-2" {
					t.Errorf("zone %s: state %q region %q", z.get("zoneName"), z.get("zoneState"), z.get("regionName"))
				}
			}
		})
	}
}

func TestZoneID(t *testing.T) {
	for _, c := range []struct {
		region string
		i      int
		want   string
	}{
		{"us-east-1", 0, "use1-az1"},
		{"us-west-2", 2, "usw2-az3"},
		{"eu-central-1", 0, "euc1-az1"},
		{"ap-southeast-2", 1, "apse2-az2"},
		{"ap-northeast-1", 0, "apne1-az1"},
		{"local", 0, "local-az1"},
		{"my-lab-1", 0, "myl1-az1"},
	} {
		if got := zoneID(c.region, c.i); got != c.want {
			t.Errorf("zoneID(%q, %d) = %q, want %q", c.region, c.i, got, c.want)
		}
	}
}

// TestSDKCatalogue reads images, regions and zones with aws-sdk-go-v2.
func TestSDKCatalogue(t *testing.T) {
	tc := newTestCloud(t)
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	cli := sdkClient(tc, alice, "")

	imgs, err := cli.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"},
		Filters: []types.Filter{{Name: aws.String("architecture"), Values: []string{"x86_64"}}}})
	if err != nil || len(imgs.Images) != 3 {
		t.Fatalf("DescribeImages: %v %+v", err, imgs)
	}
	im := imgs.Images[1]
	if aws.ToString(im.ImageId) != "ami-12345678" || im.State != types.ImageStateAvailable || !aws.ToBool(im.Public) ||
		im.RootDeviceType != types.DeviceTypeEbs || len(im.BlockDeviceMappings) != 1 || aws.ToString(im.OwnerId) != catalogueOwnerID {
		t.Errorf("image %+v", im)
	}
	_, err = cli.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{"ami-99999999"}})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidAMIID.NotFound" {
		t.Errorf("unknown image: %v", err)
	}

	regions, err := cli.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	u, _ := url.Parse(tc.url)
	if err != nil || len(regions.Regions) != 1 || aws.ToString(regions.Regions[0].RegionName) != "us-east-1" ||
		aws.ToString(regions.Regions[0].Endpoint) != u.Host {
		t.Errorf("DescribeRegions: %v %+v", err, regions)
	}
	zones, err := cli.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	if err != nil || len(zones.AvailabilityZones) != 2 {
		t.Fatalf("DescribeAvailabilityZones: %v %+v", err, zones)
	}
	z := zones.AvailabilityZones[0]
	if aws.ToString(z.ZoneName) != "us-east-1a" || z.State != types.AvailabilityZoneStateAvailable ||
		aws.ToString(z.RegionName) != "us-east-1" || aws.ToString(z.ZoneId) != "use1-az1" {
		t.Errorf("zone %+v", z)
	}
}
