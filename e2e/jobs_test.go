package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ec2grid/ec2grid/userlog"
)

// helloScript is user data that prints, waits a few seconds and exits: on the local cloud
// the instance is the script, so it shuts itself down when the script ends.
const helloScript = "#!/bin/sh\necho \"Hello EC2_Instance-ami-60bd4609!\"\nsleep 2\necho done\n"

// Event numbers the tests look for.
const (
	evSubmit     = userlog.EventSubmit
	evExecute    = 1
	evTerminated = 5
	evAborted    = 9
	evHeld       = 12
	evReleased   = 13
	evGridSubmit = 27
)

// token is the client token of a GridJobId "ec2 <url> <token> [<instance-id>]".
func token(gridJobID string) string {
	f := strings.Fields(gridJobID)
	if len(f) < 3 {
		return ""
	}
	return f[2]
}

// terminated waits until the cloud reports every listed instance terminated.
func terminated(t *testing.T, c *cloud, ids ...string) {
	t.Helper()
	waitFor(t, stateTimeout, fmt.Sprintf("instances %v terminated at the cloud", ids), func() (bool, string) {
		var states []string
		done := true
		for _, id := range ids {
			i, ok := c.instance(id)
			states = append(states, id+"="+i.State)
			if !ok || i.State != "terminated" {
				done = false
			}
		}
		return done, strings.Join(states, " ")
	})
}

// noKeyPairs waits until the cloud holds no key pair.
func noKeyPairs(t *testing.T, c *cloud) {
	t.Helper()
	waitFor(t, stateTimeout, "every key pair deleted at the cloud", func() (bool, string) {
		k := c.keyPairs()
		return len(k) == 0, fmt.Sprint(k)
	})
}

// The Condor article's walkthrough, unchanged but for the cloud's URL and key files and a
// user-data script: submit, the job runs, condor_q -format shows the instance, the
// instance shuts itself down, condor_wait returns, and the user log reads 000 027 001 005.
func TestArticleWalkthrough(t *testing.T) {
	t.Parallel()
	c := startCloud(t, "aws")
	s := newSystem(t)
	s.startDaemon()
	s.write("hello.sh", helloScript, 0o644)
	sub := s.write("ec2.sub", fmt.Sprintf(`universe = grid
grid_resource = ec2 %s
ec2_access_key_id = %s
ec2_secret_access_key = %s
ec2_ami_id = ami-60bd4609
ec2_instance_type = m1.small
ec2_user_data_file = hello.sh
executable = EC2_Instance-$(ec2_ami_id)
log = $(executable).$(cluster).log
ec2_keypair_file = $(executable).$(cluster).pem
periodic_hold = (JobStatus == 2) && (time() - EnteredCurrentStatus > 3600)
queue
`, c.URL, c.AKFile, c.SKFile), 0o644)
	cluster := s.submit(sub)
	keyFile := filepath.Join(s.work, fmt.Sprintf("EC2_Instance-ami-60bd4609.%d.pem", cluster))

	// Running: the article's three attributes. The instance may already have finished its
	// script by the time condor_q looks; the attributes stay.
	jobs := s.waitJobs(cluster, 1, "the job running", func(a ad) bool { return running(a) || a.num("JobStatus") == 4 })
	iid := jobs[0].str("EC2InstanceName")
	out := s.must("condor_q", fmt.Sprint(cluster),
		"-format", `Instance name: %s\n`, "EC2InstanceName",
		"-format", `Instance hostname: %s\n`, "EC2RemoteVirtualMachineName",
		"-format", `Keypair: %s\n`, "EC2KeyPairFile")
	want := regexp.MustCompile(`^Instance name: (i-[0-9a-f]+)\nInstance hostname: (\S+)\nKeypair: (\S+)\n$`)
	if m := want.FindStringSubmatch(out); m == nil || m[1] != iid || m[2] == "undefined" || m[3] != keyFile {
		t.Errorf("condor_q -format:\n%s\nwant instance %s, a host name, key pair file %s", out, iid, keyFile)
	}
	in, ok := c.instance(iid)
	if !ok {
		t.Fatalf("instance %s is not at the cloud", iid)
	}
	if in.ClientToken != token(jobs[0].str("GridJobId")) || in.Tags["ec2grid:job"] != jobs[0].str("GlobalJobId") || in.Tags["ec2grid:queue"] == "" {
		t.Errorf("instance %+v: want client token and ec2grid:job tag of job %s (GridJobId %q)", in, jobs[0].str("GlobalJobId"), jobs[0].str("GridJobId"))
	}

	// The script ends, the instance shuts down, the job completes.
	log := fmt.Sprintf("EC2_Instance-ami-60bd4609.%d.log", cluster)
	r := s.run("condor_wait", "-wait", fmt.Sprint(int(stateTimeout.Seconds())), log)
	if r.Code != 0 || r.Stdout != "All jobs done.\n" {
		t.Fatalf("condor_wait: exit %d %q %q\n%s", r.Code, r.Stdout, r.Stderr, s.daemonLog())
	}
	if got := eventCodes(s.events(log), cluster, 0); !slices.Equal(got, []int{evSubmit, evGridSubmit, evExecute, evTerminated}) {
		t.Errorf("user log events %v, want 000 027 001 005", got)
	}
	h := s.history(fmt.Sprint(cluster))
	if len(h) != 1 || h[0].num("JobStatus") != 4 || h[0].str("EC2InstanceName") != iid {
		t.Errorf("history:\n%s", describe(h))
	}
	console, err := os.ReadFile(filepath.Join(c.State, "instances", iid, "console.log"))
	if err != nil || !strings.Contains(string(console), "Hello EC2_Instance-ami-60bd4609!") {
		t.Errorf("the instance's console: %q, %v", console, err)
	}
	terminated(t, c, iid)
	noKeyPairs(t, c)
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Errorf("key pair file after completion: %v", err)
	}
	// The gahp's knobs reach the child (the daemon hands them over as its environment):
	// its log is where EC2_GAHP_LOG's default puts it.
	if _, err := os.Stat(filepath.Join(s.home, "log", "EC2GahpLog")); err != nil {
		t.Errorf("ec2_gahp log: %v", err)
	}
}

