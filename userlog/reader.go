package userlog

import (
	"bytes"
	"fmt"
	"io"
	"time"
)

// ErrNoEvent is what Reader.Next returns when the stream holds no complete event yet: it
// is at its end, or the last event has no "..." line yet (it is still being written). It
// wraps io.EOF, so errors.Is(err, io.EOF) is true as well.
var ErrNoEvent = fmt.Errorf("userlog: no complete event yet: %w", io.EOF)

const (
	// readChunk is how much the Reader asks for per read: a few dozen events, so reading
	// a whole log costs few system calls.
	readChunk = 64 << 10
	// maxEventBytes bounds the text of one event, so a file that is not a user log (no
	// "..." lines) cannot make the Reader buffer it whole. HTCondor's largest events (job
	// ad information, 028) are a few tens of kilobytes.
	maxEventBytes = 1 << 20
)

// ReaderOptions configure a Reader. The zero value reads times as HTCondor does, in local
// time.
type ReaderOptions struct {
	// Location is the time zone of times written without a trailing "Z"; nil means
	// time.Local. It must be the zone the writer used.
	Location *time.Location
	// Now gives the year of legacy "MM/DD" dates, which have none; nil means time.Now.
	Now func() time.Time
}

// Reader reads events from a user log, one complete event at a time.
//
// It never returns part of an event: when the stream ends before an event's "..." line
// (the writer is still writing it, or a line is cut short) Next returns ErrNoEvent and
// keeps the bytes, and the next call, after more data has arrived, starts again from the
// beginning of that event. So a Reader over a file that is being appended to, called
// again after ErrNoEvent, sees every event exactly once.
//
// A complete but malformed event (or text outside any event) comes back as a *ParseError
// giving its byte offset and line; the Reader has then moved past it, so the next call
// reads the following event. Event numbers without a type of their own come back as
// *GenericEvent. Blank lines between events are skipped.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	r    io.Reader
	loc  *time.Location
	now  func() time.Time
	buf  []byte // bytes read but not yet returned as an event
	off  int64  // stream offset of buf[0]
	line int    // line number of buf[0], from 1
}

// NewReader returns a Reader that reads r from its current position, which it takes as
// offset 0, line 1.
func NewReader(r io.Reader, opts ReaderOptions) *Reader {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Reader{r: r, loc: location(opts.Location), now: now, line: 1}
}

// Offset is the stream offset just past the last event (or malformed text) returned: where
// an event still incomplete would start.
func (r *Reader) Offset() int64 { return r.off }

// Buffered is the number of bytes read past Offset: the part of an incomplete event seen so
// far, if any.
func (r *Reader) Buffered() int { return len(r.buf) }

// Next returns the next complete event. See the type's comment for ErrNoEvent and
// *ParseError; any other error is a read error from the underlying reader.
func (r *Reader) Next() (Event, error) {
	for {
		if n, ev, err := r.scan(); n > 0 {
			r.consume(n)
			return ev, err
		}
		if len(r.buf) >= maxEventBytes {
			return nil, r.oversize()
		}
		n, err := r.fill()
		if n > 0 {
			continue
		}
		if err == nil || err == io.EOF {
			return nil, ErrNoEvent
		}
		return nil, fmt.Errorf("userlog: read at byte %d: %w", r.off+int64(len(r.buf)), err)
	}
}

// fill reads once into the free end of buf.
func (r *Reader) fill() (int, error) {
	if cap(r.buf)-len(r.buf) < readChunk {
		nb := make([]byte, len(r.buf), max(2*cap(r.buf), len(r.buf)+readChunk))
		copy(nb, r.buf)
		r.buf = nb
	}
	n, err := r.r.Read(r.buf[len(r.buf):cap(r.buf)])
	r.buf = r.buf[:len(r.buf)+n]
	return n, err
}

func (r *Reader) consume(n int) {
	r.line += bytes.Count(r.buf[:n], []byte{'\n'})
	r.off += int64(n)
	r.buf = r.buf[n:]
}

// oversize drops an over-long unterminated region through its last complete line.
func (r *Reader) oversize() error {
	err := &ParseError{Offset: r.off, Line: r.line, Msg: fmt.Sprintf("no \"...\" line in %d bytes; skipped", maxEventBytes)}
	n := bytes.LastIndexByte(r.buf, '\n') + 1
	if n == 0 {
		n = len(r.buf)
	}
	r.consume(n)
	return err
}

// lineAt returns the complete line at buf[pos:] without its line end, and the position after
// it; ok is false if the line has no '\n' yet.
func (r *Reader) lineAt(pos int) (l string, next int, ok bool) {
	i := bytes.IndexByte(r.buf[pos:], '\n')
	if i < 0 {
		return "", pos, false
	}
	b := r.buf[pos : pos+i]
	if len(b) > 0 && b[len(b)-1] == '\r' { // HTCondor's reader accepts CRLF line ends
		b = b[:len(b)-1]
	}
	return string(b), pos + i + 1, true
}

// scan looks at the front of buf. It returns n > 0, the length of what it recognised (an
// event, malformed text, or blank lines) with the event or error it makes; n == 0 means
// buf holds nothing complete yet.
func (r *Reader) scan() (int, Event, error) {
	l, pos, ok := r.lineAt(0)
	if !ok {
		return 0, nil, nil
	}
	blank := 0
	for ok && l == "" {
		blank = pos
		l, pos, ok = r.lineAt(pos)
	}
	if blank > 0 { // blank lines between events: consume them on their own
		r.consume(blank)
		l, pos, ok = r.lineAt(0)
		if !ok {
			return 0, nil, nil
		}
	}
	if !isHeaderLine(l) {
		return r.scanStray(l, pos)
	}
	lines := []string{l}
	for {
		start := pos
		l, pos, ok = r.lineAt(pos)
		if !ok {
			return 0, nil, nil
		}
		if l == "..." {
			ev, err := parseEvent(lines, r.line, r.off, r.loc, r.now)
			return pos, ev, err
		}
		if isHeaderLine(l) {
			// The event before was never finished (its writer died mid-write): report
			// it and let the next event start at this header.
			return start, nil, &ParseError{Offset: r.off, Line: r.line + len(lines),
				Msg: "a new event starts before the \"...\" line of the one before"}
		}
		lines = append(lines, l)
	}
}

// scanStray handles text that does not start with an event header: it runs through the next
// "..." line, or up to the next header.
func (r *Reader) scanStray(first string, pos int) (int, Event, error) {
	err := &ParseError{Offset: r.off, Line: r.line, Msg: fmt.Sprintf("text outside an event: %q", clip(first))}
	if first == "..." {
		return pos, nil, err
	}
	for {
		start := pos
		l, next, ok := r.lineAt(pos)
		if !ok {
			return 0, nil, nil
		}
		if isHeaderLine(l) {
			return start, nil, err
		}
		pos = next
		if l == "..." {
			return pos, nil, err
		}
	}
}
