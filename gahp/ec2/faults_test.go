package ec2

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/gahp"
	"github.com/ec2grid/ec2grid/gahp/ec2/ec2test"
)

// TestThrottledStartRetried: RequestLimitExceeded proves nothing was started, so the gahp
// retries it itself; one instance comes back, and STATISTICS counts the throttled
// attempts.
func TestThrottledStartRetried(t *testing.T) {
	t.Parallel()
	f := newFake(t, ec2test.Options{})
	r := newRig(t, f.URL, fastOptions())
	f.Inject("RunInstances", ec2test.Throttle, 3)
	res := r.must(CmdStart, startArgs("ami-1", gahp.Null, "tok-1")...)
	if len(res) != 1 || len(f.Instances()) != 1 || f.Calls("RunInstances") != 4 {
		t.Errorf("result %q, %d instances, %d calls; want 1, 1, 4", res, len(f.Instances()), f.Calls("RunInstances"))
	}
	if got := r.stats(); got[0] != 4 || got[1] != 1 || got[2] != 3 || got[3] != 0 {
		t.Errorf("STATISTICS = %v, want [4 1 3 0]", got)
	}
	// The endpoint's limiter slowed down (once: halvings are spaced).
	ep := r.g.clients.endpoints[f.URL]
	if rate := ep.limiter.Rate(); rate >= DefaultMaxRate {
		t.Errorf("limiter rate %v after throttling, want below %v", rate, DefaultMaxRate)
	}
}

// TestThrottledUntilDeadline: a cloud that throttles forever gets an
// E_DEADLINE_WOULD_BE_EXCEEDED once the retry deadline would pass, counted as expired.
func TestThrottledUntilDeadline(t *testing.T) {
	t.Parallel()
	f := newFake(t, ec2test.Options{})
	opts := fastOptions()
	opts.RetryDeadline = time.Second
	r := newRig(t, f.URL, opts)
	f.ThrottleWhen(func(string) bool { return true })
	res := r.cmd(CmdStop, "i-1")
	if res[0] != "1" || res[1] != "E_DEADLINE_WOULD_BE_EXCEEDED" || !strings.Contains(res[2], "RequestLimitExceeded") {
		t.Errorf("result %q", res)
	}
	if got := r.stats(); got[3] != 1 || got[2] < 2 {
		t.Errorf("STATISTICS = %v, want several throttled and 1 expired", got)
	}
}

// TestStartNotRepeatedAfterActing: the cloud started the instance but the answer was lost.
// The gahp must not send RunInstances again (a second instance on a cloud that ignores
// ClientToken): it reports NEED_CHECK_VM_START and the grid manager decides.
func TestStartNotRepeatedAfterActing(t *testing.T) {
	t.Parallel()
	for _, fault := range []ec2test.Fault{ec2test.DropAfter, ec2test.DropBefore, ec2test.ServerError, ec2test.Stall} {
		f := newFake(t, ec2test.Options{IgnoreClientToken: true})
		opts := fastOptions()
		opts.AttemptTimeout = 500 * time.Millisecond // for Stall
		r := newRig(t, f.URL, opts)
		f.Inject("RunInstances", fault, 1)
		res := r.cmd(CmdStart, startArgs("ami-1", gahp.Null, "tok-1")...)
		if res[0] != "1" || res[1] != "NEED_CHECK_VM_START" {
			t.Errorf("fault %d: result %q, want NEED_CHECK_VM_START", fault, res)
		}
		if n := f.Calls("RunInstances"); n != 1 {
			t.Errorf("fault %d: RunInstances sent %d times, want 1", fault, n)
		}

		f.Inject("RequestSpotInstances", fault, 1)
		res = r.cmd(CmdStartSpot, "ami-2", "0.1", gahp.Null, gahp.Null, gahp.Null, gahp.Null, gahp.Null, gahp.Null, gahp.Null, "tok-2", gahp.Null, gahp.Null, gahp.Null, gahp.Null)
		if res[0] != "1" || res[1] != "NEED_CHECK_VM_START" || f.Calls("RequestSpotInstances") != 1 {
			t.Errorf("fault %d: spot result %q after %d calls", fault, res, f.Calls("RequestSpotInstances"))
		}

		f.Inject("CreateKeyPair", fault, 1)
		res = r.cmd(CmdCreateKeypair, "k", gahp.Null)
		if res[0] != "1" || res[1] != "NEED_CHECK_SSHKEY" || f.Calls("CreateKeyPair") != 1 {
			t.Errorf("fault %d: keypair result %q after %d calls", fault, res, f.Calls("CreateKeyPair"))
		}
	}
}

