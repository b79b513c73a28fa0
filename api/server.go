package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/ec2grid/ec2grid/jobs"
	"github.com/ec2grid/ec2grid/userlog"
)

// Request body limits. A submit carries every ad of its clusters in long form: about
// 1.5 KB per EC2 job, so MaxSubmitBody admits a single cluster of well over 100,000 jobs
// while keeping one request from exhausting the daemon's memory. Every other request is
// a few ids or an expression; MaxRequestBody still admits an explicit list of 100,000
// job ids.
const (
	MaxSubmitBody  = 256 << 20
	MaxRequestBody = 16 << 20
)

// actConcurrency bounds how many job updates an act or edit has in flight at once. Each
// durable update waits for a group commit, so running many at once lets thousands of
// jobs share each fsync (condor_rm -all over 100,000 jobs takes seconds, not minutes),
// while the bound keeps the goroutines and pending changes of one request modest.
const actConcurrency = 512

// ServerConfig is what the server needs from the daemon.
type ServerConfig struct {
	Store jobs.Store
	// QueueSuperUsers may act on every job (QUEUE_SUPER_USERS); root always may.
	QueueSuperUsers []string
	// Home and Socket are reported by ping; Socket also names the submit host in 000
	// events.
	Home, Socket string
	Version      string
	PID          int
	Started      time.Time
	// DaemonUID is the uid the daemon runs as: that user and root may stop it.
	DaemonUID int
	// Host is UID_DOMAIN (User = owner@Host) and the schedd name in GlobalJobId; empty
	// means os.Hostname().
	Host string
	// Log receives the server's log; nil discards it.
	Log *zap.Logger
	// Stop is called, in its own goroutine, after a permitted /v1/stop was answered.
	Stop func()
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AfterSubmitCommit, when set, is called after a submit's clusters are committed and
	// before its user log events are written and the reply is sent. It exists for the
	// crash test (EC2GRID_CRASH_AT=after-submit-commit), which kills the daemon there.
	AfterSubmitCommit func()
	// SubmitLogged, when set, is called with the clusters of a submit once their 000
	// events are written (or their writing has failed: it is called exactly once for
	// every committed cluster). The daemon holds back the grid manager's news of a new
	// cluster until then, so that 000 is the first event of every job's log.
	SubmitLogged func(clusters []int64)
	// UserLog configures the writers of user log events (000, 013); the zero value is
	// HTCondor's default format, fsync'd.
	UserLog userlog.WriterOptions
}

// Server answers the daemon API. Its guarantees: every request acts as the caller the
// connection's credentials name, never as a name in the body; a submit is all-or-nothing
// per cluster and idempotent by submit key; an acknowledged change is durable.
type Server struct {
	cfg   ServerConfig
	log   *zap.Logger
	now   func() time.Time
	host  string
	mux   *http.ServeMux
	super map[string]bool

	// submitMu makes "check the next cluster id, then submit" one step, so the race rule
	// (409 when another submit took the expected id) is exact.
	submitMu sync.Mutex
	// releasing is set while a releaseMemory runs; wantRelease asks route for one.
	releasing, wantRelease atomic.Bool
	// actMu serializes acts and edits: each reads a job, computes its changes and writes
	// them, and two of them on one job must not interleave.
	actMu sync.Mutex
}

// NewServer returns the API server over cfg.Store.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("api server: no job store")
	}
	s := &Server{cfg: cfg, log: cfg.Log, now: cfg.Now, host: cfg.Host, super: map[string]bool{}}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.host == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("api server: host name for UID_DOMAIN: %w", err)
		}
		s.host = h
	}
	for _, u := range cfg.QueueSuperUsers {
		s.super[u] = true
	}
	s.mux = http.NewServeMux()
	s.route(PathPing, http.MethodGet, s.ping)
	s.route(PathStop, http.MethodPost, s.stop)
	s.route(PathNextCluster, http.MethodGet, s.nextCluster)
	s.route(PathSubmit, http.MethodPost, s.submit)
	s.route(PathQuery, http.MethodPost, s.query)
	s.route(PathAct, http.MethodPost, s.act)
	s.route(PathEdit, http.MethodPost, s.edit)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, CodeNotFound, fmt.Sprintf("no such API path %s (this daemon speaks /v1/)", r.URL.Path), 0)
	})
	return s, nil
}