// periodic_hold = (time() - ShadowBday) >= 5 holds the running job with code 3, its
// instance is terminated and 012 is logged.
func TestPeriodicHold(t *testing.T) {
	t.Parallel()
	c := startCloud(t, "aws")
	s := newSystem(t)
	s.startDaemon()
	cluster := s.submit(s.submitFile("hold.sub", jobSpec{cloud: c, keyFile: true,
		extra: []string{"periodic_hold = (time() - ShadowBday) >= 5"}}))
	jobs := s.waitJobs(cluster, 1, "the job running", running)
	iid := jobs[0].str("EC2InstanceName")
	jobs = s.waitJobs(cluster, 1, "the job held by periodic_hold", func(a ad) bool { return a.num("JobStatus") == 5 })
	if jobs[0].num("HoldReasonCode") != 3 || jobs[0].str("HoldReason") != "The job attribute PeriodicHold expression '(time() - ShadowBday) >= 5' evaluated to TRUE" {
		t.Errorf("hold: code %d reason %q", jobs[0].num("HoldReasonCode"), jobs[0].str("HoldReason"))
	}
	terminated(t, c, iid)
	var held *userlog.HeldEvent
	for _, ev := range s.events(logName("", cluster)) {
		if h, ok := ev.(*userlog.HeldEvent); ok {
			held = h
		}
	}
	if held == nil || held.Code != 3 {
		t.Errorf("user log 012: %+v", held)
	}
	// A removed held job leaves with its key pair gone.
	s.must("condor_rm", fmt.Sprint(cluster))
	s.waitGone(cluster, "the held job removed")
	noKeyPairs(t, c)
}

