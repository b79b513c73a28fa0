package cloud

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Elastic IP addresses.
const (
	// maxAddressesPerAccount is EC2's default quota of Elastic IP addresses per region.
	maxAddressesPerAccount = 5
	// The address domains: EC2-Classic's standard and VPC's vpc. Every address here gets
	// an allocation id whatever its domain (EC2-Classic has been retired; clients handle
	// allocation ids).
	domainStandard = "standard"
	domainVPC      = "vpc"
	// defaultDomain is what AllocateAddress without a Domain gives, as on EC2 today.
	defaultDomain = domainVPC
	// ipv4PoolAmazon is the publicIpv4Pool of addresses from Amazon's own pool.
	ipv4PoolAmazon = "amazon"
)

// elasticPool is where Elastic IP addresses come from: TEST-NET-2 and TEST-NET-3 (RFC
// 5737), documentation blocks no real host uses, apart from the instances' own public
// addresses (198.18.0.0/15). 508 addresses: the quota of 5 for a hundred accounts.
var elasticPool = []netip.Prefix{
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
}

var (
	allocationIDPattern  = regexp.MustCompile(`^eipalloc-[0-9a-f]{8}([0-9a-f]{9})?$`)
	associationIDPattern = regexp.MustCompile(`^eipassoc-[0-9a-f]{8}([0-9a-f]{9})?$`)
)

// bucketAddresses holds the addresses: <owner>\x00<allocation id> -> address.
var bucketAddresses = []byte("addresses")

// address is one Elastic IP address as stored. Records are values, replaced whole under
// Server.mu. The association it records is in force only while its instance is not
// terminated: EC2 disassociates an address from an instance that terminates, and this
// cloud reads it so rather than rewriting the record.
type address struct {
	Seq           uint64    `json:"seq"` // allocation order: DescribeAddresses answers in it
	AllocationID  string    `json:"allocation"`
	Owner         string    `json:"owner"`
	PublicIP      string    `json:"ip"`
	Domain        string    `json:"domain"`
	Allocated     time.Time `json:"allocated"`
	InstanceID    string    `json:"instance,omitempty"`
	AssociationID string    `json:"association,omitempty"`
}

// addressState is every account's addresses; guarded like the rest of the state.
type addressState struct {
	byID    map[string]*address // by allocation id
	byIP    map[string]*address
	nextSeq uint64
}

func init() {
	register("AllocateAddress", allocateAddress)
	register("AssociateAddress", associateAddress)
	register("DisassociateAddress", disassociateAddress)
	register("ReleaseAddress", releaseAddress)
	register("DescribeAddresses", describeAddresses)
	registerResource(resource{name: "addresses", load: loadAddresses})
	registerKind(resourceKind{prefix: "eipalloc-", typ: "elastic-ip",
		exists: func(s *Server, owner, id string) bool {
			a := addressesOf(s).byID[id]
			return a != nil && a.Owner == owner
		},
		notFound: errAllocationNotFound,
	})
}

func addressesOf(s *Server) *addressState { return extension[addressState](s) }

func loadAddresses(s *Server, tx *bolt.Tx) error {
	st := addressesOf(s)
	st.byID, st.byIP, st.nextSeq = map[string]*address{}, map[string]*address{}, 1
	b, err := tx.CreateBucketIfNotExists(bucketAddresses)
	if err != nil {
		return err
	}
	return b.ForEach(func(k, v []byte) error {
		a := new(address)
		if err := json.Unmarshal(v, a); err != nil {
			return fmt.Errorf("address record %q: %w", k, err)
		}
		st.byID[a.AllocationID], st.byIP[a.PublicIP] = a, a
		st.nextSeq = max(st.nextSeq, a.Seq+1)
		return nil
	})
}

func putAddress(tx *bolt.Tx, a *address) error {
	return putJSON(tx.Bucket(bucketAddresses), ownerKey(a.Owner, a.AllocationID), a)
}

func errAllocationNotFound(id string) *apiError {
	return clientError("InvalidAllocationID.NotFound", "The allocation ID '%s' does not exist", truncate(id))
}

