package jobs

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ec2grid/ec2grid/classad"
)

// GroupCommitWindow is how long the committer waits after the first batched update
// before writing: long enough for a burst of updates from the grid manager (one per job
// after a DescribeInstances of hundreds of instances) to share one fsync, short enough
// that a crash loses well under a probe interval of work, which the next probe redoes.
const GroupCommitWindow = 5 * time.Millisecond

// SubscriberBuffer is the number of events a subscriber's channel holds before events
// are dropped in favour of a Resync: a submit of a large cluster sends one event per
// job, and a grid manager busy for a moment should not have to re-read the queue.
const SubscriberBuffer = 4096

// backend is where the queue keeps its state besides memory. Calls that write are
// serialized by the queue (writeMu), so a group commit never reorders with a submit.
type backend interface {
	load() (jobs []*classad.ClassAd, nextCluster int64, keys map[string]int64, err error)
	// submit stores a new cluster: base is the ad its jobs are chained to.
	submit(key string, cluster int64, base *classad.ClassAd, jobs []*classad.ClassAd) error
	// flush writes put (queued jobs) and moves removed (whole ads of deleted jobs, in the
	// order deleted) from the queue to the history, all in one transaction.
	flush(put []*classad.ClassAd, removed []*classad.ClassAd) error
	history(ctx context.Context, constraint classad.Expr, limit int) ([]*classad.ClassAd, error)
	close() error
}

type subscriber struct {
	ch     chan Event
	lagged bool
}

// queue is the Store both implementations share: every job in memory, indexed by id,
// with a backend for durability. Its guarantee: what SubmitCluster, Delete and a Durable
// Update acknowledged is in the backend; batched updates reach it within
// GroupCommitWindow; memory always shows every acknowledged change; a deleted job is
// always in the queue or the history as History and Get see them, never both or
// neither.
type queue struct {
	be      backend
	queueID string // fixed for the life of the store

	writeMu sync.Mutex // serializes backend writes

	mu          sync.RWMutex
	jobs        map[JobID]*classad.ClassAd
	nextCluster int64
	keys        map[string]int64
	dirty       map[JobID]struct{}
	pending     []*classad.ClassAd // deleted jobs (whole ads) waiting for the next commit
	committing  []*classad.ClassAd // deleted jobs the commit in progress is writing
	waiters     []chan error
	subs        map[*subscriber]struct{}
	closed      bool

	kick   chan struct{} // batched work: commit within GroupCommitWindow
	urgent chan struct{} // a caller waits for the disk: commit now
	done   chan struct{}
	wg     sync.WaitGroup
}

func newQueue(be backend, queueID string) (*queue, error) {
	ads, next, keys, err := be.load()
	if err != nil {
		return nil, err
	}
	q := &queue{
		be:          be,
		queueID:     queueID,
		jobs:        make(map[JobID]*classad.ClassAd, len(ads)),
		nextCluster: next,
		keys:        keys,
		dirty:       map[JobID]struct{}{},
		subs:        map[*subscriber]struct{}{},
		kick:        make(chan struct{}, 1),
		urgent:      make(chan struct{}, 1),
		done:        make(chan struct{}),
	}
	if q.keys == nil {
		q.keys = map[string]int64{}
	}
	if q.nextCluster < 1 {
		q.nextCluster = 1
	}
	for _, ad := range ads {
		q.jobs[ID(ad)] = ad
	}
	q.wg.Add(1)
	go q.committer()
	return q, nil
}

func (q *queue) committer() {
	defer q.wg.Done()
	for {
		select {
		case <-q.done:
			return
		case <-q.urgent:
		case <-q.kick:
			// Only batched work: wait for the rest of the burst, unless a caller starts
			// waiting for the disk meanwhile.
			t := time.NewTimer(GroupCommitWindow)
			select {
			case <-q.done:
				t.Stop()
				return
			case <-t.C:
			case <-q.urgent:
				t.Stop()
			}
		}
		q.flush()
	}
}

