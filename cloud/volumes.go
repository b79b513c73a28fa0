package cloud

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// EBS volumes, EC2's limits.
const (
	minVolumeSize = 1
	// maxVolumeSize is the largest gp2/gp3/io volume, 16 TiB; standard (magnetic) volumes
	// stop at maxStandardSize.
	maxVolumeSize   = 16384
	maxStandardSize = 1024
	// snapshotVolumeSize is the size of a volume made from a snapshot without a Size: the
	// cloud keeps no snapshots, so it takes the size of its images' root snapshots.
	snapshotVolumeSize = catalogueRootSize
	// defaultVolumeType is EC2's default for CreateVolume.
	defaultVolumeType = "gp2"
	// gp2 gives 3 IOPS per GiB, at least 100 and at most 16,000; gp3 a flat 3,000 and
	// 125 MiB/s unless asked for more.
	gp2IOPSPerGiB = 3
	gp2MinIOPS    = 100
	gp2MaxIOPS    = 16000
	gp3IOPS       = 3000
	gp3Throughput = 125
	// minVolumePage and maxVolumePage bound DescribeVolumes' MaxResults, as EC2 does.
	minVolumePage = 5
	maxVolumePage = 500
)

// The volume states (status) and attachment states EC2 shows.
const (
	volumeCreating  = "creating"
	volumeAvailable = "available"
	volumeInUse     = "in-use"
	attachAttaching = "attaching"
	attachAttached  = "attached"
	attachDetaching = "detaching"
)

var (
	volumeIDPattern   = regexp.MustCompile(`^vol-[0-9a-f]{8}([0-9a-f]{9})?$`)
	snapshotIDPattern = regexp.MustCompile(`^snap-[0-9a-f]{8}([0-9a-f]{9})?$`)
	// devicePattern is what EC2 takes as an attachment point: /dev/sdX[N] or xvdX.
	devicePattern = regexp.MustCompile(`^(/dev/)?(sd|xvd|hd)[a-z]{1,2}[0-9]{0,2}$`)
	volumeTypes   = []string{"standard", "gp2", "gp3", "io1", "io2", "st1", "sc1"}
)

// bucketVolumes holds the volumes: <seq, 8 bytes BE> -> volume.
var bucketVolumes = []byte("volumes")

// volume is one EBS volume made by CreateVolume (not the block devices RunInstances
// makes, which live with their instances). Records are values, replaced whole under
// Server.mu. Its states move with time rather than by events: a volume is creating for
// the device delay after CreateVolume, an attachment attaching for the delay after
// AttachVolume and detaching for the delay after DetachVolume (or gone at once when its
// instance terminates, as EC2 detaches a terminated instance's volumes).
type volume struct {
	Seq        uint64            `json:"seq"` // creation order: DescribeVolumes pages by it
	ID         string            `json:"id"`
	Owner      string            `json:"owner"`
	Zone       string            `json:"zone"`
	Size       int               `json:"size"`
	Type       string            `json:"type"`
	IOPS       int               `json:"iops,omitempty"`
	Throughput int               `json:"throughput,omitempty"`
	Encrypted  bool              `json:"encrypted,omitempty"`
	SnapshotID string            `json:"snapshot,omitempty"`
	Created    time.Time         `json:"created"`
	Attachment *volumeAttachment `json:"attachment,omitempty"`
}

// volumeAttachment is a volume's attachment to an instance.
type volumeAttachment struct {
	InstanceID string    `json:"instance"`
	Device     string    `json:"device"`
	At         time.Time `json:"at"`
	DetachAt   time.Time `json:"detach_at,omitzero"` // DetachVolume was called then
}

// volumeState is every account's volumes, guarded like the rest of the state.
type volumeState struct {
	byID    map[string]*volume
	owners  map[string][]*volume // by Seq
	nextSeq uint64
}

