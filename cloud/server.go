package cloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/ec2grid/ec2grid/cloud/auth"
	"github.com/ec2grid/ec2grid/cloud/faults"
	"github.com/ec2grid/ec2grid/cloud/imds"
)

// Server tuning.
const (
	// maxRequestBytes bounds a request body. The largest legitimate request is a
	// RunInstances with 16 KiB of user data (some 22 KB base64) and a few hundred other
	// parameters; a megabyte is ample and keeps a runaway client from filling memory.
	maxRequestBytes = 1 << 20
	// defaultAPIVersion answers requests that name no Version (curl by hand): the last
	// version of the EC2 Query API and the one every current SDK sends.
	defaultAPIVersion = "2016-11-15"
	// closeGrace is how long Close lets requests in flight finish before cutting them.
	closeGrace = 5 * time.Second
	// readHeaderTimeout bounds a slow client's headers (Slowloris).
	readHeaderTimeout = 30 * time.Second
	// adminPrefix is where the fault and stats handlers live.
	adminPrefix = "/_admin/"
)

// errClosed is what Serve returns when called after Close.
var errClosed = errors.New("cloud: server closed")

// versionPattern is what a Version must look like: EC2's API versions are dates.
var versionPattern = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)

// Server is one local EC2-compatible cloud. Its guarantees: every change a client has been
// answered for is on disk (one fsync'd bbolt transaction before the answer); accounts are
// isolated; a restarted Server on the same StateDir serves the same instances, key pairs
// and tags. It is safe for concurrent use.
type Server struct {
	cfg      Config
	log      *zap.Logger
	flavor   flavor
	store    *store
	inj      *faults.Injector
	imds     *imds.Handler
	images   map[string]Image
	accounts map[string]*Account // by access key id

	// writeMu serializes every change (see mutate); mu guards mem against readers.
	writeMu sync.Mutex
	mu      sync.RWMutex
	mem     memory

	sched scheduler
	procs procTable
	ext   extensions

	base atomic.Pointer[string] // the URL clients reach this server at, for metadata endpoints

	ctx    context.Context // ends at Close; lifecycle goroutines and processes live under it
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// gate lets Close wait for requests in flight: each request holds it for reading.
	gate      sync.RWMutex
	closed    bool
	srvMu     sync.Mutex
	servers   []*http.Server
	srvClosed bool

	closeOnce sync.Once
	closeErr  error
}

// New opens (or creates) the state in cfg.StateDir and recovers it: pending instances
// resume their boot, instances whose processes died with the previous cloud are
// terminated with Server.InternalError. With no accounts configured it serves the demo
// account (EnsureDemoAccount). log may be nil.
func New(ctx context.Context, cfg Config, log *zap.Logger) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	if len(cfg.Accounts) == 0 {
		demo, err := EnsureDemoAccount(cfg.StateDir)
		if err != nil {
			return nil, err
		}
		cfg.Accounts = []Account{demo}
	}
	inj, err := faults.New(cfg.Faults, cfg.Now, rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())))
	if err != nil {
		return nil, fmt.Errorf("cloud faults: %w", err)
	}
	st, err := openStore(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		log:      log,
		flavor:   flavorNamed(cfg.Flavor),
		store:    st,
		inj:      inj,
		images:   map[string]Image{},
		accounts: map[string]*Account{},
		sched:    newScheduler(),
		procs:    newProcTable(),
	}
	for _, im := range cfg.Images {
		s.images[im.ID] = im
	}
	for i := range cfg.Accounts {
		a := cfg.Accounts[i]
		s.accounts[a.AccessKeyID] = &a
	}
	s.imds = imds.New(imdsSource{s}, cfg.Now)
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if err := s.recover(); err != nil {
		s.cancel()
		_ = st.close()
		return nil, err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.runLifecycle(s.ctx)
	}()
	for _, r := range resources {
		if r.run != nil {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				r.run(s.ctx, s)
			}()
		}
	}
	// Ending ctx closes the server, as a context should.
	go func() {
		select {
		case <-ctx.Done():
			_ = s.Close()
		case <-s.ctx.Done():
		}
	}()
	log.Info("cloud ready", zap.String("state", cfg.StateDir), zap.String("flavor", cfg.Flavor),
		zap.Int("instances", len(s.mem.byID)), zap.Int("accounts", len(cfg.Accounts)))
	return s, nil
}

