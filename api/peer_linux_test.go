//go:build linux

package api

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/jobs"
)

// servePeerCred serves srv on a real Unix socket in dir with the SO_PEERCRED
// ConnContext, as the daemon does.
func servePeerCred(t *testing.T, srv *Server, sock string) {
	t.Helper()
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv, ConnContext: ConnContext}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
}

// The caller's identity comes from the kernel: a submit over a real socket is owned by
// the test's own user whatever Owner the ad names.
func TestPeerCredentialsOverSocket(t *testing.T) {
	f := newFixture(t)
	sock := filepath.Join(f.dir, "real.sock")
	servePeerCred(t, f.srv, sock)
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(sock)
	defer c.Close()
	resp, err := c.Submit(context.Background(), &SubmitRequest{Clusters: [][]string{ads(t, 1, map[string]string{"Owner": `"mallory"`})}})
	if err != nil {
		t.Fatal(err)
	}
	ad := f.get(resp.Clusters[0].Cluster, 0)
	if got := str(ad, "Owner"); got != me.Username {
		t.Errorf("Owner = %q, want the caller's name %q", got, me.Username)
	}

	// PeerFromConn directly: the uid, gid and pid of this process.
	ln, err := net.Listen("unix", filepath.Join(f.dir, "direct.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := net.Dial("unix", filepath.Join(f.dir, "direct.sock"))
		if err == nil {
			io.Copy(io.Discard, c)
		}
	}()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p, err := PeerFromConn(conn)
	if err != nil {
		t.Fatal(err)
	}
	if p.UID != os.Getuid() || p.GID != os.Getgid() || p.PID != os.Getpid() || p.User != me.Username {
		t.Errorf("peer = %+v, want uid %d gid %d pid %d user %s", p, os.Getuid(), os.Getgid(), os.Getpid(), me.Username)
	}
	// Not a Unix connection: refused.
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := PeerFromConn(a); err == nil {
		t.Error("PeerFromConn accepted a pipe")
	}
}

// secondUID is the uid the cross-user test runs its child as: nobody.
const secondUID = 65534

// Environment of the child process of TestSecondUIDForbidden.
const (
	childSocketEnv = "EC2GRID_TEST_CHILD_SOCKET"
	childJobEnv    = "EC2GRID_TEST_CHILD_JOB"
	childForgeEnv  = "EC2GRID_TEST_CHILD_FORGE" // submit a job that names root as its owner
)

// TestMain lets the test binary act as the second user's client.
func TestMain(m *testing.M) {
	if sock := os.Getenv(childSocketEnv); sock != "" {
		if os.Getenv(childForgeEnv) != "" {
			os.Exit(childSubmitForged(sock))
		}
		os.Exit(childHold(sock, os.Getenv(childJobEnv)))
	}
	os.Exit(m.Run())
}

// childHold tries to hold job as whoever this process runs as, and prints the result:
// the parent checks it. Exit 0 when the daemon answered.
func childHold(sock, job string) int {
	c := NewClient(sock)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := c.Act(ctx, &ActRequest{Action: ActionHold, IDs: []string{job}})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	for _, r := range resp.Results {
		fmt.Printf("%s %s uid=%d\n", r.ID, r.Status, os.Getuid())
	}
	return 0
}

// A real second user, where the machine allows it: as root, the test runs a copy of
// itself as uid 65534 (nobody), which tries to hold root's job over a real socket and
// must be refused. The daemon's socket is normally 0600; this one is opened to everyone
// so the refusal tested is the server's, from SO_PEERCRED, not the file mode's.
func TestSecondUIDForbidden(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a child as another uid (running as uid " + strconv.Itoa(os.Getuid()) + ")")
	}
	dir, err := os.MkdirTemp("", "ec2grid-2uid-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "api.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	sock := filepath.Join(dir, "daemon.sock")
	servePeerCred(t, f.srv, sock)
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	c := NewClient(sock)
	defer c.Close()
	resp, err := c.Submit(context.Background(), &SubmitRequest{Clusters: [][]string{ads(t, 1, nil)}})
	if err != nil {
		t.Fatal(err)
	}
	job := fmt.Sprintf("%d.0", resp.Clusters[0].Cluster)

	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), childSocketEnv+"="+sock, childJobEnv+"="+job)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: secondUID, Gid: secondUID}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child as uid %d: %v\n%s", secondUID, err, out)
	}
	want := fmt.Sprintf("%s forbidden uid=%d\n", job, secondUID)
	if string(out) != want {
		t.Errorf("child printed %q, want %q", out, want)
	}
	if s := jobs.Status(f.get(resp.Clusters[0].Cluster, 0)); s != jobs.StatusIdle {
		t.Errorf("root's job has status %d after the other user's hold", s)
	}
}
