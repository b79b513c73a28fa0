package gahp

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// endless is a peer's output: n bytes of fill (no newline among them; n < 0: forever),
// then tail. It makes gigabytes without holding them.
type endless struct {
	n     int64
	fill  byte
	tail  *strings.Reader
	read  int64  // bytes of fill handed out
	block []byte // fill bytes, copied out (a byte loop would be slow under -race)
}

func (e *endless) Read(p []byte) (int, error) {
	if e.n >= 0 && e.read >= e.n {
		return e.tail.Read(p)
	}
	k := int64(len(p))
	if e.n >= 0 {
		k = min(k, e.n-e.read)
	}
	if len(e.block) == 0 {
		e.block = []byte(strings.Repeat(string(e.fill), 64<<10))
	}
	k = int64(copy(p[:k], e.block))
	e.read += k
	return int(k), nil
}

const gigabyte = 1 << 30

// TestLineReaderGigabyteLine: a 1 GB line is reported as too long, the next line is read
// normally, and the reader never held more than its limit.
func TestLineReaderGigabyteLine(t *testing.T) {
	src := &endless{n: gigabyte, fill: 'x', tail: strings.NewReader("\nVERSION\n")}
	lr := NewLineReader(src, MaxRequestLine)
	if _, err := lr.ReadLine(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("1 GB line: %v, want ErrLineTooLong", err)
	}
	// append may round the buffer up; what matters is that it follows the limit, not the line.
	if c := cap(lr.line); c > 2*MaxRequestLine {
		t.Errorf("the reader holds %d bytes for a line, over twice its limit %d", c, MaxRequestLine)
	}
	line, err := lr.ReadLine()
	if err != nil || string(line) != "VERSION" {
		t.Fatalf("the line after: %q, %v", line, err)
	}
	if src.read != gigabyte {
		t.Errorf("read %d bytes of the long line, want all %d", src.read, gigabyte)
	}
}

// TestLineReaderLongLineEscapes: while a too-long line is discarded, an escaped newline
// still does not end it.
func TestLineReaderLongLineEscapes(t *testing.T) {
	in := strings.Repeat("y", 100) + "\\\n" + strings.Repeat("z", 100) + "\\\\\nnext\n"
	lr := NewLineReader(strings.NewReader(in), 50)
	if _, err := lr.ReadLine(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("long line: %v", err)
	}
	if line, err := lr.ReadLine(); err != nil || string(line) != "next" {
		t.Fatalf("the line after: %q, %v", line, err)
	}
}

// TestLineReaderStopAtLimit: a stopping reader fails as soon as a line passes the limit,
// reading little beyond it, even from a peer that never sends a newline, and keeps failing.
func TestLineReaderStopAtLimit(t *testing.T) {
	src := &endless{n: -1, fill: 'x'}
	lr := NewLineReader(src, 1<<20).StopAtLimit()
	for range 2 {
		if _, err := lr.ReadLine(); !errors.Is(err, ErrLineTooLong) {
			t.Fatalf("endless line: %v, want ErrLineTooLong", err)
		}
	}
	if src.read > 2<<20 {
		t.Errorf("read %d bytes of an endless line with a limit of %d", src.read, 1<<20)
	}
}

// TestServerGigabyteLine: a peer that sends a 1 GB request line gets E for it, and the
// server goes on to answer the next line.
func TestServerGigabyteLine(t *testing.T) {
	t.Parallel()
	in := &endless{n: gigabyte, fill: 'x', tail: strings.NewReader("\nVERSION\nQUIT\n")}
	outR, outW := io.Pipe()
	ctx, cancel := context.WithTimeout(context.Background(), generous)
	defer cancel()
	served := make(chan error, 1)
	go func() {
		served <- NewServer(ServerOptions{Version: testVersion, Commands: testCommands(nil)}).Serve(ctx, in, outW)
		outW.Close()
	}()
	lr := NewLineReader(outR, MaxResultLine)
	var got []string
	for {
		line, err := lr.ReadLine()
		if err != nil {
			break
		}
		got = append(got, string(line))
	}
	want := []string{testVersion, "E", "S " + testVersion, "S"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("server wrote %q, want %q", got, want)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestClientEndlessLine: a server whose output carries a line with no end fails the
// client cleanly, at the banner or later: NewClient or the pending call returns an error
// wrapping ErrLineTooLong, and Done is closed.
func TestClientEndlessLine(t *testing.T) {
	t.Parallel()
	// The client reads MaxResultLine (128 MiB) before it gives up, twice; under -race on a
	// busy machine that takes longer than the usual bound.
	const endlessWait = 5 * generous
	ctx, cancel := context.WithTimeout(context.Background(), endlessWait)
	defer cancel()

	_, err := NewClient(ctx, &endless{n: -1, fill: 'x'}, io.Discard, ClientOptions{})
	if !errors.Is(err, ErrLineTooLong) {
		t.Errorf("endless banner: NewClient = %v, want ErrLineTooLong", err)
	}

	// A well-behaved start, then one endless line where ECHO's S should be. The fake
	// server answers each request only once it has read it, as a real one does.
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	t.Cleanup(func() { inR.Close(); outR.Close() })
	go func() {
		defer outW.Close()
		if _, err := io.WriteString(outW, testVersion+"\n"); err != nil {
			return
		}
		lr := NewLineReader(inR, MaxRequestLine)
		for {
			line, err := lr.ReadLine()
			if err != nil {
				return
			}
			if Tokenize(string(line))[0] == CmdCommands {
				io.WriteString(outW, "S ECHO\n")
				continue
			}
			io.Copy(outW, &endless{n: -1, fill: 'y'}) // ends when the client stops reading
			return
		}
	}()
	c, err := NewClient(ctx, outR, inW, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(ctx, "ECHO", "a"); !errors.Is(err, ErrLineTooLong) || !errors.Is(err, ErrClosed) {
		t.Errorf("Call = %v, want ErrClosed and ErrLineTooLong", err)
	}
	select {
	case <-c.Done():
	case <-time.After(endlessWait):
		t.Fatal("Done not closed")
	}
	if !errors.Is(c.Err(), ErrLineTooLong) {
		t.Errorf("Err = %v", c.Err())
	}
}
