package resource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/gahp"
	"github.com/ec2grid/ec2grid/gahp/ec2"
	"github.com/ec2grid/ec2grid/gahp/ec2/ec2test"
)

var (
	buildOnce sync.Once
	gahpBin   string
	buildErr  error
)

// ec2Gahp builds the real ec2_gahp once per test binary run.
func ec2Gahp(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "resource-test-gahp-")
		if err != nil {
			buildErr = err
			return
		}
		gahpBin = filepath.Join(dir, "ec2_gahp")
		out, err := exec.Command("go", "build", "-o", gahpBin, "github.com/ec2grid/ec2grid/cmd/ec2_gahp").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ec2_gahp: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return gahpBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if gahpBin != "" {
		os.RemoveAll(filepath.Dir(gahpBin))
	}
	os.Exit(code)
}

func keyFiles(t *testing.T, url, id, secret string) Key {
	t.Helper()
	dir := t.TempDir()
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	// The owner is this user: a daemon running as root would otherwise switch to the owner.
	k := Key{Owner: me.Username, URL: url, AccessKeyFile: filepath.Join(dir, "AccessKeyID"), SecretKeyFile: filepath.Join(dir, "SecretAccessKey")}
	if err := os.WriteFile(k.AccessKeyFile, []byte(id+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(k.SecretKeyFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return k
}

// runReal runs a Resource on the real ec2_gahp until the test ends.
func runReal(t *testing.T, key Key, opts Options, l Listener) *Resource {
	t.Helper()
	opts.GahpPath = ec2Gahp(t)
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	r := New(key, opts, l)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(waitLong):
			t.Errorf("Run did not return within %v", waitLong)
		}
	})
	return r
}

func startArgs(token string) []string {
	return []string{"ami-12345678", gahp.Null, gahp.Null, gahp.Null, "m1.small", gahp.Null, gahp.Null, gahp.Null, token,
		gahp.Null, gahp.Null, gahp.Null, "1", gahp.Null, gahp.Null, gahp.Null}
}

// TestRealGahp drives the real ec2_gahp child against the fake EC2: ping, start, probe,
// 100 batched stops, a SIGKILLed child replaced.
func TestRealGahp(t *testing.T) {
	t.Parallel()
	f := ec2test.NewServer(ec2test.Options{AccessKey: "AKIDRES"})
	defer f.Close()
	key := keyFiles(t, f.URL, "AKIDRES", "resource-secret")
	l := newRecorder()
	r := runReal(t, key, Options{ProbeInterval: time.Hour, EarlyProbeDelay: 50 * time.Millisecond}, l)
	ctx := ctxT(t)

	waitFor(t, "the first ping", func() bool { return r.Health().Up })
	if h := r.Health(); h.ServerType != ec2.ServerAmazon || h.AuthFailure != "" {
		t.Fatalf("Health = %+v", h)
	}

	const n = 100
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, err := r.Call(ctx, Low, ec2.CmdStart, startArgs(fmt.Sprintf("tok-%d", i))...)
			if err != nil || len(res) != 2 || res[0] != "0" {
				t.Errorf("start %d = %q, %v", i, res, err)
				return
			}
			ids[i] = res[1]
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	r.ProbeSoon()
	waitFor(t, "a probe listing the instances", func() bool {
		ss := l.snapshots()
		return len(ss) > 0 && len(ss[len(ss)-1].Instances) == n
	})
	ss := l.snapshots()
	for _, in := range ss[len(ss)-1].Instances {
		if !slices.Contains(ids, in.ID) || !strings.HasPrefix(in.ClientToken, "tok-") {
			t.Errorf("probe listed %+v", in)
		}
	}

	// The child dies: the next one answers, and the resource stays up.
	r.mu.Lock()
	pid := r.curChild.pid
	r.mu.Unlock()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a new child", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.curChild != nil && r.curChild.pid != pid
	})

	before := f.Calls("TerminateInstances")
	for _, id := range ids {
		wg.Go(func() {
			if res, err := r.Stop(ctx, id); err != nil || !slices.Equal(res, []string{"0"}) {
				t.Errorf("stop %s = %q, %v", id, res, err)
			}
		})
	}
	wg.Wait()
	calls := f.Calls("TerminateInstances") - before
	t.Logf("%d stops cost %d TerminateInstances calls", n, calls)
	if calls > 5 {
		t.Errorf("%d TerminateInstances calls for %d stops, want <= 5", calls, n)
	}
	for _, id := range ids {
		if in, ok := f.Instance(id); !ok || (in.State != "shutting-down" && in.State != "terminated") {
			t.Errorf("instance %s: %+v after stop", id, in)
		}
	}
	// One unknown id in a batch does not fail the others.
	res, err := r.Stop(ctx, "i-00000000deadbeef")
	if err != nil || res[0] != "1" || !strings.Contains(strings.Join(res, " "), "InvalidInstanceID") {
		t.Errorf("stop of an unknown id = %q, %v", res, err)
	}
	if st, err := r.Statistics(ctx); err != nil || len(st) != 4 {
		t.Errorf("Statistics = %q, %v", st, err)
	}
}

// TestRealGahpAuthFailure: a key the cloud rejects leaves the resource up with the
// authentication failure for hold 37/9; the secret never reaches the log.
func TestRealGahpAuthFailure(t *testing.T) {
	t.Parallel()
	f := ec2test.NewServer(ec2test.Options{AccessKey: "AKIDGOOD"})
	defer f.Close()
	const secret = "s3cr3t-never-logged"
	key := keyFiles(t, f.URL, "AKIDBAD", secret)
	l := newRecorder()
	var logMu sync.Mutex
	var logged strings.Builder
	opts := Options{Logger: testLogger(t)}
	opts.Logger = opts.Logger.WithOptions(teeTo(func(p []byte) {
		logMu.Lock()
		logged.Write(p)
		logMu.Unlock()
	}))
	r := runReal(t, key, opts, l)
	waitFor(t, "the first ping", func() bool { return len(l.healths()) > 0 })
	h := r.Health()
	if !h.Up || !strings.HasPrefix(h.AuthFailure, "(E_HTTP_RESPONSE_NOT_200 (401)): '") || !strings.HasSuffix(h.AuthFailure, "'") {
		t.Errorf("Health = %+v, want up with a 401 auth failure", h)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if strings.Contains(logged.String(), secret) {
		t.Error("the secret key reached the log")
	}
}

// TestRealGahpMissingBinary: a gahp that cannot be started leaves the resource down, and
// calls wait rather than fail.
func TestRealGahpMissingBinary(t *testing.T) {
	t.Parallel()
	l := newRecorder()
	r := New(testKey, Options{GahpPath: filepath.Join(t.TempDir(), "no-such-gahp"), Logger: testLogger(t)}, l)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	waitFor(t, "down", func() bool { return len(l.healths()) > 0 })
	if h := r.Health(); h.Up {
		t.Errorf("Health = %+v", h)
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer ccancel()
	if _, err := r.Call(cctx, High, ec2.CmdStatusAll); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Call with no gahp = %v", err)
	}
	cancel()
	<-done
}
