package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"syscall"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/config"
)

// parallelParseMin is the number of ads from which Query parses them on all CPUs: below
// it, starting goroutines costs more than parsing.
const parallelParseMin = 2048

// maxErrorBody bounds how much of an error reply the client reads: error bodies are one
// short JSON object, and a misbehaving server must not make the client buffer much.
const maxErrorBody = 64 << 10

// SocketPath returns EC2GRID_HOME (default ~/.ec2grid) and the daemon's socket
// (EC2GRID_SOCKET, default home/daemon.sock), both absolute; env is os.Getenv in
// production. It resolves them with config.Load, as the daemon does, so commands and the
// daemon always agree (EC2GRID_SOCKET may come from the environment or config.hcl).
func SocketPath(env func(string) string) (home, socket string, err error) {
	cfg, err := config.Load(env)
	if err != nil {
		return "", "", fmt.Errorf("ec2grid configuration: %w", err)
	}
	return cfg.Home, cfg.Socket, nil
}

// Client calls the daemon over its Unix socket. It is safe for concurrent use. Its
// errors are *Error for the daemon's error replies and *NotRunningError when no daemon
// answers at the socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client of the daemon listening on socketPath. It connects lazily,
// on the first call.
func NewClient(socketPath string) *Client {
	c := &Client{socket: socketPath}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			conn, err := d.DialContext(ctx, "unix", socketPath)
			if err != nil {
				if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
					return nil, &NotRunningError{Socket: socketPath, Err: err}
				}
				return nil, fmt.Errorf("connect to the ec2grid daemon at %s: %w", socketPath, err)
			}
			return conn, nil
		},
		DisableCompression:  true, // a local socket: compression only costs CPU
		MaxIdleConnsPerHost: 4,
	}
	c.http = &http.Client{Transport: tr}
	return c
}

// Socket is the socket path the client dials.
func (c *Client) Socket() string { return c.socket }

// Close releases the client's idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Ping asks the daemon who it is (GET /v1/ping).
func (c *Client) Ping(ctx context.Context) (*PingResponse, error) {
	var out PingResponse
	if err := c.do(ctx, http.MethodGet, PathPing, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Stop asks the daemon to shut down (POST /v1/stop); it returns once the daemon has
// accepted, before it has exited.
func (c *Client) Stop(ctx context.Context) error {
	var out StopResponse
	return c.do(ctx, http.MethodPost, PathStop, &StopRequest{}, &out)
}

// NextCluster returns the id the next submitted cluster will get (GET /v1/next-cluster).
func (c *Client) NextCluster(ctx context.Context) (int64, error) {
	var out NextClusterResponse
	if err := c.do(ctx, http.MethodGet, PathNextCluster, nil, &out); err != nil {
		return 0, err
	}
	return out.Cluster, nil
}

// Submit submits clusters (POST /v1/submit). A lost race for ExpectCluster returns an
// *Error with Code CodeConflict and NextCluster set.
func (c *Client) Submit(ctx context.Context, req *SubmitRequest) (*SubmitResponse, error) {
	var out SubmitResponse
	body := appendSubmitRequest(nil, req)
	if err := c.doRaw(ctx, http.MethodPost, PathSubmit, body, func(r io.Reader) error {
		return json.NewDecoder(r).Decode(&out)
	}); err != nil {
		return nil, err
	}
	return &out, nil
}

// QueryLong runs a query (POST /v1/query) and returns the ads in long form, unparsed.
func (c *Client) QueryLong(ctx context.Context, req *QueryRequest) ([]string, error) {
	in, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode %s request: %w", PathQuery, err)
	}
	var out QueryResponse
	err = c.doRaw(ctx, http.MethodPost, PathQuery, in, func(r io.Reader) error {
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		var ok bool
		if out, ok = fastQueryResponse(data); ok {
			return nil
		}
		return json.Unmarshal(data, &out)
	})
	if err != nil {
		return nil, err
	}
	return out.Ads, nil
}

// Query runs a query (POST /v1/query) and returns the parsed ads, in the daemon's order.
func (c *Client) Query(ctx context.Context, req *QueryRequest) ([]*classad.ClassAd, error) {
	texts, err := c.QueryLong(ctx, req)
	if err != nil {
		return nil, err
	}
	return parseAds(texts)
}

// parseAds parses the daemon's long-form ads, on all CPUs when there are many, each
// worker with a lineParser: the ads of a reply repeat most of their lines.
func parseAds(texts []string) ([]*classad.ClassAd, error) {
	ads := make([]*classad.ClassAd, len(texts))
	workers := runtime.GOMAXPROCS(0)
	if len(texts) < parallelParseMin || workers < 2 {
		workers = 1
	}
	errs := make([]error, workers)
	var wg sync.WaitGroup
	chunk := (len(texts) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(texts))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := newLineParser(nil)
			p.keepAll = true
			for i := lo; i < hi; i++ {
				pa, err := p.parse(texts[i])
				if err != nil {
					errs[w] = fmt.Errorf("ad %d of the daemon's reply: %w", i+1, err)
					return
				}
				ads[i] = pa.ad
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return ads, nil
}

// Act holds, releases or removes jobs (POST /v1/act).
func (c *Client) Act(ctx context.Context, req *ActRequest) (*ActResponse, error) {
	var out ActResponse
	if err := c.do(ctx, http.MethodPost, PathAct, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Edit sets an attribute of jobs (POST /v1/edit, condor_qedit).
func (c *Client) Edit(ctx context.Context, req *EditRequest) (*EditResponse, error) {
	var out EditResponse
	if err := c.do(ctx, http.MethodPost, PathEdit, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// do sends one request and decodes the reply into out.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s request: %w", path, err)
		}
		body = b
	}
	return c.doRaw(ctx, method, path, body, func(r io.Reader) error { return json.NewDecoder(r).Decode(out) })
}

// doRaw sends body (none when nil) and hands a successful reply's body to read.
func (c *Client) doRaw(ctx context.Context, method, path string, body []byte, read func(io.Reader) error) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	// The host is never used (the transport dials the socket); "ec2grid" names it in logs.
	req, err := http.NewRequestWithContext(ctx, method, "http://ec2grid"+path, rd)
	if err != nil {
		return fmt.Errorf("build %s request: %w", path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var nr *NotRunningError
		if errors.As(err, &nr) {
			return nr
		}
		return fmt.Errorf("ec2grid daemon %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return decodeError(resp, path)
	}
	if err := read(resp.Body); err != nil {
		return fmt.Errorf("decode the ec2grid daemon's %s reply: %w", path, err)
	}
	return nil
}

// decodeError turns an error reply into an *Error.
func decodeError(resp *http.Response, path string) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var eb ErrorBody
	if err := json.Unmarshal(data, &eb); err != nil || eb.Code == "" {
		msg := string(bytes.TrimSpace(data))
		if msg == "" {
			msg = resp.Status
		}
		return &Error{HTTPStatus: resp.StatusCode, Code: codeForStatus(resp.StatusCode),
			Message: fmt.Sprintf("ec2grid daemon %s: %s", path, msg)}
	}
	return &Error{HTTPStatus: resp.StatusCode, Code: eb.Code, Message: eb.Error, NextCluster: eb.NextCluster}
}

// codeForStatus maps an HTTP status to an error code, for replies without an ErrorBody.
func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusMethodNotAllowed:
		return CodeBadRequest
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusForbidden, http.StatusUnauthorized:
		return CodeForbidden
	case http.StatusConflict:
		return CodeConflict
	case http.StatusServiceUnavailable:
		return CodeUnavailable
	}
	return CodeInternal
}
