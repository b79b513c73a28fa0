package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/ec2grid/ec2grid/api"
	"github.com/ec2grid/ec2grid/cmd/internal/cli"
	"github.com/ec2grid/ec2grid/cmd/internal/cli/clitest"
)

// editDaemon edits jobs 12.0 and 12.1 (alice's) and refuses 13.0 (bob's), as the daemon
// does for a caller named alice.
func editDaemon(t *testing.T) *clitest.Server {
	s := clitest.New(t)
	s.Handle(api.PathEdit, func(body []byte) (int, any) {
		var req api.EditRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return http.StatusBadRequest, api.ErrorBody{Error: err.Error(), Code: api.CodeBadRequest}
		}
		var out api.EditResponse
		for _, id := range req.IDs {
			switch id {
			case "12":
				out.Results = append(out.Results, api.ActResult{ID: "12.0", Status: api.StatusDone}, api.ActResult{ID: "12.1", Status: api.StatusDone})
			case "12.0", "12.1":
				out.Results = append(out.Results, api.ActResult{ID: id, Status: api.StatusDone})
			case "13.0":
				out.Results = append(out.Results, api.ActResult{ID: id, Status: api.StatusForbidden, Error: "Permission denied to edit job 13.0"})
			default:
				out.Results = append(out.Results, api.ActResult{ID: id, Status: api.StatusNotFound})
			}
		}
		if req.Constraint == `Owner == "alice"` {
			out.Results = append(out.Results, api.ActResult{ID: "12.0", Status: api.StatusDone}, api.ActResult{ID: "12.1", Status: api.StatusDone})
		}
		return http.StatusOK, out
	})
	return s
}

func runE(getenv func(string) string, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: getenv})
	return code, stdout.String(), stderr.String()
}

func TestQedit(t *testing.T) {
	tests := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string
		want           []api.EditRequest
	}{
		{name: "one job", args: []string{"12.0", "PeriodicHold", "(JobStatus == 2) && (time() - EnteredCurrentStatus > 60)"},
			stdout: "Set attribute \"PeriodicHold\" for 1 matching jobs.\n",
			want:   []api.EditRequest{{IDs: []string{"12.0"}, Attr: "PeriodicHold", Value: "(JobStatus == 2) && (time() - EnteredCurrentStatus > 60)"}}},
		{name: "cluster, two pairs", args: []string{"12", "Foo", "1", "Bar", `"text"`},
			stdout: "Set attribute \"Foo\" for 2 matching jobs.\nSet attribute \"Bar\" for 2 matching jobs.\n",
			want:   []api.EditRequest{{IDs: []string{"12"}, Attr: "Foo", Value: "1"}, {IDs: []string{"12"}, Attr: "Bar", Value: `"text"`}}},
		{name: "owner", args: []string{"alice", "Foo", "true"}, stdout: "Set attribute \"Foo\" for 2 matching jobs.\n",
			want: []api.EditRequest{{Constraint: `Owner == "alice"`, Attr: "Foo", Value: "true"}}},
		{name: "constraint", args: []string{"-constraint", `Owner == "alice"`, "Foo", "2"}, stdout: "Set attribute \"Foo\" for 2 matching jobs.\n",
			want: []api.EditRequest{{Constraint: `Owner == "alice"`, Attr: "Foo", Value: "2"}}},
		{name: "not owner", args: []string{"13.0", "Foo", "1"}, code: 1,
			stderr: "Permission denied to edit job 13.0\nFailed to set attribute \"Foo\" for job 13.0: no matching job\n"},
		{name: "not found", args: []string{"99.0", "Foo", "1"}, code: 1,
			stderr: "Job 99.0 not found\nFailed to set attribute \"Foo\" for job 99.0: no matching job\n"},
		{name: "system attribute", args: []string{"12.0", "JobStatus", "1"}, code: 1,
			stderr: "ERROR: attribute JobStatus belongs to the queue and cannot be changed with condor_qedit\n"},
		{name: "system attribute in any case", args: []string{"12.0", "Foo", "1", "gridjobid", `"x"`}, code: 1,
			stderr: "ERROR: attribute gridjobid belongs to the queue and cannot be changed with condor_qedit\n"},
		{name: "bad value", args: []string{"12.0", "Foo", "(("}, code: 1, stderr: "Update aborted, illegal value for attribute Foo: (("},
		{name: "bad name", args: []string{"12.0", "1Foo", "1"}, code: 1, stderr: "Update aborted, illegal attribute name: 1Foo\n"},
		{name: "odd pairs", args: []string{"12.0", "Foo"}, code: 1, stderr: "Usage: condor_qedit"},
		{name: "no job", code: 1, stderr: "Usage: condor_qedit"},
		{name: "bad job id", args: []string{"0", "Foo", "1"}, code: 1, stderr: "Invalid cluster # from 0.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := editDaemon(t)
			code, stdout, stderr := runE(s.Getenv, tt.args...)
			if code != tt.code || stdout != tt.stdout {
				t.Errorf("exit %d stdout %q, want %d %q", code, stdout, tt.code, tt.stdout)
			}
			if strings.HasSuffix(tt.stderr, "\n") && stderr != tt.stderr || !strings.HasPrefix(stderr, tt.stderr) {
				t.Errorf("stderr %q, want %q", stderr, tt.stderr)
			}
			var got []api.EditRequest
			for _, r := range s.Only(api.PathEdit) {
				var req api.EditRequest
				r.Decode(t, &req)
				got = append(got, req)
			}
			if tt.code != 0 && tt.want == nil && strings.Contains(tt.name, "attribute") && len(got) != 0 {
				t.Errorf("a refused edit was sent: %+v", got)
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("requests %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestQeditDaemonErrors(t *testing.T) {
	code, stdout, stderr := runE(clitest.NoDaemonEnv(t), "1.0", "Foo", "1")
	if code != 1 || stdout != "" || !strings.HasPrefix(stderr, "ERROR: the ec2grid daemon is not running (no socket at ") {
		t.Errorf("no daemon: exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	s := clitest.New(t)
	s.Handle(api.PathEdit, func([]byte) (int, any) {
		return http.StatusForbidden, api.ErrorBody{Error: "edit: attribute EC2GridToken belongs to the queue and cannot be changed with condor_qedit", Code: api.CodeForbidden}
	})
	code, _, stderr = runE(s.Getenv, "1.0", "EC2GridToken", "1")
	if code != 1 || stderr != "ERROR: edit: attribute EC2GridToken belongs to the queue and cannot be changed with condor_qedit\n" {
		t.Errorf("refused: exit %d stderr %q", code, stderr)
	}
}
