package gridmanager

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/gridmanager/resource"
	"github.com/ec2grid/ec2grid/jobs"
	"github.com/ec2grid/ec2grid/userlog"
)

func logEvents(t *testing.T, path string) []int {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := userlog.NewReader(f, userlog.ReaderOptions{})
	var out []int
	for {
		e, err := r.Next()
		if err != nil {
			if errors.Is(err, userlog.ErrNoEvent) {
				return out
			}
			t.Fatalf("read user log: %v", err)
		}
		out = append(out, e.EventNumber())
	}
}

const (
	amazon    = "Amazon"
	openstack = "OpenStack"
)

// stateCase is one row of a state function's table.
type stateCase struct {
	name   string
	server string               // server type (default Amazon)
	extra  []string             // ad attributes
	setup  func(*harness, *job) // before the state runs
	state  state
	want   state
	calls  []string // commands sent, in order (nil: none)
	check  func(*testing.T, *harness, *job)
}

func runStateCases(t *testing.T, cases []stateCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := c.server
			if srv == "" {
				srv = amazon
			}
			h := newHarness(t, srv)
			j := h.submit(h.ad(c.extra...))
			j.state = c.state
			if c.setup != nil {
				c.setup(h, j)
			}
			h.cloud.reset()
			got := h.run(j)
			if got != c.want {
				t.Errorf("next state = %s, want %s", got, c.want)
			}
			if cmds := h.cloud.cmds(); !reflect.DeepEqual(cmds, c.calls) {
				t.Errorf("calls = %q, want %q", cmds, c.calls)
			}
			if c.check != nil {
				c.check(t, h, j)
			}
		})
	}
}

func wantHold(code, sub int, reason string) func(*testing.T, *harness, *job) {
	return func(t *testing.T, h *harness, j *job) {
		t.Helper()
		if j.x == nil || j.x.hold == nil {
			t.Fatalf("no hold recorded")
		}
		hd := j.x.hold
		if hd.Code != code || hd.SubCode != sub || (reason != "" && hd.Reason != reason) {
			t.Errorf("hold = %d/%d %q, want %d/%d %q", hd.Code, hd.SubCode, hd.Reason, code, sub, reason)
		}
	}
}

func withToken(h *harness, j *job) {
	j.token = "tok-1"
	j.serverType = h.cloud.health.ServerType
	h.m.index(j)
}

func withInstance(h *harness, j *job) {
	withToken(h, j)
	j.instanceID = "i-1"
	h.m.index(j)
}

func TestStateInit(t *testing.T) {
	runStateCases(t, []stateCase{
		{name: "fresh job saves a token", state: stInit, want: stSaveClientToken},
		{name: "waits for the first ping", state: stInit, want: stInit,
			setup: func(h *harness, j *job) { j.rs.health = resource.Health{} }},
		{name: "auth failure holds 37/9", state: stInit, want: stHold,
			setup: func(h *harness, j *job) { j.rs.health.AuthFailure = "(E_HTTP_RESPONSE_NOT_200 (401)): 'denied'" },
			check: wantHold(37, 9, "Failed to authenticate (E_HTTP_RESPONSE_NOT_200 (401)): 'denied'.")},
		{name: "missing access key holds 37/1", extra: []string{`EC2AccessKeyId = undefined`}, state: stInit, want: stHold,
			check: wantHold(37, 1, "Public key file not defined")},
		{name: "missing secret key holds 37/2", extra: []string{`EC2SecretAccessKey = undefined`}, state: stInit, want: stHold,
			check: wantHold(37, 2, "Private key file not defined")},
		{name: "other grid type holds 38/3", extra: []string{`GridResource = "batch pbs"`}, state: stInit, want: stHold,
			check: wantHold(38, 3, "GridResource not of type ec2")},
		{name: "no URL holds 37/4", extra: []string{`GridResource = "ec2"`}, state: stInit, want: stHold,
			check: wantHold(37, 4, "GridResource missing EC2 service URL")},
		{name: "bad GridJobId holds 38/7", extra: []string{`GridJobId = "gt2 x y"`}, state: stInit, want: stHold,
			check: wantHold(38, 7, "GridJobId not of type ec2")},
		{name: "removed with a bad ad just leaves", extra: []string{`GridResource = "ec2"`, `JobStatus = 3`}, state: stInit, want: stDelete},
	})
}

