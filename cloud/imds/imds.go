// Package imds is the local cloud's instance metadata service: one http.Handler that answers
// EC2's metadata paths (/latest/meta-data/..., /latest/user-data, the IMDSv2 token) for every
// instance of the cloud, each request naming its instance in the URL, so that any number of
// instances share one listener.
package imds

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Prefix is the path prefix the handler answers under: /_imds/<instance-id>/latest/...
// The leading underscore keeps it apart from anything the EC2 Query API serves on the same
// listener.
const Prefix = "/_imds/"

// Header names of EC2's IMDSv2 token dance, in the canonical form net/http uses.
const (
	headerToken    = "X-Aws-Ec2-Metadata-Token"
	headerTokenTTL = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds"
)

const (
	// minTokenTTL and maxTokenTTL bound the TTL a token PUT may ask for, in seconds: EC2
	// answers 400 outside 1..21600 (six hours).
	minTokenTTL = 1
	maxTokenTTL = 21600

	// serverHeader is what EC2's metadata service names itself; clients do not depend on it,
	// but people comparing captures do.
	serverHeader = "EC2ws"

	// identityDocumentVersion is the "version" field EC2 has put in every instance identity
	// document since 2017.
	identityDocumentVersion = "2017-09-30"

	// tokenKeySize is the HMAC-SHA256 key length: the hash's block-independent security
	// level, 32 bytes.
	tokenKeySize = 32
)

// Instance is what the metadata service tells one instance about itself.
type Instance struct {
	InstanceID, ImageID, InstanceType, AvailabilityZone, Region string
	LocalIPv4, PublicIPv4, LocalHostname, PublicHostname, MAC   string
	ReservationID, SecurityGroups                               string    // space separated names (EC2's form); served one a line, as IMDS lists them
	KeyName, OpenSSHKey                                         string    // OpenSSHKey = the public key line, "" if none
	UserData                                                    []byte    // raw (already base64-decoded); nil = none (404 as EC2 does)
	SpotTerminationTime                                         time.Time // zero = no interruption notice
}

// Source looks instances up by id. The handler calls it once per request, from many
// goroutines at once, so it must be safe for concurrent use.
type Source interface {
	Instance(instanceID string) (Instance, bool)
}

// Endpoint returns the base URL to give an instance in AWS_EC2_METADATA_SERVICE_ENDPOINT, e.g.
// base "http://127.0.0.1:8080" → "http://i-0123@127.0.0.1:8080/_imds/i-0123/". The instance
// is named twice on purpose: botocore, curl and shell scripts that write
// "${AWS_EC2_METADATA_SERVICE_ENDPOINT}latest/user-data" keep the path; aws-sdk-go-v2's IMDS
// client replaces the path with "/latest/..." but keeps the user, which net/http sends as
// Basic authentication (the cloud mounts the handler at "/latest/" too for that).
func Endpoint(base, instanceID string) string {
	u, err := url.Parse(strings.TrimRight(base, "/") + Prefix + instanceID + "/")
	if err != nil || u.Host == "" {
		return strings.TrimRight(base, "/") + Prefix + instanceID + "/"
	}
	u.User = url.User(instanceID)
	return u.String()
}

// Handler serves the metadata of every instance its Source knows. It guarantees that an
// instance is told only its own metadata, that a token is accepted only by the instance it was
// issued to and only until it expires, and that it holds no per-instance or per-token state:
// its memory does not grow with the number of instances or tokens.
//
// Requests name their instance in the path, Prefix + "<instance-id>/latest/...". As a second
// form it also answers "/latest/..." when the instance id comes as the user name of HTTP Basic
// authentication, which is what Go's net/http sends for an endpoint URL such as
// "http://i-0123@127.0.0.1:8080/": aws-sdk-go-v2's IMDS client replaces the endpoint's path
// with "/latest/..." but keeps its user. That form is served only if the handler is mounted
// at "/latest/" as well as at Prefix.
type Handler struct {
	src Source
	now func() time.Time
	// key signs tokens. It is random per Handler, so a restarted cloud invalidates old
	// tokens; clients then fetch a new one, as they must after EC2 restarts an instance.
	key [tokenKeySize]byte
}

