package cli

import (
	"context"
	"fmt"

	"github.com/ec2grid/ec2grid/api"
	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/cmd/internal/qfmt"
)

// Shower is what a query tool does with the ads its arguments selected: print them in
// the query's view (c and ctx are there for further calls, such as condor_q's totals
// over the whole queue). It returns the exit status and prints its own errors.
type Shower func(ctx context.Context, c *api.Client, q *qfmt.Query, ads []*classad.ClassAd) int

// Query is the prologue condor_q and condor_history share: it reads the restriction and
// view arguments (qfmt.ParseArgs; user is the querying user whose jobs an argument-less
// query selects, "" for every user's), connects to the daemon, asks the queue (history:
// the history) for the selected jobs with the attributes the view needs, and hands them
// to show. Errors are printed as HTCondor's tools print them (a usage error as it is, a
// daemon's with "ERROR: "); the result is the exit status.
func Query(env Env, args []string, user string, history bool, show Shower) int {
	q, err := qfmt.ParseArgs(args, user)
	if err != nil {
		fmt.Fprintln(env.Stderr, err.Error())
		return ExitFailure
	}
	client, ctx, closeClient, err := Open(env.Getenv)
	if err != nil {
		return Fail(env.Stderr, err)
	}
	defer closeClient()
	ads, err := client.Query(ctx, &api.QueryRequest{
		History:    history,
		Constraint: classad.Unparse(q.Constraint()),
		Projection: qfmt.Projection(q.View),
		Limit:      q.Limit,
	})
	if err != nil {
		return Fail(env.Stderr, err)
	}
	return show(ctx, client, q, ads)
}
