package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// crashJobs is how many jobs each crash test submits: more than one, so the crash meets
// jobs in different states (one at the crash point, others before or after it).
const crashJobs = 3

// byJob groups the cloud's instances by the job that launched them: the ec2grid:job tag
// every launch carries. An untagged instance is a bug in itself and is reported under "".
func byJob(insts []instance) map[string][]instance {
	m := map[string][]instance{}
	for _, in := range insts {
		m[in.Tags["ec2grid:job"]] = append(m[in.Tags["ec2grid:job"]], in)
	}
	return m
}

// checkOnePerJob checks the cloud's records: exactly one instance for each of the jobs
// (by tag, and on aws by client token), none for anyone else, each in a state want
// accepts.
func checkOnePerJob(t *testing.T, c *cloud, flavor string, jobs []ad, want func(state string) bool) {
	t.Helper()
	insts := c.instances()
	groups := byJob(insts)
	for _, a := range jobs {
		g := groups[a.str("GlobalJobId")]
		if len(g) != 1 {
			t.Errorf("job %s (%s): %d instances at the cloud, want exactly 1: %+v", a.id(), a.str("GlobalJobId"), len(g), g)
			continue
		}
		if !want(g[0].State) {
			t.Errorf("job %s: instance %s is %s", a.id(), g[0].ID, g[0].State)
		}
		if flavor == "aws" && g[0].ClientToken != token(a.str("GridJobId")) {
			t.Errorf("job %s: instance %s has client token %q, GridJobId %q", a.id(), g[0].ID, g[0].ClientToken, a.str("GridJobId"))
		}
		if a.str("EC2InstanceName") != "" && a.str("EC2InstanceName") != g[0].ID {
			t.Errorf("job %s follows instance %s, the cloud has %s", a.id(), a.str("EC2InstanceName"), g[0].ID)
		}
		delete(groups, a.str("GlobalJobId"))
	}
	for job, g := range groups {
		t.Errorf("instances of no submitted job (tag %q): %+v", job, g)
	}
}

// TestCrash kills the daemon with SIGKILL (EC2GRID_CRASH_AT) at each of the grid manager's
// crash points, on a cloud that honours ClientToken (aws) and one that does not
// (openstack, where the per-job key pair finds a lost start), restarts it, and checks at
// the cloud that every job got exactly one instance, all of them end terminated and no
// key pair is left:
//
//   - after-token-commit: the token (and key pair name) is durable, EC2_VM_START not sent;
//   - after-start-before-save: the cloud started the instance, its id is not committed;
//   - during-cancel: condor_rm's EC2_VM_STOP was answered, the answer not yet handled.
func TestCrash(t *testing.T) {
	t.Parallel()
	for _, flavor := range []string{"aws", "openstack"} {
		for _, point := range []string{"after-token-commit", "after-start-before-save", "during-cancel"} {
			t.Run(flavor+"/"+point, func(t *testing.T) {
				t.Parallel()
				crashAt(t, flavor, point)
			})
		}
	}
}

func crashAt(t *testing.T, flavor, point string) {
	c := startCloud(t, flavor)
	s := newSystem(t)
	d := s.startDaemon("EC2GRID_CRASH_AT=" + point)
	cluster := s.submit(s.submitFile("crash.sub", jobSpec{cloud: c, queue: crashJobs}))
	rmAnswered := true
	if point == "during-cancel" {
		s.waitJobs(cluster, crashJobs, "the jobs running before condor_rm", running)
		// The grid manager may reach the crash point before the daemon has answered
		// condor_rm: then condor_rm fails, as it would for a user.
		rmAnswered = s.run("condor_rm", fmt.Sprint(cluster)).Code == 0
	}
	d.waitExit(t, stateTimeout)
	if d.Err() == nil || !strings.Contains(d.Err().Error(), "killed") {
		t.Fatalf("the daemon was not killed at %s: %v\n%s", point, d.Err(), s.daemonLog())
	}

	s.startDaemon()
	if !rmAnswered {
		// The removal was committed before the cancel began (the cancel follows the
		// commit), so every job is marked removed; a user would just see that.
		for _, a := range s.queue(fmt.Sprint(cluster)) {
			if a.num("JobStatus") != 3 {
				t.Errorf("job %s: JobStatus %d after a crash during its cancel, want 3 (removed)", a.id(), a.num("JobStatus"))
			}
		}
	}
	var jobs []ad
	if point != "during-cancel" {
		jobs = s.waitJobs(cluster, crashJobs, "every job running after the restart", running)
		checkOnePerJob(t, c, flavor, jobs, func(st string) bool { return st == "running" })
		s.must("condor_rm", fmt.Sprint(cluster))
	}
	s.waitGone(cluster, "every job removed")
	if jobs == nil {
		jobs = s.history(fmt.Sprint(cluster))
	}
	if len(jobs) != crashJobs {
		t.Fatalf("%d jobs, want %d:\n%s", len(jobs), crashJobs, describe(jobs))
	}
	var ids []string
	for _, in := range c.instances() {
		ids = append(ids, in.ID)
	}
	sort.Strings(ids)
	terminated(t, c, ids...)
	checkOnePerJob(t, c, flavor, jobs, func(st string) bool { return st == "terminated" })
	noKeyPairs(t, c)
}