// condor_rm: 009, the instances terminated at the cloud, the key pairs deleted there and
// their files gone.
func TestRemove(t *testing.T) {
	t.Parallel()
	c := startCloud(t, "aws")
	s := newSystem(t)
	s.startDaemon()
	const n = 3
	cluster := s.submit(s.submitFile("rm.sub", jobSpec{cloud: c, keyFile: true, queue: n}))
	jobs := s.waitJobs(cluster, n, "the jobs running", running)
	var ids, keyFiles []string
	for _, a := range jobs {
		ids = append(ids, a.str("EC2InstanceName"))
		keyFiles = append(keyFiles, a.str("EC2KeyPairFile"))
		if _, err := os.Stat(a.str("EC2KeyPairFile")); err != nil {
			t.Errorf("job %s key pair file: %v", a.id(), err)
		}
	}
	if k := c.keyPairs(); len(k) != n {
		t.Errorf("key pairs at the cloud while running: %v, want %d", k, n)
	}
	if out := s.must("condor_rm", fmt.Sprint(cluster)); out != fmt.Sprintf("All jobs in cluster %d have been marked for removal\n", cluster) {
		t.Errorf("condor_rm: %q", out)
	}
	s.waitGone(cluster, "the removed jobs leaving the queue")
	terminated(t, c, ids...)
	noKeyPairs(t, c)
	for _, f := range keyFiles {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("key pair file %s after condor_rm: %v", f, err)
		}
	}
	evs := s.events(logName("", cluster))
	for p := range n {
		if got := eventCodes(evs, cluster, p); len(got) == 0 || got[len(got)-1] != evAborted {
			t.Errorf("job %d.%d events %v, want 009 last", cluster, p, got)
		}
	}
	for _, a := range s.history(fmt.Sprint(cluster)) {
		if a.num("JobStatus") != 3 {
			t.Errorf("history: job %s JobStatus %d, want 3", a.id(), a.num("JobStatus"))
		}
	}
}

// condor_hold terminates the instance; condor_release runs the job again on a new one.
func TestHoldRelease(t *testing.T) {
	t.Parallel()
	c := startCloud(t, "aws")
	s := newSystem(t)
	s.startDaemon()
	cluster := s.submit(s.submitFile("hr.sub", jobSpec{cloud: c, keyFile: true}))
	first := s.waitJobs(cluster, 1, "the job running", running)[0].str("EC2InstanceName")
	s.must("condor_hold", fmt.Sprint(cluster))
	terminated(t, c, first)
	s.waitJobs(cluster, 1, "the job held with its request forgotten", func(a ad) bool {
		return a.num("JobStatus") == 5 && a.str("EC2InstanceName") == ""
	})
	s.must("condor_release", fmt.Sprint(cluster))
	jobs := s.waitJobs(cluster, 1, "the released job running again", func(a ad) bool {
		return running(a) && a.str("EC2InstanceName") != first
	})
	second := jobs[0].str("EC2InstanceName")
	if in, ok := c.instance(second); !ok || in.State != "running" {
		t.Errorf("the new instance %s at the cloud: %+v", second, in)
	}
	got := eventCodes(s.events(logName("", cluster)), cluster, 0)
	for _, want := range []int{evHeld, evReleased} {
		if !slices.Contains(got, want) {
			t.Errorf("user log events %v lack %03d", got, want)
		}
	}
	s.must("condor_rm", fmt.Sprint(cluster))
	s.waitGone(cluster, "the job removed")
	terminated(t, c, first, second)
	noKeyPairs(t, c)
}

