package main

import (
	"encoding/json"

	"github.com/google/uuid"

	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ec2grid/ec2grid/api"
	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/cmd/internal/cli"
	"github.com/ec2grid/ec2grid/cmd/internal/cli/clitest"
)

// fakeDaemon answers next-cluster with next and accepts every submit, recording it.
func fakeDaemon(t *testing.T, next int64) *clitest.Server {
	s := clitest.New(t)
	s.Reply(api.PathNextCluster, api.NextClusterResponse{Cluster: next})
	s.Handle(api.PathSubmit, accept(t))
	return s
}

// accept is a submit handler that queues what it is sent for the cluster it expects.
func accept(t *testing.T) clitest.Handler {
	return func(body []byte) (int, any) {
		var req api.SubmitRequest
		if err := jsonDecode(body, &req); err != nil {
			t.Errorf("submit body: %v", err)
			return http.StatusBadRequest, api.ErrorBody{Error: err.Error(), Code: api.CodeBadRequest}
		}
		var out api.SubmitResponse
		for i, c := range req.Clusters {
			out.Clusters = append(out.Clusters, api.SubmittedCluster{Cluster: req.ExpectCluster + int64(i), Procs: len(c)})
		}
		return http.StatusOK, out
	}
}

// submits decodes the submit requests the daemon received.
func submits(t *testing.T, s *clitest.Server) []api.SubmitRequest {
	t.Helper()
	var out []api.SubmitRequest
	for _, r := range s.Only(api.PathSubmit) {
		var req api.SubmitRequest
		r.Decode(t, &req)
		out = append(out, req)
	}
	return out
}

func ad(t *testing.T, long string) *classad.ClassAd {
	t.Helper()
	a, err := classad.ParseLong(long)
	if err != nil {
		t.Fatalf("ad %q: %v", long, err)
	}
	return a
}

// jobOf is job j of cluster c of a request as the daemon reads it: the cluster's common
// attributes overlaid by the job's own.
func jobOf(t *testing.T, req api.SubmitRequest, c, j int) *classad.ClassAd {
	t.Helper()
	if len(req.Common) != len(req.Clusters) {
		t.Fatalf("the request has %d common entries for %d clusters", len(req.Common), len(req.Clusters))
	}
	a := ad(t, req.Common[c])
	own := ad(t, req.Clusters[c][j])
	for _, name := range own.Names() {
		e, _ := own.Lookup(name)
		a.Set(name, e)
	}
	return a
}

func runWith(getenv func(string) string, stdin string, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := runEnv(args, cli.Env{Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr, Getenv: getenv})
	return code, stdout.String(), stderr.String()
}

