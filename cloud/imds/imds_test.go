package imds

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// mapSource is a Source over a fixed map.
type mapSource map[string]Instance

func (m mapSource) Instance(id string) (Instance, bool) {
	inst, ok := m[id]
	return inst, ok
}

// clock is a settable clock safe for concurrent use.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.ns.Store(t.UnixNano())
	return c
}
func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func fullInstance() Instance {
	return Instance{
		InstanceID:       "i-0123456789abcdef0",
		ImageID:          "ami-0abc",
		InstanceType:     "m5.large",
		AvailabilityZone: "us-east-1a",
		Region:           "us-east-1",
		LocalIPv4:        "10.0.0.5",
		PublicIPv4:       "203.0.113.5",
		LocalHostname:    "ip-10-0-0-5.ec2.internal",
		PublicHostname:   "ec2-203-0-113-5.compute-1.amazonaws.com",
		MAC:              "0e:00:00:00:00:05",
		ReservationID:    "r-0abc",
		SecurityGroups:   "default web",
		KeyName:          "gahp-key",
		OpenSSHKey:       "ssh-rsa AAAAB3Nza gahp-key",
		UserData:         []byte("#!/bin/sh\necho hi\n"),
	}
}

func testSources() mapSource {
	bare := Instance{InstanceID: "i-bare", ImageID: "ami-bare", InstanceType: "t2.micro",
		AvailabilityZone: "us-east-1b", Region: "us-east-1", LocalIPv4: "10.0.0.6",
		LocalHostname: "ip-10-0-0-6.ec2.internal", MAC: "0e:00:00:00:00:06",
		ReservationID: "r-bare", SecurityGroups: "default"}
	empty := bare
	empty.InstanceID = "i-empty"
	empty.UserData = []byte{}
	spot := fullInstance()
	spot.InstanceID = "i-spot"
	spot.SpotTerminationTime = time.Date(2024, 5, 1, 12, 2, 0, 0, time.FixedZone("x", 3600))
	return mapSource{"i-0123456789abcdef0": fullInstance(), "i-bare": bare, "i-empty": empty, "i-spot": spot}
}

