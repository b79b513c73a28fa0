package gahp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const testVersion = `$GahpVersion 1.0 Feb 15 2008 Condor\ TESTGAHP $`

// generous bounds every wait in these tests; none asserts speed.
const generous = 20 * time.Second

// testCommands: ECHO returns its arguments; BLOCK waits until release is closed (or the
// server stops); PANIC panics.
func testCommands(release <-chan struct{}) []Command {
	return []Command{
		{
			Name:  "ECHO",
			Check: func(args []string) bool { return len(args) >= 2 },
			Run: func(_ context.Context, req Request) []string {
				return append([]string{ResultSuccess}, req.Args[2:]...)
			},
		},
		{
			Name:  "BLOCK",
			Check: func(args []string) bool { return len(args) == 2 },
			Run: func(ctx context.Context, req Request) []string {
				select {
				case <-release:
				case <-ctx.Done():
				}
				return []string{ResultSuccess}
			},
		},
		{
			Name:  "PANIC",
			Check: func(args []string) bool { return len(args) == 2 },
			Run:   func(context.Context, Request) []string { panic("boom") },
		},
	}
}

// conv is one conversation with a Server over pipes.
type conv struct {
	t    *testing.T
	in   *io.PipeWriter
	lr   *LineReader
	done chan error
}

func startServer(t *testing.T, opts ServerOptions) *conv {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	if opts.Version == "" {
		opts.Version = testVersion
	}
	s := NewServer(opts)
	c := &conv{t: t, in: inW, lr: NewLineReader(outR, MaxResultLine), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		err := s.Serve(ctx, inR, outW)
		outW.Close()
		c.done <- err
	}()
	t.Cleanup(func() {
		cancel()
		inW.Close()
		go io.Copy(io.Discard, outR)
		select {
		case <-c.done:
		case <-time.After(generous):
			t.Error("server did not stop")
		}
	})
	if got := c.read(); got != testVersion && got != opts.Version {
		t.Fatalf("banner = %q", got)
	}
	return c
}

func (c *conv) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.in, line); err != nil {
		c.t.Fatalf("write %q: %v", line, err)
	}
}

// read returns the next raw output line, failing the test after the generous bound.
func (c *conv) read() string {
	c.t.Helper()
	type res struct {
		line string
		err  error
	}
	ch := make(chan res, 1)
	go func() {
		l, err := c.lr.ReadLine()
		ch <- res{string(l), err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			c.t.Fatalf("read: %v", r.err)
		}
		return r.line
	case <-time.After(generous):
		c.t.Fatalf("no line within %v", generous)
		return ""
	}
}

func (c *conv) expect(want string) {
	c.t.Helper()
	if got := c.read(); got != want {
		c.t.Fatalf("got %q, want %q", got, want)
	}
}

// results asks RESULTS (after an R if async) and returns the result lines, sorted by
// arrival.
func (c *conv) results() []string {
	c.t.Helper()
	c.send("RESULTS\n")
	head := strings.Fields(c.read())
	if len(head) != 2 || head[0] != "S" {
		c.t.Fatalf("RESULTS reply %q", head)
	}
	n, _ := strconv.Atoi(head[1])
	out := make([]string, n)
	for i := range out {
		out[i] = c.read()
	}
	return out
}

func TestServerSynchronousCommands(t *testing.T) {
	t.Parallel()
	c := startServer(t, ServerOptions{Commands: testCommands(nil), Statistics: func() []string { return []string{"1", "2", "3", "4"} }})
	for _, tc := range []struct{ send, want string }{
		{"VERSION\r\n", "S " + testVersion},
		{"version\n", "S " + testVersion},
		{"COMMANDS\n", "S ASYNC_MODE_ON ASYNC_MODE_OFF RESULTS QUIT VERSION COMMANDS ECHO BLOCK PANIC"},
		{"STATISTICS\n", "S 1 2 3 4"},
		{"RESULTS\n", "S 0"},
		{"ASYNC_MODE_ON\n", "S"},
		{"ASYNC_MODE_OFF\n", "S"},
		// Special commands take exactly one token.
		{"RESULTS now\n", "E"},
		{"VERSION \n", "E"},
		{"QUIT 1\n", "E"},
		// Unknown, empty, malformed ids, failed checks.
		{"NOSUCH 1 a\n", "E"},
		{"\n", "E"},
		{"\r\n", "E"},
		{"ECHO\n", "E"},
		{"ECHO x1 a\n", "E"},
		{"ECHO -1 a\n", "E"},
		{"ECHO  a\n", "E"},
		{"ECHO 1234567890123456789 a\n", "E"},
		{"BLOCK 3 extra\n", "E"},
	} {
		c.send(tc.send)
		c.expect(tc.want)
	}
	c.send("QUIT\n")
	c.expect("S")
	select {
	case err := <-c.done:
		if err != nil {
			t.Errorf("Serve after QUIT = %v, want nil", err)
		}
		c.done <- nil
	case <-time.After(generous):
		t.Fatal("server did not stop after QUIT")
	}
}