func errAddressNotFound(ip string) *apiError {
	return clientError("InvalidAddress.NotFound", "Address '%s' not found.", truncate(ip))
}

// associated gives the instance an address is associated with, nil if none (or if that
// instance has terminated since). The caller holds mu or writeMu.
func (s *Server) associated(a *address) *instance {
	if a.InstanceID == "" {
		return nil
	}
	in := s.mem.byID[a.InstanceID]
	if in == nil || in.Owner != a.Owner || in.State == stateTerminated {
		return nil
	}
	return in
}

// findAddress finds an owner's address by allocation id or, failing that, public IP;
// the caller holds mu or writeMu.
func (s *Server) findAddress(owner, allocID, ip string) (*address, *apiError) {
	st := addressesOf(s)
	if allocID != "" {
		if !allocationIDPattern.MatchString(allocID) {
			return nil, clientError("InvalidAllocationID.Malformed", "Invalid id: \"%s\"", truncate(allocID))
		}
		a := st.byID[allocID]
		if a == nil || a.Owner != owner {
			return nil, errAllocationNotFound(allocID)
		}
		return a, nil
	}
	a := st.byIP[ip]
	if a == nil || a.Owner != owner {
		return nil, errAddressNotFound(ip)
	}
	return a, nil
}

// freeAddress gives the lowest pool address no account holds, "" when the pool is spent.
func freeAddress(st *addressState) string {
	for _, pfx := range elasticPool {
		// Skip the network address; stop before the broadcast address.
		for ip := pfx.Addr().Next(); pfx.Contains(ip.Next()); ip = ip.Next() {
			if st.byIP[ip.String()] == nil {
				return ip.String()
			}
		}
	}
	return ""
}

// inPool reports whether ip is an address the pool hands out.
func inPool(ip netip.Addr) bool {
	for _, pfx := range elasticPool {
		if pfx.Contains(ip) && ip != pfx.Addr() && pfx.Contains(ip.Next()) {
			return true
		}
	}
	return false
}

// allocateAddress takes the lowest free pool address (or the one Address names, if free:
// EC2 lets an account recover an address it released).
func allocateAddress(s *Server, rq *request, w *xmlWriter) error {
	p := rq.params
	domain := p.get("Domain")
	switch domain {
	case "":
		domain = defaultDomain
	case domainStandard, domainVPC:
	default:
		return clientError("InvalidParameterValue", "Invalid value '%s' for domain.", truncate(domain))
	}
	want := p.get("Address")
	if want != "" {
		ip, err := netip.ParseAddr(want)
		if err != nil || !ip.Is4() || !inPool(ip) {
			return clientError("InvalidParameterValue", "Address %s is not available to allocate.", truncate(want))
		}
		want = ip.String()
	}
	if pool := p.get("PublicIpv4Pool"); pool != "" && pool != ipv4PoolAmazon {
		return clientError("InvalidPublicIpv4PoolID.NotFound", "The pool ID '%s' does not exist", truncate(pool))
	}
	tags, aerr := tagSpecs(p, "elastic-ip")
	if aerr != nil {
		return aerr
	}
	var a *address
	err := s.mutate(func(tx *bolt.Tx) (func(), error) {
		st := addressesOf(s)
		n := 0
		for _, x := range st.byID {
			if x.Owner == rq.owner() {
				n++
			}
		}
		if n >= maxAddressesPerAccount {
			return nil, clientError("AddressLimitExceeded", "The maximum number of addresses has been reached.")
		}
		ip := want
		if ip == "" {
			if ip = freeAddress(st); ip == "" {
				return nil, clientError("AddressLimitExceeded", "The maximum number of addresses has been reached.")
			}
		} else if st.byIP[ip] != nil {
			return nil, clientError("InvalidParameterValue", "Address %s is not available to allocate.", ip)
		}
		id := newID("eipalloc-")
		for st.byID[id] != nil {
			id = newID("eipalloc-")
		}
		a = &address{Seq: st.nextSeq, AllocationID: id, Owner: rq.owner(), PublicIP: ip, Domain: domain, Allocated: rq.now}
		if err := putAddress(tx, a); err != nil {
			return nil, err
		}
		if err := putTags(tx, a.Owner, a.AllocationID, tags); err != nil {
			return nil, err
		}
		return func() {
			st.byID[a.AllocationID], st.byIP[a.PublicIP] = a, a
			st.nextSeq++
			if len(tags) > 0 {
				s.mem.owner(a.Owner).tags[a.AllocationID] = tags
			}
		}, nil
	})
	if err != nil {
		return err
	}
	w.text("publicIp", a.PublicIP)
	w.text("allocationId", a.AllocationID)
	w.text("publicIpv4Pool", ipv4PoolAmazon)
	w.text("networkBorderGroup", s.cfg.Region)
	w.text("domain", a.Domain)
	return nil
}

