// Command condor_qedit changes attributes of queued jobs, as HTCondor's condor_qedit
// does:
//
//	condor_qedit {cluster | cluster.proc | owner | -constraint EXPR} ATTR VALUE [ATTR VALUE ...]
//
// VALUE is a ClassAd expression (a string needs its quotes: '"text"'). For each pair it
// prints `Set attribute "ATTR" for N matching jobs.`. The daemon refuses attributes the
// system owns (ClusterId, JobStatus, GridJobId, ...) and jobs of other users; those are
// errors, and the exit status is 1. docs/condor_qedit.md describes it.
package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/ec2grid/ec2grid/api"
	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/cmd/internal/cli"
)

const usage = `Usage: condor_qedit {cluster | cluster.proc | owner | -constraint constraint} attribute-name attribute-value ...
    attribute-value is a ClassAd expression; quote strings: '"text"'
`

func main() {
	os.Exit(run(os.Args[1:], cli.OSEnv()))
}

func run(args []string, env cli.Env) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, format+"\n", a...)
		return cli.ExitFailure
	}
	var req api.EditRequest
	var target string // for messages
	i := 0
	for ; i < len(args) && strings.HasPrefix(args[i], "-"); i++ {
		switch a := args[i]; {
		case cli.IsOption(a, "help", 1):
			fmt.Fprint(env.Stdout, usage)
			return cli.ExitOK
		case cli.IsOption(a, "constraint", 1):
			if i+1 >= len(args) {
				return fail("condor_qedit: %s requires another argument\n%s", a, usage)
			}
			i++
			if _, err := classad.ParseExpr(args[i]); err != nil {
				return fail("condor_qedit: invalid -constraint %s: %v", args[i], err)
			}
			req.Constraint, target = args[i], "constraint "+args[i]
		default:
			return fail("condor_qedit: unrecognized option %s\n%s", a, usage)
		}
	}
	if req.Constraint == "" {
		if i >= len(args) {
			return fail("%s", strings.TrimSuffix(usage, "\n"))
		}
		a := args[i]
		i++
		switch {
		case cli.IsJobIDArg(a):
			id, err := cli.ParseJobID(a)
			if err != nil {
				return fail("%v", err)
			}
			req.IDs, target = []string{id.String()}, "job "+id.String()
		case cli.ValidUserName(a):
			req.Constraint, target = `Owner == "`+a+`"`, "user "+a
		default:
			return fail("condor_qedit: invalid owner %q", a)
		}
	}
	pairs := args[i:]
	if len(pairs) == 0 || len(pairs)%2 != 0 {
		return fail("%s", strings.TrimSuffix(usage, "\n"))
	}
	// Check every pair before changing anything, so a typo in the last pair does not
	// leave the first ones applied.
	for p := 0; p < len(pairs); p += 2 {
		attr, value := pairs[p], pairs[p+1]
		if !isAttrName(attr) {
			return fail("Update aborted, illegal attribute name: %s", attr)
		}
		if slices.ContainsFunc(api.ProtectedAttrs(), func(p string) bool { return strings.EqualFold(p, attr) }) {
			return fail("ERROR: attribute %s belongs to the queue and cannot be changed with condor_qedit", attr)
		}
		if _, err := classad.ParseExpr(value); err != nil {
			return fail("Update aborted, illegal value for attribute %s: %s (%v); a string needs quotes, as in '\"%s\"'", attr, value, err, value)
		}
	}
	client, err := cli.Connect(env.Getenv)
	if err != nil {
		return cli.Fail(env.Stderr, err)
	}
	defer client.Close()
	ctx, cancel := cli.Context()
	defer cancel()
	code := cli.ExitOK
	for p := 0; p < len(pairs); p += 2 {
		req.Attr, req.Value = pairs[p], pairs[p+1]
		resp, err := client.Edit(ctx, &req)
		if err != nil {
			return cli.Fail(env.Stderr, err)
		}
		done := 0
		for _, r := range resp.Results {
			switch r.Status {
			case api.StatusDone:
				done++
			case api.StatusNotFound:
				fmt.Fprintf(env.Stderr, "Job %s not found\n", r.ID)
				code = cli.ExitFailure
			case api.StatusForbidden:
				fmt.Fprintf(env.Stderr, "Permission denied to edit job %s\n", r.ID)
				code = cli.ExitFailure
			default:
				msg := r.Error
				if msg == "" {
					msg = r.Status
				}
				fmt.Fprintf(env.Stderr, "Failed to set attribute \"%s\" for job %s: %s\n", req.Attr, r.ID, msg)
				code = cli.ExitFailure
			}
		}
		if done == 0 {
			fmt.Fprintf(env.Stderr, "Failed to set attribute \"%s\" for %s: no matching job\n", req.Attr, target)
			code = cli.ExitFailure
			continue
		}
		fmt.Fprintf(env.Stdout, "Set attribute \"%s\" for %d matching jobs.\n", req.Attr, done)
	}
	return code
}

// isAttrName reports whether s is a ClassAd attribute name.
func isAttrName(s string) bool {
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}
