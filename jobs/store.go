package jobs

import (
	"context"
	"errors"

	"github.com/ec2grid/ec2grid/classad"
)

// Durability says when an Update's change must be on disk.
type Durability int

const (
	// Batched changes are visible at once and reach disk with the next group commit
	// (within GroupCommitWindow); a crash in that window loses them. For ordinary
	// attribute updates that the grid manager can redo after a restart.
	Batched Durability = iota
	// Durable changes are fsync'd before Update returns; they start a group commit at
	// once (carrying pending batched changes), and callers arriving during its fsync
	// share the next one. For the writes that idempotency rests on (client token,
	// keypair name, instance id): a restart must see them, or it would launch a second
	// instance.
	Durable
)

// EventKind says what happened to a job.
type EventKind int

const (
	// JobAdded: a job was submitted.
	JobAdded EventKind = iota + 1
	// StatusChanged: an Update set JobStatus.
	StatusChanged
	// JobDeleted: the job left the queue for the history.
	JobDeleted
	// Resync: events were dropped because the subscriber was slow; it must re-read the
	// queue with Query. ID and Status are zero.
	Resync
)

// Event is one notification to a subscriber.
type Event struct {
	Kind   EventKind
	ID     JobID
	Status int64 // the job's JobStatus after the event (0 for Resync)
}

// Errors of the store.
var (
	ErrNotFound   = errors.New("job not found")
	ErrClosed     = errors.New("job store closed")
	ErrEmpty      = errors.New("empty cluster")
	ErrBadCluster = errors.New("bad cluster")
	// ErrStatusChanged: UpdateIf found the job's JobStatus no longer the one the
	// caller read; nothing was changed.
	ErrStatusChanged = errors.New("job status changed")
)

// Store is the durable job queue. Implementations: OpenBolt (embedded, on disk) and
// NewMemory (tests). Every method is safe for concurrent use. Ads returned are copies
// the caller owns; ads passed in are copied too. A queued job's ad is chained to its
// cluster's ad (classad.ClassAd.ChainTo), which holds what all the cluster's jobs share
// and never changes, so copies share it and cost only the job's own bindings; every
// read sees the merged ad (Flatten gives a standalone one).
type Store interface {
	// NextClusterID returns the cluster id the next SubmitCluster will use (for
	// condor_submit -dry-run); it reserves nothing.
	NextClusterID(ctx context.Context) (int64, error)
	// QueueID returns the queue's identity: a UUID made once, when the store was
	// created, and kept with it (bbolt: in the meta bucket), so it survives restarts and
	// tells this queue's cloud resources from another queue's.
	QueueID(ctx context.Context) (string, error)
	// SubmitKeyCluster returns the cluster first made with submitKey and true, or false
	// when no SubmitCluster has used the key: a retried submit is recognised before its
	// ads are checked against the next cluster id.
	SubmitKeyCluster(ctx context.Context, submitKey string) (int64, bool, error)
	// SubmitCluster adds the jobs as one new cluster, all or nothing, durable before it
	// returns. It sets ClusterId on each job and ProcId 0..n-1. A non-empty submitKey
	// makes the call idempotent: a retry with a key already used returns the cluster
	// first made with it and adds nothing.
	SubmitCluster(ctx context.Context, submitKey string, jobs []*classad.ClassAd) (int64, error)
	// Get returns a copy of the job, or ErrNotFound.
	Get(ctx context.Context, id JobID) (*classad.ClassAd, error)
	// Update applies changes to the job; see Durability for when they are on disk.
	Update(ctx context.Context, id JobID, changes []Change, d Durability) error
	// UpdateIf is Update only while the job's JobStatus is want (the status the caller
	// read and decided from): the check and the change are one atomic step against
	// every other write, so a condor_rm or condor_hold committed after the caller's read
	// is never overwritten. Otherwise it changes nothing and returns an error wrapping
	// ErrStatusChanged that names the job and the status found; the caller re-reads and
	// decides again. (A store on etcd does it as one compare-and-swap transaction.)
	UpdateIf(ctx context.Context, id JobID, want int64, changes []Change, d Durability) error
	// Delete moves the job from the queue to the history, durably: the history record
	// and the removal from the queue are one transaction (a crash never leaves the job
	// in both or in neither), and Delete returns once it is on disk. Deletes share the
	// group commit of Batched and Durable updates, so concurrent deletes share fsyncs;
	// the job leaves Get, Query and Subscribe at once, and shows in History at once.
	// Durable rather than batched because callers' cleanups are not idempotent: the grid
	// manager writes 009 or 005 and the API's removex answers "done" before the job may
	// come back, so an acknowledged delete must never be undone by a crash.
	Delete(ctx context.Context, id JobID) error
	// Query returns copies of the queued jobs for which constraint is true (all jobs
	// when constraint is nil), ordered by id.
	Query(ctx context.Context, constraint classad.Expr) ([]*classad.ClassAd, error)
	// QueryShared is Query without the copies, for readers of many jobs (condor_q over
	// the whole queue): the ads are the store's own and must not be changed. They stay
	// consistent while the caller reads them, because an update replaces a job's ad
	// rather than changing it.
	QueryShared(ctx context.Context, constraint classad.Expr) ([]*classad.ClassAd, error)
	// History returns jobs that left the queue, newest first, for which constraint is
	// true (all when nil), at most limit of them (no limit when limit <= 0).
	History(ctx context.Context, constraint classad.Expr, limit int) ([]*classad.ClassAd, error)
	// Subscribe returns a channel of events, closed when ctx ends or the store closes.
	// Writers never wait for subscribers: the channel has SubscriberBuffer slots and,
	// when it is full, events are dropped and the next one delivered is a Resync.
	Subscribe(ctx context.Context) <-chan Event
	// Close flushes pending batched updates and releases the store.
	Close() error
}