// now is the server's clock, in UTC.
func (s *Server) now() time.Time { return s.cfg.Now().UTC() }

// Faults gives the fault injector, to change faults at run time.
func (s *Server) Faults() *faults.Injector { return s.inj }

// Handler serves the EC2 Query API at any path (POST form or GET query), the fault and
// stats admin endpoints under /_admin/, and the instance metadata service under
// imds.Prefix (and at /latest/ for requests naming their instance as HTTP Basic user, the
// form aws-sdk-go-v2's metadata client sends).
func (s *Server) Handler() http.Handler {
	admin := s.inj.AdminHandler()
	stats := s.inj.StatsHandler(s.statsExtra)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == adminPrefix+"faults":
			admin.ServeHTTP(w, r)
		case p == adminPrefix+"stats":
			stats.ServeHTTP(w, r)
		case strings.HasPrefix(p, imds.Prefix):
			s.imds.ServeHTTP(w, r)
		case strings.HasPrefix(p, "/latest/") && (r.Method == http.MethodGet || r.Method == http.MethodPut) &&
			!strings.Contains(r.URL.RawQuery, "Action="):
			s.imds.ServeHTTP(w, r)
		default:
			s.serveAPI(w, r)
		}
	})
}

// Serve answers on ln until Close, then returns nil. The listener's address becomes the
// base URL of the instances' metadata endpoints.
func (s *Server) Serve(ln net.Listener) error {
	base := "http://" + ln.Addr().String()
	s.base.Store(&base)
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: readHeaderTimeout,
		ErrorLog: zap.NewStdLog(s.log.Named("http"))}
	s.srvMu.Lock()
	if s.srvClosed {
		s.srvMu.Unlock()
		_ = ln.Close()
		return errClosed
	}
	s.servers = append(s.servers, srv)
	s.srvMu.Unlock()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("cloud serve: %w", err)
	}
	return nil
}

// Close stops serving (letting requests in flight finish for a moment), stops the
// lifecycle goroutines, kills every instance process and closes the state. The instances
// stay in the state as they were: a cloud reopened on it finds their processes gone and
// terminates those instances with Server.InternalError.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.srvMu.Lock()
		s.srvClosed = true
		servers := s.servers
		s.srvMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
		for _, srv := range servers {
			if err := srv.Shutdown(ctx); err != nil {
				_ = srv.Close()
			}
		}
		cancel()
		// Requests served through Handler by someone else's http.Server: wait for those
		// in flight; later ones are refused.
		s.gate.Lock()
		s.closed = true
		s.gate.Unlock()
		s.cancel()
		s.procs.killAll()
		s.wg.Wait()
		s.closeErr = s.store.close()
		s.log.Info("cloud closed")
	})
	return s.closeErr
}

// baseURL is the URL instances reach the server at.
func (s *Server) baseURL() string {
	if p := s.base.Load(); p != nil {
		return *p
	}
	return ""
}

// learnBase takes the base URL from a request when no listener gave one (a Handler
// mounted on someone else's server, such as httptest's).
func (s *Server) learnBase(r *http.Request) {
	if s.base.Load() == nil && r.Host != "" {
		base := "http://" + r.Host
		s.base.CompareAndSwap(nil, &base)
	}
}

// secret looks an access key up for auth.Verify.
func (s *Server) secret(id string) (string, bool) {
	a, ok := s.accounts[id]
	if !ok {
		return "", false
	}
	return a.SecretAccessKey, true
}

