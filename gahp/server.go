package gahp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// DefaultWorkers is how many requests a server runs at once unless told otherwise (-m).
// Requests spend nearly all their time waiting on the network, so the bound is about load
// on the cloud, not on this machine: 32 in flight at 50 ms each is 640 calls/s, above the
// 500 starts/s ec2grid aims at and far above the one call at a time HTCondor's gahp makes.
const DefaultWorkers = 32

// The synchronous commands every GAHP server answers itself. Each takes no argument.
const (
	CmdAsyncModeOn  = "ASYNC_MODE_ON"
	CmdAsyncModeOff = "ASYNC_MODE_OFF"
	CmdResults      = "RESULTS"
	CmdQuit         = "QUIT"
	CmdVersion      = "VERSION"
	CmdCommands     = "COMMANDS"
	CmdStatistics   = "STATISTICS"
)

// The one-token return lines.
const (
	ReturnSuccess = "S" // accepted (a request is queued) or a synchronous command done
	ReturnError   = "E" // malformed, unknown, wrong argument count: the request is dropped
	ReturnResults = "R" // async mode: results are waiting (sent once until RESULTS)
)

// Command is one request command a server runs, such as EC2_VM_START.
type Command struct {
	// Name is the command name; requests match it case-insensitively, as HTCondor does.
	Name string
	// Check reports whether a request is well-formed (argument count, required numbers).
	// args[0] is the command name as sent and args[1] the request id. It runs on the reading
	// goroutine, so it must be cheap and never block. A false answer is an E line: never
	// return false for a request HTCondor's gridmanager can send.
	Check func(args []string) bool
	// Run performs the request and returns the fields of its result line after the request
	// id: "0" and the values, or "1", an error code and a message. It runs on a worker.
	// ctx is cancelled when the server stops.
	Run func(ctx context.Context, req Request) []string
}

// Request is one accepted request, as handed to Command.Run.
type Request struct {
	ID       int64     // the request id, echoed in the result line
	Args     []string  // the whole request: Args[0] the command, Args[1] the id, then arguments
	Received time.Time // when the S was sent; the caller's timers started no later
}

// ServerOptions configure a Server. Version and Commands are required.
type ServerOptions struct {
	// Version is the banner's text, printed raw (already escaped) as the first line and as
	// the answer to VERSION, e.g. `$GahpVersion 1.0 Feb 15 2008 Condor\ AMAZONGAHP $`.
	Version string
	// Commands are the request commands, listed by COMMANDS in this order.
	Commands []Command
	// Workers bounds the requests run at once; 0 means DefaultWorkers.
	Workers int
	// Statistics, if set, answers STATISTICS with "S" and these fields. HTCondor's
	// ec2_gahp answers it (not listed by COMMANDS) and its gridmanager requires 4 integers.
	Statistics func() []string
	// Logger receives the server's log; nil means none. Never stdout: that is the protocol.
	Logger *zap.Logger
}

// Server answers one GAHP conversation. Its guarantee: every line read is answered at once
// (S, E, or the synchronous command's reply), whatever the requests do, because requests
// only ever run on workers; each accepted request yields exactly one result line unless the
// server stops first; output lines are never interleaved.
type Server struct {
	opts     ServerOptions
	commands map[string]*Command
	log      *zap.Logger

	mu       sync.Mutex // guards out, results, async, rPending
	out      *bufio.Writer
	results  [][]byte
	async    bool
	rPending bool
}

// ErrInputClosed is returned by Serve when the input ends without QUIT. HTCondor's gahp
// exits 1 then: its gridmanager has gone away.
var ErrInputClosed = errors.New("gahp: input closed")

// NewServer returns a server for one conversation.
func NewServer(opts ServerOptions) *Server {
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	s := &Server{opts: opts, commands: make(map[string]*Command, len(opts.Commands)), log: opts.Logger}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	for i := range opts.Commands {
		s.commands[strings.ToUpper(opts.Commands[i].Name)] = &opts.Commands[i]
	}
	return s
}