func do(t testing.TB, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestEndpoint(t *testing.T) {
	for _, tc := range []struct{ base, id, want string }{
		{"http://127.0.0.1:8080", "i-0123", "http://i-0123@127.0.0.1:8080/_imds/i-0123/"},
		{"http://127.0.0.1:8080/", "i-0123", "http://i-0123@127.0.0.1:8080/_imds/i-0123/"},
		{"http://[::1]:9", "i-1", "http://i-1@[::1]:9/_imds/i-1/"},
	} {
		if got := Endpoint(tc.base, tc.id); got != tc.want {
			t.Errorf("Endpoint(%q, %q) = %q, want %q", tc.base, tc.id, got, tc.want)
		}
	}
}

func TestGet(t *testing.T) {
	h := New(testSources(), newClock(t0).now)
	const full = Prefix + "i-0123456789abcdef0"
	metaListing := strings.Join([]string{"ami-id", "hostname", "instance-id", "instance-type",
		"local-hostname", "local-ipv4", "mac", "placement/", "public-hostname", "public-ipv4",
		"public-keys/", "reservation-id", "security-groups"}, "\n")
	bareListing := strings.Join([]string{"ami-id", "hostname", "instance-id", "instance-type",
		"local-hostname", "local-ipv4", "mac", "placement/", "reservation-id", "security-groups"}, "\n")
	tests := []struct {
		name, path string
		status     int
		body       string
	}{
		{"user-data", full + "/latest/user-data", 200, "#!/bin/sh\necho hi\n"},
		{"meta-data listing", full + "/latest/meta-data/", 200, metaListing},
		{"meta-data listing without slash", full + "/latest/meta-data", 200, metaListing},
		{"instance-id", full + "/latest/meta-data/instance-id", 200, "i-0123456789abcdef0"},
		{"ami-id", full + "/latest/meta-data/ami-id", 200, "ami-0abc"},
		{"instance-type", full + "/latest/meta-data/instance-type", 200, "m5.large"},
		{"hostname is the local one", full + "/latest/meta-data/hostname", 200, "ip-10-0-0-5.ec2.internal"},
		{"local-hostname", full + "/latest/meta-data/local-hostname", 200, "ip-10-0-0-5.ec2.internal"},
		{"public-hostname", full + "/latest/meta-data/public-hostname", 200, "ec2-203-0-113-5.compute-1.amazonaws.com"},
		{"local-ipv4", full + "/latest/meta-data/local-ipv4", 200, "10.0.0.5"},
		{"public-ipv4", full + "/latest/meta-data/public-ipv4", 200, "203.0.113.5"},
		{"mac", full + "/latest/meta-data/mac", 200, "0e:00:00:00:00:05"},
		{"placement listing", full + "/latest/meta-data/placement/", 200, "availability-zone\nregion"},
		{"availability-zone", full + "/latest/meta-data/placement/availability-zone", 200, "us-east-1a"},
		{"availability-zone, botocore's trailing slash", full + "/latest/meta-data/placement/availability-zone/", 200, "us-east-1a"},
		{"region", full + "/latest/meta-data/placement/region", 200, "us-east-1"},
		{"reservation-id", full + "/latest/meta-data/reservation-id", 200, "r-0abc"},
		{"security-groups one a line", full + "/latest/meta-data/security-groups", 200, "default\nweb"},
		{"public-keys listing", full + "/latest/meta-data/public-keys/", 200, "0=gahp-key"},
		{"public-keys/0 listing", full + "/latest/meta-data/public-keys/0/", 200, "openssh-key"},
		{"public-keys/0 without slash", full + "/latest/meta-data/public-keys/0", 200, "openssh-key"},
		{"openssh-key", full + "/latest/meta-data/public-keys/0/openssh-key", 200, "ssh-rsa AAAAB3Nza gahp-key"},
		{"public-keys/0=name is not a path", full + "/latest/meta-data/public-keys/0=gahp-key", 404, ""},
		{"no spot notice", full + "/latest/meta-data/spot/instance-action", 404, ""},
		{"no spot termination-time", full + "/latest/meta-data/spot/termination-time", 404, ""},
		{"dynamic listing", full + "/latest/dynamic/", 200, "instance-identity/"},
		{"instance-identity listing", full + "/latest/dynamic/instance-identity/", 200, "document"},
		{"latest listing", full + "/latest/", 200, "dynamic/\nmeta-data/\nuser-data"},
		{"doubled slashes", full + "//latest//meta-data//instance-id", 200, "i-0123456789abcdef0"},
		{"dated version", full + "/2009-04-04/meta-data/instance-id", 200, "i-0123456789abcdef0"},
		{"dated user-data", full + "/2009-04-04/user-data", 200, "#!/bin/sh\necho hi\n"},
		{"unknown version", full + "/1999-01-01/meta-data/instance-id", 404, ""},
		{"unknown path", full + "/latest/meta-data/nope", 404, ""},
		{"value has no children", full + "/latest/meta-data/instance-id/x", 404, ""},
		{"dot-dot is just a name", full + "/latest/meta-data/placement/../instance-id", 404, ""},
		{"unknown instance", Prefix + "i-nope/latest/meta-data/instance-id", 404, ""},
		{"no instance", Prefix + "/latest/meta-data/instance-id", 404, ""},
		{"outside the prefix", "/latest/meta-data/instance-id", 404, ""},
		{"bare: no user data is 404", Prefix + "i-bare/latest/user-data", 404, ""},
		{"bare: latest listing without user-data", Prefix + "i-bare/latest/", 200, "dynamic/\nmeta-data/"},
		{"bare: listing leaves out what it lacks", Prefix + "i-bare/latest/meta-data/", 200, bareListing},
		{"bare: no public-ipv4", Prefix + "i-bare/latest/meta-data/public-ipv4", 404, ""},
		{"bare: no public-keys", Prefix + "i-bare/latest/meta-data/public-keys/", 404, ""},
		{"bare: no openssh-key", Prefix + "i-bare/latest/meta-data/public-keys/0/openssh-key", 404, ""},
		{"empty user data is 200", Prefix + "i-empty/latest/user-data", 200, ""},
		{"spot listing", Prefix + "i-spot/latest/meta-data/spot/", 200, "instance-action\ntermination-time"},
		{"spot instance-action", Prefix + "i-spot/latest/meta-data/spot/instance-action", 200, `{"action":"terminate","time":"2024-05-01T11:02:00Z"}`},
		{"spot termination-time", Prefix + "i-spot/latest/meta-data/spot/termination-time", 200, "2024-05-01T11:02:00Z"},
		{"spot in meta-data listing", Prefix + "i-spot/latest/meta-data/", 200, metaListing + "\nspot/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, h, http.MethodGet, tc.path, nil)
			if rec.Code != tc.status {
				t.Fatalf("GET %s: status %d, want %d (body %q)", tc.path, rec.Code, tc.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/plain" {
				t.Errorf("Content-Type %q, want text/plain", ct)
			}
			if tc.status == 200 && rec.Body.String() != tc.body {
				t.Errorf("GET %s:\n got %q\nwant %q", tc.path, rec.Body, tc.body)
			}
		})
	}
}

func TestVersionListing(t *testing.T) {
	h := New(testSources(), nil)
	rec := do(t, h, http.MethodGet, Prefix+"i-bare/", nil)
	lines := strings.Split(rec.Body.String(), "\n")
	if rec.Code != 200 || lines[0] != "1.0" || lines[len(lines)-1] != "latest" {
		t.Fatalf("version listing: %d %q", rec.Code, rec.Body)
	}
	for _, v := range lines {
		if r := do(t, h, http.MethodGet, Prefix+"i-bare/"+v+"/meta-data/instance-id", nil); r.Body.String() != "i-bare" {
			t.Errorf("version %s: %d %q", v, r.Code, r.Body)
		}
	}
}

func TestIdentityDocument(t *testing.T) {
	h := New(testSources(), nil)
	rec := do(t, h, http.MethodGet, Prefix+"i-0123456789abcdef0/latest/dynamic/instance-identity/document", nil)
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("document is not JSON: %v\n%s", err, rec.Body)
	}
	want := map[string]any{
		"instanceId": "i-0123456789abcdef0", "imageId": "ami-0abc", "instanceType": "m5.large",
		"availabilityZone": "us-east-1a", "region": "us-east-1", "privateIp": "10.0.0.5",
		"version": "2017-09-30", "kernelId": nil, "ramdiskId": nil, "billingProducts": nil,
	}
	for k, v := range want {
		if got, ok := doc[k]; !ok || got != v {
			t.Errorf("document[%q] = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if a, _ := doc["architecture"].(string); a == "" {
		t.Errorf("architecture missing: %s", rec.Body)
	}
}

func TestTokenPut(t *testing.T) {
	h := New(testSources(), newClock(t0).now)
	const tokenPath = Prefix + "i-bare/latest/api/token"
	tests := []struct {
		name, method, path string
		hdr                map[string]string
		status             int
	}{
		{"minimum ttl", http.MethodPut, tokenPath, map[string]string{headerTokenTTL: "1"}, 200},
		{"maximum ttl", http.MethodPut, tokenPath, map[string]string{headerTokenTTL: "21600"}, 200},
		{"ttl zero", http.MethodPut, tokenPath, map[string]string{headerTokenTTL: "0"}, 400},
		{"ttl too long", http.MethodPut, tokenPath, map[string]string{headerTokenTTL: "21601"}, 400},
		{"ttl negative", http.MethodPut, tokenPath, map[string]string{headerTokenTTL: "-5"}, 400},
		{"ttl not a number", http.MethodPut, tokenPath, map[string]string{headerTokenTTL: "60s"}, 400},
		{"ttl missing", http.MethodPut, tokenPath, nil, 400},
		{"through a proxy", http.MethodPut, tokenPath, map[string]string{headerTokenTTL: "60", "X-Forwarded-For": "10.1.1.1"}, 403},
		{"GET on the token path", http.MethodGet, tokenPath, map[string]string{headerTokenTTL: "60"}, 405},
		{"dated version token path", http.MethodPut, Prefix + "i-bare/2021-03-23/api/token", map[string]string{headerTokenTTL: "60"}, 403},
		{"unknown instance", http.MethodPut, Prefix + "i-nope/latest/api/token", map[string]string{headerTokenTTL: "60"}, 404},
		{"PUT elsewhere", http.MethodPut, Prefix + "i-bare/latest/meta-data/instance-id", map[string]string{headerTokenTTL: "60"}, 405},
		{"POST elsewhere", http.MethodPost, Prefix + "i-bare/latest/user-data", nil, 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, h, tc.method, tc.path, tc.hdr)
			if rec.Code != tc.status {
				t.Fatalf("%s %s: status %d, want %d", tc.method, tc.path, rec.Code, tc.status)
			}
			if tc.status == 200 {
				if rec.Body.Len() == 0 {
					t.Error("empty token")
				}
				if got := rec.Header().Get(headerTokenTTL); got != tc.hdr[headerTokenTTL] {
					t.Errorf("TTL header %q, want %q", got, tc.hdr[headerTokenTTL])
				}
			}
		})
	}
}

