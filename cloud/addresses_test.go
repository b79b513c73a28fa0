package cloud

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

// allocate allocates an address as alice and gives its public IP and allocation id.
func (tc *testCloud) allocate(kv ...string) (ip, id string) {
	tc.t.Helper()
	r := tc.ok("AllocateAddress", kv...)
	return r.root.get("publicIp"), r.root.get("allocationId")
}

func TestAllocateAddress(t *testing.T) {
	tc := newTestCloud(t)
	for _, c := range []struct {
		name   string
		args   []string
		domain string
		code   string
	}{
		{"default domain", nil, "vpc", ""},
		{"vpc", []string{"Domain", "vpc"}, "vpc", ""},
		{"standard", []string{"Domain", "standard"}, "standard", ""},
		{"tagged", []string{"TagSpecification.1.ResourceType", "elastic-ip", "TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "web"}, "vpc", ""},
		{"bad domain", []string{"Domain", "classic"}, "", "InvalidParameterValue"},
		{"bad tag resource type", []string{"TagSpecification.1.ResourceType", "instance", "TagSpecification.1.Tag.1.Key", "a"}, "", "InvalidParameterValue"},
		{"address outside the pool", []string{"Address", "8.8.8.8"}, "", "InvalidParameterValue"},
		{"unknown pool", []string{"PublicIpv4Pool", "ipv4pool-ec2-0123"}, "", "InvalidPublicIpv4PoolID.NotFound"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.code != "" {
				tc.fails(http.StatusBadRequest, c.code, "AllocateAddress", c.args...)
				return
			}
			r := tc.ok("AllocateAddress", c.args...)
			ip, err := netip.ParseAddr(r.root.get("publicIp"))
			if err != nil || !inPool(ip) {
				t.Errorf("publicIp %q not from the pool", r.root.get("publicIp"))
			}
			if !allocationIDPattern.MatchString(r.root.get("allocationId")) || r.root.get("domain") != c.domain {
				t.Errorf("answer %s", r.body)
			}
		})
	}
	// Four allocated above; the quota is five.
	tc.ok("AllocateAddress")
	tc.fails(http.StatusBadRequest, "AddressLimitExceeded", "AllocateAddress")
	if got := len(tc.ok("DescribeAddresses").root.all("addressesSet/item")); got != maxAddressesPerAccount {
		t.Errorf("%d addresses, want %d", got, maxAddressesPerAccount)
	}
	if r := tc.ok("DescribeAddresses", "Filter.1.Name", "tag:Name", "Filter.1.Value.1", "web"); len(r.root.all("addressesSet/item")) != 1 {
		t.Errorf("tag filter: %s", r.body)
	}
	// Bob has his own quota, and distinct addresses.
	r := tc.doAs(bob, "AllocateAddress")
	if r.status != http.StatusOK {
		t.Fatalf("bob: %s", r)
	}
	mine := tc.ok("DescribeAddresses").root.texts("addressesSet/item/publicIp")
	if strings.Contains(strings.Join(mine, ","), r.root.get("publicIp")) {
		t.Errorf("bob got one of alice's addresses")
	}
}

func TestAssociateAddress(t *testing.T) {
	tc := newTestCloud(t)
	a, b := tc.run(1)[0], tc.run(1)[0]
	tc.waitState(a, "running")
	tc.waitState(b, "running")
	ownIP := tc.instance(a).get("ipAddress")
	vpcIP, vpcID := tc.allocate()
	stdIP, _ := tc.allocate("Domain", "standard")
	bobIP := tc.doAs(bob, "AllocateAddress").root.get("publicIp")
	dead := tc.run(1)[0]
	tc.ok("TerminateInstances", "InstanceId.1", dead)

	for _, c := range []struct {
		name string
		args []string
		code string
	}{
		{"no address", []string{"InstanceId", a}, "MissingParameter"},
		{"no instance", []string{"AllocationId", vpcID}, "MissingParameter"},
		{"network interface", []string{"AllocationId", vpcID, "NetworkInterfaceId", "eni-12345678"}, "InvalidNetworkInterfaceID.NotFound"},
		{"unknown allocation", []string{"AllocationId", "eipalloc-12345678", "InstanceId", a}, "InvalidAllocationID.NotFound"},
		{"malformed allocation", []string{"AllocationId", "alloc-1", "InstanceId", a}, "InvalidAllocationID.Malformed"},
		{"unknown address", []string{"PublicIp", "198.51.100.250", "InstanceId", a}, "InvalidAddress.NotFound"},
		{"bob's address", []string{"PublicIp", bobIP, "InstanceId", a}, "InvalidAddress.NotFound"},
		{"unknown instance", []string{"AllocationId", vpcID, "InstanceId", "i-0123456789abcdef0"}, "InvalidInstanceID.NotFound"},
		{"malformed instance", []string{"AllocationId", vpcID, "InstanceId", "x"}, "InvalidInstanceID.Malformed"},
		{"terminated instance", []string{"AllocationId", vpcID, "InstanceId", dead}, "IncorrectInstanceState"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tc.fails(http.StatusBadRequest, c.code, "AssociateAddress", c.args...)
		})
	}

	assoc := tc.ok("AssociateAddress", "AllocationId", vpcID, "InstanceId", a).root.get("associationId")
	if !associationIDPattern.MatchString(assoc) {
		t.Fatalf("associationId %q", assoc)
	}
	in := tc.instance(a)
	if in.get("ipAddress") != vpcIP || in.get("dnsName") != tc.s.publicDNSName(vpcIP) {
		t.Errorf("instance shows %s %s, want %s", in.get("ipAddress"), in.get("dnsName"), vpcIP)
	}
	if md, _ := (imdsSource{tc.s}).Instance(a); md.PublicIPv4 != vpcIP {
		t.Errorf("metadata public-ipv4 %q", md.PublicIPv4)
	}
	d := tc.ok("DescribeAddresses", "AllocationId.1", vpcID)
	item := d.root.all("addressesSet/item")[0]
	if item.get("instanceId") != a || item.get("associationId") != assoc || item.get("privateIpAddress") != in.get("privateIpAddress") ||
		!strings.HasPrefix(item.get("networkInterfaceId"), "eni-") {
		t.Errorf("described %s", d.body)
	}
	// A vpc address moves only with AllowReassociation.
	tc.fails(http.StatusBadRequest, "Resource.AlreadyAssociated", "AssociateAddress", "AllocationId", vpcID, "InstanceId", b)
	tc.ok("AssociateAddress", "AllocationId", vpcID, "InstanceId", b, "AllowReassociation", "true")
	if got := tc.instance(a).get("ipAddress"); got != ownIP {
		t.Errorf("a lost the address but shows %s, want its own %s back", got, ownIP)
	}
	if got := tc.instance(b).get("ipAddress"); got != vpcIP {
		t.Errorf("b shows %s", got)
	}
	// A standard address moves freely; giving b a second address disassociates the first.
	tc.ok("AssociateAddress", "PublicIp", stdIP, "InstanceId", b)
	if got := tc.instance(b).get("ipAddress"); got != stdIP {
		t.Errorf("b shows %s, want %s", got, stdIP)
	}
	if r := tc.ok("DescribeAddresses", "Filter.1.Name", "instance-id", "Filter.1.Value.1", b); strings.Join(r.root.texts("addressesSet/item/publicIp"), ",") != stdIP {
		t.Errorf("instance-id filter: %s", r.body)
	}
	// Bob sees none of it.
	if r := tc.doAs(bob, "DescribeAddresses", "Filter.1.Name", "instance-id", "Filter.1.Value.1", b); len(r.root.all("addressesSet/item")) != 0 {
		t.Errorf("bob sees alice's associations: %s", r.body)
	}
}