// A spot job whose bid meets the price is fulfilled and runs; one whose bid is below it
// waits, and condor_rm cancels its request.
func TestSpot(t *testing.T) {
	t.Parallel()
	// The price stays at 0.05: 0.10 is fulfilled, 0.02 never is.
	c := startCloud(t, "aws", "--spot-initial-price", "0.05", "--spot-interval", "0s")
	s := newSystem(t)
	s.startDaemon()
	won := s.submit(s.submitFile("won.sub", jobSpec{cloud: c, extra: []string{"ec2_spot_price = 0.10"}, logSuffix: "-won"}))
	lost := s.submit(s.submitFile("lost.sub", jobSpec{cloud: c, extra: []string{"ec2_spot_price = 0.02"}, logSuffix: "-lost"}))

	// Fulfilled, the job follows its instance and forgets the request (HTCondor's
	// GM_SAVE_INSTANCE_ID); the cloud still knows which request the instance came from.
	jobs := s.waitJobs(won, 1, "the spot job fulfilled and running", running)
	iid := jobs[0].str("EC2InstanceName")
	jobs = s.waitJobs(lost, 1, "the low bid's request open", func(a ad) bool {
		return a.num("JobStatus") == 1 && a.str("EC2SpotRequestID") != ""
	})
	lostReq := jobs[0].str("EC2SpotRequestID")
	var fulfilled []spotRequest
	for _, r := range c.spotRequests() {
		switch {
		case r.ID == lostReq && (r.State != "open" || r.InstanceID != ""):
			t.Errorf("low bid's request at the cloud: %+v, want open without instance", r)
		case r.ID != lostReq:
			fulfilled = append(fulfilled, r)
		}
	}
	if len(fulfilled) != 1 || fulfilled[0].State != "active" || fulfilled[0].InstanceID != iid {
		t.Errorf("requests at the cloud besides the low bid's: %+v, want one, active, with instance %s", fulfilled, iid)
	}

	s.must("condor_rm", fmt.Sprint(lost))
	s.waitGone(lost, "the unfulfilled spot job removed")
	waitFor(t, stateTimeout, "the low bid's request cancelled at the cloud", func() (bool, string) {
		for _, r := range c.spotRequests() {
			if r.ID == lostReq {
				return r.State == "cancelled" && r.InstanceID == "", fmt.Sprintf("%+v", r)
			}
		}
		return false, "request gone"
	})
	if got := eventCodes(s.events(logName("-lost", lost)), lost, 0); !slices.Contains(got, evAborted) || slices.Contains(got, evExecute) {
		t.Errorf("cancelled spot job's events %v: want 009 and no 001", got)
	}
	s.must("condor_rm", fmt.Sprint(won))
	s.waitGone(won, "the fulfilled spot job removed")
	terminated(t, c, iid)
	if n := len(c.instances()); n != 1 {
		t.Errorf("%d instances at the cloud, want the fulfilled request's one", n)
	}
}

// The two idempotency paths: on aws the client token makes starts safe, and no key pair
// is made for a job that names none; on openstack (which ignores ClientToken) each job
// gets its own generated key pair, by which a lost start is found. Both tag every
// instance with the queue and the job.
func TestFlavors(t *testing.T) {
	t.Parallel()
	for _, flavor := range []string{"aws", "openstack"} {
		t.Run(flavor, func(t *testing.T) {
			t.Parallel()
			c := startCloud(t, flavor)
			s := newSystem(t)
			s.startDaemon()
			const n = 2
			cluster := s.submit(s.submitFile("f.sub", jobSpec{cloud: c, queue: n}))
			jobs := s.waitJobs(cluster, n, "the jobs running", running)
			byID := map[string]instance{}
			for _, in := range c.instances() {
				byID[in.ID] = in
			}
			var ids []string
			for _, a := range jobs {
				iid := a.str("EC2InstanceName")
				ids = append(ids, iid)
				in := byID[iid]
				if in.Tags["ec2grid:job"] != a.str("GlobalJobId") || in.Tags["ec2grid:queue"] == "" {
					t.Errorf("job %s: instance %+v lacks its tags", a.id(), in)
				}
				if got, want := a.str("EC2ServerType"), map[string]string{"aws": "Amazon", "openstack": "OpenStack"}[flavor]; got != want {
					t.Errorf("job %s: EC2ServerType %q, want %q", a.id(), got, want)
				}
				switch flavor {
				case "aws":
					if in.ClientToken != token(a.str("GridJobId")) || a.str("EC2KeyPair") != "" || in.KeyName != "" {
						t.Errorf("job %s (GridJobId %q, EC2KeyPair %q): instance %+v, want its client token and no key pair",
							a.id(), a.str("GridJobId"), a.str("EC2KeyPair"), in)
					}
				case "openstack":
					if kp := a.str("EC2KeyPair"); !strings.HasPrefix(kp, "SSH_") || in.KeyName != kp {
						t.Errorf("job %s: EC2KeyPair %q, instance %+v: want the generated key pair on the instance", a.id(), kp, in)
					}
				}
			}
			if flavor == "aws" && len(c.keyPairs()) != 0 {
				t.Errorf("key pairs made on aws for jobs that name none: %v", c.keyPairs())
			}
			if flavor == "openstack" && len(c.keyPairs()) != n {
				t.Errorf("key pairs on openstack: %v, want one per job", c.keyPairs())
			}
			s.must("condor_rm", fmt.Sprint(cluster))
			s.waitGone(cluster, "the jobs removed")
			terminated(t, c, ids...)
			noKeyPairs(t, c)
		})
	}
}
