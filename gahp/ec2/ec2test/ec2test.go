// Package ec2test is a fake EC2 Query API endpoint for tests of the EC2 GAHP: its one job
// is to answer the calls the gahp makes, keep count of them, and misbehave on request
// (latency, throttling, server faults, connections dropped before or after acting), the
// way httptest serves net/http tests. It is not ec2grid's cloud (package cloud): it keeps
// just enough state to check what the gahp sent and how often.
package ec2test

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server flavors: what DescribeKeyPairs answers look like, so EC2_VM_SERVER_TYPE can be
// tested against each of HTCondor's server types.
const (
	FlavorAWS        = "aws"
	FlavorOpenStack  = "openstack"
	FlavorNimbus     = "nimbus"
	FlavorEucalyptus = "eucalyptus"
	FlavorUnknown    = "unknown"
)

// Options configure a Server. The zero value is an AWS-flavored endpoint that accepts any
// access key.
type Options struct {
	AccessKey string        // if set, requests signed with another key get 401 AuthFailure
	Flavor    string        // see the Flavor constants; "" is FlavorAWS
	Latency   time.Duration // added before every answer
	PageSize  int           // reservations per DescribeInstances page; 0: one page (or MaxResults' instances)
	// NoPaging makes DescribeInstances refuse MaxResults with InvalidParameterValue, as
	// an EC2-compatible cloud without paging may.
	NoPaging bool
	// IgnoreClientToken makes RunInstances start new instances for a token it has seen
	// (moto, OpenStack), instead of returning the first call's instances (AWS).
	IgnoreClientToken bool
}

// Instance is the fake's record of one instance.
type Instance struct {
	ID, ImageID, State, ClientToken, KeyName, InstanceType, StateReason string
	UserData, SubnetID, PrivateIP, AvailabilityZone                     string
	SecurityGroups, SecurityGroupIDs                                    []string
	Tags                                                                map[string]string
	Params                                                              url.Values // the RunInstances request as received
}

// SpotRequest is the fake's record of one spot request.
type SpotRequest struct {
	ID, State, LaunchGroup, InstanceID, StatusCode, Price string
	Params                                                url.Values
}

// Fault is a misbehaviour applied to the next calls of one action ("" for any action).
type Fault int

const (
	// Throttle answers 503 RequestLimitExceeded without acting.
	Throttle Fault = iota
	// ServerError answers 500 InternalError without acting.
	ServerError
	// DropBefore closes the connection without acting or answering.
	DropBefore
	// DropAfter acts, then closes the connection without answering.
	DropAfter
	// Stall acts, then holds the answer until the client gives up.
	Stall
)

// Server is a running fake endpoint. Safe for concurrent use.
type Server struct {
	URL  string
	opts Options
	ts   *httptest.Server

	mu         sync.Mutex
	calls      map[string]int
	regions    map[string]int // signing regions seen
	instances  map[string]*Instance
	order      []string // instance ids in creation order
	reserv     [][]string
	tokens     map[string][]string
	keys       map[string]string // name -> material
	spots      map[string]*SpotRequest
	spotOrder  []string
	faults     []pendingFault
	throttleFn func(action string) bool
	next       int
	stall      chan struct{}
}

type pendingFault struct {
	action string
	fault  Fault
	n      int
}

// NewServer starts a fake endpoint; Close it when done.
func NewServer(opts Options) *Server {
	if opts.Flavor == "" {
		opts.Flavor = FlavorAWS
	}
	s := &Server{
		opts: opts, calls: map[string]int{}, regions: map[string]int{}, instances: map[string]*Instance{},
		tokens: map[string][]string{}, keys: map[string]string{}, spots: map[string]*SpotRequest{},
		stall: make(chan struct{}),
	}
	s.ts = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.ts.URL + "/"
	return s
}

// Close stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.stall:
	default:
		close(s.stall)
	}
	s.mu.Unlock()
	s.ts.CloseClientConnections()
	s.ts.Close()
}

