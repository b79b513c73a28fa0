// Command chaos is issue 8's proof under fire: it runs jobs through the whole system (the
// real condor_submit, condor_rm, condor_hold, condor_release, `ec2grid daemon` with its
// ec2_gahp children, and `ec2grid cloud`) while it kills the daemon and the gahp with
// SIGKILL, or runs them against a cloud that fails a third of its calls, and then checks
// from the cloud's own records and the queue and history that no job was lost, none ever
// had two instances, and no instance, key pair or key file was left behind.
//
// Two runs:
//
//   - the crash loop (default): for each mode (aws: ClientToken; openstack: per-job key
//     pairs), N jobs while the daemon or an ec2_gahp child is SIGKILLed K times at random
//     instants, or kills itself at an EC2GRID_CRASH_AT point chosen per start;
//   - the fault storm (-storm): N jobs, no kills, on a cloud with 30% throttling, 5% 500s,
//     2% answers dropped after acting, 3 s eventual consistency and 100 ± 50 ms latency;
//     then the same jobs on a fault-free cloud, for the API calls per job of each.
//
// Each mode prints exactly one line on stdout,
//
//	chaos: mode=M kills=N jobs=N lost=0 duplicates=0 leaked_instances=0 leaked_keypairs=0 leaked_keyfiles=0
//
// (the storm adds a `storm:` line with the calls per job), and the command exits 1 if
// any count but kills and jobs is not 0. Progress and the details behind a non-zero count
// go to stderr.
//
// Usage: go run ./bench/chaos [-bin bin] [-modes aws,openstack] [-jobs 200] [-kills 20]
// [-storm] [-seed S] [-keep]. `make chaos` (LONG=1: 200 kills over 1,000 jobs) and
// `make storm` run it; see docs/chaos.md.
//
// It lives under bench/ beside the other drivers of the real binaries, not under cmd/:
// `make build` builds every main under cmd/ into bin/, and this is not a command users
// install.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	var o options
	modes := flag.String("modes", "aws,openstack", "comma-separated cloud flavors to run: aws (ClientToken), openstack (per-job key pairs)")
	flag.StringVar(&o.bin, "bin", "bin", "the directory of the built binaries (make build)")
	flag.IntVar(&o.jobs, "jobs", defaultJobs, "jobs per mode")
	flag.IntVar(&o.kills, "kills", defaultKills, "SIGKILLs per mode (the crash loop)")
	flag.DurationVar(&o.killEvery, "kill-every", defaultKillEvery, "mean time between kills")
	flag.BoolVar(&o.storm, "storm", false, "the fault storm instead of the crash loop")
	flag.Int64Var(&o.seed, "seed", 0, "random seed (0: from the clock; printed on stderr)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directories (logs, state) for inspection")
	flag.Parse()
	if o.seed == 0 {
		o.seed = time.Now().UnixNano()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	failed := false
	for _, m := range strings.Split(*modes, ",") {
		o.mode = strings.TrimSpace(m)
		res, err := run(ctx, o, os.Stderr)
		if err != nil {
			fmt.Fprintf(os.Stderr, "chaos: mode=%s: %v\n", o.mode, err)
			os.Exit(2)
		}
		printResult(os.Stdout, res)
		failed = failed || !res.ok()
	}
	if failed {
		os.Exit(1)
	}
}

// printResult writes the mode's line (and the storm's calls line).
func printResult(w io.Writer, r result) {
	fmt.Fprintln(w, r.line())
	if r.storm {
		fmt.Fprintf(w, "storm: mode=%s jobs=%d calls_per_job=%.2f fault_free_calls_per_job=%.2f\n",
			r.mode, r.jobs, r.callsPerJob, r.baselinePerJob)
	}
}
