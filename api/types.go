// Package api is the contract between `ec2grid daemon` and the condor_* commands: the
// request and reply types, the Client that calls the daemon over its Unix socket, and
// the server handler that answers it (see docs/ec2grid-daemon.md).
//
// The transport is HTTP/1.1 with JSON bodies over the Unix socket $EC2GRID_HOME/daemon.sock
// (mode 0600). The caller's identity is never taken from a body: the server reads the
// socket's SO_PEERCRED. Job ads travel as strings in ClassAd long form, one per ad, so
// expressions stay exact.
package api

import (
	"errors"
	"fmt"
	"time"
)

// The versioned routes. GET for ping and next-cluster, POST for the rest.
const (
	PathPing        = "/v1/ping"
	PathStop        = "/v1/stop"
	PathNextCluster = "/v1/next-cluster"
	PathSubmit      = "/v1/submit"
	PathQuery       = "/v1/query"
	PathAct         = "/v1/act"
	PathEdit        = "/v1/edit"
)

// The codes of error replies (ErrorBody.Code, Error.Code).
const (
	CodeBadRequest  = "bad_request"
	CodeNotFound    = "not_found"
	CodeForbidden   = "forbidden"
	CodeConflict    = "conflict"
	CodeUnavailable = "unavailable"
	CodeInternal    = "internal"
)

// The actions of ActRequest.Action.
const (
	ActionHold    = "hold"
	ActionRelease = "release"
	ActionRemove  = "remove"
	// ActionRemoveX is condor_rm -forcex: a job already Removed leaves the queue for the
	// history at once.
	ActionRemoveX = "removex"
)

// The statuses of ActResult.Status.
const (
	StatusDone      = "done"
	StatusNotFound  = "not_found"
	StatusForbidden = "forbidden"
	// StatusBadStatus: the job is not in a status the action applies to (release of a
	// job not held, hold of a job already held, removex of a job not removed).
	StatusBadStatus = "bad_status"
)

// Peer is who is calling, from the connection's SO_PEERCRED; User is the uid's login
// name (or the uid in decimal when the system has no name for it).
type Peer struct {
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
	PID  int    `json:"pid"`
	User string `json:"user"`
}

// PingResponse is the reply to GET /v1/ping.
type PingResponse struct {
	Version string    `json:"version"`
	PID     int       `json:"pid"`
	Home    string    `json:"home"`
	Socket  string    `json:"socket"`
	Started time.Time `json:"started"`
	Jobs    int       `json:"jobs"`   // jobs in the queue
	Uptime  string    `json:"uptime"` // time since Started, rounded to the second
}

// StopRequest is the body of POST /v1/stop (empty). Only the daemon's own user or root
// may stop it; the daemon replies, then shuts down cleanly.
type StopRequest struct{}

// StopResponse is the reply to POST /v1/stop (empty).
type StopResponse struct{}

// NextClusterResponse is the reply to GET /v1/next-cluster: the id the next submitted
// cluster will get (it reserves nothing).
type NextClusterResponse struct {
	Cluster int64 `json:"cluster"`
}

// SubmitRequest is the body of POST /v1/submit.
type SubmitRequest struct {
	// SubmitKey is a UUID chosen by condor_submit; a retry with the same key returns the
	// same clusters and adds nothing.
	SubmitKey string `json:"submit_key"`
	// ExpectCluster is the cluster id the ads were built for ($(Cluster) expansion);
	// 0 = don't care. When the next cluster id differs, the reply is 409 "conflict"
	// with NextCluster set, and condor_submit rebuilds its ads and retries.
	ExpectCluster int64 `json:"expect_cluster"`
	// Clusters: each inner list is one cluster's job ads in long form, ProcId 0..n-1 in
	// order; with Common, only what each job adds to its cluster's common attributes.
	Clusters [][]string `json:"clusters"`
	// Common, when set, has one entry per cluster: the attributes every job of that
	// cluster shares, in long form, sent once instead of in every job's ad (as
	// condor_submit sends HTCondor's schedd a cluster ad and then each proc's
	// differences). A job's ad is its cluster's Common overlaid by its own entry in
	// Clusters; an empty Common entry leaves that cluster's ads whole. EncodeCluster
	// and AddCluster build them.
	Common []string `json:"common,omitempty"`
}

