package api

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ec2grid/ec2grid/classad"
)

// clusterOf builds n job ads from attrs, with per(j) adding job j's own bindings.
func clusterOf(t *testing.T, n int, attrs map[string]string, per func(j int) map[string]string) []*classad.ClassAd {
	t.Helper()
	out := make([]*classad.ClassAd, n)
	for j := range out {
		m := map[string]string{"ProcId": fmt.Sprint(j), "ClusterId": "1"}
		for k, v := range attrs {
			m[k] = v
		}
		if per != nil {
			for k, v := range per(j) {
				m[k] = v
			}
		}
		ad, err := classad.ParseLong(jobAd(t, m))
		if err != nil {
			t.Fatal(err)
		}
		out[j] = ad
	}
	return out
}

// The compact form (common attributes once, each job's own) queues exactly the ads the
// whole form queues: every attribute, the stamped ones included.
func TestSubmitCompactEqualsWhole(t *testing.T) {
	logDir := t.TempDir()
	for _, tc := range []struct {
		name  string
		n     int
		attrs map[string]string
		per   func(j int) map[string]string
	}{
		{"plain", 5, map[string]string{"EC2AmiID": `"ami-1"`, "PeriodicHold": "JobStatus == 2 && time() > 5"}, nil},
		{"per-job key file", 4, nil, func(j int) map[string]string {
			return map[string]string{"EC2KeyPairFile": fmt.Sprintf(`"/k/%d.pem"`, j)}
		}},
		{"one job", 1, map[string]string{"Args": `"a b"`}, nil},
		{"all held", 3, map[string]string{"JobStatus": "5", "HoldReason": `"wait"`}, nil},
		{"some held", 4, nil, func(j int) map[string]string {
			if j%2 == 1 {
				return map[string]string{"JobStatus": "5"}
			}
			return nil
		}},
		{"held but one", 3, map[string]string{"JobStatus": "5", "HoldReason": `"wait"`}, func(j int) map[string]string {
			if j == 1 {
				return map[string]string{"JobStatus": "1"}
			}
			return nil
		}},
		{"held for other reasons", 3, map[string]string{"JobStatus": "5"}, func(j int) map[string]string {
			return map[string]string{"HoldReason": fmt.Sprintf(`"r%d"`, j%2)}
		}},
		{"forged owner and protected attributes", 3, map[string]string{"Owner": `"mallory"`, "GlobalJobId": `"x"`, "QDate": "1"}, nil},
		{"user log", 3, map[string]string{"UserLog": fmt.Sprintf("%q", logDir+"/l.log")}, nil},
		{"differing spelling", 2, nil, func(j int) map[string]string {
			if j == 0 {
				return map[string]string{"Foo": "1"}
			}
			return map[string]string{"FOO": "1"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			read := func(compact bool) []string {
				f := newFixture(t)
				ads := clusterOf(t, tc.n, tc.attrs, tc.per)
				req := &SubmitRequest{}
				if compact {
					req.AddCluster(ads)
					if len(req.Common) != 1 || len(req.Clusters[0]) != tc.n {
						t.Fatalf("AddCluster made %d common entries, %d jobs", len(req.Common), len(req.Clusters[0]))
					}
				} else {
					req.Clusters = [][]string{nil}
					for _, ad := range ads {
						req.Clusters[0] = append(req.Clusters[0], ad.MarshalLong())
					}
				}
				if _, err := f.client(alice).Submit(ctx, req); err != nil {
					t.Fatal(err)
				}
				got, err := f.store.Query(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				out := make([]string, len(got))
				for i, ad := range got {
					out[i] = ad.Flatten().MarshalLong()
				}
				return out
			}
			whole, compact := read(false), read(true)
			if len(whole) != tc.n || len(compact) != tc.n {
				t.Fatalf("queued %d and %d jobs, want %d", len(whole), len(compact), tc.n)
			}
			for j := range whole {
				if whole[j] != compact[j] {
					t.Errorf("job %d:\nwhole:\n%s\ncompact:\n%s", j, whole[j], compact[j])
				}
			}
			if strings.Contains(strings.Join(compact, ""), "mallory") {
				t.Error("a forged Owner reached the queue")
			}
		})
	}
}

// The compact request is a small fraction of the whole one for a cluster of alike jobs.
func TestEncodeClusterSize(t *testing.T) {
	ads := clusterOf(t, 100, map[string]string{"EC2AmiID": `"ami-1"`, "PeriodicHold": "JobStatus == 2"}, func(j int) map[string]string {
		return map[string]string{"EC2KeyPairFile": fmt.Sprintf(`"/k/%d.pem"`, j)}
	})
	common, own := EncodeCluster(ads)
	whole := 0
	for _, ad := range ads {
		whole += len(ad.MarshalLong())
	}
	compact := len(common)
	for j, o := range own {
		compact += len(o)
		if !strings.Contains(o, fmt.Sprintf("ProcId = %d\n", j)) || !strings.Contains(o, fmt.Sprintf(`"/k/%d.pem"`, j)) {
			t.Fatalf("own[%d] = %q lacks the job's own attributes", j, o)
		}
		if strings.Contains(o, "ami-1") {
			t.Fatalf("own[%d] = %q repeats a common attribute", j, o)
		}
	}
	if compact*3 > whole {
		t.Errorf("compact form %d bytes for %d of whole ads", compact, whole)
	}
}

func TestSubmitCompactBadRequests(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name, body, want string
	}{
		{"common count", `{"clusters":[["A = 1"],["A = 2"]],"common":["B = 1"]}`, "1 common entries for 2 clusters"},
		{"bad common", `{"clusters":[["A = 1"]],"common":["B = ("]}`, "cluster 1, common attributes"},
		{"bad job", `{"clusters":[["A = 1","A = )"]],"common":["B = 1"]}`, "cluster 1, job 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.raw(&alice, "POST", PathSubmit, tc.body)
			if rec.Code != 400 || !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("got %d %s, want 400 with %q", rec.Code, rec.Body, tc.want)
			}
		})
	}
	if all, _ := f.store.Query(context.Background(), nil); len(all) != 0 {
		t.Errorf("a bad request queued %d jobs", len(all))
	}
}

