package cloud

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/cloud/runner"
)

func script(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestUserDataScript(t *testing.T) {
	for _, c := range []struct {
		name, image, behaviour, want string
	}{
		{"terminate", "ami-12345678", "terminate", "terminated"},
		{"stop (the default)", "ami-12345678", "", "stopped"},
		{"instance-store cannot stop", "ami-60bd4609", "stop", "terminated"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tc := newTestCloud(t)
			args := []string{"ImageId", c.image, "UserData", script("#!/bin/sh\necho hi\n")}
			if c.behaviour != "" {
				args = append(args, "InstanceInitiatedShutdownBehavior", c.behaviour)
			}
			id := tc.run(1, args...)[0]
			in := tc.waitState(id, c.want)
			if in.get("stateReason/code") != "Client.InstanceInitiatedShutdown" ||
				in.get("stateReason/message") != "Client.InstanceInitiatedShutdown: Instance initiated shutdown" {
				t.Errorf("state reason: %+v", in.all("stateReason"))
			}
			out, ok, err := tc.s.consoleOutput(alice.OwnerID, id)
			if !ok || err != nil || string(out) != "hi\n" {
				t.Errorf("console %q, %v, %v", out, ok, err)
			}
			if _, ok, _ := tc.s.consoleOutput(bob.OwnerID, id); ok {
				t.Errorf("bob reads alice's console")
			}
			if c.want == "stopped" {
				// Started again it runs, but user data runs once per instance, as cloud-init's does.
				tc.ok("StartInstances", "InstanceId.1", id)
				tc.waitState(id, "running")
				time.Sleep(5 * testBootDelay)
				if got := tc.instance(id).get("instanceState/name"); got != "running" {
					t.Errorf("restarted instance is %s", got)
				}
			}
		})
	}
}

func TestUserDataNotAScript(t *testing.T) {
	tc := newTestCloud(t)
	id := tc.run(1, "UserData", script("Hello EC2!"))[0]
	tc.waitState(id, "running")
	time.Sleep(5 * testBootDelay)
	if got := tc.instance(id).get("instanceState/name"); got != "running" {
		t.Errorf("instance with plain user data is %s", got)
	}
	if in, ok := (imdsSource{tc.s}).Instance(id); !ok || string(in.UserData) != "Hello EC2!" {
		t.Errorf("metadata user data %q", in.UserData)
	}
}

func TestTerminateKillsProcess(t *testing.T) {
	tc := newTestCloud(t)
	id := tc.run(1, "UserData", script("#!/bin/sh\necho started\nexec sleep 600\n"))[0]
	tc.waitState(id, "running")
	pid := waitPID(t, tc.s, id)
	r := tc.ok("TerminateInstances", "InstanceId.1", id)
	if r.root.get("instancesSet/item/previousState/name") != "running" {
		t.Errorf("terminate: %s", r.body)
	}
	in := tc.waitState(id, "terminated")
	if in.get("stateReason/code") != "Client.UserInitiatedShutdown" {
		t.Errorf("state reason %q", in.get("stateReason/code"))
	}
	waitDead(t, pid)
}

func TestMetadataEndpointReachesInstance(t *testing.T) {
	tc := newTestCloud(t)
	id := tc.run(1, "UserData", script("#!/bin/sh\necho \"$AWS_EC2_METADATA_SERVICE_ENDPOINT\"\n"),
		"InstanceInitiatedShutdownBehavior", "terminate")[0]
	tc.waitState(id, "terminated")
	out, _, _ := tc.s.consoleOutput(alice.OwnerID, id)
	endpoint := strings.TrimSpace(string(out))
	if !strings.Contains(endpoint, strings.TrimPrefix(tc.url, "http://")) || !strings.Contains(endpoint, id) {
		t.Fatalf("endpoint %q", endpoint)
	}
	// The endpoint serves the instance while it lives; a second one shows it.
	other := tc.run(1)[0]
	resp, err := http.Get(strings.ReplaceAll(endpoint, id, other) + "latest/meta-data/instance-id")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != other {
		t.Errorf("metadata: %d %q", resp.StatusCode, body)
	}
}

// waitPID waits for the instance's process to be recorded.
func waitPID(t *testing.T, s *Server, id string) int {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for {
		s.mu.RLock()
		pid := s.mem.byID[id].PID
		s.mu.RUnlock()
		if pid > 0 {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid for %s", id)
		}
		time.Sleep(testPoll)
	}
}

func waitDead(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for runner.Alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive", pid)
		}
		time.Sleep(testPoll)
	}
}

