//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package submit

import "syscall"

// accessWriteSearch is W_OK|X_OK: creating a file in a directory needs both. POSIX gives
// the bits these values on every system this file builds for.
const accessWriteSearch = 0x2 | 0x1

// canWrite asks the kernel whether this process may create files in dir, with the same
// answer open(2) would give (ACLs, read-only mounts), without creating anything.
func canWrite(dir string) error {
	return syscall.Access(dir, accessWriteSearch)
}

// openNoBlock makes open(2) return at once on a FIFO instead of waiting for a writer; on
// a regular file it changes nothing.
const openNoBlock = syscall.O_NONBLOCK
