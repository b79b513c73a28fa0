package gahp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// DefaultPollInterval is how often a client asks for RESULTS while requests are pending
// even if no R arrived: a safety net only, since the server announces every result in
// async mode. HTCondor's gridmanager polls every 5 s without async mode and every 60 s with
// it; 5 s keeps a client of a server without async mode as responsive as HTCondor.
const DefaultPollInterval = 5 * time.Second

// maxRequestID is where request ids wrap, as in HTCondor's gridmanager (990,000,000): ids
// stay in a C int on any server.
const maxRequestID = 990_000_000

// ClientOptions configure a Client. The zero value is usable.
type ClientOptions struct {
	// PollInterval: see DefaultPollInterval (0 means the default).
	PollInterval time.Duration
	// Logger receives unexpected lines and other oddities; nil means none.
	Logger *zap.Logger
}

// Client drives one GAHP server over its standard input and output. Its guarantee: it is
// safe for concurrent use; each request gets a fresh id not in use, and its result is
// delivered exactly once, to the caller that sent it, whatever order the server answers in.
type Client struct {
	w    io.Writer
	log  *zap.Logger
	poll time.Duration

	version  string
	commands []string

	// wmu orders writes; qmu guards waiters. A waiter is queued under both, before its
	// line is written, so waiters stay in the order of the lines; the reading goroutine
	// takes only qmu, so a writer blocked on a full pipe never stops replies being read
	// (the server may itself be blocked writing a reply).
	wmu     sync.Mutex
	qmu     sync.Mutex
	waiters []*waiter // callers waiting for a synchronous reply, in the order sent

	pmu     sync.Mutex // guards pending and nextID
	pending map[int64]chan []string
	nextID  int64

	kick chan struct{} // an R arrived
	done chan struct{} // the reading goroutine ended
	err  error         // why; set before done is closed
}

// waiter is one synchronous reply awaited. A RESULTS reply is followed by its lines, which
// the reading goroutine dispatches before handing over the reply.
type waiter struct {
	results bool
	ch      chan []string
}

// ErrClosed is returned (wrapped) once the server's output has ended.
var ErrClosed = errors.New("gahp: connection closed")

// RejectedError is a request the server answered with something other than S.
type RejectedError struct {
	Line  []string // what was sent
	Reply []string // what came back
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("gahp: request %s rejected: %q", strings.Join(e.Line, " "), strings.Join(e.Reply, " "))
}

// NewClient reads the server's banner from r, which must arrive before ctx ends, then asks
// for its COMMANDS and turns async mode on if the server lists it. The caller owns the
// server process: on error, kill it.
func NewClient(ctx context.Context, r io.Reader, w io.Writer, opts ClientOptions) (*Client, error) {
	c := &Client{
		w:       w,
		log:     opts.Logger,
		poll:    opts.PollInterval,
		nextID:  1,
		pending: make(map[int64]chan []string),
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	if c.log == nil {
		c.log = zap.NewNop()
	}
	if c.poll <= 0 {
		c.poll = DefaultPollInterval
	}
	// A result line over the limit means the server is broken: the client fails at once
	// rather than read on (perhaps forever) to a newline it has no use for.
	lr := NewLineReader(r, MaxResultLine).StopAtLimit()

	banner := make(chan error, 1)
	go func() {
		line, err := lr.ReadLine()
		if err != nil {
			banner <- fmt.Errorf("gahp: reading banner: %w", err)
			return
		}
		// As HTCondor's client: anything before the first '$' is ignored.
		i := strings.IndexByte(string(line), '$')
		if i < 0 {
			banner <- fmt.Errorf("gahp: no $GahpVersion banner, got %q", line)
			return
		}
		c.version = string(line[i:])
		banner <- nil
		c.read(lr)
	}()
	select {
	case err := <-banner:
		if err != nil {
			return nil, err
		}
	case <-ctx.Done():
		return nil, fmt.Errorf("gahp: waiting for the banner: %w", ctx.Err())
	}
	go c.poller()

	reply, err := c.Command(ctx, CmdCommands)
	if err != nil {
		return nil, err
	}
	if reply[0] != ReturnSuccess {
		return nil, fmt.Errorf("gahp: COMMANDS answered %q", strings.Join(reply, " "))
	}
	c.commands = reply[1:]
	if c.Supports(CmdAsyncModeOn) {
		if reply, err := c.Command(ctx, CmdAsyncModeOn); err != nil {
			return nil, err
		} else if reply[0] != ReturnSuccess {
			return nil, fmt.Errorf("gahp: ASYNC_MODE_ON answered %q", strings.Join(reply, " "))
		}
	}
	return c, nil
}

// Version returns the banner from the first '$' on, e.g.
// `$GahpVersion 1.0 Feb 15 2008 Condor\ AMAZONGAHP $`.
func (c *Client) Version() string { return c.version }

// Commands returns what the server's COMMANDS listed.
func (c *Client) Commands() []string { return c.commands }

// Supports reports whether the server listed the command (case-insensitively).
func (c *Client) Supports(command string) bool {
	for _, s := range c.commands {
		if strings.EqualFold(s, command) {
			return true
		}
	}
	return false
}

// Command sends one synchronous command line (VERSION, STATISTICS, ...) and returns the
// reply's tokens, the first being S or E.
func (c *Client) Command(ctx context.Context, args ...string) ([]string, error) {
	return c.sync(ctx, false, args)
}

// Statistics asks STATISTICS and returns the fields after S.
func (c *Client) Statistics(ctx context.Context) ([]string, error) {
	reply, err := c.Command(ctx, CmdStatistics)
	if err != nil {
		return nil, err
	}
	if reply[0] != ReturnSuccess {
		return nil, &RejectedError{Line: []string{CmdStatistics}, Reply: reply}
	}
	return reply[1:], nil
}

// Submit sends one request and returns once the server accepted it (S), with the channel
// its result fields (after the id: "0" ... or "1" code message) will arrive on, once.
// Arguments are sent as given: pass Null for unset values.
func (c *Client) Submit(ctx context.Context, command string, args ...string) (int64, <-chan []string, error) {
	ch := make(chan []string, 1)
	id := c.register(ch)

	line := append([]string{command, strconv.FormatInt(id, 10)}, args...)
	reply, err := c.sync(ctx, false, line)
	if err == nil && (len(reply) != 1 || reply[0] != ReturnSuccess) {
		err = &RejectedError{Line: line, Reply: reply}
	}
	if err != nil {
		c.pmu.Lock()
		delete(c.pending, id)
		c.pmu.Unlock()
		return 0, nil, err
	}
	return id, ch, nil
}

// Call sends one request and waits for its result fields (after the id).
func (c *Client) Call(ctx context.Context, command string, args ...string) ([]string, error) {
	id, ch, err := c.Submit(ctx, command, args...)
	if err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-c.done:
		return nil, c.err
	case <-ctx.Done():
		c.pmu.Lock()
		delete(c.pending, id)
		c.pmu.Unlock()
		return nil, fmt.Errorf("gahp: waiting for %s %d: %w", command, id, ctx.Err())
	}
}