// TestRepeatableRetried: a stop whose answer was lost is simply sent again (terminating
// twice is harmless), and so is a status query after a server fault.
func TestRepeatableRetried(t *testing.T) {
	t.Parallel()
	f := newFake(t, ec2test.Options{})
	r := newRig(t, f.URL, fastOptions())
	id := r.must(CmdStart, startArgs("ami-1", gahp.Null, gahp.Null)...)[0]
	f.Inject("TerminateInstances", ec2test.DropAfter, 1)
	r.must(CmdStop, id)
	if n := f.Calls("TerminateInstances"); n != 2 {
		t.Errorf("TerminateInstances calls = %d, want 2", n)
	}
	f.Inject("DescribeInstances", ec2test.ServerError, 2)
	if res := r.must(CmdStatusAll); len(res) != 8 {
		t.Errorf("STATUS_ALL %q", res)
	}
	// A server fault that persists is reported, as HTCondor does, with its status.
	f.Inject("DescribeKeyPairs", ec2test.ServerError, maxServerAttempts)
	if res := r.cmd(CmdServerType); res[0] != "1" || res[1] != "E_HTTP_RESPONSE_NOT_200 (500)" || !strings.Contains(res[2], "InternalError") {
		t.Errorf("persistent server fault: %q", res)
	}
}

// TestUnreachable: nothing listens at the URL. The call fails fast (a few attempts, not
// the whole retry deadline) with E_CURL_IO, or NEED_CHECK_VM_START for a start.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String() + "/"
	l.Close()
	r := newRig(t, url, fastOptions())
	if res := r.cmd(CmdServerType); res[0] != "1" || res[1] != "E_CURL_IO" || !strings.Contains(res[2], "connection refused") {
		t.Errorf("SERVER_TYPE: %q", res)
	}
	if got := r.stats(); got[0] != maxTransportAttempts || got[1] != 1 {
		t.Errorf("STATISTICS = %v, want %d attempts of 1 call", got, maxTransportAttempts)
	}
	if res := r.cmd(CmdStart, startArgs("ami-1", gahp.Null, "t")...); res[1] != "NEED_CHECK_VM_START" {
		t.Errorf("START: %q", res)
	}
}

func TestAuthFailure(t *testing.T) {
	t.Parallel()
	f := newFake(t, ec2test.Options{AccessKey: "SOMEONE-ELSE"})
	r := newRig(t, f.URL, fastOptions())
	res := r.cmd(CmdServerType)
	// The gridmanager's ping looks for "(401)" in the code to hold jobs as unauthenticated.
	if res[0] != "1" || !strings.Contains(res[1], "(401)") || !strings.Contains(res[2], "AuthFailure") {
		t.Errorf("result %q", res)
	}
	if f.Calls("DescribeKeyPairs") != 1 {
		t.Errorf("an authentication failure was retried")
	}
}

func TestBadArguments(t *testing.T) {
	t.Parallel()
	r := newRig(t, "ftp://example.com/", fastOptions())
	if res := r.cmd(CmdServerType); res[0] != "1" || res[1] != "E_INVALID_SERVICE_URL" {
		t.Errorf("ftp URL: %q", res)
	}
	r.url = "http://127.0.0.1:1/"
	r.ak = filepath.Join(r.dir, "missing")
	res := r.cmd(CmdServerType)
	if res[0] != "1" || res[1] != "E_FILE_IO" || !strings.Contains(res[2], "access key") {
		t.Errorf("missing key file: %q", res)
	}
}

