package ec2

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/ec2grid/ec2grid/gahp"
	"github.com/ec2grid/ec2grid/gahp/ec2/ec2test"
)

// generous bounds every wait in these tests; none asserts speed.
const generous = 30 * time.Second

// rig is one gahp (gahp.Server over this package's commands) with a raw line interface and
// a gahp.Client, talking to a fake or real EC2 endpoint.
type rig struct {
	t      *testing.T
	g      *Gahp
	url    string
	ak, sk string // key file paths
	dir    string

	in   io.Writer
	lr   *gahp.LineReader
	rmu  sync.Mutex
	next int
}

// fastOptions keeps retries short so tests that exercise them stay quick.
func fastOptions() Options {
	return Options{BackoffBase: 5 * time.Millisecond, BackoffMax: 50 * time.Millisecond, RetryDeadline: generous}
}

func newRig(t *testing.T, url string, opts Options) *rig {
	t.Helper()
	dir := t.TempDir()
	r := &rig{t: t, url: url, dir: dir, ak: filepath.Join(dir, "AccessKeyID"), sk: filepath.Join(dir, "SecretAccessKey"), next: 100}
	// Trailing whitespace in key files is not part of the key.
	writeFile(t, r.ak, "AKIDTEST\n")
	writeFile(t, r.sk, "SECRETTEST \n")
	if opts.Logger == nil {
		opts.Logger = zaptest.NewLogger(t)
	}
	g, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	r.g = g
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	srv := gahp.NewServer(gahp.ServerOptions{Version: Version, Commands: g.Commands(), Statistics: g.Statistics, Workers: 8, Logger: opts.Logger})
	go func() {
		defer close(done)
		srv.Serve(ctx, inR, outW)
		outW.Close()
	}()
	t.Cleanup(func() {
		cancel()
		inW.Close()
		go io.Copy(io.Discard, outR)
		<-done
	})
	r.in, r.lr = inW, gahp.NewLineReader(outR, gahp.MaxResultLine)
	if b := r.readLine(); b != Version {
		t.Fatalf("banner %q", b)
	}
	return r
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) readLine() string {
	r.t.Helper()
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		l, err := r.lr.ReadLine()
		ch <- res{string(l), err}
	}()
	select {
	case x := <-ch:
		if x.err != nil {
			r.t.Fatalf("read: %v", x.err)
		}
		return x.s
	case <-time.After(generous):
		r.t.Fatalf("no line within %v", generous)
		return ""
	}
}

func (r *rig) send(line string) {
	r.t.Helper()
	if _, err := io.WriteString(r.in, line); err != nil {
		r.t.Fatal(err)
	}
}

// id returns a fresh request id.
func (r *rig) id() string {
	r.rmu.Lock()
	defer r.rmu.Unlock()
	r.next++
	return strconv.Itoa(r.next)
}

// raw sends one request line (escaped fields joined by spaces, as given) and returns the raw
// result line, checking that the request was accepted with exactly "S".
func (r *rig) raw(line string) string {
	r.t.Helper()
	r.send(line + "\r\n")
	if got := r.readLine(); got != "S" {
		r.t.Fatalf("%q answered %q, want S", line, got)
	}
	deadline := time.Now().Add(generous)
	for time.Now().Before(deadline) {
		r.send("RESULTS\n")
		head := strings.Fields(r.readLine())
		if len(head) != 2 || head[0] != "S" {
			r.t.Fatalf("RESULTS answered %q", head)
		}
		n, _ := strconv.Atoi(head[1])
		if n > 1 {
			r.t.Fatalf("more results than requests: %d", n)
		}
		if n == 1 {
			return r.readLine()
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.t.Fatalf("no result for %q within %v", line, generous)
	return ""
}

// cmd runs a command with the rig's URL and key files and returns its result fields after
// the request id (escaping applied to args, as the gridmanager does).
func (r *rig) cmd(name string, args ...string) []string {
	r.t.Helper()
	id := r.id()
	fields := append([]string{name, id, r.url, r.ak, r.sk}, args...)
	line := gahp.Line(fields...)
	res := gahp.Tokenize(r.raw(line[:len(line)-1]))
	if res[0] != id {
		r.t.Fatalf("result id %q, want %s", res[0], id)
	}
	return res[1:]
}

// must runs a command and fails unless it succeeded.
func (r *rig) must(name string, args ...string) []string {
	r.t.Helper()
	res := r.cmd(name, args...)
	if res[0] != "0" {
		r.t.Fatalf("%s %q failed: %q", name, args, res)
	}
	return res[1:]
}

// startArgs is an EC2_VM_START argument list as the gridmanager builds it, from the ami on.
func startArgs(ami, keypair, token string) []string {
	return []string{ami, keypair, gahp.Null, gahp.Null, "m1.small", gahp.Null, gahp.Null, gahp.Null, token,
		gahp.Null, gahp.Null, gahp.Null, "1", gahp.Null, gahp.Null, gahp.Null}
}

func (r *rig) stats() []int {
	r.t.Helper()
	r.send("STATISTICS\n")
	f := strings.Fields(r.readLine())
	if len(f) != 5 || f[0] != "S" {
		r.t.Fatalf("STATISTICS answered %q", f)
	}
	out := make([]int, 4)
	for i := range out {
		out[i], _ = strconv.Atoi(f[i+1])
	}
	return out
}

func newFake(t *testing.T, opts ec2test.Options) *ec2test.Server {
	t.Helper()
	f := ec2test.NewServer(opts)
	t.Cleanup(f.Close)
	return f
}
