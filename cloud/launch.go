package cloud

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Launch limits, EC2's own.
const (
	// maxUserData is EC2's limit on user data, counted before base64.
	maxUserData = 16 * 1024
	// maxClientToken is EC2's limit on a ClientToken's length.
	maxClientToken = 64
	// maxInstancesPerRun is the most instances one RunInstances launches; EC2 launches as
	// many as it can between MinCount and MaxCount, and this cloud can always launch this
	// many at once (one transaction of about a megabyte).
	maxInstancesPerRun = 1000
	// defaultInstanceType is EC2's default when RunInstances names none.
	defaultInstanceType = "m1.small"
	// The InstanceInitiatedShutdownBehavior values; EC2's default is stop.
	shutdownStop      = "stop"
	shutdownTerminate = "terminate"
	// rootDeviceName is where EC2 attaches the root volume of the images this cloud serves.
	rootDeviceName = "/dev/sda1"
)

var (
	instanceTypePattern = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9-]+$`)
	subnetPattern       = regexp.MustCompile(`^subnet-[0-9a-f]{8}([0-9a-f]{9})?$`)
	groupIDPattern      = regexp.MustCompile(`^sg-[0-9a-f]{8}([0-9a-f]{9})?$`)
)

// launchSpec is what RunInstances (and a spot request's LaunchSpecification) asks for.
type launchSpec struct {
	ImageID, InstanceType, KeyName, Zone, SubnetID, PrivateIP string
	ShutdownBehavior, ClientToken                             string
	MinCount, MaxCount                                        int
	UserData                                                  []byte
	GroupNames, GroupIDs                                      []string
	IAM                                                       *iamProfile
	Devices                                                   []blockDevice
	Tags                                                      []tag // for the instances (TagSpecification ResourceType=instance)
}

// parseLaunch reads a launch specification from parameters under prefix ("" for
// RunInstances, "LaunchSpecification." for RequestSpotInstances). It checks everything
// that needs no state; the caller checks the key pair and capacity.
func (s *Server) parseLaunch(p params, prefix, owner string) (*launchSpec, *apiError) {
	ls := &launchSpec{
		ImageID:          p.get(prefix + "ImageId"),
		InstanceType:     p.get(prefix + "InstanceType"),
		KeyName:          p.get(prefix + "KeyName"),
		Zone:             p.get(prefix + "Placement.AvailabilityZone"),
		SubnetID:         p.get(prefix + "SubnetId"),
		PrivateIP:        p.get(prefix + "PrivateIpAddress"),
		ShutdownBehavior: p.get(prefix + "InstanceInitiatedShutdownBehavior"),
		ClientToken:      p.get(prefix + "ClientToken"),
	}
	if ls.ImageID == "" {
		return nil, errMissingParameter(prefix + "ImageId")
	}
	if !imageIDPattern.MatchString(ls.ImageID) {
		return nil, clientError("InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"ami-...\")", truncate(ls.ImageID))
	}
	if _, ok := s.images[ls.ImageID]; !ok {
		return nil, clientError("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", ls.ImageID)
	}
	if ls.InstanceType == "" {
		ls.InstanceType = defaultInstanceType
	} else if !instanceTypePattern.MatchString(ls.InstanceType) {
		return nil, clientError("InvalidParameterValue", "Invalid value '%s' for InstanceType.", truncate(ls.InstanceType))
	}
	if ls.Zone != "" && !slices.Contains(s.cfg.Zones, ls.Zone) {
		return nil, clientError("InvalidParameterValue", "Invalid availability zone: [%s]", truncate(ls.Zone))
	}
	if ls.SubnetID != "" && !subnetPattern.MatchString(ls.SubnetID) {
		return nil, clientError("InvalidSubnetID.Malformed", "Invalid id: \"%s\"", truncate(ls.SubnetID))
	}
	if ls.PrivateIP != "" {
		a, err := netip.ParseAddr(ls.PrivateIP)
		if err != nil || !a.Is4() || !a.IsPrivate() {
			return nil, clientError("InvalidParameterValue", "Invalid private IP address %s", truncate(ls.PrivateIP))
		}
		ls.PrivateIP = a.String()
	}
	switch ls.ShutdownBehavior {
	case "":
		ls.ShutdownBehavior = shutdownStop
	case shutdownStop, shutdownTerminate:
	default:
		return nil, clientError("InvalidParameterValue", "Invalid value '%s' for instanceInitiatedShutdownBehavior", truncate(ls.ShutdownBehavior))
	}
	if len(ls.ClientToken) > maxClientToken {
		return nil, clientError("InvalidParameterValue", "Value (%s) for parameter clientToken is invalid. Length exceeds maximum of %d characters.", truncate(ls.ClientToken), maxClientToken)
	}
	if raw := p.get(prefix + "UserData"); raw != "" {
		data, ok := decodeUserData(raw)
		if !ok {
			return nil, clientError("InvalidParameterValue", "Invalid BASE64 encoding of user data.")
		}
		if len(data) > maxUserData {
			return nil, clientError("InvalidParameterValue", "User data is limited to %d bytes", maxUserData)
		}
		ls.UserData = data
	}
	ls.GroupNames = nonEmpty(p.list(prefix + "SecurityGroup"))
	ls.GroupIDs = nonEmpty(p.list(prefix + "SecurityGroupId"))
	for _, id := range ls.GroupIDs {
		if !groupIDPattern.MatchString(id) {
			return nil, clientError("InvalidGroupId.Malformed", "Invalid id: \"%s\"", truncate(id))
		}
	}
	if arn, name := p.get(prefix+"IamInstanceProfile.Arn"), p.get(prefix+"IamInstanceProfile.Name"); arn != "" || name != "" {
		if arn == "" {
			arn = "arn:aws:iam::" + owner + ":instance-profile/" + name
		} else if !strings.HasPrefix(arn, "arn:") {
			return nil, clientError("InvalidParameterValue", "Value (%s) for parameter iamInstanceProfile.arn is invalid.", truncate(arn))
		}
		ls.IAM = &iamProfile{Arn: arn, ID: strings.ToUpper(stableID("AIPA", arn))}
	}
	for _, n := range p.indexes(prefix + "BlockDeviceMapping") {
		k := func(m string) string { return sub(prefix+"BlockDeviceMapping", n, m) }
		d := blockDevice{DeviceName: p.get(k("DeviceName")), VirtualName: p.get(k("VirtualName")),
			SnapshotID: p.get(k("Ebs.SnapshotId")), VolumeType: p.get(k("Ebs.VolumeType")), DeleteOnTermination: true}
		if d.DeviceName == "" {
			return nil, errMissingParameter(k("DeviceName"))
		}
		if p.has(k("NoDevice")) {
			d.NoDevice = true
		}
		if size, ok, err := p.integer(k("Ebs.VolumeSize")); err != nil {
			return nil, err
		} else if ok {
			if size < 1 || size > 16384 {
				return nil, clientError("InvalidParameterValue", "Volume size %d is outside 1..16384 GiB", size)
			}
			d.VolumeSize = size
		}
		if p.has(k("Ebs.DeleteOnTermination")) {
			v, err := p.boolean(k("Ebs.DeleteOnTermination"))
			if err != nil {
				return nil, err
			}
			d.DeleteOnTermination = v
		}
		ls.Devices = append(ls.Devices, d)
	}
	for _, n := range p.indexes(prefix + "TagSpecification") {
		typ := p.get(sub(prefix+"TagSpecification", n, "ResourceType"))
		tags, err := parseTags(p, sub(prefix+"TagSpecification", n, "Tag"), true)
		if err != nil {
			return nil, err
		}
		switch typ {
		case "instance":
			ls.Tags = mergeTags(ls.Tags, tags)
		case "volume", "network-interface", "spot-instances-request", "elastic-gpu":
			// Accepted as EC2 does; this cloud does not model these resources' tags at launch.
		case "":
			return nil, clientError("InvalidParameterValue", "The tag specification resource type must be specified")
		default:
			return nil, clientError("InvalidParameterValue", "'%s' is not a valid taggable resource type for this operation.", truncate(typ))
		}
	}
	if err := checkTagCount(ls.Tags); err != nil {
		return nil, err
	}
	return ls, nil
}

// decodeUserData decodes base64 user data leniently, as EC2 does: whitespace (HTCondor
// strips newlines, others wrap lines) and missing padding are accepted.
func decodeUserData(raw string) ([]byte, bool) {
	clean := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, raw)
	if data, err := base64.StdEncoding.DecodeString(clean); err == nil {
		return data, true
	}
	if data, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(clean, "=")); err == nil {
		return data, true
	}
	return nil, false
}

func nonEmpty(list []string) []string {
	out := list[:0]
	for _, v := range list {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// launchDigest identifies a RunInstances request's parameters for ClientToken
// idempotency: every parameter but the action, the version, the token itself and the
// authentication ones, which a retry may change.
func launchDigest(p params) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		switch {
		case k == "Action", k == "Version", k == "ClientToken", k == "AWSAccessKeyId", k == "Signature",
			k == "SignatureMethod", k == "SignatureVersion", k == "Timestamp", k == "Expires",
			k == "SecurityToken", strings.HasPrefix(k, "X-Amz-"):
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%q=%q\n", k, p[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// groupsFor names the security groups of a launch: the named ones (their ids derived
// from owner and name, as the cloud does not model groups), then those given by id;
// "default" when none is given, as on EC2.
func groupsFor(owner string, ls *launchSpec) []groupRef {
	var out []groupRef
	for _, n := range ls.GroupNames {
		out = append(out, groupRef{ID: stableID("sg-", owner+"/"+n), Name: n})
	}
	for _, id := range ls.GroupIDs {
		out = append(out, groupRef{ID: id, Name: id})
	}
	if len(out) == 0 {
		out = []groupRef{{ID: stableID("sg-", owner+"/default"), Name: "default"}}
	}
	return out
}

// Address plans. Private addresses count up through 10.0.0.0/8 by launch order; public
// ones through 198.18.0.0/15 (RFC 2544's benchmarking block, which no real host uses),
// wrapping after 131,070, more than the 100,000 instances this cloud is sized for.
const (
	privateBase = 10 << 24
	privateSize = 1<<24 - 2
	publicBase  = 198<<24 | 18<<16
	publicSize  = 1<<17 - 2
)

func ipv4(v uint32) string {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}

func privateIPFor(seq uint64) string { return ipv4(privateBase + 1 + uint32(seq%privateSize)) }
func publicIPFor(seq uint64) string  { return ipv4(publicBase + 1 + uint32(seq%publicSize)) }

// privateDNSName and publicDNSName name addresses as EC2 does in the region.
func (s *Server) privateDNSName(ip string) string {
	if ip == "" {
		return ""
	}
	host := "ip-" + strings.ReplaceAll(ip, ".", "-")
	if s.cfg.Region == "us-east-1" {
		return host + ".ec2.internal"
	}
	return host + "." + s.cfg.Region + ".compute.internal"
}

func (s *Server) publicDNSName(ip string) string {
	if ip == "" {
		return ""
	}
	host := "ec2-" + strings.ReplaceAll(ip, ".", "-")
	if s.cfg.Region == "us-east-1" {
		return host + ".compute-1.amazonaws.com"
	}
	return host + "." + s.cfg.Region + ".compute.amazonaws.com"
}

// buildInstances makes count new pending instances of one reservation from ls. The
// caller holds writeMu (it draws launch sequence numbers) and stores them with
// storeNewInstances in the same mutate.
func (s *Server) buildInstances(owner string, ls *launchSpec, count int, now time.Time) []*instance {
	im := s.images[ls.ImageID]
	resID := newID("r-")
	zone := ls.Zone
	if zone == "" {
		zone = s.cfg.Zones[int((s.mem.nextSeq-1)%uint64(len(s.cfg.Zones)))]
	}
	vpc := ""
	if ls.SubnetID != "" {
		vpc = stableID("vpc-", owner+"/"+ls.SubnetID)
	}
	groups := groupsFor(owner, ls)
	var visibleAt time.Time // zero: visible at once, whatever the clock does later
	if d := s.inj.ConsistencyDelay(); d > 0 {
		visibleAt = now.Add(d)
	}
	out := make([]*instance, 0, count)
	for i := range count {
		seq := s.mem.nextSeq
		s.mem.nextSeq++
		id := newID("i-")
		for s.mem.byID[id] != nil {
			id = newID("i-")
		}
		in := &instance{
			Seq: seq, ID: id, Owner: owner, ReservationID: resID,
			ImageID: ls.ImageID, InstanceType: ls.InstanceType, KeyName: ls.KeyName,
			Zone: zone, SubnetID: ls.SubnetID, VpcID: vpc,
			PrivateIP: privateIPFor(seq), PublicIP: publicIPFor(seq),
			LaunchIndex: i, LaunchTime: now, State: statePending, Since: now, StateReason: reasonPending,
			ShutdownBehavior: ls.ShutdownBehavior, Groups: groups, IAM: ls.IAM, UserData: ls.UserData,
			Architecture: im.Architecture, RootDeviceType: im.RootDeviceType, VirtType: im.VirtualizationType,
			VisibleAt: visibleAt,
		}
		if ls.PrivateIP != "" {
			in.PrivateIP = ls.PrivateIP
		}
		if ls.KeyName != "" {
			if o := s.mem.owners[owner]; o != nil && o.keys[ls.KeyName] != nil {
				in.OpenSSHKey = o.keys[ls.KeyName].PublicKey
			}
		}
		if s.flavor.honoursClientToken {
			in.ClientToken = ls.ClientToken
		}
		in.Devices = devicesFor(im, ls.Devices)
		out = append(out, in)
	}
	return out
}

// devicesFor gives an instance's block devices: the root volume of an EBS image, then the
// requested EBS volumes, each with a fresh volume id. Instance-store (ephemeral) and
// suppressed devices are kept for the record but not shown, as EC2 shows only EBS ones.
func devicesFor(im Image, req []blockDevice) []blockDevice {
	var out []blockDevice
	if im.RootDeviceType == "ebs" && !slices.ContainsFunc(req, func(d blockDevice) bool { return d.DeviceName == rootDeviceName }) {
		out = append(out, blockDevice{DeviceName: rootDeviceName, VolumeID: newID("vol-"), DeleteOnTermination: true})
	}
	for _, d := range req {
		if d.VirtualName == "" && !d.NoDevice {
			d.VolumeID = newID("vol-")
		}
		out = append(out, d)
	}
	return out
}

// storeNewInstances writes new instances (and their launch tags) in tx and gives the
// function that indexes them in memory. The caller schedules their boot after mutate.
func (s *Server) storeNewInstances(tx *bolt.Tx, list []*instance, tags []tag) (func(), error) {
	if err := putInstances(tx, list...); err != nil {
		return nil, err
	}
	if len(tags) > 0 {
		for _, in := range list {
			if err := putTags(tx, in.Owner, in.ID, tags); err != nil {
				return nil, err
			}
		}
	}
	return func() {
		for _, in := range list {
			s.mem.insert(in)
			if len(tags) > 0 {
				s.mem.owner(in.Owner).tags[in.ID] = tags
			}
		}
	}, nil
}