func TestStateSaveClientToken(t *testing.T) {
	runStateCases(t, []stateCase{
		{name: "amazon: token only, then start", state: stSaveClientToken, want: stStartVM,
			check: func(t *testing.T, h *harness, j *job) {
				g, err := ParseGridJobID(h.attr(j, jobs.AttrGridJobID))
				if err != nil || g.Token != j.token || g.InstanceID != "" || len(j.token) != 36 {
					t.Errorf("GridJobId %q (%v), token %q", h.attr(j, jobs.AttrGridJobID), err, j.token)
				}
				if h.attr(j, attrServerType) != amazon || j.keyPair != "" || j.ownKey {
					t.Errorf("server type %q keypair %q own %v", h.attr(j, attrServerType), j.keyPair, j.ownKey)
				}
			}},
		{name: "openstack: a generated keypair committed with the token", server: openstack, state: stSaveClientToken, want: stCreateKeyPair,
			check: func(t *testing.T, h *harness, j *job) {
				if want := "SSH_q-1_sched_1_0_100"; j.keyPair != want || h.attr(j, attrKeyPair) != want || !j.ownKey {
					t.Errorf("keypair %q / %q own %v, want %q", j.keyPair, h.attr(j, attrKeyPair), j.ownKey, want)
				}
			}},
		{name: "amazon with ec2_keypair_file: keypair too", extra: []string{`EC2KeyPairFile = "/tmp/k.pem"`}, state: stSaveClientToken, want: stCreateKeyPair},
		{name: "openstack with a user keypair holds 37/10", server: openstack, extra: []string{`EC2KeyPair = "mine"`}, state: stSaveClientToken, want: stHold,
			check: wantHold(37, 10, "Can't use existing ssh keypair for server type OpenStack")},
		{name: "spot on amazon goes to spot start", extra: []string{`EC2SpotPrice = "0.1"`}, state: stSaveClientToken, want: stSpotStart},
		{name: "waits for the server type", state: stSaveClientToken, want: stSaveClientToken,
			setup: func(h *harness, j *job) { j.rs.health.ServerType = "" },
			check: func(t *testing.T, h *harness, j *job) {
				if h.attr(j, jobs.AttrGridJobID) != "undefined" {
					t.Errorf("committed %q before the server type was known", h.attr(j, jobs.AttrGridJobID))
				}
			}},
		{name: "removed before a token: leave", state: stSaveClientToken, want: stDelete,
			setup: func(h *harness, j *job) { j.status = jobs.StatusRemoved }},
		{name: "held before a token: clear", state: stSaveClientToken, want: stClearRequest,
			setup: func(h *harness, j *job) { j.status = jobs.StatusHeld }},
	})
}

