package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// motoPython is the Python that has moto: the machine image's own python3 on PATH (pyenv),
// not Debian's /usr/bin/python3 (ec2-clients-and-peers.md §4.1).
const motoPython = "python3"

// diffAllowed lists the keys of botocore's parse of moto's answers that ec2grid's may lack,
// each with its reason. An entry is ACTION:PATH, PATH as diff_scenario.py writes it, and
// covers PATH and every key under it; ACTION "*" with a PATH starting at an Instance's
// list ("Instances[]...") covers that key of every instance in any answer (RunInstances'
// Instances[] and DescribeInstances' Reservations[].Instances[]).
func diffAllowed() map[string]string {
	const noVPC = "EC2-Classic networking: the cloud has no VPC, so an instance is in a subnet only when RunInstances names one; moto puts every instance in its default VPC"
	return map[string]string{
		"*:Instances[].NetworkInterfaces": "no VPC, so no elastic network interfaces: an instance's addresses are its top-level " +
			"privateIpAddress and ipAddress, which HTCondor and the SDK clients read",
		"*:Instances[].VpcId":           noVPC,
		"*:Instances[].SubnetId":        noVPC,
		"*:Instances[].SourceDestCheck": "an attribute of a VPC network interface, of which there are none",
		"*:Instances[].Platform":        "EC2 sends platform only for Windows instances; moto sends it for Linux ones too",
		"DescribeImages:Images[].Platform": "EC2 sends platform only for Windows images; moto's catalogue has some, the cloud's " +
			"(from its config) has none",
		"*:Instances[].SriovNetSupport": "enhanced networking does not apply to an instance that is a local process",
		"*:Instances[].MetadataOptions": "settings that ModifyInstanceMetadataOptions changes, which the cloud does not implement: " +
			"its metadata service always answers IMDSv1 and IMDSv2",
		"*:Instances[].HibernationOptions": "instances cannot hibernate here; clients read a missing element as nil, " +
			"which they must handle anyway for older EC2 answers",
		"DescribeInstances:Reservations[].Instances[].StateReason": "EC2 sends stateReason only after a change that has a reason " +
			"(stopped, terminated); moto sends one for running instances",
		"RunInstances:Instances[].PublicIpAddress": "on EC2 a pending instance has no public address yet; it gets one when " +
			"running (moto assigns it at launch)",
		"ImportKeyPair:Tags": "EC2 answers tagSet only when TagSpecification tags the key; moto always sends an empty one",
		"RequestSpotInstances:SpotInstanceRequests[].InstanceId": "EC2 answers a new request open, before fulfilment gives " +
			"it an instance; moto fulfils it within the call",
	}
}

// covers reports whether the allow-list entry covers the key ACTION:PATH.
func covers(entry, key string) bool {
	eAction, ePath, _ := strings.Cut(entry, ":")
	kAction, kPath, _ := strings.Cut(key, ":")
	if eAction != "*" && eAction != kAction {
		return false
	}
	for i := 0; i <= len(kPath)-len(ePath); i++ {
		if !strings.HasPrefix(kPath[i:], ePath) {
			continue
		}
		// ePath must start at a key boundary: the start (an exact entry), or after a "."
		// for an entry that applies wherever an instance appears.
		if i > 0 && (eAction != "*" || kPath[i-1] != '.') {
			continue
		}
		// ... and end at one: the end of the key, or the start of a key under it.
		if rest := kPath[i+len(ePath):]; rest == "" || rest[0] == '.' || rest[0] == '[' {
			return true
		}
	}
	return false
}

// diffResult is what diff_scenario.py prints for one action.
type diffResult struct {
	Keys    []string `json:"keys"`
	Error   string   `json:"error"`
	Message string   `json:"message"`
}