// fakeClock is a Config.Now that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestRestartRecovery(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: time.Now()}
	cfg := testConfig(t, dir)
	cfg.BootDelay = time.Second
	cfg.Now = clock.Now
	a := startTestCloud(t, cfg)

	a.ok("CreateKeyPair", "KeyName", "kept")
	worker := a.run(1, "UserData", script("#!/bin/sh\nexec sleep 600\n"), "InstanceInitiatedShutdownBehavior", "terminate")[0]
	idle := a.run(1, "KeyName", "kept", "ClientToken", "idle-token")[0]
	stopped := a.run(1)[0]
	clock.Add(2 * time.Second)
	a.waitState(worker, "running")
	a.waitState(idle, "running")
	a.waitState(stopped, "running")
	a.ok("StopInstances", "InstanceId.1", stopped)
	clock.Add(2 * time.Second)
	a.waitState(stopped, "stopped")
	pid := waitPID(t, a.s, worker)
	a.ok("CreateTags", "ResourceId.1", idle, "Tag.1.Key", "Name", "Tag.1.Value", "idle")
	pending := a.run(1)[0] // the clock stands still: it stays pending
	a.close()
	waitDead(t, pid) // Close kills instance processes

	cfg.Now = nil
	cfg.BootDelay = testBootDelay
	b := startTestCloud(t, cfg)
	in := b.instance(worker)
	if in.get("instanceState/name") != "terminated" || in.get("stateReason/code") != "Server.InternalError" {
		t.Errorf("worker after restart: %s / %s", in.get("instanceState/name"), in.get("stateReason/code"))
	}
	in = b.instance(idle)
	if in.get("instanceState/name") != "running" || in.get("tagSet/item/value") != "idle" || in.get("keyName") != "kept" {
		t.Errorf("idle instance after restart: %+v", in)
	}
	b.waitState(stopped, "stopped")
	b.waitState(pending, "running") // its boot resumed
	b.ok("DescribeKeyPairs", "KeyName.1", "kept")
	r := b.ok("RunInstances", "ImageId", "ami-12345678", "MinCount", "1", "MaxCount", "1", "KeyName", "kept", "ClientToken", "idle-token")
	if got := r.root.get("instancesSet/item/instanceId"); got != idle {
		t.Errorf("client token after restart launched %s, want %s", got, idle)
	}
	// New instances never reuse a launch sequence number (nor so an address).
	fresh := b.run(1)[0]
	if b.instance(fresh).get("privateIpAddress") == b.instance(idle).get("privateIpAddress") {
		t.Errorf("address reused after restart")
	}
}

func TestStateSurvivesWithoutClose(t *testing.T) {
	// Every answered change is on disk: a second cloud opened read-only on a copy of the
	// file finds it even though the first never closed.
	tc := newTestCloud(t)
	id := tc.run(1)[0]
	tc.ok("CreateKeyPair", "KeyName", "k")
	mem, err := tc.s.store.load()
	if err != nil {
		t.Fatal(err)
	}
	if mem.byID[id] == nil || mem.owners[alice.OwnerID].keys["k"] == nil {
		t.Errorf("answered changes not in the store")
	}
}

func TestSecondCloudOnSameStateFails(t *testing.T) {
	tc := newTestCloud(t)
	cfg := tc.cfg
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if s, err := New(ctx, cfg, nil); err == nil {
		s.Close()
		t.Fatal("a second cloud opened a state in use")
	}
}

func TestKillOrphan(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	cmd := exec.Command("sleep", "600")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	pid := cmd.Process.Pid
	killOrphan(other, pid) // a pid working elsewhere is not ours: left alone
	select {
	case <-done:
		t.Fatal("killed a process outside the instance directory")
	case <-time.After(100 * time.Millisecond):
	}
	killOrphan(dir, pid)
	select {
	case <-done:
	case <-time.After(testWait):
		t.Fatal("orphan not killed")
	}
	killOrphan(dir, 0) // no pid recorded: nothing to do
}

func TestMetadataBasicAuthForm(t *testing.T) {
	// aws-sdk-go-v2's metadata client keeps the endpoint's user (the instance id) but
	// replaces its path with /latest/...: served at /latest/ too.
	tc := newTestCloud(t)
	id := tc.run(1, "UserData", script("hello"))[0]
	req, _ := http.NewRequest(http.MethodGet, tc.url+"/latest/user-data", nil)
	req.SetBasicAuth(id, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "hello" {
		t.Errorf("user data: %d %q", resp.StatusCode, body)
	}
}
