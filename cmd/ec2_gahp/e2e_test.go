package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/gahp"
	"github.com/ec2grid/ec2grid/gahp/ec2"
	"github.com/ec2grid/ec2grid/gahp/ec2/ec2test"
)

// waitCloud bounds an ec2grid cloud's start (its first stdout line).
const waitCloud = 60 * time.Second

// startCloud runs `ec2grid cloud` on a free loopback port with a fresh state directory and
// returns its URL with the demo account's key files. It is stopped with SIGTERM, by its
// pid, when the test ends.
func startCloud(t *testing.T, flavor string, extra ...string) account {
	t.Helper()
	state := t.TempDir()
	args := append([]string{"cloud", "--listen", "127.0.0.1:0", "--state", state, "--flavor", flavor, "--boot-delay", "100ms"}, extra...)
	cmd := exec.Command(binary(t, "ec2grid"), args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	var mu sync.Mutex
	cmd.Stderr = lockedBuffer{&mu, &stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(waitExit):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			mu.Lock()
			t.Logf("ec2grid cloud stderr (last 4 KiB):\n%s", tail(stderr.String(), 4096))
			mu.Unlock()
		}
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(s)
		io.Copy(io.Discard, stdout)
	}()
	var url string
	select {
	case url = <-line:
	case <-time.After(waitCloud):
		t.Fatalf("ec2grid cloud printed no URL within %v", waitCloud)
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("ec2grid cloud printed %q; stderr:\n%s", url, stderr.String())
	}
	creds := filepath.Join(state, "credentials", "demo")
	return account{url: url, ak: filepath.Join(creds, "AccessKeyID"), sk: filepath.Join(creds, "SecretAccessKey")}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestEndToEndFake: a job's life through the real binary against the in-process fake.
func TestEndToEndFake(t *testing.T) {
	t.Parallel()
	f := ec2test.NewServer(ec2test.Options{AccessKey: "AKIDE2E"})
	defer f.Close()
	a := writeKeys(t, f.URL, "AKIDE2E", "e2e-secret")
	p := startGahp(t, nil)
	jobLife(t, p, a, "ami-12345678", ec2.ServerAmazon, true)
	if n := len(f.Instances()); n != 2 {
		t.Errorf("%d instances, want 2 (one on-demand, one spot)", n)
	}
}

// TestEndToEndCloud: the same life against ec2grid's cloud in every flavor; each flavor is
// detected as its HTCondor server type.
func TestEndToEndCloud(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		flavor, serverType string
		tokenWorks         bool
	}{
		{"aws", ec2.ServerAmazon, true},
		{"openstack", ec2.ServerOpenStack, false},
		{"nimbus", ec2.ServerNimbus, true},
		{"eucalyptus", ec2.ServerEucalyptus, false},
	} {
		t.Run(tc.flavor, func(t *testing.T) {
			t.Parallel()
			a := startCloud(t, tc.flavor)
			p := startGahp(t, nil)
			jobLife(t, p, a, "ami-12345678", tc.serverType, tc.tokenWorks)
		})
	}
}

// TestEndToEndMoto: the same life against moto's server, an EC2 we did not write.
func TestEndToEndMoto(t *testing.T) {
	t.Parallel()
	url := ec2test.Moto(t)
	a := writeKeys(t, url, "AKIDMOTO", "moto-secret")
	p := startGahp(t, nil)
	// moto sends no Server header (HTCondor calls it OpenStack) and ignores ClientToken.
	jobLife(t, p, a, "ami-12c6146b", ec2.ServerOpenStack, false)
}

