package classad

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// fuzzSeeds are expressions of every syntactic form, for both fuzz targets.
var fuzzSeeds = []string{
	`(time() - ShadowBday) >= 60`,
	`JobStatus == 2 && (time() - EnteredCurrentStatus > 60)`,
	`x ?: y + 1`, `a == 1 & b`, `2 - -3`, `x -1`, `-7 % 3`, `1.5e3 / 0.25`,
	`"ab\"cd\ef" == "AB\"CD\EF"`, `{ 1, "two", 3.0, { 4 } }[3][0]`,
	`[ a = 1; b = a + 1; c = [ d = b ] ].c.d`, `MY.Owner =?= TARGET.Owner`,
	`.JobStatus isnt undefined`, `c ? a : b ? d : e`, `~5 << 2 >>> 1 >> 1 ^ 3 | 8`,
	`strcat("a", 1, 2.5, true)`, `ifThenElse(x, 1/0, "no")`, `real("INF") * -1`,
	`'odd name' + 1`, `regexp("^ami-[0-9a-f]+$", EC2AmiID, "i")`, `member(1, {1.0, 2})`,
	`substr("abcdef", -2)`, `size({})`, `!(error || true)`, `unknownfn(1)`, `eval("1 + 2")`,
}

// fuzzContext is a deterministic context with attributes the seeds use, including a
// cycle (Cyc1 <-> Cyc2).
func fuzzContext() Context {
	my := New()
	for name, src := range map[string]string{
		"ShadowBday": "1699999000", "JobStatus": "2", "EnteredCurrentStatus": "1699990000",
		"x": "undefined", "y": "3", "a": "1", "b": "2", "c": "true", "d": "4.5", "e": `"e"`,
		"Owner": `"alice"`, "EC2AmiID": `"ami-0ABC"`, "odd name": "5",
		"Cyc1": "Cyc2 + 1", "Cyc2": "Cyc1 * 2", "L": "{ 1, [ q = 2 ] }",
	} {
		my.Set(name, MustParseExpr(src))
	}
	target := New()
	target.SetString("Owner", "Alice")
	return Context{My: my, Target: target, Now: func() time.Time { return time.Unix(1_700_000_000, 0) }}
}

// FuzzParse checks that the parser never panics and that parse(unparse(e)) evaluates
// like e in a fixed context (with the same random sequence).
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := ParseExpr(src)
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		if hasTrailingBackslashString(e) {
			// Old syntax cannot write a string that ends in a backslash followed by more
			// text; HTCondor has the same limit (see Unparse).
			return
		}
		text := Unparse(e)
		e2, err := ParseExpr(text)
		if err != nil {
			t.Fatalf("unparse of %q gave %q, which does not parse: %v", src, text, err)
		}
		c1, c2 := fuzzContext(), fuzzContext()
		c1.Rand, c2.Rand = rand.New(rand.NewPCG(1, 2)), rand.New(rand.NewPCG(1, 2))
		v1, v2 := c1.Eval(e), c2.Eval(e2)
		if !sameValue(v1, v2) {
			t.Fatalf("%q = %s but its unparse %q = %s", src, v1, text, v2)
		}
	})
}

// FuzzEval checks that evaluating any parsed expression never panics, in a context with
// cycles, nested ads and lists, and that evaluation is deterministic.
func FuzzEval(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := ParseExpr(src)
		if err != nil {
			return
		}
		c := fuzzContext()
		c.Rand = rand.New(rand.NewPCG(3, 4))
		v := c.Eval(e)
		_ = v.String()
		c.Rand = rand.New(rand.NewPCG(3, 4))
		if v2 := c.Eval(e); !sameValue(v, v2) {
			t.Fatalf("%q evaluated to %s then %s", src, v, v2)
		}
	})
}

// sameValue compares values structurally (NaN equals NaN; ads by printed form).
func sameValue(a, b Value) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case RealKind:
		return a.f == b.f || math.IsNaN(a.f) && math.IsNaN(b.f)
	case ListKind:
		if len(a.list) != len(b.list) {
			return false
		}
		for i := range a.list {
			if !sameValue(a.list[i], b.list[i]) {
				return false
			}
		}
		return true
	case ClassAdKind:
		return a.String() == b.String()
	}
	return a.String() == b.String()
}

// hasTrailingBackslashString reports whether e contains a string literal ending in '\'.
func hasTrailingBackslashString(e Expr) bool {
	found := false
	walk(e, func(x Expr) {
		if l, ok := x.(*literal); ok && l.v.kind == StringKind && strings.HasSuffix(l.v.s, `\`) {
			found = true
		}
	})
	return found
}

func walk(e Expr, fn func(Expr)) {
	fn(e)
	switch x := e.(type) {
	case *selectExpr:
		walk(x.base, fn)
	case *subscriptExpr:
		walk(x.base, fn)
		walk(x.index, fn)
	case *unaryExpr:
		walk(x.x, fn)
	case *binaryExpr:
		walk(x.l, fn)
		walk(x.r, fn)
	case *condExpr:
		walk(x.c, fn)
		walk(x.a, fn)
		walk(x.b, fn)
	case *elvisExpr:
		walk(x.a, fn)
		walk(x.b, fn)
	case *parenExpr:
		walk(x.x, fn)
	case *callExpr:
		for _, a := range x.args {
			walk(a, fn)
		}
	case *listExpr:
		for _, a := range x.elems {
			walk(a, fn)
		}
	case *adExpr:
		for _, en := range x.ad.entries {
			walk(en.expr, fn)
		}
	}
}

// FuzzParseNew checks the new-syntax parser: never panics, and ParseExprNew(UnparseNew(e))
// evaluates like e (new syntax can write every string, so there is no exception).
func FuzzParseNew(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Add(`"tab\there" "joined" + 'odd\'name'`)
	f.Add(`"\101\0012" == "A\n"`)
	f.Fuzz(func(t *testing.T, src string) {
		e, err := ParseExprNew(src)
		if err != nil {
			return
		}
		text := UnparseNew(e)
		e2, err := ParseExprNew(text)
		if err != nil {
			t.Fatalf("UnparseNew of %q gave %q, which does not parse: %v", src, text, err)
		}
		c1, c2 := fuzzContext(), fuzzContext()
		c1.Rand, c2.Rand = rand.New(rand.NewPCG(1, 2)), rand.New(rand.NewPCG(1, 2))
		if v1, v2 := c1.Eval(e), c2.Eval(e2); !sameValue(v1, v2) {
			t.Fatalf("%q = %s but its new-syntax unparse %q = %s", src, v1, text, v2)
		}
	})
}