// TestDroppedStartAnswer: the cloud carries out every RunInstances and TerminateInstances
// but drops the answer (its drop-after-act fault), so neither the gahp nor the grid manager
// ever hears that an instance started or stopped. On aws the client token is what makes
// this safe: every job still gets exactly one instance, and condor_rm still ends them.
// (On openstack the key pair's creation is dropped first, and the same seek by key pair is
// what TestCrash's after-start-before-save exercises.)
func TestDroppedStartAnswer(t *testing.T) {
	t.Parallel()
	c := startCloud(t, "aws")
	s := newSystem(t)
	s.startDaemon()
	c.setFaults(`{"drop_after_act_rate": 1}`)
	const n = 2
	cluster := s.submit(s.submitFile("drop.sub", jobSpec{cloud: c, queue: n}))
	jobs := s.waitJobs(cluster, n, "every job running though no start was answered", running)
	if st := c.stats()["RunInstances"]; st.Dropped < n {
		t.Errorf("RunInstances %+v: want every start's answer dropped", st)
	}
	checkOnePerJob(t, c, "aws", jobs, func(st string) bool { return st == "running" })
	s.must("condor_rm", fmt.Sprint(cluster))
	s.waitGone(cluster, "every job removed though no stop was answered")
	var ids []string
	for _, a := range jobs {
		ids = append(ids, a.str("EC2InstanceName"))
	}
	terminated(t, c, ids...)
	checkOnePerJob(t, c, "aws", jobs, func(st string) bool { return st == "terminated" })
}

// A crash while a spot request is being cancelled (EC2GRID_CRASH_AT=during-spot-cancel:
// EC2_VM_STOP_SPOT answered, the answer not yet handled) must not forget the condor_rm
// behind the cancel: after the restart the job leaves the queue as removed, rather than
// coming back idle to find its request cancelled "by somebody else" (hold 37/20).
func TestCrashDuringSpotCancel(t *testing.T) {
	t.Parallel()
	c := startCloud(t, "aws", "--spot-initial-price", "0.05", "--spot-interval", "0s")
	s := newSystem(t)
	d := s.startDaemon("EC2GRID_CRASH_AT=during-spot-cancel")
	cluster := s.submit(s.submitFile("spot.sub", jobSpec{cloud: c, extra: []string{"ec2_spot_price = 0.02"}}))
	req := s.waitJobs(cluster, 1, "the low bid's request open", func(a ad) bool { return a.str("EC2SpotRequestID") != "" })[0].str("EC2SpotRequestID")
	rmAnswered := s.run("condor_rm", fmt.Sprint(cluster)).Code == 0
	d.waitExit(t, stateTimeout)
	if d.Err() == nil || !strings.Contains(d.Err().Error(), "killed") {
		t.Fatalf("the daemon was not killed during the spot cancel: %v\n%s", d.Err(), s.daemonLog())
	}
	s.startDaemon()
	if q := s.queue(fmt.Sprint(cluster)); len(q) == 1 && q[0].num("JobStatus") != 3 {
		t.Errorf("after the restart: JobStatus %d (condor_rm answered: %v), want 3: the removal was lost\n%s", q[0].num("JobStatus"), rmAnswered, describe(q))
	}
	s.waitGone(cluster, "the removed spot job leaving the queue")
	h := s.history(fmt.Sprint(cluster))
	if len(h) != 1 || h[0].num("JobStatus") != 3 {
		t.Errorf("history:\n%s", describe(h))
	}
	for _, r := range c.spotRequests() {
		if r.ID == req && (r.State != "cancelled" || r.InstanceID != "") {
			t.Errorf("spot request %+v, want cancelled without an instance", r)
		}
	}
	if n := len(c.instances()); n != 0 {
		t.Errorf("%d instances for a request that was never fulfilled", n)
	}
}

// A crash after the cloud accepted a spot request and before its id was committed
// (EC2GRID_CRASH_AT=after-spot-start-before-save): the restart finds the request by its
// launch group (the job's client token) instead of asking again, so each job has exactly
// one request and one instance.
func TestCrashAfterSpotStart(t *testing.T) {
	t.Parallel()
	c := startCloud(t, "aws", "--spot-initial-price", "0.05", "--spot-interval", "0s")
	s := newSystem(t)
	d := s.startDaemon("EC2GRID_CRASH_AT=after-spot-start-before-save")
	const n = 2
	cluster := s.submit(s.submitFile("spot.sub", jobSpec{cloud: c, queue: n, extra: []string{"ec2_spot_price = 0.10"}}))
	d.waitExit(t, stateTimeout)
	if d.Err() == nil || !strings.Contains(d.Err().Error(), "killed") {
		t.Fatalf("the daemon was not killed after the spot start: %v\n%s", d.Err(), s.daemonLog())
	}
	s.startDaemon()
	jobs := s.waitJobs(cluster, n, "every spot job running after the restart", running)
	reqs := c.spotRequests()
	insts := c.instances()
	if len(reqs) != n || len(insts) != n {
		t.Errorf("%d spot requests and %d instances for %d jobs, want one each:\n%+v\n%+v", len(reqs), len(insts), n, reqs, insts)
	}
	byInstance := map[string]bool{}
	for _, r := range reqs {
		byInstance[r.InstanceID] = true
	}
	var ids []string
	for _, a := range jobs {
		ids = append(ids, a.str("EC2InstanceName"))
		if !byInstance[a.str("EC2InstanceName")] {
			t.Errorf("job %s runs %s, which no spot request launched", a.id(), a.str("EC2InstanceName"))
		}
	}
	s.must("condor_rm", fmt.Sprint(cluster))
	s.waitGone(cluster, "every job removed")
	terminated(t, c, ids...)
}