// flush writes every dirty job and every pending delete in one backend transaction and
// wakes the waiters whose changes it carried.
func (q *queue) flush() {
	q.writeMu.Lock()
	defer q.writeMu.Unlock()
	q.mu.Lock()
	var put []*classad.ClassAd
	for id := range q.dirty {
		if ad, ok := q.jobs[id]; ok {
			put = append(put, ad.Copy())
		}
	}
	q.dirty = map[JobID]struct{}{}
	removed := q.pending
	q.committing = removed
	q.pending = nil
	waiters := q.waiters
	q.waiters = nil
	q.mu.Unlock()
	var err error
	if len(put)+len(removed) > 0 {
		err = q.be.flush(put, removed)
	}
	q.mu.Lock()
	q.committing = nil
	if err != nil {
		err = fmt.Errorf("group commit of %d jobs and %d deletes: %w", len(put), len(removed), err)
		// Keep them pending, so the next commit tries again rather than leaving memory
		// and disk apart for good.
		for _, ad := range put {
			if _, ok := q.jobs[ID(ad)]; ok {
				q.dirty[ID(ad)] = struct{}{}
			}
		}
		q.pending = append(removed, q.pending...)
	}
	q.mu.Unlock()
	for _, w := range waiters {
		w <- err
	}
}

func (q *queue) NextClusterID(ctx context.Context) (int64, error) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return 0, ErrClosed
	}
	return q.nextCluster, nil
}

func (q *queue) QueueID(ctx context.Context) (string, error) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return "", ErrClosed
	}
	return q.queueID, nil
}

func (q *queue) SubmitKeyCluster(ctx context.Context, key string) (int64, bool, error) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return 0, false, ErrClosed
	}
	c, ok := q.keys[key]
	return c, ok && key != "", nil
}