func TestDisassociateAndReleaseAddress(t *testing.T) {
	tc := newTestCloud(t)
	id := tc.run(1)[0]
	tc.waitState(id, "running")
	ownIP := tc.instance(id).get("ipAddress")
	vpcIP, vpcID := tc.allocate()
	stdIP, stdID := tc.allocate("Domain", "standard")
	assoc := tc.ok("AssociateAddress", "AllocationId", vpcID, "InstanceId", id).root.get("associationId")

	for _, c := range []struct {
		name, action string
		args         []string
		code         string
	}{
		{"disassociate nothing named", "DisassociateAddress", nil, "MissingParameter"},
		{"disassociate unknown association", "DisassociateAddress", []string{"AssociationId", "eipassoc-12345678"}, "InvalidAssociationID.NotFound"},
		{"disassociate malformed association", "DisassociateAddress", []string{"AssociationId", "assoc-1"}, "InvalidAssociationID.Malformed"},
		{"disassociate unknown address", "DisassociateAddress", []string{"PublicIp", "203.0.113.200"}, "InvalidAddress.NotFound"},
		{"release nothing named", "ReleaseAddress", nil, "MissingParameter"},
		{"release unknown allocation", "ReleaseAddress", []string{"AllocationId", "eipalloc-12345678"}, "InvalidAllocationID.NotFound"},
		{"release an address in use", "ReleaseAddress", []string{"AllocationId", vpcID}, "InvalidIPAddress.InUse"},
		{"release bob's view", "ReleaseAddress", []string{"PublicIp", "203.0.113.200"}, "InvalidAddress.NotFound"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tc.fails(http.StatusBadRequest, c.code, c.action, c.args...)
		})
	}
	if r := tc.doAs(bob, "DisassociateAddress", "AssociationId", assoc); r.code() != "InvalidAssociationID.NotFound" {
		t.Errorf("bob disassociates alice's address: %s", r)
	}

	tc.ok("DisassociateAddress", "AssociationId", assoc)
	if got := tc.instance(id).get("ipAddress"); got != ownIP {
		t.Errorf("after disassociation the instance shows %s, want %s", got, ownIP)
	}
	tc.fails(http.StatusBadRequest, "InvalidAssociationID.NotFound", "DisassociateAddress", "AssociationId", assoc)
	tc.ok("DisassociateAddress", "PublicIp", vpcIP) // not associated: fine, as EC2-Classic
	tc.ok("ReleaseAddress", "AllocationId", vpcID)

	// A standard address still associated is disassociated on release.
	tc.ok("AssociateAddress", "PublicIp", stdIP, "InstanceId", id)
	tc.ok("ReleaseAddress", "PublicIp", stdIP)
	if got := tc.instance(id).get("ipAddress"); got != ownIP {
		t.Errorf("after release the instance shows %s, want %s", got, ownIP)
	}
	tc.fails(http.StatusBadRequest, "InvalidAllocationID.NotFound", "DescribeAddresses", "AllocationId.1", stdID)
	if r := tc.ok("DescribeAddresses"); r.root.has("addressesSet/item") {
		t.Errorf("released addresses remain: %s", r.body)
	}
	// A released address can be allocated again by name.
	if ip, _ := tc.allocate("Address", stdIP); ip != stdIP {
		t.Errorf("re-allocated %s, want %s", ip, stdIP)
	}
	tc.fails(http.StatusBadRequest, "InvalidParameterValue", "AllocateAddress", "Address", stdIP)
}