// NewHandler returns the API handler over cfg (NewServer without the Server).
func NewHandler(cfg ServerConfig) (http.Handler, error) {
	s, err := NewServer(cfg)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// handlerFunc is a route's handler, given the verified caller.
type handlerFunc func(w http.ResponseWriter, r *http.Request, peer Peer)

// route registers h at path for method; it checks the method and the caller first.
func (s *Server) route(path, method string, h handlerFunc) {
	s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			w.Header().Set("Allow", method)
			writeError(w, http.StatusMethodNotAllowed, CodeBadRequest, fmt.Sprintf("%s takes %s, not %s", path, method, r.Method), 0)
			return
		}
		peer, err := PeerFrom(r.Context())
		if err != nil {
			s.log.Warn("request refused: caller unknown", zap.String("path", path), zap.Error(err))
			writeError(w, http.StatusForbidden, CodeForbidden, "cannot identify the caller: "+err.Error(), 0)
			return
		}
		start := time.Now()
		h(w, r, peer)
		if s.wantRelease.CompareAndSwap(true, false) {
			s.releaseMemory()
		}
		s.log.Debug("request", zap.String("path", path), zap.Int("uid", peer.UID),
			zap.Int("pid", peer.PID), zap.Duration("took", time.Since(start)))
	})
}

// writeJSON sends v with status 200.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v) // a write error means the caller went away
}

// writeError sends an error reply.
func writeError(w http.ResponseWriter, status int, code, msg string, next int64) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(ErrorBody{Error: msg, Code: code, NextCluster: next})
}

// storeError sends the reply for a failed store call.
func (s *Server) storeError(w http.ResponseWriter, what string, err error) {
	switch {
	case errors.Is(err, jobs.ErrClosed), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, CodeUnavailable, fmt.Sprintf("%s: the daemon is shutting down or the request was cancelled: %v", what, err), 0)
	default:
		s.log.Error("store call failed", zap.String("what", what), zap.Error(err))
		writeError(w, http.StatusInternalServerError, CodeInternal, fmt.Sprintf("%s: %v", what, err), 0)
	}
}

// decode reads a JSON body of at most limit bytes into v; on failure it has replied.
func decode(w http.ResponseWriter, r *http.Request, path string, limit int64, v any) bool {
	return decodeWith(w, r, path, limit, v, nil)
}

// decodeWith is decode with a fast decoder for the body's usual shape, tried first; when
// it declines, encoding/json decodes the same bytes.
func decodeWith(w http.ResponseWriter, r *http.Request, path string, limit int64, v any, fast func([]byte) bool) bool {
	data, err := readBody(http.MaxBytesReader(w, r.Body, limit), r.ContentLength, limit)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, CodeBadRequest,
				fmt.Sprintf("%s: request body over the limit of %d MiB", path, limit>>20), 0)
			return false
		}
		writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("%s: reading the request body: %v", path, err), 0)
		return false
	}
	if fast != nil && fast(data) {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil {
		// One JSON value per body: trailing data is a client bug worth reporting.
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("unexpected data after the JSON value")
		}
	}
	if err != nil {
		if err == io.EOF {
			err = errors.New("empty body, want a JSON object")
		}
		writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("%s: bad request body: %v", path, err), 0)
		return false
	}
	return true
}

