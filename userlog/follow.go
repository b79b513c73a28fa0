package userlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// FollowPollInterval is how often a Follower looks for new events and for rotation. A user
// log grows by a few events per job over minutes (HTCondor's own condor_wait polls, and
// sleeps up to 5 s between checks), so 100 ms is far below anything a person or the grid
// manager would notice, while ten fstat/stat calls a second cost nothing.
const FollowPollInterval = 100 * time.Millisecond

// FollowOptions configure a Follower.
type FollowOptions struct {
	ReaderOptions
	// PollInterval replaces FollowPollInterval when positive (tests shorten it).
	PollInterval time.Duration
}

// Follower reads a user log as it grows, like tail -F: Next waits for each complete event.
//
// When the file at the path is replaced (a new inode: the log was rotated or recreated)
// the Follower first reads what remains in the old file, then continues from the start of
// the new one. When the file shrinks below what was read (truncated in place) it starts
// again from the beginning. An event left unfinished in a rotated or truncated file is
// dropped: its writer is gone. A truncation followed by regrowth past the old size before
// the next poll cannot be told from growth; writers rotate by renaming, as HTCondor does.
//
// A Follower is not safe for concurrent use.
type Follower struct {
	path     string
	opts     FollowOptions
	interval time.Duration
	f        *os.File
	cr       *countingReader
	r        *Reader
	rotated  bool // the path names another file; drain this one, then switch
}

// Follow opens the log at path and returns a Follower positioned at its first event.
func Follow(path string, opts FollowOptions) (*Follower, error) {
	fl := &Follower{path: path, opts: opts, interval: opts.PollInterval}
	if fl.interval <= 0 {
		fl.interval = FollowPollInterval
	}
	if err := fl.open(); err != nil {
		return nil, err
	}
	return fl, nil
}

func (fl *Follower) open() error {
	f, err := os.Open(fl.path)
	if err != nil {
		return fmt.Errorf("userlog: follow: %w", err)
	}
	if fl.f != nil {
		fl.f.Close()
	}
	fl.f = f
	fl.cr = &countingReader{r: f}
	fl.r = NewReader(fl.cr, fl.opts.ReaderOptions)
	fl.rotated = false
	return nil
}

// countingReader counts the bytes read from the file, to notice truncation.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Next returns the next complete event, waiting for one until ctx ends. Like Reader.Next it
// returns a *ParseError for a malformed event (and has moved past it).
func (fl *Follower) Next(ctx context.Context) (Event, error) {
	for {
		ev, err := fl.Poll()
		if !errors.Is(err, ErrNoEvent) {
			return ev, err
		}
		t := time.NewTimer(fl.interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// Poll returns the next complete event if there is one now, and ErrNoEvent otherwise,
// without waiting. It handles rotation and truncation as Next does.
func (fl *Follower) Poll() (Event, error) {
	for {
		ev, err := fl.r.Next()
		if !errors.Is(err, ErrNoEvent) {
			return ev, err
		}
		if fl.rotated {
			// The old file is drained; move to the new one if it is there yet.
			if err := fl.open(); err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return nil, ErrNoEvent
				}
				return nil, err
			}
			continue
		}
		switched, err := fl.check()
		if err != nil {
			return nil, err
		}
		if !switched {
			return nil, ErrNoEvent
		}
	}
}

// check looks for rotation (the path names another file) and truncation (the file is
// shorter than what was read). It returns true when the Follower must read on.
func (fl *Follower) check() (bool, error) {
	cur, err := fl.f.Stat()
	if err != nil {
		return false, fmt.Errorf("userlog: follow: %w", err)
	}
	if cur.Size() < fl.cr.n {
		if _, err := fl.f.Seek(0, io.SeekStart); err != nil {
			return false, fmt.Errorf("userlog: follow: rewind after truncation: %w", err)
		}
		fl.cr = &countingReader{r: fl.f}
		fl.r = NewReader(fl.cr, fl.opts.ReaderOptions)
		return true, nil
	}
	named, err := os.Stat(fl.path)
	if err != nil {
		// Between a rename and the new file's creation the path is missing; keep reading
		// the old file meanwhile.
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("userlog: follow: %w", err)
	}
	if !os.SameFile(cur, named) {
		fl.rotated = true // one more read of the old file catches its last events
		return true, nil
	}
	return false, nil
}

// Close closes the file.
func (fl *Follower) Close() error {
	if err := fl.f.Close(); err != nil {
		return fmt.Errorf("userlog: follow: close: %w", err)
	}
	return nil
}