// instanceAddressChange is an instance record to store with a new public address.
type instanceAddressChange struct {
	cur  *instance
	next instance
}

// readdress gives the change that makes ip an instance's public address.
func readdress(in *instance, ip string) instanceAddressChange {
	n := *in
	n.PublicIP = ip
	return instanceAddressChange{cur: in, next: n}
}

// storeAddressChanges writes changed addresses and instances in tx and gives the
// function that applies them to memory (under mu).
func storeAddressChanges(tx *bolt.Tx, addrs []address, insts []instanceAddressChange) (func(), error) {
	for i := range addrs {
		if err := putAddress(tx, &addrs[i]); err != nil {
			return nil, err
		}
	}
	for i := range insts {
		if err := putInstances(tx, &insts[i].next); err != nil {
			return nil, err
		}
	}
	return func() {
		for _, c := range insts {
			*c.cur = c.next
		}
	}, nil
}

// associateAddress makes an address an instance's public address. The address leaves the
// instance it was on (for a vpc address only with AllowReassociation, as on EC2) and that
// instance gets its own public address back; an address the instance had is disassociated.
func associateAddress(s *Server, rq *request, w *xmlWriter) error {
	p := rq.params
	allocID, ip, instID := p.get("AllocationId"), p.get("PublicIp"), p.get("InstanceId")
	switch {
	case allocID == "" && ip == "":
		return errMissingParameter("AllocationId")
	case instID == "" && p.get("NetworkInterfaceId") != "":
		return clientError("InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '%s' does not exist", truncate(p.get("NetworkInterfaceId")))
	case instID == "":
		return errMissingParameter("InstanceId")
	case !instanceIDPattern.MatchString(instID):
		return clientError("InvalidInstanceID.Malformed", "Invalid id: \"%s\"", truncate(instID))
	}
	reassoc, aerr := p.boolean("AllowReassociation")
	if aerr != nil {
		return aerr
	}
	assocID := ""
	err := s.mutate(func(tx *bolt.Tx) (func(), error) {
		st := addressesOf(s)
		a, aerr := s.findAddress(rq.owner(), allocID, ip)
		if aerr != nil {
			return nil, aerr
		}
		in := s.mem.byID[instID]
		if in == nil || in.Owner != rq.owner() {
			return nil, errNotFound("InvalidInstanceID.NotFound", "instance", []string{instID})
		}
		if in.State == stateShuttingDown || in.State == stateTerminated {
			return nil, clientError("IncorrectInstanceState", "The instance '%s' is not in a valid state for this operation.", instID)
		}
		var addrs []address
		var insts []instanceAddressChange
		if cur := s.associated(a); cur != nil && cur.ID != in.ID {
			if a.Domain == domainVPC && !reassoc {
				return nil, clientError("Resource.AlreadyAssociated", "resource %s is already associated with associate-id %s", a.AllocationID, a.AssociationID)
			}
			if cur.PublicIP == a.PublicIP {
				insts = append(insts, readdress(cur, publicIPFor(cur.Seq)))
			}
		}
		// The instance's previous Elastic IP, if any, is disassociated.
		for _, other := range st.byID {
			if other != a && other.Owner == a.Owner && other.InstanceID == in.ID {
				o := *other
				o.InstanceID, o.AssociationID = "", ""
				addrs = append(addrs, o)
			}
		}
		n := *a
		n.InstanceID, n.AssociationID = in.ID, newID("eipassoc-")
		addrs = append(addrs, n)
		insts = append(insts, readdress(in, a.PublicIP))
		apply, err := storeAddressChanges(tx, addrs, insts)
		if err != nil {
			return nil, err
		}
		assocID = n.AssociationID
		return func() {
			apply()
			for i := range addrs {
				*st.byID[addrs[i].AllocationID] = addrs[i]
			}
		}, nil
	})
	if err != nil {
		return err
	}
	w.text("associationId", assocID)
	return nil
}

