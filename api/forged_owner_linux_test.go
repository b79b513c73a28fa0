//go:build linux

package api

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childSubmitForged submits, as whoever this process runs as, a job whose ad names root as
// its Owner and User, and prints the cluster it got: the parent checks whose job it is.
func childSubmitForged(sock string) int {
	c := NewClient(sock)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ad := "Owner = \"root\"\nUser = \"root@submit.example.com\"\nCmd = \"ec2-test\"\nJobUniverse = 9\nGridResource = \"ec2 https://ec2.example.com/\"\nJobStatus = 1\n"
	resp, err := c.Submit(ctx, &SubmitRequest{Clusters: [][]string{{ad}}})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println(resp.Clusters[0].Cluster)
	return 0
}

// TestForgedOwnerFromAnotherUser: a user who is not root submits, over the real socket, a
// job whose ad says Owner = "root": the job is stored as that user's, from SO_PEERCRED,
// and root's name appears nowhere in it. (TestPeerCredentialsOverSocket covers the caller
// forging someone else's name as itself; this is the forgery that would matter, a less
// privileged user claiming root.) It needs root, to run the client as uid 65534.
func TestForgedOwnerFromAnotherUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a child as another uid (running as uid " + strconv.Itoa(os.Getuid()) + ")")
	}
	other, err := user.LookupId(strconv.Itoa(secondUID))
	if err != nil {
		t.Skipf("no user with uid %d: %v", secondUID, err)
	}
	dir, err := os.MkdirTemp("", "ec2grid-forge-")
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
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "api.test")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	sock := filepath.Join(dir, "daemon.sock")
	servePeerCred(t, f.srv, sock)
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), childSocketEnv+"="+sock, childForgeEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: secondUID, Gid: secondUID}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child as uid %d: %v\n%s", secondUID, err, out)
	}
	cluster, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatalf("child printed %q", out)
	}
	ad := f.get(cluster, 0)
	if got := str(ad, "Owner"); got != other.Username {
		t.Errorf("Owner = %q, want %q (the peer's, not the ad's root)", got, other.Username)
	}
	if got := str(ad, "User"); !strings.HasPrefix(got, other.Username+"@") {
		t.Errorf("User = %q, want %s@...", got, other.Username)
	}
	if strings.Contains(ad.String(), `"root`) {
		t.Errorf("the stored ad still names root:\n%s", ad)
	}
}
