package main

import (
	"bytes"
	"flag"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/api"
	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/cmd/internal/cli"
	"github.com/ec2grid/ec2grid/cmd/internal/cli/clitest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// history is the fake daemon's history, newest first.
var history = []string{
	`[ ClusterId = 9; ProcId = 0; Owner = "alice"; JobStatus = 3; QDate = 1795438211; CompletionDate = 0;
	   Cmd = "EC2_Instance-ami-60bd4609"; RemoteWallClockTime = 3725.0; RemoveReason = "via condor_rm (by user alice)" ]`,
	`[ ClusterId = 7; ProcId = 1; Owner = "bob"; JobStatus = 4; QDate = 1795431600; CompletionDate = 1795435200;
	   Cmd = "/usr/bin/render"; Args = "-q"; RemoteWallClockTime = 90061.0 ]`,
	`[ ClusterId = 7; ProcId = 0; Owner = "bob"; JobStatus = 4; QDate = 1795431600; CompletionDate = 1795434000;
	   Cmd = "/usr/bin/render"; Args = "-q"; RemoteWallClockTime = 60.0 ]`,
}

// queue must never be shown by condor_history.
var queue = []string{`[ ClusterId = 10; ProcId = 0; Owner = "alice"; JobStatus = 1; QDate = 1795438211; Cmd = "queued" ]`}

func runH(t *testing.T, getenv func(string) string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: getenv}, time.UTC)
	return code, stdout.String(), stderr.String()
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"table", nil},
		{"owner", []string{"bob"}},
		{"cluster_proc", []string{"7.1"}},
		{"limit", []string{"-limit", "2"}},
		{"match", []string{"-match", "1"}},
		{"constraint", []string{"-constraint", "JobStatus == 3"}},
		{"long", []string{"-long", "9"}},
		{"af", []string{"-af:j", "Owner", "JobStatus", "RemoteWallClockTime"}},
		{"json", []string{"-json", "-limit", "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := clitest.New(t)
			s.Handle(api.PathQuery, clitest.Queue(t, queue, history))
			code, stdout, stderr := runH(t, s.Getenv, tt.args...)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d stderr %q", code, stderr)
			}
			if strings.Contains(stdout, "queued") {
				t.Errorf("condor_history showed a queued job:\n%s", stdout)
			}
			clitest.Golden(t, tt.name, stdout, *update)
		})
	}
}

func TestRequest(t *testing.T) {
	s := clitest.New(t)
	s.Handle(api.PathQuery, clitest.Queue(t, queue, history))
	if code, _, stderr := runH(t, s.Getenv, "-limit", "5", "alice", "-constraint", "JobStatus == 3"); code != 0 {
		t.Fatalf("exit %d %s", code, stderr)
	}
	reqs := s.Only(api.PathQuery)
	if len(reqs) != 1 {
		t.Fatalf("%d queries", len(reqs))
	}
	var req api.QueryRequest
	reqs[0].Decode(t, &req)
	want, _ := classad.ParseExpr("(Owner == \"alice\") && ((JobStatus == 3\n))")
	if !req.History || req.Limit != 5 || req.Constraint != classad.Unparse(want) || len(req.Projection) == 0 {
		t.Errorf("request %+v", req)
	}
}

func TestErrors(t *testing.T) {
	s := clitest.New(t)
	s.Handle(api.PathQuery, func([]byte) (int, any) {
		return http.StatusInternalServerError, api.ErrorBody{Error: "history: disk error", Code: api.CodeInternal}
	})
	tests := []struct {
		getenv func(string) string
		args   []string
		stderr string
	}{
		{s.Getenv, []string{"-run"}, "Error: unrecognized argument -run\n"},
		{s.Getenv, []string{"-limit", "x"}, "Error: -limit requires a non-negative integer, got \"x\"\n"},
		{s.Getenv, []string{"-constraint"}, "Error: Argument -constraint requires another parameter\n"},
		{s.Getenv, nil, "ERROR: history: disk error\n"},
		{clitest.NoDaemonEnv(t), nil, "ERROR: the ec2grid daemon is not running (no socket at "},
	}
	for _, tt := range tests {
		code, stdout, stderr := runH(t, tt.getenv, tt.args...)
		if code != 1 || stdout != "" || !strings.HasPrefix(stderr, tt.stderr) {
			t.Errorf("%v: exit %d stdout %q stderr %q, want %q", tt.args, code, stdout, stderr, tt.stderr)
		}
	}
}