func TestStateCreateKeyPair(t *testing.T) {
	own := func(h *harness, j *job) { withToken(h, j); j.keyPair, j.ownKey = "SSH_k", true }
	// ownFile: the job names an ec2_keypair_file, not yet written.
	ownFile := func(h *harness, j *job) { own(h, j); j.keyFile = filepath.Join(h.dir, "k.pem") }
	runStateCases(t, []stateCase{
		{name: "created", server: openstack, state: stCreateKeyPair, setup: own, want: stStartVM, calls: []string{"EC2_VM_CREATE_KEYPAIR"},
			check: func(t *testing.T, h *harness, j *job) {
				if a := h.cloud.lastCall("EC2_VM_CREATE_KEYPAIR").Args; !reflect.DeepEqual(a, []string{"SSH_k", "/dev/null"}) {
					t.Errorf("args %q", a)
				}
			}},
		{name: "key file named", server: openstack, extra: []string{`EC2KeyPairFile = "/tmp/k.pem"`}, state: stCreateKeyPair, setup: own, want: stStartVM,
			calls: []string{"EC2_VM_CREATE_KEYPAIR"},
			check: func(t *testing.T, h *harness, j *job) {
				if a := h.cloud.lastCall("EC2_VM_CREATE_KEYPAIR").Args; a[1] != "/tmp/k.pem" {
					t.Errorf("args %q", a)
				}
			}},
		{name: "duplicate is success", server: openstack, state: stCreateKeyPair, want: stStartVM, calls: []string{"EC2_VM_CREATE_KEYPAIR"},
			setup: func(h *harness, j *job) {
				own(h, j)
				h.cloud.answer("EC2_VM_CREATE_KEYPAIR", []string{"1", "E_HTTP_RESPONSE_NOT_200 (400)", "<Code>InvalidKeyPair.Duplicate</Code>"}, nil)
			}},
		{name: "spot goes on to spot start", server: amazon, extra: []string{`EC2SpotPrice = "0.1"`}, state: stCreateKeyPair, setup: own, want: stSpotStart,
			calls: []string{"EC2_VM_CREATE_KEYPAIR"}},
		{name: "failure holds 40/11", server: openstack, state: stCreateKeyPair, want: stHold, calls: []string{"EC2_VM_CREATE_KEYPAIR"},
			setup: func(h *harness, j *job) {
				own(h, j)
				h.cloud.answer("EC2_VM_CREATE_KEYPAIR", []string{"1", "E_HTTP_RESPONSE_NOT_200 (400)", "bad\nname"}, nil)
			}, check: wantHold(40, 11, `bad\nname`)},
		{name: "NEED_CHECK_SSHKEY retried later", server: openstack, state: stCreateKeyPair, want: stCreateKeyPair, calls: []string{"EC2_VM_CREATE_KEYPAIR"},
			setup: func(h *harness, j *job) {
				own(h, j)
				h.cloud.answer("EC2_VM_CREATE_KEYPAIR", []string{"1", "NEED_CHECK_SSHKEY", "timeout"}, nil)
			}, check: func(t *testing.T, h *harness, j *job) {
				if j.wakeAt.IsZero() {
					t.Error("no retry scheduled")
				}
			}},
		{name: "NEED_CHECK_SSHKEY a fifth time in a row still retried (a fault storm's bad luck, not a hold)", server: openstack, state: stCreateKeyPair, want: stCreateKeyPair, calls: []string{"EC2_VM_CREATE_KEYPAIR"},
			setup: func(h *harness, j *job) {
				own(h, j)
				j.tries = 4
				h.cloud.answer("EC2_VM_CREATE_KEYPAIR", []string{"1", "NEED_CHECK_SSHKEY", "Transport error: EOF"}, nil)
			}},
		{name: "duplicate, key file there: start, the file untouched", server: openstack, state: stCreateKeyPair, want: stStartVM,
			calls: []string{"EC2_VM_CREATE_KEYPAIR"},
			setup: func(h *harness, j *job) {
				ownFile(h, j)
				if err := os.WriteFile(j.keyFile, []byte("the user's key"), 0o600); err != nil {
					t.Fatal(err)
				}
				h.cloud.trackKeys(map[string]string{"SSH_k": "the user's key"})
			},
			check: func(t *testing.T, h *harness, j *job) {
				if b, err := os.ReadFile(j.keyFile); err != nil || string(b) != "the user's key" {
					t.Errorf("key file %q, %v: want it untouched", b, err)
				}
			}},
		{name: "duplicate, key file missing: destroy, create again, start", server: openstack, state: stCreateKeyPair, want: stReplaceKeyPair,
			calls: []string{"EC2_VM_CREATE_KEYPAIR"},
			setup: func(h *harness, j *job) {
				ownFile(h, j)
				h.cloud.trackKeys(map[string]string{"SSH_k": "lost with the killed gahp"})
			},
			check: func(t *testing.T, h *harness, j *job) {
				if got := driveKeyPair(t, h, j, stReplaceKeyPair); got != stStartVM {
					t.Fatalf("state %s after the replacement, want %s", got, stStartVM)
				}
				want := []string{"EC2_VM_CREATE_KEYPAIR", "EC2_VM_DESTROY_KEYPAIR", "EC2_VM_CREATE_KEYPAIR"}
				if c := h.cloud.cmds(); !reflect.DeepEqual(c, want) {
					t.Errorf("calls %q, want %q", c, want)
				}
				if a := h.cloud.lastCall("EC2_VM_DESTROY_KEYPAIR").Args; !reflect.DeepEqual(a, []string{"SSH_k"}) {
					t.Errorf("destroy args %q", a)
				}
				k, _ := h.cloud.keyMaterial("SSH_k")
				if b, err := os.ReadFile(j.keyFile); err != nil || string(b) != k || k == "lost with the killed gahp" {
					t.Errorf("key file %q (%v), the cloud's key %q: want the new keypair's key in the file", b, err, k)
				}
			}},
		{name: "duplicate, no key file (discarded): start, no look at any file", server: openstack, state: stCreateKeyPair, want: stStartVM,
			calls: []string{"EC2_VM_CREATE_KEYPAIR"},
			setup: func(h *harness, j *job) {
				own(h, j)
				h.cloud.trackKeys(map[string]string{"SSH_k": "discarded"})
				h.m.opts.StatKeyFile = func(name string) (fs.FileInfo, error) {
					t.Errorf("stat %q for a job without a key file", name)
					return nil, fs.ErrNotExist
				}
			},
			check: func(t *testing.T, h *harness, j *job) {
				if a := h.cloud.lastCall("EC2_VM_CREATE_KEYPAIR").Args; a[1] != "/dev/null" {
					t.Errorf("args %q", a)
				}
			}},
		{name: "duplicate, key file cannot be looked at: start as before, nothing destroyed", server: openstack, state: stCreateKeyPair, want: stStartVM,
			calls: []string{"EC2_VM_CREATE_KEYPAIR"},
			setup: func(h *harness, j *job) {
				ownFile(h, j)
				h.cloud.trackKeys(map[string]string{"SSH_k": "maybe in the file"})
				h.m.opts.StatKeyFile = func(name string) (fs.FileInfo, error) { return nil, fs.ErrPermission }
			}},
		{name: "duplicate, key file missing, a start may have gone out: seek first, nothing destroyed", server: amazon, state: stCreateKeyPair, want: stSeekInstanceID,
			calls: []string{"EC2_VM_CREATE_KEYPAIR"},
			setup: func(h *harness, j *job) {
				ownFile(h, j)
				j.maybeStarted = true
				h.cloud.trackKeys(map[string]string{"SSH_k": "in the instance, maybe"})
			}},
		{name: "replacement keeps finding the keypair: held 40/11 after 3", server: openstack, state: stCreateKeyPair, want: stReplaceKeyPair,
			calls: []string{"EC2_VM_CREATE_KEYPAIR"},
			setup: func(h *harness, j *job) {
				ownFile(h, j)
				for i := 0; i < 10; i++ {
					h.cloud.answer("EC2_VM_CREATE_KEYPAIR", dupKeyPair, nil)
				}
			},
			check: func(t *testing.T, h *harness, j *job) {
				if got := driveKeyPair(t, h, j, stReplaceKeyPair); got != stHold {
					t.Fatalf("state %s, want %s", got, stHold)
				}
				if n := h.cloud.count("EC2_VM_DESTROY_KEYPAIR"); n != maxKeypairReplacements {
					t.Errorf("%d destroys, want %d", n, maxKeypairReplacements)
				}
				if n := h.cloud.count("EC2_VM_CREATE_KEYPAIR"); n != maxKeypairReplacements+1 {
					t.Errorf("%d creates, want %d", n, maxKeypairReplacements+1)
				}
				wantHold(40, 11, "Keypair SSH_k exists but its private key file "+j.keyFile+
					" is missing; replacing the keypair failed after 3 tries: <Code>InvalidKeyPair.Duplicate</Code><Message>The keypair already exists</Message>")(t, h, j)
			}},
		{name: "destroy keeps failing: held 40/11 after 3", server: openstack, state: stCreateKeyPair, want: stReplaceKeyPair,
			calls: []string{"EC2_VM_CREATE_KEYPAIR"},
			setup: func(h *harness, j *job) {
				ownFile(h, j)
				h.cloud.trackKeys(map[string]string{"SSH_k": "lost"})
				for i := 0; i < 10; i++ {
					h.cloud.answer("EC2_VM_DESTROY_KEYPAIR", []string{"1", "E_HTTP_RESPONSE_NOT_200 (500)", "InternalError"}, nil)
				}
			},
			check: func(t *testing.T, h *harness, j *job) {
				if got := driveKeyPair(t, h, j, stReplaceKeyPair); got != stHold {
					t.Fatalf("state %s, want %s", got, stHold)
				}
				want := []string{"EC2_VM_CREATE_KEYPAIR", "EC2_VM_DESTROY_KEYPAIR", "EC2_VM_DESTROY_KEYPAIR", "EC2_VM_DESTROY_KEYPAIR"}
				if c := h.cloud.cmds(); !reflect.DeepEqual(c, want) {
					t.Errorf("calls %q, want %q", c, want)
				}
				wantHold(40, 11, "Keypair SSH_k exists but its private key file "+j.keyFile+
					" is missing; replacing the keypair failed after 3 tries: InternalError")(t, h, j)
			}},
		{name: "replace: destroyed elsewhere meanwhile (NotFound) is done", server: openstack, state: stReplaceKeyPair, want: stCreateKeyPair,
			calls: []string{"EC2_VM_DESTROY_KEYPAIR"},
			setup: func(h *harness, j *job) {
				ownFile(h, j)
				h.cloud.answer("EC2_VM_DESTROY_KEYPAIR", []string{"1", "E_HTTP_RESPONSE_NOT_200 (400)", "<Code>InvalidKeyPair.NotFound</Code>"}, nil)
			}},
		{name: "replace: removed meanwhile: leave (the cleanup destroys it)", server: openstack, state: stReplaceKeyPair, want: stDelete,
			setup: func(h *harness, j *job) { ownFile(h, j); j.status = jobs.StatusRemoved }},
		{name: "replace: resource down: no call", server: openstack, state: stReplaceKeyPair, want: stReplaceKeyPair,
			setup: func(h *harness, j *job) { ownFile(h, j); j.rs.health.Up = false }},
		{name: "resource down: no call", server: openstack, state: stCreateKeyPair, want: stCreateKeyPair,
			setup: func(h *harness, j *job) { own(h, j); j.rs.health.Up = false }},
		{name: "removed: leave", server: openstack, state: stCreateKeyPair, want: stDelete,
			setup: func(h *harness, j *job) { own(h, j); j.status = jobs.StatusRemoved }},
	})
}

