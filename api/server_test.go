package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/jobs"
	"github.com/ec2grid/ec2grid/userlog"
)

// The callers the tests inject.
var (
	alice = Peer{UID: 1001, GID: 1001, PID: 11, User: "alice"}
	bob   = Peer{UID: 1002, GID: 1002, PID: 12, User: "bob"}
	carol = Peer{UID: 1003, GID: 1003, PID: 13, User: "carol"} // a queue super user
	root  = Peer{UID: 0, GID: 0, PID: 1, User: "root"}
)

// testNow is the servers' clock.
var testNow = time.Unix(1_700_000_000, 0)

// fixture is a server over a memory store, reachable as several callers.
type fixture struct {
	t       *testing.T
	store   jobs.Store
	srv     *Server
	dir     string
	stopped chan struct{}
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, store: jobs.NewMemory(), dir: t.TempDir(), stopped: make(chan struct{}, 1)}
	t.Cleanup(func() { f.store.Close() })
	srv, err := NewServer(ServerConfig{
		Store:           f.store,
		QueueSuperUsers: []string{"carol"},
		Home:            "/home/alice/.ec2grid",
		Socket:          "/home/alice/.ec2grid/daemon.sock",
		Version:         "test",
		PID:             4242,
		Started:         testNow.Add(-90 * time.Second),
		DaemonUID:       alice.UID,
		Host:            "submit.example.com",
		Now:             func() time.Time { return testNow },
		Stop:            func() { f.stopped <- struct{}{} },
		UserLog:         userlog.WriterOptions{UTC: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	return f
}

// client returns a Client whose requests reach the server as peer, over a real Unix
// socket whose credentials are replaced by peer.
func (f *fixture) client(peer Peer) *Client {
	f.t.Helper()
	sock := filepath.Join(f.dir, fmt.Sprintf("s%d.sock", peer.UID))
	if _, err := os.Stat(sock); err == nil {
		return NewClient(sock)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		f.t.Fatal(err)
	}
	hs := &http.Server{Handler: f.srv, ConnContext: func(ctx context.Context, _ net.Conn) context.Context { return WithPeer(ctx, peer) }}
	go hs.Serve(ln)
	f.t.Cleanup(func() { hs.Close() })
	c := NewClient(sock)
	f.t.Cleanup(c.Close)
	return c
}

// raw sends body to path as peer through the handler and returns the reply.
func (f *fixture) raw(peer *Peer, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if peer != nil {
		req = req.WithContext(WithPeer(req.Context(), *peer))
	}
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	return rec
}

// jobAd returns a job ad in long form as condor_submit builds it.
func jobAd(t *testing.T, attrs map[string]string) string {
	t.Helper()
	ad := classad.New()
	ad.SetString("Cmd", "ec2-test")
	ad.SetInt("JobUniverse", 9)
	ad.SetString("GridResource", "ec2 https://ec2.example.com/")
	ad.SetInt("JobStatus", 1)
	for k, v := range attrs {
		if err := ad.SetExpr(k, v); err != nil {
			t.Fatalf("%s = %s: %v", k, v, err)
		}
	}
	return ad.MarshalLong()
}

func ads(t *testing.T, n int, attrs map[string]string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = jobAd(t, attrs)
	}
	return out
}

// submit submits one cluster of n plain jobs as peer and returns its id.
func (f *fixture) submit(peer Peer, n int, attrs map[string]string) int64 {
	f.t.Helper()
	resp, err := f.client(peer).Submit(context.Background(), &SubmitRequest{Clusters: [][]string{ads(f.t, n, attrs)}})
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.Clusters[0].Cluster
}

func (f *fixture) get(c, p int64) *classad.ClassAd {
	f.t.Helper()
	ad, err := f.store.Get(context.Background(), jobs.JobID{Cluster: c, Proc: p})
	if err != nil {
		f.t.Fatal(err)
	}
	return ad
}

func str(ad *classad.ClassAd, name string) string {
	s, _ := ad.EvalAttr(name).StringValue()
	return s
}

func num(ad *classad.ClassAd, name string) int64 {
	n, _ := ad.EvalAttr(name).IntValue()
	return n
}

func apiErr(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *api.Error", err, err)
	}
	return e
}