// runJobs starts n jobs at once through the gahp the way HTCondor's gridmanager does on a
// cloud that honours ClientToken: each with its own token, and on NEED_CHECK_VM_START the
// same start again with the same token. Every start must succeed in the end; it returns
// the instance id per token.
func runJobs(t *testing.T, p *proc, a account, ami string, n int) map[string]string {
	t.Helper()
	var mu sync.Mutex
	ids := map[string]string{}
	needChecks := 0
	var wg sync.WaitGroup
	for j := range n {
		wg.Go(func() {
			token := fmt.Sprintf("job-%d-%d", j, time.Now().UnixNano())
			for attempt := 1; ; attempt++ {
				res := p.call(t, a, ec2.CmdStart, startArgs(ami, gahp.Null, gahp.Null, "m1.small", token)...)
				if res[0] == "0" && len(res) == 2 {
					mu.Lock()
					ids[token] = res[1]
					mu.Unlock()
					return
				}
				if res[0] == "1" && res[1] == "NEED_CHECK_VM_START" && attempt < 10 {
					mu.Lock()
					needChecks++
					mu.Unlock()
					continue
				}
				t.Errorf("job %d: START %q", j, res)
				return
			}
		})
	}
	wg.Wait()
	t.Logf("%d jobs started, %d NEED_CHECK_VM_START retried with the same token", len(ids), needChecks)
	return ids
}

// checkOnePerJob: the cloud holds exactly one instance per job token, and every job got it.
func checkOnePerJob(t *testing.T, p *proc, a account, ids map[string]string) {
	t.Helper()
	res := p.must(t, a, ec2.CmdStatusAll)
	if len(res)%8 != 0 {
		t.Fatalf("STATUS_ALL not 8-tuples: %d fields", len(res))
	}
	perToken := map[string][]string{}
	for i := 0; i < len(res); i += 8 {
		perToken[res[i+2]] = append(perToken[res[i+2]], res[i])
	}
	for token, id := range ids {
		if got := perToken[token]; len(got) != 1 || got[0] != id {
			t.Errorf("token %s: instances %v, want exactly %s", token, got, id)
		}
	}
	if len(res)/8 != len(ids) {
		t.Errorf("%d instances for %d jobs", len(res)/8, len(ids))
	}
}

// TestThrottlingFake: a cloud that throttles 30% of all calls and drops the answers of some
// starts it carried out. Every command still succeeds and no job gets two instances.
func TestThrottlingFake(t *testing.T) {
	t.Parallel()
	f := ec2test.NewServer(ec2test.Options{})
	defer f.Close()
	rng := rand.New(rand.NewPCG(7, 11))
	f.ThrottleWhen(func(string) bool { return rng.Float64() < 0.3 }) // runs under the fake's lock
	f.Inject("RunInstances", ec2test.DropAfter, 5)
	f.Inject("TerminateInstances", ec2test.DropAfter, 3)
	a := writeKeys(t, f.URL, "AKIDTHROTTLE", "secret")
	// RATE_LIMIT 10 ms: a floor of 100 calls/s, so the adaptive limiter does not make the
	// test wait on HTCondor's 10 calls/s.
	p := startGahp(t, []string{"EC2GRID_EC2_GAHP_RATE_LIMIT=10"})
	ids := runJobs(t, p, a, "ami-12345678", 40)
	checkOnePerJob(t, p, a, ids)
	if got := len(f.Instances()); got != 40 {
		t.Errorf("the cloud holds %d instances for 40 jobs", got)
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() { p.must(t, a, ec2.CmdStop, id) })
	}
	wg.Wait()
	stats, _ := p.Statistics(context.Background())
	t.Logf("STATISTICS %v; RunInstances calls %d", stats, f.Calls("RunInstances"))
	if n, _ := strconv.Atoi(stats[2]); n == 0 {
		t.Error("no throttled request counted")
	}
}

// TestThrottlingCloud: the same against ec2grid's cloud with AWS-like token buckets and
// some mutating calls dropped after acting.
func TestThrottlingCloud(t *testing.T) {
	t.Parallel()
	a := startCloud(t, "aws", "--fault-throttle", "run-instances=10/5", "--fault-throttle", "mutating=20/10",
		"--fault-drop-after-act-rate", "0.05")
	p := startGahp(t, []string{"EC2GRID_EC2_GAHP_RATE_LIMIT=10"})
	ids := runJobs(t, p, a, "ami-12345678", 40)
	checkOnePerJob(t, p, a, ids)
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() { p.must(t, a, ec2.CmdStop, id) })
	}
	wg.Wait()
	stats, _ := p.Statistics(context.Background())
	t.Logf("STATISTICS %v", stats)
}