func TestTokenUse(t *testing.T) {
	clk := newClock(t0)
	h := New(testSources(), clk.now)
	token := func(id string, ttl int) string {
		rec := do(t, h, http.MethodPut, Prefix+id+"/latest/api/token", map[string]string{headerTokenTTL: fmt.Sprint(ttl)})
		if rec.Code != 200 {
			t.Fatalf("token PUT: %d", rec.Code)
		}
		return rec.Body.String()
	}
	tokA := token("i-bare", 60)
	tokB := token("i-empty", 60)
	other := New(testSources(), clk.now) // another cloud run: another key
	tokOther := do(t, other, http.MethodPut, Prefix+"i-bare/latest/api/token", map[string]string{headerTokenTTL: "60"}).Body.String()
	get := func(id string, hdr map[string]string) int {
		return do(t, h, http.MethodGet, Prefix+id+"/latest/meta-data/instance-id", hdr).Code
	}
	tests := []struct {
		name string
		id   string
		hdr  map[string]string
		want int
	}{
		{"no token is IMDSv1", "i-bare", nil, 200},
		{"own token", "i-bare", map[string]string{headerToken: tokA}, 200},
		{"another instance's token", "i-bare", map[string]string{headerToken: tokB}, 401},
		{"token of another handler", "i-bare", map[string]string{headerToken: tokOther}, 401},
		{"garbage", "i-bare", map[string]string{headerToken: "not-a-token"}, 401},
		{"empty", "i-bare", map[string]string{headerToken: ""}, 401},
		{"truncated", "i-bare", map[string]string{headerToken: tokA[:len(tokA)-1]}, 401},
		{"flipped", "i-bare", map[string]string{headerToken: flip(tokA)}, 401},
		{"unknown instance wins over token", "i-nope", map[string]string{headerToken: tokA}, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := get(tc.id, tc.hdr); got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
		})
	}
	rec := do(t, h, http.MethodGet, Prefix+"i-bare/latest/meta-data/instance-id", map[string]string{headerToken: tokA})
	if got := rec.Header().Get(headerTokenTTL); got != "60" {
		t.Errorf("remaining TTL header %q, want 60", got)
	}
	clk.advance(59 * time.Second)
	if got := get("i-bare", map[string]string{headerToken: tokA}); got != 200 {
		t.Errorf("token 1s before expiry: %d", got)
	}
	clk.advance(time.Second)
	if got := get("i-bare", map[string]string{headerToken: tokA}); got != 401 {
		t.Errorf("expired token: %d, want 401", got)
	}
	if got := get("i-bare", nil); got != 200 {
		t.Errorf("IMDSv1 after expiry: %d", got)
	}
}