// New returns a Handler serving the instances src knows; now is its clock for token expiry
// (nil means time.Now).
func New(src Source, now func() time.Time) *Handler {
	if now == nil {
		now = time.Now
	}
	h := &Handler{src: src, now: now}
	rand.Read(h.key[:]) // never fails (crypto/rand crashes the program rather than return an error)
	return h
}

// ServeHTTP answers one metadata request as EC2's IMDS would.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Server", serverHeader)
	id, rest, ok := splitPath(r)
	if !ok {
		plain(w, http.StatusNotFound, "")
		return
	}
	inst, ok := h.src.Instance(id)
	if !ok {
		plain(w, http.StatusNotFound, "")
		return
	}
	segs := segments(rest)
	if len(segs) == 3 && segs[1] == "api" && segs[2] == "token" {
		if segs[0] != "latest" {
			// EC2 issues tokens only under /latest; a dated version's token path is 403.
			plain(w, http.StatusForbidden, "")
			return
		}
		h.serveToken(w, r, id)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		plain(w, http.StatusMethodNotAllowed, "")
		return
	}
	// IMDSv1 (no token) is allowed, as on EC2 with the default HttpTokens=optional; a token
	// that is sent must be valid.
	if vals, sent := r.Header[headerToken]; sent {
		left, valid := h.verifyToken(id, strings.Join(vals, ""))
		if !valid {
			plain(w, http.StatusUnauthorized, "")
			return
		}
		w.Header().Set(headerTokenTTL, strconv.FormatInt(int64(left/time.Second), 10))
	}
	body, ok := lookup(inst, segs)
	if !ok {
		plain(w, http.StatusNotFound, "")
		return
	}
	plain(w, http.StatusOK, body)
}

// serveToken answers PUT /latest/api/token.
func (h *Handler) serveToken(w http.ResponseWriter, r *http.Request, id string) {
	if r.Method != http.MethodPut {
		w.Header().Set("Allow", http.MethodPut)
		plain(w, http.StatusMethodNotAllowed, "")
		return
	}
	// EC2 refuses a token PUT that went through a proxy: the header marks a request that
	// did not come from the instance itself (the SSRF defence IMDSv2 exists for).
	if _, proxied := r.Header["X-Forwarded-For"]; proxied {
		plain(w, http.StatusForbidden, "")
		return
	}
	ttl, err := strconv.Atoi(r.Header.Get(headerTokenTTL))
	if err != nil || ttl < minTokenTTL || ttl > maxTokenTTL {
		plain(w, http.StatusBadRequest, "")
		return
	}
	token := h.issueToken(id, h.now().Add(time.Duration(ttl)*time.Second))
	w.Header().Set(headerTokenTTL, strconv.Itoa(ttl))
	plain(w, http.StatusOK, token)
}

// Tokens are stateless: base64url(expiry as Unix nanoseconds, 8 bytes big-endian ||
// HMAC-SHA256(key, expiry || instance id)). A table of issued tokens would grow with every
// PUT of 100,000 instances and need sweeping; the MAC binds the token to its instance and
// expiry with nothing stored, and EC2 offers no way to revoke a token before it expires.
const (
	expirySize  = 8
	tokenRawLen = expirySize + sha256.Size
)

