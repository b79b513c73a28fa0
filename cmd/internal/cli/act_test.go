package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/ec2grid/ec2grid/api"
	"github.com/ec2grid/ec2grid/cmd/internal/cli/clitest"
)

// actDaemon answers every act request with results made by fn from the request.
func actDaemon(t *testing.T, fn func(req api.ActRequest) api.ActResponse) *clitest.Server {
	s := clitest.New(t)
	s.Handle(api.PathAct, func(body []byte) (int, any) {
		var req api.ActRequest
		if err := jsonUnmarshal(body, &req); err != nil {
			return http.StatusBadRequest, api.ErrorBody{Error: err.Error(), Code: api.CodeBadRequest}
		}
		return http.StatusOK, fn(req)
	})
	return s
}

// queue is the fake daemon's jobs: id -> status as the daemon would report acting on it.
// Explicit ids not in it are not found; a selector (constraint/all) acts on "mine".
func byStatus(statuses map[string]string, selected []string) func(api.ActRequest) api.ActResponse {
	return func(req api.ActRequest) api.ActResponse {
		var out api.ActResponse
		for _, id := range req.IDs {
			st, ok := statuses[id]
			if !ok {
				st = api.StatusNotFound
			}
			out.Results = append(out.Results, api.ActResult{ID: id, Status: st})
		}
		if req.Constraint != "" || req.All {
			for _, id := range selected {
				out.Results = append(out.Results, api.ActResult{ID: id, Status: statuses[id]})
			}
		}
		return out
	}
}

func runAct(t *testing.T, getenv func(string) string, prog string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := RunAct(prog, args, Env{Stdout: &stdout, Stderr: &stderr, Getenv: getenv})
	return code, stdout.String(), stderr.String()
}