func init() {
	register("CreateVolume", createVolume)
	register("AttachVolume", attachVolume)
	register("DetachVolume", detachVolume)
	register("DeleteVolume", deleteVolume)
	register("DescribeVolumes", describeVolumes)
	registerResource(resource{name: "volumes", load: loadVolumes})
	registerKind(resourceKind{prefix: "vol-", typ: "volume",
		exists: func(s *Server, owner, id string) bool {
			v := volumesOf(s).byID[id]
			return v != nil && v.Owner == owner
		},
		notFound: errVolumeNotFound,
	})
}

func volumesOf(s *Server) *volumeState { return extension[volumeState](s) }

func loadVolumes(s *Server, tx *bolt.Tx) error {
	st := volumesOf(s)
	st.byID, st.owners, st.nextSeq = map[string]*volume{}, map[string][]*volume{}, 1
	b, err := tx.CreateBucketIfNotExists(bucketVolumes)
	if err != nil {
		return err
	}
	return b.ForEach(func(k, v []byte) error {
		vol := new(volume)
		if err := json.Unmarshal(v, vol); err != nil {
			return fmt.Errorf("volume record %x: %w", k, err)
		}
		if len(k) != 8 || binary.BigEndian.Uint64(k) != vol.Seq {
			return fmt.Errorf("volume record %x: key and seq %d disagree", k, vol.Seq)
		}
		st.byID[vol.ID] = vol
		st.owners[vol.Owner] = append(st.owners[vol.Owner], vol) // keys ascend: so do seqs
		st.nextSeq = max(st.nextSeq, vol.Seq+1)
		return nil
	})
}

func errVolumeNotFound(id string) *apiError {
	return clientError("InvalidVolume.NotFound", "The volume '%s' does not exist.", truncate(id))
}

// deviceDelay is how long creating, attaching and detaching take: as long as an instance
// boots, the cloud's one measure of how long a device takes to appear.
func (s *Server) deviceDelay() time.Duration { return s.cfg.BootDelay }

// volumeView is a volume as it stands at a time.
type volumeView struct {
	volume
	status       string
	attachStatus string // "" when not attached
}

// viewVolume works out a volume's state at now; the caller holds mu or writeMu.
func (s *Server) viewVolume(v *volume, now time.Time) volumeView {
	vv := volumeView{volume: *v}
	if a := v.Attachment; a != nil {
		in := s.mem.byID[a.InstanceID]
		switch {
		case in == nil || in.Owner != v.Owner || in.State == stateTerminated:
			vv.Attachment = nil // its instance is gone: EC2 detached it
		case !a.DetachAt.IsZero() && !now.Before(a.DetachAt.Add(s.deviceDelay())):
			vv.Attachment = nil
		case !a.DetachAt.IsZero():
			vv.attachStatus = attachDetaching
		case now.Before(a.At.Add(s.deviceDelay())):
			vv.attachStatus = attachAttaching
		default:
			vv.attachStatus = attachAttached
		}
	}
	switch {
	case now.Before(v.Created.Add(s.deviceDelay())):
		vv.status = volumeCreating
	case vv.Attachment != nil:
		vv.status = volumeInUse
	default:
		vv.status = volumeAvailable
	}
	return vv
}

// findVolume gives an owner's volume; the caller holds mu or writeMu.
func (s *Server) findVolume(owner, id string) (*volume, *apiError) {
	if id == "" {
		return nil, errMissingParameter("VolumeId")
	}
	if !volumeIDPattern.MatchString(id) {
		return nil, clientError("InvalidVolumeID.Malformed", "Invalid id: \"%s\" (expecting \"vol-...\")", truncate(id))
	}
	v := volumesOf(s).byID[id]
	if v == nil || v.Owner != owner {
		return nil, errVolumeNotFound(id)
	}
	return v, nil
}

// putVolume stores a volume record in tx.
func putVolume(tx *bolt.Tx, v *volume) error {
	return putJSON(tx.Bucket(bucketVolumes), seqKey(v.Seq), v)
}