// Serve prints the banner, then reads and answers lines from in until QUIT (returning nil),
// the end of in (ErrInputClosed), a read or write error, or ctx's end. Requests still running
// when it returns are cancelled and waited for; their results are dropped.
func (s *Server) Serve(ctx context.Context, in io.Reader, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.out = bufio.NewWriterSize(out, 64<<10)

	q := newQueue()
	var wg sync.WaitGroup
	for range s.opts.Workers {
		wg.Go(func() { s.work(ctx, q) })
	}
	defer func() {
		q.close()
		cancel()
		wg.Wait()
	}()

	// The banner comes once the workers exist, as in HTCondor (io_loop_pthread.cpp).
	if err := s.write([]byte(s.opts.Version + "\n")); err != nil {
		return err
	}

	lines := make(chan lineOrErr)
	go func() {
		// The reading goroutine owns the LineReader: a blocked read cannot be interrupted, so
		// it lives apart from the loop below, which must be able to stop on ctx. It stops at
		// the first error other than an over-long line.
		defer close(lines)
		lr := NewLineReader(in, MaxRequestLine)
		for {
			line, err := lr.ReadLine()
			select {
			case lines <- lineOrErr{string(line), err}:
			case <-ctx.Done():
				return
			}
			if err != nil && !errors.Is(err, ErrLineTooLong) {
				return
			}
		}
	}()

	for {
		var le lineOrErr
		var ok bool
		select {
		case le, ok = <-lines:
		case <-ctx.Done():
			return fmt.Errorf("gahp serve: %w", ctx.Err())
		}
		if !ok {
			return fmt.Errorf("gahp serve: %w", ctx.Err())
		}
		switch {
		case errors.Is(le.err, ErrLineTooLong):
			s.log.Warn("line too long", zap.Int("limit", MaxRequestLine))
			if err := s.write([]byte(ReturnError + "\n")); err != nil {
				return err
			}
		case errors.Is(le.err, io.EOF) || errors.Is(le.err, io.ErrUnexpectedEOF):
			return ErrInputClosed
		case le.err != nil:
			return fmt.Errorf("gahp serve: %w", le.err)
		default:
			quit, err := s.handle(le.line, q)
			if err != nil || quit {
				return err
			}
		}
	}
}

type lineOrErr struct {
	line string
	err  error
}

// handle answers one line. It reports whether the line was QUIT.
func (s *Server) handle(line string, q *queue) (quit bool, err error) {
	args := Tokenize(line)
	name := strings.ToUpper(args[0])
	if len(args) == 1 {
		switch name {
		case CmdQuit:
			return true, s.write([]byte(ReturnSuccess + "\n"))
		case CmdVersion:
			return false, s.write([]byte(ReturnSuccess + " " + s.opts.Version + "\n"))
		case CmdCommands:
			fields := []string{ReturnSuccess, CmdAsyncModeOn, CmdAsyncModeOff, CmdResults, CmdQuit, CmdVersion, CmdCommands}
			for _, c := range s.opts.Commands {
				fields = append(fields, c.Name)
			}
			return false, s.write(AppendLine(nil, fields...))
		case CmdStatistics:
			if s.opts.Statistics != nil {
				return false, s.write(AppendLine(nil, append([]string{ReturnSuccess}, s.opts.Statistics()...)...))
			}
		case CmdAsyncModeOn:
			return false, s.setAsync(true)
		case CmdAsyncModeOff:
			return false, s.setAsync(false)
		case CmdResults:
			return false, s.flushResults()
		}
	}
	cmd := s.commands[name]
	if cmd == nil || len(args) < 2 {
		s.log.Info("rejected line", zap.String("command", args[0]), zap.Int("args", len(args)), zap.Bool("known", cmd != nil))
		return false, s.write([]byte(ReturnError + "\n"))
	}
	id, ok := parseRequestID(args[1])
	if !ok || !cmd.Check(args) {
		s.log.Info("rejected request", zap.String("command", args[0]), zap.String("id", args[1]), zap.Int("args", len(args)))
		return false, s.write([]byte(ReturnError + "\n"))
	}
	// S goes out before the request is queued, so its result (and R) can never precede it.
	if err := s.write([]byte(ReturnSuccess + "\n")); err != nil {
		return false, err
	}
	q.push(job{cmd: cmd, req: Request{ID: id, Args: args, Received: time.Now()}})
	return false, nil
}