// TestDifferentialMoto runs one boto3 script (Debian's boto3, so both parses use the same
// botocore model) against moto's server and against ec2grid cloud: for every action both
// answer, every key botocore parses from moto's answer must be in its parse of ours,
// except those diffAllowed lists.
func TestDifferentialMoto(t *testing.T) {
	t.Parallel()
	needPython(t, debianPython, "boto3", "python3-boto3")
	needPython(t, motoPython, "moto.server", "moto in the machine image's Python")

	motoURL := startMoto(t)
	ours := startCloud(t, "aws")

	motoEnv := &cloudProc{flavor: "moto", url: motoURL, accessKey: "AKIDEXAMPLE", secretKey: "SECRETEXAMPLE"}
	motoOut := runDiffScript(t, motoEnv, "")
	ourOut := runDiffScript(t, ours, testImage)

	allowed := diffAllowed()
	used := map[string]bool{}
	compared := 0
	actions := make([]string, 0, len(motoOut))
	for a := range motoOut {
		actions = append(actions, a)
	}
	sort.Strings(actions)
	for _, action := range actions {
		m, o := motoOut[action], ourOut[action]
		switch {
		case m.Error != "":
			t.Logf("%s: moto answered %s (%s); not compared", action, m.Error, m.Message)
			continue
		case o.Error != "":
			t.Errorf("%s: moto answers it, ec2grid answered %s: %s", action, o.Error, o.Message)
			continue
		case o.Keys == nil:
			t.Errorf("%s: moto answered it; the run against ec2grid never made the call", action)
			continue
		}
		compared++
		have := map[string]bool{}
		for _, k := range o.Keys {
			have[k] = true
		}
		for _, k := range m.Keys {
			if have[k] {
				continue
			}
			id := action + ":" + k
			if entry, ok := allowedBy(allowed, id); ok {
				used[entry] = true
				continue
			}
			t.Errorf("%s: botocore parses it from moto's answer but not from ec2grid's", id)
		}
	}
	for entry, reason := range allowed {
		if used[entry] {
			t.Logf("allowed: %s (%s)", entry, reason)
		} else {
			t.Errorf("allow-list entry %s is not needed any more: remove it", entry)
		}
	}
	if compared == 0 {
		t.Fatal("no action was answered by both servers")
	}
	t.Logf("compared %d actions", compared)
}

// runDiffScript runs diff_scenario.py against c and parses its JSON.
func runDiffScript(t *testing.T, c *cloudProc, image string) map[string]diffResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, debianPython, script(t, "diff_scenario.py"))
	cmd.Env = append(c.clientEnv(t), "EC2_IMAGE_ID="+image)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("diff_scenario.py against %s: %v\nstdout:\n%s\nstderr:\n%s", c.flavor, err, stdout.String(), stderr.String())
	}
	var out map[string]diffResult
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("diff_scenario.py against %s printed no JSON: %v\n%s\nstderr:\n%s", c.flavor, err, stdout.String(), stderr.String())
	}
	return out
}

// startMoto starts moto's server on a free loopback port and returns its URL; it is
// stopped when the test ends.
func startMoto(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(motoPython, "-m", "moto.server", "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	var log syncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start moto: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(stopTimeout):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("moto's log:\n%s", log.String())
		}
	})
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("moto exited at start (%v):\n%s", err, log.String())
		default:
		}
		resp, err := http.Get(url + "moto-api/")
		if err == nil {
			resp.Body.Close()
			return url
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("moto did not answer on %s within %v:\n%s", url, startTimeout, log.String())
	return ""
}

// allowedBy finds the allow-list entry covering key.
func allowedBy(allowed map[string]string, key string) (string, bool) {
	for entry := range allowed {
		if covers(entry, key) {
			return entry, true
		}
	}
	return "", false
}

func TestCovers(t *testing.T) {
	for _, c := range []struct {
		entry, key string
		want       bool
	}{
		{"ImportKeyPair:Tags", "ImportKeyPair:Tags", true},
		{"ImportKeyPair:Tags", "ImportKeyPair:Tags[].Key", true},
		{"ImportKeyPair:Tags", "ImportKeyPair:TagsX", false},
		{"ImportKeyPair:Tags", "CreateKeyPair:Tags", false},
		{"*:Instances[].VpcId", "RunInstances:Instances[].VpcId", true},
		{"*:Instances[].VpcId", "DescribeInstances:Reservations[].Instances[].VpcId", true},
		{"*:Instances[].NetworkInterfaces", "DescribeInstances:Reservations[].Instances[].NetworkInterfaces[].Association.PublicIp", true},
		{"*:Instances[].VpcId", "DescribeInstances:Reservations[].XInstances[].VpcId", false},
		{"RunInstances:Instances[].PublicIpAddress", "DescribeInstances:Reservations[].Instances[].PublicIpAddress", false},
		{"DescribeInstances:Instances[].StateReason", "DescribeInstances:Reservations[].Instances[].StateReason", false},
	} {
		if got := covers(c.entry, c.key); got != c.want {
			t.Errorf("covers(%q, %q) = %v, want %v", c.entry, c.key, got, c.want)
		}
	}
}