// flip changes the middle character of s, keeping it valid base64url.
func flip(s string) string {
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestBasicAuthForm(t *testing.T) {
	h := New(testSources(), nil)
	tests := []struct {
		name, path, user string
		status           int
		body             string
	}{
		{"latest path named by user", "/latest/meta-data/instance-id", "i-bare", 200, "i-bare"},
		{"user-data", "/latest/user-data", "i-0123456789abcdef0", 200, "#!/bin/sh\necho hi\n"},
		{"path prefix wins over user", Prefix + "i-bare/latest/meta-data/instance-id", "i-0123456789abcdef0", 200, "i-bare"},
		{"unknown user", "/latest/meta-data/instance-id", "i-nope", 404, ""},
		{"no user", "/latest/meta-data/instance-id", "", 404, ""},
		{"only /latest", "/2009-04-04/meta-data/instance-id", "i-bare", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if tc.user != "" {
				req.SetBasicAuth(tc.user, "")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status || tc.status == 200 && rec.Body.String() != tc.body {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body, tc.status, tc.body)
			}
		})
	}
}

// TestConcurrent runs token PUTs and GETs of many instances at once over a real listener, for
// the race detector.
func TestConcurrent(t *testing.T) {
	src := mapSource{}
	const instances = 50
	for i := range instances {
		id := fmt.Sprintf("i-%04d", i)
		src[id] = Instance{InstanceID: id, UserData: []byte(id)}
	}
	srv := httptest.NewServer(New(src, nil))
	defer srv.Close()
	var wg sync.WaitGroup
	errs := make(chan error, instances)
	for id := range src {
		wg.Go(func() {
			ep := Endpoint(srv.URL, id)
			req, _ := http.NewRequest(http.MethodPut, ep+"latest/api/token", nil)
			req.Header.Set(headerTokenTTL, "30")
			tok, err := body(req)
			if err != nil {
				errs <- err
				return
			}
			req, _ = http.NewRequest(http.MethodGet, ep+"latest/user-data", nil)
			req.Header.Set(headerToken, tok)
			got, err := body(req)
			if err == nil && got != id {
				err = fmt.Errorf("%s: user-data %q", id, got)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func body(req *http.Request) (string, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("%s %s: %s", req.Method, req.URL, resp.Status)
	}
	return string(b), err
}

// FuzzHandler feeds arbitrary paths, methods and headers to the handler: it must never panic,
// answer only with the statuses IMDS uses, and accept a token only if this handler issued it
// for that instance.
func FuzzHandler(f *testing.F) {
	f.Add("GET", "/_imds/i-bare/latest/meta-data/instance-id", "", "", "")
	f.Add("PUT", "/_imds/i-bare/latest/api/token", "60", "", "")
	f.Add("GET", "/_imds/i-bare//latest/meta-data/public-keys/0/", "", "x", "")
	f.Add("GET", "/latest/user-data", "", "", "i-0123456789abcdef0")
	f.Add("GET", "/_imds/i-spot/2009-04-04/meta-data/spot/instance-action", "", "", "")
	clk := newClock(t0)
	h := New(testSources(), clk.now)
	tokBare := do(f, h, http.MethodPut, Prefix+"i-bare/latest/api/token", map[string]string{headerTokenTTL: "600"}).Body.String()
	f.Fuzz(func(t *testing.T, method, path, ttl, token, user string) {
		req, err := http.NewRequest(method, "http://imds.test/", nil)
		if err != nil {
			return
		}
		req.URL.Path = path
		if ttl != "" {
			req.Header[headerTokenTTL] = []string{ttl}
		}
		if token != "" {
			req.Header[headerToken] = []string{token}
		}
		if user != "" {
			req.SetBasicAuth(user, "")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 400, 401, 403, 404, 405:
		default:
			t.Fatalf("%s %q: status %d", method, path, rec.Code)
		}
		if rec.Code == 200 && token != "" && token != tokBare && !(method == http.MethodPut) {
			t.Fatalf("%s %q accepted a token it did not issue: %q", method, path, token)
		}
	})
}

// BenchmarkGet is one IMDSv2 metadata GET, token checked, against a source of 100,000
// instances (the scale the cloud must hold).
func BenchmarkGet(b *testing.B) {
	src := mapSource{}
	for i := range 100_000 {
		id := fmt.Sprintf("i-%017x", i)
		inst := fullInstance()
		inst.InstanceID = id
		src[id] = inst
	}
	h := New(src, nil)
	const id = "i-00000000000001234"
	tok := do(b, h, http.MethodPut, Prefix+id+"/latest/api/token", map[string]string{headerTokenTTL: "600"}).Body.String()
	req := httptest.NewRequest(http.MethodGet, Prefix+id+"/latest/meta-data/instance-id", nil)
	req.Header.Set(headerToken, tok)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
