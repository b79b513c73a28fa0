package cloud

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The catalogue: what DescribeImages, DescribeRegions and DescribeAvailabilityZones show.
// Nothing here changes at run time; it all comes from the Config.
const (
	// catalogueOwnerID owns every catalogue image, as Amazon's own account owns the
	// public AMIs of AWS. No account gets it: configured owner ids are chosen by the
	// operator and derived ones are hashes, and the all-zero id is neither in practice.
	catalogueOwnerID = "000000000000"
	// catalogueOwnerAlias is the alias Owner.N=amazon and owner-alias filters match: the
	// catalogue plays the part of Amazon's public images.
	catalogueOwnerAlias = "amazon"
	// catalogueCreationDate is every catalogue image's creationDate: the config gives no
	// date, and a fixed one keeps answers stable across restarts.
	catalogueCreationDate = "2024-01-01T00:00:00.000Z"
	// catalogueRootSize is the root volume size in GiB of the EBS catalogue images, the
	// size of EC2's Linux AMIs.
	catalogueRootSize = 8
	// productLinux is the platform every catalogue image (and every spot price) is for.
	productLinux = "Linux/UNIX"
	// optInNotRequired is the optInStatus of the region and its zones: the default ones
	// need no opt-in on AWS either.
	optInNotRequired = "opt-in-not-required"
)

var ownerAccountPattern = regexp.MustCompile(`^[0-9]{12}$`)

func init() {
	register("DescribeImages", describeImages)
	register("DescribeRegions", describeRegions)
	register("DescribeAvailabilityZones", describeAvailabilityZones)
}

// rowFilter is a compiled Filter.N list over rows of one kind: every filter must match,
// each by any of its values (EC2's semantics, with its * and ? wildcards).
type rowFilter[T any] func(row T, tags []tag) bool

// compileFilters checks fs against the filter names a Describe action knows (fields
// gives each name's values for a row) and compiles them; tag:K, tag-key and tag-value
// match the row's tags. An unknown name is EC2's InvalidParameterValue. The resources
// of spot.go, addresses.go and volumes.go filter with it too.
func compileFilters[T any](fs []filter, fields map[string]func(T) []string) (rowFilter[T], *apiError) {
	preds := make([]func(T, []tag) bool, 0, len(fs))
	for _, f := range fs {
		vals := f.values
		if get, ok := fields[f.name]; ok {
			preds = append(preds, func(r T, _ []tag) bool {
				return slices.ContainsFunc(get(r), func(v string) bool { return matchAny(vals, v) })
			})
			continue
		}
		switch key, isTag := strings.CutPrefix(f.name, "tag:"); {
		case f.name == "tag-key":
			preds = append(preds, func(_ T, tags []tag) bool {
				return slices.ContainsFunc(tags, func(t tag) bool { return matchAny(vals, t.Key) })
			})
		case f.name == "tag-value":
			preds = append(preds, func(_ T, tags []tag) bool {
				return slices.ContainsFunc(tags, func(t tag) bool { return matchAny(vals, t.Value) })
			})
		case isTag && key != "":
			preds = append(preds, func(_ T, tags []tag) bool {
				v, ok := tagValue(tags, key)
				return ok && matchAny(vals, v)
			})
		default:
			return nil, errUnknownFilter(f.name)
		}
	}
	return func(r T, tags []tag) bool {
		for _, p := range preds {
			if !p(r, tags) {
				return false
			}
		}
		return true
	}, nil
}

// one makes a filter field of a single value.
func one[T any](get func(T) string) func(T) []string {
	return func(r T) []string { return []string{get(r)} }
}

// imageFields are DescribeImages' filters.
var imageFields = map[string]func(Image) []string{
	"image-id":            one(func(im Image) string { return im.ID }),
	"name":                one(func(im Image) string { return im.Name }),
	"description":         one(func(im Image) string { return im.Description }),
	"architecture":        one(func(im Image) string { return im.Architecture }),
	"state":               one(func(Image) string { return "available" }),
	"owner-id":            one(func(Image) string { return catalogueOwnerID }),
	"owner-alias":         one(func(Image) string { return catalogueOwnerAlias }),
	"is-public":           one(func(Image) string { return "true" }),
	"image-type":          one(func(Image) string { return "machine" }),
	"root-device-type":    one(func(im Image) string { return im.RootDeviceType }),
	"root-device-name":    one(func(Image) string { return rootDeviceName }),
	"virtualization-type": one(func(im Image) string { return im.VirtualizationType }),
	"hypervisor":          one(func(Image) string { return "xen" }),
	"platform-details":    one(func(Image) string { return productLinux }),
}

