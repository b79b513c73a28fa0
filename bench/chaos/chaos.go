package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ec2grid/ec2grid/api"
	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/internal/testbin"
)

// The default run (issue 8): 20 kills over 200 jobs, a few minutes a mode.
const (
	defaultJobs  = 200
	defaultKills = 20
	// defaultKillEvery is the mean time between kills: long enough for a restarted
	// daemon to come up (well under a second), recover its jobs and start some more
	// (a probe interval or two), so kills meet jobs in every state, not only a daemon
	// that is still starting.
	defaultKillEvery = 4 * time.Second
)

// The cloud and daemon settings of every run.
const (
	// bootDelay keeps instances pending long enough for kills to meet pending ones.
	bootDelay = 300 * time.Millisecond
	// retention keeps terminated instances listed for the whole run, so the check can
	// count every instance ever started for a job.
	retention = 24 * time.Hour
	// drainTimeout bounds the wait for the queue to empty after everything is removed,
	// and for the last instances to terminate. A healthy drain takes seconds to a minute
	// (a cancel retried after the grid manager's 30 s RetryDelay is the long case).
	drainTimeout = 5 * time.Minute
	// cmdTimeout bounds one command (condor_submit of a cluster, condor_rm of a job): a
	// command against a daemon that was just killed fails fast; one that hangs is a bug.
	cmdTimeout = time.Minute
	// maxCluster is the most jobs one condor_submit queues: clusters of several jobs
	// share a user log and a submit, as users' do.
	maxCluster = 5
)

// daemonKnobs are the knobs of every daemon start: status every second instead of every
// minute, policy every second, the keypair path's recovery wait 2 s instead of 30 s, and
// ec2_gahp's request spacing 10 ms instead of 100 ms, so a run of hundreds of jobs takes
// minutes; none of them changes what the grid manager does, only when.
var daemonKnobs = []string{
	"EC2GRID_GRIDMANAGER_JOB_PROBE_INTERVAL=1",
	"EC2GRID_PERIODIC_EXPR_INTERVAL=1",
	"EC2GRID_EC2_RECOVERY_MIN_WAIT=2",
	"EC2GRID_EC2_GAHP_RATE_LIMIT=10",
}

// crashPoints are the EC2GRID_CRASH_AT points a daemon start may arm (one per start,
// chosen at random): the grid manager's (docs/architecture.md) and the daemon's own
// after-submit-commit. after-spot-start-before-save needs spot jobs, which the chaos does
// not submit (their instances carry no ec2grid:job tag to count by).
var crashPoints = []string{"after-token-commit", "after-start-before-save", "during-cancel", "after-submit-commit"}

// crashArmRate is the share of daemon starts that arm a crash point; the others are
// killed by the driver at a random instant.
const crashArmRate = 0.4

// gahpKillRate is the share of kills aimed at an ec2_gahp child rather than the daemon.
const gahpKillRate = 0.3

// stormFaults is the fault storm's cloud (issue 8): 30% throttling, 5% internal errors,
// 2% answers dropped after acting, 3 s eventual consistency, 100 ± 50 ms latency.
var stormFaults = []string{"--fault-throttle-rate", "0.3", "--fault-internal-error-rate", "0.05",
	"--fault-drop-after-act-rate", "0.02", "--fault-consistency-delay", "3s",
	"--fault-latency", "50ms", "--fault-jitter", "100ms"}

// stormKnobs override daemonKnobs in a storm: the keypair path's recovery must wait out
// the storm's 3 s consistency delay before it decides a lost start never happened (the
// knob's purpose; its default is 30 s), or it starts the job a second time.
var stormKnobs = []string{"EC2GRID_EC2_RECOVERY_MIN_WAIT=10"}

// stormRemoveRate is the share of the storm's jobs the user removes once they run; the
// others run a short script and complete.
const stormRemoveRate = 0.3

// options are one run's settings.
type options struct {
	bin       string
	mode      string // the cloud flavor: aws or openstack
	jobs      int
	kills     int
	killEvery time.Duration
	storm     bool
	seed      int64
	keep      bool
}