// createVolume makes a volume in a zone: creating for the device delay, then available.
// SnapshotId is accepted and recorded but the volume starts empty: the cloud keeps no
// snapshots.
func createVolume(s *Server, rq *request, w *xmlWriter) error {
	p := rq.params
	v := &volume{Zone: p.get("AvailabilityZone"), Type: p.get("VolumeType"), SnapshotID: p.get("SnapshotId"), Owner: rq.owner(), Created: rq.now}
	if v.Zone == "" {
		return errMissingParameter("AvailabilityZone")
	}
	if !slices.Contains(s.cfg.Zones, v.Zone) {
		return clientError("InvalidParameterValue", "Invalid availability zone: [%s]", truncate(v.Zone))
	}
	if v.Type == "" {
		v.Type = defaultVolumeType
	} else if !slices.Contains(volumeTypes, v.Type) {
		return clientError("InvalidParameterValue", "Value (%s) for parameter volumeType is invalid. Valid volume types are %v.", truncate(v.Type), volumeTypes)
	}
	if v.SnapshotID != "" && !snapshotIDPattern.MatchString(v.SnapshotID) {
		return clientError("InvalidSnapshotID.Malformed", "Invalid id: \"%s\" (expecting \"snap-...\")", truncate(v.SnapshotID))
	}
	size, hasSize, aerr := p.integer("Size")
	if aerr != nil {
		return aerr
	}
	switch {
	case !hasSize && v.SnapshotID == "":
		return errMissingParameter("Size")
	case !hasSize:
		size = snapshotVolumeSize
	}
	limit := maxVolumeSize
	if v.Type == "standard" {
		limit = maxStandardSize
	}
	if size < minVolumeSize || size > limit {
		return clientError("InvalidParameterValue", "Volume of %dGiB is outside the %d-%dGiB range of %s volumes.", size, minVolumeSize, limit, v.Type)
	}
	v.Size = size
	iops, hasIOPS, aerr := p.integer("Iops")
	if aerr != nil {
		return aerr
	}
	throughput, hasThroughput, aerr := p.integer("Throughput")
	if aerr != nil {
		return aerr
	}
	switch {
	case hasIOPS && v.Type != "io1" && v.Type != "io2" && v.Type != "gp3":
		return errCombination("The parameter iops is not supported for %s volumes.", v.Type)
	case hasThroughput && v.Type != "gp3":
		return errCombination("The parameter throughput is not supported for %s volumes.", v.Type)
	case (hasIOPS && iops <= 0) || (hasThroughput && throughput <= 0):
		return clientError("InvalidParameterValue", "Iops and Throughput must be positive.")
	}
	switch v.Type {
	case "io1", "io2":
		if !hasIOPS {
			return errMissingParameter("Iops")
		}
		v.IOPS = iops
	case "gp3":
		v.IOPS, v.Throughput = gp3IOPS, gp3Throughput
		if hasIOPS {
			v.IOPS = iops
		}
		if hasThroughput {
			v.Throughput = throughput
		}
	case "gp2":
		v.IOPS = min(max(gp2IOPSPerGiB*size, gp2MinIOPS), gp2MaxIOPS)
	}
	enc, aerr := p.boolean("Encrypted")
	if aerr != nil {
		return aerr
	}
	v.Encrypted = enc
	tags, aerr := tagSpecs(p, "volume")
	if aerr != nil {
		return aerr
	}
	err := s.mutate(func(tx *bolt.Tx) (func(), error) {
		st := volumesOf(s)
		v.Seq = st.nextSeq
		v.ID = newID("vol-")
		for st.byID[v.ID] != nil {
			v.ID = newID("vol-")
		}
		if err := putVolume(tx, v); err != nil {
			return nil, err
		}
		if err := putTags(tx, v.Owner, v.ID, tags); err != nil {
			return nil, err
		}
		return func() {
			st.nextSeq++
			st.byID[v.ID] = v
			st.owners[v.Owner] = append(st.owners[v.Owner], v)
			if len(tags) > 0 {
				s.mem.owner(v.Owner).tags[v.ID] = tags
			}
		}, nil
	})
	if err != nil {
		return err
	}
	s.mu.RLock()
	vv := s.viewVolume(v, rq.now)
	s.mu.RUnlock()
	writeVolume(w, &vv, tags)
	return nil
}

