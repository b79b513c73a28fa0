package userlog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// logFileMode is the mode of a newly created log (before the umask), as HTCondor creates
// user logs: the owner writes, anyone may read and condor_wait on it.
const logFileMode = 0o644

// Lock polling: the Writer takes the file lock without blocking and retries, so a
// cancelled context ends the wait. Holders keep the lock for one write (and one fsync),
// well under a millisecond to a few milliseconds, so the first retry comes quickly and the
// backoff stops at a few milliseconds.
const (
	lockRetryMin = 50 * time.Microsecond
	lockRetryMax = 5 * time.Millisecond
)

// WriterOptions configure a Writer. The zero value writes HTCondor's default format (ISO
// dates in local time), fsyncs every event and writes no JSON log.
type WriterOptions struct {
	// Location is the time zone of event times when UTC is false; nil means time.Local.
	Location *time.Location
	// UTC writes times in UTC with a trailing "Z".
	UTC bool
	// SubSecond adds milliseconds to the times.
	SubSecond bool
	// NoSync skips the fsync after each event. The event is then in the file for every
	// reader at once, but may be lost if the machine (not the process) crashes.
	NoSync bool
	// JSONPath, if set, is a second log that receives every event as one JSON object per
	// line, with HTCondor's attribute names (see FormatJSON).
	JSONPath string
	// Now stamps events whose Time is zero; nil means time.Now.
	Now func() time.Time
}

// Writer appends events to a user log and, optionally, to a JSON-lines log.
//
// Each event goes to the file in one write(2) call on a file opened with O_APPEND, under
// an exclusive flock(2) held for just that write and its fsync. So any number of Writers
// on the same file, in one process or in many, never interleave their events, and a
// reader never sees one event inside another. If a write fails part way (a full disk),
// the Writer cuts the file back to where the event started.
//
// A Writer is safe for concurrent use.
type Writer struct {
	mu     sync.Mutex
	f      *os.File
	jf     *os.File // nil without a JSON log
	fopts  FormatOptions
	sync   bool
	now    func() time.Time
	closed bool
}

// Open opens (creating if need be) the user log at path, and the JSON log if the options
// name one, for appending.
func Open(path string, opts WriterOptions) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, logFileMode)
	if err != nil {
		return nil, fmt.Errorf("userlog: open log: %w", err)
	}
	w := &Writer{
		f:     f,
		fopts: FormatOptions{Location: opts.Location, UTC: opts.UTC, SubSecond: opts.SubSecond},
		sync:  !opts.NoSync,
		now:   opts.Now,
	}
	if w.now == nil {
		w.now = time.Now
	}
	if opts.JSONPath != "" {
		if w.jf, err = os.OpenFile(opts.JSONPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, logFileMode); err != nil {
			f.Close()
			return nil, fmt.Errorf("userlog: open JSON log: %w", err)
		}
	}
	return w, nil
}

// Write appends one event. An event whose Time is zero is stamped with the current time.
// It returns once the event is written (and fsynced, unless NoSync); it fails if ctx ends
// while another writer holds the file lock. If only the JSON log cannot be written, the
// error says so and the event stays in the text log, which is the one HTCondor tools read.
func (w *Writer) Write(ctx context.Context, e Event) error {
	if e == nil {
		return errors.New("userlog: write: nil event")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("userlog: write: %w", err)
	}
	h := e.EventHeader()
	if h.Time.IsZero() {
		h.Time = w.now()
	}
	text, err := appendEvent(nil, e, h, w.fopts)
	if err != nil {
		return err
	}
	var js []byte
	if w.jf != nil {
		if js, err = appendJSON(nil, e, h, w.fopts); err != nil {
			return err
		}
		js = append(js, '\n')
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("userlog: write: writer is closed")
	}
	if err := appendLocked(ctx, w.f, text, w.sync); err != nil {
		return fmt.Errorf("userlog: write event %03d: %w", e.EventNumber(), err)
	}
	if w.jf != nil {
		if err := appendLocked(ctx, w.jf, js, w.sync); err != nil {
			return fmt.Errorf("userlog: write event %03d to the JSON log: %w", e.EventNumber(), err)
		}
	}
	return nil
}

// Close closes the log files. Events already written stay written.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.f.Close()
	if w.jf != nil {
		err = errors.Join(err, w.jf.Close())
	}
	if err != nil {
		return fmt.Errorf("userlog: close: %w", err)
	}
	return nil
}

// appendLocked writes b to the end of f in one call while holding f's flock.
func appendLocked(ctx context.Context, f *os.File, b []byte, fsync bool) (err error) {
	if err := flock(ctx, f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return err
	}
	defer func() {
		if uerr := flock(context.Background(), f, syscall.LOCK_UN); uerr != nil && err == nil {
			err = uerr
		}
	}()
	// Under the lock no other writer moves the end of the file, so its size now is where
	// this event starts, and where to cut back to if the write stops part way.
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	n, err := f.Write(b)
	if err != nil {
		if n > 0 {
			if terr := f.Truncate(fi.Size()); terr != nil {
				return fmt.Errorf("%w (and cutting off the partial event failed: %v)", err, terr)
			}
		}
		return err
	}
	if fsync {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("fsync: %w", err)
		}
	}
	return nil
}

// flock applies a flock operation. For LOCK_EX|LOCK_NB it retries with backoff while the
// lock is held elsewhere, until ctx ends.
func flock(ctx context.Context, f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	delay := lockRetryMin
	for {
		var ferr error
		if err := rc.Control(func(fd uintptr) { ferr = syscall.Flock(int(fd), how) }); err != nil {
			return err
		}
		switch {
		case ferr == nil:
			return nil
		case errors.Is(ferr, syscall.EINTR):
			continue
		case !errors.Is(ferr, syscall.EWOULDBLOCK) || how&syscall.LOCK_NB == 0:
			return fmt.Errorf("flock: %w", ferr)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for the log lock: %w", ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, lockRetryMax)
	}
}