// result is one mode's counts.
type result struct {
	mode            string
	storm           bool
	kills, jobs     int
	lost            int // acknowledged jobs without a consistent end state
	duplicates      int // instances beyond one per submission of a job
	leakedInstances int // instances not terminated at the end
	leakedKeyPairs  int
	leakedKeyFiles  int
	callsPerJob     float64 // the storm: cloud API calls per job, faults on
	baselinePerJob  float64 // and off
}

func (r result) line() string {
	return fmt.Sprintf("chaos: mode=%s kills=%d jobs=%d lost=%d duplicates=%d leaked_instances=%d leaked_keypairs=%d leaked_keyfiles=%d",
		r.mode, r.kills, r.jobs, r.lost, r.duplicates, r.leakedInstances, r.leakedKeyPairs, r.leakedKeyFiles)
}

func (r result) ok() bool {
	return r.lost == 0 && r.duplicates == 0 && r.leakedInstances == 0 && r.leakedKeyPairs == 0 && r.leakedKeyFiles == 0
}

// kind is what a job does.
type kind int

const (
	kindRun     kind = iota // user data that runs a few seconds and exits: the job completes
	kindForever             // no user data: the instance runs until the job is removed or held
	kindPHold               // as kindForever, with a periodic_hold that holds it soon after it runs
)

// job is one acknowledged job and what the user did to it.
type job struct {
	id       string
	kind     kind
	removed  bool // a condor_rm of it was acknowledged
	releases int  // acknowledged condor_releases: each may start one more instance
}

// world is one run's processes, directories and user.
type world struct {
	o   options
	rnd *rand.Rand // the user's choices (the user's goroutine, or the storm's)
	// killRnd is the killer's own: math/rand/v2's Rand is not safe for concurrent use.
	killRnd *rand.Rand
	log     io.Writer
	base    string
	work    string // the user's directory: submit files, user logs, key files
	home    string
	env     []string
	cloud   *cloudProc
	client  *api.Client

	mu   sync.Mutex
	jobs map[string]*job
	ids  []string // acknowledged job ids in submission order
	// overlap is, per ec2grid:job tag, the most instances of the job seen pending or
	// running at once, less one: a second live instance is a duplicate even for a job
	// whose releases allow it several instances one after another.
	overlap map[string]int
}

// run runs one mode (a crash loop, or a storm and its fault-free baseline).
func run(ctx context.Context, o options, log io.Writer) (result, error) {
	if o.mode != "aws" && o.mode != "openstack" {
		return result{}, fmt.Errorf("mode %q: want aws or openstack", o.mode)
	}
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return result{}, err
	}
	o.bin = bin
	for _, b := range []string{"ec2grid", "ec2_gahp", "condor_submit", "condor_rm", "condor_hold", "condor_release"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return result{}, fmt.Errorf("%w (run make build, or pass -bin)", err)
		}
	}
	if o.storm {
		o.kills = 0
	}
	fmt.Fprintf(log, "chaos: mode=%s storm=%v jobs=%d kills=%d seed=%d\n", o.mode, o.storm, o.jobs, o.kills, o.seed)
	if !o.storm {
		return crashLoop(ctx, o, log)
	}
	res, calls, err := storm(ctx, o, log, stormFaults)
	if err != nil {
		return res, err
	}
	res.callsPerJob = float64(calls) / float64(max(res.jobs, 1))
	fmt.Fprintf(log, "chaos: mode=%s storm done (%s); now the fault-free baseline\n", o.mode, res.line())
	o.seed++
	base, baseCalls, err := storm(ctx, o, log, nil)
	if err != nil {
		return res, fmt.Errorf("fault-free baseline: %w", err)
	}
	if !base.ok() {
		fmt.Fprintf(log, "chaos: the fault-free baseline failed its checks: %s\n", base.line())
		res.lost += base.lost // a failing baseline must fail the run too
		res.duplicates += base.duplicates
		res.leakedInstances += base.leakedInstances
		res.leakedKeyPairs += base.leakedKeyPairs
		res.leakedKeyFiles += base.leakedKeyFiles
	}
	res.baselinePerJob = float64(baseCalls) / float64(max(base.jobs, 1))
	return res, nil
}

