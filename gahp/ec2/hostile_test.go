//go:build linux

package ec2

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ec2grid/ec2grid/gahp"
	"github.com/ec2grid/ec2grid/gahp/ec2/ec2test"
)

// TestHostileUserDataFile: a user-data file that grew past EC2's limit after condor_submit
// checked it (100 MB here, a sparse file), or that does so only with the inline user data,
// or that is a directory or a FIFO, fails the start with E_FILE_IO naming the file, at once
// (a FIFO is never opened for reading), and nothing reaches the cloud.
func TestHostileUserDataFile(t *testing.T) {
	t.Parallel()
	f := newFake(t, ec2test.Options{})
	r := newRig(t, f.URL, fastOptions())
	huge := filepath.Join(r.dir, "huge")
	writeFile(t, huge, "")
	if err := os.Truncate(huge, 100<<20); err != nil {
		t.Fatal(err)
	}
	half := filepath.Join(r.dir, "half")
	writeFile(t, half, strings.Repeat("h", maxUserData/2))
	dir := filepath.Join(r.dir, "dir")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(r.dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, inline, file, want string
	}{
		{"100 MB file", gahp.Null, huge, fmt.Sprintf("is %d bytes, more than the %d bytes", 100<<20, maxUserData)},
		{"file and inline over the limit", strings.Repeat("i", maxUserData/2+1), half, fmt.Sprintf("is %d bytes, more than", maxUserData/2)},
		{"directory", gahp.Null, dir, "is a directory"},
		{"FIFO", gahp.Null, fifo, "is a named pipe (FIFO)"},
	}
	for _, tt := range tests {
		args := startArgs("ami-1", gahp.Null, gahp.Null)
		args[2], args[3] = tt.inline, tt.file
		res := r.cmd(CmdStart, args...)
		if res[0] != "1" || res[1] != "E_FILE_IO" || !strings.Contains(res[2], tt.file) || !strings.Contains(res[2], tt.want) {
			t.Errorf("%s: %q, want E_FILE_IO naming the file and %q", tt.name, res, tt.want)
		}
	}
	if n := len(f.Instances()); n != 0 {
		t.Errorf("%d instances started from refused user data", n)
	}
	// At the limit exactly, inline and file together, the start goes through.
	args := startArgs("ami-1", gahp.Null, gahp.Null)
	args[2], args[3] = strings.Repeat("i", maxUserData/2), half
	r.must(CmdStart, args...)
}

// TestHostileKeyFiles: an access or secret key file that is a directory, a FIFO or far too
// large fails the command with E_FILE_IO naming the file, at once, before any call.
func TestHostileKeyFiles(t *testing.T) {
	t.Parallel()
	f := newFake(t, ec2test.Options{})
	r := newRig(t, f.URL, fastOptions())
	good := r.ak
	dir := filepath.Join(r.dir, "dir")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(r.dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(r.dir, "huge")
	writeFile(t, huge, "")
	if err := os.Truncate(huge, 100<<20); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, want string }{
		{dir, "is a directory"},
		{fifo, "is a named pipe (FIFO)"},
		{huge, "too large for a key"},
	} {
		for _, which := range []string{"access", "secret"} {
			r.ak, r.sk = good, good
			if which == "access" {
				r.ak = tt.path
			} else {
				r.sk = tt.path
			}
			res := r.cmd(CmdServerType)
			if res[0] != "1" || res[1] != "E_FILE_IO" || !strings.Contains(res[2], which+" key") || !strings.Contains(res[2], tt.path) || !strings.Contains(res[2], tt.want) {
				t.Errorf("%s key file %s: %q, want E_FILE_IO and %q", which, filepath.Base(tt.path), res, tt.want)
			}
		}
	}
	if n := f.Calls("DescribeKeyPairs"); n != 0 {
		t.Errorf("%d calls reached the cloud with a refused key file", n)
	}
}

// TestKeypairFileIsADirectory: a key-pair file path that is a directory fails the command
// with E_FILE_IO; the directory stays and no temporary file is left.
func TestKeypairFileIsADirectory(t *testing.T) {
	t.Parallel()
	f := newFake(t, ec2test.Options{})
	r := newRig(t, f.URL, fastOptions())
	path := filepath.Join(r.dir, "k.pem")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	res := r.cmd(CmdCreateKeypair, "k1", path)
	if res[0] != "1" || res[1] != "E_FILE_IO" || !strings.Contains(res[2], "Failed to write private key") {
		t.Errorf("key file path that is a directory: %q, want E_FILE_IO", res)
	}
	entries, _ := os.ReadDir(r.dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	if st, err := os.Stat(path); err != nil || !st.IsDir() {
		t.Errorf("the directory was replaced: %v, %v", st, err)
	}
}

// TestKeypairFileInUnwritableDirectory: the private key cannot be written to a directory
// the gahp's user cannot write: E_FILE_IO, and neither the key file nor a temporary file is
// left. Root may write anywhere, so as root the command runs with the effective user id
// of nobody (the saved id lets the test return to root).
func TestKeypairFileInUnwritableDirectory(t *testing.T) {
	// Not parallel: the effective user id belongs to the whole process, and this test's
	// window must not overlap another test's file access.
	f := newFake(t, ec2test.Options{})
	r := newRig(t, f.URL, fastOptions())
	ro := filepath.Join(r.dir, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	// nobody must reach the key files and the directory, just not write there.
	for _, p := range []string{filepath.Dir(r.dir), r.dir} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{r.ak, r.sk} {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(ro, "k.pem")
	var res []string
	asUnprivileged(t, func() {
		if err := os.WriteFile(filepath.Join(ro, "probe"), nil, 0o600); err == nil {
			t.Fatal("the read-only directory is writable: the test proves nothing")
		}
		res = r.cmd(CmdCreateKeypair, "k1", path)
	})
	if res[0] != "1" || res[1] != "E_FILE_IO" || !strings.Contains(res[2], "permission denied") {
		t.Errorf("key file in a read-only directory: %q, want E_FILE_IO, permission denied", res)
	}
	entries, err := os.ReadDir(ro)
	if err != nil || len(entries) != 0 {
		t.Errorf("the directory holds %v (%v), want nothing", entries, err)
	}
}

// unprivileged is the user id root tests drop to: nobody's, on Debian and most systems.
const unprivileged = 65534

// asUnprivileged runs fn with the effective user id of nobody when the test runs as root,
// and as is otherwise.
func asUnprivileged(t *testing.T, fn func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		fn()
		return
	}
	if err := syscall.Setresuid(-1, unprivileged, 0); err != nil {
		t.Skipf("cannot drop to uid %d: %v", unprivileged, err)
	}
	defer func() {
		if err := syscall.Setresuid(-1, 0, -1); err != nil {
			panic(fmt.Sprintf("cannot return to root: %v", err)) // later tests would fail mysteriously
		}
	}()
	fn()
}
