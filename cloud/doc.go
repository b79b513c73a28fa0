// Package cloud is a local EC2-compatible endpoint speaking the EC2 Query API: the embedded
// default cloud for demos and the fault-injecting test bed. It imports nothing from jobs,
// gridmanager or gahp: it stands alone as a server.
//
// # Adding actions
//
// Each resource has its own file (instances.go, keypairs.go, tags.go; spot.go and others
// beside them) whose init function registers its actions:
//
//	func init() { register("DescribeFoos", describeFoos) }
//
//	// handler: read rq.params, act, write the members of <DescribeFoosResponse>.
//	func describeFoos(s *Server, rq *request, w *xmlWriter) error
//
// The server has already authenticated the request (rq.account, rq.owner()), applied the
// fault injector and DryRun, and writes the response element, its namespace and requestId
// around what the handler writes (element names get the flavor's prefix). A returned
// *apiError (clientError, serverError, errMissingParameter…) is answered as EC2's error
// document; any other error as InternalError. Element names must be botocore's (the
// locationName in service-2.json) and every list element <item>: SDKs silently drop what
// they do not recognise.
//
// # State
//
// All state lives in memory (Server.mem and extension[T] values) and in the bbolt file
// (store.go draws the bucket tree). Readers take s.mu.RLock. Every change goes through
// s.mutate(func(tx) (apply func(), err error)): writers are serialized by s.writeMu (so fn
// may read memory without s.mu), fn writes the change in the transaction, and apply, run
// under s.mu once the transaction is fsync'd, changes memory. Answer only after mutate
// returns: a crash after an answer then never loses what was answered.
//
// A file with state of its own keeps it in extension[T](s), stores it in its own
// top-level buckets and registers a resource (load at start, run for background work).
// registerKind makes a kind of id taggable by CreateTags/DeleteTags/DescribeTags;
// s.tagsOf gives a resource's tags. s.parseLaunch, s.buildInstances,
// s.storeNewInstances and s.schedule launch instances (spot requests reuse them), and
// s.consoleOutput gives an instance's console.
package cloud