// driveKeyPair steps the job from state from (waking it when it waits) until it leaves
// the keypair states, and returns where it went.
func driveKeyPair(t *testing.T, h *harness, j *job, from state) state {
	t.Helper()
	j.state = from
	for i := 0; i < 100; i++ {
		if j.state != stCreateKeyPair && j.state != stReplaceKeyPair {
			return j.state
		}
		if !j.wakeAt.IsZero() {
			h.clock.set(j.wakeAt)
		}
		j.state = h.run(j)
	}
	t.Fatalf("still in %s after 100 steps: the replacement does not end", j.state)
	return j.state
}

func TestStateStartVM(t *testing.T) {
	lost := func(h *harness, j *job) {
		withToken(h, j)
		h.cloud.answer("EC2_VM_START", nil, resource.ErrLost)
	}
	runStateCases(t, []stateCase{
		{name: "started", state: stStartVM, setup: withToken, want: stSaveInstanceID, calls: []string{"EC2_VM_START"},
			check: func(t *testing.T, h *harness, j *job) {
				a := h.cloud.lastCall("EC2_VM_START").Args
				if a[0] != "ami-1" || a[8] != "tok-1" || a[12] != "1" || j.instanceID != "i-00000001" {
					t.Errorf("args %q, instance %q", a, j.instanceID)
				}
				tail := strings.Join(a[13:], " ")
				want := "NULL NULL TagSpecification.1.ResourceType instance TagSpecification.1.Tag.1.Key ec2grid:queue TagSpecification.1.Tag.1.Value q-1 TagSpecification.1.Tag.2.Key ec2grid:job TagSpecification.1.Tag.2.Value sched#1.0#100 NULL"
				if tail != want {
					t.Errorf("lists and params %q, want %q", tail, want)
				}
				if j.release == nil {
					t.Error("submit slot not kept")
				}
			}},
		{name: "groups, ids and params", extra: []string{`EC2SecurityGroups = "a, b"`, `EC2SecurityIDs = "sg-1 sg-2"`, `EC2ParamNames = "Foo.Bar"`, `EC2Param_Foo_Bar = "x"`},
			state: stStartVM, setup: withToken, want: stSaveInstanceID, calls: []string{"EC2_VM_START"},
			check: func(t *testing.T, h *harness, j *job) {
				a := strings.Join(h.cloud.lastCall("EC2_VM_START").Args[13:21], " ")
				if a != "a b NULL sg-1 sg-2 NULL Foo.Bar x" {
					t.Errorf("lists %q", a)
				}
			}},
		{name: "lost on amazon: seek it by token", state: stStartVM, setup: lost, want: stSeekInstanceID, calls: []string{"EC2_VM_START"},
			check: func(t *testing.T, h *harness, j *job) {
				if !j.maybeStarted || j.token != "tok-1" || j.starts != 1 {
					t.Errorf("maybeStarted %v token %q starts %d", j.maybeStarted, j.token, j.starts)
				}
			}},
		{name: "NEED_CHECK_VM_START on openstack: seek", server: openstack, state: stStartVM, want: stSeekInstanceID, calls: []string{"EC2_VM_START"},
			setup: func(h *harness, j *job) {
				withToken(h, j)
				h.cloud.answer("EC2_VM_START", []string{"1", "NEED_CHECK_VM_START", "curl"}, nil)
			}},
		{name: "third lost start holds", state: stStartVM, want: stHold, calls: []string{"EC2_VM_START"},
			setup: func(h *harness, j *job) { lost(h, j); j.starts = maxStartTries - 1 },
			check: wantHold(40, subStartNotConfirmedOur, "")},
		{name: "error holds 40/12", state: stStartVM, want: stHold, calls: []string{"EC2_VM_START"},
			setup: func(h *harness, j *job) {
				withToken(h, j)
				h.cloud.answer("EC2_VM_START", []string{"1", "E_HTTP_RESPONSE_NOT_200 (400)", "InvalidAMIID.NotFound"}, nil)
			}, check: wantHold(40, 12, "InvalidAMIID.NotFound")},
		{name: "not sent (no pending slot): try again later", state: stStartVM, want: stStartVM, calls: []string{"EC2_VM_START"},
			setup: func(h *harness, j *job) {
				withToken(h, j)
				h.cloud.answer("EC2_VM_START", nil, errors.New("resource: waiting for a pending slot: context canceled"))
			}, check: func(t *testing.T, h *harness, j *job) {
				if j.wakeAt.IsZero() || j.maybeStarted {
					t.Errorf("wake %v maybeStarted %v", j.wakeAt, j.maybeStarted)
				}
			}},
		{name: "instance limit: wait", state: stStartVM, want: stStartVM, calls: []string{"EC2_VM_START"},
			setup: func(h *harness, j *job) {
				withToken(h, j)
				h.cloud.answer("EC2_VM_START", []string{"1", "E_HTTP_RESPONSE_NOT_200 (400)", "<Code>InstanceLimitExceeded</Code>"}, nil)
			}},
		{name: "gahp deadline while throttled: seek, not hold", state: stStartVM, want: stSeekInstanceID, calls: []string{"EC2_VM_START"},
			setup: func(h *harness, j *job) {
				withToken(h, j)
				h.cloud.answer("EC2_VM_START", []string{"1", codeDeadline, "Retry deadline would be exceeded before the next permissible attempt; last error: RequestLimitExceeded"}, nil)
			}, check: func(t *testing.T, h *harness, j *job) {
				if !j.maybeStarted || j.starts != 0 {
					t.Errorf("maybeStarted %v starts %d; want a seek that does not count toward the hold", j.maybeStarted, j.starts)
				}
			}},
		{name: "held before start: clear", state: stStartVM, want: stClearRequest,
			setup: func(h *harness, j *job) { withToken(h, j); j.status = jobs.StatusHeld }},
		{name: "held after a lost start: seek", state: stStartVM, want: stSeekInstanceID,
			setup: func(h *harness, j *job) { withToken(h, j); j.maybeStarted = true; j.status = jobs.StatusHeld }},
		{name: "a pass found the lost start's instance", state: stStartVM, want: stSaveInstanceID,
			setup: func(h *harness, j *job) { withInstance(h, j) }},
	})
}

