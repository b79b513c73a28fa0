// Command condor_q shows the jobs in the ec2grid queue as HTCondor's condor_q shows a
// schedd's: the batch view by default (your jobs only), -nobatch, -run, -hold, -grid,
// -totals, -long, -json, -af and -format, restricted by cluster, cluster.proc, owner and
// -constraint arguments, or -allusers. The output formats live in cmd/internal/qfmt;
// docs/condor_q.md describes them.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ec2grid/ec2grid/api"
	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/cmd/internal/cli"
	"github.com/ec2grid/ec2grid/cmd/internal/qfmt"
)

const usage = `Usage: condor_q [options] [restrictions]
    [restrictions] are one or more of
        cluster              Get information about the jobs in this cluster
        cluster.proc         Get information about this job
        owner                Get information about this owner's jobs
        -constraint expr     Get information about jobs that match expr
        -allusers            Consider jobs from all users, not only your own
    [options] are
        -nobatch             One line per job instead of one per batch
        -run                 Running jobs: RUN_TIME and HOST(S)
        -hold                Held jobs and why they are held
        -grid                Grid (EC2) status, resource and instance id
        -totals              Only the totals
        -wide                Do not cut columns to fit the screen
        -long                Whole job ads
        -json                Whole job ads as JSON
        -af[:jlhVrtng,] attr...   Attributes or expressions, one job per line
        -format fmt attr     printf-style output (repeatable)
        -limit N             At most N jobs
        -help                This message
`

// clock is what the output depends on besides the ads: the time and zone the tables
// show, this host's name for the banner, and the querying user (whose jobs condor_q
// shows by default). Tests fix them for golden output.
type clock struct {
	now  func() time.Time
	loc  *time.Location
	host string
	user string
}

func main() {
	host, _ := os.Hostname()
	os.Exit(run(os.Args[1:], cli.OSEnv(), clock{now: time.Now, loc: time.Local, host: host, user: cli.CurrentUser(os.Getenv)}))
}

func run(args []string, env cli.Env, clk clock) int {
	for _, a := range args {
		if cli.IsOption(a, "help", 1) {
			fmt.Fprint(env.Stdout, usage)
			return cli.ExitOK
		}
	}
	user := clk.user
	return cli.Query(env, args, user, false, func(ctx context.Context, client *api.Client, q *qfmt.Query, ads []*classad.ClassAd) int {
		now := clk.now()
		opts := qfmt.Options{Now: now, Loc: clk.loc, User: user, Wide: q.Wide,
			Schedd: fmt.Sprintf("%s@%s : <unix:%s>", user, clk.host, client.Socket())}
		switch q.View {
		case qfmt.ViewBatch, qfmt.ViewNoBatch, qfmt.ViewHold, qfmt.ViewTotals:
			// The "Total for USER" and "Total for all users" lines count the whole queue,
			// whatever the query selected.
			all, err := client.Query(ctx, &api.QueryRequest{Projection: []string{"Owner", "JobStatus"}})
			if err != nil {
				return cli.Fail(env.Stderr, err)
			}
			var mine []*classad.ClassAd
			for _, ad := range all {
				if o, _ := ad.EvalAttr("Owner").StringValue(); o == user {
					mine = append(mine, ad)
				}
			}
			userTotals, allTotals := qfmt.Count(mine), qfmt.Count(all)
			opts.UserTotals, opts.AllTotals = &userTotals, &allTotals
		}
		if err := print(env.Stdout, q, ads, opts, now); err != nil {
			fmt.Fprintf(env.Stderr, "condor_q: %v\n", err)
			return cli.ExitFailure
		}
		return cli.ExitOK
	})
}

// print writes ads in q's view.
func print(w io.Writer, q *qfmt.Query, ads []*classad.ClassAd, opts qfmt.Options, now time.Time) error {
	switch q.View {
	case qfmt.ViewNoBatch:
		return qfmt.NoBatch(w, ads, opts)
	case qfmt.ViewRun:
		return qfmt.Run(w, ads, opts)
	case qfmt.ViewHold:
		return qfmt.Hold(w, ads, opts)
	case qfmt.ViewGrid:
		return qfmt.Grid(w, ads, opts)
	case qfmt.ViewTotals:
		return qfmt.Totals(w, ads, opts)
	case qfmt.ViewLong:
		return qfmt.Long(w, ads)
	case qfmt.ViewJSON:
		return qfmt.JSON(w, ads)
	case qfmt.ViewAutoFormat:
		return q.AutoFormat.Print(w, ads, now)
	case qfmt.ViewFormat:
		return qfmt.Format(w, ads, q.Formats, now)
	}
	return qfmt.Batch(w, ads, opts)
}
