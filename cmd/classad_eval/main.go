// Command classad_eval evaluates ClassAd expressions in the context of an ad built from
// the command line or read from a file, like HTCondor's classad_eval:
//
//	classad_eval [-quiet] [-file AD] [-target-file AD] 'Attr = expr' ... 'expr' ...
//
// Arguments take effect left to right. An assignment ('Attr = expr') or an inline ad
// ('[ a = 1; b = 2 ]') changes the context ad; any other argument is an expression, whose
// value is printed in old ClassAd syntax, after the context ad whenever that ad has
// changed since it was last printed (unless -quiet).
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ec2grid/ec2grid/classad"
)

// Exit statuses, as HTCondor's classad_eval uses them.
const (
	exitOK       = 0
	exitBadInput = 1   // a parse error or an unreadable ad file
	exitUsage    = 255 // an unknown option
)

const usage = `usage: classad_eval [-help] [-quiet] [-file AD] [-target-file AD] <ad|assignment|expression>...
  -quiet             do not print the context ad before results
  -file, -my-file F  read the context ad from F (condor_q -long text or [ ... ])
  -target-file F     read the TARGET ad from F
An argument 'Attr = expr' sets an attribute, '[ a = 1; b = 2 ]' sets several, and any
other argument is an expression to evaluate and print.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	ctx := classad.Context{My: classad.New()}
	quiet := false
	printed := false // has the current context ad been printed?
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if strings.HasPrefix(arg, "-") && len(arg) > 1 && !startsExpression(arg) {
			switch strings.TrimLeft(arg, "-") {
			case "help", "h":
				fmt.Fprint(stdout, usage)
				return exitOK
			case "quiet", "q":
				quiet = true
				continue
			case "debug":
				continue
			case "file", "my-file", "ad-file", "target-file":
				if i+1 >= len(args) {
					fmt.Fprintf(stderr, "classad_eval: %s needs a file name\n", arg)
					return exitUsage
				}
				i++
				ad, err := readAdFile(args[i])
				if err != nil {
					fmt.Fprintf(stderr, "classad_eval: %v\n", err)
					return exitBadInput
				}
				if strings.TrimLeft(arg, "-") == "target-file" {
					ctx.Target = ad
				} else {
					ctx.My, printed = ad, false
				}
				continue
			default:
				fmt.Fprintf(stderr, "classad_eval: unknown option %s\n%s", arg, usage)
				return exitUsage
			}
		}
		if name, expr, ok := splitAssignment(arg); ok {
			e, err := classad.ParseExpr(expr)
			if err != nil {
				fmt.Fprintf(stderr, "classad_eval: cannot parse assignment %q: %v\n", arg, shiftCol(err, len(arg)-len(expr)))
				return exitBadInput
			}
			ctx.My.Set(name, e)
			printed = false
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(arg), "[") {
			if ad, err := classad.ParseAd(arg); err == nil {
				for _, n := range ad.Names() {
					e, _ := ad.Lookup(n)
					ctx.My.Set(n, e)
				}
				printed = false
				continue
			}
		}
		e, err := classad.ParseExpr(arg)
		if err != nil {
			fmt.Fprintf(stderr, "classad_eval: cannot parse expression %q: %v\n", arg, err)
			return exitBadInput
		}
		if !quiet && !printed {
			fmt.Fprintln(stdout, ctx.My.String())
			printed = true
		}
		fmt.Fprintln(stdout, ctx.Eval(e).String())
	}
	return exitOK
}

// startsExpression tells a negative number ("-1 + 2") from an option.
func startsExpression(arg string) bool {
	return len(arg) > 1 && (arg[1] >= '0' && arg[1] <= '9' || arg[1] == '.' || arg[1] == ' ' || arg[1] == '(')
}

// splitAssignment recognises "Name = expr" (but not "Name == expr").
func splitAssignment(arg string) (name, expr string, ok bool) {
	s := strings.TrimLeft(arg, " \t")
	n := 0
	for n < len(s) && (s[n] == '_' || s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || n > 0 && s[n] >= '0' && s[n] <= '9') {
		n++
	}
	if n == 0 {
		return "", "", false
	}
	rest := strings.TrimLeft(s[n:], " \t")
	if !strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, "==") || strings.HasPrefix(rest, "=?=") || strings.HasPrefix(rest, "=!=") {
		return "", "", false
	}
	return s[:n], rest[1:], true
}

// shiftCol makes a parse error's column count from the start of the whole argument.
func shiftCol(err error, offset int) error {
	if pe, ok := err.(*classad.ParseError); ok {
		return &classad.ParseError{Col: pe.Col + offset, Msg: pe.Msg}
	}
	return err
}

// readAdFile reads the first ad of a file in condor_q -long form, or as "[ ... ]" in new
// syntax (condor_q -long:new, HTCondor's classad_eval files).
func readAdFile(path string) (*classad.ClassAd, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read ad file: %w", err)
	}
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '[' {
		ad, err := classad.ParseAdNew(string(trimmed))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return ad, nil
	}
	ads, err := classad.ParseLongAds(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(ads) == 0 {
		return classad.New(), nil
	}
	return ads[0], nil
}