func TestSubmit(t *testing.T) {
	dir, subFile := setup(t)
	src, _ := os.ReadFile(subFile)
	noQueue := strings.Replace(string(src), "queue\n", "", 1)
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout string // exact
		stderr string // substring
		check  func(t *testing.T, reqs []api.SubmitRequest)
	}{
		{name: "one job", args: []string{subFile}, stdout: "Submitting job(s).\n1 job(s) submitted to cluster 42.\n",
			check: func(t *testing.T, reqs []api.SubmitRequest) {
				if len(reqs) != 1 || reqs[0].ExpectCluster != 42 || len(reqs[0].Clusters) != 1 || len(reqs[0].Clusters[0]) != 1 {
					t.Fatalf("requests %+v", reqs)
				}
				if _, err := uuidParse(reqs[0].SubmitKey); err != nil {
					t.Errorf("SubmitKey %q is not a UUID", reqs[0].SubmitKey)
				}
				a := jobOf(t, reqs[0], 0, 0)
				if c, _ := a.EvalAttr("ClusterId").IntValue(); c != 42 {
					t.Errorf("ClusterId %d", c)
				}
				if k, _ := a.EvalAttr("EC2KeyPairFile").StringValue(); k != filepath.Join(dir, "EC2_Instance-ami-60bd4609.42.pem") {
					t.Errorf("EC2KeyPairFile %q: $(cluster) not expanded for the daemon's cluster", k)
				}
			}},
		{name: "three jobs", args: []string{"-"}, stdin: strings.Replace(string(src), "queue", "queue 3", 1),
			stdout: "Submitting job(s)...\n3 job(s) submitted to cluster 42.\n",
			check: func(t *testing.T, reqs []api.SubmitRequest) {
				for p := range reqs[0].Clusters[0] {
					if got, _ := jobOf(t, reqs[0], 0, p).EvalAttr("ProcId").IntValue(); got != int64(p) {
						t.Errorf("ad %d has ProcId %d", p, got)
					}
				}
			}},
		{name: "two clusters", args: []string{"-"}, stdin: string(src) + "executable = other\nqueue 2\n",
			stdout: "Submitting job(s)...\n1 job(s) submitted to cluster 42.\n2 job(s) submitted to cluster 43.\n"},
		{name: "terse", args: []string{"-terse", "-"}, stdin: strings.Replace(string(src), "queue", "queue 3", 1), stdout: "42.0 - 42.2\n"},
		{name: "batch name", args: []string{"-batch-name", "nightly", subFile}, stdout: "Submitting job(s).\n1 job(s) submitted to cluster 42.\n",
			check: func(t *testing.T, reqs []api.SubmitRequest) {
				if n, _ := jobOf(t, reqs[0], 0, 0).EvalAttr("JobBatchName").StringValue(); n != "nightly" {
					t.Errorf("JobBatchName %q", n)
				}
			}},
		{name: "append before the queue statement", args: []string{"-a", "ec2_instance_type = m1.large", "-append", "+Project = \"x\"", subFile},
			stdout: "Submitting job(s).\n1 job(s) submitted to cluster 42.\n",
			check: func(t *testing.T, reqs []api.SubmitRequest) {
				a := jobOf(t, reqs[0], 0, 0)
				if v, _ := a.EvalAttr("EC2InstanceType").StringValue(); v != "m1.large" {
					t.Errorf("EC2InstanceType %q", v)
				}
				if v, _ := a.EvalAttr("Project").StringValue(); v != "x" {
					t.Errorf("Project %q", v)
				}
			}},
		{name: "-queue for a file without one", args: []string{"-", "-queue", "2"}, stdin: noQueue,
			stdout: "Submitting job(s)..\n2 job(s) submitted to cluster 42.\n"},
		{name: "-append queue is -queue", args: []string{"-append", "queue 2", "-"}, stdin: noQueue,
			stdout: "Submitting job(s)..\n2 job(s) submitted to cluster 42.\n"},
		{name: "-queue with a queue statement", args: []string{subFile, "-queue", "2"}, code: 1,
			stderr: "ERROR: -queue argument conflicts with queue statement in submit file"},
		{name: "NAME=value", args: []string{"ec2_ami_id=ami-11111111", "-"}, stdin: strings.Replace(string(src), "ec2_ami_id = ami-60bd4609\n", "", 1),
			stdout: "Submitting job(s).\n1 job(s) submitted to cluster 42.\n",
			check: func(t *testing.T, reqs []api.SubmitRequest) {
				if v, _ := jobOf(t, reqs[0], 0, 0).EvalAttr("EC2AmiID").StringValue(); v != "ami-11111111" {
					t.Errorf("EC2AmiID %q", v)
				}
			}},
		{name: "error keeps the file's line with -append", args: []string{"-a", "ec2_instance_type = m1.large", "-"},
			stdin: strings.Replace(string(src), "ec2_ami_id = ami-60bd4609\n", "", 1), code: 1,
			stderr: "\nERROR: on Line 10 of <stdin>: ec2_ami_id: EC2 jobs require a \"ec2_ami_id\" parameter\n"},
		{name: "error in an -append line", args: []string{"-a", "ec2_instance_type = m1.large", "-a", "nonsense", "-"}, stdin: string(src), code: 1,
			stderr: "ERROR: on Line 2 of the -append arguments: nonsense: Syntax Error, missing : or ="},
		{name: "bad file queues nothing", args: []string{"-"}, stdin: "universe = vanilla\nexecutable = x\nqueue\n", code: 1,
			stderr: "ERROR: on Line 1 of <stdin>: universe: universe \"vanilla\" is not supported",
			check: func(t *testing.T, reqs []api.SubmitRequest) {
				if len(reqs) != 0 {
					t.Errorf("a bad file was submitted: %+v", reqs)
				}
			}},
		{name: "verbose", args: []string{"-verbose", subFile}, stdout: "Submitting job(s)\n** Proc 42.0:\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fakeDaemon(t, 42)
			code, stdout, stderr := runWith(s.Getenv, tt.stdin, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			if tt.name == "verbose" {
				if !strings.HasPrefix(stdout, tt.stdout) || !strings.Contains(stdout, "\nClusterId = 42\n") || !strings.HasSuffix(stdout, "\n1 job(s) submitted to cluster 42.\n") {
					t.Errorf("stdout:\n%s", stdout)
				}
			} else if stdout != tt.stdout {
				t.Errorf("stdout:\n%q\nwant:\n%q", stdout, tt.stdout)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.stderr)
			}
			if tt.check != nil {
				tt.check(t, submits(t, s))
			}
		})
	}
}