func (h *Handler) issueToken(id string, expiry time.Time) string {
	var raw [tokenRawLen]byte
	binary.BigEndian.PutUint64(raw[:expirySize], uint64(expiry.UnixNano()))
	copy(raw[expirySize:], h.mac(raw[:expirySize], id))
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// verifyToken reports whether token was issued for instance id and has not expired, and
// how long it has left.
func (h *Handler) verifyToken(id, token string) (time.Duration, bool) {
	if base64.RawURLEncoding.DecodedLen(len(token)) != tokenRawLen {
		return 0, false
	}
	var raw [tokenRawLen]byte
	if n, err := base64.RawURLEncoding.Decode(raw[:], []byte(token)); err != nil || n != tokenRawLen {
		return 0, false
	}
	if subtle.ConstantTimeCompare(raw[expirySize:], h.mac(raw[:expirySize], id)) != 1 {
		return 0, false
	}
	expiry := time.Unix(0, int64(binary.BigEndian.Uint64(raw[:expirySize])))
	left := expiry.Sub(h.now())
	if left <= 0 {
		return 0, false
	}
	return left, true
}

func (h *Handler) mac(expiry []byte, id string) []byte {
	m := hmac.New(sha256.New, h.key[:])
	m.Write(expiry)
	m.Write([]byte(id))
	return m.Sum(nil)
}

// splitPath finds the instance a request is for and the IMDS path within it.
func splitPath(r *http.Request) (id, rest string, ok bool) {
	p := r.URL.Path
	if after, found := strings.CutPrefix(p, Prefix); found {
		id, rest, _ = strings.Cut(after, "/")
		return id, rest, id != ""
	}
	// The Basic-auth form (see Handler): only "/latest" paths, the only ones the SDK asks for.
	if p == "/latest" || strings.HasPrefix(p, "/latest/") {
		if user, _, has := r.BasicAuth(); has && user != "" {
			return user, p, true
		}
	}
	return "", "", false
}

// segments splits an IMDS path into its non-empty parts. EC2 answers a path with or without
// a trailing slash alike (botocore asks for "placement/availability-zone/"), and doubled
// slashes come from joining an endpoint that ends in "/" with a path that starts with one.
func segments(p string) []string {
	var segs []string
	for s := range strings.SplitSeq(p, "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	return segs
}

func plain(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body)) // a failed write is the client's departure; nothing to do
}

// node is one path of the metadata tree: a value, or a directory of entries.
type node struct {
	value   string
	entries []entry // nil for a value
}

// entry is a named child of a directory. listed is how the directory listing shows it when
// it differs from name (public-keys/ lists "0=keyname" for the path "0").
type entry struct {
	name, listed string
	node         node
}

func (n node) isDir() bool { return n.entries != nil }

// dir builds a directory from its entries, dropping empty values and empty directories:
// EC2 leaves out what an instance does not have (public-ipv4 without a public address).
func dir(entries ...entry) node {
	kept := make([]entry, 0, len(entries))
	for _, e := range entries {
		if e.node.isDir() && len(e.node.entries) > 0 || !e.node.isDir() && e.node.value != "" {
			kept = append(kept, e)
		}
	}
	if len(kept) == 0 {
		return node{}
	}
	return node{entries: kept}
}

func val(name, v string) entry      { return entry{name: name, node: node{value: v}} }
func sub(name string, n node) entry { return entry{name: name, node: n} }

// listing is a directory's body: one entry a line, directories with a trailing slash.
func (n node) listing() string {
	var b strings.Builder
	for i, e := range n.entries {
		if i > 0 {
			b.WriteByte('\n')
		}
		if e.listed != "" {
			b.WriteString(e.listed)
		} else {
			b.WriteString(e.name)
		}
		if e.listed == "" && e.node.isDir() {
			b.WriteByte('/')
		}
	}
	return b.String()
}

// lookup resolves an IMDS path (split into segments) for inst.
func lookup(inst Instance, segs []string) (string, bool) {
	if len(segs) == 0 {
		return versionListing(), true
	}
	if !knownVersion(segs[0]) {
		return "", false
	}
	branch := ""
	if len(segs) > 1 {
		branch = segs[1]
	}
	n := versionTree(inst, branch)
	for _, s := range segs[1:] {
		found := false
		for _, e := range n.entries {
			if e.name == s {
				n, found = e.node, true
				break
			}
		}
		if !found {
			return "", false
		}
	}
	if n.isDir() {
		return n.listing(), true
	}
	return n.value, true
}

// versionTree is what one version path (/latest/ or a dated one) holds for inst, with only
// the branch a request goes down built in full: the identity document alone costs more than
// the rest of the tree.
func versionTree(inst Instance, branch string) node {
	placeholder := node{entries: []entry{}} // listed as a directory; never descended into
	dynamic, metadata := placeholder, placeholder
	switch branch {
	case "dynamic":
		dynamic = dynamicTree(inst)
	case "meta-data":
		metadata = metadataTree(inst)
	}
	entries := []entry{
		sub("dynamic", dynamic),
		sub("meta-data", metadata),
	}
	if inst.UserData != nil {
		// Present even when empty: EC2 distinguishes "no user data" (404) from empty.
		entries = append(entries, entry{name: "user-data", node: node{value: string(inst.UserData)}})
	}
	return node{entries: entries}
}