// TestRandomLines: 10,000 random and malformed lines, mixed with well-formed requests,
// sent to the real binary: each line is answered with one S or E, in order, the process
// never dies, and every S yields exactly one result.
func TestRandomLines(t *testing.T) {
	t.Parallel()
	f := ec2test.NewServer(ec2test.Options{})
	defer f.Close()
	a := writeKeys(t, f.URL, "AKIDRANDOM", "secret")
	cmd := exec.Command(binary(t, "ec2_gahp"))
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
	lr := gahp.NewLineReader(stdout, gahp.MaxResultLine)
	read := func() string {
		type r struct {
			s   string
			err error
		}
		ch := make(chan r, 1)
		go func() {
			l, err := lr.ReadLine()
			ch <- r{string(l), err}
		}()
		select {
		case x := <-ch:
			if x.err != nil {
				t.Fatalf("read: %v (stderr %s)", x.err, tail(stderr.String(), 2000))
			}
			return x.s
		case <-time.After(waitCall):
			t.Fatalf("no answer within %v", waitCall)
			return ""
		}
	}
	if b := read(); b != ec2.Version {
		t.Fatalf("banner %q", b)
	}

	rng := rand.New(rand.NewPCG(3, 5))
	cmds := []string{ec2.CmdStart, ec2.CmdStop, ec2.CmdStatusAll, ec2.CmdStatus, ec2.CmdCreateKeypair, ec2.CmdDestroyKeypair,
		ec2.CmdCreateTags, ec2.CmdServerType, ec2.CmdStartSpot, ec2.CmdStatusAllSpot, "RESULTS", "VERSION", "COMMANDS",
		"STATISTICS", "ASYNC_MODE_OFF", "NOSUCH", "", "ec2_vm_stop"}
	args := []string{gahp.Escape(a.url), gahp.Escape(a.ak), gahp.Escape(a.sk), "NULL", "i-1", "ami-1", "1", "", `\`, `\ `, "x\ty",
		"http://127.0.0.1:1/", "/dev/null", "k=v", "\x00\xff", "ü", "99999999999999999999"}
	const n = 10_000
	lines := make([]string, n)
	for i := range lines {
		var b strings.Builder
		b.WriteString(cmds[rng.IntN(len(cmds))])
		if rng.IntN(3) > 0 {
			fmt.Fprintf(&b, " %d", rng.IntN(1000))
		}
		for range rng.IntN(24) {
			b.WriteByte(' ')
			if rng.IntN(10) == 0 {
				for range rng.IntN(6) {
					b.WriteByte(byte(rng.IntN(256)))
				}
			} else {
				b.WriteString(args[rng.IntN(len(args))])
			}
		}
		line := strings.ReplaceAll(b.String(), "\n", "")
		line = strings.TrimRight(line, "\\")
		if strings.EqualFold(strings.TrimRight(line, "\r\t "), "QUIT") {
			line = "Q"
		}
		lines[i] = line
	}
	go func() {
		w := bufio.NewWriter(stdin)
		for _, l := range lines {
			w.WriteString(l + "\r\n")
		}
		w.Flush()
	}()
	accepted, results := 0, 0
	for i := 0; i < n; i++ {
		got := read()
		toks := gahp.Tokenize(got)
		sent := gahp.Tokenize(lines[i])
		synchronous := len(sent) == 1 && (strings.EqualFold(sent[0], "ASYNC_MODE_OFF") || strings.EqualFold(sent[0], "ASYNC_MODE_ON"))
		switch {
		case got == "S" && synchronous:
		case got == "S":
			accepted++
		case got == "E":
		case toks[0] == "S" && len(toks) == 2 && strings.HasPrefix(strings.ToUpper(lines[i]), "RESULTS"):
			k, _ := strconv.Atoi(toks[1])
			for range k {
				read()
			}
			results += k
		case toks[0] == "S":
			// VERSION, COMMANDS, STATISTICS, ASYNC_MODE_OFF
		default:
			t.Fatalf("line %d %q answered %q", i, lines[i], got)
		}
	}
	// Every accepted request answers, eventually.
	deadline := time.Now().Add(waitState)
	for results < accepted && time.Now().Before(deadline) {
		io.WriteString(stdin, "RESULTS\n")
		k, _ := strconv.Atoi(strings.Fields(read())[1])
		for range k {
			read()
		}
		results += k
		time.Sleep(50 * time.Millisecond)
	}
	if results != accepted {
		t.Errorf("%d requests accepted, %d results", accepted, results)
	}
	io.WriteString(stdin, "QUIT\n")
	if got := read(); got != "S" {
		t.Errorf("QUIT answered %q", got)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after QUIT: %v", err)
		}
		done <- nil
	case <-time.After(waitExit):
		t.Error("no exit after QUIT")
	}
	t.Logf("%d lines, %d accepted", n, accepted)
}

// TestLogNeverHoldsSecrets: even at full debug, the log names no secret key, no key
// material and no user data; and stdout carries the protocol only (the client would have
// failed on anything else).
func TestLogNeverHoldsSecrets(t *testing.T) {
	t.Parallel()
	f := ec2test.NewServer(ec2test.Options{})
	defer f.Close()
	secret := "SECRET-e2e-0123456789"
	a := writeKeys(t, f.URL, "AKIDLOG", secret)
	logFile := filepath.Join(t.TempDir(), "EC2GahpLog")
	p := startGahp(t, nil, "-f", logFile, "-d", "D_FULLDEBUG", "-w", "1", "-m", "4")
	keyFile := filepath.Join(t.TempDir(), "k.pem")
	p.must(t, a, ec2.CmdCreateKeypair, "logkey", keyFile)
	userData := "USERDATA-password=hunter2"
	p.must(t, a, ec2.CmdStart, startArgs("ami-1", "logkey", userData, "m1.small", "tok")...)
	f.Inject("", ec2test.Throttle, 2)
	p.must(t, a, ec2.CmdStatusAll)
	p.call(t, a, ec2.CmdStop, "i-nope")
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(waitExit):
		t.Fatal("no exit after QUIT")
	}
	p.done <- nil
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	key, _ := os.ReadFile(keyFile)
	for _, s := range []string{secret, strings.TrimSpace(string(key)), "fake key logkey", userData, base64.StdEncoding.EncodeToString([]byte(userData))} {
		if strings.Contains(log, s) {
			t.Errorf("the log contains %q", s)
		}
	}
	for _, s := range []string{"ec2_gahp starting", "EC2_VM_START", "attempt failed", "InvalidInstanceID.NotFound"} {
		if !strings.Contains(log, s) {
			t.Errorf("the log lacks %q:\n%s", s, log)
		}
	}
	if p.Stderr() != "" {
		t.Errorf("stderr written despite -f: %q", p.Stderr())
	}
}

// TestExitStatus: 0 after QUIT, 1 when the input ends, 1 for a bad flag.
func TestExitStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args  []string
		input string
		code  int
	}{
		{nil, "QUIT\n", 0},
		{nil, "VERSION\n", 1},
		{[]string{"-m", "nine"}, "", 1},
	} {
		cmd := exec.Command(binary(t, "ec2_gahp"), tc.args...)
		cmd.Stdin = strings.NewReader(tc.input)
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code {
			t.Errorf("%v with %q: exit %d, want %d", tc.args, tc.input, code, tc.code)
		}
		if tc.code == 0 && stdout.String() != ec2.Version+"\nS\n" {
			t.Errorf("stdout %q", stdout.String())
		}
	}
}
