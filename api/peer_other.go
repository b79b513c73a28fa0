//go:build !linux

package api

import (
	"fmt"
	"net"
	"runtime"
)

// PeerFromConn refuses on systems other than Linux: they have no SO_PEERCRED, and a
// server that cannot tell who calls must not act for anyone. (Porting means using
// getpeereid/LOCAL_PEERCRED there.)
func PeerFromConn(c net.Conn) (Peer, error) {
	return Peer{}, fmt.Errorf("peer credentials are not supported on %s: the daemon serves only Linux", runtime.GOOS)
}
