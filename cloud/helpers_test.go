package cloud

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// Test timing: instances boot fast so tests see every state, and waits are generous so a
// loaded machine never fails a test (tests never assert speed).
const (
	testBootDelay = 100 * time.Millisecond
	testWait      = 30 * time.Second
	testPoll      = 20 * time.Millisecond
)

var (
	alice = Account{Name: "alice", AccessKeyID: "AKIAALICE0000000000A", SecretAccessKey: "alice-secret-0000000000000000000000000000", OwnerID: "111111111111"}
	bob   = Account{Name: "bob", AccessKeyID: "AKIABOB00000000000B0", SecretAccessKey: "bob-secret-00000000000000000000000000000000", OwnerID: "222222222222"}
)

// testCloud is a Server serving on loopback, with a client signing as alice by default.
type testCloud struct {
	t    *testing.T
	s    *Server
	url  string
	dir  string
	cfg  Config
	http *http.Client
}

func testConfig(t *testing.T, dir string) Config {
	if dir == "" {
		dir = t.TempDir()
	}
	if os.Geteuid() == 0 {
		// Instance processes run as nobody, who must reach StateDir/instances/<id>:
		// make the test's directories searchable as an operator would.
		for _, d := range []string{dir, filepath.Dir(dir)} {
			if err := os.Chmod(d, 0o711); err != nil {
				t.Fatal(err)
			}
		}
	}
	return Config{StateDir: dir, Accounts: []Account{alice, bob}, BootDelay: testBootDelay}
}

// newTestCloud starts a cloud; mods adjust its config.
func newTestCloud(t *testing.T, mods ...func(*Config)) *testCloud {
	t.Helper()
	cfg := testConfig(t, "")
	for _, m := range mods {
		m(&cfg)
	}
	return startTestCloud(t, cfg)
}

