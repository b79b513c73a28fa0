package cli

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/ec2grid/ec2grid/api"
	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/cmd/internal/cli/clitest"
	"github.com/ec2grid/ec2grid/cmd/internal/qfmt"
)

// TestQuery: the shared prologue asks the queue or the history for the arguments'
// jobs, hands them to show, and prints each kind of error as the tools do, without
// calling show.
func TestQuery(t *testing.T) {
	queue := []string{`[ ClusterId = 1; ProcId = 0; Owner = "alice"; JobStatus = 1 ]`, `[ ClusterId = 2; ProcId = 0; Owner = "bob"; JobStatus = 1 ]`}
	history := []string{`[ ClusterId = 3; ProcId = 0; Owner = "alice"; JobStatus = 4 ]`}
	s := clitest.New(t)
	s.Handle(api.PathQuery, clitest.Queue(t, queue, history))
	failing := clitest.New(t)
	failing.Handle(api.PathQuery, func([]byte) (int, any) {
		return http.StatusInternalServerError, api.ErrorBody{Error: "disk error", Code: api.CodeInternal}
	})
	tests := []struct {
		name    string
		getenv  func(string) string
		args    []string
		user    string
		history bool
		code    int
		ids     string // the ClusterIds show got; "-" for show not called
		stderr  string
	}{
		{"mine", s.Getenv, nil, "alice", false, 0, "1", ""},
		{"all users", s.Getenv, nil, "", false, 0, "12", ""},
		{"history", s.Getenv, []string{"alice"}, "", true, 0, "3", ""},
		{"show's status", s.Getenv, []string{"bob"}, "", false, 7, "2", ""},
		{"usage", s.Getenv, []string{"-constraint"}, "", false, 1, "-", "Error: Argument -constraint requires another parameter\n"},
		{"daemon error", failing.Getenv, nil, "", false, 1, "-", "ERROR: disk error\n"},
		{"no daemon", clitest.NoDaemonEnv(t), nil, "", false, 1, "-", "ERROR: the ec2grid daemon is not running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			ids := "-"
			show := func(ctx context.Context, c *api.Client, q *qfmt.Query, ads []*classad.ClassAd) int {
				if ctx.Err() != nil || c == nil || q == nil {
					t.Errorf("show got ctx %v, client %v, query %v", ctx.Err(), c, q)
				}
				ids = ""
				for _, ad := range ads {
					n, _ := ad.EvalAttr("ClusterId").IntValue()
					ids += string(rune('0' + n))
				}
				if tt.code != 0 {
					return tt.code
				}
				return ExitOK
			}
			code := Query(Env{Stdout: &stdout, Stderr: &stderr, Getenv: tt.getenv}, tt.args, tt.user, tt.history, show)
			if code != tt.code || ids != tt.ids || !strings.HasPrefix(stderr.String(), tt.stderr) || tt.stderr == "" && stderr.Len() > 0 {
				t.Errorf("exit %d, show got %q, stderr %q; want %d, %q, %q", code, ids, stderr.String(), tt.code, tt.ids, tt.stderr)
			}
		})
	}
}
