// Package interop runs real EC2 clients against `ec2grid cloud` on loopback: the
// aws-sdk-go-v2 EC2 client, Debian's boto3, AWS CLI and boto 2.49, and the Nimbus client
// notes' boto 2 examples. Every response they get passes through a recording proxy and a
// strict validator that walks it against botocore's EC2 model, and a differential test
// compares the keys botocore parses from moto's server with those it parses from ours.
//
// The package holds tests only; it imports nothing from cloud/ and drives the built
// ec2grid binary, as a user would. Tests that need a client or moto that is not installed
// fail when CI=true and skip otherwise.
package interop

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/internal/testbin"
)

// Generous bounds on waits, so a slow or loaded CI machine never fails a test that is
// merely slow; none of them asserts speed.
const (
	startTimeout  = 60 * time.Second  // from exec to the endpoint URL on stdout
	stopTimeout   = 60 * time.Second  // from SIGTERM to exit
	scriptTimeout = 120 * time.Second // one client script, start to end
	stateTimeout  = 60 * time.Second  // an instance or spot request reaching a state
)

// pollInterval is how often scenarios re-describe while waiting for a state: short, since
// the boot delay is short, and the suite has a budget of a few minutes.
const pollInterval = 50 * time.Millisecond

// bootDelay is the clouds' pending → running delay: long enough that clients see pending,
// short enough to keep the suite quick.
const bootDelay = "100ms"

// testImage is the image every scenario launches; the clouds' config defines it.
const testImage = "ami-12345678"

// testRegion is the region the clouds serve and the clients name.
const testRegion = "us-east-1"

// spotPrice is the clouds' fixed spot price; scenarios bid 0.50, so they are fulfilled.
const spotPrice = "0.05"

// The Debian clients, run by absolute path: the image's own python3 and aws on PATH are
// other versions (ec2-clients-and-peers.md §1).
const (
	debianPython = "/usr/bin/python3"
	debianAWS    = "/usr/bin/aws"
)

// bins is the ec2grid binary, built once for the whole package on first use, so a run
// that selects only the validator's tests (or fuzzes) does not pay for the build; under
// the race detector when this test binary is (real clients drive the cloud concurrently).
var bins = &testbin.Set{Prefix: "ec2grid-interop-", Commands: []string{"ec2grid"}, Race: raceEnabled, OnFirstUse: true}

func TestMain(m *testing.M) { testbin.Main(m, bins) }

// missing fails the test in CI (CI=true), where every client must be installed, and skips
// it elsewhere with what to install.
func missing(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required when CI=true (.ci/run installs it): %v", what, err)
	}
	t.Skipf("%s is not installed (%v): skipping; .ci/run shows how to install it", what, err)
}

// needPython checks that python can import module, which comes from the Debian package pkg.
func needPython(t testing.TB, python, module, pkg string) {
	t.Helper()
	out, err := exec.Command(python, "-c", "import "+module).CombinedOutput()
	if err != nil {
		missing(t, fmt.Sprintf("%s's %s (%s)", python, module, pkg), fmt.Errorf("%w: %s", err, bytes.TrimSpace(out)))
	}
}

// cloudProc is one `ec2grid cloud` process and the recording proxy in front of it.
type cloudProc struct {
	flavor    string
	url       string // the proxy's URL: what clients use
	direct    string // the cloud's own URL, as its first stdout line gave it
	state     string
	accessKey string // the demo account's keys, read from its key files
	secretKey string
	aliceKey  string // a second account, from the config file, for isolation checks
	aliceSec  string
	rec       *recorder
}

// cloudConfig is the HCL config every test cloud runs with: the launchable image, a fixed
// spot price below the scenarios' bids, and a second account.
const cloudConfig = `
boot_delay = %q
region     = %q

image %q {
  name        = "hello-cloud"
  description = "the image the interop scenarios launch"
}

spot {
  initial_price = %s
  min_price     = %s
  max_price     = %s
  step          = 0
  interval      = "0s"
}

account "alice" {
  access_key_id     = "AKIAALICEINTEROP0001"
  secret_access_key = "alice-interop-secret"
}
`