func TestRunAct(t *testing.T) {
	statuses := map[string]string{
		"12.0": api.StatusDone, "12.1": api.StatusDone,
		"13.0": api.StatusBadStatus, "14.0": api.StatusForbidden,
	}
	tests := []struct {
		name           string
		prog           string
		args           []string
		selected       []string // jobs a selector matches
		code           int
		stdout, stderr string // exact
		want           []api.ActRequest
	}{
		{name: "rm one job", prog: "condor_rm", args: []string{"12.0"}, stdout: "Job 12.0 marked for removal\n",
			want: []api.ActRequest{{Action: api.ActionRemove, IDs: []string{"12.0"}}}},
		{name: "hold with reason and subcode", prog: "/usr/bin/condor_hold", args: []string{"-reason", "disk full", "-subcode", "7", "12.0", "12.1"},
			stdout: "Job 12.0 held\nJob 12.1 held\n",
			want:   []api.ActRequest{{Action: api.ActionHold, IDs: []string{"12.0", "12.1"}, Reason: "disk full", HoldSubCode: 7}}},
		{name: "release", prog: "condor_release", args: []string{"12.0"}, stdout: "Job 12.0 released\n"},
		{name: "not found", prog: "condor_rm", args: []string{"99.0"}, code: 1, stderr: "Job 99.0 not found\n"},
		{name: "rm already removed", prog: "condor_rm", args: []string{"13.0"}, code: 1, stderr: "Job 13.0 already marked for removal\n"},
		{name: "hold already held", prog: "condor_hold", args: []string{"13.0"}, code: 1, stderr: "Job 13.0 already held\n"},
		{name: "release not held", prog: "condor_release", args: []string{"13.0"}, code: 1, stderr: "Job 13.0 not held to be released\n"},
		{name: "forcex not removed", prog: "condor_rm", args: []string{"-forcex", "13.0"}, code: 1, stderr: "Job 13.0 not in `X' state to be forcibly removed\n",
			want: []api.ActRequest{{Action: api.ActionRemoveX, IDs: []string{"13.0"}}}},
		{name: "forcex", prog: "condor_rm", args: []string{"-forcex", "12.0"}, stdout: "Job 12.0 removed locally (remote state unknown)\n"},
		{name: "permission denied", prog: "condor_hold", args: []string{"14.0"}, code: 1, stderr: "Permission denied to hold job 14.0\n"},
		{name: "mixed results keep argument order", prog: "condor_rm", args: []string{"99.0", "12.0"}, code: 1,
			stdout: "Job 12.0 marked for removal\n", stderr: "Job 99.0 not found\n"},
		{name: "cluster", prog: "condor_rm", args: []string{"12"}, selected: []string{"12.0", "12.1"},
			stdout: "All jobs in cluster 12 have been marked for removal\n",
			want:   []api.ActRequest{{Action: api.ActionRemove, Constraint: "ClusterId == 12"}}},
		{name: "cluster with nothing to act on", prog: "condor_release", args: []string{"13"}, selected: []string{"13.0"}, code: 1,
			stderr: "Couldn't find/release all jobs in cluster 13\n"},
		{name: "user", prog: "condor_hold", args: []string{"alice"}, selected: []string{"12.0"},
			stdout: "All jobs of user alice have been held\n",
			want:   []api.ActRequest{{Action: api.ActionHold, Constraint: `Owner == "alice"`}}},
		{name: "user with no jobs", prog: "condor_rm", args: []string{"bob"}, code: 1, stderr: "Couldn't find/remove all jobs of user bob\n"},
		{name: "constraint", prog: "condor_release", args: []string{"-constraint", "JobStatus == 5"}, selected: []string{"12.0"},
			stdout: "All jobs matching constraint (JobStatus == 5) have been released\n",
			want:   []api.ActRequest{{Action: api.ActionRelease, Constraint: "JobStatus == 5"}}},
		{name: "two clusters and a constraint", prog: "condor_rm", args: []string{"12", "-const", "Foo", "15"}, selected: []string{"12.0"},
			stdout: "All jobs matching constraint ((Foo) && (ClusterId == 12 || ClusterId == 15)) have been marked for removal\n",
			want:   []api.ActRequest{{Action: api.ActionRemove, Constraint: "(Foo) && (ClusterId == 12 || ClusterId == 15)"}}},
		{name: "all", prog: "condor_rm", args: []string{"-all"}, selected: []string{"12.0"}, stdout: "All jobs have been marked for removal\n",
			want: []api.ActRequest{{Action: api.ActionRemove, All: true}}},
		{name: "ids and a cluster", prog: "condor_hold", args: []string{"12.0", "13"}, selected: []string{"12.1"},
			stdout: "Job 12.0 held\nAll jobs in cluster 13 have been held\n",
			want: []api.ActRequest{{Action: api.ActionHold, IDs: []string{"12.0"}},
				{Action: api.ActionHold, Constraint: "ClusterId == 13"}}},
		{name: "totals", prog: "condor_rm", args: []string{"-totals", "12.0", "99.0"}, code: 1,
			stdout: "1 Succeeded, 0 Failed, 1 Not Found, 0 Bad Status, 0 Already Done, 0 Permission Denied\nJob 12.0 marked for removal\n",
			stderr: "Job 99.0 not found\n"},
		{name: "no jobs", prog: "condor_rm", code: 1, stderr: "You did not specify any jobs\nUsage: condor_rm [options] [constraints]\n where"},
		{name: "-all mixed", prog: "condor_rm", args: []string{"12", "-all"}, code: 1, stderr: "condor_rm: can't mix -all with other constraints\n"},
		{name: "bad cluster", prog: "condor_rm", args: []string{"0"}, code: 1, stderr: "Invalid cluster # from 0.\n"},
		{name: "bad proc", prog: "condor_rm", args: []string{"12.x", "12.0"}, code: 1, stdout: "Job 12.0 marked for removal\n", stderr: "Invalid proc # from 12.x.\n"},
		{name: "forcex on hold", prog: "condor_hold", args: []string{"-forcex", "12.0"}, code: 1, stderr: "-forcex is only valid with condor_rm\nUsage: condor_hold"},
		{name: "unknown option", prog: "condor_release", args: []string{"-bogus"}, code: 1, stderr: "Unrecognized option: -bogus\nUsage: condor_release"},
		{name: "bad constraint", prog: "condor_rm", args: []string{"-constraint", "(("}, code: 1, stderr: "condor_rm: invalid -constraint ((: "},
		{name: "-reason without text", prog: "condor_rm", args: []string{"12.0", "-reason"}, code: 1, stderr: "condor_rm: -reason requires another argument\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := actDaemon(t, byStatus(statuses, tt.selected))
			code, stdout, stderr := runAct(t, s.Getenv, tt.prog, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			if stdout != tt.stdout {
				t.Errorf("stdout %q, want %q", stdout, tt.stdout)
			}
			// A stderr ending in a newline is exact; otherwise it is the expected start.
			if strings.HasSuffix(tt.stderr, "\n") && stderr != tt.stderr || !strings.HasPrefix(stderr, tt.stderr) {
				t.Errorf("stderr %q, want %q", stderr, tt.stderr)
			}
			if tt.want != nil {
				var got []api.ActRequest
				for _, r := range s.Only(api.PathAct) {
					var req api.ActRequest
					r.Decode(t, &req)
					got = append(got, req)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("requests\n%+v\nwant\n%+v", got, tt.want)
				}
			}
		})
	}
}

