package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ec2grid/ec2grid/cloud"
	"github.com/ec2grid/ec2grid/internal/testbin"
)

// Generous bounds on waits in these tests; none asserts speed.
const (
	waitURL   = 60 * time.Second
	waitExit  = 60 * time.Second
	waitState = 60 * time.Second
)

// urlLine is the form of the first stdout line: the endpoint URL alone.
var urlLine = testbin.URLLine

// bins is the ec2grid binary, built once for the tests that run it, on first use (the
// -short run builds nothing).
var bins = &testbin.Set{Prefix: "ec2grid-bin", Commands: []string{"ec2grid"}, OnFirstUse: true}

func TestMain(m *testing.M) { testbin.Main(m, bins) }

func TestUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string
		stderr     string
		noStdout   bool
		stderrOnly bool
	}{
		{name: "no subcommand", args: nil, code: exitUsage, stderr: "Usage: ec2grid <command>"},
		{name: "help", args: []string{"help"}, code: exitOK, stdout: "  cloud    run a local EC2-compatible cloud"},
		{name: "-h", args: []string{"-h"}, code: exitOK, stdout: "Usage: ec2grid <command>"},
		{name: "help cloud", args: []string{"help", "cloud"}, code: exitOK, stdout: "Usage: ec2grid cloud --state DIR"},
		{name: "cloud -h", args: []string{"cloud", "-h"}, code: exitOK, stderr: "-fault-throttle CLASS=RATE/BURST"},
		{name: "help unknown", args: []string{"help", "clod"}, code: exitUsage, stderr: `unknown command "clod"`},
		{name: "help daemon", args: []string{"help", "daemon"}, code: exitOK, stdout: "Usage: ec2grid daemon [-home DIR]"},
		{name: "unknown", args: []string{"clod"}, code: exitUsage, stderr: `ec2grid: unknown command "clod"`},
		{name: "cloud without state", args: []string{"cloud"}, code: exitUsage, stderr: "ec2grid cloud: --state DIR is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tt.stdout)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.stderr)
			}
		})
	}
}

func TestEndpointURL(t *testing.T) {
	for _, c := range []struct {
		addr net.Addr
		want string
		loop bool
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8773}, "http://127.0.0.1:8773/", true},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 8773}, "http://[::1]:8773/", true},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 1}, "http://127.0.0.1:1/", false},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 2}, "http://127.0.0.1:2/", false},
		{&net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 3}, "http://192.0.2.7:3/", false},
	} {
		if got := endpointURL(c.addr); got != c.want {
			t.Errorf("endpointURL(%v) = %q, want %q", c.addr, got, c.want)
		}
		if got := isLoopback(c.addr); got != c.loop {
			t.Errorf("isLoopback(%v) = %v, want %v", c.addr, got, c.loop)
		}
	}
}

func TestWithAccount(t *testing.T) {
	alice := cloud.Account{Name: "alice", AccessKeyID: "A"}
	demo := cloud.Account{Name: "demo", AccessKeyID: "D"}
	if got := withAccount([]cloud.Account{alice}, demo); len(got) != 2 || got[1] != demo {
		t.Errorf("withAccount added %+v", got)
	}
	if got := withAccount([]cloud.Account{alice, demo}, demo); len(got) != 2 {
		t.Errorf("withAccount added the demo account twice: %+v", got)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and a reading test.
type syncBuffer = testbin.Buffer

// TestRunCloudInProcess runs `ec2grid cloud` in this process on every interface: the URL
// it prints is loopback, the log warns loudly, and cancelling the context (what SIGINT
// does) stops it with status 0.
func TestRunCloudInProcess(t *testing.T) {
	state := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		code := run(ctx, []string{"cloud", "--listen", "0.0.0.0:0", "--state", state, "--log-format", "json"}, pw, stderr)
		pw.Close()
		done <- code
	}()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
				t.Errorf("more than one line on stdout: %q", sc.Text())
			}
		}
	}()
	select {
	case l := <-lines:
		if !urlLine.MatchString(l) {
			t.Errorf("first stdout line %q is not a loopback endpoint URL", l)
		}
	case code := <-done:
		t.Fatalf("exited %d before printing the URL: %s", code, stderr)
	case <-time.After(waitURL):
		t.Fatalf("no URL within %v: %s", waitURL, stderr)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d after cancel, want 0: %s", code, stderr)
		}
	case <-time.After(waitExit):
		t.Fatalf("did not stop within %v of cancel", waitExit)
	}
	log := stderr.String()
	if !strings.Contains(log, "LISTENING BEYOND THIS MACHINE") || !strings.Contains(log, `"level":"warn"`) {
		t.Errorf("no loud warning about the non-loopback listener in the JSON log:\n%s", log)
	}
	secret, err := os.ReadFile(filepath.Join(state, "credentials", "demo", "SecretAccessKey"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log, strings.TrimSpace(string(secret))) {
		t.Error("the log shows the demo account's secret key")
	}
}

