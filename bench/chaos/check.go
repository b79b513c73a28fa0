package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/ec2grid/ec2grid/api"
	"github.com/ec2grid/ec2grid/classad"
)

// instance is one instance as the cloud records it.
type instance struct {
	id, state, token, keyName, job string // job: the ec2grid:job tag (GlobalJobId)
}

// cloudAPI is an EC2 client on the cloud's demo account, for the checks.
func (w *world) cloudAPI() (*ec2.Client, error) {
	dir := filepath.Join(w.cloud.state, "credentials", "demo")
	ak, err := os.ReadFile(filepath.Join(dir, "AccessKeyID"))
	if err != nil {
		return nil, err
	}
	sk, err := os.ReadFile(filepath.Join(dir, "SecretAccessKey"))
	if err != nil {
		return nil, err
	}
	return ec2.New(ec2.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(w.cloud.url),
		Credentials:  credentials.NewStaticCredentialsProvider(strings.TrimSpace(string(ak)), strings.TrimSpace(string(sk)), ""),
	}), nil
}

// instances lists every instance the cloud ever started in the run (terminated ones stay
// listed: the cloud keeps them for retention).
func instances(ctx context.Context, c *ec2.Client) ([]instance, error) {
	var out []instance
	pages := ec2.NewDescribeInstancesPaginator(c, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(1000)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("DescribeInstances: %w", err)
		}
		for _, r := range page.Reservations {
			for _, in := range r.Instances {
				i := instance{id: aws.ToString(in.InstanceId), token: aws.ToString(in.ClientToken), keyName: aws.ToString(in.KeyName)}
				if in.State != nil {
					i.state = string(in.State.Name)
				}
				for _, t := range in.Tags {
					if aws.ToString(t.Key) == "ec2grid:job" {
						i.job = aws.ToString(t.Value)
					}
				}
				out = append(out, i)
			}
		}
	}
	return out, nil
}

func keyPairs(ctx context.Context, c *ec2.Client) ([]string, error) {
	out, err := c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{})
	if err != nil {
		return nil, fmt.Errorf("DescribeKeyPairs: %w", err)
	}
	var names []string
	for _, k := range out.KeyPairs {
		names = append(names, aws.ToString(k.KeyName))
	}
	sort.Strings(names)
	return names, nil
}

// admin calls the cloud's /_admin/ endpoint; into (if not nil) gets the JSON answer.
func (w *world) admin(ctx context.Context, method, what string, into any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(w.cloud.url, "/")+"/_admin/"+what, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s /_admin/%s: %w", method, what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s /_admin/%s: %s", method, what, resp.Status)
	}
	if into == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

// totalCalls is the sum of /_admin/stats' calls over every action.
func (w *world) totalCalls(ctx context.Context) (int64, string, error) {
	var doc struct {
		Actions map[string]struct {
			Calls, Throttled, Faults, Dropped int64
		} `json:"actions"`
	}
	if err := w.admin(ctx, http.MethodGet, "stats", &doc); err != nil {
		return 0, "", err
	}
	var total int64
	var parts []string
	for a, s := range doc.Actions {
		if s.Calls > 0 {
			total += s.Calls
			parts = append(parts, fmt.Sprintf("%s %d (throttled %d, faults %d, dropped %d)", a, s.Calls, s.Throttled, s.Faults, s.Dropped))
		}
	}
	sort.Strings(parts)
	return total, strings.Join(parts, ", "), nil
}

