package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/user"
	"strconv"
)

// ErrNoPeer says a request carries no verified caller: its connection's credentials
// could not be read. Such requests are refused.
var ErrNoPeer = errors.New("the caller's identity is unknown")

type peerKey struct{}

// peerResult is what ConnContext stores: the peer, or why there is none.
type peerResult struct {
	peer Peer
	err  error
}

// WithPeer returns ctx carrying p as the verified caller. The server's ConnContext uses
// it with the socket's credentials; unit tests use it to inject a caller.
func WithPeer(ctx context.Context, p Peer) context.Context {
	return context.WithValue(ctx, peerKey{}, peerResult{peer: p})
}

// PeerFrom returns the verified caller carried by ctx, or an error wrapping ErrNoPeer.
func PeerFrom(ctx context.Context) (Peer, error) {
	r, ok := ctx.Value(peerKey{}).(peerResult)
	if !ok {
		return Peer{}, ErrNoPeer
	}
	if r.err != nil {
		return Peer{}, fmt.Errorf("%w: %w", ErrNoPeer, r.err)
	}
	return r.peer, nil
}

// ConnContext is an http.Server ConnContext: it reads the connection's peer credentials
// once, when the connection is accepted, and puts them in every request's context.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	p, err := PeerFromConn(c)
	if err != nil {
		return context.WithValue(ctx, peerKey{}, peerResult{err: err})
	}
	return WithPeer(ctx, p)
}

// userName maps a uid to its login name. A uid the system cannot name is called by its
// number, as ls does, so a job can still be owned and matched by it.
func userName(uid int) string {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil || u.Username == "" {
		return strconv.Itoa(uid)
	}
	return u.Username
}