func TestServerNoStatisticsIsUnknown(t *testing.T) {
	t.Parallel()
	c := startServer(t, ServerOptions{Commands: testCommands(nil)})
	c.send("STATISTICS\n")
	c.expect("E")
}

func TestServerResultsAndEscaping(t *testing.T) {
	t.Parallel()
	c := startServer(t, ServerOptions{Commands: testCommands(nil), Workers: 1})
	c.send("ECHO 7 a\\ b NULL  \\\\ x\\\ny\r\n")
	c.expect("S")
	c.send("echo 0008\n")
	c.expect("S")
	c.send("PANIC 9\n")
	c.expect("S")
	deadline := time.Now().Add(generous)
	var got []string
	for len(got) < 3 && time.Now().Before(deadline) {
		got = append(got, c.results()...)
		time.Sleep(10 * time.Millisecond)
	}
	want := []string{
		"7 0 a\\ b NULL  \\\\ x\\\ny", // escapes kept on the wire; the empty token is two spaces
		"8 0",                         // the id is echoed as a number
		"9 1 E_INTERNAL internal\\ error\\ in\\ PANIC:\\ boom",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("results = %q, want %q", got, want)
	}
	c.expectResultsEmpty()
}

func (c *conv) expectResultsEmpty() {
	c.t.Helper()
	if r := c.results(); len(r) != 0 {
		c.t.Errorf("results not cleared: %q", r)
	}
}

func TestServerAsyncSingleR(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	c := startServer(t, ServerOptions{Commands: testCommands(release), Workers: 4})
	c.send("ASYNC_MODE_ON\n")
	c.expect("S")
	for i := 1; i <= 3; i++ {
		c.send(fmt.Sprintf("BLOCK %d\n", i))
		c.expect("S")
	}
	close(release)
	c.expect("R")
	// However many results arrive, no second R until RESULTS; after it, exactly one again.
	time.Sleep(100 * time.Millisecond)
	got := c.results()
	for len(got) < 3 {
		c.expect("R")
		got = append(got, c.results()...)
	}
	if len(got) != 3 {
		t.Fatalf("results %q", got)
	}
	c.send("ECHO 4\n")
	c.expect("S")
	c.expect("R")
	if r := c.results(); len(r) != 1 || r[0] != "4 0" {
		t.Errorf("results %q", r)
	}
	// Async off: no R.
	c.send("ASYNC_MODE_OFF\n")
	c.expect("S")
	c.send("ECHO 5\n")
	c.expect("S")
	c.send("VERSION\n")
	c.expect("S " + testVersion)
}

// TestServerAnswersWhileWorkersBlocked: requests that never finish cannot delay the answer
// to any line (the gridmanager aborts after 20 s without one).
func TestServerAnswersWhileWorkersBlocked(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	c := startServer(t, ServerOptions{Commands: testCommands(release), Workers: 2})
	for i := 1; i <= 500; i++ {
		c.send(fmt.Sprintf("BLOCK %d\n", i))
		c.expect("S")
	}
	c.send("RESULTS\n")
	c.expect("S 0")
	c.send("VERSION\n")
	c.expect("S " + testVersion)
}

func TestServerEOF(t *testing.T) {
	t.Parallel()
	c := startServer(t, ServerOptions{Commands: testCommands(nil)})
	c.send("ECHO 1 x\n")
	c.expect("S")
	c.in.Close()
	select {
	case err := <-c.done:
		if !errors.Is(err, ErrInputClosed) {
			t.Errorf("Serve at EOF = %v, want ErrInputClosed", err)
		}
		c.done <- err
	case <-time.After(generous):
		t.Fatal("server did not stop at EOF")
	}
}

