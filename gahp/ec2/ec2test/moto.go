package ec2test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// motoStartTimeout bounds moto's start; it imports a large Python package, which takes
// seconds on a cold cache.
const motoStartTimeout = 60 * time.Second

// Moto runs moto's EC2 server (an EC2 implementation ec2grid did not write) on a free
// loopback port for the test and returns its URL. Without moto (python3 -m moto.server) the
// test is skipped, or fails when CI=true, where moto is part of the machine image. moto
// routes a request by its signing scope, so requests must be signed for ec2 in us-east-1.
func Moto(t testing.TB) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err == nil {
		err = exec.Command(py, "-c", "import moto.server").Run()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("moto is not installed (python3 -m moto.server): %v", err)
		}
		t.Skipf("moto is not installed (python3 -m moto.server): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	cmd := exec.Command(py, "-m", "moto.server", "-H", "127.0.0.1", "-p", port)
	logPath := filepath.Join(t.TempDir(), "moto.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill() // this process only, by its pid
		cmd.Wait()
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("moto log:\n%s", b)
		}
	})
	url := "http://127.0.0.1:" + port + "/"
	deadline := time.Now().Add(motoStartTimeout)
	for {
		resp, err := http.Post(url+"moto-api/reset", "text/plain", nil)
		if err == nil {
			resp.Body.Close()
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto did not start within %v: %v", motoStartTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
