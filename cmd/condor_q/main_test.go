package main

import (
	"bytes"
	"flag"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/api"
	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/cmd/internal/cli"
	"github.com/ec2grid/ec2grid/cmd/internal/cli/clitest"
	"github.com/ec2grid/ec2grid/cmd/internal/qfmt"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// testNow is the fixed clock of every golden file.
var testNow = time.Date(2026, 11, 23, 12, 52, 19, 0, time.UTC)

// bannerSocket stands for the fake daemon's socket path, which changes every run.
const bannerSocket = "/home/alice/.ec2grid/daemon.sock"

// fixture is a queue of EC2 jobs in every interesting state, as the daemon holds it.
var fixture = []string{
	`[ ClusterId = 1; ProcId = 0; Owner = "alice"; JobStatus = 2; QDate = 1795438211; JobPrio = 0;
	   Cmd = "EC2_Instance-ami-60bd4609"; JobUniverse = 9; ShadowBday = 1795438279; RemoteWallClockTime = 0.0;
	   EnteredCurrentStatus = 1795438279;
	   GridResource = "ec2 http://127.0.0.1:5055/"; GridJobStatus = "running";
	   GridJobId = "ec2 http://127.0.0.1:5055/ 4a5d3840-40dc-4203-afc0-f4e980ddd696 i-621d4cf62692ac985";
	   EC2InstanceName = "i-621d4cf62692ac985"; EC2RemoteVirtualMachineName = "ec2-54-214-201-67.compute-1.amazonaws.com";
	   EC2KeyPairFile = "/home/alice/EC2_Instance-ami-60bd4609.1.pem"; PeriodicHold = (JobStatus == 2) && (time() - EnteredCurrentStatus > 3600) ]`,
	`[ ClusterId = 2; ProcId = 0; Owner = "alice"; JobStatus = 1; QDate = 1795438600; Cmd = "EC2_Instance-ami-60bd4609"; JobUniverse = 9;
	   GridResource = "ec2 http://127.0.0.1:5055/"; JobBatchName = "render" ]`,
	`[ ClusterId = 2; ProcId = 1; Owner = "alice"; JobStatus = 5; QDate = 1795438600; Cmd = "EC2_Instance-ami-60bd4609"; JobUniverse = 9;
	   GridResource = "ec2 http://127.0.0.1:5055/"; JobBatchName = "render"; EnteredCurrentStatus = 1795438900;
	   HoldReason = "via condor_hold (by user alice)"; HoldReasonCode = 1; HoldReasonSubCode = 0 ]`,
	`[ ClusterId = 3; ProcId = 0; Owner = "bob"; JobStatus = 5; QDate = 1795431600; EnteredCurrentStatus = 1795437600;
	   Cmd = "EC2_Instance"; JobUniverse = 9; HoldReasonCode = 3; HoldReasonSubCode = 0;
	   HoldReason = "The job attribute PeriodicHold expression '(JobStatus == 2) && (time() - EnteredCurrentStatus > 3600)' evaluated to TRUE";
	   GridResource = "ec2 https://ec2.amazonaws.com/" ]`,
	`[ ClusterId = 4; ProcId = 0; Owner = "bob"; JobStatus = 3; QDate = 1795431800; Cmd = "y"; JobUniverse = 9;
	   GridResource = "ec2 https://ec2.amazonaws.com/"; GridJobStatus = "shutting-down";
	   GridJobId = "ec2 https://ec2.amazonaws.com/ 9b1e i-0123456789abcdef0" ]`,
}

// fakeQueue is a daemon whose query answers from the ads given.
func fakeQueue(t *testing.T, srcs []string) *clitest.Server {
	t.Helper()
	s := clitest.New(t)
	s.Handle(api.PathQuery, clitest.Queue(t, srcs, nil))
	return s
}

var testClock = clock{now: func() time.Time { return testNow }, loc: time.UTC, host: "vm", user: "alice"}

func runQ(t *testing.T, s *clitest.Server, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: s.Getenv}, testClock)
	return code, strings.ReplaceAll(stdout.String(), s.Socket, bannerSocket), stderr.String()
}

func golden(t *testing.T, name string, got string) {
	t.Helper()
	clitest.Golden(t, name, got, *update)
}

// TestGolden runs the real command code against the fake queue for every view.
func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"batch", nil},
		{"batch_allusers", []string{"-allusers"}},
		{"batch_owner", []string{"bob"}},
		{"nobatch", []string{"-nobatch", "-allusers"}},
		{"nobatch_cluster", []string{"-nobatch", "2"}},
		{"run", []string{"-run"}},
		{"hold", []string{"-hold", "-allusers"}},
		{"grid", []string{"-grid", "-allusers"}},
		{"totals", []string{"-totals"}},
		{"constraint", []string{"-nobatch", "-allusers", "-constraint", `GridResource == "ec2 https://ec2.amazonaws.com/"`}},
		{"long", []string{"-long", "1.0"}},
		{"json", []string{"-json", "2"}},
		{"af", []string{"-af", "ClusterId", "ProcId", "JobStatus", "EC2InstanceName", "Owner", "-allusers"}},
		{"af_jh", []string{"-af:jh", "Owner", "JobStatus", "GridResource", "-allusers"}},
		{"af_expr", []string{"-af:j", "JobStatus == 5", "strcat(Owner, \"@\", ClusterId)", "-allusers"}},
		{"format_article", []string{"-format", `Instance name: %s\n`, "EC2InstanceName", "-format", `Instance hostname: %s\n`,
			"EC2RemoteVirtualMachineName", "-format", `Keypair: %s\n`, "EC2KeyPairFile"}},
		{"format_ints", []string{"-allusers", "-format", "%d.", "ClusterId", "-format", "%d ", "ProcId", "-format", "%v\n", "PeriodicHold"}},
		{"empty_batch", []string{"carol"}},
		{"empty_long", []string{"-long", "carol"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fakeQueue(t, fixture)
			code, stdout, stderr := runQ(t, s, tt.args...)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			golden(t, tt.name, stdout)
		})
	}
}