func (q *queue) SubmitCluster(ctx context.Context, key string, ads []*classad.ClassAd) (int64, error) {
	if len(ads) == 0 {
		return 0, ErrEmpty
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	q.writeMu.Lock()
	defer q.writeMu.Unlock()
	q.mu.RLock()
	if q.closed {
		q.mu.RUnlock()
		return 0, ErrClosed
	}
	if c, ok := q.keys[key]; ok && key != "" {
		q.mu.RUnlock()
		return c, nil
	}
	cluster := q.nextCluster
	q.mu.RUnlock()
	for i, ad := range ads {
		if ad == nil {
			return 0, fmt.Errorf("%w: job %d is nil", ErrBadCluster, i)
		}
	}
	base := clusterBase(ads, cluster)
	// Each job holds only what differs from the cluster's ad (ProcId, GlobalJobId, ...),
	// as HTCondor's schedd chains proc ads to cluster ads.
	jobs := classad.ChainedCopies(ads, base)
	for i, j := range jobs {
		if v, ok := j.EvalAttr(AttrClusterID).IntValue(); !ok || v != cluster {
			j.SetInt(AttrClusterID, cluster)
		}
		j.SetInt(AttrProcID, int64(i))
	}
	if err := q.be.submit(key, cluster, base, jobs); err != nil {
		return 0, fmt.Errorf("submit cluster %d: %w", cluster, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.nextCluster = cluster + 1
	if key != "" {
		q.keys[key] = cluster
	}
	for _, j := range jobs {
		id := ID(j)
		q.jobs[id] = j
		q.publish(Event{Kind: JobAdded, ID: id, Status: Status(j)})
	}
	return cluster, nil
}

func (q *queue) Get(ctx context.Context, id JobID) (*classad.ClassAd, error) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return nil, ErrClosed
	}
	ad, ok := q.jobs[id]
	if !ok {
		return nil, fmt.Errorf("job %s: %w", id, ErrNotFound)
	}
	return ad.Copy(), nil
}

func (q *queue) Update(ctx context.Context, id JobID, changes []Change, d Durability) error {
	return q.update(ctx, id, -1, changes, d)
}

func (q *queue) UpdateIf(ctx context.Context, id JobID, want int64, changes []Change, d Durability) error {
	return q.update(ctx, id, want, changes, d)
}

// update applies changes; when want >= 0 only if the job's JobStatus is want, checked
// under the same lock that applies them, so no other write lands between.
func (q *queue) update(ctx context.Context, id JobID, want int64, changes []Change, d Durability) error {
	for _, c := range changes {
		if eqFold(c.Name, AttrClusterID) || eqFold(c.Name, AttrProcID) {
			return fmt.Errorf("update job %s: %s cannot change", id, c.Name)
		}
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	ad, ok := q.jobs[id]
	if !ok {
		q.mu.Unlock()
		return fmt.Errorf("update job %s: %w", id, ErrNotFound)
	}
	if want >= 0 {
		if st := Status(ad); st != want {
			q.mu.Unlock()
			return fmt.Errorf("update job %s: JobStatus is %d, not %d: %w", id, st, want, ErrStatusChanged)
		}
	}
	// The stored ad is replaced, not changed in place, so copies already handed out
	// (Query results being evaluated) never see a half-applied update. The copy stays
	// chained to the cluster's ad; the changes land in the job's own bindings,
	// shadowing or hiding (Unset) the cluster's.
	ad = ad.Copy()
	Apply(ad, changes)
	q.jobs[id] = ad
	q.dirty[id] = struct{}{}
	var w chan error
	if d == Durable {
		w = make(chan error, 1)
		q.waiters = append(q.waiters, w)
	}
	for _, c := range changes {
		if eqFold(c.Name, AttrJobStatus) {
			q.publish(Event{Kind: StatusChanged, ID: id, Status: Status(ad)})
			break
		}
	}
	q.mu.Unlock()
	q.signal(w != nil)
	if w == nil {
		return nil
	}
	if err := q.wait(ctx, w); err != nil {
		return fmt.Errorf("update job %s: %w", id, err)
	}
	return nil
}

// signal tells the committer there is work: urgent when a caller waits for it to be on
// disk, which is committed at once rather than after GroupCommitWindow (the callers that
// arrive during that commit's fsync share the next one).
func (q *queue) signal(urgent bool) {
	ch := q.kick
	if urgent {
		ch = q.urgent
	}
	select {
	case ch <- struct{}{}:
	default:
	}
}

// wait waits for the group commit that carries the caller's change.
func (q *queue) wait(ctx context.Context, w chan error) error {
	select {
	case err := <-w:
		return err
	case <-ctx.Done():
		return fmt.Errorf("waiting for commit: %w", ctx.Err())
	}
}

func (q *queue) Delete(ctx context.Context, id JobID) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	ad, ok := q.jobs[id]
	if !ok {
		q.mu.Unlock()
		return fmt.Errorf("delete job %s: %w", id, ErrNotFound)
	}
	// The job leaves memory now and the disk with the next group commit, which writes
	// its history record and drops its queue record in one transaction. Until then
	// History shows it from pending, so it is never in neither. The history keeps the
	// whole ad: the cluster's may be gone when it is read.
	delete(q.jobs, id)
	delete(q.dirty, id)
	q.pending = append(q.pending, ad.Flatten())
	w := make(chan error, 1)
	q.waiters = append(q.waiters, w)
	q.publish(Event{Kind: JobDeleted, ID: id, Status: Status(ad)})
	q.mu.Unlock()
	q.signal(true)
	if err := q.wait(ctx, w); err != nil {
		return fmt.Errorf("delete job %s: %w", id, err)
	}
	return nil
}

func (q *queue) Query(ctx context.Context, constraint classad.Expr) ([]*classad.ClassAd, error) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return nil, ErrClosed
	}
	var out []*classad.ClassAd
	n := 0
	for _, ad := range q.jobs {
		// Checking the context on every job would cost more than the match.
		if n++; n%queryCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if constraint == nil || ad.Eval(constraint).IsTrue() {
			out = append(out, ad)
		}
	}
	sortByID(out)
	for i, ad := range out {
		out[i] = ad.Copy()
	}
	return out, nil
}

func (q *queue) QueryShared(ctx context.Context, constraint classad.Expr) ([]*classad.ClassAd, error) {
	type match struct {
		id JobID
		ad *classad.ClassAd
	}
	q.mu.RLock()
	if q.closed {
		q.mu.RUnlock()
		return nil, ErrClosed
	}
	var found []match
	n := 0
	for id, ad := range q.jobs {
		if n++; n%queryCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				q.mu.RUnlock()
				return nil, err
			}
		}
		if constraint == nil || ad.Eval(constraint).IsTrue() {
			found = append(found, match{id, ad})
		}
	}
	q.mu.RUnlock()
	// The map keys are the ids: sorting pairs costs a fraction of reading every ad's
	// ClusterId and ProcId again.
	slices.SortFunc(found, func(a, b match) int {
		if c := cmp.Compare(a.id.Cluster, b.id.Cluster); c != 0 {
			return c
		}
		return cmp.Compare(a.id.Proc, b.id.Proc)
	})
	out := make([]*classad.ClassAd, len(found))
	for i, m := range found {
		out[i] = m.ad
	}
	return out, nil
}

