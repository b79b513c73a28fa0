package jobs

import (
	"context"
	"sync"

	"github.com/google/uuid"

	"github.com/ec2grid/ec2grid/classad"
)

// NewMemory returns a Store that keeps everything in memory, for unit tests of callers.
// It behaves as the bbolt store does in everything but surviving a restart.
func NewMemory() Store {
	q, err := newQueue(&memBackend{}, uuid.NewString())
	if err != nil {
		panic("jobs: memory backend cannot fail to load: " + err.Error())
	}
	return q
}

// memBackend keeps only the history; the queue's memory is the rest of the state.
type memBackend struct {
	mu   sync.Mutex
	hist []*classad.ClassAd
}

func (m *memBackend) load() ([]*classad.ClassAd, int64, map[string]int64, error) {
	return nil, 1, nil, nil
}
func (m *memBackend) submit(string, int64, *classad.ClassAd, []*classad.ClassAd) error {
	return nil
}
func (m *memBackend) close() error { return nil }

func (m *memBackend) flush(_ []*classad.ClassAd, removed []*classad.ClassAd) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hist = append(m.hist, removed...)
	return nil
}

func (m *memBackend) history(ctx context.Context, constraint classad.Expr, limit int) ([]*classad.ClassAd, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*classad.ClassAd
	for i := len(m.hist) - 1; i >= 0; i-- {
		if limit > 0 && len(out) >= limit {
			break
		}
		if constraint == nil || m.hist[i].Eval(constraint).IsTrue() {
			out = append(out, m.hist[i].Copy())
		}
	}
	return out, nil
}