// readBody reads a whole body into one buffer sized from Content-Length when the client
// sent one, so a 100 MiB submit is not copied again each time a growing buffer doubles.
func readBody(body io.Reader, length, limit int64) ([]byte, error) {
	if length > 0 && length <= limit {
		buf := make([]byte, length)
		if _, err := io.ReadFull(body, buf); err != nil {
			return nil, err
		}
		// Content-Length is the whole body; a longer one is the server's concern
		// (net/http stops at it), so nothing more is read.
		return buf, nil
	}
	return io.ReadAll(body)
}

// mayTouch says whether peer may act on a job owned by owner: the owner, root, or a
// queue super user.
func (s *Server) mayTouch(peer Peer, owner string) bool {
	return peer.UID == 0 || (owner != "" && owner == peer.User) || s.super[peer.User]
}

func (s *Server) ping(w http.ResponseWriter, r *http.Request, _ Peer) {
	all, err := s.cfg.Store.QueryShared(r.Context(), nil)
	if err != nil {
		s.storeError(w, "ping", err)
		return
	}
	writeJSON(w, &PingResponse{
		Version: s.cfg.Version,
		PID:     s.cfg.PID,
		Home:    s.cfg.Home,
		Socket:  s.cfg.Socket,
		Started: s.cfg.Started,
		Jobs:    len(all),
		Uptime:  s.now().Sub(s.cfg.Started).Round(time.Second).String(),
	})
}

func (s *Server) stop(w http.ResponseWriter, r *http.Request, peer Peer) {
	var req StopRequest
	if r.ContentLength != 0 && !decode(w, r, PathStop, MaxRequestBody, &req) {
		return
	}
	if peer.UID != 0 && peer.UID != s.cfg.DaemonUID {
		writeError(w, http.StatusForbidden, CodeForbidden,
			fmt.Sprintf("user %s may not stop this daemon (only its own user or root)", peer.User), 0)
		return
	}
	s.log.Info("stop requested", zap.Int("uid", peer.UID), zap.Int("pid", peer.PID))
	writeJSON(w, &StopResponse{})
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	if s.cfg.Stop != nil {
		go s.cfg.Stop()
	}
}

func (s *Server) nextCluster(w http.ResponseWriter, r *http.Request, _ Peer) {
	n, err := s.cfg.Store.NextClusterID(r.Context())
	if err != nil {
		s.storeError(w, "next cluster", err)
		return
	}
	writeJSON(w, &NextClusterResponse{Cluster: n})
}

// ProtectedAttrs returns the attributes the queue and the grid manager own: condor_qedit
// refuses them (and every name starting with "EC2Grid"), and a submitted ad's values for
// them are dropped, the queue setting its own. Names compare case-insensitively, as
// ClassAd names do.
func ProtectedAttrs() []string {
	return []string{
		"ClusterId", "ProcId", "MyType", "TargetType",
		"Owner", "User", "QDate", "GlobalJobId", "ServerTime",
		"JobStatus", "LastJobStatus", "EnteredCurrentStatus", "JobStatusOnRelease",
		"HoldReason", "HoldReasonCode", "HoldReasonSubCode",
		"LastHoldReason", "LastHoldReasonCode", "LastHoldReasonSubCode",
		"NumHolds", "NumHoldsByReason", "NumSystemHolds",
		"ReleaseReason", "LastReleaseReason", "RemoveReason", "LastSuspensionTime",
		"GridJobId", "GridJobStatus", "EC2InstanceName", "EC2RemoteVirtualMachineName",
		AttrSubmitLogPending,
	}
}

// protectedPrefix: attributes named so belong to ec2grid's own bookkeeping.
const protectedPrefix = "EC2Grid"

// isProtected says whether attr is one the system owns.
func isProtected(attr string) bool {
	if len(attr) >= len(protectedPrefix) && strings.EqualFold(attr[:len(protectedPrefix)], protectedPrefix) {
		return true
	}
	return slices.ContainsFunc(ProtectedAttrs(), func(p string) bool { return strings.EqualFold(p, attr) })
}
