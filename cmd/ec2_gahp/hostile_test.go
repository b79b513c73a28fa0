//go:build linux

package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/gahp"
	"github.com/ec2grid/ec2grid/gahp/ec2"
)

// fill is a reader of n bytes of 'x' that never holds more than one block.
type fill struct {
	n     int64
	block []byte
}

func (f *fill) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(int64(len(p)), f.n)], f.block)
	f.n -= int64(k)
	return k, nil
}

// maxGahpHWM bounds the resident memory the gahp may reach while a 1 GB line goes by:
// far above what it needs (its limit is 1 MiB a line), far below the line.
const maxGahpHWM = 256 << 20

// TestGigabyteLine sends the built ec2_gahp a 1 GB request line without a newline in it
// (generated, never held): the gahp answers E, then answers the next line, and its peak
// resident memory stays far below the line's size.
func TestGigabyteLine(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "ec2_gahp")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		stdin.Close()
		select {
		case <-done:
		case <-time.After(waitExit):
			cmd.Process.Kill()
			<-done
		}
	}()
	go func() {
		src := io.MultiReader(strings.NewReader("ECHO 1 "), &fill{n: 1 << 30, block: bytes.Repeat([]byte{'x'}, 64<<10)}, strings.NewReader("\nVERSION\n"))
		io.Copy(stdin, src)
	}()

	lines := make(chan string)
	go func() {
		defer close(lines)
		lr := gahp.NewLineReader(stdout, gahp.MaxResultLine)
		for {
			l, err := lr.ReadLine()
			if err != nil {
				return
			}
			lines <- string(l)
		}
	}()
	var got []string
	for len(got) < 3 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("output ended after %q; stderr %s", got, tail(stderr.String(), 2000))
			}
			got = append(got, l)
		case <-time.After(waitCall):
			t.Fatalf("after %q, nothing within %v", got, waitCall)
		}
	}
	if want := []string{ec2.Version, "E", "S " + ec2.Version}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ec2_gahp wrote %q, want %q", got, want)
	}
	hwm, err := peakRSS(cmd.Process.Pid)
	if err != nil {
		t.Fatalf("peak memory: %v", err)
	}
	t.Logf("ec2_gahp peak resident memory after a 1 GB line: %d MiB", hwm>>20)
	if hwm > maxGahpHWM {
		t.Errorf("ec2_gahp's peak resident memory is %d bytes, over %d: it held the long line", hwm, maxGahpHWM)
	}
}

// peakRSS reads a process's VmHWM (its peak resident set) from /proc, in bytes.
func peakRSS(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, io.ErrUnexpectedEOF
}