// SubmitResponse is the reply to POST /v1/submit: one entry per submitted cluster, in
// request order.
type SubmitResponse struct {
	Clusters []SubmittedCluster `json:"clusters"`
}

// SubmittedCluster is one cluster made by a submit.
type SubmittedCluster struct {
	Cluster int64 `json:"cluster"`
	Procs   int   `json:"procs"`
}

// QueryRequest is the body of POST /v1/query (condor_q, condor_history).
type QueryRequest struct {
	// Constraint is a ClassAd expression; "" = all jobs.
	Constraint string `json:"constraint"`
	// IDs are "C" or "C.P"; ORed together, then ANDed with Constraint.
	IDs []string `json:"ids"`
	// Owner: "" = all users; else only this owner's jobs.
	Owner string `json:"owner"`
	// Projection: the attributes to return; empty = all. ClusterId and ProcId are always
	// included.
	Projection []string `json:"projection"`
	// History queries the jobs that left the queue (condor_history).
	History bool `json:"history"`
	// Limit: history: at most this many, newest first; queue: at most this many, 0 = all.
	Limit int `json:"limit"`
}

// QueryResponse is the reply to POST /v1/query: long-form ads ordered by id (history:
// newest first).
type QueryResponse struct {
	Ads []string `json:"ads"`
}

// ActRequest is the body of POST /v1/act (condor_hold, condor_release, condor_rm).
// Explicit IDs name jobs; Users, Constraint and All select jobs. A selector skips jobs
// the caller may not touch; an explicit id of another user's job is reported forbidden.
type ActRequest struct {
	Action      string   `json:"action"`     // ActionHold, ActionRelease, ActionRemove, ActionRemoveX
	IDs         []string `json:"ids"`        // "C" or "C.P"
	Users       []string `json:"users"`      // all jobs of these users
	Constraint  string   `json:"constraint"` // a ClassAd expression
	All         bool     `json:"all"`
	Reason      string   `json:"reason"`        // -reason; "" = HTCondor's default
	HoldSubCode int64    `json:"hold_sub_code"` // condor_hold -subcode
}

// ActResult is the outcome for one job (or one explicit id that matched nothing).
type ActResult struct {
	ID     string `json:"id"`
	Status string `json:"status"` // StatusDone, StatusNotFound, StatusForbidden, StatusBadStatus
	Error  string `json:"error,omitempty"`
}

// ActResponse is the reply to POST /v1/act. Matched counts the jobs the request selected
// that the caller may touch.
type ActResponse struct {
	Results []ActResult `json:"results"`
	Matched int         `json:"matched"`
}

// EditRequest is the body of POST /v1/edit (condor_qedit): set Attr to the ClassAd
// expression Value in the jobs named by IDs and/or selected by Constraint.
type EditRequest struct {
	IDs        []string `json:"ids"`
	Constraint string   `json:"constraint"`
	Attr       string   `json:"attr"`
	Value      string   `json:"value"`
}

// EditResponse is the reply to POST /v1/edit.
type EditResponse struct {
	Results []ActResult `json:"results"`
}

// ErrorBody is the body of every error reply.
type ErrorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
	// NextCluster is set on a submit's "conflict": the id the ads must be rebuilt for.
	NextCluster int64 `json:"next_cluster,omitempty"`
}

// Error is an error reply from the daemon.
type Error struct {
	HTTPStatus  int
	Code        string // one of the Code* constants
	Message     string
	NextCluster int64 // submit conflicts: the next cluster id
}

func (e *Error) Error() string {
	return e.Message
}

// ErrNotRunning says the daemon's socket is absent or refuses connections; errors the
// Client returns for that are a *NotRunningError, which matches it with errors.Is.
var ErrNotRunning = errors.New("ec2grid daemon is not running")

// NotRunningError is the Client's error when no daemon answers at Socket. Its text is
// the message the commands print after "ERROR: ".
type NotRunningError struct {
	Socket string
	Err    error // the dial error
}

func (e *NotRunningError) Error() string {
	return fmt.Sprintf("the ec2grid daemon is not running (no socket at %s). Start it with: ec2grid daemon", e.Socket)
}

// Unwrap makes errors.Is(err, ErrNotRunning) true and keeps the dial error reachable.
func (e *NotRunningError) Unwrap() []error { return []error{ErrNotRunning, e.Err} }
