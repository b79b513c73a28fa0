package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ec2grid/ec2grid/internal/testbin"
)

// minPEMLine is the shortest PEM body line searched for: a shorter one (the last line of
// the body) could occur by chance in unrelated text; the full 64-character lines cannot.
const minPEMLine = 40

// marker returns a fresh random string with the prefix, unique to this run, so a hit in
// a scan can only come from this test's credentials.
func marker(t *testing.T, prefix string, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + strings.ToUpper(hex.EncodeToString(b))
}

// secretScan collects what must never leak and where to look for it: the files under
// some roots (minus the key files themselves) and the text every command printed.
type secretScan struct {
	needles  map[string]string // secret text → what it is, for the failure message
	roots    []string
	keyFiles map[string]bool // absolute paths exempt from the search: the secrets' own files
	texts    map[string]*strings.Builder
}

func newSecretScan() *secretScan {
	return &secretScan{needles: map[string]string{}, keyFiles: map[string]bool{}, texts: map[string]*strings.Builder{}}
}

// addPEM reads a key pair file (while its job runs; the file goes when the job ends) and
// adds every long line of its body as a needle, so that a leak of any part of the key is
// found however the logger escaped its line breaks.
func (sc *secretScan) addPEM(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("key pair file: %v", err)
	}
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		t.Fatalf("key pair file %s holds no PEM: %q", path, data)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if len(line) >= minPEMLine && !strings.HasPrefix(line, "-----") {
			sc.needles[line] = "a line of the private key in " + filepath.Base(path)
			n++
		}
	}
	if n == 0 {
		t.Fatalf("key pair file %s: no body line of %d characters or more", path, minPEMLine)
	}
	sc.keyFiles[path] = true
}

// record keeps a command's or process's output under a name.
func (sc *secretScan) record(name, text string) {
	b := sc.texts[name]
	if b == nil {
		b = &strings.Builder{}
		sc.texts[name] = b
	}
	b.WriteString(text)
}

// run runs a command through the system and records both its outputs.
func (sc *secretScan) run(s *system, name string, args ...string) testbin.Result {
	s.t.Helper()
	r := s.run(name, args...)
	what := name + " " + strings.Join(args, " ")
	sc.record(what+" (stdout)", r.Stdout)
	sc.record(what+" (stderr)", r.Stderr)
	return r
}

// must is run for a command that must succeed.
func (sc *secretScan) must(s *system, name string, args ...string) string {
	s.t.Helper()
	r := sc.run(s, name, args...)
	if r.Code != 0 {
		s.t.Fatalf("%s %s: exit %d\nstdout:\n%s\nstderr:\n%s\ndaemon log:\n%s", name, strings.Join(args, " "),
			r.Code, r.Stdout, r.Stderr, s.daemonLog())
	}
	return r.Stdout
}

// hits searches every file under the roots (but the key files) and every recorded text
// for every needle, and returns one line per hit. It also returns the files it read, so a
// caller can tell an empty scan from a clean one.
func (sc *secretScan) hits(t *testing.T) (found, files []string) {
	t.Helper()
	search := func(where string, data []byte) {
		for n, what := range sc.needles {
			if bytes.Contains(data, []byte(n)) {
				found = append(found, fmt.Sprintf("%s: %s", where, what))
			}
		}
	}
	for _, root := range sc.roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() || sc.keyFiles[p] {
				return nil // sockets and FIFOs hold nothing at rest
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files = append(files, p)
			search(p, data)
			return nil
		})
		if err != nil {
			t.Fatalf("scan %s: %v", root, err)
		}
	}
	for name, b := range sc.texts {
		search(name, []byte(b.String()))
	}
	slices.Sort(found)
	return found, files
}

// TestSecretsNeverLeak runs the main flows — the Condor article's walkthrough, condor_rm,
// condor_hold and condor_release, a daemon killed and restarted — with credentials that
// are unique random markers (an account the cloud's config defines) and the most verbose
// logging, then searches the daemon's home (its logs, the gahp's log, the queue and history
// files), the work directory (user logs; the credential and key pair files excepted), the
// daemons' and the cloud's stderr, condor_q -long, condor_history -long and every
// command's stdout and stderr: neither the secret key nor any line of a private key may
// appear. The access key id is not a secret (EC2 puts it in every request) and is not
// searched for.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	for _, flavor := range []string{"aws", "openstack"} {
		t.Run(flavor, func(t *testing.T) {
			t.Parallel()
			secretsFlows(t, flavor)
		})
	}
}

