package cloud

import (
	"encoding/base64"
	"encoding/binary"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DescribeInstances paging, EC2's bounds.
const (
	minMaxResults = 5
	maxMaxResults = 1000
	// pageTokenVersion starts every NextToken, so a later format can tell old tokens.
	pageTokenVersion = 1
)

var instanceIDPattern = regexp.MustCompile(`^i-([0-9a-f]{8}|[0-9a-f]{17})$`)

func init() {
	register("RunInstances", runInstances)
	register("DescribeInstances", describeInstances)
	register("TerminateInstances", terminateInstances)
	register("StopInstances", stopInstances)
	register("StartInstances", startInstances)
	registerKind(resourceKind{prefix: "i-", typ: "instance",
		exists: func(s *Server, owner, id string) bool {
			in := s.mem.byID[id]
			return in != nil && in.Owner == owner
		},
		notFound: func(id string) *apiError { return errNotFound("InvalidInstanceID.NotFound", "instance", []string{id}) },
	})
}

// runInstances launches MinCount..MaxCount instances, all or nothing, or replays the
// reservation of an honoured ClientToken.
func runInstances(s *Server, rq *request, w *xmlWriter) error {
	p := rq.params
	ls, aerr := s.parseLaunch(p, "", rq.owner())
	if aerr != nil {
		return aerr
	}
	minCount, hasMin, aerr := p.integer("MinCount")
	if aerr != nil {
		return aerr
	}
	maxCount, hasMax, aerr := p.integer("MaxCount")
	if aerr != nil {
		return aerr
	}
	switch {
	case !hasMin:
		return errMissingParameter("MinCount")
	case !hasMax:
		return errMissingParameter("MaxCount")
	case minCount < 1:
		return clientError("InvalidParameterValue", "Value (%d) for parameter minCount is invalid. Expected a positive integer.", minCount)
	case maxCount < minCount:
		return clientError("InvalidParameterValue", "Value (%d) for parameter maxCount is invalid. Expected a value no smaller than minCount (%d).", maxCount, minCount)
	case minCount > maxInstancesPerRun:
		return clientError("InstanceLimitExceeded", "You have requested more instances (%d) than your current instance limit of %d allows for the specified instance type.", minCount, maxInstancesPerRun)
	case ls.PrivateIP != "" && maxCount > 1:
		return errCombination("Network interfaces and an instance-level private IP address should not be specified on the same request")
	}
	count := min(maxCount, maxInstancesPerRun)

	honour := s.flavor.honoursClientToken && ls.ClientToken != ""
	digest := ""
	if honour {
		digest = launchDigest(p)
	}
	var launched []*instance
	var replay *clientToken
	s.writeMu.Lock()
	err := s.mutateLocked(func(tx *bolt.Tx) (func(), error) {
		o := s.mem.ownerOrNil(rq.owner())
		if honour && o != nil {
			if ct := o.tokens[ls.ClientToken]; ct != nil {
				if ct.Digest != digest {
					return nil, clientError("IdempotentParameterMismatch", "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).")
				}
				replay = ct
				return nil, nil
			}
		}
		if ls.KeyName != "" && (o == nil || o.keys[ls.KeyName] == nil) {
			return nil, clientError("InvalidKeyPair.NotFound", "The key pair '%s' does not exist", truncate(ls.KeyName))
		}
		list := s.buildInstances(rq.owner(), ls, count, rq.now)
		if f := s.inj.CapacityFault(rq.action, ls.InstanceType, list[0].Zone); f != nil {
			return nil, &apiError{Code: f.Code, Message: f.Message, Status: f.HTTPStatus}
		}
		apply, err := s.storeNewInstances(tx, list, ls.Tags)
		if err != nil {
			return nil, err
		}
		var ct *clientToken
		if honour {
			ct = &clientToken{Token: ls.ClientToken, ReservationID: list[0].ReservationID, Digest: digest}
			for _, in := range list {
				ct.Instances = append(ct.Instances, in.ID)
			}
			if err := putJSON(tx.Bucket(bucketTokens), ownerKey(rq.owner(), ct.Token), ct); err != nil {
				return nil, err
			}
		}
		launched = list
		return func() {
			apply()
			if ct != nil {
				s.mem.owner(rq.owner()).tokens[ct.Token] = ct
			}
		}, nil
	})
	s.writeMu.Unlock()
	if err != nil {
		return err
	}
	var list []instanceView
	if replay != nil {
		s.mu.RLock()
		for _, id := range replay.Instances {
			if in := s.mem.byID[id]; in != nil {
				list = append(list, s.view(in))
			}
		}
		s.mu.RUnlock()
		if len(list) == 0 {
			return errInternal(errReservationGone)
		}
	} else {
		s.schedule(launched)
		s.mu.RLock()
		for _, in := range launched {
			list = append(list, s.view(in))
		}
		s.mu.RUnlock()
	}
	s.writeReservation(w, list)
	return nil
}

// instanceView is an instance copied out from under mu with its tags, to render.
type instanceView struct {
	instance
	tags []tag
}

// view copies an instance for rendering; the caller holds mu for reading.
func (s *Server) view(in *instance) instanceView {
	return instanceView{instance: *in, tags: s.tagsOf(in.Owner, in.ID)}
}

// writeReservation writes the members of a Reservation (RunInstances' whole answer).
func (s *Server) writeReservation(w *xmlWriter, list []instanceView) {
	first := &list[0]
	w.text("reservationId", first.ReservationID)
	w.text("ownerId", first.Owner)
	s.writeGroups(w, first.Groups)
	w.opt("requesterId", first.RequesterID)
	w.open("instancesSet")
	for i := range list {
		w.open("item")
		s.writeInstance(w, &list[i])
		w.close("item")
	}
	w.close("instancesSet")
}

func (s *Server) writeGroups(w *xmlWriter, groups []groupRef) {
	if len(groups) == 0 {
		w.empty("groupSet")
		return
	}
	w.open("groupSet")
	for _, g := range groups {
		w.open("item")
		w.text("groupId", g.ID)
		w.text("groupName", g.Name)
		w.close("item")
	}
	w.close("groupSet")
}

// stateName is the name a state is shown with in this flavor.
func (s *Server) stateName(state string) string {
	if state == stateStopped {
		return s.flavor.stoppedName
	}
	return state
}

func (s *Server) writeState(w *xmlWriter, elem, state string) {
	w.open(elem)
	w.int("code", int64(stateCode(state)))
	w.text("name", s.stateName(state))
	w.close(elem)
}

// shownAddresses gives the addresses and names EC2 shows in an instance's state: none
// while terminated, private ones from launch, private names once booted, public ones
// while the instance runs (or winds down).
func (s *Server) shownAddresses(in *instance) (privIP, privDNS, pubIP, pubDNS string) {
	switch in.State {
	case stateTerminated:
		return "", "", "", ""
	case statePending:
		return in.PrivateIP, "", "", ""
	case stateStopped:
		return in.PrivateIP, s.privateDNSName(in.PrivateIP), "", ""
	}
	return in.PrivateIP, s.privateDNSName(in.PrivateIP), in.PublicIP, s.publicDNSName(in.PublicIP)
}

// writeInstance writes the members of one Instance, element names as in botocore's
// model (checked by the tests against service-2.json).
func (s *Server) writeInstance(w *xmlWriter, v *instanceView) {
	in := &v.instance
	privIP, privDNS, pubIP, pubDNS := s.shownAddresses(in)
	w.text("instanceId", in.ID)
	w.text("imageId", in.ImageID)
	s.writeState(w, "instanceState", in.State)
	w.text("privateDnsName", privDNS)
	w.text("dnsName", pubDNS)
	w.text("reason", in.Reason)
	w.opt("keyName", in.KeyName)
	w.int("amiLaunchIndex", int64(in.LaunchIndex))
	w.empty("productCodes")
	w.text("instanceType", in.InstanceType)
	w.time("launchTime", in.LaunchTime)
	w.open("placement")
	w.text("availabilityZone", in.Zone)
	w.empty("groupName")
	w.text("tenancy", "default")
	w.close("placement")
	w.open("monitoring")
	w.text("state", "disabled")
	w.close("monitoring")
	w.opt("subnetId", in.SubnetID)
	w.opt("vpcId", in.VpcID)
	w.opt("privateIpAddress", privIP)
	w.opt("ipAddress", pubIP)
	if in.SubnetID != "" {
		w.bool("sourceDestCheck", true)
	}
	s.writeGroups(w, in.Groups)
	if in.StateReason.Code != "" {
		w.open("stateReason")
		w.text("code", in.StateReason.Code)
		w.text("message", in.StateReason.Message)
		w.close("stateReason")
	}
	w.text("architecture", in.Architecture)
	w.text("rootDeviceType", in.RootDeviceType)
	w.text("rootDeviceName", rootDeviceName)
	w.open("blockDeviceMapping")
	if in.State != stateTerminated {
		for _, d := range in.Devices {
			if d.VolumeID == "" {
				continue
			}
			w.open("item")
			w.text("deviceName", d.DeviceName)
			w.open("ebs")
			w.text("volumeId", d.VolumeID)
			w.text("status", "attached")
			w.time("attachTime", in.LaunchTime)
			w.bool("deleteOnTermination", d.DeleteOnTermination)
			w.close("ebs")
			w.close("item")
		}
	}
	w.close("blockDeviceMapping")
	w.opt("instanceLifecycle", in.Lifecycle)
	w.opt("spotInstanceRequestId", in.SpotRequestID)
	w.text("virtualizationType", in.VirtType)
	w.text("clientToken", in.ClientToken)
	if len(v.tags) > 0 {
		writeTagSet(w, v.tags)
	}
	w.text("hypervisor", "xen")
	if in.IAM != nil {
		w.open("iamInstanceProfile")
		w.text("arn", in.IAM.Arn)
		w.text("id", in.IAM.ID)
		w.close("iamInstanceProfile")
	}
	w.bool("ebsOptimized", false)
}

// reasonText is EC2's free-text reason for a user's action at a time.
func reasonText(what string, t time.Time) string {
	return what + " (" + t.UTC().Format("2006-01-02 15:04:05") + " GMT)"
}

// describeInstances answers by id or by page, filtered.
func describeInstances(s *Server, rq *request, w *xmlWriter) error {
	p := rq.params
	ids := p.list("InstanceId")
	fs, aerr := p.filters()
	if aerr != nil {
		return aerr
	}
	match, aerr := s.instanceMatcher(fs)
	if aerr != nil {
		return aerr
	}
	maxResults, after, aerr := p.page("instancesSet", len(ids) > 0, minMaxResults, maxMaxResults)
	if aerr != nil {
		return aerr
	}
	for _, id := range ids {
		if !instanceIDPattern.MatchString(id) {
			return clientError("InvalidInstanceID.Malformed", "Invalid id: \"%s\"", truncate(id))
		}
	}

	owner, now := rq.owner(), rq.now
	var page []instanceView
	next := ""
	s.mu.RLock()
	o := s.mem.ownerOrNil(owner)
	if len(ids) > 0 {
		var missing []string
		var found []*instance
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				continue
			}
			seen[id] = true
			in := s.mem.byID[id]
			if in == nil || in.Owner != owner || now.Before(in.VisibleAt) {
				missing = append(missing, id)
				continue
			}
			found = append(found, in)
		}
		if len(missing) > 0 {
			s.mu.RUnlock()
			return errNotFound("InvalidInstanceID.NotFound", "instance", missing)
		}
		slices.SortFunc(found, func(a, b *instance) int { return cmpSeq(a.Seq, b.Seq) })
		for _, in := range found {
			if match(o, in) {
				page = append(page, s.view(in))
			}
		}
	} else if o != nil {
		for i := o.after(after); i < len(o.list); i++ {
			in := o.list[i]
			if in.purged || now.Before(in.VisibleAt) || !match(o, in) {
				continue
			}
			if maxResults > 0 && len(page) == maxResults {
				// One more match exists: the client has another page to ask for.
				next = encodePageToken(page[len(page)-1].Seq)
				break
			}
			page = append(page, s.view(in))
		}
	}
	s.mu.RUnlock()

	if len(page) == 0 {
		w.empty("reservationSet")
	} else {
		w.open("reservationSet")
		for start := 0; start < len(page); {
			end := start + 1
			for end < len(page) && page[end].ReservationID == page[start].ReservationID {
				end++
			}
			w.open("item")
			s.writeReservation(w, page[start:end])
			w.close("item")
			start = end
		}
		w.close("reservationSet")
	}
	w.opt("nextToken", next)
	return nil
}

func cmpSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// encodePageToken makes the opaque NextToken that resumes after launch sequence seq.
func encodePageToken(seq uint64) string {
	var b [9]byte
	b[0] = pageTokenVersion
	binary.BigEndian.PutUint64(b[1:], seq)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func decodePageToken(tok string) (uint64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != 9 || b[0] != pageTokenVersion {
		return 0, false
	}
	return binary.BigEndian.Uint64(b[1:]), true
}

// instanceMatcher compiles DescribeInstances filters into one predicate (all filters
// must match; within one, any value). The caller holds mu for reading when calling it.
func (s *Server) instanceMatcher(fs []filter) (func(o *ownerState, in *instance) bool, *apiError) {
	type pred func(o *ownerState, in *instance) bool
	var preds []pred
	field := func(vals []string, get func(in *instance) string) pred {
		return func(_ *ownerState, in *instance) bool { return matchAny(vals, get(in)) }
	}
	for _, f := range fs {
		vals := f.values
		var pr pred
		switch f.name {
		case "instance-id":
			pr = field(vals, func(in *instance) string { return in.ID })
		case "image-id":
			pr = field(vals, func(in *instance) string { return in.ImageID })
		case "instance-type":
			pr = field(vals, func(in *instance) string { return in.InstanceType })
		case "key-name":
			pr = field(vals, func(in *instance) string { return in.KeyName })
		case "client-token":
			pr = field(vals, func(in *instance) string { return in.ClientToken })
		case "instance-state-name":
			pr = func(_ *ownerState, in *instance) bool {
				return matchAny(vals, in.State) || matchAny(vals, s.stateName(in.State))
			}
		case "instance-state-code":
			pr = field(vals, func(in *instance) string { return strconv.Itoa(stateCode(in.State)) })
		case "availability-zone":
			pr = field(vals, func(in *instance) string { return in.Zone })
		case "reservation-id":
			pr = field(vals, func(in *instance) string { return in.ReservationID })
		case "subnet-id":
			pr = field(vals, func(in *instance) string { return in.SubnetID })
		case "vpc-id":
			pr = field(vals, func(in *instance) string { return in.VpcID })
		case "architecture":
			pr = field(vals, func(in *instance) string { return in.Architecture })
		case "root-device-type":
			pr = field(vals, func(in *instance) string { return in.RootDeviceType })
		case "instance-lifecycle":
			pr = field(vals, func(in *instance) string { return in.Lifecycle })
		case "spot-instance-request-id":
			pr = field(vals, func(in *instance) string { return in.SpotRequestID })
		case "private-ip-address":
			pr = field(vals, func(in *instance) string { ip, _, _, _ := s.shownAddresses(in); return ip })
		case "private-dns-name":
			pr = field(vals, func(in *instance) string { _, n, _, _ := s.shownAddresses(in); return n })
		case "ip-address":
			pr = field(vals, func(in *instance) string { _, _, ip, _ := s.shownAddresses(in); return ip })
		case "dns-name":
			pr = field(vals, func(in *instance) string { _, _, _, n := s.shownAddresses(in); return n })
		case "tag-key":
			pr = func(o *ownerState, in *instance) bool {
				return slices.ContainsFunc(o.tags[in.ID], func(t tag) bool { return matchAny(vals, t.Key) })
			}
		case "tag-value":
			pr = func(o *ownerState, in *instance) bool {
				return slices.ContainsFunc(o.tags[in.ID], func(t tag) bool { return matchAny(vals, t.Value) })
			}
		default:
			key, ok := strings.CutPrefix(f.name, "tag:")
			if !ok || key == "" {
				return nil, errUnknownFilter(f.name)
			}
			pr = func(o *ownerState, in *instance) bool {
				v, ok := tagValue(o.tags[in.ID], key)
				return ok && matchAny(vals, v)
			}
		}
		preds = append(preds, pr)
	}
	return func(o *ownerState, in *instance) bool {
		for _, pr := range preds {
			if !pr(o, in) {
				return false
			}
		}
		return true
	}, nil
}

// stateChange is one instancesSet item of Terminate/Stop/StartInstances.
type stateChange struct {
	id, prev, cur string
}

// instanceIDs reads InstanceId.N for the state-changing actions: required, well-formed,
// without repeats (EC2 answers a repeated id once).
func instanceIDs(p params) ([]string, *apiError) {
	ids := p.list("InstanceId")
	if len(ids) == 0 {
		return nil, errMissingParameter("InstanceId")
	}
	out := ids[:0]
	seen := map[string]bool{}
	for _, id := range ids {
		if !instanceIDPattern.MatchString(id) {
			return nil, clientError("InvalidInstanceID.Malformed", "Invalid id: \"%s\"", truncate(id))
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// changeStates applies step to each named instance of the owner in one transaction,
// all or nothing: step gives the instance's next value, or nil to leave it as it is, or
// an error that fails the whole request. Processes of instances leaving running are
// killed after the change is stored.
func (s *Server) changeStates(rq *request, step func(in *instance) (*instance, *apiError)) ([]stateChange, error) {
	ids, aerr := instanceIDs(rq.params)
	if aerr != nil {
		return nil, aerr
	}
	return s.transition(rq.owner(), ids, rq.now, step)
}

// terminate shuts an owner's instances down for a reason of the cloud's own (a spot
// instance reclaimed, say): as TerminateInstances, with that state reason.
func (s *Server) terminate(owner string, ids []string, why stateReason, now time.Time) error {
	_, err := s.transition(owner, ids, now, func(in *instance) (*instance, *apiError) {
		if in.State == stateShuttingDown || in.State == stateTerminated {
			return nil, nil
		}
		n := *in
		n.State, n.StateReason, n.Reason = stateShuttingDown, why, ""
		return &n, nil
	})
	return err
}

// transition is changeStates for ids already read and checked.
func (s *Server) transition(owner string, ids []string, now time.Time, step func(in *instance) (*instance, *apiError)) ([]stateChange, error) {
	var changes []stateChange
	var changed []*instance
	var kill []string
	err := s.mutate(func(tx *bolt.Tx) (func(), error) {
		var missing []string
		for _, id := range ids {
			if in := s.mem.byID[id]; in == nil || in.Owner != owner {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			return nil, errNotFound("InvalidInstanceID.NotFound", "instance", missing)
		}
		var olds, nexts []*instance
		for _, id := range ids {
			in := s.mem.byID[id]
			n, aerr := step(in)
			if aerr != nil {
				return nil, aerr
			}
			if n == nil {
				changes = append(changes, stateChange{id, in.State, in.State})
				continue
			}
			n.gen = in.gen + 1
			n.Since = now
			if in.Proc && n.State != stateRunning {
				n.Proc = false
				kill = append(kill, id)
			}
			changes = append(changes, stateChange{id, in.State, n.State})
			olds, nexts = append(olds, in), append(nexts, n)
		}
		if err := putInstances(tx, nexts...); err != nil {
			return nil, err
		}
		return func() {
			for i, in := range olds {
				*in = *nexts[i]
			}
			changed = nexts
		}, nil
	})
	if err != nil {
		return nil, err
	}
	for _, id := range kill {
		s.procs.kill(id)
	}
	s.schedule(changed)
	return changes, nil
}

func (s *Server) writeChanges(w *xmlWriter, changes []stateChange) {
	w.open("instancesSet")
	for _, c := range changes {
		w.open("item")
		w.text("instanceId", c.id)
		s.writeState(w, "currentState", c.cur)
		s.writeState(w, "previousState", c.prev)
		w.close("item")
	}
	w.close("instancesSet")
}

// terminateInstances: anything not yet shutting down starts to; terminating a
// terminated instance again is a no-op, as on EC2.
func terminateInstances(s *Server, rq *request, w *xmlWriter) error {
	changes, err := s.changeStates(rq, func(in *instance) (*instance, *apiError) {
		if in.State == stateShuttingDown || in.State == stateTerminated {
			return nil, nil
		}
		n := *in
		n.State = stateShuttingDown
		n.StateReason = reasonUserShutdown
		n.Reason = reasonText("User initiated", rq.now)
		return &n, nil
	})
	if err != nil {
		return err
	}
	s.writeChanges(w, changes)
	return nil
}

// stopInstances: running instances stop; stopping or stopped ones are left as they are;
// others cannot be stopped, and instance-store instances cannot be stopped at all.
func stopInstances(s *Server, rq *request, w *xmlWriter) error {
	changes, err := s.changeStates(rq, func(in *instance) (*instance, *apiError) {
		switch in.State {
		case stateStopping, stateStopped:
			return nil, nil
		case stateRunning:
		default:
			return nil, clientError("IncorrectInstanceState", "This instance '%s' is not in a state from which it can be stopped.", in.ID)
		}
		if in.RootDeviceType != "ebs" {
			return nil, clientError("UnsupportedOperation", "The instance '%s' does not have an 'ebs' root device type and cannot be stopped.", in.ID)
		}
		if r := spotOf(s).byID[in.SpotRequestID]; in.SpotRequestID != "" && r != nil && r.Type != "persistent" {
			// As EC2: only instances of persistent spot requests can be stopped.
			return nil, clientError("UnsupportedOperation", "You can't stop the Spot Instance '%s' because it is associated with a one-time Spot Instance request. You can only stop Spot Instances associated with persistent Spot Instance requests.", in.ID)
		}
		n := *in
		n.State = stateStopping
		n.StateReason = reasonUserShutdown
		n.Reason = reasonText("User initiated", rq.now)
		return &n, nil
	})
	if err != nil {
		return err
	}
	s.writeChanges(w, changes)
	return nil
}

// startInstances: stopped instances boot again (their user data does not run again,
// as cloud-init runs it once per instance); pending or running ones are left as they are.
func startInstances(s *Server, rq *request, w *xmlWriter) error {
	changes, err := s.changeStates(rq, func(in *instance) (*instance, *apiError) {
		switch in.State {
		case statePending, stateRunning:
			return nil, nil
		case stateStopped:
		default:
			return nil, clientError("IncorrectInstanceState", "The instance '%s' is not in a state from which it can be started.", in.ID)
		}
		n := *in
		n.State = statePending
		n.StateReason = reasonPending
		n.Reason = ""
		return &n, nil
	})
	if err != nil {
		return err
	}
	s.writeChanges(w, changes)
	return nil
}