func TestRunActDaemonErrors(t *testing.T) {
	for _, prog := range []string{"condor_rm", "condor_hold", "condor_release"} {
		code, stdout, stderr := runAct(t, clitest.NoDaemonEnv(t), prog, "1.0")
		if code != 1 || stdout != "" || !strings.HasPrefix(stderr, "ERROR: the ec2grid daemon is not running (no socket at ") ||
			!strings.HasSuffix(stderr, ". Start it with: ec2grid daemon\n") {
			t.Errorf("%s without a daemon: exit %d stdout %q stderr %q", prog, code, stdout, stderr)
		}
	}
	s := clitest.New(t)
	s.Handle(api.PathAct, func([]byte) (int, any) {
		return http.StatusBadRequest, api.ErrorBody{Error: "act: bad constraint", Code: api.CodeBadRequest}
	})
	code, _, stderr := runAct(t, s.Getenv, "condor_rm", "alice")
	if code != 1 || stderr != "ERROR: act: bad constraint\nCouldn't find/remove all jobs of user alice\n" {
		t.Errorf("refused: exit %d stderr %q", code, stderr)
	}
}

func TestParseJobID(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  string
	}{
		{"12", "12", ""}, {"12.0", "12.0", ""}, {"1.25", "1.25", ""},
		{"0", "", "Invalid cluster # from 0."}, {"12.", "", "Invalid proc # from 12.."},
		{"12.-1", "", "Invalid proc # from 12.-1."}, {"1x", "", "Invalid cluster # from 1x."},
		{"12.0.1", "", "Invalid proc # from 12.0.1."},
	}
	for _, tt := range tests {
		id, err := ParseJobID(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseJobID(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || id.String() != tt.want {
			t.Errorf("ParseJobID(%q) = %v, %v; want %s", tt.in, id, err, tt.want)
		}
	}
}

func TestIsOption(t *testing.T) {
	tests := []struct {
		arg, name string
		min       int
		want      bool
	}{
		{"-const", "constraint", 5, true}, {"-con", "constraint", 5, false}, {"--constraint", "constraint", 5, true},
		{"-constraints", "constraint", 5, false}, {"constraint", "constraint", 1, false}, {"-ALL", "all", 1, true},
	}
	for _, tt := range tests {
		if got := IsOption(tt.arg, tt.name, tt.min); got != tt.want {
			t.Errorf("IsOption(%q, %q, %d) = %v", tt.arg, tt.name, tt.min, got)
		}
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// FuzzParseJobID: an accepted id prints back to text that parses to the same id, and
// cluster ids are positive and proc ids non-negative, as HTCondor requires.
func FuzzParseJobID(f *testing.F) {
	for _, s := range []string{"12", "12.0", "0", "1.-1", "+3", "1e3", "007.08", "9223372036854775807.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseJobID(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "Invalid ") || !strings.Contains(err.Error(), s) {
				t.Fatalf("ParseJobID(%q) error %q does not name the argument", s, err)
			}
			return
		}
		if id.Cluster <= 0 || id.Proc < 0 || !id.HasProc && id.Proc != 0 {
			t.Fatalf("ParseJobID(%q) = %+v", s, id)
		}
		again, err := ParseJobID(id.String())
		if err != nil || again != id {
			t.Fatalf("ParseJobID(%q) = %+v, but its text %q parses to %+v, %v", s, id, id.String(), again, err)
		}
	})
}