// startCloud starts `ec2grid cloud --flavor flavor` with a fresh state directory and the
// test config. It stops the cloud when the test ends, checks it exited
// cleanly (and race-free), and validates every response the proxy recorded.
func startCloud(t *testing.T, flavor string) *cloudProc {
	t.Helper()
	bin := bins.Path(t, "ec2grid")
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	cfgPath := filepath.Join(dir, "cloud.hcl")
	src := fmt.Sprintf(cloudConfig, bootDelay, testRegion, testImage, spotPrice, spotPrice, spotPrice)
	if err := os.WriteFile(cfgPath, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "cloud", "--listen", "127.0.0.1:0", "--state", state, "--flavor", flavor,
		"--config", cfgPath, "--log-level", "debug")
	stderr := &testbin.Buffer{}
	cmd.Stderr = stderr
	p, first, err := testbin.StartURL("ec2grid cloud", cmd, startTimeout)
	if err != nil {
		t.Fatalf("%v; its log:\n%s", err, stderr)
	}
	c := &cloudProc{flavor: flavor, state: state, aliceKey: "AKIAALICEINTEROP0001", aliceSec: "alice-interop-secret"}
	c.direct = first

	c.rec = &recorder{target: strings.TrimSuffix(first, "/"), transport: &http.Transport{DisableCompression: true}}
	proxy := httptest.NewServer(c.rec)
	c.url = proxy.URL + "/"

	t.Cleanup(func() {
		proxy.Close()
		c.rec.transport.CloseIdleConnections()
		if err := p.Stop(stopTimeout); err != nil {
			t.Errorf("%v", err)
		} else if err := p.Err(); err != nil {
			t.Errorf("ec2grid cloud did not exit cleanly on SIGTERM: %v", err)
		}
		log := stderr.String()
		if strings.Contains(log, "WARNING: DATA RACE") {
			t.Errorf("the race detector found a data race in ec2grid cloud")
		}
		if c.secretKey != "" && strings.Contains(log, c.secretKey) {
			t.Errorf("ec2grid cloud logged the demo account's secret key")
		}
		c.validateRecorded(t)
		if t.Failed() {
			t.Logf("ec2grid cloud (%s) log:\n%s", flavor, log)
		}
	})

	cred := filepath.Join(state, "credentials", "demo")
	for _, k := range []struct {
		file string
		dst  *string
	}{{"AccessKeyID", &c.accessKey}, {"SecretAccessKey", &c.secretKey}} {
		b, err := os.ReadFile(filepath.Join(cred, k.file))
		if err != nil {
			t.Fatalf("the demo account's key file: %v", err)
		}
		*k.dst = strings.TrimSpace(string(b))
		if st, err := os.Stat(filepath.Join(cred, k.file)); err == nil && st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", k.file, st.Mode().Perm())
		}
	}
	return c
}

// requestIDInBody reports whether the flavor puts <requestId> in success bodies
// (htcondor-ec2.md §2.8: AWS and OpenStack do, Nimbus and Eucalyptus do not).
func requestIDInBody(flavor string) bool {
	return flavor == "aws" || flavor == "openstack"
}

// validateRecorded runs every recorded EC2 response through the strict validator.
func (c *cloudProc) validateRecorded(t *testing.T) {
	t.Helper()
	exchanges := c.rec.exchanges()
	if len(exchanges) == 0 {
		return
	}
	m, err := modelOnce()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Errorf("cannot validate %d responses: %v", len(exchanges), err)
		} else {
			t.Logf("not validating %d responses: %v", len(exchanges), err)
		}
		return
	}
	checked := 0
	for _, ex := range exchanges {
		if ex.Action == "" || ex.dropped {
			continue
		}
		checked++
		rep := m.validate(ex.exchange, expectations{requestID: requestIDInBody(c.flavor)})
		for _, p := range rep.problems {
			t.Errorf("%s response to %s (%s, HTTP %d): %s", c.flavor, ex.Action, ex.client, ex.Status, p)
		}
		for _, n := range rep.notes {
			t.Logf("note: %s response to %s: %s", c.flavor, ex.Action, n)
		}
		if len(rep.problems) > 0 {
			t.Logf("the body:\n%s", ex.Body)
		}
	}
	t.Logf("validated %d %s responses against botocore's EC2 model", checked, c.flavor)
}