func TestRoutesAndBadRequests(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name         string
		peer         *Peer
		method, path string
		body         string
		status       int
		code         string
		msg          string
	}{
		{"unknown path", &alice, "GET", "/v2/ping", "", 404, CodeNotFound, "no such API path"},
		{"ping by POST", &alice, "POST", PathPing, "{}", 405, CodeBadRequest, "takes GET"},
		{"submit by GET", &alice, "GET", PathSubmit, "", 405, CodeBadRequest, "takes POST"},
		{"no peer", nil, "GET", PathPing, "", 403, CodeForbidden, "cannot identify the caller"},
		{"empty body", &alice, "POST", PathSubmit, "", 400, CodeBadRequest, "empty body"},
		{"not JSON", &alice, "POST", PathSubmit, "clusters", 400, CodeBadRequest, "bad request body"},
		{"unknown field", &alice, "POST", PathSubmit, `{"clusterz":[]}`, 400, CodeBadRequest, "unknown field"},
		{"trailing data", &alice, "POST", PathQuery, `{} {}`, 400, CodeBadRequest, "after the JSON value"},
		{"wrong type", &alice, "POST", PathAct, `{"action":1}`, 400, CodeBadRequest, "bad request body"},
		{"no clusters", &alice, "POST", PathSubmit, `{"clusters":[]}`, 400, CodeBadRequest, "no clusters"},
		{"empty cluster", &alice, "POST", PathSubmit, `{"clusters":[["Cmd = \"x\""],[]]}`, 400, CodeBadRequest, "cluster 2 of the request has no jobs"},
		{"bad ad", &alice, "POST", PathSubmit, `{"clusters":[["Cmd = \"x\"","Cmd = = 1"]]}`, 400, CodeBadRequest, "cluster 1, job 1"},
		{"bad constraint", &alice, "POST", PathQuery, `{"constraint":"Owner =="}`, 400, CodeBadRequest, "is not a ClassAd expression"},
		{"bad id", &alice, "POST", PathQuery, `{"ids":["12.x"]}`, 400, CodeBadRequest, `bad job id "12.x"`},
		{"negative limit", &alice, "POST", PathQuery, `{"limit":-1}`, 400, CodeBadRequest, "negative"},
		{"bad action", &alice, "POST", PathAct, `{"action":"vacate","all":true}`, 400, CodeBadRequest, `unknown action "vacate"`},
		{"act without jobs", &alice, "POST", PathAct, `{"action":"hold"}`, 400, CodeBadRequest, "no jobs named"},
		{"act all and ids", &alice, "POST", PathAct, `{"action":"hold","all":true,"ids":["1"]}`, 400, CodeBadRequest, "cannot be combined"},
		{"act bad id", &alice, "POST", PathAct, `{"action":"hold","ids":["-3"]}`, 400, CodeBadRequest, "bad job id"},
		{"act bad constraint", &alice, "POST", PathAct, `{"action":"hold","constraint":"(("}`, 400, CodeBadRequest, "not a ClassAd expression"},
		{"edit no attr", &alice, "POST", PathEdit, `{"ids":["1.0"],"value":"1"}`, 400, CodeBadRequest, "no attribute"},
		{"edit bad attr", &alice, "POST", PathEdit, `{"ids":["1.0"],"attr":"a b","value":"1"}`, 400, CodeBadRequest, "not an attribute name"},
		{"edit bad value", &alice, "POST", PathEdit, `{"ids":["1.0"],"attr":"PeriodicHold","value":"JobStatus =="}`, 400, CodeBadRequest, "the value for PeriodicHold"},
		{"edit no jobs", &alice, "POST", PathEdit, `{"attr":"Foo","value":"1"}`, 400, CodeBadRequest, "no jobs named"},
		{"edit protected", &alice, "POST", PathEdit, `{"ids":["1.0"],"attr":"jobstatus","value":"2"}`, 403, CodeForbidden, "belongs to the queue"},
		{"edit own prefix", &alice, "POST", PathEdit, `{"ids":["1.0"],"attr":"EC2GridAnything","value":"2"}`, 403, CodeForbidden, "belongs to the queue"},
		{"stop by other", &bob, "POST", PathStop, `{}`, 403, CodeForbidden, "may not stop"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.raw(tc.peer, tc.method, tc.path, tc.body)
			var eb ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil {
				t.Fatalf("reply %q: %v", rec.Body, err)
			}
			if rec.Code != tc.status || eb.Code != tc.code || !strings.Contains(eb.Error, tc.msg) {
				t.Errorf("got %d %s %q, want %d %s containing %q", rec.Code, eb.Code, eb.Error, tc.status, tc.code, tc.msg)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	f := newFixture(t)
	body := `{"constraint":"` + strings.Repeat(" ", MaxRequestBody) + `true"}`
	rec := f.raw(&alice, "POST", PathQuery, body)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "over the limit of 16 MiB") {
		t.Errorf("oversize body: %d %s", rec.Code, rec.Body)
	}
}

func TestPingNextClusterStop(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.client(alice)
	f.submit(alice, 3, nil)
	p, err := c.Ping(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != "test" || p.PID != 4242 || p.Jobs != 3 || p.Uptime != "1m30s" || p.Socket != "/home/alice/.ec2grid/daemon.sock" || !p.Started.Equal(testNow.Add(-90*time.Second)) {
		t.Errorf("ping = %+v", p)
	}
	if n, err := c.NextCluster(ctx); err != nil || n != 2 {
		t.Errorf("NextCluster = %d, %v; want 2", n, err)
	}
	if err := f.client(bob).Stop(ctx); apiErr(t, err).Code != CodeForbidden {
		t.Errorf("bob stopped alice's daemon: %v", err)
	}
	select {
	case <-f.stopped:
		t.Fatal("Stop called for a refused request")
	default:
	}
	for _, who := range []Peer{alice, root} {
		if err := f.client(who).Stop(ctx); err != nil {
			t.Fatalf("%s: stop: %v", who.User, err)
		}
		select {
		case <-f.stopped:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: Stop not called", who.User)
		}
	}
}

func TestSubmitStampsIdentity(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	forged := map[string]string{
		"Owner": `"root"`, "User": `"root@elsewhere"`, "QDate": "5", "GlobalJobId": `"x#1.0#5"`,
		"GridJobId": `"ec2 https://ec2.example.com/ tok i-123"`, "NumHolds": "7", "JobStatus": "2",
		"EC2GridSubmitLogPending": "true",
	}
	resp, err := f.client(bob).Submit(ctx, &SubmitRequest{Clusters: [][]string{ads(t, 2, forged), ads(t, 1, map[string]string{"JobStatus": "5", "HoldReasonCode": "15"})}})
	if err != nil {
		t.Fatal(err)
	}
	want := []SubmittedCluster{{Cluster: 1, Procs: 2}, {Cluster: 2, Procs: 1}}
	if fmt.Sprint(resp.Clusters) != fmt.Sprint(want) {
		t.Fatalf("clusters = %v, want %v", resp.Clusters, want)
	}
	for p := int64(0); p < 2; p++ {
		ad := f.get(1, p)
		for name, want := range map[string]string{
			"Owner": "bob", "User": "bob@submit.example.com",
			"GlobalJobId": fmt.Sprintf("submit.example.com#1.%d#1700000000", p),
		} {
			if got := str(ad, name); got != want {
				t.Errorf("1.%d %s = %q, want %q", p, name, got, want)
			}
		}
		for name, want := range map[string]int64{"QDate": 1_700_000_000, "EnteredCurrentStatus": 1_700_000_000, "JobStatus": 1, "ClusterId": 1, "ProcId": p} {
			if got := num(ad, name); got != want {
				t.Errorf("1.%d %s = %d, want %d", p, name, got, want)
			}
		}
		for _, gone := range []string{"GridJobId", "NumHolds", AttrSubmitLogPending} {
			if _, ok := ad.Lookup(gone); ok {
				t.Errorf("1.%d keeps the submitted %s", p, gone)
			}
		}
	}
	held := f.get(2, 0)
	if num(held, "JobStatus") != 5 || num(held, "HoldReasonCode") != 15 || str(held, "HoldReason") != "submitted on hold at user's request" {
		t.Errorf("held submit: %s", held)
	}
}

func TestSubmitRaceAndKeys(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.client(alice)
	two := [][]string{ads(t, 2, nil), ads(t, 3, nil)}

	// The ads were built for cluster 1 and 2, and nobody came first.
	resp, err := c.Submit(ctx, &SubmitRequest{SubmitKey: "k1", ExpectCluster: 1, Clusters: two})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(resp.Clusters) != "[{1 2} {2 3}]" {
		t.Fatalf("clusters = %v", resp.Clusters)
	}
	// A retry with the same key returns the same clusters, adds nothing, and is not a
	// conflict even though its expected cluster is taken now.
	again, err := c.Submit(ctx, &SubmitRequest{SubmitKey: "k1", ExpectCluster: 1, Clusters: two})
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if fmt.Sprint(again.Clusters) != fmt.Sprint(resp.Clusters) {
		t.Errorf("retry clusters = %v, want %v", again.Clusters, resp.Clusters)
	}
	if all, _ := f.store.Query(ctx, nil); len(all) != 5 {
		t.Errorf("%d jobs after a retried submit, want 5", len(all))
	}
	// Another submit built for cluster 2 lost the race: 409 with the next cluster.
	_, err = c.Submit(ctx, &SubmitRequest{SubmitKey: "k2", ExpectCluster: 2, Clusters: two[:1]})
	e := apiErr(t, err)
	if e.HTTPStatus != http.StatusConflict || e.Code != CodeConflict || e.NextCluster != 3 {
		t.Errorf("race: %+v", e)
	}
	if all, _ := f.store.Query(ctx, nil); len(all) != 5 {
		t.Errorf("%d jobs after a conflict, want 5", len(all))
	}
	// Rebuilt for 3, it goes in.
	if resp, err := c.Submit(ctx, &SubmitRequest{SubmitKey: "k2", ExpectCluster: 3, Clusters: two[:1]}); err != nil || resp.Clusters[0].Cluster != 3 {
		t.Errorf("rebuilt submit: %v, %v", resp, err)
	}
	// A partial earlier attempt (its first cluster committed under key k3/0): the retry
	// finds cluster 0 by key and checks cluster 1 against the next id.
	if _, err := f.store.SubmitCluster(ctx, "k3/0", []*classad.ClassAd{classad.New()}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Submit(ctx, &SubmitRequest{SubmitKey: "k3", ExpectCluster: 7, Clusters: two})
	if e := apiErr(t, err); e.Code != CodeConflict || e.NextCluster != 4 {
		t.Errorf("partial retry with a stale id: %+v, want next_cluster 4 (so cluster 1 lands on 5)", e)
	}
	resp, err = c.Submit(ctx, &SubmitRequest{SubmitKey: "k3", ExpectCluster: 4, Clusters: two})
	if err != nil || fmt.Sprint(resp.Clusters) != "[{4 2} {5 3}]" {
		t.Errorf("partial retry: %v, %v", resp, err)
	}
	// ExpectCluster 0 does not care.
	if _, err := c.Submit(ctx, &SubmitRequest{Clusters: two[:1]}); err != nil {
		t.Errorf("no expectation: %v", err)
	}
}

// Concurrent submits with the same key make one cluster.
func TestSubmitKeyConcurrent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.client(alice)
	var wg sync.WaitGroup
	got := make([]int64, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Submit(ctx, &SubmitRequest{SubmitKey: "same", Clusters: [][]string{ads(t, 2, nil)}})
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = resp.Clusters[0].Cluster
		}()
	}
	wg.Wait()
	for _, g := range got {
		if g != got[0] {
			t.Errorf("clusters %v differ", got)
		}
	}
	if all, _ := f.store.Query(ctx, nil); len(all) != 2 {
		t.Errorf("%d jobs, want 2", len(all))
	}
}

func TestQuery(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.client(bob)
	f.submit(alice, 3, map[string]string{"Mem": "10"})
	f.submit(bob, 2, map[string]string{"Mem": "20"})
	f.submit(alice, 1, map[string]string{"Mem": "30"})
	ids := func(ads []*classad.ClassAd) string {
		var s []string
		for _, ad := range ads {
			s = append(s, jobs.ID(ad).String())
		}
		return strings.Join(s, " ")
	}
	for _, tc := range []struct {
		name string
		req  QueryRequest
		want string
	}{
		{"all", QueryRequest{}, "1.0 1.1 1.2 2.0 2.1 3.0"},
		{"constraint", QueryRequest{Constraint: "Mem >= 20"}, "2.0 2.1 3.0"},
		{"owner", QueryRequest{Owner: "alice"}, "1.0 1.1 1.2 3.0"},
		{"ids", QueryRequest{IDs: []string{"2", "1.1"}}, "1.1 2.0 2.1"},
		{"ids and constraint", QueryRequest{IDs: []string{"1", "3"}, Constraint: "Mem > 10"}, "3.0"},
		{"owner and constraint", QueryRequest{Owner: "alice", Constraint: "Mem < 30"}, "1.0 1.1 1.2"},
		{"limit", QueryRequest{Limit: 2}, "1.0 1.1"},
		{"none", QueryRequest{Constraint: "false"}, ""},
		{"quote in owner", QueryRequest{Owner: `a"b`}, ""},
	} {
		got, err := c.Query(ctx, &tc.req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if ids(got) != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, ids(got), tc.want)
		}
	}
	// Projection keeps the ids and ServerTime; without one, the whole ad comes back
	// with expressions exact.
	got, err := c.Query(ctx, &QueryRequest{IDs: []string{"2.1"}, Projection: []string{"mem", "NoSuch"}})
	if err != nil || len(got) != 1 {
		t.Fatalf("projection: %v %v", got, err)
	}
	names := got[0].Names()
	if strings.Join(names, ",") != "ClusterId,Mem,ProcId,ServerTime" {
		t.Errorf("projected names = %v", names)
	}
	if num(got[0], "ServerTime") != testNow.Unix() {
		t.Errorf("ServerTime = %s", got[0].EvalAttr("ServerTime"))
	}
	if err := f.store.Update(ctx, jobs.JobID{Cluster: 1, Proc: 0}, []jobs.Change{{Name: "PeriodicHold", Expr: classad.MustParseExpr("(JobStatus == 2) && (time() - EnteredCurrentStatus > 3600)")}}, jobs.Durable); err != nil {
		t.Fatal(err)
	}
	got, _ = c.Query(ctx, &QueryRequest{IDs: []string{"1.0"}})
	if e, ok := got[0].Lookup("PeriodicHold"); !ok || classad.Unparse(e) != "(JobStatus == 2) && (time() - EnteredCurrentStatus > 3600)" {
		t.Errorf("PeriodicHold came back as %v", e)
	}
	// History: newest first, with a limit, and no ServerTime.
	for _, id := range []jobs.JobID{{Cluster: 1, Proc: 1}, {Cluster: 2, Proc: 0}, {Cluster: 3, Proc: 0}} {
		if err := f.store.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	h, err := c.Query(ctx, &QueryRequest{History: true, Limit: 2})
	if err != nil || ids(h) != "3.0 2.0" {
		t.Errorf("history = %q, %v", ids(h), err)
	}
	if _, ok := h[0].Lookup("ServerTime"); ok {
		t.Error("history ad has ServerTime")
	}
	if h, _ := c.Query(ctx, &QueryRequest{History: true, Owner: "alice"}); ids(h) != "3.0 1.1" {
		t.Errorf("alice's history = %q", ids(h))
	}
}

// A reply of many ads is streamed in chunks and parsed in parallel; order and content
// must survive both.
func TestQueryManyAds(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	n := 3*queryChunk + 17
	c := f.client(alice)
	resp, err := c.Submit(ctx, &SubmitRequest{Clusters: [][]string{ads(t, n, map[string]string{"Note": `"tab\there \"quoted\" and ünïcode"`})}})
	if err != nil || resp.Clusters[0].Procs != n {
		t.Fatalf("submit: %v %v", resp, err)
	}
	got, err := c.Query(ctx, &QueryRequest{Projection: []string{"Note"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d ads, want %d", len(got), n)
	}
	for i, ad := range got {
		if jobs.ProcID(ad) != int64(i) || str(ad, "Note") != `tab\there "quoted" and ünïcode` {
			t.Fatalf("ad %d: %s", i, ad)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", "a\"b\\c", "line\nnext\r\ttab", "\x00\x01\x1f", "ünï ☃ 😀", "bad \xff utf8", "\u2028"} {
		var back string
		b := appendJSONString(nil, s)
		if err := json.Unmarshal(b, &back); err != nil {
			t.Errorf("%q: %s does not decode: %v", s, b, err)
			continue
		}
		want, _ := json.Marshal(s)
		var wantBack string
		json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("%q: round trip %q, encoding/json gives %q", s, back, wantBack)
		}
	}
}

func TestActAuthorization(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		peer    Peer
		req     ActRequest
		results string // "ID:status ..."
		matched int
	}{
		{"own job", alice, ActRequest{Action: ActionHold, IDs: []string{"1.0"}}, "1.0:done", 1},
		{"other's job by id", bob, ActRequest{Action: ActionHold, IDs: []string{"1.0"}}, "1.0:forbidden", 0},
		{"other's cluster by id", bob, ActRequest{Action: ActionRemove, IDs: []string{"1"}}, "1.0:forbidden 1.1:forbidden", 0},
		{"missing job", alice, ActRequest{Action: ActionHold, IDs: []string{"1.5", "9"}}, "1.5:not_found 9:not_found", 0},
		{"root may", root, ActRequest{Action: ActionHold, IDs: []string{"1.1"}}, "1.1:done", 1},
		{"super user may", carol, ActRequest{Action: ActionRemove, IDs: []string{"2.0"}}, "2.0:done", 1},
		{"all skips others' jobs", bob, ActRequest{Action: ActionHold, All: true}, "2.0:done", 1},
		{"user selector skips what it may not touch", bob, ActRequest{Action: ActionHold, Users: []string{"alice", "bob"}}, "2.0:done", 1},
		{"constraint selector", alice, ActRequest{Action: ActionRemove, Constraint: "ProcId == 1"}, "1.1:done", 1},
		{"selector and id once each", alice, ActRequest{Action: ActionHold, IDs: []string{"1.0"}, Users: []string{"alice"}}, "1.0:done 1.1:done", 2},
		{"super user all", carol, ActRequest{Action: ActionHold, All: true}, "1.0:done 1.1:done 2.0:done", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.submit(alice, 2, nil)
			f.submit(bob, 1, nil)
			resp, err := f.client(tc.peer).Act(ctx, &tc.req)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range resp.Results {
				got = append(got, r.ID+":"+r.Status)
			}
			if strings.Join(got, " ") != tc.results || resp.Matched != tc.matched {
				t.Errorf("results %q matched %d, want %q matched %d (%+v)", strings.Join(got, " "), resp.Matched, tc.results, tc.matched, resp.Results)
			}
			// Refused and skipped jobs are unchanged.
			for _, r := range resp.Results {
				if r.Status == StatusForbidden {
					var c, p int64
					fmt.Sscanf(r.ID, "%d.%d", &c, &p)
					if s := jobs.Status(f.get(c, p)); s != jobs.StatusIdle {
						t.Errorf("forbidden job %s has status %d", r.ID, s)
					}
				}
			}
		})
	}
}

func TestActTransitions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	logPath := filepath.Join(f.dir, "job.log")
	cl := f.submit(alice, 2, map[string]string{"UserLog": fmt.Sprintf("%q", logPath)})
	c := f.client(alice)
	act := func(req ActRequest) ActResult {
		t.Helper()
		resp, err := c.Act(ctx, &req)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Results) != 1 {
			t.Fatalf("%+v", resp)
		}
		return resp.Results[0]
	}
	id := fmt.Sprintf("%d.0", cl)
	if r := act(ActRequest{Action: ActionRelease, IDs: []string{id}}); r.Status != StatusBadStatus {
		t.Errorf("release of an idle job: %+v", r)
	}
	if r := act(ActRequest{Action: ActionHold, IDs: []string{id}, HoldSubCode: 42}); r.Status != StatusDone {
		t.Errorf("hold: %+v", r)
	}
	ad := f.get(cl, 0)
	if str(ad, "HoldReason") != "via condor_hold (by user alice)" || num(ad, "HoldReasonCode") != 1 || num(ad, "HoldReasonSubCode") != 42 || num(ad, "JobStatus") != 5 {
		t.Errorf("after hold: %s", ad)
	}
	if r := act(ActRequest{Action: ActionHold, IDs: []string{id}}); r.Status != StatusBadStatus || !strings.Contains(r.Error, "already held") {
		t.Errorf("second hold: %+v", r)
	}
	if r := act(ActRequest{Action: ActionRelease, IDs: []string{id}, Reason: "fixed it"}); r.Status != StatusDone {
		t.Errorf("release: %+v", r)
	}
	ad = f.get(cl, 0)
	if str(ad, "ReleaseReason") != "fixed it (by user alice)" || num(ad, "JobStatus") != 1 || str(ad, "LastHoldReason") != "via condor_hold (by user alice)" {
		t.Errorf("after release: %s", ad)
	}
	if r := act(ActRequest{Action: ActionRemoveX, IDs: []string{id}}); r.Status != StatusBadStatus {
		t.Errorf("forcex of an idle job: %+v", r)
	}
	if r := act(ActRequest{Action: ActionRemove, IDs: []string{id}}); r.Status != StatusDone {
		t.Errorf("remove: %+v", r)
	}
	if ad = f.get(cl, 0); str(ad, "RemoveReason") != "via condor_rm (by user alice)" || num(ad, "JobStatus") != 3 {
		t.Errorf("after remove: %s", ad)
	}
	if r := act(ActRequest{Action: ActionRemove, IDs: []string{id}}); r.Status != StatusBadStatus || !strings.Contains(r.Error, "already marked for removal") {
		t.Errorf("second remove: %+v", r)
	}
	if r := act(ActRequest{Action: ActionRemoveX, IDs: []string{id}}); r.Status != StatusDone {
		t.Errorf("forcex: %+v", r)
	}
	if _, err := f.store.Get(ctx, jobs.JobID{Cluster: cl, Proc: 0}); !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("forcex left the job queued: %v", err)
	}
	if h, _ := f.store.History(ctx, nil, 0); len(h) != 1 || jobs.ID(h[0]) != (jobs.JobID{Cluster: cl, Proc: 0}) {
		t.Errorf("history after forcex: %v", h)
	}
	// The log: 000 for both jobs, then 013 for the release.
	got := readLog(t, logPath)
	if want := fmt.Sprintf("000 %[1]d.0, 000 %[1]d.1, 013 %[1]d.0 fixed it (by user alice)", cl); got != want {
		t.Errorf("user log = %q, want %q", got, want)
	}
}

