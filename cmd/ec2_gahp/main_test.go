package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/gahp"
	"github.com/ec2grid/ec2grid/gahp/ec2"
)

// Generous bounds on waits; none asserts speed.
const (
	waitCall  = 60 * time.Second
	waitState = 60 * time.Second
	waitExit  = 30 * time.Second
)

func TestParseConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want config
		err  string
	}{
		{name: "defaults", want: config{minWorkers: 1, maxWorkers: gahp.DefaultWorkers, rateLimit: 100 * time.Millisecond, maxRate: ec2.DefaultMaxRate, region: "us-east-1"}},
		{name: "HTCondor's command line", args: []string{"-f", "/tmp/EC2GahpLog.alice", "-w", "1", "-m", "5", "-d", "D_PID"},
			want: config{logFile: "/tmp/EC2GahpLog.alice", minWorkers: 1, maxWorkers: 5, debug: "D_PID", rateLimit: 100 * time.Millisecond, maxRate: ec2.DefaultMaxRate, region: "us-east-1"}},
		{name: "knobs", env: map[string]string{
			"EC2GRID_EC2_GAHP_RATE_LIMIT": "250", "EC2GRID_EC2_GAHP_WORKER_MAX_NUM": "64", "EC2GRID_EC2_GAHP_WORKER_MIN_NUM": "2",
			"EC2GRID_EC2_GAHP_LOG": "/var/log/gahp", "EC2GRID_EC2_GAHP_DEBUG": "D_FULLDEBUG", "EC2GRID_EC2_GAHP_DEFAULT_REGION": "eu-west-1",
			"EC2GRID_EC2_GAHP_MAX_RATE": "50"},
			want: config{logFile: "/var/log/gahp", minWorkers: 2, maxWorkers: 64, debug: "D_FULLDEBUG", rateLimit: 250 * time.Millisecond, maxRate: 50, region: "eu-west-1"}},
		{name: "flags win over knobs", args: []string{"-m", "8", "-f", "flag.log"}, env: map[string]string{"EC2GRID_EC2_GAHP_WORKER_MAX_NUM": "64", "EC2GRID_EC2_GAHP_LOG": "knob.log"},
			want: config{logFile: "flag.log", minWorkers: 1, maxWorkers: 8, rateLimit: 100 * time.Millisecond, maxRate: ec2.DefaultMaxRate, region: "us-east-1"}},
		{name: "subsystem names the knobs", args: []string{"-s", "my_gahp"}, env: map[string]string{"EC2GRID_MY_GAHP_WORKER_MAX_NUM": "3"},
			want: config{minWorkers: 1, maxWorkers: 3, rateLimit: 100 * time.Millisecond, maxRate: ec2.DefaultMaxRate, region: "us-east-1"}},
		{name: "rate limit 0 is no spacing", env: map[string]string{"EC2GRID_EC2_GAHP_RATE_LIMIT": "0"},
			want: config{minWorkers: 1, maxWorkers: gahp.DefaultWorkers, rateLimit: ec2.NoRateLimit, maxRate: ec2.DefaultMaxRate, region: "us-east-1"}},
		{name: "log dir", args: []string{"-l", "/var/log/condor"},
			want: config{logFile: "/var/log/condor/EC2GahpLog", minWorkers: 1, maxWorkers: gahp.DefaultWorkers, rateLimit: 100 * time.Millisecond, maxRate: ec2.DefaultMaxRate, region: "us-east-1"}},
		{name: "bad knob", env: map[string]string{"EC2GRID_EC2_GAHP_RATE_LIMIT": "fast"}, err: "RATE_LIMIT"},
		{name: "bad max rate", env: map[string]string{"EC2GRID_EC2_GAHP_MAX_RATE": "-1"}, err: "MAX_RATE"},
		{name: "no workers", args: []string{"-m", "0"}, err: "at least one worker"},
		{name: "unknown flag", args: []string{"-x"}, err: "flag provided but not defined"},
		{name: "stray argument", args: []string{"extra"}, err: "unexpected argument"},
	} {
		got, err := parseConfig(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}

// binaries are built once per test process.
var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binary returns the path of a command built from ../NAME into a temporary directory.
func binary(t testing.TB, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "ec2_gahp-test-bin-")
		if buildErr != nil {
			return
		}
		for _, cmd := range []string{"ec2_gahp", "ec2grid"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, cmd), "../"+cmd).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", cmd, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, name)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// proc is a running ec2_gahp driven through gahp.Client.