// TestKeypairFile: the key lands whole, 0600; /dev/null and NULL discard it; an unwritable
// place is E_FILE_IO; the key material is never in the log.
func TestKeypairFile(t *testing.T) {
	t.Parallel()
	f := newFake(t, ec2test.Options{})
	r := newRig(t, f.URL, fastOptions())
	path := filepath.Join(r.dir, "ec2 key.pem")
	r.must(CmdCreateKeypair, "k1", path)
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), "fake key k1") {
		t.Fatalf("key file: %q, %v", b, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	// Overwriting an existing file replaces it whole.
	writeFile(t, path+"2", "old contents that are longer than the key material, much longer, really much longer than that")
	r.must(CmdCreateKeypair, "k2", path+"2")
	if b, _ := os.ReadFile(path + "2"); !strings.HasPrefix(string(b), "-----BEGIN") || strings.Contains(string(b), "old contents") {
		t.Errorf("replaced key file: %q", b)
	}
	r.must(CmdCreateKeypair, "k3", "/dev/null")
	r.must(CmdCreateKeypair, "k4", "NULL")
	res := r.cmd(CmdCreateKeypair, "k5", filepath.Join(r.dir, "no such dir", "k.pem"))
	if res[0] != "1" || res[1] != "E_FILE_IO" {
		t.Errorf("unwritable key file: %q", res)
	}
	entries, _ := os.ReadDir(r.dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	if got := f.KeyPairs(); len(got) != 5 {
		t.Errorf("key pairs %v", got)
	}
}

// TestSigningRegion: the region comes from an ec2.<region>.* host, else the default; the
// URL's host reaches the fake through a dialer that sends every connection there.
func TestSigningRegion(t *testing.T) {
	t.Parallel()
	f := newFake(t, ec2test.Options{})
	target := strings.TrimSuffix(strings.TrimPrefix(f.URL, "http://"), "/")
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, target)
	}}}
	opts := fastOptions()
	opts.HTTPClient = hc
	r := newRig(t, "http://ec2.eu-west-3.example.test:8773/", opts)
	r.must(CmdServerType)
	r.url = "http://ec2.amazonaws.com/"
	r.must(CmdServerType)
	r.url = "http://ec2.ap-southeast-2.amazonaws.com/services/Cloud"
	r.must(CmdServerType)
	got := f.Regions()
	if got["eu-west-3"] != 1 || got["us-east-1"] != 1 || got["ap-southeast-2"] != 1 {
		t.Errorf("regions %v", got)
	}
}

func TestParseEndpoint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url, region string
		ok          bool
	}{
		{"https://ec2.us-east-1.amazonaws.com/", "us-east-1", true},
		{"https://ec2.eu-central-1.amazonaws.com", "eu-central-1", true},
		{"https://ec2.us-gov-west-1.amazonaws.com/", "us-gov-west-1", true},
		{"https://ec2.cn-north-1.amazonaws.com.cn/", "cn-north-1", true},
		{"http://ec2.us-east-1.localhost:5055/", "us-east-1", true},
		{"https://ec2.amazonaws.com/", "us-east-1", true}, // HTCondor signs for region "amazonaws" (§10.11)
		{"http://127.0.0.1:8080/", "us-east-1", true},     // HTCondor: service "127", region "0"
		{"http://localhost:8773/services/Cloud", "us-east-1", true},
		{"http://ec2.example.org/", "us-east-1", true},
		{"http://compute.us-west-2.example.org/", "us-west-2", false},
		{"HTTPS://EC2.US-WEST-2.AMAZONAWS.COM/", "us-west-2", true},
		{"x509://ec2.amazonaws.com/", "", false},
		{"euca3://host/", "", false},
		{"ec2.amazonaws.com", "", false},
		{"http:///path", "", false},
		{"", "", false},
	} {
		ep, err := ParseEndpoint(tc.url, DefaultRegion)
		if tc.url == "http://compute.us-west-2.example.org/" {
			// Only ec2.<region>.* names a region; other hosts get the default.
			if err != nil || ep.Region != DefaultRegion {
				t.Errorf("%q: %+v, %v", tc.url, ep, err)
			}
			continue
		}
		if (err == nil) != tc.ok || (tc.ok && ep.Region != tc.region) {
			t.Errorf("ParseEndpoint(%q) = %+v, %v; want region %q ok=%v", tc.url, ep, err, tc.region, tc.ok)
		}
	}
}

