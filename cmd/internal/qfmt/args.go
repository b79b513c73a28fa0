package qfmt

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ec2grid/ec2grid/classad"
)

// View is which output condor_q prints.
type View int

// The views, in the order condor_q's usage lists them.
const (
	ViewBatch View = iota
	ViewNoBatch
	ViewRun
	ViewHold
	ViewGrid
	ViewTotals
	ViewLong
	ViewJSON
	ViewAutoFormat
	ViewFormat
)

// Proc names one job (cluster.proc).
type Proc struct{ Cluster, Proc int64 }

// Query is a parsed condor_q command line. Its guarantee: the combination of options is
// one condor_q accepts, and Constraint() is a well-formed expression.
type Query struct {
	View     View
	NoBatch  bool // -nobatch given (kept apart from View because -run/-hold imply it)
	AllUsers bool
	Wide     bool // -wide: pass to Options.Wide
	Clusters []int64
	Procs    []Proc
	Owners   []string
	// Constraints are the -constraint expressions, as given.
	Constraints []string
	AutoFormat  AutoFormat
	Formats     []FormatItem
	// Limit is -limit N; 0 means no limit.
	Limit int
	// User is the querying user, restricted to when nothing else names jobs or owners.
	User string

	run, hold bool // -run, -hold: add their status test to Constraint
}

// ErrUsage marks a command-line error (errors.Is); the error's text is HTCondor's
// message alone, for the command to print before exiting with status 1.
var ErrUsage = errors.New("usage")

// usageError is a command-line error whose text is exactly the message to print.
type usageError struct {
	msg   string
	cause error
}

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == ErrUsage }
func (e *usageError) Unwrap() error        { return e.cause }

func usagef(format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...)}
}

// ParseArgs parses condor_q's arguments (without the program name) for the querying
// user. Options may be abbreviated as HTCondor allows (-const, -nob, -l, ...).
func ParseArgs(args []string, user string) (*Query, error) {
	q := &Query{User: user}
	outputs := 0 // -long, -json, -af, -format: only one kind
	var run, hold bool
	setOutput := func(v View) error {
		if outputs > 0 && q.View != v {
			return usagef("Error: -long, -json, -af and -format are mutually exclusive")
		}
		outputs++
		q.View = v
		return nil
	}
	next := func(i *int, opt string) (string, error) {
		if *i+1 >= len(args) {
			return "", usagef("Error: Argument %s requires another parameter", opt)
		}
		*i++
		return args[*i], nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			if err := q.addRestriction(a); err != nil {
				return nil, err
			}
			continue
		}
		name, colon, _ := strings.Cut(a[1:], ":")
		switch {
		case is(name, "constraint", 5):
			c, err := next(&i, a)
			if err != nil {
				return nil, err
			}
			if _, err := classad.ParseExpr(c); err != nil {
				return nil, usagef("Error: Invalid constraint (%s): %v", c, err)
			}
			q.Constraints = append(q.Constraints, c)
		case is(name, "allusers", 2):
			q.AllUsers = true
		case is(name, "nobatch", 3):
			q.NoBatch = true
		case is(name, "batch", 2):
			q.NoBatch = false
		case is(name, "long", 1):
			if err := setOutput(ViewLong); err != nil {
				return nil, err
			}
		case is(name, "json", 2):
			if err := setOutput(ViewJSON); err != nil {
				return nil, err
			}
		case is(name, "af", 2) || is(name, "autoformat", 5):
			if err := setOutput(ViewAutoFormat); err != nil {
				return nil, err
			}
			if len(q.AutoFormat.Attrs) == 0 && (i+1 >= len(args) || strings.HasPrefix(args[i+1], "-")) {
				return nil, usagef("Error: Argument %s requires at last one attribute parameter", a)
			}
			opts := ParseAutoFormatOptions(colon)
			opts.Attrs = q.AutoFormat.Attrs
			for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				opts.Attrs = append(opts.Attrs, args[i])
			}
			q.AutoFormat = opts
			if err := q.AutoFormat.Validate(); err != nil {
				return nil, &usageError{msg: err.Error(), cause: err}
			}
		case is(name, "format", 1):
			if i+2 >= len(args) {
				return nil, usagef("Error: Argument -format requires a spec and classad attribute name as parameters.")
			}
			if err := setOutput(ViewFormat); err != nil {
				return nil, err
			}
			q.Formats = append(q.Formats, FormatItem{Fmt: args[i+1], Attr: args[i+2]})
			i += 2
		case is(name, "hold", 2) || is(name, "held", 4):
			hold = true
		case is(name, "run", 1):
			run = true
		case is(name, "grid", 2):
			q.View = pick(q.View, outputs, ViewGrid)
		case is(name, "totals", 3):
			q.View = pick(q.View, outputs, ViewTotals)
		case is(name, "wide", 1):
			q.Wide = true
		case is(name, "limit", 3):
			s, err := next(&i, a)
			if err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return nil, usagef("Error: -limit requires a non-negative integer, got %q", s)
			}
			q.Limit = n
		default:
			return nil, usagef("Error: unrecognized argument %s", a)
		}
	}
	if run && hold {
		return nil, usagef("-run and -hold/held or -idle are incompatible")
	}
	if outputs == 0 {
		switch {
		case q.View == ViewGrid || q.View == ViewTotals:
		case run:
			q.View = ViewRun
		case hold:
			q.View = ViewHold
		case q.NoBatch:
			q.View = ViewNoBatch
		}
	}
	q.run, q.hold = run, hold
	if _, err := q.constraint(); err != nil {
		return nil, usagef("Error: Invalid constraint: %v", err)
	}
	return q, nil
}

