package classad_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/classad"
)

// conformanceFile is the expression => value table; its header documents the format.
const conformanceFile = "testdata/conformance.txt"

// minConformanceCases guards against the table silently shrinking.
const minConformanceCases = 300

// conformanceNow is the fixed clock behind time() and CurrentTime.
var conformanceNow = time.Unix(1700000000, 0)

// confAttr is one @set or @target binding.
type confAttr struct {
	name string
	expr classad.Expr
}

// confCase is one line of the table that checks something.
type confCase struct {
	line     int
	unparse  bool   // @unparse: compare Unparse(expr) with want
	src      string // the expression text
	want     string // expected printed value or unparsed text
	parseErr bool   // want is PARSE_ERROR
	errCol   int    // > 0: the column the parse error must name
	my       []confAttr
	target   []confAttr // nil: no TARGET ad
	hasTgt   bool
}

// TestConformance runs testdata/conformance.txt, the ClassAd conformance table derived from
// the HTCondor reference (see the file's header for the format).
func TestConformance(t *testing.T) {
	data, err := os.ReadFile(conformanceFile)
	if err != nil {
		t.Fatal(err)
	}
	cases, err := parseConformance(string(data))
	if err != nil {
		t.Fatalf("%s: %v", conformanceFile, err)
	}
	if len(cases) < minConformanceCases {
		t.Fatalf("%s has %d cases; at least %d are required", conformanceFile, len(cases), minConformanceCases)
	}
	for _, c := range cases {
		t.Run("line"+strconv.Itoa(c.line), func(t *testing.T) {
			if msg := runConformanceCase(c); msg != "" {
				t.Errorf("%s:%d: %s\n%s", conformanceFile, c.line, c.describe(), msg)
			}
		})
	}
}

func (c *confCase) describe() string {
	if c.unparse {
		return "@unparse " + c.src
	}
	return c.src
}

// parseConformance reads the table into cases, resolving @set / @target / @reset.
func parseConformance(text string) ([]*confCase, error) {
	var (
		cases  []*confCase
		my     []confAttr
		target []confAttr
		hasTgt bool
	)
	for i, raw := range strings.Split(text, "\n") {
		lineNo := i + 1
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		switch {
		case line == "@reset":
			my, target, hasTgt = nil, nil, false
			continue
		case strings.HasPrefix(line, "@set "), strings.HasPrefix(line, "@target "):
			isTarget := strings.HasPrefix(line, "@target ")
			rest := strings.TrimSpace(line[strings.IndexByte(line, ' ')+1:])
			name, src, ok := strings.Cut(rest, "=")
			if !ok {
				return nil, fmt.Errorf("line %d: want @set Name = expr", lineNo)
			}
			name = strings.TrimSpace(name)
			if len(name) >= 2 && name[0] == '\'' && name[len(name)-1] == '\'' {
				name = name[1 : len(name)-1]
			}
			e, err := classad.ParseExpr(strings.TrimSpace(src))
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", lineNo, err)
			}
			// Copy on append so that earlier cases keep the bindings they saw.
			a := confAttr{name: name, expr: e}
			if isTarget {
				target = append(target[:len(target):len(target)], a)
				hasTgt = true
			} else {
				my = append(my[:len(my):len(my)], a)
			}
			continue
		}
		c := &confCase{line: lineNo, my: my, target: target, hasTgt: hasTgt}
		body := line
		if strings.HasPrefix(line, "@unparse ") {
			c.unparse = true
			body = strings.TrimPrefix(line, "@unparse ")
		} else if strings.HasPrefix(line, "@") {
			return nil, fmt.Errorf("line %d: unknown directive %q", lineNo, line)
		}
		// Split on the last " => "; a leading space lets "=> X" stand for an empty expression.
		body = " " + body
		idx := strings.LastIndex(body, " => ")
		if idx < 0 {
			return nil, fmt.Errorf("line %d: no \" => \" in %q", lineNo, line)
		}
		c.src = strings.TrimSpace(body[:idx])
		c.want = strings.TrimSpace(body[idx+len(" => "):])
		if !c.unparse && strings.HasPrefix(c.want, "PARSE_ERROR") {
			c.parseErr = true
			if rest := strings.TrimSpace(strings.TrimPrefix(c.want, "PARSE_ERROR")); rest != "" {
				if !strings.HasPrefix(rest, "@") {
					return nil, fmt.Errorf("line %d: want PARSE_ERROR or PARSE_ERROR @N", lineNo)
				}
				n, err := strconv.Atoi(rest[1:])
				if err != nil || n <= 0 {
					return nil, fmt.Errorf("line %d: bad column in %q", lineNo, c.want)
				}
				c.errCol = n
			}
		}
		cases = append(cases, c)
	}
	return cases, nil
}

// runConformanceCase checks one case and returns a description of the failure, or "".
// A panic in the implementation is reported as a failure of that case alone.
func runConformanceCase(c *confCase) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprintf("  expected: %s\n  got:      panic: %v", c.want, r)
		}
	}()
	e, err := classad.ParseExpr(c.src)
	if c.parseErr {
		if err == nil {
			return fmt.Sprintf("  expected: %s\n  got:      parsed as %s", c.want, classad.Unparse(e))
		}
		if c.errCol > 0 {
			var pe *classad.ParseError
			if !errors.As(err, &pe) {
				return fmt.Sprintf("  expected: %s\n  got:      non-ParseError %T: %v", c.want, err, err)
			}
			if pe.Col != c.errCol {
				return fmt.Sprintf("  expected: %s\n  got:      PARSE_ERROR @%d (%v)", c.want, pe.Col, err)
			}
		}
		return ""
	}
	if err != nil {
		return fmt.Sprintf("  expected: %s\n  got:      %v", c.want, err)
	}
	if c.unparse {
		if got := classad.Unparse(e); got != c.want {
			return fmt.Sprintf("  expected: %s\n  got:      %s", c.want, got)
		}
		return ""
	}
	ctx := classad.Context{
		My:   classad.New(),
		Now:  func() time.Time { return conformanceNow },
		Rand: rand.New(rand.NewPCG(1, 2)),
	}
	for _, a := range c.my {
		ctx.My.Set(a.name, a.expr)
	}
	if c.hasTgt {
		ctx.Target = classad.New()
		for _, a := range c.target {
			ctx.Target.Set(a.name, a.expr)
		}
	}
	if got := ctx.Eval(e).String(); got != c.want {
		return fmt.Sprintf("  expected: %s\n  got:      %s", c.want, got)
	}
	return ""
}