// TestFromInstance: FROM INSTANCE credentials come from the instance metadata service (a
// fake IMDS here) and sign the request, with the session token.
func TestFromInstance(t *testing.T) {
	t.Parallel()
	var tokenSeen atomic.Value
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
			w.Write([]byte("imds-token"))
		case r.URL.Path == "/latest/meta-data/iam/security-credentials/":
			w.Write([]byte("HTCondorRole"))
		case r.URL.Path == "/latest/meta-data/iam/security-credentials/HTCondorRole":
			json.NewEncoder(w).Encode(map[string]string{
				"Code": "Success", "AccessKeyId": "ASIAROLE", "SecretAccessKey": "rolesecret", "Token": "session-token",
				"Expiration": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "LastUpdated": time.Now().UTC().Format(time.RFC3339),
			})
		default:
			http.NotFound(w, r)
		}
	}))
	defer imds.Close()
	f := newFake(t, ec2test.Options{AccessKey: "ASIAROLE"})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokenSeen.Store(r.Header.Get("X-Amz-Security-Token"))
		u, _ := url.Parse(f.URL)
		httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r)
	}))
	defer front.Close()
	opts := fastOptions()
	opts.InstanceMetadataEndpoint = imds.URL
	r := newRig(t, front.URL+"/", opts)
	r.ak, r.sk = FromInstance, FromInstance
	if res := r.must(CmdServerType); res[0] != "Amazon" {
		t.Errorf("result %q", res)
	}
	if tok, _ := tokenSeen.Load().(string); tok != "session-token" {
		t.Errorf("security token %q", tok)
	}
}

func TestServerType(t *testing.T) {
	t.Parallel()
	for _, flavor := range []struct{ flavor, want string }{
		{ec2test.FlavorAWS, ServerAmazon},
		{ec2test.FlavorOpenStack, ServerOpenStack},
		{ec2test.FlavorNimbus, ServerNimbus},
		{ec2test.FlavorEucalyptus, ServerEucalyptus},
		{ec2test.FlavorUnknown, ServerUnknown},
	} {
		f := newFake(t, ec2test.Options{Flavor: flavor.flavor})
		r := newRig(t, f.URL, fastOptions())
		if res := r.must(CmdServerType); res[0] != flavor.want {
			t.Errorf("flavor %s: %q, want %s", flavor.flavor, res, flavor.want)
		}
	}
	// The heuristic itself, on HTCondor's markers.
	decl := `<?xml version="1.0" encoding="UTF-8"?>`
	for _, tc := range []struct{ server, body, want string }{
		{"AmazonEC2", decl + "<R><requestId>1</requestId></R>", ServerAmazon},
		{"AmazonEC2", "<R><requestId>1</requestId></R>", ServerUnknown},
		{"", "<R><requestId>1</requestId></R>", ServerOpenStack},
		{"", `<?xml version="1.0"?><R><requestId>1</requestId></R>`, ServerOpenStack},
		{"Jetty(6.1)", decl + "<R/>", ServerNimbus},
		{"", `<euca:DescribeKeyPairsResponse/>`, ServerEucalyptus},
		{"", "<R/>", ServerUnknown},
		{"", "", ServerUnknown},
	} {
		if got := ServerType(tc.server, []byte(tc.body)); got != tc.want {
			t.Errorf("ServerType(%q, %q) = %s, want %s", tc.server, tc.body, got, tc.want)
		}
	}
}