// Close sends QUIT and waits for its S. The caller still waits for the process.
func (c *Client) Close(ctx context.Context) error {
	_, err := c.Command(ctx, CmdQuit)
	return err
}

// Done is closed when the server's output ends; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, once Done is closed.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// register takes the next request id not in use and records where its result goes.
func (c *Client) register(ch chan []string) int64 {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	for {
		id := c.nextID
		c.nextID++
		if c.nextID > maxRequestID {
			c.nextID = 1
		}
		if _, busy := c.pending[id]; !busy {
			c.pending[id] = ch
			return id
		}
	}
}

func (c *Client) sync(ctx context.Context, results bool, fields []string) ([]string, error) {
	w := &waiter{results: results, ch: make(chan []string, 1)}
	c.wmu.Lock()
	select {
	case <-c.done:
		c.wmu.Unlock()
		return nil, c.err
	default:
	}
	c.qmu.Lock()
	c.waiters = append(c.waiters, w)
	c.qmu.Unlock()
	_, err := c.w.Write(AppendLine(nil, fields...))
	c.wmu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("gahp: sending %s: %w", fields[0], err)
	}
	select {
	case r := <-w.ch:
		return r, nil
	case <-c.done:
		return nil, c.err
	case <-ctx.Done():
		// The reply will still come; its waiter's buffered channel absorbs it.
		return nil, fmt.Errorf("gahp: waiting for the reply to %s: %w", fields[0], ctx.Err())
	}
}

func (c *Client) popWaiter() *waiter {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if len(c.waiters) == 0 {
		return nil
	}
	w := c.waiters[0]
	c.waiters[0] = nil
	c.waiters = c.waiters[1:]
	return w
}

// read is the reading goroutine: it hands each reply to the oldest waiter, dispatches
// result lines, and turns R lines into polls.
func (c *Client) read(lr *LineReader) {
	var err error
	defer func() {
		c.err = fmt.Errorf("%w: %w", ErrClosed, err)
		close(c.done)
	}()
	next := func() ([]string, error) {
		for {
			line, err := lr.ReadLine()
			if err != nil {
				return nil, err
			}
			args := Tokenize(string(line))
			// HTCondor's client: one token starting with R is a results notice, allowed
			// between any other lines.
			if len(args) == 1 && strings.HasPrefix(args[0], ReturnResults) {
				select {
				case c.kick <- struct{}{}:
				default:
				}
				continue
			}
			return args, nil
		}
	}
	for {
		var args []string
		if args, err = next(); err != nil {
			return
		}
		w := c.popWaiter()
		if w == nil {
			c.log.Warn("gahp: unexpected line", zap.Strings("line", args))
			continue
		}
		if w.results && args[0] == ReturnSuccess && len(args) == 2 {
			n, perr := strconv.Atoi(args[1])
			if perr != nil || n < 0 {
				c.log.Warn("gahp: bad RESULTS reply", zap.Strings("line", args))
			}
			for range n {
				var res []string
				if res, err = next(); err != nil {
					return
				}
				c.dispatch(res)
			}
		}
		w.ch <- args
	}
}

func (c *Client) dispatch(res []string) {
	id, err := strconv.ParseInt(res[0], 10, 64)
	if err != nil || id == 0 {
		c.log.Warn("gahp: bad RESULTS line", zap.Strings("line", res))
		return
	}
	c.pmu.Lock()
	ch := c.pending[id]
	delete(c.pending, id)
	c.pmu.Unlock()
	if ch == nil {
		c.log.Warn("gahp: result for an unknown request", zap.Int64("id", id))
		return
	}
	ch <- res[1:]
}

// poller sends RESULTS when an R arrives, or every poll interval while requests are
// pending, one RESULTS at a time.
func (c *Client) poller() {
	t := time.NewTicker(c.poll)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-c.kick:
		case <-t.C:
			c.pmu.Lock()
			n := len(c.pending)
			c.pmu.Unlock()
			if n == 0 {
				continue
			}
		}
		if _, err := c.sync(context.Background(), true, []string{CmdResults}); err != nil {
			return
		}
	}
}
