package cloud

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

// idHexLen is the length of the hex part of EC2's long resource ids (i-0123456789abcdef0),
// which EC2 has issued since 2016 and every client accepts.
const idHexLen = 17

// newID makes a fresh random resource id with the given prefix ("i-", "r-", "key-").
func newID(prefix string) string {
	var b [9]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])[:idHexLen]
}

// stableID derives an id from a seed, for resources the cloud does not model but must
// name consistently (security groups named by a client, VPCs of subnets).
func stableID(prefix, seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return prefix + hex.EncodeToString(sum[:9])[:idHexLen]
}