// pick sets a table view unless an ad output (-long, -af, ...) was chosen.
func pick(cur View, outputs int, v View) View {
	if outputs > 0 {
		return cur
	}
	return v
}

// is reports whether opt is an abbreviation of full at least min letters long.
func is(opt, full string, min int) bool {
	return len(opt) >= min && len(opt) <= len(full) && strings.EqualFold(opt, full[:len(opt)])
}

// addRestriction reads a bare argument: cluster, cluster.proc or owner.
func (q *Query) addRestriction(a string) error {
	if c, p, ok := strings.Cut(a, "."); ok {
		cn, err1 := strconv.ParseInt(c, 10, 64)
		pn, err2 := strconv.ParseInt(p, 10, 64)
		if err1 != nil || err2 != nil || cn < 0 || pn < 0 {
			return usagef("Error: Invalid job id %s", a)
		}
		q.Procs = append(q.Procs, Proc{cn, pn})
		return nil
	}
	if a != "" && a[0] >= '0' && a[0] <= '9' {
		cn, err := strconv.ParseInt(a, 10, 64)
		if err != nil || cn < 0 {
			return usagef("Error: Invalid cluster id %s", a)
		}
		q.Clusters = append(q.Clusters, cn)
		return nil
	}
	if a == "" || strings.IndexFunc(a, func(r rune) bool { return r < ' ' || r == '"' || r == '\\' || r == 0x7f }) >= 0 {
		return usagef("Error: Invalid owner %q", a)
	}
	q.Owners = append(q.Owners, a)
	return nil
}

// Constraint combines the restrictions as condor_q's matching rule says (§6.1): a job
// matches if it matches any cluster, cluster.proc or -constraint restriction; when
// owners are named it must also be one of theirs; with no owner, cluster or -allusers
// only the querying user's jobs match; -run and -hold add their status test.
//
// A Query changed by hand so that its pieces no longer parse yields the ERROR literal,
// which matches no job.
func (q *Query) Constraint() classad.Expr {
	e, err := q.constraint()
	if err != nil {
		return classad.Literal(classad.Error())
	}
	return e
}

func (q *Query) constraint() (classad.Expr, error) {
	var any []string
	for _, c := range q.Clusters {
		any = append(any, fmt.Sprintf("ClusterId == %d", c))
	}
	for _, p := range q.Procs {
		any = append(any, fmt.Sprintf("(ClusterId == %d && ProcId == %d)", p.Cluster, p.Proc))
	}
	for _, c := range q.Constraints {
		// The newline ends a trailing // comment before the closing parenthesis.
		any = append(any, "("+c+"\n)")
	}
	var all []string
	owners := q.Owners
	if len(owners) == 0 && len(q.Clusters) == 0 && len(q.Procs) == 0 && !q.AllUsers && q.User != "" {
		owners = []string{q.User}
	}
	if len(owners) > 0 {
		var os []string
		for _, o := range owners {
			os = append(os, `Owner == "`+o+`"`)
		}
		all = append(all, "("+strings.Join(os, " || ")+")")
	}
	if len(any) > 0 {
		all = append(all, "("+strings.Join(any, " || ")+")")
	}
	switch {
	case q.run:
		all = append(all, "(JobStatus == 2 || JobStatus == 6 || JobStatus == 7)")
	case q.hold:
		all = append(all, "(JobStatus == 5)")
	}
	if len(all) == 0 {
		return classad.Literal(classad.Bool(true)), nil
	}
	e, err := classad.ParseExpr(strings.Join(all, " && "))
	if err != nil {
		return nil, fmt.Errorf("combined constraint: %w", err)
	}
	return e, nil
}
