// Command condor_history shows the jobs that have left the ec2grid queue (completed, or
// removed and cleaned up), newest first, as HTCondor's condor_history does: its default
// table, -long, -json, -af, -format, -constraint, -limit (or -match) N, and cluster,
// cluster.proc and owner arguments. Unlike condor_q it shows every user's jobs unless
// an owner is named. docs/condor_history.md describes it.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/ec2grid/ec2grid/api"
	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/cmd/internal/cli"
	"github.com/ec2grid/ec2grid/cmd/internal/qfmt"
)

const usage = `Usage: condor_history [options] [restrictions]
    [restrictions] are one or more of
        cluster              the jobs of this cluster
        cluster.proc         this job
        owner                this owner's jobs
        -constraint expr     jobs that match expr
    [options] are
        -limit N, -match N   at most N jobs (the newest)
        -long                whole job ads
        -json                whole job ads as JSON
        -af[:jlhVrtng,] attr...   attributes or expressions, one job per line
        -format fmt attr     printf-style output (repeatable)
        -help                this message
`

func main() {
	os.Exit(run(os.Args[1:], cli.OSEnv(), time.Local))
}

func run(args []string, env cli.Env, loc *time.Location) int {
	var qargs []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case cli.IsOption(a, "help", 1):
			fmt.Fprint(env.Stdout, usage)
			return cli.ExitOK
		case cli.IsOption(a, "match", 1):
			// condor_history's older name for -limit.
			qargs = append(qargs, "-limit")
		case cli.IsOption(a, "nobatch", 3), cli.IsOption(a, "batch", 2), cli.IsOption(a, "run", 1),
			cli.IsOption(a, "hold", 2), cli.IsOption(a, "grid", 2), cli.IsOption(a, "totals", 3),
			cli.IsOption(a, "allusers", 2), cli.IsOption(a, "wide", 1):
			fmt.Fprintf(env.Stderr, "Error: unrecognized argument %s\n", a)
			return cli.ExitFailure
		default:
			qargs = append(qargs, a)
		}
	}
	// No querying user: condor_history shows every user's jobs unless owners are named.
	return cli.Query(env, qargs, "", true, func(_ context.Context, _ *api.Client, q *qfmt.Query, ads []*classad.ClassAd) int {
		now := time.Now()
		w := env.Stdout
		var err error
		switch q.View {
		case qfmt.ViewLong:
			err = qfmt.Long(w, ads)
		case qfmt.ViewJSON:
			err = qfmt.JSON(w, ads)
		case qfmt.ViewAutoFormat:
			err = q.AutoFormat.Print(w, ads, now)
		case qfmt.ViewFormat:
			err = qfmt.Format(w, ads, q.Formats, now)
		default:
			err = qfmt.History(w, ads, qfmt.Options{Now: now, Loc: loc})
		}
		if err != nil {
			fmt.Fprintf(env.Stderr, "condor_history: %v\n", err)
			return cli.ExitFailure
		}
		return cli.ExitOK
	})
}
