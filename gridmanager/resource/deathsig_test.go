package resource

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// deathsigHelperEnv makes the test binary the "daemon" of TestGahpDiesWithDaemon: it
// starts a gahp child (here sleep) through execGahp, prints the child's pid and waits to
// be killed.
const deathsigHelperEnv = "EC2GRID_RESOURCE_DEATHSIG_HELPER"

func init() {
	if os.Getenv(deathsigHelperEnv) != "1" {
		return
	}
	r := New(Key{URL: "http://cloud.test/"}, Options{GahpPath: "/bin/sleep", GahpArgs: []string{"300"}}, newRecorder())
	c, err := r.execGahp(context.Background())
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(c.pid)
	time.Sleep(time.Hour) // until killed
}

// TestGahpDiesWithDaemon: a daemon SIGKILLed takes its ec2_gahp with it, so no orphaned
// gahp finishes a start or writes a key pair file that the restarted daemon has already
// given up on (the crash loop's duplicate and leaked key file).
func TestGahpDiesWithDaemon(t *testing.T) {
	if _, err := os.Stat("/bin/sleep"); err != nil {
		t.Skip("no /bin/sleep")
	}
	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), deathsigHelperEnv+"=1")
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		helper.Process.Kill()
		helper.Wait()
		t.Fatalf("helper said %q", line)
	}
	if !alive(pid) {
		t.Fatalf("the gahp child %d is not running", pid)
	}
	helper.Process.Kill()
	helper.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the gahp child %d outlived its SIGKILLed parent", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports a process that exists and is not a zombie (a killed orphan may wait as a
// zombie for a pid 1 that does not reap).
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}