// TestAddressOfTerminatedInstance: EC2 disassociates an address when its instance
// terminates.
func TestAddressOfTerminatedInstance(t *testing.T) {
	tc := newTestCloud(t)
	id := tc.run(1)[0]
	tc.waitState(id, "running")
	_, allocID := tc.allocate()
	tc.ok("AssociateAddress", "AllocationId", allocID, "InstanceId", id)
	tc.ok("TerminateInstances", "InstanceId.1", id)
	tc.waitState(id, "terminated")
	item := tc.ok("DescribeAddresses").root.all("addressesSet/item")[0]
	if item.has("instanceId") || item.has("associationId") {
		t.Errorf("address still associated with a terminated instance")
	}
	tc.ok("ReleaseAddress", "AllocationId", allocID) // no longer in use
}

func TestDescribeAddresses(t *testing.T) {
	tc := newTestCloud(t)
	id := tc.run(1)[0]
	tc.waitState(id, "running")
	ip1, id1 := tc.allocate()
	ip2, id2 := tc.allocate("Domain", "standard")
	tc.ok("AssociateAddress", "AllocationId", id1, "InstanceId", id)
	tc.ok("CreateTags", "ResourceId.1", id2, "Tag.1.Key", "role", "Tag.1.Value", "spare")
	for _, c := range []struct {
		name string
		args []string
		want []string
		code string
	}{
		{"all", nil, []string{ip1, ip2}, ""},
		{"by ip", []string{"PublicIp.1", ip2}, []string{ip2}, ""},
		{"by allocation", []string{"AllocationId.1", id1}, []string{ip1}, ""},
		{"filter instance-id (libcloud)", []string{"Filter.1.Name", "instance-id", "Filter.1.Value.1", id}, []string{ip1}, ""},
		{"filter instance-id, no match", []string{"Filter.1.Name", "instance-id", "Filter.1.Value.1", "i-0123456789abcdef0"}, nil, ""},
		{"filter public-ip", []string{"Filter.1.Name", "public-ip", "Filter.1.Value.1", ip2}, []string{ip2}, ""},
		{"filter allocation-id", []string{"Filter.1.Name", "allocation-id", "Filter.1.Value.1", id2}, []string{ip2}, ""},
		{"filter domain", []string{"Filter.1.Name", "domain", "Filter.1.Value.1", "standard"}, []string{ip2}, ""},
		{"filter association-id", []string{"Filter.1.Name", "association-id", "Filter.1.Value.1", "eipassoc-*"}, []string{ip1}, ""},
		{"filter tag", []string{"Filter.1.Name", "tag:role", "Filter.1.Value.1", "spare"}, []string{ip2}, ""},
		{"unknown ip", []string{"PublicIp.1", "198.51.100.99"}, nil, "InvalidAddress.NotFound"},
		{"unknown allocation", []string{"AllocationId.1", "eipalloc-12345678"}, nil, "InvalidAllocationID.NotFound"},
		{"malformed allocation", []string{"AllocationId.1", "nope"}, nil, "InvalidAllocationID.Malformed"},
		{"unknown filter", []string{"Filter.1.Name", "colour", "Filter.1.Value.1", "x"}, nil, "InvalidParameterValue"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.code != "" {
				tc.fails(http.StatusBadRequest, c.code, "DescribeAddresses", c.args...)
				return
			}
			r := tc.ok("DescribeAddresses", c.args...)
			if got := r.root.texts("addressesSet/item/publicIp"); strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("addresses %q, want %q", got, c.want)
			}
		})
	}
	if r := tc.doAs(bob, "DescribeAddresses", "AllocationId.1", id1); r.code() != "InvalidAllocationID.NotFound" {
		t.Errorf("bob describes alice's address: %s", r)
	}
}

func TestAddressesSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	a := startTestCloud(t, cfg)
	id := a.run(1)[0]
	a.waitState(id, "running")
	ip, allocID := a.allocate()
	spareIP, spareID := a.allocate("Domain", "standard")
	a.ok("CreateTags", "ResourceId.1", spareID, "Tag.1.Key", "k", "Tag.1.Value", "v")
	assoc := a.ok("AssociateAddress", "AllocationId", allocID, "InstanceId", id).root.get("associationId")
	a.close()

	b := startTestCloud(t, cfg)
	r := b.ok("DescribeAddresses")
	items := r.root.all("addressesSet/item")
	if len(items) != 2 || items[0].get("publicIp") != ip || items[0].get("associationId") != assoc || items[0].get("instanceId") != id ||
		items[1].get("publicIp") != spareIP || items[1].get("tagSet/item/value") != "v" {
		t.Errorf("after restart: %s", r.body)
	}
	if got := b.instance(id).get("ipAddress"); got != ip {
		t.Errorf("instance shows %s after restart, want %s", got, ip)
	}
	// The pool knows what is taken.
	if next, _ := b.allocate(); next == ip || next == spareIP {
		t.Errorf("restarted cloud handed out %s again", next)
	}
}

// TestSDKAddresses runs allocate, associate, describe, disassociate and release with
// aws-sdk-go-v2.
func TestSDKAddresses(t *testing.T) {
	tc := newTestCloud(t)
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	cli := sdkClient(tc, alice, "")
	id := tc.run(1)[0]
	tc.waitState(id, "running")

	alloc, err := cli.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: types.DomainTypeVpc})
	if err != nil || alloc.Domain != types.DomainTypeVpc || aws.ToString(alloc.AllocationId) == "" || aws.ToString(alloc.PublicIp) == "" {
		t.Fatalf("AllocateAddress: %v %+v", err, alloc)
	}
	assoc, err := cli.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: alloc.AllocationId, InstanceId: aws.String(id)})
	if err != nil || aws.ToString(assoc.AssociationId) == "" {
		t.Fatalf("AssociateAddress: %v %+v", err, assoc)
	}
	desc, err := cli.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{Filters: []types.Filter{{Name: aws.String("instance-id"), Values: []string{id}}}})
	if err != nil || len(desc.Addresses) != 1 || aws.ToString(desc.Addresses[0].AssociationId) != aws.ToString(assoc.AssociationId) ||
		aws.ToString(desc.Addresses[0].PublicIp) != aws.ToString(alloc.PublicIp) {
		t.Fatalf("DescribeAddresses: %v %+v", err, desc)
	}
	insts, err := cli.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil || aws.ToString(insts.Reservations[0].Instances[0].PublicIpAddress) != aws.ToString(alloc.PublicIp) {
		t.Errorf("instance address: %v", err)
	}
	_, err = cli.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: alloc.AllocationId})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidIPAddress.InUse" {
		t.Errorf("release in use: %v", err)
	}
	if _, err := cli.DisassociateAddress(ctx, &ec2.DisassociateAddressInput{AssociationId: assoc.AssociationId}); err != nil {
		t.Errorf("DisassociateAddress: %v", err)
	}
	if _, err := cli.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: alloc.AllocationId}); err != nil {
		t.Errorf("ReleaseAddress: %v", err)
	}
	_, err = cli.AssociateAddress(ctx, &ec2.AssociateAddressInput{PublicIp: alloc.PublicIp, InstanceId: aws.String(id)})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidAddress.NotFound" {
		t.Errorf("associate a released address: %v", err)
	}
}