// queryCheckEvery is how many jobs Query matches between looks at its context: a few
// milliseconds of work, so a cancelled condor_q stops promptly.
const queryCheckEvery = 4096

func (q *queue) History(ctx context.Context, constraint classad.Expr, limit int) ([]*classad.ClassAd, error) {
	q.mu.RLock()
	closed := q.closed
	// Deletes not yet committed are the newest history: taken before the disk is read,
	// each is either still here or already on disk when the disk is read (then skipped).
	var recent []*classad.ClassAd
	for _, list := range [][]*classad.ClassAd{q.pending, q.committing} {
		for i := len(list) - 1; i >= 0; i-- {
			if constraint == nil || list[i].Eval(constraint).IsTrue() {
				recent = append(recent, list[i])
			}
		}
	}
	q.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	out, err := q.be.history(ctx, constraint, limit)
	if err != nil || len(recent) == 0 {
		return out, err
	}
	onDisk := make(map[JobID]bool, len(out))
	for _, ad := range out {
		onDisk[ID(ad)] = true
	}
	merged := make([]*classad.ClassAd, 0, len(recent)+len(out))
	for _, ad := range recent {
		if !onDisk[ID(ad)] {
			merged = append(merged, ad.Copy())
		}
	}
	merged = append(merged, out...)
	if limit > 0 && len(merged) > limit {
		merged = merged[:limit]
	}
	return merged, nil
}

func (q *queue) Subscribe(ctx context.Context) <-chan Event {
	s := &subscriber{ch: make(chan Event, SubscriberBuffer)}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		close(s.ch)
		return s.ch
	}
	q.subs[s] = struct{}{}
	q.mu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
		case <-q.done:
		}
		q.mu.Lock()
		if _, ok := q.subs[s]; ok {
			delete(q.subs, s)
			close(s.ch)
		}
		q.mu.Unlock()
	}()
	return s.ch
}

// publish sends ev to every subscriber without blocking; q.mu must be held for writing.
func (q *queue) publish(ev Event) {
	for s := range q.subs {
		if s.lagged {
			select {
			case s.ch <- Event{Kind: Resync}:
				s.lagged = false
			default:
				continue
			}
		}
		select {
		case s.ch <- ev:
		default:
			s.lagged = true
		}
	}
}

func (q *queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	// Closed first, so no update can wait for a commit that will never come.
	q.closed = true
	q.mu.Unlock()
	close(q.done)
	q.wg.Wait()
	q.flush()
	q.writeMu.Lock()
	defer q.writeMu.Unlock()
	q.mu.Lock()
	for s := range q.subs {
		close(s.ch)
	}
	q.subs = nil
	q.mu.Unlock()
	return q.be.close()
}

func sortByID(ads []*classad.ClassAd) {
	ids := make(map[*classad.ClassAd]JobID, len(ads))
	for _, ad := range ads {
		ids[ad] = ID(ad)
	}
	sort.Slice(ads, func(i, j int) bool {
		a, b := ids[ads[i]], ids[ads[j]]
		if a.Cluster != b.Cluster {
			return a.Cluster < b.Cluster
		}
		return a.Proc < b.Proc
	})
}

func eqFold(a, b string) bool { return strings.EqualFold(a, b) }

// clusterBase returns the cluster's ad: ClusterId and every attribute that all of ads
// bind alike (classad.SharedBindings), except ProcId. It is never changed afterwards:
// every job of the cluster is chained to it.
func clusterBase(ads []*classad.ClassAd, cluster int64) *classad.ClassAd {
	base := classad.SharedBindings(ads)
	base.Delete(lowerProcID)
	base.SetInt(AttrClusterID, cluster)
	return base
}

// The lower-case keys of ClusterId and ProcId, which clusterBase leaves out.
const (
	lowerClusterID = "clusterid"
	lowerProcID    = "procid"
)