func startTestCloud(t *testing.T, cfg Config) *testCloud {
	t.Helper()
	s, err := New(context.Background(), cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	tc := &testCloud{t: t, s: s, url: "http://" + ln.Addr().String(), dir: cfg.StateDir, cfg: cfg,
		http: &http.Client{Timeout: testWait, Transport: &http.Transport{}}}
	t.Cleanup(func() {
		tc.close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return tc
}

func (tc *testCloud) close() {
	if err := tc.s.Close(); err != nil {
		tc.t.Errorf("Close: %v", err)
	}
}

// response is one answer, its body parsed.
type response struct {
	status int
	header http.Header
	body   []byte
	root   *node
}

func (r *response) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// code is the error code of an error answer, "" for success.
func (r *response) code() string {
	if r.status == http.StatusOK {
		return ""
	}
	return r.root.get("Errors/Error/Code")
}

func signRequest(t testing.TB, req *http.Request, body []byte, acct Account) {
	t.Helper()
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: acct.AccessKeyID, SecretAccessKey: acct.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "ec2", "us-east-1", time.Now()); err != nil {
		t.Fatalf("sign: %v", err)
	}
}

// signScoped signs with a chosen region and service in the credential scope.
func signScoped(t testing.TB, req *http.Request, payloadHash string, acct Account, region, service string) {
	t.Helper()
	creds := aws.Credentials{AccessKeyID: acct.AccessKeyID, SecretAccessKey: acct.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payloadHash, service, region, time.Now()); err != nil {
		t.Fatalf("sign: %v", err)
	}
}

// send sends a request for action and checks the answer's form.
func (tc *testCloud) send(req *http.Request, action string) *response {
	tc.t.Helper()
	resp, err := tc.http.Do(req)
	if err != nil {
		tc.t.Fatalf("%s: %v", req.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tc.t.Fatal(err)
	}
	r := &response{status: resp.StatusCode, header: resp.Header, body: data}
	r.root, err = parseXML(data)
	if err != nil {
		tc.t.Fatalf("answer is not XML: %v\n%s", err, data)
	}
	if resp.Header.Get("x-amzn-RequestId") == "" {
		tc.t.Errorf("answer without x-amzn-RequestId: %s", data)
	}
	if r.status == http.StatusOK {
		checkShape(tc.t, action, r.root)
	} else {
		checkErrorDocument(tc.t, r)
	}
	return r
}

// do calls action as alice with key/value pairs.
func (tc *testCloud) do(action string, kv ...string) *response {
	tc.t.Helper()
	return tc.doAs(alice, action, kv...)
}

func (tc *testCloud) doAs(acct Account, action string, kv ...string) *response {
	tc.t.Helper()
	if len(kv)%2 != 0 {
		tc.t.Fatalf("odd key/value list %q", kv)
	}
	p := url.Values{"Action": {action}}
	for i := 0; i < len(kv); i += 2 {
		p.Add(kv[i], kv[i+1])
	}
	return tc.callForm(acct, p)
}

// callForm signs the parameters as acct (SigV4, as boto3 and the SDKs do) and POSTs them.
func (tc *testCloud) callForm(acct Account, p url.Values) *response {
	tc.t.Helper()
	if p.Get("Version") == "" {
		p.Set("Version", "2016-11-15")
	}
	body := p.Encode()
	req, err := http.NewRequest(http.MethodPost, tc.url+"/", strings.NewReader(body))
	if err != nil {
		tc.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	signRequest(tc.t, req, []byte(body), acct)
	return tc.send(req, p.Get("Action"))
}

// ok is do that must succeed.
func (tc *testCloud) ok(action string, kv ...string) *response {
	tc.t.Helper()
	r := tc.do(action, kv...)
	if r.status != http.StatusOK {
		tc.t.Fatalf("%s %q: %s", action, kv, r)
	}
	return r
}

// fails is do that must fail with code (and HTTP status).
func (tc *testCloud) fails(status int, code, action string, kv ...string) *response {
	tc.t.Helper()
	r := tc.do(action, kv...)
	if r.status != status || r.code() != code {
		tc.t.Fatalf("%s %q: want %d %s, got %s", action, kv, status, code, r)
	}
	return r
}

// run launches n instances as alice and gives their ids.
func (tc *testCloud) run(n int, kv ...string) []string {
	tc.t.Helper()
	args := append([]string{"MinCount", "1", "MaxCount", fmt.Sprint(n)}, kv...)
	if !slices.Contains(kv, "ImageId") {
		args = append(args, "ImageId", "ami-12345678")
	}
	r := tc.ok("RunInstances", args...)
	ids := r.root.texts("instancesSet/item/instanceId")
	if len(ids) != n {
		tc.t.Fatalf("RunInstances launched %d, want %d", len(ids), n)
	}
	return ids
}

// instance describes one instance of alice's.
func (tc *testCloud) instance(id string) *node {
	tc.t.Helper()
	r := tc.ok("DescribeInstances", "InstanceId.1", id)
	items := r.root.all("reservationSet/item/instancesSet/item")
	if len(items) != 1 {
		tc.t.Fatalf("DescribeInstances %s: %d items", id, len(items))
	}
	return items[0]
}

// waitState polls until the instance reaches state.
func (tc *testCloud) waitState(id, state string) *node {
	tc.t.Helper()
	deadline := time.Now().Add(testWait)
	for {
		in := tc.instance(id)
		if got := in.get("instanceState/name"); got == state {
			return in
		} else if time.Now().After(deadline) {
			tc.t.Fatalf("instance %s: state %s, waited %v for %s", id, got, testWait, state)
		}
		time.Sleep(testPoll)
	}
}

// node is a parsed XML element.
type node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []*node    `xml:",any"`
	Text    string     `xml:",chardata"`
}

func parseXML(b []byte) (*node, error) {
	n := new(node)
	if err := xml.Unmarshal(b, n); err != nil {
		return nil, err
	}
	return n, nil
}

// all gives the elements at a slash-separated path of local names below n.
func (n *node) all(path string) []*node {
	cur := []*node{n}
	for _, name := range strings.Split(path, "/") {
		var next []*node
		for _, c := range cur {
			for _, k := range c.Nodes {
				if k.XMLName.Local == name {
					next = append(next, k)
				}
			}
		}
		cur = next
	}
	return cur
}

// get gives the text of the first element at path, "" if none.
func (n *node) get(path string) string {
	if l := n.all(path); len(l) > 0 {
		return l[0].Text
	}
	return ""
}

func (n *node) has(path string) bool { return len(n.all(path)) > 0 }

func (n *node) texts(path string) []string {
	var out []string
	for _, k := range n.all(path) {
		out = append(out, k.Text)
	}
	return out
}

// The shape oracle: botocore's EC2 model, as Debian's python3-botocore installs it.
const botocoreModel = "/usr/lib/python3/dist-packages/botocore/data/ec2/2016-11-15/service-2.json"

type ec2Model struct {
	Operations map[string]struct {
		Output *struct{ Shape string }
	}
	Shapes map[string]*modelShape
}

type modelShape struct {
	Type    string
	Members map[string]modelMember
	Member  *modelMember
	Enum    []string
}

type modelMember struct {
	Shape        string
	LocationName string
}

var (
	modelOnce sync.Once
	model     *ec2Model
	modelErr  error
)

func loadModel(t testing.TB) *ec2Model {
	t.Helper()
	modelOnce.Do(func() {
		data, err := os.ReadFile(botocoreModel)
		if err != nil {
			modelErr = err
			return
		}
		m := new(ec2Model)
		modelErr = json.Unmarshal(data, m)
		model = m
	})
	if modelErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("botocore's EC2 model (python3-botocore): %v", modelErr)
		}
		return nil
	}
	return model
}

var (
	integerText = regexp.MustCompile(`^-?[0-9]+$`)
	nsPattern   = regexp.MustCompile(`^http://ec2\.amazonaws\.com/doc/[0-9]{4}-[0-9]{2}-[0-9]{2}/$`)
)

// checkShape is Appendix A's strict validator: every element of a success answer must be
// in the operation's output shape, lists must hold <item>s, scalars must parse.
func checkShape(t testing.TB, action string, root *node) {
	t.Helper()
	m := loadModel(t)
	if m == nil {
		return
	}
	op, ok := m.Operations[action]
	if !ok {
		return // an action of a later model; nothing to check against
	}
	if root.XMLName.Local != action+"Response" {
		t.Errorf("root <%s>, want <%sResponse>", root.XMLName.Local, action)
	}
	if !nsPattern.MatchString(root.XMLName.Space) {
		t.Errorf("%s: namespace %q", action, root.XMLName.Space)
	}
	var problems []string
	var walk func(n *node, shapeName, where string)
	walk = func(n *node, shapeName, where string) {
		sh := m.Shapes[shapeName]
		switch sh.Type {
		case "structure":
			names := map[string]string{}
			for name, mem := range sh.Members {
				x := mem.LocationName
				if x == "" {
					x = strings.ToLower(name[:1]) + name[1:]
				}
				names[x] = mem.Shape
			}
			for _, c := range n.Nodes {
				s, ok := names[c.XMLName.Local]
				if !ok {
					problems = append(problems, fmt.Sprintf("%s/%s: not in shape %s", where, c.XMLName.Local, shapeName))
					continue
				}
				walk(c, s, where+"/"+c.XMLName.Local)
			}
		case "list":
			item := sh.Member.LocationName
			if item == "" {
				item = "member"
			}
			for _, c := range n.Nodes {
				if c.XMLName.Local != item {
					problems = append(problems, fmt.Sprintf("%s/%s: list items must be <%s>", where, c.XMLName.Local, item))
					continue
				}
				walk(c, sh.Member.Shape, where+"/"+item)
			}
		default:
			v := strings.TrimSpace(n.Text)
			switch sh.Type {
			case "integer", "long":
				if !integerText.MatchString(v) {
					problems = append(problems, fmt.Sprintf("%s: %q is not an integer", where, v))
				}
			case "boolean":
				if v != "true" && v != "false" {
					problems = append(problems, fmt.Sprintf("%s: %q is not a boolean", where, v))
				}
			case "timestamp":
				if _, err := time.Parse(time.RFC3339, v); err != nil {
					problems = append(problems, fmt.Sprintf("%s: %q is not a timestamp", where, v))
				}
			}
		}
	}
	var top []*node
	for _, c := range root.Nodes {
		if c.XMLName.Local != "requestId" {
			top = append(top, c)
		}
	}
	if op.Output == nil {
		for _, c := range top {
			if c.XMLName.Local != "return" {
				problems = append(problems, fmt.Sprintf("/%s: %s has no output", c.XMLName.Local, action))
			}
		}
	} else {
		walk(&node{Nodes: top}, op.Output.Shape, "")
	}
	for _, p := range problems {
		t.Errorf("%s answer: %s", action, p)
	}
}

// checkErrorDocument checks EC2's error envelope.
func checkErrorDocument(t testing.TB, r *response) {
	t.Helper()
	if r.root.XMLName.Local != "Response" || r.root.get("Errors/Error/Code") == "" ||
		!r.root.has("Errors/Error/Message") || r.root.get("RequestID") == "" {
		t.Errorf("not EC2's error document: %s", r.body)
	}
	if r.root.get("RequestID") != r.header.Get("x-amzn-RequestId") {
		t.Errorf("RequestID %q, header %q", r.root.get("RequestID"), r.header.Get("x-amzn-RequestId"))
	}
}

// serverType is HTCondor's EC2_VM_SERVER_TYPE heuristic (htcondor-ec2.md §2.8) over a
// DescribeKeyPairs answer's headers and body.
func serverType(header http.Header, body []byte) string {
	var hb bytes.Buffer
	_ = header.Write(&hb)
	h, b := hb.String(), string(body)
	amazon := strings.Contains(h, "Server: AmazonEC2")
	jetty := strings.Contains(h, "Server: Jetty")
	xmlDecl := strings.Contains(b, "<?xml ")
	encoding := strings.Contains(b, `<?xml version="1.0" encoding="UTF-8"?>`)
	requestID := strings.Contains(b, "<requestId>")
	euca := strings.Contains(b, "<euca:Describe")
	switch {
	case amazon && !jetty && xmlDecl && encoding && requestID && !euca:
		return "Amazon"
	case !amazon && !jetty && requestID && !euca && ((xmlDecl && !encoding) || (!xmlDecl && !encoding)):
		return "OpenStack"
	case jetty && xmlDecl && encoding && !requestID:
		return "Nimbus"
	case !xmlDecl && !requestID && euca:
		return "Eucalyptus"
	}
	return "Unknown"
}