// maxRequestIDDigits keeps request ids inside int64; HTCondor's fit in an int (its client
// wraps them at 990,000,000).
const maxRequestIDDigits = 18

// parseRequestID accepts 1 to 18 ASCII digits, as HTCondor's verify_request_id does
// (which also lets the empty string through; we do not: an empty id is malformed).
func parseRequestID(s string) (int64, bool) {
	if len(s) == 0 || len(s) > maxRequestIDDigits {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil
}

func (s *Server) setAsync(on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.async = on
	s.rPending = false
	if err := s.writeLocked([]byte(ReturnSuccess + "\n")); err != nil {
		return err
	}
	// HTCondor only announces results as they arrive; announcing ones already waiting too
	// costs nothing and saves a client that turned async on late a poll interval.
	if on && len(s.results) > 0 {
		s.rPending = true
		return s.writeLocked([]byte(ReturnResults + "\n"))
	}
	return nil
}

func (s *Server) flushResults() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	results := s.results
	s.results = nil
	s.rPending = false
	s.out.WriteString(ReturnSuccess + " " + strconv.Itoa(len(results)) + "\n")
	for _, r := range results {
		s.out.Write(r)
	}
	if err := s.out.Flush(); err != nil {
		return fmt.Errorf("gahp write results: %w", err)
	}
	return nil
}

// addResult stores a finished request's line and, in async mode, announces it with a
// single R until the client collects it.
func (s *Server) addResult(line []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.results = append(s.results, line)
	if s.async && !s.rPending {
		s.rPending = true
		if err := s.writeLocked([]byte(ReturnResults + "\n")); err != nil {
			s.log.Warn("write R", zap.Error(err))
		}
	}
}

func (s *Server) write(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writeLocked(b)
}

func (s *Server) writeLocked(b []byte) error {
	s.out.Write(b)
	if err := s.out.Flush(); err != nil {
		return fmt.Errorf("gahp write: %w", err)
	}
	return nil
}

func (s *Server) work(ctx context.Context, q *queue) {
	for {
		j, ok := q.pop()
		if !ok {
			return
		}
		fields := s.run(ctx, j)
		if ctx.Err() != nil {
			return // stopping: nobody will collect it
		}
		s.addResult(AppendResult(nil, j.req.ID, fields...))
	}
}

// run calls the command, turning a panic into an E_INTERNAL result: a bug in one command
// must not take down the process and every other job's request with it.
func (s *Server) run(ctx context.Context, j job) (fields []string) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("command panicked", zap.String("command", j.cmd.Name), zap.Int64("id", j.req.ID),
				zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
			fields = []string{ResultFailure, "E_INTERNAL", fmt.Sprintf("internal error in %s: %v", j.cmd.Name, r)}
		}
	}()
	return j.cmd.Run(ctx, j.req)
}

type job struct {
	cmd *Command
	req Request
}

// queue is an unbounded FIFO of accepted requests. Unbounded on purpose: the reading
// goroutine must never wait for a worker (the gridmanager gives each line 20 s and then
// aborts), and the peer bounds it anyway (HTCondor's gridmanager keeps at most 50 requests
// in flight per gahp; each queued request is only its arguments).
type queue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	jobs   []job
	head   int
	closed bool
}

func newQueue() *queue {
	q := &queue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *queue) push(j job) {
	q.mu.Lock()
	q.jobs = append(q.jobs, j)
	q.mu.Unlock()
	q.cond.Signal()
}

func (q *queue) pop() (job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.head == len(q.jobs) && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return job{}, false
	}
	j := q.jobs[q.head]
	q.jobs[q.head] = job{}
	q.head++
	if q.head == len(q.jobs) {
		q.jobs, q.head = q.jobs[:0], 0
	}
	return j, true
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}