// Inject makes the next n calls of action ("" for any) misbehave.
func (s *Server) Inject(action string, f Fault, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, pendingFault{action, f, n})
}

// ThrottleWhen throttles (503 RequestLimitExceeded, nothing done) every call for which fn
// returns true; nil stops it. fn runs under the server's lock.
func (s *Server) ThrottleWhen(fn func(action string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttleFn = fn
}

// Calls returns how many requests named action arrived (faults included).
func (s *Server) Calls(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[action]
}

// Regions returns the SigV4 signing regions seen, with counts.
func (s *Server) Regions() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.regions {
		out[k] = v
	}
	return out
}

// Instances returns copies of every instance, in creation order.
func (s *Server) Instances() []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Instance, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, *s.instances[id])
	}
	return out
}

// Instance returns a copy of one instance.
func (s *Server) Instance(id string) (Instance, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.instances[id]
	if !ok {
		return Instance{}, false
	}
	return *i, true
}

// KeyPairs returns the key pair names.
func (s *Server) KeyPairs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// SpotRequests returns copies of every spot request, in creation order.
func (s *Server) SpotRequests() []SpotRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SpotRequest
	for _, id := range s.spotOrder {
		out = append(out, *s.spots[id])
	}
	return out
}

// SetState forces an instance's state (and state reason).
func (s *Server) SetState(id, state, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.instances[id]; i != nil {
		i.State, i.StateReason = state, reason
	}
}

var credentialScope = regexp.MustCompile(`Credential=([^/]*)/[0-9]{8}/([^/]*)/([^/]*)/aws4_request`)

type apiError struct {
	status  int
	code    string
	message string
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, err := url.ParseQuery(string(body))
	if r.Method != http.MethodPost || err != nil {
		s.writeError(w, &apiError{400, "InvalidRequest", "POST a form body"})
		return
	}
	action := form.Get("Action")

	s.mu.Lock()
	s.calls[action]++
	m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization"))
	if m != nil {
		s.regions[m[2]]++
	}
	fault, faulted := s.takeFault(action)
	if !faulted && s.throttleFn != nil && s.throttleFn(action) {
		fault, faulted = Throttle, true
	}
	s.mu.Unlock()

	if s.opts.Latency > 0 {
		time.Sleep(s.opts.Latency)
	}
	if m == nil || m[3] != "ec2" {
		s.writeError(w, &apiError{401, "AuthFailure", "AWS was not able to validate the provided access credentials"})
		return
	}
	if s.opts.AccessKey != "" && m[1] != s.opts.AccessKey {
		s.writeError(w, &apiError{401, "AuthFailure", "AWS was not able to validate the provided access credentials"})
		return
	}
	if faulted {
		switch fault {
		case Throttle:
			s.writeError(w, &apiError{503, "RequestLimitExceeded", "Request limit exceeded."})
			return
		case ServerError:
			s.writeError(w, &apiError{500, "InternalError", "An internal error has occurred."})
			return
		case DropBefore:
			drop(w)
			return
		}
	}

	s.mu.Lock()
	out, aerr := s.act(action, form)
	s.mu.Unlock()

	if faulted && fault == DropAfter {
		drop(w)
		return
	}
	if faulted && fault == Stall {
		select {
		case <-r.Context().Done():
		case <-s.stall:
		}
		drop(w)
		return
	}
	if aerr != nil {
		s.writeError(w, aerr)
		return
	}
	s.writeResponse(w, action, form.Get("Version"), out)
}

func (s *Server) takeFault(action string) (Fault, bool) {
	for i := range s.faults {
		f := &s.faults[i]
		if f.n > 0 && (f.action == "" || f.action == action) {
			f.n--
			return f.fault, true
		}
	}
	return 0, false
}

func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("ec2test: cannot hijack")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}

const requestID = "11111111-2222-3333-4444-555555555555"

