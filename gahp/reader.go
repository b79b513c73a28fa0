package gahp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxRequestLine bounds one request line a server accepts. HTCondor's ec2_gahp reads at most
// 131072 bytes; EC2 user data, the largest argument, is at most 16 KiB before escaping. One
// MiB leaves room for user data passed inline, escaped, yet a runaway peer cannot make the
// server hold more than this per line.
const MaxRequestLine = 1 << 20

// MaxResultLine bounds one line a client accepts. A result line grows with the answer:
// EC2_VM_STATUS_ALL carries 8 fields per instance, about 300 bytes, so 128 MiB holds the
// status of some 400,000 instances, far beyond one account's quota.
const MaxResultLine = 128 << 20

// ErrLineTooLong is returned (wrapped) for a line longer than the reader's limit; the whole
// line has been consumed, so the next read starts at the next line.
var ErrLineTooLong = errors.New("gahp: line too long")

// LineReader reads protocol lines: a line ends at an unescaped LF; an unescaped CR is
// dropped wherever it is, so CRLF and LF both end lines; escapes are left in place for
// Tokenize. A LineReader is not safe for concurrent use.
type LineReader struct {
	r     *bufio.Reader
	max   int
	line  []byte
	limit bool
	stop  bool  // StopAtLimit: fail at the limit instead of discarding to the line's end
	err   error // the sticky error of a stopping reader
}

// NewLineReader returns a reader of lines of at most max bytes (escapes included, CRs and
// the terminator not counted).
func NewLineReader(r io.Reader, max int) *LineReader {
	return &LineReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// StopAtLimit makes ReadLine fail as soon as a line passes the limit, without reading the
// rest of it, and fail the same way on every later call. A client wants this: a result line
// lost is a request never answered, so there is nothing to resynchronise to, and a peer
// that sends gigabytes without a newline must not keep it reading. It returns lr.
func (lr *LineReader) StopAtLimit() *LineReader {
	lr.stop = true
	return lr
}

// ReadLine returns the next line without its terminator. The returned slice is valid until
// the next call. At end of input it returns io.EOF, or io.ErrUnexpectedEOF if a partial line
// was pending (its bytes are dropped: a line that never ended was never sent). A line over
// the limit is reported as ErrLineTooLong and consumed to its end (unless StopAtLimit), with
// memory held in proportion to the limit, however long the line is.
func (lr *LineReader) ReadLine() ([]byte, error) {
	if lr.err != nil {
		return nil, lr.err
	}
	lr.line = lr.line[:0]
	lr.limit = false
	escaped := false
	n := 0 // bytes read for this line, to tell an empty EOF from a partial line
	for {
		chunk, err := lr.r.ReadSlice('\n')
		n += len(chunk)
		if !escaped && bytes.IndexByte(chunk, '\\') < 0 && bytes.IndexByte(chunk, '\r') < 0 {
			// No escape and no CR: the chunk is line bytes up to an LF at its end, if
			// any, and is taken whole instead of byte by byte (a peer may send gigabytes).
			body, ended := bytes.CutSuffix(chunk, []byte{'\n'})
			lr.add(body...)
			if ended {
				if lr.limit {
					return nil, fmt.Errorf("read line: %w (limit %d bytes)", ErrLineTooLong, lr.max)
				}
				return lr.line, nil
			}
			chunk = nil
		}
		for i := 0; i < len(chunk); i++ {
			c := chunk[i]
			if escaped {
				escaped = false
				lr.add('\\', c)
				continue
			}
			switch c {
			case '\\':
				escaped = true
			case '\r':
				// Dropped, as HTCondor's GetNextLine does: CRLF and LF both end a line.
			case '\n':
				if i != len(chunk)-1 {
					// ReadSlice stops at the first LF, so this cannot happen.
					panic("gahp: LF inside a chunk")
				}
				if lr.limit {
					return nil, fmt.Errorf("read line: %w (limit %d bytes)", ErrLineTooLong, lr.max)
				}
				return lr.line, nil
			default:
				lr.add(c)
			}
		}
		if lr.limit && lr.stop {
			lr.err = fmt.Errorf("read line: %w (limit %d bytes)", ErrLineTooLong, lr.max)
			return nil, lr.err
		}
		switch {
		case err == nil || errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if escaped {
				lr.add('\\') // a lone trailing backslash; Tokenize drops it
			}
			if n == 0 {
				return nil, io.EOF
			}
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, fmt.Errorf("read line: %w", err)
		}
	}
}

// add appends bytes to the line unless the limit is reached, in which case it notes that the
// line is too long and keeps consuming.
func (lr *LineReader) add(bs ...byte) {
	if lr.limit {
		return
	}
	if len(lr.line)+len(bs) > lr.max {
		lr.limit = true
		lr.line = lr.line[:0]
		return
	}
	lr.line = append(lr.line, bs...)
}