// serveAPI answers one EC2 Query API request: parse, authenticate, fault, act, answer.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	s.gate.RLock()
	defer s.gate.RUnlock()
	rq := &request{ctx: r.Context(), id: uuid.NewString(), version: defaultAPIVersion, now: s.now()}
	if s.closed {
		s.answerError(w, rq, &apiError{Code: "Unavailable", Message: "The server is shutting down.", Status: http.StatusServiceUnavailable})
		return
	}
	s.learnBase(r)

	body, p, aerr := readParams(w, r)
	if aerr != nil {
		s.answerError(w, rq, aerr)
		return
	}
	rq.params = p
	if v := p.get("Version"); v != "" {
		if !versionPattern.MatchString(v) {
			s.answerError(w, rq, clientError("NoSuchVersion", "The requested version (%s) of service AmazonEC2 does not exist", truncate(v)))
			return
		}
		rq.version = v
	}
	rq.action = p.get("Action")
	h, known := actions[rq.action]
	record := func(outcome string) {
		if known {
			s.inj.Record(rq.action, outcome)
		}
	}

	keyID, err := auth.Verify(r, body, url.Values(p), s.secret, rq.now)
	if err != nil {
		var ae *auth.Error
		if !errors.As(err, &ae) {
			ae = &auth.Error{Code: auth.CodeAuthFailure, Message: err.Error()}
		}
		s.answerError(w, rq, &apiError{Code: ae.Code, Message: ae.Message, Status: http.StatusUnauthorized})
		record("error:" + ae.Code)
		return
	}
	rq.account = s.accounts[keyID]
	switch {
	case rq.action == "":
		s.answerError(w, rq, clientError("MissingAction", "The request must contain the parameter Action"))
		return
	case !known:
		s.answerError(w, rq, clientError("InvalidAction", "The action %s is not valid for this web service.", truncate(rq.action)))
		return
	}

	if f := s.inj.Before(rq.ctx, rq.account.Name, rq.action); f != nil {
		s.answerError(w, rq, &apiError{Code: f.Code, Message: f.Message, Status: f.HTTPStatus})
		record("error:" + f.Code)
		return
	}
	if dry, aerr := p.boolean("DryRun"); aerr != nil || dry {
		if aerr == nil {
			aerr = &apiError{Code: "DryRunOperation", Message: "Request would have succeeded, but DryRun flag is set.",
				Status: http.StatusPreconditionFailed}
		}
		s.answerError(w, rq, aerr)
		record("error:" + aerr.Code)
		return
	}

	xw := &xmlWriter{prefix: s.flavor.prefix}
	if err := s.call(h, rq, xw); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			s.log.Error("action failed", zap.String("action", rq.action), zap.String("request", rq.id), zap.Error(err))
			ae = errInternal(err)
		}
		s.answerError(w, rq, ae)
		record("error:" + ae.Code)
		return
	}
	if faults.ClassOf(rq.action) != faults.NonMutating && s.inj.DropAfterAct(rq.action) {
		dropConnection(w)
		return
	}
	s.answerSuccess(w, rq, xw.b)
	record("ok")
}

// call runs a handler, turning a panic into an InternalError answer: one bad request
// must not take the cloud down.
func (s *Server) call(h handler, rq *request, w *xmlWriter) (err error) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("action panicked", zap.String("action", rq.action), zap.Any("panic", v), zap.Stack("stack"))
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return h(s, rq, w)
}

// dropConnection closes the client's connection without an answer (the "acted, then
// dropped" fault): hijack and close, or, where the protocol has no hijacking (HTTP/2),
// abort the handler, which resets the stream.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler)
}

// readParams reads the body and merges the query string's and the form body's
// parameters (query first).
func readParams(w http.ResponseWriter, r *http.Request) ([]byte, params, *apiError) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, nil, &apiError{Code: "RequestEntityTooLarge",
				Message: fmt.Sprintf("Request body larger than %d bytes.", maxRequestBytes), Status: http.StatusRequestEntityTooLarge}
		}
		return nil, nil, clientError("IncompleteSignature", "Could not read the request body: %v", err)
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, nil, clientError("MalformedQueryString", "The query string is malformed: %v", err)
	}
	if len(body) > 0 && isFormBody(r.Header.Get("Content-Type")) {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, nil, clientError("MalformedQueryString", "The request body is not a valid form: %v", err)
		}
		for k, vs := range form {
			q[k] = append(q[k], vs...)
		}
	}
	return body, params(q), nil
}

