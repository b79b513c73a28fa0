package cloud

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// handler answers one action. It reads rq.params, acts on the state (see doc.go for the
// locking rules) and writes the members of the response element to w: not the
// <ActionResponse> element itself nor <requestId>, which the server writes around them.
// An error it returns is answered instead, so w may hold half a body then; an *apiError
// is sent as it is, any other error as InternalError (500).
type handler func(s *Server, rq *request, w *xmlWriter) error

// request is one authenticated API call.
type request struct {
	ctx     context.Context
	id      string // the request id, in the body and the x-amzn-RequestId header
	action  string
	version string // the API version the client asked for, echoed in xmlns
	params  params
	account *Account
	now     time.Time
}

// owner is the OwnerID the request's resources belong to.
func (rq *request) owner() string { return rq.account.OwnerID }

// actions is the dispatch table, action name → handler. It is filled only by register,
// from init functions (one file per resource: instances.go, keypairs.go, tags.go, and the
// files colleagues add beside them), and only read once main runs.
var actions = map[string]handler{}

// register adds an action to the dispatch table; a name registered twice is a bug caught
// at start-up.
func register(name string, h handler) {
	if _, dup := actions[name]; dup {
		panic(fmt.Sprintf("cloud: action %s registered twice", name))
	}
	actions[name] = h
}

// resource is the life-cycle hooks of a kind of state kept by another file: load reads
// its buckets when the server opens (create them there with CreateBucketIfNotExists), run
// is started in its own goroutine once the server is up and must return when ctx ends.
// Either may be nil.
type resource struct {
	name string
	load func(s *Server, tx *bolt.Tx) error
	run  func(ctx context.Context, s *Server)
}

// resources is filled only by registerResource, from init functions.
var resources []resource

func registerResource(r resource) { resources = append(resources, r) }

// resourceKind is a kind of resource that can carry tags: its id prefix, its DescribeTags
// resource-type, and how to tell whether an owner's id exists (callers hold mu for
// reading) and the error when it does not.
type resourceKind struct {
	prefix, typ string
	exists      func(s *Server, owner, id string) bool
	notFound    func(id string) *apiError
}

// resourceKinds is filled only by registerKind, from init functions.
var resourceKinds []resourceKind

func registerKind(k resourceKind) { resourceKinds = append(resourceKinds, k) }

// kindOf gives the kind of a resource id by its prefix.
func kindOf(id string) (resourceKind, bool) {
	for _, k := range resourceKinds {
		if len(id) > len(k.prefix) && id[:len(k.prefix)] == k.prefix {
			return k, true
		}
	}
	return resourceKind{}, false
}

// mutate is the one way state changes. With writeMu held (writers are serialized; they
// may read memory without mu), it runs fn in a bbolt write transaction; fn stores what
// changes and returns how to apply it to memory. Once the transaction is committed and
// fsync'd, apply runs under mu. An error from fn or the commit changes nothing.
func (s *Server) mutate(fn func(tx *bolt.Tx) (apply func(), err error)) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.mutateLocked(fn)
}

// mutateLocked is mutate for a caller already holding writeMu.
func (s *Server) mutateLocked(fn func(tx *bolt.Tx) (apply func(), err error)) error {
	var apply func()
	err := s.store.db.Update(func(tx *bolt.Tx) error {
		var err error
		apply, err = fn(tx)
		return err
	})
	if err != nil {
		return err
	}
	if apply != nil {
		s.mu.Lock()
		apply()
		s.mu.Unlock()
	}
	return nil
}