func TestStateSaveInstanceID(t *testing.T) {
	runStateCases(t, []stateCase{
		{name: "committed, 027 logged", state: stSaveInstanceID, setup: withInstance, want: stSubmitted,
			check: func(t *testing.T, h *harness, j *job) {
				if g := h.attr(j, jobs.AttrGridJobID); g != "ec2 "+testURL+" tok-1 i-1" {
					t.Errorf("GridJobId %q", g)
				}
				if h.attr(j, attrInstanceName) != "i-1" || h.attr(j, attrGridJobStatus) != "pending" {
					t.Errorf("EC2InstanceName %q GridJobStatus %q", h.attr(j, attrInstanceName), h.attr(j, attrGridJobStatus))
				}
				if ev := h.events(); !reflect.DeepEqual(ev, []int{27}) {
					t.Errorf("events %v", ev)
				}
				if h.cloud.probeSoon == 0 {
					t.Error("no early probe asked")
				}
			}},
		{name: "rediscovered: no second 027", state: stSaveInstanceID, want: stSubmitted,
			setup: func(h *harness, j *job) { withInstance(h, j); j.submitLogged = true },
			check: func(t *testing.T, h *harness, j *job) {
				if ev := h.events(); len(ev) != 0 {
					t.Errorf("events %v", ev)
				}
			}},
	})
}