func TestServerLongLine(t *testing.T) {
	t.Parallel()
	c := startServer(t, ServerOptions{Commands: testCommands(nil)})
	c.send("ECHO 1 " + strings.Repeat("y", MaxRequestLine) + "\n")
	c.expect("E")
	c.send("VERSION\n")
	c.expect("S " + testVersion)
}

// TestServerRandomLines: 10,000 random and malformed lines neither crash the server nor
// go unanswered: each gets exactly one S or E, in order, and each S one result.
func TestServerRandomLines(t *testing.T) {
	t.Parallel()
	c := startServer(t, ServerOptions{Commands: testCommands(nil), Workers: 8})
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"ECHO", "echo", "BLOCK", "RESULTS", "VERSION", "COMMANDS", "NOSUCH", "NULL", "", "\\", "\\ ", "\t", "\r", "12", "x1", "-3", "99999999999999999999", "ü", "\x00", "\xff"}
	const n = 10_000
	var wg sync.WaitGroup
	var sendErr error
	lines := make([]string, n)
	for i := range lines {
		var b strings.Builder
		k := rng.IntN(6)
		for j := 0; j < k; j++ {
			if j > 0 {
				b.WriteByte(" \t"[rng.IntN(2)])
			}
			if rng.IntN(4) == 0 {
				for range rng.IntN(8) {
					b.WriteByte(byte(rng.IntN(256)))
				}
			} else {
				b.WriteString(words[rng.IntN(len(words))])
			}
		}
		// One terminator per line: strip stray LFs, which would split the line in two
		// (and a line ending in a backslash would join the next one).
		line := strings.ReplaceAll(b.String(), "\n", "")
		line = strings.TrimRight(line, "\\")
		// QUIT would end the conversation; keep it out of the random stream.
		if strings.EqualFold(strings.TrimRight(line, "\r"), "QUIT") {
			line = "Q"
		}
		lines[i] = line
	}
	wg.Go(func() {
		for _, l := range lines {
			if _, err := io.WriteString(c.in, l+"\n"); err != nil {
				sendErr = err
				return
			}
		}
	})
	accepted := 0
	for i := 0; i < n; i++ {
		got := c.read()
		toks := Tokenize(got)
		switch toks[0] {
		case "S":
			if len(toks) == 1 {
				accepted++
			} else if len(toks) == 2 {
				// A RESULTS reply: consume its lines.
				k, _ := strconv.Atoi(toks[1])
				for range k {
					c.read()
				}
			}
		case "E":
		default:
			t.Fatalf("line %d %q answered %q", i, lines[i], got)
		}
	}
	wg.Wait()
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	c.send("VERSION\n")
	c.expect("S " + testVersion)
	t.Logf("%d of %d random lines accepted", accepted, n)
}

// FuzzServerLine: the request-line parser behind every answer. Any line (as the line
// reader hands it over: no unescaped LF) gets exactly one reply line, S or E or a
// synchronous command's reply, and a request is queued exactly when the reply is S alone.
func FuzzServerLine(f *testing.F) {
	f.Add("ECHO 1 a b")
	f.Add("BLOCK 0002")
	f.Add("RESULTS")
	f.Add("echo  1")
	f.Add("ECHO 1\\ 2 x")
	f.Add("VERSION\t")
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsRune(line, '\n') {
			return
		}
		var out strings.Builder
		s := NewServer(ServerOptions{Version: testVersion, Commands: testCommands(nil), Statistics: func() []string { return []string{"0", "0", "0", "0"} }})
		s.out = bufio.NewWriter(&out)
		q := newQueue()
		if _, err := s.handle(line, q); err != nil {
			t.Fatal(err)
		}
		reply := out.String()
		if strings.Count(reply, "\n") != 1 || !strings.HasSuffix(reply, "\n") {
			t.Fatalf("%q answered %q, not one line", line, reply)
		}
		if r := reply[:len(reply)-1]; r != "S" && r != "E" && !strings.HasPrefix(r, "S ") {
			t.Fatalf("%q answered %q", line, reply)
		}
		queued := len(q.jobs) - q.head
		toks := Tokenize(line)
		special := len(toks) == 1 && strings.EqualFold(toks[0], CmdAsyncModeOn) || len(toks) == 1 && strings.EqualFold(toks[0], CmdAsyncModeOff) || len(toks) == 1 && strings.EqualFold(toks[0], CmdQuit)
		if (reply == "S\n" && !special) != (queued == 1) || queued > 1 {
			t.Fatalf("%q answered %q with %d requests queued", line, reply, queued)
		}
	})
}