// TestRequests checks what condor_q asks the daemon: the constraint of its arguments, a
// projection for tables and every attribute for -long, -json, -af and -format.
func TestRequests(t *testing.T) {
	tests := []struct {
		args       []string
		constraint string
		allAttrs   bool
		queries    int // 2 when the totals lines need the whole queue
	}{
		{nil, `(Owner == "alice")`, false, 2},
		{[]string{"-allusers", "-nobatch"}, "true", false, 2},
		{[]string{"12", "13.1"}, "(ClusterId == 12 || (ClusterId == 13 && ProcId == 1))", false, 2},
		{[]string{"-run"}, `(Owner == "alice") && (JobStatus == 2 || JobStatus == 6 || JobStatus == 7)`, false, 1},
		{[]string{"-grid"}, `(Owner == "alice")`, false, 1},
		{[]string{"-long", "-const", "JobStatus == 5"}, "(Owner == \"alice\") && ((JobStatus == 5\n))", true, 1},
		{[]string{"-json"}, `(Owner == "alice")`, true, 1},
		{[]string{"-af", "Foo"}, `(Owner == "alice")`, true, 1},
		{[]string{"-format", "%s", "Foo"}, `(Owner == "alice")`, true, 1},
	}
	for _, tt := range tests {
		s := fakeQueue(t, fixture)
		if code, _, stderr := runQ(t, s, tt.args...); code != 0 {
			t.Fatalf("%v: exit %d %s", tt.args, code, stderr)
		}
		reqs := s.Only(api.PathQuery)
		if len(reqs) != tt.queries {
			t.Errorf("%v: %d queries, want %d", tt.args, len(reqs), tt.queries)
			continue
		}
		var req api.QueryRequest
		reqs[0].Decode(t, &req)
		if want, _ := classad.ParseExpr(tt.constraint); req.Constraint != classad.Unparse(want) {
			t.Errorf("%v: constraint %q, want %q", tt.args, req.Constraint, classad.Unparse(want))
		}
		if got := len(req.Projection) == 0; got != tt.allAttrs {
			t.Errorf("%v: projection %v", tt.args, req.Projection)
		}
		if !tt.allAttrs && !reflect.DeepEqual(req.Projection, qfmt.Projection(qfmt.ViewBatch)) {
			t.Errorf("%v: projection %v, want the table attributes", tt.args, req.Projection)
		}
		if req.History {
			t.Errorf("%v: condor_q asked for history", tt.args)
		}
	}
}

func TestErrors(t *testing.T) {
	s := fakeQueue(t, fixture)
	tests := []struct {
		args   []string
		stderr string
	}{
		{[]string{"-run", "-hold"}, "-run and -hold/held or -idle are incompatible\n"},
		{[]string{"-format"}, "Error: Argument -format requires a spec and classad attribute name as parameters.\n"},
		{[]string{"-af"}, "Error: Argument -af requires at last one attribute parameter\n"},
		{[]string{"-constraint", "(("}, "Error: Invalid constraint (((): "},
		{[]string{"-bogus"}, "Error: unrecognized argument -bogus\n"},
		{[]string{"-long", "-json"}, "Error: -long, -json, -af and -format are mutually exclusive\n"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runQ(t, s, tt.args...)
		if code != 1 || stdout != "" || !strings.HasPrefix(stderr, tt.stderr) {
			t.Errorf("%v: exit %d stdout %q stderr %q, want 1 and %q", tt.args, code, stdout, stderr, tt.stderr)
		}
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("usage errors sent %d requests", n)
	}

	var stdout, stderr bytes.Buffer
	code := run(nil, cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: clitest.NoDaemonEnv(t)}, testClock)
	if code != 1 || stdout.Len() != 0 || !strings.HasPrefix(stderr.String(), "ERROR: the ec2grid daemon is not running (no socket at ") ||
		!strings.HasSuffix(stderr.String(), "Start it with: ec2grid daemon\n") {
		t.Errorf("no daemon: exit %d stdout %q stderr %q", code, stdout.String(), stderr.String())
	}

	broken := clitest.New(t)
	broken.Handle(api.PathQuery, func([]byte) (int, any) {
		return http.StatusServiceUnavailable, api.ErrorBody{Error: "the queue is starting", Code: api.CodeUnavailable}
	})
	stdout.Reset()
	stderr.Reset()
	code = run(nil, cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: broken.Getenv}, testClock)
	if code != 1 || stderr.String() != "ERROR: the queue is starting\n" {
		t.Errorf("daemon error: exit %d stderr %q", code, stderr.String())
	}

	stdout.Reset()
	if code := run([]string{"-help"}, cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: broken.Getenv}, testClock); code != 0 || !strings.HasPrefix(stdout.String(), "Usage: condor_q") {
		t.Errorf("-help: exit %d stdout %q", code, stdout.String())
	}
}