// unassociate gives the changes that end an address's association: the instance gets
// its own public address back.
func (s *Server) unassociate(a *address) ([]address, []instanceAddressChange) {
	var insts []instanceAddressChange
	if in := s.associated(a); in != nil && in.PublicIP == a.PublicIP {
		insts = append(insts, readdress(in, publicIPFor(in.Seq)))
	}
	n := *a
	n.InstanceID, n.AssociationID = "", ""
	return []address{n}, insts
}

// disassociateAddress ends an association, named by its id or by the public address
// (an address that is not associated is answered as success, as EC2-Classic did).
func disassociateAddress(s *Server, rq *request, w *xmlWriter) error {
	p := rq.params
	assocID, ip := p.get("AssociationId"), p.get("PublicIp")
	if assocID == "" && ip == "" {
		return errMissingParameter("AssociationId")
	}
	if assocID != "" && !associationIDPattern.MatchString(assocID) {
		return clientError("InvalidAssociationID.Malformed", "Invalid id: \"%s\"", truncate(assocID))
	}
	err := s.mutate(func(tx *bolt.Tx) (func(), error) {
		st := addressesOf(s)
		var a *address
		if assocID != "" {
			for _, x := range st.byID {
				if x.Owner == rq.owner() && x.AssociationID == assocID && s.associated(x) != nil {
					a = x
					break
				}
			}
			if a == nil {
				return nil, clientError("InvalidAssociationID.NotFound", "The association ID '%s' does not exist", assocID)
			}
		} else {
			var aerr *apiError
			if a, aerr = s.findAddress(rq.owner(), "", ip); aerr != nil {
				return nil, aerr
			}
			if a.InstanceID == "" {
				return nil, nil
			}
		}
		addrs, insts := s.unassociate(a)
		apply, err := storeAddressChanges(tx, addrs, insts)
		if err != nil {
			return nil, err
		}
		return func() {
			apply()
			*a = addrs[0]
		}, nil
	})
	if err != nil {
		return err
	}
	w.bool("return", true)
	return nil
}

// releaseAddress gives an address back to the pool. A vpc address still associated is
// InvalidIPAddress.InUse; a standard one is disassociated first, as EC2-Classic did.
func releaseAddress(s *Server, rq *request, w *xmlWriter) error {
	p := rq.params
	allocID, ip := p.get("AllocationId"), p.get("PublicIp")
	if allocID == "" && ip == "" {
		return errMissingParameter("AllocationId")
	}
	err := s.mutate(func(tx *bolt.Tx) (func(), error) {
		st := addressesOf(s)
		a, aerr := s.findAddress(rq.owner(), allocID, ip)
		if aerr != nil {
			return nil, aerr
		}
		var insts []instanceAddressChange
		if s.associated(a) != nil {
			if a.Domain == domainVPC {
				return nil, clientError("InvalidIPAddress.InUse", "Address %s is in use.", a.AllocationID)
			}
			_, insts = s.unassociate(a)
		}
		apply, err := storeAddressChanges(tx, nil, insts)
		if err != nil {
			return nil, err
		}
		if err := tx.Bucket(bucketAddresses).Delete(ownerKey(a.Owner, a.AllocationID)); err != nil {
			return nil, err
		}
		if err := putTags(tx, a.Owner, a.AllocationID, nil); err != nil {
			return nil, err
		}
		return func() {
			apply()
			delete(st.byID, a.AllocationID)
			delete(st.byIP, a.PublicIP)
			if o := s.mem.ownerOrNil(a.Owner); o != nil {
				delete(o.tags, a.AllocationID)
			}
		}, nil
	})
	if err != nil {
		return err
	}
	w.bool("return", true)
	return nil
}

// addressView is an address with its association as in force now, to filter and show.
type addressView struct {
	address
	instanceID, associationID, privateIP string
}