// readLog summarizes a user log: "NNN C.P[ reason]" per event.
func readLog(t *testing.T, path string) string {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	r := userlog.NewReader(fh, userlog.ReaderOptions{})
	var out []string
	for {
		ev, err := r.Next()
		if errors.Is(err, userlog.ErrNoEvent) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		h := ev.EventHeader()
		s := fmt.Sprintf("%03d %d.%d", ev.EventNumber(), h.Cluster, h.Proc)
		if rel, ok := ev.(*userlog.ReleasedEvent); ok {
			s += " " + rel.Reason
		}
		if sub, ok := ev.(*userlog.SubmitEvent); ok && sub.SubmitHost != "<unix:/home/alice/.ec2grid/daemon.sock>" {
			s += " host " + sub.SubmitHost
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

func TestEdit(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.submit(alice, 2, nil)
	f.submit(bob, 1, nil)
	c := f.client(alice)
	resp, err := c.Edit(ctx, &EditRequest{IDs: []string{"1.0", "2.0", "7.0"}, Attr: "PeriodicHold", Value: "JobStatus == 2 && time() - EnteredCurrentStatus > 60"})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(resp.Results); got != "[{1.0 done } {2.0 forbidden Permission denied to edit job 2.0} {7.0 not_found Job 7.0 not found}]" {
		t.Errorf("results = %s", got)
	}
	if e, _ := f.get(1, 0).Lookup("PeriodicHold"); e == nil || classad.Unparse(e) != "JobStatus == 2 && time() - EnteredCurrentStatus > 60" {
		t.Errorf("PeriodicHold = %v", e)
	}
	if _, ok := f.get(2, 0).Lookup("PeriodicHold"); ok {
		t.Error("bob's job edited by alice")
	}
	// A constraint selects only jobs alice may touch.
	resp, err = c.Edit(ctx, &EditRequest{Constraint: "true", Attr: "Note", Value: `"hi"`})
	if err != nil || fmt.Sprint(resp.Results) != "[{1.0 done } {1.1 done }]" {
		t.Errorf("constraint edit: %v %v", resp, err)
	}
	_, err = c.Edit(ctx, &EditRequest{IDs: []string{"1.0"}, Attr: "GridJobId", Value: `"ec2 x y"`})
	if e := apiErr(t, err); e.Code != CodeForbidden || e.HTTPStatus != http.StatusForbidden {
		t.Errorf("protected attribute: %+v", e)
	}
	// Root may edit anyone's job.
	if resp, err := f.client(root).Edit(ctx, &EditRequest{IDs: []string{"2.0"}, Attr: "Note", Value: "1"}); err != nil || resp.Results[0].Status != StatusDone {
		t.Errorf("root edit: %v %v", resp, err)
	}
}

func TestSubmitEventsAndRecovery(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	logA := filepath.Join(f.dir, "a.log")
	logB := filepath.Join(f.dir, "b.log")
	c := f.client(alice)
	_, err := c.Submit(ctx, &SubmitRequest{Clusters: [][]string{
		{jobAd(t, map[string]string{"UserLog": fmt.Sprintf("%q", logA)}), jobAd(t, map[string]string{"UserLog": fmt.Sprintf("%q", logB)}), jobAd(t, nil)},
		{jobAd(t, map[string]string{"UserLog": `"relative.log"`})},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := readLog(t, logA); got != "000 1.0" {
		t.Errorf("log a = %q", got)
	}
	if got := readLog(t, logB); got != "000 1.1" {
		t.Errorf("log b = %q", got)
	}
	if _, ok := f.get(1, 0).Lookup(AttrSubmitLogPending); ok {
		t.Error("the pending mark stayed after the events were written")
	}

	// A crash after the commit: a cluster still marked, with one of its three events
	// already in the log. Recovery writes the two missing ones, once.
	logC := filepath.Join(f.dir, "c.log")
	var cluster []*classad.ClassAd
	for range 3 {
		ad := classad.New()
		ad.SetString("Owner", "alice")
		ad.SetString("UserLog", logC)
		ad.SetInt("QDate", testNow.Unix())
		cluster = append(cluster, ad)
	}
	cluster[0].SetBool(AttrSubmitLogPending, true)
	cl, err := f.store.SubmitCluster(ctx, "", cluster)
	if err != nil {
		t.Fatal(err)
	}
	f.srv.writeEvents(ctx, []logEvent{{path: logC, ev: f.srv.submitEvent(cl, 1, cluster[1])}})
	// An event of the same job id at another time (an older queue's) does not count.
	old := classad.New()
	old.SetInt("QDate", testNow.Unix()-3600)
	f.srv.writeEvents(ctx, []logEvent{{path: logC, ev: f.srv.submitEvent(cl, 2, old)}})
	if err := f.srv.RecoverSubmitEvents(ctx); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("000 %[1]d.1, 000 %[1]d.2, 000 %[1]d.0, 000 %[1]d.2", cl)
	if got := readLog(t, logC); got != want {
		t.Errorf("log c after recovery = %q, want %q", got, want)
	}
	if _, ok := f.get(cl, 0).Lookup(AttrSubmitLogPending); ok {
		t.Error("the pending mark stayed after recovery")
	}
	if err := f.srv.RecoverSubmitEvents(ctx); err != nil {
		t.Fatal(err)
	}
	if got := readLog(t, logC); got != want {
		t.Errorf("a second recovery wrote again: %q", got)
	}
}

// A log that cannot be written is logged, never a failed request: the submit is
// committed.
func TestUserLogFailureDoesNotFailRequest(t *testing.T) {
	f := newFixture(t)
	resp, err := f.client(alice).Submit(context.Background(), &SubmitRequest{Clusters: [][]string{
		{jobAd(t, map[string]string{"UserLog": `"/nonexistent-dir/x/job.log"`})},
	}})
	if err != nil || len(resp.Clusters) != 1 {
		t.Fatalf("submit with an unwritable log: %v %v", resp, err)
	}
	if _, err := f.store.Get(context.Background(), jobs.JobID{Cluster: 1, Proc: 0}); err != nil {
		t.Error(err)
	}
}

func TestClientNotRunning(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	_, err := NewClient(sock).Ping(context.Background())
	if !errors.Is(err, ErrNotRunning) {
		t.Fatalf("err = %v, want ErrNotRunning", err)
	}
	want := "the ec2grid daemon is not running (no socket at " + sock + "). Start it with: ec2grid daemon"
	if err.Error() != want {
		t.Errorf("message %q, want %q", err.Error(), want)
	}
	// A socket file nobody listens on (a daemon that died) refuses: also not running.
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := NewClient(sock).Ping(context.Background()); !errors.Is(err, ErrNotRunning) {
		t.Errorf("stale socket: %v", err)
	}
}

// The client reports a reply without an ErrorBody (a proxy, a panic) by its status.
func TestClientPlainErrorReply(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusBadGateway)
	})}
	go hs.Serve(ln)
	defer hs.Close()
	_, err = NewClient(sock).NextCluster(context.Background())
	e := apiErr(t, err)
	if e.HTTPStatus != http.StatusBadGateway || e.Code != CodeInternal || !strings.Contains(e.Message, "boom") {
		t.Errorf("%+v", e)
	}
}

func TestProtectedAttrs(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"ClusterId", true}, {"procid", true}, {"JOBSTATUS", true}, {"GridJobId", true},
		{"Owner", true}, {"HoldReasonSubCode", true}, {"EC2GridSubmitLogPending", true},
		{"ec2gridfuture", true}, {"PeriodicHold", false}, {"EC2InstanceType", false}, {"Foo", false},
	} {
		if got := isProtected(tc.name); got != tc.want {
			t.Errorf("isProtected(%s) = %v", tc.name, got)
		}
	}
}

func TestJSONBodyShapes(t *testing.T) {
	// The wire names are the contract with other implementations: snake_case.
	b, _ := json.Marshal(SubmitRequest{SubmitKey: "k", ExpectCluster: 3, Clusters: [][]string{{"a"}}})
	if string(b) != `{"submit_key":"k","expect_cluster":3,"clusters":[["a"]]}` {
		t.Errorf("SubmitRequest = %s", b)
	}
	b, _ = json.Marshal(ErrorBody{Error: "x", Code: CodeConflict, NextCluster: 4})
	if !bytes.Equal(b, []byte(`{"error":"x","code":"conflict","next_cluster":4}`)) {
		t.Errorf("ErrorBody = %s", b)
	}
}
