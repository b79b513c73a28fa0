package classad

import (
	"math"
	"strings"
)

// Expr is a parsed, unevaluated ClassAd expression. Exprs are immutable and safe to share
// between ads and goroutines.
type Expr interface {
	eval(st *evalState) Value
	write(b *strings.Builder, syn syntax)
}

// Unparse prints e in HTCondor's old ClassAd syntax (condor_q -long, hold reasons):
// one space around binary operators, parentheses as written, strings with only '"'
// escaped.
func Unparse(e Expr) string {
	var b strings.Builder
	e.write(&b, oldSyntax)
	return b.String()
}

// UnparseNew prints e in new ClassAd syntax (is / isnt, C string escapes), the form used
// inside condor_q -json's "\/Expr(...)\/" strings.
func UnparseNew(e Expr) string {
	var b strings.Builder
	e.write(&b, newSyntax)
	return b.String()
}

// Literal returns an expression that evaluates to v.
func Literal(v Value) Expr { return &literal{v: v} }

// IsLiteral reports whether e is a literal (not an expression that needs evaluating),
// returning its value. Parenthesised and negated literals do not count, as in HTCondor.
func IsLiteral(e Expr) (Value, bool) {
	if l, ok := e.(*literal); ok {
		return l.v, true
	}
	return Value{}, false
}

type literal struct{ v Value }

func (l *literal) write(b *strings.Builder, syn syntax) { writeLiteral(b, l.v, syn) }

// attrRef is an attribute reference: Name, or .Name (absolute: looked up in the root ad).
type attrRef struct {
	name     string // as written
	key      string // interned lower case, for lookup
	hash     uint64 // hashKey(key), computed once at parse time
	absolute bool
}

func (a *attrRef) write(b *strings.Builder, syn syntax) {
	if a.absolute {
		b.WriteByte('.')
	}
	writeNameSyn(b, a.name, syn)
}

// writeName prints an attribute name, quoting it as 'name' when it is not an identifier
// or is a reserved word.
func writeName(b *strings.Builder, name string) { writeNameSyn(b, name, oldSyntax) }

// writeNameSyn is writeName for either syntax: inside new syntax's 'quoted names' a
// backslash and a single quote are escaped, as the new-syntax lexer reads them.
func writeNameSyn(b *strings.Builder, name string, syn syntax) {
	ok := name != "" && isIdentStart(name[0])
	for i := 1; ok && i < len(name); i++ {
		ok = isIdentChar(name[i])
	}
	if ok {
		switch strings.ToLower(name) {
		case "true", "false", "undefined", "error", "is", "isnt":
			ok = false
		}
	}
	if ok {
		b.WriteString(name)
		return
	}
	b.WriteByte('\'')
	if syn == newSyntax {
		for i := 0; i < len(name); i++ {
			if name[i] == '\\' || name[i] == '\'' {
				b.WriteByte('\\')
			}
			b.WriteByte(name[i])
		}
	} else {
		b.WriteString(name)
	}
	b.WriteByte('\'')
}

// selectExpr is base.Name.
type selectExpr struct {
	base Expr
	name string
	key  string
	hash uint64
}

func (s *selectExpr) write(b *strings.Builder, syn syntax) {
	s.base.write(b, syn)
	b.WriteByte('.')
	writeNameSyn(b, s.name, syn)
}

type subscriptExpr struct{ base, index Expr }

func (s *subscriptExpr) write(b *strings.Builder, syn syntax) {
	s.base.write(b, syn)
	b.WriteByte('[')
	s.index.write(b, syn)
	b.WriteByte(']')
}

type opcode uint8

const (
	opOr opcode = iota
	opAnd
	opBitOr
	opBitXor
	opBitAnd
	opEq
	opNe
	opIs
	opIsnt
	opLt
	opLe
	opGt
	opGe
	opShl
	opShr
	opUShr
	opAdd
	opSub
	opMul
	opDiv
	opMod
	// unary
	opNeg
	opPlus
	opBitNot
	opNot
)