// TestSubmitConflict: another submit takes the cluster id between next-cluster and
// submit; condor_submit rebuilds its ads for the daemon's new id and retries.
func TestSubmitConflict(t *testing.T) {
	_, subFile := setup(t)
	s := clitest.New(t)
	s.Reply(api.PathNextCluster, api.NextClusterResponse{Cluster: 42})
	var calls atomic.Int32
	ok := accept(t)
	s.Handle(api.PathSubmit, func(body []byte) (int, any) {
		if calls.Add(1) == 1 {
			return http.StatusConflict, api.ErrorBody{Error: "cluster 42 is taken", Code: api.CodeConflict, NextCluster: 44}
		}
		return ok(body)
	})
	code, stdout, stderr := runWith(s.Getenv, "", subFile)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	if want := "Submitting job(s).\n1 job(s) submitted to cluster 44.\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	reqs := submits(t, s)
	if len(reqs) != 2 || reqs[0].ExpectCluster != 42 || reqs[1].ExpectCluster != 44 {
		t.Fatalf("requests %+v", reqs)
	}
	if c, _ := jobOf(t, reqs[1], 0, 0).EvalAttr("ClusterId").IntValue(); c != 44 {
		t.Errorf("retry's ClusterId = %d, want 44", c)
	}
	if k, _ := jobOf(t, reqs[1], 0, 0).EvalAttr("EC2KeyPairFile").StringValue(); !strings.HasSuffix(k, ".44.pem") {
		t.Errorf("retry's EC2KeyPairFile %q not rebuilt for cluster 44", k)
	}
}

// TestSubmitConflictBounded: a daemon that always says conflict ends the command.
func TestSubmitConflictBounded(t *testing.T) {
	_, subFile := setup(t)
	s := clitest.New(t)
	s.Reply(api.PathNextCluster, api.NextClusterResponse{Cluster: 1})
	var n atomic.Int64
	s.Handle(api.PathSubmit, func([]byte) (int, any) {
		return http.StatusConflict, api.ErrorBody{Error: "taken", Code: api.CodeConflict, NextCluster: n.Add(1) + 1}
	})
	code, stdout, stderr := runWith(s.Getenv, "", subFile)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "taken by other submits") {
		t.Fatalf("exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	if got := len(s.Only(api.PathSubmit)); got != maxConflictRetries {
		t.Errorf("%d submits, want %d", got, maxConflictRetries)
	}
}

// TestSubmitLostReply: the daemon receives the submit but the reply is lost; the resend
// carries the same SubmitKey, so the daemon can answer it without queueing twice.
func TestSubmitLostReply(t *testing.T) {
	_, subFile := setup(t)
	s := clitest.New(t)
	s.Reply(api.PathNextCluster, api.NextClusterResponse{Cluster: 7})
	var calls atomic.Int32
	ok := accept(t)
	s.Handle(api.PathSubmit, func(body []byte) (int, any) {
		if calls.Add(1) == 1 {
			return clitest.Drop, nil
		}
		return ok(body)
	})
	code, stdout, stderr := runWith(s.Getenv, "", subFile)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	if want := "Submitting job(s).\n1 job(s) submitted to cluster 7.\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	reqs := submits(t, s)
	if len(reqs) != 2 || reqs[0].SubmitKey != reqs[1].SubmitKey {
		t.Fatalf("resend must reuse the SubmitKey: %+v", reqs)
	}
}

func TestSubmitDaemonErrors(t *testing.T) {
	_, subFile := setup(t)
	t.Run("not running", func(t *testing.T) {
		code, stdout, stderr := runWith(clitest.NoDaemonEnv(t), "", subFile)
		if code != 1 || stdout != "" {
			t.Fatalf("exit %d stdout %q", code, stdout)
		}
		if !strings.HasPrefix(stderr, "ERROR: the ec2grid daemon is not running (no socket at ") || !strings.HasSuffix(stderr, "Start it with: ec2grid daemon\n") {
			t.Errorf("stderr %q", stderr)
		}
	})
	t.Run("refused", func(t *testing.T) {
		s := clitest.New(t)
		s.Reply(api.PathNextCluster, api.NextClusterResponse{Cluster: 3})
		s.Handle(api.PathSubmit, func([]byte) (int, any) {
			return http.StatusBadRequest, api.ErrorBody{Error: "ad 1: bad JobStatus", Code: api.CodeBadRequest}
		})
		code, stdout, stderr := runWith(s.Getenv, "", subFile)
		if code != 1 || stdout != "" || stderr != "\nERROR: ad 1: bad JobStatus\n" {
			t.Fatalf("exit %d stdout %q stderr %q", code, stdout, stderr)
		}
	})
}

func jsonDecode(b []byte, v any) error { return json.Unmarshal(b, v) }

func uuidParse(s string) (uuid.UUID, error) { return uuid.Parse(s) }