// describeImages answers from the catalogue (Config.Images), in the config's order. Every
// catalogue image is public and owned by the catalogue owner (alias "amazon"): Owner.N
// self matches none of them, ExecutableBy.N only "all" (EC2 answers self and account ids
// with images shared explicitly, and the catalogue shares none).
func describeImages(s *Server, rq *request, w *xmlWriter) error {
	p := rq.params
	ids := unique(nonEmpty(p.list("ImageId")))
	for _, id := range ids {
		if !imageIDPattern.MatchString(id) {
			return clientError("InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"ami-...\")", truncate(id))
		}
	}
	owners := nonEmpty(p.list("Owner"))
	for _, o := range owners {
		if o != "self" && o != catalogueOwnerAlias && o != "aws-marketplace" && !ownerAccountPattern.MatchString(o) {
			return clientError("InvalidUserID.Malformed", "Invalid user id: \"%s\"", truncate(o))
		}
	}
	execBy := nonEmpty(p.list("ExecutableBy"))
	for _, e := range execBy {
		if e != "self" && e != "all" && !ownerAccountPattern.MatchString(e) {
			return clientError("InvalidUserID.Malformed", "Invalid user id: \"%s\"", truncate(e))
		}
	}
	fs, aerr := p.filters()
	if aerr != nil {
		return aerr
	}
	match, aerr := compileFilters(fs, imageFields)
	if aerr != nil {
		return aerr
	}
	var missing []string
	for _, id := range ids {
		if _, ok := s.images[id]; !ok {
			missing = append(missing, id)
		}
	}
	switch len(missing) {
	case 0:
	case 1:
		return clientError("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", missing[0])
	default:
		return clientError("InvalidAMIID.NotFound", "The image ids '[%s]' do not exist", strings.Join(missing, ", "))
	}
	ownerOK := func() bool {
		if len(owners) == 0 {
			return true
		}
		return slices.Contains(owners, catalogueOwnerAlias) || slices.Contains(owners, catalogueOwnerID) ||
			(slices.Contains(owners, "self") && rq.owner() == catalogueOwnerID)
	}()
	execOK := len(execBy) == 0 || slices.Contains(execBy, "all")

	type row struct {
		im   Image
		tags []tag
	}
	var rows []row
	s.mu.RLock()
	for _, im := range s.cfg.Images {
		if len(ids) > 0 && !slices.Contains(ids, im.ID) {
			continue
		}
		tags := s.tagsOf(rq.owner(), im.ID)
		if ownerOK && execOK && match(im, tags) {
			rows = append(rows, row{im, tags})
		}
	}
	s.mu.RUnlock()

	if len(rows) == 0 {
		w.empty("imagesSet")
		return nil
	}
	w.open("imagesSet")
	for _, r := range rows {
		w.open("item")
		writeImage(w, r.im, r.tags)
		w.close("item")
	}
	w.close("imagesSet")
	return nil
}

// writeImage writes the members of one Image, as EC2 shows a public Linux AMI.
func writeImage(w *xmlWriter, im Image, tags []tag) {
	w.text("imageId", im.ID)
	w.text("imageLocation", catalogueOwnerAlias+"/"+im.Name)
	w.text("imageState", "available")
	w.text("imageOwnerId", catalogueOwnerID)
	w.text("creationDate", catalogueCreationDate)
	w.bool("isPublic", true)
	w.text("architecture", im.Architecture)
	w.text("imageType", "machine")
	w.empty("productCodes")
	w.text("platformDetails", productLinux)
	w.text("usageOperation", "RunInstances")
	w.text("name", im.Name)
	w.opt("description", im.Description)
	w.text("imageOwnerAlias", catalogueOwnerAlias)
	w.text("rootDeviceType", im.RootDeviceType)
	w.text("rootDeviceName", rootDeviceName)
	w.open("blockDeviceMapping")
	if im.RootDeviceType == "ebs" {
		w.open("item")
		w.text("deviceName", rootDeviceName)
		w.open("ebs")
		w.text("snapshotId", stableID("snap-", im.ID))
		w.int("volumeSize", catalogueRootSize)
		w.bool("deleteOnTermination", true)
		w.text("volumeType", "gp2")
		w.bool("encrypted", false)
		w.close("ebs")
		w.close("item")
	} else {
		// Instance-store images map their first ephemeral disk, as EC2's did.
		w.open("item")
		w.text("deviceName", "/dev/sdb")
		w.text("virtualName", "ephemeral0")
		w.close("item")
	}
	w.close("blockDeviceMapping")
	w.text("virtualizationType", im.VirtualizationType)
	if im.VirtualizationType == "hvm" {
		w.bool("enaSupport", true)
		// arm64 instances boot UEFI only; x86 HVM images of this kind boot legacy BIOS.
		if strings.HasPrefix(im.Architecture, "arm64") {
			w.text("bootMode", "uefi")
		} else {
			w.text("bootMode", "legacy-bios")
		}
	}
	w.text("hypervisor", "xen")
	writeTagSet(w, tags)
}

// regionFields are DescribeRegions' filters.
var regionFields = map[string]func(regionRow) []string{
	"region-name":   one(func(r regionRow) string { return r.name }),
	"endpoint":      one(func(r regionRow) string { return r.endpoint }),
	"opt-in-status": one(func(regionRow) string { return optInNotRequired }),
}

type regionRow struct{ name, endpoint string }