// check counts the run's failures from the queue (stuck: what was left after the drain),
// the history, the cloud's records and the user's directory, and stops the daemon.
// failed lists jobs already known lost, with why; each counts once.
func (w *world) check(ctx context.Context, d *proc, stuck []*classad.ClassAd, failed map[string]string, res *result) error {
	res.jobs = len(w.ids)
	problem := func(format string, args ...any) {
		fmt.Fprintf(w.log, "chaos: mode=%s: "+format+"\n", append([]any{w.o.mode}, args...)...)
	}

	// Every fault off, so the checks' own calls are neither throttled nor hidden.
	if err := w.admin(ctx, http.MethodDelete, "faults", nil); err != nil {
		return err
	}
	hist, err := w.query(ctx, &api.QueryRequest{History: true,
		Projection: []string{"JobStatus", "GlobalJobId", "NumJobStarts", "JobStartDate"}})
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	byID := map[string][]*classad.ClassAd{}
	jobOf := map[string]string{} // GlobalJobId → id, for every job the queue ever had
	for _, a := range hist {
		byID[adID(a)] = append(byID[adID(a)], a)
		jobOf[adStr(a, "GlobalJobId")] = adID(a)
	}
	inQueue := map[string]*classad.ClassAd{}
	for _, a := range stuck {
		inQueue[adID(a)] = a
		jobOf[adStr(a, "GlobalJobId")] = adID(a)
	}

	// Every acknowledged job accounted for, with a consistent end state.
	for _, id := range sortedIDs(append([]string(nil), w.ids...)) {
		j := w.jobs[id]
		if why, ok := failed[id]; ok {
			res.lost++
			problem("job %s (kind %d): %s", id, j.kind, why)
			continue
		}
		if a := inQueue[id]; a != nil {
			res.lost++
			problem("job %s (kind %d) still queued after the drain: JobStatus %d GridJobStatus %q HoldReason %q instance %q",
				id, j.kind, adInt(a, "JobStatus"), adStr(a, "GridJobStatus"), adStr(a, "HoldReason"), adStr(a, "EC2InstanceName"))
			continue
		}
		h := byID[id]
		switch {
		case len(h) == 0:
			res.lost++
			problem("job %s (kind %d): acknowledged, in neither the queue nor the history", id, j.kind)
			continue
		case len(h) > 1:
			res.lost++
			problem("job %s: %d history records", id, len(h))
			continue
		}
		st := adInt(h[0], "JobStatus")
		switch {
		case st == 3 && !(w.o.storm && j.kind == kindRun):
			// Removed: by the user, or by the final condor_rm -all. In a storm nobody
			// removes a job that runs a script: it must complete.
		case st == 4 && j.kind == kindRun && !j.removed:
		default:
			res.lost++
			problem("job %s (kind %d, removed %v): ended with JobStatus %d", id, j.kind, j.removed, st)
			continue
		}
		if w.o.storm && adInt(h[0], "NumJobStarts") < 1 && adInt(h[0], "JobStartDate") == 0 {
			res.lost++
			problem("job %s (kind %d): never ran", id, j.kind)
		}
	}
	for id, h := range byID {
		if st := adInt(h[0], "JobStatus"); w.jobs[id] == nil && st != 3 && st != 4 {
			res.lost++
			problem("unacknowledged job %s in the history with JobStatus %d", id, st)
		}
	}

	// The cloud: wait (bounded) for the last instances to end and the key pairs to go.
	c, err := w.cloudAPI()
	if err != nil {
		return err
	}
	var insts []instance
	var keys []string
	deadline := time.Now().Add(drainTimeout)
	for {
		if insts, err = instances(ctx, c); err != nil {
			return err
		}
		if keys, err = keyPairs(ctx, c); err != nil {
			return err
		}
		alive := 0
		for _, in := range insts {
			if in.state != "terminated" {
				alive++
			}
		}
		if (alive == 0 && len(keys) == 0) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Second)
	}
	groups := map[string][]instance{}
	for _, in := range insts {
		if in.state != "terminated" {
			res.leakedInstances++
			problem("instance %s (job %q, key %q) left %s", in.id, jobOf[in.job], in.keyName, in.state)
		}
		groups[in.job] = append(groups[in.job], in)
	}
	w.mu.Lock()
	for gid := range w.overlap {
		if _, ok := groups[gid]; !ok {
			groups[gid] = nil // seen live twice, then gone from the listing
		}
	}
	w.mu.Unlock()
	for gid, g := range groups {
		id, known := jobOf[gid]
		if gid == "" || !known {
			res.duplicates += max(len(g), 1)
			problem("%d instances of no job in the queue or history (tag %q): %v", len(g), gid, g)
			continue
		}
		allowed := 1
		if j := w.jobs[id]; j != nil {
			allowed += j.releases // each release starts the job again
		}
		extra := len(g) - allowed
		if w.o.mode == "aws" {
			// ClientToken is the start's identity: one instance per token, always.
			tokens := map[string]int{}
			same := 0
			for _, in := range g {
				tokens[in.token]++
				if tokens[in.token] > 1 {
					same++
				}
			}
			extra = max(extra, same)
		}
		w.mu.Lock()
		extra = max(extra, w.overlap[gid])
		w.mu.Unlock()
		if extra > 0 {
			res.duplicates += extra
			problem("job %s: %d instances (%d allowed): %v", id, len(g), allowed, g)
		}
	}
	res.leakedKeyPairs = len(keys)
	if len(keys) > 0 {
		problem("key pairs left: %v", keys)
	}

	// Stop the daemon, then look for key files: a file the grid manager still meant to
	// delete would be gone by now.
	sctx, cancel := context.WithTimeout(ctx, stopTimeout)
	err = w.client.Stop(sctx)
	cancel()
	if err == nil {
		select {
		case <-d.Exited():
		case <-time.After(stopTimeout):
		}
	}
	pems, _ := filepath.Glob(filepath.Join(w.work, "*.pem"))
	res.leakedKeyFiles = len(pems)
	if len(pems) > 0 {
		problem("key files left: %v", pems)
	}
	return nil
}