// writeVolume writes the members of one Volume.
func writeVolume(w *xmlWriter, v *volumeView, tags []tag) {
	w.text("volumeId", v.ID)
	w.int("size", int64(v.Size))
	w.opt("snapshotId", v.SnapshotID)
	w.text("availabilityZone", v.Zone)
	w.text("status", v.status)
	w.time("createTime", v.Created)
	if v.Attachment == nil {
		w.empty("attachmentSet")
	} else {
		w.open("attachmentSet")
		w.open("item")
		writeAttachment(w, v)
		w.close("item")
		w.close("attachmentSet")
	}
	w.text("volumeType", v.Type)
	if v.IOPS > 0 {
		w.int("iops", int64(v.IOPS))
	}
	if v.Throughput > 0 {
		w.int("throughput", int64(v.Throughput))
	}
	w.bool("encrypted", v.Encrypted)
	w.bool("multiAttachEnabled", false)
	if len(tags) > 0 {
		writeTagSet(w, tags)
	}
}

// writeAttachment writes the members of a VolumeAttachment.
func writeAttachment(w *xmlWriter, v *volumeView) {
	a := v.Attachment
	w.text("volumeId", v.ID)
	w.text("instanceId", a.InstanceID)
	w.text("device", a.Device)
	w.text("status", v.attachStatus)
	w.time("attachTime", a.At)
	// Volumes attached after launch stay when their instance terminates, as on EC2.
	w.bool("deleteOnTermination", false)
}

// attachVolume attaches an available volume to a running or stopped instance of the
// same zone at a free device.
func attachVolume(s *Server, rq *request, w *xmlWriter) error {
	p := rq.params
	instID, device := p.get("InstanceId"), p.get("Device")
	switch {
	case instID == "":
		return errMissingParameter("InstanceId")
	case device == "":
		return errMissingParameter("Device")
	case !instanceIDPattern.MatchString(instID):
		return clientError("InvalidInstanceID.Malformed", "Invalid id: \"%s\"", truncate(instID))
	case !devicePattern.MatchString(device):
		return clientError("InvalidParameterValue", "Value (%s) for parameter device is invalid. %s is not a valid EBS device name.", truncate(device), truncate(device))
	}
	var vv volumeView
	err := s.mutate(func(tx *bolt.Tx) (func(), error) {
		v, aerr := s.findVolume(rq.owner(), p.get("VolumeId"))
		if aerr != nil {
			return nil, aerr
		}
		in := s.mem.byID[instID]
		if in == nil || in.Owner != rq.owner() {
			return nil, errNotFound("InvalidInstanceID.NotFound", "instance", []string{instID})
		}
		cur := s.viewVolume(v, rq.now)
		switch {
		case cur.Attachment != nil:
			return nil, clientError("VolumeInUse", "%s is already attached to an instance", v.ID)
		case cur.status != volumeAvailable:
			return nil, clientError("IncorrectState", "%s is not 'available'.", v.ID)
		case in.State != stateRunning && in.State != stateStopped:
			return nil, clientError("IncorrectState", "Instance '%s' is not 'running'.", in.ID)
		case in.Zone != v.Zone:
			return nil, clientError("InvalidVolume.ZoneMismatch", "The volume '%s' is not in the same availability zone as instance '%s'", v.ID, in.ID)
		}
		if s.deviceInUse(in, device, rq.now) {
			return nil, clientError("InvalidParameterValue", "Invalid value '%s' for unixDevice. Attachment point %s is already in use", device, device)
		}
		n := *v
		n.Attachment = &volumeAttachment{InstanceID: in.ID, Device: device, At: rq.now}
		if err := putVolume(tx, &n); err != nil {
			return nil, err
		}
		return func() {
			*v = n
			vv = s.viewVolume(v, rq.now)
		}, nil
	})
	if err != nil {
		return err
	}
	writeAttachment(w, &vv)
	return nil
}