// isFormBody reports whether a body of this Content-Type carries parameters: a form, or
// no type at all (some hand-made clients send none).
func isFormBody(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// truncate shortens a client-supplied string quoted in an error message.
func truncate(s string) string {
	const maxQuoted = 128 // enough to recognise a value; a hostile one cannot bloat the answer
	if len(s) > maxQuoted {
		return s[:maxQuoted] + "…"
	}
	return s
}

// setHeaders writes the headers every answer carries.
func (s *Server) setHeaders(w http.ResponseWriter, rq *request, n int) {
	h := w.Header()
	h.Set("Content-Type", "text/xml;charset=UTF-8")
	h.Set("x-amzn-RequestId", rq.id)
	h.Set("Content-Length", fmt.Sprint(n))
	if s.flavor.serverHeader != "" {
		h.Set("Server", s.flavor.serverHeader)
	}
}

// answerSuccess writes <ActionResponse xmlns=…><requestId/>body</ActionResponse>, in
// the flavor's dress.
func (s *Server) answerSuccess(w http.ResponseWriter, rq *request, body []byte) {
	f := s.flavor
	ns := "http://ec2.amazonaws.com/doc/" + rq.version + "/"
	b := make([]byte, 0, len(body)+256)
	if f.declaration != "" {
		b = append(b, f.declaration...)
		b = append(b, '\n')
	}
	root := f.prefix + rq.action + "Response"
	b = append(b, '<')
	b = append(b, root...)
	if f.prefix != "" {
		b = append(b, " xmlns:"...)
		b = append(b, strings.TrimSuffix(f.prefix, ":")...)
	} else {
		b = append(b, " xmlns"...)
	}
	b = append(b, `="`...)
	b = append(b, ns...)
	b = append(b, `">`...)
	if f.requestID {
		b = append(b, "<requestId>"...)
		b = append(b, rq.id...)
		b = append(b, "</requestId>"...)
	}
	b = append(b, body...)
	b = append(b, "</"...)
	b = append(b, root...)
	b = append(b, '>')
	s.setHeaders(w, rq, len(b))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// answerError writes EC2's error envelope.
func (s *Server) answerError(w http.ResponseWriter, rq *request, e *apiError) {
	b := make([]byte, 0, 256+len(e.Message))
	if s.flavor.declaration != "" {
		b = append(b, s.flavor.declaration...)
		b = append(b, '\n')
	}
	b = append(b, "<Response><Errors><Error><Code>"...)
	b = appendEscaped(b, e.Code)
	b = append(b, "</Code><Message>"...)
	b = appendEscaped(b, e.Message)
	b = append(b, "</Message></Error></Errors><RequestID>"...)
	b = append(b, rq.id...)
	b = append(b, "</RequestID></Response>"...)
	s.setHeaders(w, rq, len(b))
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}

// statsExtra gives the live instance counts for /_admin/stats: by state, and by account
// and state.
func (s *Server) statsExtra() map[string]any {
	names := map[string]string{}
	for _, a := range s.accounts {
		names[a.OwnerID] = a.Name
	}
	byState := map[string]int{}
	byAccount := map[string]map[string]int{}
	s.mu.RLock()
	for owner, o := range s.mem.owners {
		name := names[owner]
		if name == "" {
			name = owner
		}
		for _, in := range o.list {
			if in.purged {
				continue
			}
			byState[in.State]++
			if byAccount[name] == nil {
				byAccount[name] = map[string]int{}
			}
			byAccount[name][in.State]++
		}
	}
	s.mu.RUnlock()
	return map[string]any{"instances": byState, "instances_by_account": byAccount}
}