// ---- the fault storm ----

// stormTimeout bounds a storm's wait for every job to run and leave: 1,000 jobs under
// the storm's faults take minutes; a job held or stuck would wait for ever.
const stormTimeout = 20 * time.Minute

// storm runs o.jobs jobs on a cloud with faults (none: the fault-free baseline) with no
// kills: each runs a short script and completes, or (stormRemoveRate of them) runs until
// the user removes it once it runs. It returns the counts and the cloud API calls the
// jobs took (before the checks' own calls).
func storm(ctx context.Context, o options, log io.Writer, faults []string) (result, int64, error) {
	res := result{mode: o.mode, storm: true}
	w, err := newWorld(o, log, faults)
	if err != nil {
		return res, 0, err
	}
	defer w.close()
	d, err := w.cleanStart(ctx)
	if err != nil {
		return res, 0, err
	}
	defer d.Stop(stopTimeout)
	t0 := time.Now()
	for submitted := 0; submitted < o.jobs; {
		n := min(1+w.rnd.IntN(maxCluster), o.jobs-submitted)
		k := kindRun
		if w.rnd.Float64() < stormRemoveRate {
			k = kindForever
		}
		if m := w.submit(ctx, k, n); m != n {
			return res, 0, fmt.Errorf("condor_submit of %d jobs was not acknowledged", n)
		}
		submitted += n
	}
	// Remove each forever job once it runs; wait for the queue to empty, or to hold only
	// held jobs (nobody releases them in a storm: each is a job that will not run).
	deadline := time.Now().Add(stormTimeout)
	var left []*classad.ClassAd
	for {
		ads, err := w.query(ctx, &api.QueryRequest{Projection: []string{"JobStatus", "GridJobStatus", "HoldReason", "EC2InstanceName", "GlobalJobId"}})
		if err != nil {
			return res, 0, fmt.Errorf("query the queue: %w", err)
		}
		left = ads
		held := 0
		for _, a := range ads {
			if adInt(a, "JobStatus") == 5 {
				held++
			}
		}
		if held == len(ads) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		var rm []string
		w.mu.Lock()
		for _, a := range ads {
			if j := w.jobs[adID(a)]; j != nil && j.kind == kindForever && !j.removed && adInt(a, "JobStatus") == 2 {
				rm = append(rm, j.id)
			}
		}
		w.mu.Unlock()
		if len(rm) > 0 {
			if out, ok := w.command(ctx, "condor_rm", rm...); !ok {
				return res, 0, fmt.Errorf("condor_rm: %s", out)
			}
			w.mu.Lock()
			for _, id := range rm {
				w.jobs[id].removed = true
			}
			w.mu.Unlock()
		}
		time.Sleep(time.Second)
	}
	elapsed := time.Since(t0)
	calls, detail, err := w.totalCalls(ctx)
	if err != nil {
		return res, 0, err
	}
	fmt.Fprintf(log, "chaos: mode=%s storm faults=%v: %d jobs done in %.1f s, %d cloud calls: %s\n",
		o.mode, faults != nil, o.jobs, elapsed.Seconds(), calls, detail)
	// Whatever is left did not run and complete or leave as asked: lost. Then remove it,
	// so the cloud checks see its instances and key pairs go too.
	failed := map[string]string{}
	for _, a := range left {
		failed[adID(a)] = fmt.Sprintf("still queued when the rest were done: JobStatus %d GridJobStatus %q HoldReason %q instance %q",
			adInt(a, "JobStatus"), adStr(a, "GridJobStatus"), adStr(a, "HoldReason"), adStr(a, "EC2InstanceName"))
	}
	if err := w.removeAll(ctx); err != nil {
		return res, 0, err
	}
	return res, calls, w.check(ctx, d, w.waitDrained(ctx), failed, &res)
}
