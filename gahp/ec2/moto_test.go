package ec2

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/gahp"
	"github.com/ec2grid/ec2grid/gahp/ec2/ec2test"
)

// TestMoto runs a job's life through the gahp against moto: server type, key pair, start
// with a key pair and a client token, status until running, tags, stop, key pair gone,
// spot start/status/stop, and a status with more instances than moto puts on one page.
func TestMoto(t *testing.T) {
	t.Parallel()
	url := ec2test.Moto(t)
	r := newRig(t, url, fastOptions())
	// moto sends no "Server: AmazonEC2": HTCondor's heuristic calls it OpenStack (measured).
	if res := r.must(CmdServerType); res[0] != ServerOpenStack {
		t.Errorf("server type %q", res)
	}
	keyFile := filepath.Join(r.dir, "job.pem")
	r.must(CmdCreateKeypair, "SSH_pool_1.0", keyFile)
	if b, err := os.ReadFile(keyFile); err != nil || !strings.Contains(string(b), "PRIVATE KEY") {
		t.Errorf("key file %q, %v", b, err)
	}
	if res := r.cmd(CmdCreateKeypair, "SSH_pool_1.0", keyFile); res[0] != "1" || !strings.Contains(res[2], "InvalidKeyPair.Duplicate") {
		t.Errorf("duplicate key pair: %q", res)
	}

	args := startArgs("ami-12c6146b", "SSH_pool_1.0", "4a5d3840-40dc-4203-afc0-f4e980ddd696")
	args[2] = "Hello EC2!"
	ids := r.must(CmdStart, args...)
	if len(ids) != 1 {
		t.Fatalf("start: %q", ids)
	}
	id := ids[0]

	var tuple []string
	deadline := time.Now().Add(generous)
	for time.Now().Before(deadline) {
		res := r.must(CmdStatusAll)
		if len(res)%8 != 0 {
			t.Fatalf("STATUS_ALL tuple size: %q", res)
		}
		for i := 0; i < len(res); i += 8 {
			if res[i] == id {
				tuple = res[i : i+8]
			}
		}
		if tuple != nil && tuple[1] == "running" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if tuple == nil || tuple[1] != "running" || tuple[3] != "SSH_pool_1.0" {
		t.Fatalf("status tuple %q", tuple)
	}
	if tuple[2] != "4a5d3840-40dc-4203-afc0-f4e980ddd696" && tuple[2] != gahp.Null {
		t.Errorf("client token field %q", tuple[2])
	}
	if res := r.must(CmdStatusAll, "instance-state-name", "running"); len(res) != 8 || res[0] != id {
		t.Errorf("filtered status: %q", res)
	}
	if res := r.must(CmdStatus, id); len(res) < 8 || res[0] != id || res[1] != "running" || res[2] != "ami-12c6146b" {
		t.Errorf("EC2_VM_STATUS: %q", res)
	}

	r.must(CmdCreateTags, id, "Name=ec2-test", "owner=alice", gahp.Null)
	r.must(CmdStop, id)
	if res := r.cmd(CmdStop, "i-0123456789abcdef0"); res[0] != "1" || !strings.Contains(res[2], "InvalidInstanceID.NotFound") {
		t.Errorf("stop of an unknown instance: %q", res)
	}
	res := r.must(CmdStatusAll)
	for i := 0; i < len(res); i += 8 {
		if res[i] == id && res[i+1] != "shutting-down" && res[i+1] != "terminated" {
			t.Errorf("after stop: %q", res[i:i+8])
		}
	}
	r.must(CmdDestroyKeypair, "SSH_pool_1.0")

	// Spot.
	sir := r.must(CmdStartSpot, "ami-12c6146b", "0.05", gahp.Null, gahp.Null, gahp.Null, "m1.small", gahp.Null, gahp.Null, gahp.Null,
		"spot-token-1", gahp.Null, gahp.Null, gahp.Null, gahp.Null)
	if len(sir) != 1 || !strings.HasPrefix(sir[0], "sir-") {
		t.Fatalf("spot start: %q", sir)
	}
	all := r.must(CmdStatusAllSpot)
	if len(all)%5 != 0 || len(all) == 0 {
		t.Fatalf("STATUS_ALL_SPOT: %q", all)
	}
	found := false
	for i := 0; i < len(all); i += 5 {
		if all[i] == sir[0] {
			found = true
			if all[i+2] != "spot-token-1" {
				t.Errorf("launch group %q", all[i+2])
			}
		}
	}
	if !found {
		t.Errorf("spot request %s not listed: %q", sir[0], all)
	}
	if one := r.must(CmdStatusSpot, sir[0]); len(one) != 5 || one[0] != sir[0] {
		t.Errorf("EC2_VM_STATUS_SPOT: %q", one)
	}
	r.must(CmdStopSpot, sir[0])
	// moto forgets a cancelled request at once; AWS lists it as cancelled for a while.
	if one := r.must(CmdStatusSpot, sir[0]); len(one) != 0 && (len(one) != 5 || one[1] != "cancelled") {
		t.Errorf("after cancel: %q", one)
	}
}
