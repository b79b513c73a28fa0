package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ec2grid/ec2grid/api"
	"github.com/ec2grid/ec2grid/classad"
)

// actTool is what differs between condor_rm, condor_hold and condor_release: the action
// and HTCondor's words for it (rm.cpp's actionWord and dc_schedd.cpp's getResultString).
type actTool struct {
	name   string // condor_rm, ...
	action string // api.Action*
}

// past is the word in "Job 12.0 <past>" and "All jobs ... have been <past>".
func (t actTool) past() string {
	switch t.action {
	case api.ActionHold:
		return "held"
	case api.ActionRelease:
		return "released"
	case api.ActionRemoveX:
		return "removed locally (remote state unknown)"
	}
	return "marked for removal"
}

// verb is the word in "Couldn't find/<verb> all jobs ...".
func (t actTool) verb() string {
	switch t.action {
	case api.ActionHold:
		return "hold"
	case api.ActionRelease:
		return "release"
	}
	return "remove"
}

// resultLine is HTCondor's per-job message for one result, and whether it is a success
// (standard output) or not (standard error).
func (t actTool) resultLine(id string, r *api.ActResult) (string, bool) {
	if r == nil {
		return fmt.Sprintf("No result found for job %s", id), false
	}
	switch r.Status {
	case api.StatusDone:
		return fmt.Sprintf("Job %s %s", id, t.past()), true
	case api.StatusNotFound:
		return fmt.Sprintf("Job %s not found", id), false
	case api.StatusForbidden:
		verb := t.verb()
		if t.action == api.ActionRemoveX {
			verb = "force removal of"
		}
		return fmt.Sprintf("Permission denied to %s job %s", verb, id), false
	case api.StatusBadStatus:
		switch t.action {
		case api.ActionRelease:
			return fmt.Sprintf("Job %s not held to be released", id), false
		case api.ActionRemoveX:
			return fmt.Sprintf("Job %s not in `X' state to be forcibly removed", id), false
		case api.ActionHold:
			return fmt.Sprintf("Job %s already held", id), false
		}
		return fmt.Sprintf("Job %s already marked for removal", id), false
	}
	msg := fmt.Sprintf("No result found for job %s", id)
	if r.Error != "" {
		msg += ": " + r.Error
	}
	return msg, false
}

func (t actTool) usage(w io.Writer) {
	word := map[string]string{api.ActionHold: "hold", api.ActionRelease: "release"}[t.action]
	if word == "" {
		word = "remove"
	}
	fmt.Fprintf(w, "Usage: %s [options] [constraints]\n", t.name)
	fmt.Fprintf(w, " where [options] is zero or more of:\n")
	fmt.Fprintf(w, "  -help               Display this message and exit\n")
	fmt.Fprintf(w, "  -totals             Display success/failure totals\n")
	switch t.action {
	case api.ActionRemove, api.ActionRemoveX:
		fmt.Fprintf(w, "  -reason reason      Use the given RemoveReason\n")
		fmt.Fprintf(w, "  -forcex             Force the immediate local removal of jobs in the X state\n")
		fmt.Fprintf(w, "                      (only affects jobs already being removed)\n")
	case api.ActionRelease:
		fmt.Fprintf(w, "  -reason reason      Use the given ReleaseReason\n")
	case api.ActionHold:
		fmt.Fprintf(w, "  -reason reason      Use the given HoldReason\n")
		fmt.Fprintf(w, "  -subcode number     Set HoldReasonSubCode\n")
	}
	fmt.Fprintf(w, " and where [constraints] is one of:\n")
	fmt.Fprintf(w, "  cluster.proc        %s the given job\n", word)
	fmt.Fprintf(w, "  cluster             %s the given cluster of jobs\n", word)
	fmt.Fprintf(w, "  user                %s all jobs owned by user\n", word)
	fmt.Fprintf(w, "  -constraint expr    %s all jobs matching the boolean expression\n", word)
	fmt.Fprintf(w, "  -all                %s all jobs (cannot be used with other constraints)\n", word)
}

// selectorKind is rm.cpp's CONSTRAINT_TYPE: it decides how "All jobs ..." names the
// selection.
type selectorKind int

const (
	selNone selectorKind = iota
	selAll
	selCluster
	selUser
	selSimple
	selComplex
)

// selection accumulates the selector arguments as rm.cpp does: cluster and user
// arguments ORed together, -constraint expressions ANDed with them and each other.
type selection struct {
	userCluster     string
	userClusterKind selectorKind
	userClusterName string // the one cluster or user, for the message
	constraint      string
	kind            selectorKind
}