type proc struct {
	*gahp.Client
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *bytes.Buffer
	mu     *sync.Mutex
	done   chan error
}

// lockedBuffer lets the test read stderr while the process writes it.
type lockedBuffer struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (p *proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// startGahp runs the built ec2_gahp with args and extra environment, and connects a
// client to it. The process is stopped (QUIT, then killed by its pid if need be) when the
// test ends.
func startGahp(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t, "ec2_gahp"), args...)
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stdin: stdin, stderr: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan error, 1)}
	cmd.Stderr = lockedBuffer{p.mu, p.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-p.done:
		case <-time.After(waitExit):
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("ec2_gahp stderr:\n%s", p.Stderr())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitCall)
	defer cancel()
	p.Client, err = gahp.NewClient(ctx, stdout, stdin, gahp.ClientOptions{PollInterval: time.Second})
	if err != nil {
		t.Fatalf("connect to ec2_gahp: %v\nstderr: %s", err, p.Stderr())
	}
	if p.Version() != ec2.Version {
		t.Errorf("banner %q", p.Version())
	}
	return p
}

// account is a service URL and the key files to use with it.
type account struct {
	url, ak, sk string
}

func writeKeys(t *testing.T, url, id, secret string) account {
	t.Helper()
	dir := t.TempDir()
	a := account{url: url, ak: filepath.Join(dir, "AccessKeyID"), sk: filepath.Join(dir, "SecretAccessKey")}
	if err := os.WriteFile(a.ak, []byte(id+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(a.sk, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return a
}

// call runs one command for the account and returns its result fields after the id.
func (p *proc) call(t *testing.T, a account, command string, args ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitCall)
	defer cancel()
	res, err := p.Call(ctx, command, append([]string{a.url, a.ak, a.sk}, args...)...)
	if err != nil {
		t.Fatalf("%s: %v", command, err)
	}
	return res
}

func (p *proc) must(t *testing.T, a account, command string, args ...string) []string {
	t.Helper()
	res := p.call(t, a, command, args...)
	if res[0] != "0" {
		t.Fatalf("%s %q: %q", command, args, res)
	}
	return res[1:]
}

// startArgs: an EC2_VM_START argument list as the gridmanager writes it, from the ami on.
func startArgs(ami, keypair, userData, instanceType, token string) []string {
	return []string{ami, keypair, userData, gahp.Null, instanceType, gahp.Null, gahp.Null, gahp.Null, token,
		gahp.Null, gahp.Null, gahp.Null, "1", gahp.Null, gahp.Null, gahp.Null}
}

func spotArgs(ami, price, keypair, token string) []string {
	return []string{ami, price, keypair, gahp.Null, gahp.Null, "m1.small", gahp.Null, gahp.Null, gahp.Null, token,
		gahp.Null, gahp.Null, gahp.Null, gahp.Null}
}

// statusOf polls EC2_VM_STATUS_ALL until the instance's state is one of want, and returns
// its 8-tuple.
func (p *proc) statusOf(t *testing.T, a account, id string, want ...string) []string {
	t.Helper()
	deadline := time.Now().Add(waitState)
	var last []string
	for time.Now().Before(deadline) {
		res := p.must(t, a, ec2.CmdStatusAll)
		if len(res)%8 != 0 {
			t.Fatalf("STATUS_ALL: %d fields, not 8-tuples: %q", len(res), res)
		}
		for i := 0; i < len(res); i += 8 {
			if res[i] == id {
				last = res[i : i+8]
				for _, w := range want {
					if last[1] == w {
						return last
					}
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("instance %s never reached %v; last %q", id, want, last)
	return nil
}

// jobLife runs one grid job's life through the gahp, as HTCondor's gridmanager drives it:
// ping, key pair, start with the key pair and a client token, status until running, tags,
// stop, status until gone, key pair destroyed; then a spot request's start, status and
// cancel.
func jobLife(t *testing.T, p *proc, a account, ami, serverType string, tokenWorks bool) {
	if res := p.must(t, a, ec2.CmdServerType); len(res) != 1 || res[0] != serverType {
		t.Errorf("server type %q, want %s", res, serverType)
	}
	keyName := fmt.Sprintf("SSH_e2e_%d", time.Now().UnixNano())
	keyFile := filepath.Join(t.TempDir(), "job.pem")
	p.must(t, a, ec2.CmdCreateKeypair, keyName, keyFile)
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 || st.Size() == 0 {
		t.Errorf("key file: %v, %v", st, err)
	}
	if res := p.call(t, a, ec2.CmdCreateKeypair, keyName, ec2.DiscardKeyFile); res[0] != "1" || !strings.Contains(res[2], "InvalidKeyPair.Duplicate") {
		t.Errorf("second CREATE_KEYPAIR: %q (the gridmanager accepts InvalidKeyPair.Duplicate)", res)
	}

	token := fmt.Sprintf("%08x-40dc-4203-afc0-f4e980ddd696", time.Now().UnixNano()&0xffffffff)
	ids := p.must(t, a, ec2.CmdStart, startArgs(ami, keyName, "Hello EC2!", "m1.small", token)...)
	if len(ids) != 1 {
		t.Fatalf("START: %q, want one instance id", ids)
	}
	id := ids[0]
	if tokenWorks {
		// The gridmanager's recovery: the same start again, same token, same instance.
		if again := p.must(t, a, ec2.CmdStart, startArgs(ami, keyName, "Hello EC2!", "m1.small", token)...); len(again) != 1 || again[0] != id {
			t.Errorf("START with the same ClientToken: %q, want %s", again, id)
		}
	}
	tuple := p.statusOf(t, a, id, "running")
	if tuple[3] != keyName {
		t.Errorf("tuple %q: key name, want %s", tuple, keyName)
	}
	if tokenWorks && tuple[2] != token {
		t.Errorf("tuple %q: client token, want %s", tuple, token)
	}
	p.must(t, a, ec2.CmdCreateTags, id, "Name=ec2-test", "HTCondorJob=1.0", gahp.Null)
	p.must(t, a, ec2.CmdStop, id)
	p.statusOf(t, a, id, "shutting-down", "terminated")
	if res := p.call(t, a, ec2.CmdStop, "i-0123456789abcdef0"); res[0] != "1" || !strings.Contains(res[2], "InvalidInstanceID.NotFound") {
		t.Errorf("stop of an unknown instance: %q (the gridmanager looks for InvalidInstanceID.NotFound)", res)
	}
	p.must(t, a, ec2.CmdDestroyKeypair, keyName)

	spotToken := "spot-" + token
	sir := p.call(t, a, ec2.CmdStartSpot, spotArgs(ami, "10.00", gahp.Null, spotToken)...)
	if sir[0] != "0" {
		t.Fatalf("START_SPOT: %q", sir)
	}
	sir = sir[1:]
	if len(sir) != 1 || !strings.HasPrefix(sir[0], "sir-") {
		t.Fatalf("START_SPOT: %q", sir)
	}
	all := p.must(t, a, ec2.CmdStatusAllSpot)
	if len(all)%5 != 0 {
		t.Fatalf("STATUS_ALL_SPOT: %d fields, not 5-tuples", len(all))
	}
	found := false
	for i := 0; i < len(all); i += 5 {
		if all[i] == sir[0] {
			found = true
			if all[i+2] != spotToken {
				t.Errorf("spot tuple %q: launch group, want %s", all[i:i+5], spotToken)
			}
		}
	}
	if !found {
		t.Errorf("spot request %s not in %q", sir[0], all)
	}
	if one := p.must(t, a, ec2.CmdStatusSpot, sir[0]); len(one) != 5 || one[0] != sir[0] {
		t.Errorf("STATUS_SPOT: %q", one)
	}
	p.must(t, a, ec2.CmdStopSpot, sir[0])
	if one := p.must(t, a, ec2.CmdStatusSpot, sir[0]); len(one) == 5 && one[1] != "cancelled" && one[1] != "closed" {
		t.Errorf("after STOP_SPOT: %q", one)
	}
	// A fulfilled request's instance is the gridmanager's to stop.
	for i := 0; i < len(all); i += 5 {
		if all[i] == sir[0] && all[i+3] != gahp.Null {
			p.must(t, a, ec2.CmdStop, all[i+3])
		}
	}

	stats, err := p.Statistics(context.Background())
	if err != nil || len(stats) != 4 {
		t.Errorf("STATISTICS: %q, %v", stats, err)
	}
}
