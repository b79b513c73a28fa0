package resource

import (
	"context"
	"sync"
)

// slots is a counting semaphore whose waiters are served highest priority first and, within
// a priority, in arrival order. Its guarantee: never more than n holders; a waiter whose
// context ends either holds nothing or gives its slot straight back.
type slots struct {
	mu     sync.Mutex
	n      int
	used   int
	queues [High + 1][]*slotWaiter
}

type slotWaiter struct {
	ch      chan struct{} // closed when granted
	granted bool          // guarded by slots.mu
}

func newSlots(n int) *slots { return &slots{n: n} }

func (s *slots) acquire(ctx context.Context, prio Priority) error {
	if prio < Low || prio > High {
		prio = Low
	}
	s.mu.Lock()
	if s.used < s.n {
		s.used++
		s.mu.Unlock()
		return nil
	}
	w := &slotWaiter{ch: make(chan struct{})}
	s.queues[prio] = append(s.queues[prio], w)
	s.mu.Unlock()
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	if w.granted {
		s.mu.Unlock()
		s.release()
		return ctx.Err()
	}
	q := s.queues[prio]
	for i, x := range q {
		if x == w {
			s.queues[prio] = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	return ctx.Err()
}

// release hands the slot to the first waiter of the highest priority, or frees it.
func (s *slots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := High; p >= Low; p-- {
		if q := s.queues[p]; len(q) > 0 {
			w := q[0]
			q[0] = nil
			s.queues[p] = q[1:]
			w.granted = true
			close(w.ch)
			return
		}
	}
	s.used--
}

// held returns how many slots are held and how many wait (for tests and logs).
func (s *slots) held() (used, waiting int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range s.queues {
		waiting += len(q)
	}
	return s.used, waiting
}