func (s *selection) addCluster(c int64) {
	if s.userClusterKind == selNone {
		s.userCluster = fmt.Sprintf("ClusterId == %d", c)
		s.userClusterKind, s.userClusterName = selCluster, strconv.FormatInt(c, 10)
		return
	}
	s.userCluster += fmt.Sprintf(" || ClusterId == %d", c)
	s.userClusterKind = selComplex
}

func (s *selection) addUser(u string) {
	if s.userClusterKind == selNone {
		s.userCluster = `Owner == "` + u + `"`
		s.userClusterKind, s.userClusterName = selUser, u
		return
	}
	s.userCluster += ` || Owner == "` + u + `"`
	s.userClusterKind = selComplex
}

// add is rm.cpp's addConstraint.
func (s *selection) add(c string, kind selectorKind) {
	switch s.kind {
	case selNone, selAll:
		s.constraint, s.kind = c, kind
	case selComplex:
		s.constraint += " && (" + c + ")"
	default:
		s.constraint = "(" + s.constraint + ") && (" + c + ")"
		s.kind = selComplex
	}
}

// RunAct runs condor_rm, condor_hold or condor_release (chosen by prog's base name, as
// HTCondor's one program does) with args, and returns the exit status: 0 when every
// named job and every selection was acted on, 1 otherwise.
func RunAct(prog string, args []string, env Env) int {
	t := actTool{name: filepath.Base(prog)}
	switch {
	case strings.HasPrefix(t.name, "condor_hold"):
		t.action = api.ActionHold
	case strings.HasPrefix(t.name, "condor_release"):
		t.action = api.ActionRelease
	case strings.HasPrefix(t.name, "condor_rm"):
		t.action = api.ActionRemove
	default:
		fmt.Fprintf(env.Stderr, "Unrecognized command name, \"%s\"\n", t.name)
		return ExitFailure
	}
	if len(args) == 0 {
		fmt.Fprintf(env.Stderr, "You did not specify any jobs\n")
		t.usage(env.Stderr)
		return ExitFailure
	}
	var (
		sel        selection
		ids        []JobID
		reason     string
		subCode    int64
		totals     bool
		hadError   bool
		constraint bool // a -constraint was given
	)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			if sel.kind == selAll {
				t.usage(env.Stderr)
				return ExitFailure
			}
			if IsJobIDArg(a) {
				id, err := ParseJobID(a)
				if err != nil {
					fmt.Fprintln(env.Stderr, err)
					hadError = true
					continue
				}
				if id.HasProc {
					ids = append(ids, id)
				} else {
					sel.addCluster(id.Cluster)
				}
				continue
			}
			if !ValidUserName(a) {
				fmt.Fprintf(env.Stderr, "Warning: unrecognized \"%s\" skipped.\n", a)
				continue
			}
			sel.addUser(a)
			continue
		}
		needArg := func() (string, bool) {
			if i+1 >= len(args) {
				fmt.Fprintf(env.Stderr, "%s: %s requires another argument\n", t.name, a)
				return "", false
			}
			i++
			return args[i], true
		}
		switch {
		case IsOption(a, "help", 1):
			t.usage(env.Stdout)
			return ExitOK
		case IsOption(a, "totals", 3):
			totals = true
		case IsOption(a, "constraint", 1):
			if i+1 >= len(args) || strings.HasPrefix(args[i+1], "-") {
				fmt.Fprintf(env.Stderr, "%s: -constraint requires another argument\n", t.name)
				return ExitFailure
			}
			i++
			if _, err := classad.ParseExpr(args[i]); err != nil {
				fmt.Fprintf(env.Stderr, "%s: invalid -constraint %s: %v\n", t.name, args[i], err)
				return ExitFailure
			}
			sel.add(args[i], selSimple)
			constraint = true
		case IsOption(a, "all", 1):
			if sel.kind != selNone || sel.userClusterKind != selNone {
				fmt.Fprintf(env.Stderr, "%s: can't mix -all with other constraints\n", t.name)
				return ExitFailure
			}
			sel.add("ClusterId >= 0", selAll)
		case IsOption(a, "reason", 1):
			r, ok := needArg()
			if !ok {
				return ExitFailure
			}
			reason = r
		case IsOption(a, "subcode", 1):
			s, ok := needArg()
			if !ok {
				return ExitFailure
			}
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				fmt.Fprintf(env.Stderr, "Invalid -subcode %s!\n", s)
				return ExitFailure
			}
			subCode = n
		case IsOption(a, "forcex", map[bool]int{true: 1, false: 2}[t.action == api.ActionRemove || t.action == api.ActionRemoveX]):
			if t.action != api.ActionRemove && t.action != api.ActionRemoveX {
				fmt.Fprintf(env.Stderr, "-forcex is only valid with condor_rm\n")
				t.usage(env.Stderr)
				return ExitFailure
			}
			t.action = api.ActionRemoveX
		default:
			fmt.Fprintf(env.Stderr, "Unrecognized option: %s\n", a)
			t.usage(env.Stderr)
			return ExitFailure
		}
	}
	if sel.kind == selNone && sel.userClusterKind == selNone && len(ids) == 0 {
		if hadError {
			return ExitFailure
		}
		fmt.Fprintf(env.Stderr, "You did not specify any jobs\n")
		t.usage(env.Stderr)
		return ExitFailure
	}
	client, ctx, closeClient, err := Open(env.Getenv)
	if err != nil {
		return Fail(env.Stderr, err)
	}
	defer closeClient()

	if len(ids) > 0 {
		if constraint {
			fmt.Fprintf(env.Stderr, "Warning, -constraint is ignored for fully qualified job ids\n")
		}
		req := &api.ActRequest{Action: t.action, Reason: reason, HoldSubCode: subCode}
		for _, id := range ids {
			req.IDs = append(req.IDs, id.String())
		}
		resp, err := client.Act(ctx, req)
		if err != nil {
			return Fail(env.Stderr, err)
		}
		byID := map[string]*api.ActResult{}
		for i := range resp.Results {
			byID[resp.Results[i].ID] = &resp.Results[i]
		}
		if totals {
			printTotals(env.Stdout, resp.Results)
		}
		for _, id := range req.IDs {
			line, ok := t.resultLine(id, byID[id])
			if ok {
				fmt.Fprintln(env.Stdout, line)
			} else {
				fmt.Fprintln(env.Stderr, line)
				hadError = true
			}
		}
	}

	// handleConstraints: cluster and user arguments, -constraint and -all, as one
	// selection.
	if sel.userClusterKind != selNone {
		sel.add(sel.userCluster, sel.userClusterKind)
	}
	if sel.kind == selNone {
		return exitFor(hadError)
	}
	var what string
	switch sel.kind {
	case selUser:
		what = " of user " + sel.userClusterName
	case selCluster:
		what = " in cluster " + sel.userClusterName
	case selAll:
	default:
		what = " matching constraint (" + sel.constraint + ")"
	}
	req := &api.ActRequest{Action: t.action, Reason: reason, HoldSubCode: subCode}
	if sel.kind == selAll {
		req.All = true
	} else {
		req.Constraint = sel.constraint
	}
	resp, err := client.Act(ctx, req)
	if err != nil {
		fmt.Fprintf(env.Stderr, "ERROR: %s\n", Message(err))
		fmt.Fprintf(env.Stderr, "Couldn't find/%s all jobs%s\n", t.verb(), what)
		return ExitFailure
	}
	if totals {
		printTotals(env.Stdout, resp.Results)
	}
	done := 0
	for _, r := range resp.Results {
		if r.Status == api.StatusDone {
			done++
		}
	}
	// A selection succeeds when it acted on at least one job: HTCondor's schedd selects
	// only jobs in a status the action applies to and that the caller may touch, so the
	// others are not failures.
	if done == 0 {
		fmt.Fprintf(env.Stderr, "Couldn't find/%s all jobs%s\n", t.verb(), what)
		return ExitFailure
	}
	fmt.Fprintf(env.Stdout, "All jobs%s have been %s\n", what, t.past())
	return exitFor(hadError)
}

// printTotals is -totals: rm.cpp's one line of counts.
func printTotals(w io.Writer, results []api.ActResult) {
	var ok, notFound, bad, denied, other int
	for _, r := range results {
		switch r.Status {
		case api.StatusDone:
			ok++
		case api.StatusNotFound:
			notFound++
		case api.StatusBadStatus:
			bad++
		case api.StatusForbidden:
			denied++
		default:
			other++
		}
	}
	fmt.Fprintf(w, "%d Succeeded, %d Failed, %d Not Found, %d Bad Status, %d Already Done, %d Permission Denied\n",
		ok, other, notFound, bad, 0, denied)
}

func exitFor(hadError bool) int {
	if hadError {
		return ExitFailure
	}
	return ExitOK
}