// describeRegions answers the one region this cloud serves; its endpoint is the host
// (and port) clients reach the cloud at, the part of the URL EC2's regionEndpoint gives.
func describeRegions(s *Server, rq *request, w *xmlWriter) error {
	p := rq.params
	fs, aerr := p.filters()
	if aerr != nil {
		return aerr
	}
	match, aerr := compileFilters(fs, regionFields)
	if aerr != nil {
		return aerr
	}
	if _, aerr := p.boolean("AllRegions"); aerr != nil {
		return aerr
	}
	for _, n := range nonEmpty(p.list("RegionName")) {
		if n != s.cfg.Region {
			return clientError("InvalidParameterValue", "Invalid region: %s", truncate(n))
		}
	}
	r := regionRow{name: s.cfg.Region, endpoint: s.endpointHost()}
	if !match(r, nil) {
		w.empty("regionInfo")
		return nil
	}
	w.open("regionInfo")
	w.open("item")
	w.text("regionName", r.name)
	w.text("regionEndpoint", r.endpoint)
	w.text("optInStatus", optInNotRequired)
	w.close("item")
	w.close("regionInfo")
	return nil
}

// endpointHost is the host:port of the URL clients reach the cloud at.
func (s *Server) endpointHost() string {
	if u, err := url.Parse(s.baseURL()); err == nil && u.Host != "" {
		return u.Host
	}
	return s.baseURL()
}

// zoneRow is one availability zone of the region.
type zoneRow struct {
	name, id, region string
}

// zoneFields are DescribeAvailabilityZones' filters.
var zoneFields = map[string]func(zoneRow) []string{
	"zone-name":            one(func(z zoneRow) string { return z.name }),
	"zone-id":              one(func(z zoneRow) string { return z.id }),
	"region-name":          one(func(z zoneRow) string { return z.region }),
	"group-name":           one(func(z zoneRow) string { return z.region }),
	"network-border-group": one(func(z zoneRow) string { return z.region }),
	"state":                one(func(zoneRow) string { return "available" }),
	"zone-type":            one(func(zoneRow) string { return "availability-zone" }),
	"opt-in-status":        one(func(zoneRow) string { return optInNotRequired }),
	"message":              func(zoneRow) []string { return nil },
}

// zones gives the region's zones (Config.Zones, in order) with their zone ids.
func (s *Server) zones() []zoneRow {
	out := make([]zoneRow, len(s.cfg.Zones))
	for i, z := range s.cfg.Zones {
		out[i] = zoneRow{name: z, id: zoneID(s.cfg.Region, i), region: s.cfg.Region}
	}
	return out
}

// zoneID names the i-th zone as EC2's zone ids do: the region's short form, "-az", a
// number from 1 (us-east-1 → use1-az1, ap-southeast-2 → apse2-az1).
func zoneID(region string, i int) string {
	parts := strings.Split(region, "-")
	var b strings.Builder
	for j, part := range parts {
		switch {
		case j == 0 || j == len(parts)-1:
			b.WriteString(part)
		default:
			for _, dir := range []string{"north", "south", "east", "west", "central"} {
				if rest, ok := strings.CutPrefix(part, dir); ok {
					b.WriteByte(dir[0])
					part = rest
				}
			}
			if part != "" { // a part that is not a compass direction: its initial
				b.WriteByte(part[0])
			}
		}
	}
	return b.String() + "-az" + strconv.Itoa(i+1)
}

// describeAvailabilityZones answers the configured zones, all available.
func describeAvailabilityZones(s *Server, rq *request, w *xmlWriter) error {
	p := rq.params
	fs, aerr := p.filters()
	if aerr != nil {
		return aerr
	}
	match, aerr := compileFilters(fs, zoneFields)
	if aerr != nil {
		return aerr
	}
	if _, aerr := p.boolean("AllAvailabilityZones"); aerr != nil {
		return aerr
	}
	all := s.zones()
	names, ids := unique(nonEmpty(p.list("ZoneName"))), unique(nonEmpty(p.list("ZoneId")))
	for _, n := range names {
		if !slices.ContainsFunc(all, func(z zoneRow) bool { return z.name == n }) {
			return clientError("InvalidParameterValue", "The zone '%s' does not exist.", truncate(n))
		}
	}
	for _, id := range ids {
		if !slices.ContainsFunc(all, func(z zoneRow) bool { return z.id == id }) {
			return clientError("InvalidParameterValue", "The zone ID '%s' does not exist.", truncate(id))
		}
	}
	var rows []zoneRow
	for _, z := range all {
		if (len(names) > 0 || len(ids) > 0) && !slices.Contains(names, z.name) && !slices.Contains(ids, z.id) {
			continue
		}
		if match(z, nil) {
			rows = append(rows, z)
		}
	}
	if len(rows) == 0 {
		w.empty("availabilityZoneInfo")
		return nil
	}
	w.open("availabilityZoneInfo")
	for _, z := range rows {
		w.open("item")
		w.text("zoneName", z.name)
		w.text("zoneState", "available")
		w.text("regionName", z.region)
		w.text("zoneId", z.id)
		w.text("zoneType", "availability-zone")
		w.text("optInStatus", optInNotRequired)
		w.text("groupName", z.region)
		w.text("networkBorderGroup", z.region)
		w.empty("messageSet")
		w.close("item")
	}
	w.close("availabilityZoneInfo")
	return nil
}
