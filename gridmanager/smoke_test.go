//go:build smoke

package gridmanager

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/jobs"
)

// TestSmokeReal runs jobs through the real resource, ec2_gahp and `ec2grid cloud` (aws and
// openstack flavors): start, tags, running, condor_rm (009, key file gone), and an orphan
// (a running job's ad deleted behind the manager's back) terminated by the sweep. It needs
// the binaries: make build && go test -tags smoke -run TestSmokeReal ./gridmanager
// (the daemon's end-to-end tests cover the same ground with the whole system).
func TestSmokeReal(t *testing.T) {
	for _, flavor := range []string{"aws", "openstack"} {
		t.Run(flavor, func(t *testing.T) {
			state := t.TempDir()
			cmd := exec.Command("../bin/ec2grid", "cloud", "--state", state, "--flavor", flavor, "--boot-delay", "100ms")
			out, _ := cmd.StdoutPipe()
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			url, err := bufio.NewReader(out).ReadString('\n')
			if err != nil {
				t.Fatalf("ec2grid cloud: %v", err)
			}
			url = strings.TrimSpace(url)
			creds := filepath.Join(state, "credentials", "demo")
			store := jobs.NewMemory()
			log := zap.NewNop()
			if testing.Verbose() {
				log, _ = zap.NewDevelopment()
			}
			m := New(store, Options{QueueID: "q-smoke", GahpPath: "../bin/ec2_gahp", ProbeInterval: time.Second, Logger: log,
				OrphanSweepInterval: time.Second, OrphanGrace: 2 * time.Second})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go m.Run(ctx)
			dir := t.TempDir()
			ad := classad.New()
			ad.SetInt(attrJobUniverse, 9)
			ad.SetInt(jobs.AttrJobStatus, 1)
			ad.SetString(jobs.AttrGridResource, "ec2 "+url)
			ad.SetString(attrAccessKey, filepath.Join(creds, "AccessKeyID"))
			ad.SetString(attrSecretKey, filepath.Join(creds, "SecretAccessKey"))
			ad.SetString("EC2AmiID", "ami-12345678")
			ad.SetString("EC2InstanceType", "m1.small")
			ad.SetString(attrKeyPairFile, dir+"/key.pem")
			ad.SetString("EC2TagNames", "Name")
			ad.SetString("EC2TagName", "smoke")
			ad.SetString(attrGlobalJobID, "smoke#1.0#1")
			ad.SetString(attrUserLog, dir+"/log")
			c, err := store.SubmitCluster(ctx, "", []*classad.ClassAd{ad})
			if err != nil {
				t.Fatal(err)
			}
			id := jobs.JobID{Cluster: c}
			deadline := time.Now().Add(30 * time.Second)
			for {
				a, _ := store.Get(ctx, id)
				if jobs.Status(a) == 2 && str(a, attrAttached) != "" {
					t.Logf("running: %s", a.MarshalLong())
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("not running: %s", a.MarshalLong())
				}
				time.Sleep(100 * time.Millisecond)
			}
			a, _ := store.Get(ctx, id)
			cs, _ := jobs.Remove(a, "rm", time.Now().Unix())
			if err := store.Update(ctx, id, cs, jobs.Durable); err != nil {
				t.Fatal(err)
			}
			for {
				if _, err := store.Get(ctx, id); err != nil {
					break
				}
				if time.Now().After(deadline.Add(30 * time.Second)) {
					a, _ := store.Get(ctx, id)
					t.Fatalf("not gone: %s", a.MarshalLong())
				}
				time.Sleep(100 * time.Millisecond)
			}
			b, _ := os.ReadFile(dir + "/log")
			t.Logf("log:\n%s", b)
			if _, err := os.Stat(dir + "/key.pem"); !os.IsNotExist(err) {
				t.Errorf("key file: %v", err)
			}
			// An orphan: a running job's ad deleted behind the manager's back.
			ad.Delete(attrKeyPairFile)
			c, _ = store.SubmitCluster(ctx, "", []*classad.ClassAd{ad})
			id = jobs.JobID{Cluster: c}
			for {
				a, _ := store.Get(ctx, id)
				if jobs.Status(a) == 2 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err := store.Delete(ctx, id); err != nil {
				t.Fatal(err)
			}
			for m.Stats().Orphans == 0 {
				if time.Now().After(deadline.Add(60 * time.Second)) {
					t.Fatalf("no orphan stopped: %+v", m.Stats())
				}
				time.Sleep(100 * time.Millisecond)
			}
			t.Logf("stats %+v", m.Stats())
		})
	}
}