// buildBinary is the built ec2grid binary.
func buildBinary(t *testing.T) string {
	t.Helper()
	return bins.Path(t, "ec2grid")
}

// cloudProcess is a started `ec2grid cloud`.
type cloudProcess struct {
	*testbin.Process
	url    string
	stderr *testbin.Buffer
}

// startBinary starts the binary with args and waits for its URL line.
func startBinary(t *testing.T, bin string, args ...string) *cloudProcess {
	t.Helper()
	cmd := exec.Command(bin, args...)
	p := &cloudProcess{stderr: &testbin.Buffer{}}
	cmd.Stderr = p.stderr
	var err error
	if p.Process, p.url, err = testbin.StartURL("ec2grid cloud", cmd, waitURL); err != nil {
		t.Fatalf("%v\n%s", err, p.stderr)
	}
	t.Cleanup(func() {
		if !p.Done() {
			p.Kill()
		}
	})
	return p
}

// stop sends SIGTERM and checks the process exits 0.
func (p *cloudProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.Stop(waitExit); err != nil {
		t.Fatalf("%v\n%s", err, p.stderr)
	}
	if err := p.Err(); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, p.stderr)
	}
}

// TestEndToEnd builds ec2grid, starts `ec2grid cloud` on loopback, and drives it with
// aws-sdk-go-v2 using the demo account's key files, as a user following the docs would.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	cfg := filepath.Join(dir, "cloud.hcl")
	// The file says us-west-2 and a 5 s boot; the flags override both.
	if err := os.WriteFile(cfg, []byte("region = \"us-west-2\"\nboot_delay = \"5s\"\nflavor = \"openstack\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startBinary(t, bin, "cloud", "--listen", "127.0.0.1:0", "--state", state, "--config", cfg,
		"--region", "eu-west-1", "--boot-delay", "50ms")

	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(state, "credentials", "demo", name))
		if err != nil {
			t.Fatalf("demo key file: %v", err)
		}
		return strings.TrimSpace(string(b))
	}
	key, secret := read("AccessKeyID"), read("SecretAccessKey")
	cli := ec2.New(ec2.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(p.url),
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
		Retryer:      aws.NopRetryer{},
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitState)
	defer cancel()
	run, err := cli.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-12345678"), InstanceType: types.InstanceTypeM1Small,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
	})
	if err != nil {
		t.Fatalf("RunInstances: %v\n%s", err, p.stderr)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	var in types.Instance
	for {
		out, err := cli.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			t.Fatalf("DescribeInstances: %v", err)
		}
		in = out.Reservations[0].Instances[0]
		if in.State.Name == types.InstanceStateNameRunning {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("instance %s still %s", id, in.State.Name)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if zone := aws.ToString(in.Placement.AvailabilityZone); !strings.HasPrefix(zone, "eu-west-1") {
		t.Errorf("zone %q: the --region flag did not override the config file", zone)
	}
	if _, err := cli.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatalf("TerminateInstances: %v", err)
	}
	p.stop(t)

	log := p.stderr.String()
	for _, want := range []string{"demo account", filepath.Join(state, "credentials", "demo", "SecretAccessKey"), key, `"flavor": "openstack"`} {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not mention %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, secret) {
		t.Error("the log shows the demo account's secret key")
	}

	// A restarted cloud keeps the demo account's keys.
	p = startBinary(t, bin, "cloud", "--state", state)
	if got := read("AccessKeyID"); got != key {
		t.Errorf("demo key changed across restarts: %s then %s", key, got)
	}
	p.stop(t)
}

// TestBadConfigExitStatus checks the binary exits 2, naming file:line:col, on a bad config.
func TestBadConfigExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bad.hcl")
	if err := os.WriteFile(cfg, []byte("region = \"us-east-1\"\n\nfaults {\n  latency = \"fast\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "cloud", "--state", filepath.Join(dir, "state"), "--config", cfg)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitUsage {
		t.Fatalf("exit %v, want status %d", err, exitUsage)
	}
	if want := cfg + ":4:13: Invalid latency"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q does not contain %q", stderr.String(), want)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout %q, want nothing (no URL: nothing was started)", stdout.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "state")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the state directory was created for a config that does not parse (%v)", err)
	}
}