// deviceInUse reports whether an instance has a device at that name: one it was
// launched with, or a volume attached there. The caller holds mu or writeMu.
func (s *Server) deviceInUse(in *instance, device string, now time.Time) bool {
	same := func(a string) bool { return canonicalDevice(a) == canonicalDevice(device) }
	if same(rootDeviceName) || slices.ContainsFunc(in.Devices, func(d blockDevice) bool { return same(d.DeviceName) }) {
		return true
	}
	for _, v := range volumesOf(s).owners[in.Owner] {
		if v.Attachment != nil && v.Attachment.InstanceID == in.ID && same(v.Attachment.Device) {
			if s.viewVolume(v, now).Attachment != nil {
				return true
			}
		}
	}
	return false
}

// canonicalDevice drops the /dev/ prefix, which EC2 treats as optional.
func canonicalDevice(d string) string {
	if len(d) > 5 && d[:5] == "/dev/" {
		return d[5:]
	}
	return d
}

// detachVolume starts detaching a volume; InstanceId and Device, when given, must name
// its attachment.
func detachVolume(s *Server, rq *request, w *xmlWriter) error {
	p := rq.params
	instID, device := p.get("InstanceId"), p.get("Device")
	if _, aerr := p.boolean("Force"); aerr != nil {
		return aerr
	}
	var vv volumeView
	err := s.mutate(func(tx *bolt.Tx) (func(), error) {
		v, aerr := s.findVolume(rq.owner(), p.get("VolumeId"))
		if aerr != nil {
			return nil, aerr
		}
		cur := s.viewVolume(v, rq.now)
		if cur.Attachment == nil {
			return nil, clientError("IncorrectState", "Volume '%s' is in the '%s' state.", v.ID, cur.status)
		}
		if (instID != "" && instID != cur.Attachment.InstanceID) || (device != "" && canonicalDevice(device) != canonicalDevice(cur.Attachment.Device)) {
			return nil, clientError("InvalidAttachment.NotFound", "Volume '%s' is not attached to instance '%s' at '%s'.", v.ID, truncate(instID), truncate(device))
		}
		if cur.attachStatus == attachDetaching {
			vv = cur // detaching already: answered again, as EC2 does
			return nil, nil
		}
		n := *v
		a := *v.Attachment
		a.DetachAt = rq.now
		n.Attachment = &a
		if err := putVolume(tx, &n); err != nil {
			return nil, err
		}
		return func() {
			*v = n
			// Shown as detaching, as EC2 answers, however short the delay.
			vv = cur
			vv.Attachment, vv.attachStatus = &a, attachDetaching
		}, nil
	})
	if err != nil {
		return err
	}
	writeAttachment(w, &vv)
	return nil
}

// deleteVolume deletes a volume that is not attached.
func deleteVolume(s *Server, rq *request, w *xmlWriter) error {
	err := s.mutate(func(tx *bolt.Tx) (func(), error) {
		v, aerr := s.findVolume(rq.owner(), rq.params.get("VolumeId"))
		if aerr != nil {
			return nil, aerr
		}
		if s.viewVolume(v, rq.now).Attachment != nil {
			return nil, clientError("VolumeInUse", "Volume %s is currently attached to %s", v.ID, v.Attachment.InstanceID)
		}
		if err := tx.Bucket(bucketVolumes).Delete(seqKey(v.Seq)); err != nil {
			return nil, err
		}
		if err := putTags(tx, v.Owner, v.ID, nil); err != nil {
			return nil, err
		}
		return func() {
			st := volumesOf(s)
			delete(st.byID, v.ID)
			st.owners[v.Owner] = slices.DeleteFunc(st.owners[v.Owner], func(x *volume) bool { return x == v })
			if o := s.mem.ownerOrNil(v.Owner); o != nil {
				delete(o.tags, v.ID)
			}
		}, nil
	})
	if err != nil {
		return err
	}
	w.bool("return", true)
	return nil
}