// newWorld makes the directories and starts the cloud (with flags).
func newWorld(o options, log io.Writer, cloudFlags []string) (*world, error) {
	// A short path, searchable by the instance scripts' unprivileged user.
	base, err := testbin.ShortDir("chaos")
	if err != nil {
		return nil, err
	}
	w := &world{o: o, rnd: rand.New(rand.NewPCG(uint64(o.seed), uint64(o.seed)>>17|1)),
		killRnd: rand.New(rand.NewPCG(uint64(o.seed)^0x9e3779b97f4a7c15, 2)), log: log, base: base,
		work: filepath.Join(base, "w"), home: filepath.Join(base, "h"), jobs: map[string]*job{}, overlap: map[string]int{}}
	if err := os.Mkdir(w.work, 0o755); err != nil {
		return nil, err
	}
	w.cloud, err = startCloud(o.bin, filepath.Join(base, "c"), o.mode, filepath.Join(base, "cloud.log"), cloudFlags...)
	if err != nil {
		return nil, err
	}
	w.env = daemonEnv(w.home, daemonKnobs)
	if o.storm {
		w.env = append(w.env, stormKnobs...) // the last value of a name is the one used
	}
	w.client = api.NewClient(filepath.Join(w.home, "daemon.sock"))
	if err := w.writeScripts(); err != nil {
		return nil, err
	}
	return w, nil
}

// close stops the cloud and removes the directories unless kept.
func (w *world) close() {
	if w.client != nil {
		w.client.Close()
	}
	if w.cloud != nil {
		w.cloud.Stop(stopTimeout)
	}
	if w.o.keep {
		fmt.Fprintf(w.log, "chaos: kept %s\n", w.base)
		return
	}
	os.RemoveAll(w.base)
}

// runSeconds are the lengths of the run kind's scripts: each instance runs one and then
// shuts itself down.
var runSeconds = []int{1, 2, 4, 8}

