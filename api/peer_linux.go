//go:build linux

package api

import (
	"fmt"
	"net"
	"syscall"
)

// PeerFromConn returns the credentials of the process at the other end of a Unix socket
// connection (SO_PEERCRED: the kernel's record of the connecting process, which the
// caller cannot forge) and the uid's user name.
func PeerFromConn(c net.Conn) (Peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return Peer{}, fmt.Errorf("peer credentials: %T is not a Unix socket connection", c)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return Peer{}, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *syscall.Ucred
	var serr error
	err = raw.Control(func(fd uintptr) {
		cred, serr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return Peer{}, fmt.Errorf("peer credentials (SO_PEERCRED): %w", err)
	}
	uid := int(cred.Uid)
	return Peer{UID: uid, GID: int(cred.Gid), PID: int(cred.Pid), User: userName(uid)}, nil
}