func TestStateSubmitted(t *testing.T) {
	runStateCases(t, []stateCase{
		{name: "waits", state: stSubmitted, setup: withInstance, want: stSubmitted},
		{name: "changed: probe", state: stSubmitted, want: stProbe, setup: func(h *harness, j *job) { withInstance(h, j); j.changed = true }},
		{name: "removed: cancel", state: stSubmitted, want: stCancel, setup: func(h *harness, j *job) { withInstance(h, j); j.status = jobs.StatusRemoved }},
		{name: "held: cancel", state: stSubmitted, want: stCancel, setup: func(h *harness, j *job) { withInstance(h, j); j.status = jobs.StatusHeld }},
	})
}

func remote(st, reason string) func(*harness, *job) {
	return func(h *harness, j *job) {
		withInstance(h, j)
		j.remote = remoteStatus{state: st, reason: reason}
		j.changed = true
	}
}

func TestStateProbe(t *testing.T) {
	running := func(t *testing.T, h *harness, j *job) {
		t.Helper()
		ad := h.get(j)
		if jobs.Status(ad) != jobs.StatusRunning || !j.executeLogged {
			t.Errorf("JobStatus %d executeLogged %v", jobs.Status(ad), j.executeLogged)
		}
		for _, a := range []string{attrShadowBday, attrJobCurrentStart, attrJobStartDate} {
			if v, _ := ad.EvalAttr(a).IntValue(); v != h.clock.Now().Unix() {
				t.Errorf("%s = %v", a, ad.EvalAttr(a))
			}
		}
		if n, _ := ad.EvalAttr(attrNumJobStarts).IntValue(); n != 1 {
			t.Errorf("NumJobStarts = %d", n)
		}
		if ev := h.events(); !reflect.DeepEqual(ev, []int{1}) {
			t.Errorf("events %v", ev)
		}
	}
	runStateCases(t, []stateCase{
		{name: "pending: back to submitted", state: stProbe, setup: remote("pending", ""), want: stSubmitted},
		{name: "running: JobStatus 2, 001, then attach", state: stProbe, setup: remote("running", ""), want: stAttach, check: running},
		{name: "running, attached already", state: stProbe, want: stSubmitted,
			setup: func(h *harness, j *job) { remote("running", "")(h, j); j.attached = true }},
		{name: "terminated normally: done (after 001)", state: stProbe, setup: remote("terminated", "Client.InstanceInitiatedShutdown"), want: stDoneSave, check: running},
		{name: "not found: done", state: stProbe, setup: remote(remoteNotFound, ""), want: stDoneSave},
		{name: "abnormal reason holds 41/13", state: stProbe, setup: remote("terminated", "Server.InternalError"), want: stHold,
			check: wantHold(41, 13, "Abnormal instance termination: Server.InternalError.")},
		{name: "unknown reason holds 41/14", state: stProbe, setup: remote("shutting-down", "Server.Weird"), want: stHold,
			check: wantHold(41, 14, "Unrecognized reason for instance termination: Server.Weird.  Treating as abnormal.")},
		{name: "stopped: terminate, then complete", state: stProbe, setup: remote("stopped", ""), want: stCancel,
			check: func(t *testing.T, h *harness, j *job) {
				if !j.completion {
					t.Error("not marked as completion")
				}
			}},
		{name: "shutoff (OpenStack) likewise", server: openstack, state: stProbe, setup: remote("shutoff", ""), want: stCancel},
		{name: "periodic policy evaluated at the change", state: stProbe, want: stAttach,
			setup: func(h *harness, j *job) {
				remote("running", "")(h, j)
				h.policy.periodic = func(*classad.ClassAd) Decision { return Decision{Action: ActionHold, Reason: "r", Code: 3} }
			},
			check: func(t *testing.T, h *harness, j *job) {
				if j.x == nil || j.x.verdict == nil || j.x.verdict.Action != ActionHold {
					t.Error("no verdict waiting")
				}
			}},
	})
}