// addressFields are DescribeAddresses' filters.
var addressFields = map[string]func(addressView) []string{
	"allocation-id":              one(func(v addressView) string { return v.AllocationID }),
	"public-ip":                  one(func(v addressView) string { return v.PublicIP }),
	"domain":                     one(func(v addressView) string { return v.Domain }),
	"instance-id":                one(func(v addressView) string { return v.instanceID }),
	"association-id":             one(func(v addressView) string { return v.associationID }),
	"private-ip-address":         one(func(v addressView) string { return v.privateIP }),
	"network-interface-id":       one(func(v addressView) string { return networkInterfaceOf(v.instanceID) }),
	"network-interface-owner-id": one(func(v addressView) string { return ifAssociated(v, v.Owner) }),
	"public-ipv4-pool":           one(func(addressView) string { return ipv4PoolAmazon }),
}

// networkInterfaceOf names an instance's primary network interface. The cloud does not
// model interfaces; the id is derived from the instance's, so it is stable.
func networkInterfaceOf(instanceID string) string {
	if instanceID == "" {
		return ""
	}
	return stableID("eni-", instanceID)
}

func ifAssociated(v addressView, s string) string {
	if v.instanceID == "" {
		return ""
	}
	return s
}

// describeAddresses lists the account's addresses in allocation order. PublicIp.N and
// AllocationId.N must each name one of them.
func describeAddresses(s *Server, rq *request, w *xmlWriter) error {
	p := rq.params
	ips, ids := unique(nonEmpty(p.list("PublicIp"))), unique(nonEmpty(p.list("AllocationId")))
	for _, id := range ids {
		if !allocationIDPattern.MatchString(id) {
			return clientError("InvalidAllocationID.Malformed", "Invalid id: \"%s\"", truncate(id))
		}
	}
	fs, aerr := p.filters()
	if aerr != nil {
		return aerr
	}
	match, aerr := compileFilters(fs, addressFields)
	if aerr != nil {
		return aerr
	}
	type row struct {
		v    addressView
		tags []tag
	}
	var rows []row
	s.mu.RLock()
	st := addressesOf(s)
	for _, ip := range ips {
		if a := st.byIP[ip]; a == nil || a.Owner != rq.owner() {
			s.mu.RUnlock()
			return errAddressNotFound(ip)
		}
	}
	for _, id := range ids {
		if a := st.byID[id]; a == nil || a.Owner != rq.owner() {
			s.mu.RUnlock()
			return errAllocationNotFound(id)
		}
	}
	for _, a := range st.byID {
		if a.Owner != rq.owner() {
			continue
		}
		if (len(ips) > 0 || len(ids) > 0) && !slices.Contains(ips, a.PublicIP) && !slices.Contains(ids, a.AllocationID) {
			continue
		}
		v := addressView{address: *a}
		if in := s.associated(a); in != nil {
			v.instanceID, v.associationID, v.privateIP = in.ID, a.AssociationID, in.PrivateIP
		}
		tags := s.tagsOf(a.Owner, a.AllocationID)
		if match(v, tags) {
			rows = append(rows, row{v, tags})
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(rows, func(x, y row) int { return cmpSeq(x.v.Seq, y.v.Seq) })

	if len(rows) == 0 {
		w.empty("addressesSet")
		return nil
	}
	w.open("addressesSet")
	for _, r := range rows {
		v := &r.v
		w.open("item")
		w.text("publicIp", v.PublicIP)
		w.text("allocationId", v.AllocationID)
		w.text("domain", v.Domain)
		if v.instanceID != "" {
			w.text("instanceId", v.instanceID)
			w.text("associationId", v.associationID)
			w.text("networkInterfaceId", networkInterfaceOf(v.instanceID))
			w.text("networkInterfaceOwnerId", v.Owner)
			w.text("privateIpAddress", v.privateIP)
		}
		writeTagSet(w, r.tags)
		w.text("publicIpv4Pool", ipv4PoolAmazon)
		w.text("networkBorderGroup", s.cfg.Region)
		w.close("item")
	}
	w.close("addressesSet")
	return nil
}
