package resource

import (
	"os"
	"os/user"
	"strconv"
	"testing"
)

// TestOwnerCredential: the child runs as the owner only when we are root and the owner is
// another user; an owner root cannot find is an error, not a silent run as root.
func TestOwnerCredential(t *testing.T) {
	t.Parallel()
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	for _, owner := range []string{"", me.Username} {
		if cred, err := ownerCredential(owner); err != nil || cred != nil {
			t.Errorf("ownerCredential(%q) = %+v, %v; want none", owner, cred, err)
		}
	}
	if os.Geteuid() != 0 {
		if cred, err := ownerCredential("no-such-user-ec2grid"); err != nil || cred != nil {
			t.Errorf("not root: ownerCredential = %+v, %v; want none", cred, err)
		}
		return
	}
	if _, err := ownerCredential("no-such-user-ec2grid"); err == nil {
		t.Error("root: an unknown owner gave no error")
	}
	if u, err := user.Lookup("nobody"); err == nil {
		cred, err := ownerCredential("nobody")
		if err != nil || cred == nil || u.Uid != itoa(cred.Uid) {
			t.Errorf("root: ownerCredential(nobody) = %+v, %v; want uid %s", cred, err, u.Uid)
		}
	}
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