func secretsFlows(t *testing.T, flavor string) {
	ak := marker(t, "AKIA", 8)
	sk := marker(t, "ec2grid-secret-marker-", 16)
	conf := shortDir(t, "e2es")
	skCloudFile := filepath.Join(conf, "sk")
	if err := os.WriteFile(skCloudFile, []byte(sk+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(conf, "cloud.hcl")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("account \"marker\" {\n  access_key_id = %q\n  secret_access_key_file = %q\n}\n",
		ak, skCloudFile)), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startCloud(t, flavor, "--config", cfg, "--log-level", "debug")
	s := newSystem(t)
	sc := newSecretScan()
	sc.needles[sk] = "the secret access key"
	sc.roots = []string{s.home, s.work}
	akFile := s.write("marker.AccessKeyID", ak+"\n", 0o600)
	skFile := s.write("marker.SecretAccessKey", sk+"\n", 0o600)
	sc.keyFiles[akFile], sc.keyFiles[skFile] = true, true
	// Every call logged, by the daemon and by ec2_gahp.
	verbose := []string{"EC2GRID_LOG_LEVEL=debug", "EC2GRID_EC2_GAHP_DEBUG=D_FULLDEBUG"}
	daemons := []*process{s.startDaemon(verbose...)}

	spec := func(extra ...string) string {
		lines := []string{
			"universe = grid",
			"grid_resource = ec2 " + c.URL,
			"ec2_access_key_id = " + akFile,
			"ec2_secret_access_key = " + skFile,
			"ec2_ami_id = ami-60bd4609",
			"ec2_instance_type = m1.small",
			"executable = EC2_Instance-$(ec2_ami_id)",
			"log = $(executable).$(cluster).log",
			"ec2_keypair_file = $(executable).$(cluster).$(process).pem",
		}
		return strings.Join(append(lines, extra...), "\n") + "\n"
	}
	submit := func(name, content string) int {
		out := sc.must(s, "condor_submit", s.write(name, content, 0o644))
		var n, cluster int
		for _, line := range strings.Split(out, "\n") {
			if _, err := fmt.Sscanf(line, "%d job(s) submitted to cluster %d.", &n, &cluster); err == nil {
				return cluster
			}
		}
		t.Fatalf("condor_submit %s: no cluster in %q", name, out)
		return 0
	}
	keyFile := func(cluster, proc int) string {
		return filepath.Join(s.work, fmt.Sprintf("EC2_Instance-ami-60bd4609.%d.%d.pem", cluster, proc))
	}
	// snapshot records the long forms of the queue and the history at this moment.
	snapshot := func() {
		sc.must(s, "condor_q", "-long")
		sc.must(s, "condor_q", "-json")
		sc.must(s, "condor_history", "-long")
	}

	// 1. The article's walkthrough: the instance runs a script that waits for the test
	// to have read the key file, then says hello and shuts down; condor_wait returns.
	release := filepath.Join(s.work, "release")
	s.write("hello.sh", fmt.Sprintf("#!/bin/sh\nwhile [ ! -e %s ]; do sleep 0.1; done\necho \"Hello EC2_Instance-ami-60bd4609!\"\n", release), 0o644)
	walk := submit("ec2.sub", spec("ec2_user_data_file = hello.sh",
		"periodic_hold = (JobStatus == 2) && (time() - EnteredCurrentStatus > 3600)", "queue"))
	s.waitJobs(walk, 1, "the walkthrough's job running", running)
	sc.addPEM(t, keyFile(walk, 0))
	sc.must(s, "condor_q", fmt.Sprint(walk), "-format", `Instance name: %s\n`, "EC2InstanceName",
		"-format", `Instance hostname: %s\n`, "EC2RemoteVirtualMachineName", "-format", `Keypair: %s\n`, "EC2KeyPairFile")
	snapshot()
	s.write("release", "", 0o644)
	log := fmt.Sprintf("EC2_Instance-ami-60bd4609.%d.log", walk)
	if r := sc.run(s, "condor_wait", "-wait", fmt.Sprint(int(stateTimeout.Seconds())), log); r.Code != 0 {
		t.Fatalf("condor_wait: exit %d %q %q\n%s", r.Code, r.Stdout, r.Stderr, s.daemonLog())
	}

	// 2. condor_rm of two running jobs.
	rm := submit("rm.sub", spec("queue 2"))
	s.waitJobs(rm, 2, "the jobs to remove running", running)
	sc.addPEM(t, keyFile(rm, 0))
	sc.addPEM(t, keyFile(rm, 1))
	snapshot()
	sc.must(s, "condor_rm", fmt.Sprint(rm))
	s.waitGone(rm, "the removed jobs leaving")

	// 3. condor_hold, condor_release: the job runs again (on a new key pair in the
	// openstack flavor; the file is read again either way).
	hr := submit("hr.sub", spec("queue"))
	first := s.waitJobs(hr, 1, "the job to hold running", running)[0].str("EC2InstanceName")
	sc.addPEM(t, keyFile(hr, 0))
	sc.must(s, "condor_hold", fmt.Sprint(hr))
	s.waitJobs(hr, 1, "the job held", func(a ad) bool { return a.num("JobStatus") == 5 })
	snapshot()
	sc.must(s, "condor_release", fmt.Sprint(hr))
	s.waitJobs(hr, 1, "the released job running again", func(a ad) bool {
		return running(a) && a.str("EC2InstanceName") != first
	})
	sc.addPEM(t, keyFile(hr, 0))

	// 4. The daemon killed (SIGKILL: no shutdown path runs) and started again: the job
	// is found running, then removed.
	d := daemons[0]
	d.Kill()
	daemons = append(daemons, s.startDaemon(verbose...))
	s.waitJobs(hr, 1, "the job running after the restart", running)
	snapshot()
	sc.must(s, "condor_rm", fmt.Sprint(hr))
	s.waitGone(hr, "the held and released job removed")
	snapshot()
	sc.must(s, "ec2grid", "stop")
	daemons[1].waitExit(t, stopTimeout)

	for i, d := range daemons {
		sc.record(fmt.Sprintf("daemon %d stderr", i+1), d.stderr.String())
	}
	sc.record("cloud stderr", c.proc.stderr.String())

	found, files := sc.hits(t)
	if len(found) > 0 {
		t.Errorf("secrets found outside their files:\n%s", strings.Join(found, "\n"))
	}
	gahpLog := filepath.Join(s.home, "log", "EC2GahpLog")
	if data, err := os.ReadFile(gahpLog); err != nil || !bytes.Contains(data, []byte("EC2_VM_START")) {
		t.Errorf("ec2_gahp's log %s does not log every call (so the scan proves little): %v", gahpLog, err)
	}
	// The scan covered the logs that matter: the daemon's, the gahp's, the user logs and
	// the queue's and history's files.
	for _, want := range []string{filepath.Join(s.home, "log", "daemon.log"), gahpLog, filepath.Join(s.work, log)} {
		if !slices.Contains(files, want) {
			t.Errorf("the scan did not read %s; it read %q", want, files)
		}
	}
	t.Logf("scanned %d files (%s) and %d outputs for %d needles", len(files), strings.Join(files, ", "), len(sc.texts), len(sc.needles))

	// The scan can fail: a secret written to a file among those scanned, or printed by
	// a command, is found.
	t.Run("positive control", func(t *testing.T) {
		var pem string
		for n, what := range sc.needles {
			if strings.HasPrefix(what, "a line of the private key") {
				pem = n
				break
			}
		}
		planted := filepath.Join(s.home, "log", "planted.log")
		if err := os.WriteFile(planted, []byte("zzz "+sk+" zzz"), 0o600); err != nil {
			t.Fatal(err)
		}
		sc.record("planted output", "x"+pem+"x")
		found, _ := sc.hits(t)
		want := []string{planted + ": the secret access key", "planted output: " + sc.needles[pem]}
		for _, w := range want {
			if !slices.Contains(found, w) {
				t.Errorf("the scan missed the planted %q; found %q", w, found)
			}
		}
	})
}