// volumeFields are DescribeVolumes' filters.
var volumeFields = map[string]func(volumeView) []string{
	"volume-id":         one(func(v volumeView) string { return v.ID }),
	"status":            one(func(v volumeView) string { return v.status }),
	"size":              one(func(v volumeView) string { return strconv.Itoa(v.Size) }),
	"volume-type":       one(func(v volumeView) string { return v.Type }),
	"availability-zone": one(func(v volumeView) string { return v.Zone }),
	"snapshot-id":       one(func(v volumeView) string { return v.SnapshotID }),
	"encrypted":         one(func(v volumeView) string { return strconv.FormatBool(v.Encrypted) }),
	"create-time":       one(func(v volumeView) string { return v.Created.UTC().Format(timeLayout) }),
	"attachment.instance-id": func(v volumeView) []string {
		if v.Attachment == nil {
			return nil
		}
		return []string{v.Attachment.InstanceID}
	},
	"attachment.device": func(v volumeView) []string {
		if v.Attachment == nil {
			return nil
		}
		return []string{v.Attachment.Device}
	},
	"attachment.status": func(v volumeView) []string {
		if v.Attachment == nil {
			return nil
		}
		return []string{v.attachStatus}
	},
	"attachment.delete-on-termination": func(v volumeView) []string {
		if v.Attachment == nil {
			return nil
		}
		return []string{"false"}
	},
	"multi-attach-enabled": one(func(volumeView) string { return "false" }),
}

// describeVolumes lists the account's volumes in creation order, by id or by page.
func describeVolumes(s *Server, rq *request, w *xmlWriter) error {
	p := rq.params
	ids := unique(nonEmpty(p.list("VolumeId")))
	for _, id := range ids {
		if !volumeIDPattern.MatchString(id) {
			return clientError("InvalidVolumeID.Malformed", "Invalid id: \"%s\" (expecting \"vol-...\")", truncate(id))
		}
	}
	fs, aerr := p.filters()
	if aerr != nil {
		return aerr
	}
	match, aerr := compileFilters(fs, volumeFields)
	if aerr != nil {
		return aerr
	}
	maxResults, after, aerr := p.page("volumeSet", len(ids) > 0, minVolumePage, maxVolumePage)
	if aerr != nil {
		return aerr
	}
	type row struct {
		v    volumeView
		tags []tag
	}
	var rows []row
	next := ""
	s.mu.RLock()
	st := volumesOf(s)
	var missing []string
	for _, id := range ids {
		if v := st.byID[id]; v == nil || v.Owner != rq.owner() {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		s.mu.RUnlock()
		if len(missing) == 1 {
			return errVolumeNotFound(missing[0])
		}
		return clientError("InvalidVolume.NotFound", "The volumes '%s' do not exist.", truncate(fmt.Sprint(missing)))
	}
	for _, v := range st.owners[rq.owner()] {
		if v.Seq <= after || (len(ids) > 0 && !slices.Contains(ids, v.ID)) {
			continue
		}
		vv := s.viewVolume(v, rq.now)
		tags := s.tagsOf(v.Owner, v.ID)
		if !match(vv, tags) {
			continue
		}
		if maxResults > 0 && len(rows) == maxResults {
			next = encodePageToken(rows[len(rows)-1].v.Seq)
			break
		}
		rows = append(rows, row{vv, tags})
	}
	s.mu.RUnlock()

	if len(rows) == 0 {
		w.empty("volumeSet")
	} else {
		w.open("volumeSet")
		for i := range rows {
			w.open("item")
			writeVolume(w, &rows[i].v, rows[i].tags)
			w.close("item")
		}
		w.close("volumeSet")
	}
	w.opt("nextToken", next)
	return nil
}