func metadataTree(inst Instance) node {
	var keys node
	if inst.OpenSSHKey != "" {
		keys = dir(entry{name: "0", listed: "0=" + inst.KeyName, node: dir(val("openssh-key", inst.OpenSSHKey))})
	}
	var spot node
	if !inst.SpotTerminationTime.IsZero() {
		at := inst.SpotTerminationTime.UTC().Format(time.RFC3339)
		action, _ := json.Marshal(struct {
			Action string `json:"action"`
			Time   string `json:"time"`
		}{"terminate", at}) // cannot fail: two strings
		spot = dir(val("instance-action", string(action)), val("termination-time", at))
	}
	return dir(
		val("ami-id", inst.ImageID),
		val("hostname", inst.LocalHostname),
		val("instance-id", inst.InstanceID),
		val("instance-type", inst.InstanceType),
		val("local-hostname", inst.LocalHostname),
		val("local-ipv4", inst.LocalIPv4),
		val("mac", inst.MAC),
		sub("placement", dir(
			val("availability-zone", inst.AvailabilityZone),
			val("region", inst.Region),
		)),
		val("public-hostname", inst.PublicHostname),
		val("public-ipv4", inst.PublicIPv4),
		sub("public-keys", keys),
		val("reservation-id", inst.ReservationID),
		val("security-groups", strings.Join(strings.Fields(inst.SecurityGroups), "\n")),
		sub("spot", spot),
	)
}

// identityDocument is EC2's instance identity document, in its field order. Fields EC2 sends
// as null for an ordinary instance are null here too; nothing is signed (no pkcs7 or
// signature paths), as the local cloud has no key a client could check against.
type identityDocument struct {
	AccountID               *string  `json:"accountId"`
	Architecture            string   `json:"architecture"`
	AvailabilityZone        string   `json:"availabilityZone"`
	BillingProducts         []string `json:"billingProducts"`
	DevpayProductCodes      []string `json:"devpayProductCodes"`
	MarketplaceProductCodes []string `json:"marketplaceProductCodes"`
	ImageID                 string   `json:"imageId"`
	InstanceID              string   `json:"instanceId"`
	InstanceType            string   `json:"instanceType"`
	KernelID                *string  `json:"kernelId"`
	PendingTime             *string  `json:"pendingTime"`
	PrivateIP               string   `json:"privateIp"`
	RamdiskID               *string  `json:"ramdiskId"`
	Region                  string   `json:"region"`
	Version                 string   `json:"version"`
}

func dynamicTree(inst Instance) node {
	doc, _ := json.MarshalIndent(identityDocument{
		Architecture:     architecture(),
		AvailabilityZone: inst.AvailabilityZone,
		ImageID:          inst.ImageID,
		InstanceID:       inst.InstanceID,
		InstanceType:     inst.InstanceType,
		PrivateIP:        inst.LocalIPv4,
		Region:           inst.Region,
		Version:          identityDocumentVersion,
	}, "", "  ") // cannot fail: strings and nil pointers only
	return dir(sub("instance-identity", dir(val("document", string(doc)))))
}

// architecture names the host's CPU as EC2 does: instances here are local processes, so the
// host's architecture is the truthful answer.
func architecture() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "386":
		return "i386"
	default:
		return runtime.GOARCH
	}
}

// metadataVersions are the dated versions EC2's IMDS lists at "/", oldest first. Tools such
// as cloud-init ask for a dated version rather than "latest"; every one serves the same tree
// here.
func metadataVersions() []string {
	return []string{
		"1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15",
		"2008-02-01", "2008-09-01", "2009-04-04", "2011-01-01", "2011-05-01", "2012-01-12",
		"2014-02-25", "2014-11-05", "2015-10-20", "2016-04-19", "2016-06-30", "2016-09-02",
		"2018-03-28", "2018-08-17", "2018-09-24", "2019-10-01", "2020-10-27", "2021-01-03",
		"2021-03-23", "2021-07-15", "2022-09-24",
	}
}

func knownVersion(v string) bool {
	if v == "latest" {
		return true
	}
	for _, d := range metadataVersions() {
		if d == v {
			return true
		}
	}
	return false
}

func versionListing() string {
	return strings.Join(append(metadataVersions(), "latest"), "\n")
}
