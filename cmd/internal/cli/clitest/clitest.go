// Package clitest is a fake ec2grid daemon for the condor_* commands' unit tests: an
// HTTP server on a real Unix socket that records every request and answers each API
// path with a handler the test sets.
package clitest

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ec2grid/ec2grid/api"
	"github.com/ec2grid/ec2grid/classad"
)

// Request is one request the fake daemon received.
type Request struct {
	Method, Path string
	Body         []byte
}

// Decode unmarshals the request's JSON body into v, failing the test if it cannot.
func (r Request) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s body %s: %v", r.Path, r.Body, err)
	}
}

// Handler answers one request: an HTTP status and a value to send as JSON (an
// api.ErrorBody for errors), or Drop.
type Handler func(body []byte) (status int, reply any)

// Drop, as a Handler's status, closes the connection without a reply: the request
// arrived but its answer is lost, as when the daemon dies mid-call.
const Drop = -1

// Server is a fake daemon. Its guarantee: every request that reached it is in
// Requests(), in arrival order, whatever the handler answered.
type Server struct {
	Socket string
	Home   string

	mu       sync.Mutex
	requests []Request
	handlers map[string]Handler
}

// New starts a fake daemon whose socket lives in a short temporary directory (a Unix
// socket path must fit in 108 bytes, which t.TempDir() may not) and stops it when the
// test ends. Paths without a handler answer 404 "not_found".
func New(t testing.TB) *Server {
	t.Helper()
	dir, err := os.MkdirTemp("", "ctst")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &Server{Socket: filepath.Join(dir, "d.sock"), Home: dir, handlers: map[string]Handler{}}
	l, err := net.Listen("unix", s.Socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(s.serve)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("fake daemon: %v", err)
		}
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return s
}

// Handle sets the handler of an API path (api.PathQuery, ...).
func (s *Server) Handle(path string, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[path] = h
}

// Reply sets a handler that always answers 200 with reply.
func (s *Server) Reply(path string, reply any) {
	s.Handle(path, func([]byte) (int, any) { return http.StatusOK, reply })
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Only returns the requests to one path.
func (s *Server) Only(path string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// Getenv is an environment that points the commands at this server.
func (s *Server) Getenv(name string) string {
	switch name {
	case "EC2GRID_HOME":
		return s.Home
	case "EC2GRID_SOCKET":
		return s.Socket
	case "USER":
		return "alice"
	}
	return ""
}

// NoDaemonEnv is an environment whose socket does not exist, for the "not running" case.
func NoDaemonEnv(t testing.TB) func(string) string {
	dir := t.TempDir()
	return func(name string) string {
		if name == "EC2GRID_HOME" {
			return dir
		}
		return ""
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Body: body})
	h := s.handlers[r.URL.Path]
	s.mu.Unlock()
	status, reply := http.StatusNotFound, any(api.ErrorBody{Error: "no such path " + r.URL.Path, Code: api.CodeNotFound})
	if h != nil {
		status, reply = h(body)
	}
	if status == Drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(reply)
}

// Queue is a query handler answering from fixed ads (ClassAd source, "[ ... ]"): queue
// for condor_q's queries, history (in the order given, newest first) for History ones.
// It evaluates the request's constraint and applies its owner, projection and limit as
// the daemon does.
func Queue(t testing.TB, queue, history []string) Handler {
	t.Helper()
	parse := func(srcs []string) []*classad.ClassAd {
		var ads []*classad.ClassAd
		for i, s := range srcs {
			ad, err := classad.ParseAd(s)
			if err != nil {
				t.Fatalf("fixture ad %d: %v", i, err)
			}
			ads = append(ads, ad)
		}
		return ads
	}
	q, h := parse(queue), parse(history)
	return func(body []byte) (int, any) {
		var req api.QueryRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return http.StatusBadRequest, api.ErrorBody{Error: err.Error(), Code: api.CodeBadRequest}
		}
		match := classad.Literal(classad.Bool(true))
		if req.Constraint != "" {
			e, err := classad.ParseExpr(req.Constraint)
			if err != nil {
				return http.StatusBadRequest, api.ErrorBody{Error: err.Error(), Code: api.CodeBadRequest}
			}
			match = e
		}
		ads := q
		if req.History {
			ads = h
		}
		out := api.QueryResponse{Ads: []string{}}
		for _, ad := range ads {
			if ok, _ := ad.Eval(match).BoolValue(); !ok {
				continue
			}
			if owner, _ := ad.EvalAttr("Owner").StringValue(); req.Owner != "" && owner != req.Owner {
				continue
			}
			sent := ad
			if len(req.Projection) > 0 {
				sent = classad.New()
				for _, n := range append([]string{"ClusterId", "ProcId"}, req.Projection...) {
					if e, ok := ad.Lookup(n); ok {
						sent.Set(n, e)
					}
				}
			}
			out.Ads = append(out.Ads, sent.MarshalLong())
			if req.Limit > 0 && len(out.Ads) == req.Limit {
				break
			}
		}
		return http.StatusOK, out
	}
}

// Golden compares got with testdata/name.golden, or (update: the tests' -update flag)
// rewrites the file with it.
func Golden(t testing.TB, name, got string, update bool) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s\n--- got:\n%s\n--- want:\n%s", p, got, want)
	}
}