// A job's own attributes override its cluster's common ones, status requests included:
// a job idle in a held cluster keeps none of the cluster's hold attributes.
func TestSubmitCompactOverrides(t *testing.T) {
	f := newFixture(t)
	body := `{"clusters":[["ProcId = 0\n","ProcId = 1\nJobStatus = 1\nCmd = \"/bin/other\"\n","HoldReason = \"mine\"\n"]],` +
		`"common":["Cmd = \"/bin/true\"\nJobStatus = 5\nHoldReason = \"wait\"\nOwner = \"mallory\"\n"]}`
	if rec := f.raw(&alice, "POST", PathSubmit, body); rec.Code != 200 {
		t.Fatalf("submit: %d %s", rec.Code, rec.Body)
	}
	for _, tc := range []struct {
		proc         int64
		status       int64
		reason, cmd  string
		hasHoldAttrs bool
	}{
		{0, 5, "wait", "/bin/true", true},
		{1, 1, "", "/bin/other", false},
		{2, 5, "mine", "/bin/true", true},
	} {
		ad := f.get(1, tc.proc)
		st, _ := ad.EvalAttr("JobStatus").IntValue()
		reason, _ := ad.EvalAttr("HoldReason").StringValue()
		cmd, _ := ad.EvalAttr("Cmd").StringValue()
		owner, _ := ad.EvalAttr("Owner").StringValue()
		_, hasCode := ad.Lookup("HoldReasonCode")
		if st != tc.status || reason != tc.reason || cmd != tc.cmd || owner != "alice" || hasCode != tc.hasHoldAttrs {
			t.Errorf("job 1.%d: JobStatus %d HoldReason %q Cmd %q Owner %q HoldReasonCode set %v; want %d %q %q alice %v",
				tc.proc, st, reason, cmd, owner, hasCode, tc.status, tc.reason, tc.cmd, tc.hasHoldAttrs)
		}
	}
}