// recorded is one exchange through the proxy.
type recorded struct {
	exchange
	client  string // the User-Agent's first word, to say which client got a bad answer
	auth    string // the request's Authorization header ("" for SigV2, signed in parameters)
	dropped bool   // the cloud closed the connection without answering
}

// recorder is a reverse proxy that keeps every request's action and every response. It
// forwards the request unchanged, Host header included, so signatures stay valid.
type recorder struct {
	target    string // the cloud's URL without the trailing slash
	transport *http.Transport

	mu  sync.Mutex
	log []recorded
}

func (p *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	target, err := url.Parse(p.target + r.URL.RequestURI())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, target.String(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	out.Host = r.Host
	out.ContentLength = int64(len(body))
	rec := recorded{client: strings.SplitN(r.UserAgent(), " ", 2)[0], auth: r.Header.Get("Authorization")}
	rec.Action, rec.Version = requestAction(r, body)

	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		// The cloud dropped the connection (a drop-after-act fault does that on purpose):
		// drop the client's too, so it sees what it would have seen.
		rec.dropped = true
		p.add(rec)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		rec.dropped = true
		p.add(rec)
		return
	}
	rec.Status, rec.Header = resp.StatusCode, resp.Header.Clone()
	rec.Body = respBody
	if strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		if zr, err := gzip.NewReader(bytes.NewReader(respBody)); err == nil {
			if plain, err := io.ReadAll(zr); err == nil {
				rec.Body = plain
			}
		}
	}
	p.add(rec)
	for k, vs := range resp.Header {
		if k == "Content-Length" || k == "Connection" || k == "Transfer-Encoding" {
			continue
		}
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(respBody)
}

func (p *recorder) add(r recorded) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = append(p.log, r)
}

// exchanges is a copy of everything recorded so far.
func (p *recorder) exchanges() []recorded {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]recorded(nil), p.log...)
}

// last is the latest recorded exchange for action.
func (p *recorder) last(action string) (recorded, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.log) - 1; i >= 0; i-- {
		if p.log[i].Action == action {
			return p.log[i], true
		}
	}
	return recorded{}, false
}

// requestAction finds Action and Version in the query string and the form body.
func requestAction(r *http.Request, body []byte) (action, version string) {
	q := r.URL.Query()
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if form, err := url.ParseQuery(string(body)); err == nil {
			for k, v := range form {
				q[k] = append(q[k], v...)
			}
		}
	}
	return q.Get("Action"), q.Get("Version")
}

// clientEnv is the environment for a client process: this one's without any AWS or boto
// settings that could point it elsewhere, plus the cloud's endpoint and the demo keys.
func (c *cloudProc) clientEnv(t *testing.T) []string {
	home := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AWS_") || strings.HasPrefix(name, "BOTO") || name == "HOME" || name == "EC2_URL" {
			continue
		}
		env = append(env, kv)
	}
	pubKey, err := filepath.Abs(filepath.Join("testdata", "interop_key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	return append(env,
		"HOME="+home,
		"AWS_ACCESS_KEY_ID="+c.accessKey,
		"AWS_SECRET_ACCESS_KEY="+c.secretKey,
		"AWS_DEFAULT_REGION="+testRegion,
		"AWS_CONFIG_FILE="+filepath.Join(home, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
		"BOTO_CONFIG="+filepath.Join(home, "no-boto-config"),
		"PYTHONDONTWRITEBYTECODE=1",
		"PYTHONUNBUFFERED=1",
		"EC2_ENDPOINT="+c.url,
		"EC2_IMAGE_ID="+testImage,
		"EC2_PUBLIC_KEY_FILE="+pubKey,
		"EC2_POLL_INTERVAL="+fmt.Sprint(pollInterval.Seconds()),
		"EC2_STATE_TIMEOUT="+fmt.Sprint(stateTimeout.Seconds()),
	)
}

// runClient runs a client script against the cloud and returns its stdout; it fails the
// test with the script's output if the script fails.
func (c *cloudProc) runClient(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = c.clientEnv(t)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (killed after %v)", err, scriptTimeout)
	}
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	t.Logf("%s %s:\n%s", filepath.Base(name), strings.Join(args, " "), stdout.String())
	return stdout.String()
}

// syncBuffer is a bytes.Buffer safe for a process writing while a test reads.
type syncBuffer = testbin.Buffer