func (s *Server) writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("x-amzn-RequestId", requestID)
	if s.opts.Flavor == FlavorAWS {
		w.Header().Set("Server", "AmazonEC2")
	}
	w.WriteHeader(e.status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>`,
		esc(e.code), esc(e.message), requestID)
}

func (s *Server) writeResponse(w http.ResponseWriter, action, version, payload string) {
	if version == "" {
		version = "2016-11-15"
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("x-amzn-RequestId", requestID)
	ns := "http://ec2.amazonaws.com/doc/" + version + "/"
	var b strings.Builder
	switch {
	case action == "DescribeKeyPairs" && s.opts.Flavor == FlavorNimbus:
		w.Header().Set("Server", "Jetty(6.1.x)")
		fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<%sResponse xmlns="%s">%s</%sResponse>`, action, ns, payload, action)
	case action == "DescribeKeyPairs" && s.opts.Flavor == FlavorEucalyptus:
		fmt.Fprintf(&b, `<euca:%sResponse xmlns:euca="%s"><euca:requestId>%s</euca:requestId>%s</euca:%sResponse>`, action, ns, requestID, payload, action)
	case action == "DescribeKeyPairs" && s.opts.Flavor == FlavorOpenStack:
		fmt.Fprintf(&b, `<%sResponse xmlns="%s"><requestId>%s</requestId>%s</%sResponse>`, action, ns, requestID, payload, action)
	case action == "DescribeKeyPairs" && s.opts.Flavor == FlavorUnknown:
		fmt.Fprintf(&b, `<%sResponse xmlns="%s">%s</%sResponse>`, action, ns, payload, action)
	default:
		if s.opts.Flavor == FlavorAWS {
			w.Header().Set("Server", "AmazonEC2")
		}
		fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<%sResponse xmlns="%s"><requestId>%s</requestId>%s</%sResponse>`, action, ns, requestID, payload, action)
	}
	io.WriteString(w, b.String())
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// list returns the values of a Query API list parameter: prefix.1, prefix.2, ...
func list(form url.Values, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := form[prefix+"."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

func (s *Server) newInstance(form url.Values, prefix string) *Instance {
	s.next++
	id := fmt.Sprintf("i-%017x", s.next)
	inst := &Instance{
		ID: id, ImageID: form.Get(prefix + "ImageId"), State: "pending", ClientToken: form.Get("ClientToken"),
		KeyName: form.Get(prefix + "KeyName"), InstanceType: form.Get(prefix + "InstanceType"),
		UserData: form.Get(prefix + "UserData"), SubnetID: form.Get(prefix + "SubnetId"),
		PrivateIP: form.Get(prefix + "PrivateIpAddress"), AvailabilityZone: form.Get(prefix + "Placement.AvailabilityZone"),
		SecurityGroups: list(form, prefix+"SecurityGroup"), SecurityGroupIDs: list(form, prefix+"SecurityGroupId"),
		Tags: map[string]string{}, Params: form,
	}
	if inst.InstanceType == "" {
		inst.InstanceType = "m1.small"
	}
	s.instances[id] = inst
	s.order = append(s.order, id)
	return inst
}

func (s *Server) act(action string, form url.Values) (string, *apiError) {
	switch action {
	case "RunInstances":
		return s.runInstances(form)
	case "TerminateInstances":
		ids := list(form, "InstanceId")
		var b strings.Builder
		for _, id := range ids {
			if s.instances[id] == nil {
				return "", &apiError{400, "InvalidInstanceID.NotFound", fmt.Sprintf("The instance ID '%s' does not exist", id)}
			}
		}
		b.WriteString("<instancesSet>")
		for _, id := range ids {
			i := s.instances[id]
			prev := i.State
			if i.State != "terminated" {
				i.State, i.StateReason = "shutting-down", "Client.UserInitiatedShutdown"
			}
			fmt.Fprintf(&b, "<item><instanceId>%s</instanceId><currentState><code>%d</code><name>%s</name></currentState><previousState><code>%d</code><name>%s</name></previousState></item>",
				id, stateCode(i.State), i.State, stateCode(prev), prev)
		}
		b.WriteString("</instancesSet>")
		return b.String(), nil
	case "DescribeInstances":
		return s.describeInstances(form)
	case "CreateKeyPair":
		name := form.Get("KeyName")
		if _, dup := s.keys[name]; dup {
			return "", &apiError{400, "InvalidKeyPair.Duplicate", fmt.Sprintf("The keypair '%s' already exists.", name)}
		}
		material := "-----BEGIN RSA PRIVATE KEY-----\nfake key " + name + "\n-----END RSA PRIVATE KEY-----"
		s.keys[name] = material
		return fmt.Sprintf("<keyName>%s</keyName><keyFingerprint>1f:51:ae</keyFingerprint><keyMaterial>%s</keyMaterial><keyPairId>key-%x</keyPairId>", esc(name), esc(material), len(s.keys)), nil
	case "DeleteKeyPair":
		delete(s.keys, form.Get("KeyName"))
		return "<return>true</return>", nil
	case "DescribeKeyPairs":
		var b strings.Builder
		b.WriteString("<keySet>")
		for _, k := range sortedKeys(s.keys) {
			fmt.Fprintf(&b, "<item><keyName>%s</keyName><keyFingerprint>1f:51:ae</keyFingerprint></item>", esc(k))
		}
		b.WriteString("</keySet>")
		return b.String(), nil
	case "CreateTags":
		ids := list(form, "ResourceId")
		for _, id := range ids {
			if s.instances[id] == nil {
				return "", &apiError{400, "InvalidInstanceID.NotFound", fmt.Sprintf("The instance ID '%s' does not exist", id)}
			}
		}
		for i := 1; ; i++ {
			k, ok := form["Tag."+strconv.Itoa(i)+".Key"]
			if !ok {
				break
			}
			for _, id := range ids {
				s.instances[id].Tags[k[0]] = form.Get("Tag." + strconv.Itoa(i) + ".Value")
			}
		}
		return "<return>true</return>", nil
	case "AssociateAddress":
		if s.instances[form.Get("InstanceId")] == nil {
			return "", &apiError{400, "InvalidInstanceID.NotFound", "The instance ID does not exist"}
		}
		if form.Get("PublicIp") == "" && form.Get("AllocationId") == "" {
			return "", &apiError{400, "MissingParameter", "PublicIp or AllocationId is required"}
		}
		return "<return>true</return><associationId>eipassoc-1</associationId>", nil
	case "AttachVolume":
		return fmt.Sprintf("<volumeId>%s</volumeId><instanceId>%s</instanceId><device>%s</device><status>attaching</status>",
			esc(form.Get("VolumeId")), esc(form.Get("InstanceId")), esc(form.Get("Device"))), nil
	case "RequestSpotInstances":
		s.next++
		sir := &SpotRequest{ID: fmt.Sprintf("sir-%08x", s.next), State: "open", LaunchGroup: form.Get("LaunchGroup"),
			StatusCode: "pending-evaluation", Price: form.Get("SpotPrice"), Params: form}
		s.spots[sir.ID] = sir
		s.spotOrder = append(s.spotOrder, sir.ID)
		return "<spotInstanceRequestSet>" + spotItem(sir) + "</spotInstanceRequestSet>", nil
	case "CancelSpotInstanceRequests":
		var b strings.Builder
		b.WriteString("<spotInstanceRequestSet>")
		for _, id := range list(form, "SpotInstanceRequestId") {
			sir := s.spots[id]
			if sir == nil {
				return "", &apiError{400, "InvalidSpotInstanceRequestID.NotFound", fmt.Sprintf("The spot instance request ID '%s' does not exist", id)}
			}
			sir.State, sir.StatusCode = "cancelled", "canceled-before-fulfillment"
			fmt.Fprintf(&b, "<item><spotInstanceRequestId>%s</spotInstanceRequestId><state>cancelled</state></item>", id)
		}
		b.WriteString("</spotInstanceRequestSet>")
		return b.String(), nil
	case "DescribeSpotInstanceRequests":
		ids := list(form, "SpotInstanceRequestId")
		if len(ids) == 0 {
			ids = s.spotOrder
		}
		var b strings.Builder
		b.WriteString("<spotInstanceRequestSet>")
		for _, id := range ids {
			sir := s.spots[id]
			if sir == nil {
				return "", &apiError{400, "InvalidSpotInstanceRequestID.NotFound", fmt.Sprintf("The spot instance request ID '%s' does not exist", id)}
			}
			if sir.State == "open" {
				// Fulfilled at the first look, as moto does.
				inst := s.newInstance(sir.Params, "LaunchSpecification.")
				inst.ClientToken = ""
				sir.State, sir.InstanceID, sir.StatusCode = "active", inst.ID, "fulfilled"
				s.reserv = append(s.reserv, []string{inst.ID})
			}
			b.WriteString(spotItem(sir))
		}
		b.WriteString("</spotInstanceRequestSet>")
		return b.String(), nil
	}
	return "", &apiError{400, "InvalidAction", fmt.Sprintf("The action %s is not valid for this web service.", action)}
}

func spotItem(sir *SpotRequest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<item><spotInstanceRequestId>%s</spotInstanceRequestId><spotPrice>%s</spotPrice><type>one-time</type><state>%s</state>",
		sir.ID, esc(sir.Price), sir.State)
	fmt.Fprintf(&b, "<status><code>%s</code><message>x</message></status>", sir.StatusCode)
	if sir.LaunchGroup != "" {
		fmt.Fprintf(&b, "<launchGroup>%s</launchGroup>", esc(sir.LaunchGroup))
	}
	if sir.InstanceID != "" {
		fmt.Fprintf(&b, "<instanceId>%s</instanceId>", sir.InstanceID)
	}
	b.WriteString("</item>")
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s *Server) runInstances(form url.Values) (string, *apiError) {
	if form.Get("ImageId") == "" {
		return "", &apiError{400, "MissingParameter", "The request must contain the parameter ImageId"}
	}
	if k := form.Get("KeyName"); k != "" && s.keys[k] == "" {
		return "", &apiError{400, "InvalidKeyPair.NotFound", fmt.Sprintf("The key pair '%s' does not exist", k)}
	}
	n, _ := strconv.Atoi(form.Get("MaxCount"))
	n = max(n, 1)
	token := form.Get("ClientToken")
	var ids []string
	if token != "" && !s.opts.IgnoreClientToken && s.tokens[token] != nil {
		ids = s.tokens[token]
	} else {
		for range n {
			ids = append(ids, s.newInstance(form, "").ID)
		}
		s.reserv = append(s.reserv, ids)
		if token != "" {
			s.tokens[token] = ids
		}
	}
	var b strings.Builder
	b.WriteString("<reservationId>r-1</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet>")
	for _, id := range ids {
		b.WriteString(instanceItem(s.instances[id]))
	}
	b.WriteString("</instancesSet>")
	return b.String(), nil
}

func stateCode(state string) int {
	return map[string]int{"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}[state]
}

func instanceItem(i *Instance) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<item><instanceId>%s</instanceId><imageId>%s</imageId><instanceState><code>%d</code><name>%s</name></instanceState>",
		i.ID, esc(i.ImageID), stateCode(i.State), i.State)
	dns := ""
	if i.State == "running" {
		dns = "ec2-" + i.ID + ".compute.example"
	}
	fmt.Fprintf(&b, "<privateDnsName>ip-%s.internal</privateDnsName><dnsName>%s</dnsName>", i.ID, dns)
	if i.KeyName != "" {
		fmt.Fprintf(&b, "<keyName>%s</keyName>", esc(i.KeyName))
	}
	fmt.Fprintf(&b, "<amiLaunchIndex>0</amiLaunchIndex><instanceType>%s</instanceType><launchTime>2026-01-01T00:00:00.000Z</launchTime>", esc(i.InstanceType))
	fmt.Fprintf(&b, "<placement><availabilityZone>us-east-1a</availabilityZone></placement><monitoring><state>disabled</state></monitoring>")
	if i.ClientToken != "" {
		fmt.Fprintf(&b, "<clientToken>%s</clientToken>", esc(i.ClientToken))
	}
	if i.StateReason != "" {
		fmt.Fprintf(&b, "<stateReason><code>%s</code><message>%s</message></stateReason>", esc(i.StateReason), esc(i.StateReason))
	}
	b.WriteString("<groupSet>")
	for _, g := range i.SecurityGroupIDs {
		fmt.Fprintf(&b, "<item><groupId>%s</groupId><groupName>%s</groupName></item>", esc(g), esc(g))
	}
	b.WriteString("</groupSet>")
	if len(i.Tags) > 0 {
		b.WriteString("<tagSet>")
		for _, k := range sortedKeys(i.Tags) {
			fmt.Fprintf(&b, "<item><key>%s</key><value>%s</value></item>", esc(k), esc(i.Tags[k]))
		}
		b.WriteString("</tagSet>")
	}
	b.WriteString("</item>")
	return b.String()
}

func (s *Server) describeInstances(form url.Values) (string, *apiError) {
	want := list(form, "InstanceId")
	for _, id := range want {
		if s.instances[id] == nil {
			return "", &apiError{400, "InvalidInstanceID.NotFound", fmt.Sprintf("The instance ID '%s' does not exist", id)}
		}
	}
	filterName, filterValue := form.Get("Filter.1.Name"), form.Get("Filter.1.Value.1")
	match := func(i *Instance) bool {
		if len(want) > 0 && !contains(want, i.ID) {
			return false
		}
		switch {
		case filterName == "":
			return true
		case filterName == "instance-state-name":
			return i.State == filterValue
		case filterName == "client-token":
			return i.ClientToken == filterValue
		case filterName == "key-name":
			return i.KeyName == filterValue
		case strings.HasPrefix(filterName, "tag:"):
			return i.Tags[strings.TrimPrefix(filterName, "tag:")] == filterValue
		}
		return false
	}
	// Every look moves instances on, as moto does: pending becomes running, shutting-down
	// becomes terminated.
	for _, i := range s.instances {
		switch i.State {
		case "pending":
			i.State = "running"
		case "shutting-down":
			i.State = "terminated"
		}
	}
	start := 0
	if t := form.Get("NextToken"); t != "" {
		start, _ = strconv.Atoi(t)
	}
	// MaxResults bounds a page's instances as EC2's does (whole reservations: the fake's
	// are one instance each, as the gahp starts them).
	maxResults := 0
	if m := form.Get("MaxResults"); m != "" {
		if s.opts.NoPaging {
			return "", &apiError{400, "InvalidParameterValue", "MaxResults is not supported"}
		}
		maxResults, _ = strconv.Atoi(m)
	}
	var b strings.Builder
	b.WriteString("<reservationSet>")
	shown, shownInstances, next := 0, 0, 0
	for ri := start; ri < len(s.reserv); ri++ {
		if (s.opts.PageSize > 0 && shown == s.opts.PageSize) || (maxResults > 0 && shownInstances >= maxResults) {
			next = ri
			break
		}
		var items []string
		for _, id := range s.reserv[ri] {
			if i := s.instances[id]; match(i) {
				items = append(items, instanceItem(i))
			}
		}
		if len(items) == 0 {
			continue
		}
		shown++
		shownInstances += len(items)
		fmt.Fprintf(&b, "<item><reservationId>r-%d</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet>%s</instancesSet></item>",
			ri, strings.Join(items, ""))
	}
	b.WriteString("</reservationSet>")
	if next > 0 {
		fmt.Fprintf(&b, "<nextToken>%d</nextToken>", next)
	}
	return b.String(), nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