func (w *world) writeScripts() error {
	for _, s := range runSeconds {
		script := fmt.Sprintf("#!/bin/sh\nsleep %d\n", s)
		if err := os.WriteFile(filepath.Join(w.work, fmt.Sprintf("run%d.sh", s)), []byte(script), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// submitFile writes one cluster's submit file: n jobs of kind k, with a key pair file
// (which the grid manager must delete with the job) if keyFile.
func (w *world) submitFile(name string, k kind, n int, keyFile bool) (string, error) {
	c := w.cloud.state + "/credentials/demo/"
	lines := []string{
		"universe = grid",
		"grid_resource = ec2 " + w.cloud.url,
		"ec2_access_key_id = " + c + "AccessKeyID",
		"ec2_secret_access_key = " + c + "SecretAccessKey",
		"ec2_ami_id = ami-60bd4609",
		"ec2_instance_type = m1.small",
		"executable = chaos",
		"log = chaos.$(cluster).log",
	}
	switch k {
	case kindRun:
		lines = append(lines, fmt.Sprintf("ec2_user_data_file = run%d.sh", runSeconds[w.rnd.IntN(len(runSeconds))]))
	case kindPHold:
		lines = append(lines, "periodic_hold = (JobStatus == 2) && (time() - EnteredCurrentStatus > 2)")
	}
	if keyFile {
		lines = append(lines, "ec2_keypair_file = chaos.$(cluster).$(process).pem")
	}
	lines = append(lines, fmt.Sprintf("queue %d", n))
	p := filepath.Join(w.work, name)
	return p, os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// command runs a built command in the user's directory; ok is exit status 0.
func (w *world) command(ctx context.Context, name string, args ...string) (out string, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(w.o.bin, name), args...)
	cmd.Dir, cmd.Env = w.work, w.env
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		fmt.Fprintf(w.log, "chaos: %s %s: no answer within %v\n", name, strings.Join(args, " "), cmdTimeout)
	}
	return b.String(), err == nil
}

// notRunning is in the message of a command that found no daemon to talk to, and
// notRunningRetry is how soon the user tries again: a restarted daemon answers within
// about a second.
const (
	notRunning      = "daemon is not running"
	notRunningRetry = 200 * time.Millisecond
)

// submit submits one cluster of n jobs of kind k and records them if acknowledged.
func (w *world) submit(ctx context.Context, k kind, n int) int {
	name := fmt.Sprintf("c%d.sub", w.rnd.Uint64())
	file, err := w.submitFile(name, k, n, w.rnd.IntN(2) == 0)
	if err != nil {
		fmt.Fprintf(w.log, "chaos: %v\n", err)
		return 0
	}
	out, ok := w.command(ctx, "condor_submit", file)
	// "not running" is condor_submit's word for a daemon it could not reach at its first
	// dial, before anything was sent: the jobs are surely not queued, so a user would
	// simply submit again once the daemon is back.
	for deadline := time.Now().Add(cmdTimeout); !ok && strings.Contains(out, notRunning) && time.Now().Before(deadline) && ctx.Err() == nil; {
		time.Sleep(notRunningRetry)
		out, ok = w.command(ctx, "condor_submit", file)
	}
	if !ok {
		return 0 // not acknowledged: the jobs may or may not exist, and are checked as strays
	}
	var m, cluster int
	for _, line := range strings.Split(out, "\n") {
		if _, err := fmt.Sscanf(line, "%d job(s) submitted to cluster %d.", &m, &cluster); err == nil {
			break
		}
	}
	if cluster == 0 {
		fmt.Fprintf(w.log, "chaos: condor_submit succeeded without a cluster: %q\n", out)
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for p := range m {
		id := fmt.Sprintf("%d.%d", cluster, p)
		w.jobs[id] = &job{id: id, kind: k}
		w.ids = append(w.ids, id)
	}
	return m
}

// randomJob picks an acknowledged job not yet removed, or "".
func (w *world) randomJob() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	for range 10 {
		if len(w.ids) == 0 {
			return ""
		}
		id := w.ids[w.rnd.IntN(len(w.ids))]
		if !w.jobs[id].removed {
			return id
		}
	}
	return ""
}

// act runs condor_rm, condor_hold or condor_release on the job and records an
// acknowledged removal or release.
func (w *world) act(ctx context.Context, name, id string) bool {
	_, ok := w.command(ctx, name, id)
	if !ok {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch name {
	case "condor_rm":
		w.jobs[id].removed = true
	case "condor_release":
		w.jobs[id].releases++
	}
	return true
}

// heldJobs lists the queue's held jobs (nil if the daemon does not answer).
func (w *world) heldJobs(ctx context.Context) []string {
	ads, err := w.query(ctx, &api.QueryRequest{Constraint: "JobStatus == 5", Projection: []string{"JobStatus"}})
	if err != nil {
		return nil
	}
	var ids []string
	for _, a := range ads {
		ids = append(ids, adID(a))
	}
	return ids
}

func (w *world) query(ctx context.Context, req *api.QueryRequest) ([]*classad.ClassAd, error) {
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	return w.client.Query(ctx, req)
}

func adID(a *classad.ClassAd) string {
	c, _ := a.EvalAttr("ClusterId").IntValue()
	p, _ := a.EvalAttr("ProcId").IntValue()
	return fmt.Sprintf("%d.%d", c, p)
}

func adInt(a *classad.ClassAd, name string) int64 {
	v, _ := a.EvalAttr(name).IntValue()
	return v
}

func adStr(a *classad.ClassAd, name string) string {
	v, _ := a.EvalAttr(name).StringValue()
	return v
}

// ---- the crash loop ----

func crashLoop(ctx context.Context, o options, log io.Writer) (result, error) {
	res := result{mode: o.mode}
	w, err := newWorld(o, log, nil)
	if err != nil {
		return res, err
	}
	defer w.close()

	// The killer owns the daemon until it has killed o.kills times; the user submits
	// and acts meanwhile, spreading the jobs over the kills' expected span.
	span := time.Duration(o.kills) * o.killEvery
	userDone := make(chan struct{})
	uctx, stopUser := context.WithCancel(ctx)
	defer stopUser()
	go func() {
		defer close(userDone)
		w.user(uctx, span)
	}()
	sctx, stopSampler := context.WithCancel(ctx)
	samplerDone := make(chan struct{})
	go func() {
		defer close(samplerDone)
		w.sampler(sctx)
	}()
	kills, d, err := w.killer(ctx)
	if err != nil {
		stopUser() // nobody restarts the daemon the user would wait for
	}
	<-userDone
	defer func() { stopSampler(); <-samplerDone }()
	if err != nil {
		return res, err
	}
	res.kills = kills
	if d.Done() {
		return res, fmt.Errorf("the daemon exited while the user was still acting: %v", d.Err())
	}
	if err := w.finish(ctx, d, &res); err != nil {
		return res, err
	}
	return res, nil
}

// sampleEvery is how often the sampler lists the cloud's instances during a crash loop.
const sampleEvery = time.Second

// sampler lists the cloud's instances every sampleEvery until ctx ends, recording in
// w.overlap any job with more than one instance pending or running at once.
func (w *world) sampler(ctx context.Context) {
	c, err := w.cloudAPI()
	if err != nil {
		fmt.Fprintf(w.log, "chaos: sampler: %v\n", err)
		return
	}
	for ctx.Err() == nil {
		if insts, err := instances(ctx, c); err == nil {
			alive := map[string]int{}
			for _, in := range insts {
				if in.state == "pending" || in.state == "running" {
					alive[in.job]++
				}
			}
			w.mu.Lock()
			for gid, n := range alive {
				if n > 1 {
					w.overlap[gid] = max(w.overlap[gid], n-1)
				}
			}
			w.mu.Unlock()
		}
		select {
		case <-ctx.Done():
		case <-time.After(sampleEvery):
		}
	}
}

// cleanStart starts the daemon with no crash point armed.
func (w *world) cleanStart(ctx context.Context) (*proc, error) {
	d, ready, err := startDaemon(ctx, w.o.bin, w.env, filepath.Join(w.base, "daemon.err"))
	if err != nil {
		return nil, err
	}
	if !ready {
		return nil, fmt.Errorf("the daemon exited at start with no crash point armed: %v", d.Err())
	}
	return d, nil
}

// killer starts the daemon and kills it, or one of its ec2_gahp children, o.kills times
// at random instants (or lets an armed crash point kill it), restarting it each time.
// It returns the kills made and the daemon left running, started with no crash point
// armed if the last kill was the daemon's.
func (w *world) killer(ctx context.Context) (int, *proc, error) {
	kills := 0
	var d *proc
	logFile := filepath.Join(w.base, "daemon.err")
	for kills < w.o.kills {
		if ctx.Err() != nil {
			return kills, d, ctx.Err()
		}
		if d == nil || d.Done() {
			var extra []string
			if w.killRnd.Float64() < crashArmRate {
				p := crashPoints[w.killRnd.IntN(len(crashPoints))]
				extra = append(extra, "EC2GRID_CRASH_AT="+p)
			}
			var ready bool
			var err error
			d, ready, err = startDaemon(ctx, w.o.bin, daemonEnv(w.home, daemonKnobs, extra...), logFile)
			if err != nil {
				return kills, nil, err
			}
			if !ready {
				if !d.Killed() {
					return kills, nil, fmt.Errorf("the daemon exited at start: %v (see %s)", d.Err(), logFile)
				}
				kills++ // its crash point fired before it answered
				continue
			}
		}
		// A random instant, uniform over [0.25, 1.75) of the mean.
		wait := time.Duration((0.25 + 1.5*w.killRnd.Float64()) * float64(w.o.killEvery))
		select {
		case <-d.Exited():
			if !d.Killed() {
				return kills, nil, fmt.Errorf("the daemon exited on its own: %v (see %s)", d.Err(), logFile)
			}
			kills++ // a crash point
			continue
		case <-time.After(wait):
		case <-ctx.Done():
			d.Kill()
			return kills, nil, ctx.Err()
		}
		if w.killRnd.Float64() < gahpKillRate {
			if g := gahpChildren(d.Pid()); len(g) > 0 {
				if p, err := os.FindProcess(g[w.killRnd.IntN(len(g))]); err == nil && p.Kill() == nil {
					kills++
					continue
				}
			}
		}
		d.Kill()
		kills++
		// Down a moment, as a supervisor's restart delay: commands meanwhile fail.
		time.Sleep(time.Duration(w.killRnd.IntN(500)) * time.Millisecond)
	}
	fmt.Fprintf(w.log, "chaos: mode=%s %d kills done\n", w.o.mode, kills)
	if d == nil || d.Done() {
		// Restart at once, with no crash point: the user may still be submitting, and
		// retries a submit that finds no daemon until one answers.
		var err error
		if d, err = w.cleanStart(ctx); err != nil {
			return kills, nil, err
		}
	}
	return kills, d, nil
}

// user submits o.jobs jobs over span, and meanwhile removes, holds and releases jobs at
// random.
func (w *world) user(ctx context.Context, span time.Duration) {
	clusters := max(1, w.o.jobs*2/(maxCluster+1))
	tick := max(span/time.Duration(clusters), 50*time.Millisecond)
	submitted := 0
	for submitted < w.o.jobs && ctx.Err() == nil {
		n := min(1+w.rnd.IntN(maxCluster), w.o.jobs-submitted)
		k := kind(w.rnd.IntN(3))
		// An unacknowledged submit counts as submitted all the same: the run's size stays
		// what was asked, and its jobs (if committed) are checked as strays.
		w.submit(ctx, k, n)
		submitted += n
		switch r := w.rnd.Float64(); {
		case r < 0.25:
			if id := w.randomJob(); id != "" {
				w.act(ctx, "condor_rm", id)
			}
		case r < 0.40:
			if id := w.randomJob(); id != "" {
				w.act(ctx, "condor_hold", id)
			}
		case r < 0.70:
			if held := w.heldJobs(ctx); len(held) > 0 {
				id := held[w.rnd.IntN(len(held))]
				w.mu.Lock()
				_, known := w.jobs[id]
				w.mu.Unlock()
				if known {
					w.act(ctx, "condor_release", id)
				}
			}
		}
		time.Sleep(tick)
	}
}

// finish removes everything, waits for the queue to drain and the instances to end, stops
// the daemon and counts.
func (w *world) finish(ctx context.Context, d *proc, res *result) error {
	defer d.Stop(stopTimeout)
	if err := w.removeAll(ctx); err != nil {
		return err
	}
	t0 := time.Now()
	stuck := w.waitDrained(ctx)
	fmt.Fprintf(w.log, "chaos: mode=%s queue drained in %.1f s (%d left)\n", w.o.mode, time.Since(t0).Seconds(), len(stuck))
	return w.check(ctx, d, stuck, nil, res)
}

// removeAll runs condor_rm -all until it is acknowledged. It does not mark the jobs as
// removed: a job completing as the removal lands may end either way, and the check
// accepts removed or completed for the jobs that can complete.
func (w *world) removeAll(ctx context.Context) error {
	deadline := time.Now().Add(cmdTimeout)
	for {
		out, ok := w.command(ctx, "condor_rm", "-all")
		if ok {
			return nil
		}
		if ads, err := w.query(ctx, &api.QueryRequest{Projection: []string{"JobStatus"}}); err == nil && len(ads) == 0 {
			return nil // nothing to remove: condor_rm says so with a non-zero exit
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("condor_rm -all failed: %s", out)
		}
		time.Sleep(time.Second)
	}
}

// waitDrained waits (bounded) until the queue is empty; it returns what is left.
func (w *world) waitDrained(ctx context.Context) []*classad.ClassAd {
	deadline := time.Now().Add(drainTimeout)
	for {
		ads, err := w.query(ctx, &api.QueryRequest{Projection: []string{"JobStatus", "GridJobStatus", "HoldReason", "EC2InstanceName", "GlobalJobId"}})
		if err == nil && len(ads) == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return ads
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// sortedIDs orders "C.P" ids numerically.
func sortedIDs(ids []string) []string {
	key := func(id string) (int, int) {
		c, p, _ := strings.Cut(id, ".")
		a, _ := strconv.Atoi(c)
		b, _ := strconv.Atoi(p)
		return a, b
	}
	sort.Slice(ids, func(i, j int) bool {
		a1, b1 := key(ids[i])
		a2, b2 := key(ids[j])
		return a1 < a2 || a1 == a2 && b1 < b2
	})
	return ids
}