var opText = [...]string{
	opOr: "||", opAnd: "&&", opBitOr: "|", opBitXor: "^", opBitAnd: "&",
	opEq: "==", opNe: "!=", opIs: "=?=", opIsnt: "=!=",
	opLt: "<", opLe: "<=", opGt: ">", opGe: ">=",
	opShl: "<<", opShr: ">>", opUShr: ">>>",
	opAdd: "+", opSub: "-", opMul: "*", opDiv: "/", opMod: "%",
	opNeg: "-", opPlus: "+", opBitNot: "~", opNot: "!",
}

type unaryExpr struct {
	op opcode
	x  Expr
}

func (u *unaryExpr) write(b *strings.Builder, syn syntax) {
	b.WriteString(opText[u.op])
	if u.op == opNeg && startsWithDigit(u.x) {
		// "-5" would read back as the literal -5, not as minus applied to 5: the space
		// keeps parse(unparse(e)) the same tree, so printed text is stable.
		b.WriteByte(' ')
	}
	u.x.write(b, syn)
}

// startsWithDigit reports whether e prints starting with a digit: a non-negative
// numeric literal.
func startsWithDigit(e Expr) bool {
	l, ok := e.(*literal)
	if !ok {
		return false
	}
	switch l.v.kind {
	case IntKind:
		return l.v.i >= 0
	case RealKind:
		return !math.Signbit(l.v.f) && !math.IsInf(l.v.f, 0) && !math.IsNaN(l.v.f)
	}
	return false
}

type binaryExpr struct {
	op   opcode
	l, r Expr
}

func (e *binaryExpr) write(b *strings.Builder, syn syntax) {
	e.l.write(b, syn)
	b.WriteByte(' ')
	switch {
	case syn == newSyntax && e.op == opIs:
		b.WriteString("is")
	case syn == newSyntax && e.op == opIsnt:
		b.WriteString("isnt")
	default:
		b.WriteString(opText[e.op])
	}
	b.WriteByte(' ')
	e.r.write(b, syn)
}

type condExpr struct{ c, a, b Expr }

func (e *condExpr) write(b *strings.Builder, syn syntax) {
	e.c.write(b, syn)
	b.WriteString(" ? ")
	e.a.write(b, syn)
	b.WriteString(" : ")
	e.b.write(b, syn)
}

type elvisExpr struct{ a, b Expr }

func (e *elvisExpr) write(b *strings.Builder, syn syntax) {
	e.a.write(b, syn)
	b.WriteString(" ?: ")
	e.b.write(b, syn)
}

type parenExpr struct{ x Expr }

func (p *parenExpr) write(b *strings.Builder, syn syntax) {
	b.WriteByte('(')
	p.x.write(b, syn)
	b.WriteByte(')')
}

// builtinFunc implements a built-in function. Arguments are passed unevaluated so that
// lazy functions (ifThenElse) and reflective ones (unparse, isUndefined) can be written.
type builtinFunc func(st *evalState, args []Expr) Value

type callExpr struct {
	name string // as written
	args []Expr
	fn   builtinFunc // nil for an unknown function: evaluates to ERROR
}

func (c *callExpr) write(b *strings.Builder, syn syntax) {
	// A name written quoted ('0'(), which the parser reads as a call of an unknown
	// function) is printed quoted, so that it reads back as the same call.
	writeNameSyn(b, c.name, syn)
	b.WriteByte('(')
	for i, a := range c.args {
		if i > 0 {
			b.WriteByte(',')
		}
		a.write(b, syn)
	}
	b.WriteByte(')')
}

type listExpr struct{ elems []Expr }

func (l *listExpr) write(b *strings.Builder, syn syntax) {
	b.WriteString("{ ")
	for i, e := range l.elems {
		if i > 0 {
			b.WriteByte(',')
		}
		e.write(b, syn)
	}
	b.WriteString(" }")
}

// adExpr is a nested ad literal [ a = 1; b = 2 ].
type adExpr struct{ ad *ClassAd }

func (a *adExpr) write(b *strings.Builder, syn syntax) { a.ad.writeInline(b, syn) }
