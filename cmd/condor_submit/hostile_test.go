//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/api"
	"github.com/ec2grid/ec2grid/submit"
)

// hostileTimeout bounds each run of the binary: a check that opened a FIFO would block
// forever, and the test must fail instead. It asserts nothing about speed.
const hostileTimeout = 60 * time.Second

// hostileJob is a valid job; %s is where the hostile line goes, before the queue statement.
const hostileJob = `universe = grid
grid_resource = ec2 https://ec2.amazonaws.com/
executable = ec2-test
ec2_access_key_id = AccessKeyID
ec2_secret_access_key = SecretAccessKey
ec2_ami_id = ami-60bd4609
%squeue
`

// submitBinary builds condor_submit into a directory anyone may read, so that it can also
// be run as another user.
func submitBinary(t *testing.T) string {
	t.Helper()
	dir := publicDir(t)
	bin := filepath.Join(dir, "condor_submit")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// publicDir is a temporary directory that every user may enter and read (t.TempDir makes
// its parent 0700).
func publicDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runBinary runs bin in dir with env added to a clean environment (no EC2GRID_* of the
// caller's), as the user cred names (nil: this process's).
func runBinary(t *testing.T, bin, dir string, cred *syscall.Credential, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hostileTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("condor_submit %q did not finish within %v (blocked on a FIFO?)", args, hostileTimeout)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errb.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errb.String()
}

// TestHostileInputBinary runs the real condor_submit on each hostile input.
func TestHostileInputBinary(t *testing.T) {
	bin := submitBinary(t)
	t.Run("refused", func(t *testing.T) { testRefusedBinary(t, bin) })
	t.Run("writable key file warning", func(t *testing.T) { testWritableKeyFileWarningBinary(t, bin) })
	t.Run("unwritable key pair directory", func(t *testing.T) { testUnwritableKeyPairDirBinary(t, bin) })
}

// testRefusedBinary: against a fake daemon, each hostile input gets exit status 1, an
// error saying where and what, and no submit request at all.
func testRefusedBinary(t *testing.T, bin string) {
	tests := []struct {
		name   string
		line   string                         // the hostile line (or lines), before queue
		before func(t *testing.T, dir string) // makes the hostile file
		env    []string
		want   string // on stderr, after "ERROR: on Line N of <file>: "
		at     int    // N; 0 means 7, the hostile line's
	}{
		{name: "10 MB line", line: "ec2_user_data = " + strings.Repeat("x", 10<<20) + "\n",
			want: "line is longer than 1048576 bytes"},
		{name: "100 MB user data file", line: "ec2_user_data_file = huge\n",
			before: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "huge")
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(p, 100<<20); err != nil {
					t.Fatal(err)
				}
			},
			want: fmt.Sprintf("ec2_user_data_file: the user data is %d bytes (ec2_user_data and ec2_user_data_file together); EC2 accepts at most 16384", 100<<20)},
		{name: "access key file is a FIFO", line: "ec2_access_key_id = fifo\n",
			before: func(t *testing.T, dir string) {
				if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: "ec2_access_key_id: Failed to open public key file <dir>/fifo (is a named pipe (FIFO), not a regular file)"},
		{name: "secret key file is a directory", line: "ec2_secret_access_key = sub\n",
			before: func(t *testing.T, dir string) {
				if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			want: "ec2_secret_access_key: Failed to open private key file <dir>/sub (is a directory)"},
		{name: "key pair file is a FIFO", line: "ec2_keypair_file = fifo\n",
			before: func(t *testing.T, dir string) {
				if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: "ec2_keypair_file: cannot create the key pair file <dir>/fifo: <dir>/fifo is a named pipe (FIFO), not a regular file"},
		{name: "world-writable key file, refused by the environment", line: "",
			before: func(t *testing.T, dir string) { chmod(t, filepath.Join(dir, "SecretAccessKey"), 0o666) },
			env:    []string{"EC2GRID_SUBMIT_REFUSE_WRITABLE_KEY_FILES=true"},
			want:   "ec2_secret_access_key: the private key file <dir>/SecretAccessKey is writable by others (mode 0666); refused because SUBMIT_REFUSE_WRITABLE_KEY_FILES is true",
			at:     5},
		{name: "world-writable key file, refused by config.hcl", line: "",
			before: func(t *testing.T, dir string) {
				chmod(t, filepath.Join(dir, "AccessKeyID"), 0o646)
				if err := os.WriteFile(filepath.Join(dir, "home", "config.hcl"), []byte("SUBMIT_REFUSE_WRITABLE_KEY_FILES = true\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: "ec2_access_key_id: the public key file <dir>/AccessKeyID is writable by others (mode 0646); refused because SUBMIT_REFUSE_WRITABLE_KEY_FILES is true",
			at:   4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fakeDaemon(t, 7)
			dir := keyDir(t)
			if err := os.Mkdir(filepath.Join(dir, "home"), 0o755); err != nil {
				t.Fatal(err)
			}
			if tt.before != nil {
				tt.before(t, dir)
			}
			sub := filepath.Join(dir, "job.sub")
			if err := os.WriteFile(sub, []byte(fmt.Sprintf(hostileJob, tt.line)), 0o644); err != nil {
				t.Fatal(err)
			}
			env := append([]string{"EC2GRID_HOME=" + filepath.Join(dir, "home"), "EC2GRID_SOCKET=" + s.Socket, "USER=alice"}, tt.env...)
			code, stdout, stderr := runBinary(t, bin, dir, nil, env, sub)
			at := tt.at
			if at == 0 {
				at = 7
			}
			want := fmt.Sprintf("ERROR: on Line %d of %s: %s", at, sub, strings.ReplaceAll(tt.want, "<dir>", dir))
			if code != 1 || !strings.Contains(stderr, want) {
				t.Errorf("exit %d, stderr %.400q\nwant exit 1 and %q", code, stderr, want)
			}
			if len(stderr) > 2000 {
				t.Errorf("stderr is %d bytes: it repeats the input", len(stderr))
			}
			if strings.Contains(stdout, "submitted") {
				t.Errorf("stdout %q", stdout)
			}
			if n := len(s.Only(api.PathSubmit)); n != 0 {
				t.Errorf("%d submit requests reached the daemon", n)
			}
		})
	}
}

// testWritableKeyFileWarningBinary: by default a key file others may write is queued with a
// warning on stderr naming the file, never its contents.
func testWritableKeyFileWarningBinary(t *testing.T, bin string) {
	s := fakeDaemon(t, 7)
	dir := keyDir(t)
	chmod(t, filepath.Join(dir, "SecretAccessKey"), 0o622)
	sub := filepath.Join(dir, "job.sub")
	if err := os.WriteFile(sub, []byte(fmt.Sprintf(hostileJob, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runBinary(t, bin, dir, nil, []string{"EC2GRID_HOME=" + dir, "EC2GRID_SOCKET=" + s.Socket, "USER=alice"}, sub)
	if code != 0 || !strings.Contains(stdout, "1 job(s) submitted to cluster 7.") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	want := "WARNING: on Line 5 of " + sub + ": ec2_secret_access_key: the private key file " + filepath.Join(dir, "SecretAccessKey") + " is writable by others (mode 0622)"
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr %q\nwant %q", stderr, want)
	}
	if strings.Contains(stderr+stdout, "KEY-MATERIAL") {
		t.Error("the key appears in the output")
	}
	if n := len(s.Only(api.PathSubmit)); n != 1 {
		t.Errorf("%d submit requests, want 1", n)
	}
}

// testUnwritableKeyPairDirBinary: a key pair file in a directory the user cannot write is
// refused. Root may write anywhere, so as root the binary runs as nobody.
func testUnwritableKeyPairDirBinary(t *testing.T, bin string) {
	dir := keyDir(t)
	for _, name := range []string{"AccessKeyID", "SecretAccessKey"} {
		chmod(t, filepath.Join(dir, name), 0o644) // nobody must read them: only the directory is at issue
	}
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		cred = &syscall.Credential{Uid: 65534, Gid: 65534} // nobody, nogroup
	}
	sub := filepath.Join(dir, "job.sub")
	if err := os.WriteFile(sub, []byte(fmt.Sprintf(hostileJob, "ec2_keypair_file = ro/k.pem\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runBinary(t, bin, dir, cred, []string{"EC2GRID_HOME=" + dir, "USER=nobody"}, "-dry-run", "-", sub)
	want := "ERROR: on Line 7 of " + sub + ": ec2_keypair_file: cannot create the key pair file " + filepath.Join(ro, "k.pem") + ": directory " + ro + " is not writable: permission denied"
	if code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q\nwant exit 1 and %q", code, stderr, want)
	}
	if stdout != "" {
		t.Errorf("stdout %q, want nothing", stdout)
	}
	if entries, _ := os.ReadDir(ro); len(entries) != 0 {
		t.Errorf("the directory holds %v", entries)
	}
}

// keyDir is a public directory holding the two key files hostileJob names.
func keyDir(t *testing.T) string {
	t.Helper()
	dir := publicDir(t)
	for _, name := range []string{"AccessKeyID", "SecretAccessKey"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("KEY-MATERIAL\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func chmod(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// TestConfigMistakeStopsSubmit: a configuration with a mistake stops condor_submit before
// anything is queued (it might have asked for key files to be refused).
func TestConfigMistakeStopsSubmit(t *testing.T) {
	s := fakeDaemon(t, 7)
	_, subFile := setup(t)
	if err := os.WriteFile(filepath.Join(s.Home, "config.hcl"), []byte("SUBMIT_REFUSE_WRITABLE_KEY_FILES = \"maybe\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runWith(s.Getenv, "", subFile)
	want := "ERROR: read the configuration: " + filepath.Join(s.Home, "config.hcl") + `:1: SUBMIT_REFUSE_WRITABLE_KEY_FILES: "maybe" is not true or false`
	if code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q\nwant exit 1 and %q", code, stderr, want)
	}
	if n := len(s.Only(api.PathSubmit)); n != 0 {
		t.Errorf("%d submit requests reached the daemon", n)
	}
}

// TestComposeReadIsBounded: with -append the file is read whole to compose it; that read
// stops past submit.MaxFileBytes too, with an error, and nothing is queued.
func TestComposeReadIsBounded(t *testing.T) {
	s := fakeDaemon(t, 7)
	setup(t)
	big := strings.Repeat("# padding padding padding padding padding padding padding padding\n", submit.MaxFileBytes/64+1)
	code, _, stderr := runWith(s.Getenv, big, "-a", "x = 1", "-")
	want := fmt.Sprintf("ERROR: in <stdin>: submit file is larger than %d bytes", submit.MaxFileBytes)
	if code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %.300q\nwant exit 1 and %q", code, stderr, want)
	}
	if n := len(s.Only(api.PathSubmit)); n != 0 {
		t.Errorf("%d submit requests reached the daemon", n)
	}
}
