package classad

import (
	"fmt"
	"strings"
)

// maxParseDepth caps recursion so hostile input cannot exhaust the stack; HTCondor's
// parser uses the same limit.
const maxParseDepth = 500

type parser struct {
	toks  []token
	pos   int
	depth int
}

// ParseExpr parses one expression in HTCondor's old ClassAd syntax. The whole text must
// be one expression. Errors are *ParseError values naming the column.
func ParseExpr(src string) (Expr, error) { return parseExprMode(src, oldSyntax) }

// ParseExprNew parses one expression in new ClassAd syntax: C escapes in strings and
// quoted names, adjacent string literals joined. It reads what UnparseNew prints (the
// text inside condor_q -json's "\/Expr(...)\/").
func ParseExprNew(src string) (Expr, error) { return parseExprMode(src, newSyntax) }

func parseExprMode(src string, syn syntax) (Expr, error) {
	toks, err := lexMode(src, syn)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errorf(t, "expected end of expression")
	}
	return e, nil
}

// MustParseExpr is ParseExpr for expressions known to be valid (program constants);
// it panics on error.
func MustParseExpr(src string) Expr {
	e, err := ParseExpr(src)
	if err != nil {
		panic(fmt.Sprintf("classad.MustParseExpr(%q): %v", src, err))
	}
	return e
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) peekAt(n int) token {
	if p.pos+n < len(p.toks) {
		return p.toks[p.pos+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) isOp(text string) bool {
	t := p.toks[p.pos]
	return t.kind == tOp && t.text == text
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tInt:
		return fmt.Sprintf("integer %d", t.i)
	case tReal:
		return "real " + formatReal(t.f, oldSyntax)
	case tString:
		return fmt.Sprintf("string %q", t.text)
	case tIdent:
		return fmt.Sprintf("name %q", t.text)
	case tTrue:
		return "true"
	case tFalse:
		return "false"
	case tUndefined:
		return "undefined"
	case tError:
		return "error"
	}
	return fmt.Sprintf("'%s'", t.text)
}

func (p *parser) errorf(t token, format string, args ...any) error {
	return &ParseError{Col: t.col, Msg: fmt.Sprintf(format, args...) + ", found " + describe(t)}
}

func (p *parser) expect(op string) error {
	if !p.isOp(op) {
		return p.errorf(p.peek(), "expected '%s'", op)
	}
	p.next()
	return nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxParseDepth {
		return &ParseError{Col: p.peek().col, Msg: fmt.Sprintf("expression nested deeper than %d levels", maxParseDepth)}
	}
	return nil
}

// expr ::= logicalOr [ '?' expr ':' expr ]
func (p *parser) expr() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	c, err := p.binary(0)
	if err != nil {
		return nil, err
	}
	if !p.isOp("?") {
		return c, nil
	}
	p.next()
	a, err := p.expr()
	if err != nil {
		return nil, err
	}
	if err := p.expect(":"); err != nil {
		return nil, err
	}
	b, err := p.expr()
	if err != nil {
		return nil, err
	}
	return &condExpr{c: c, a: a, b: b}, nil
}

// binaryLevels lists the binary operators from lowest to highest precedence; all are
// left-associative. Bitwise operators sit between the logical ones and equality, as in C.
var binaryLevels = [][]struct {
	text string
	op   opcode
}{
	{{"||", opOr}},
	{{"&&", opAnd}},
	{{"|", opBitOr}},
	{{"^", opBitXor}},
	{{"&", opBitAnd}},
	{{"==", opEq}, {"!=", opNe}, {"=?=", opIs}, {"=!=", opIsnt}},
	{{"<", opLt}, {"<=", opLe}, {">", opGt}, {">=", opGe}},
	{{"<<", opShl}, {">>", opShr}, {">>>", opUShr}},
	{{"+", opAdd}, {"-", opSub}},
	{{"*", opMul}, {"/", opDiv}, {"%", opMod}},
}

func (p *parser) binary(level int) (Expr, error) {
	if level == len(binaryLevels) {
		return p.unary()
	}
	l, err := p.binary(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tOp {
			return l, nil
		}
		found := false
		var op opcode
		for _, cand := range binaryLevels[level] {
			if cand.text == t.text {
				found, op = true, cand.op
				break
			}
		}
		if !found {
			return l, nil
		}
		p.next()
		r, err := p.binary(level + 1)
		if err != nil {
			return nil, err
		}
		l = &binaryExpr{op: op, l: l, r: r}
	}
}

func (p *parser) unary() (Expr, error) {
	t := p.peek()
	if t.kind == tOp {
		var op opcode
		switch t.text {
		case "-":
			op = opNeg
		case "+":
			op = opPlus
		case "~":
			op = opBitNot
		case "!":
			op = opNot
		default:
			return p.postfix()
		}
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{op: op, x: x}, nil
	}
	return p.postfix()
}

// postfix ::= primary { '.' name | '[' expr ']' | '?:' postfix }
func (p *parser) postfix() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	e, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case p.isOp("."):
			p.next()
			t := p.next()
			if t.kind != tIdent {
				return nil, p.errorf(t, "expected an attribute name after '.'")
			}
			e = newSelect(e, t.text)
		case p.isOp("["):
			p.next()
			idx, err := p.expr()
			if err != nil {
				return nil, err
			}
			if err := p.expect("]"); err != nil {
				return nil, err
			}
			e = &subscriptExpr{base: e, index: idx}
		case p.isOp("?") && p.peekAt(1).kind == tOp && p.peekAt(1).text == ":":
			p.next()
			p.next()
			r, err := p.postfix()
			if err != nil {
				return nil, err
			}
			e = &elvisExpr{a: e, b: r}
		default:
			return e, nil
		}
	}
}

func (p *parser) primary() (Expr, error) {
	t := p.next()
	switch t.kind {
	case tInt:
		return &literal{v: Int(t.i)}, nil
	case tReal:
		return &literal{v: Real(t.f)}, nil
	case tString:
		return &literal{v: String(t.text)}, nil
	case tTrue:
		return &literal{v: Bool(true)}, nil
	case tFalse:
		return &literal{v: Bool(false)}, nil
	case tUndefined:
		return &literal{v: Undefined()}, nil
	case tError:
		return &literal{v: Error()}, nil
	case tIdent:
		if p.isOp("(") {
			p.next()
			args, err := p.exprList(")")
			if err != nil {
				return nil, err
			}
			return &callExpr{name: t.text, args: args, fn: lookupBuiltin(t.text)}, nil
		}
		return newAttrRef(t.text, false), nil
	case tOp:
		switch t.text {
		case "(":
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			return &parenExpr{x: e}, nil
		case "{":
			elems, err := p.exprList("}")
			if err != nil {
				return nil, err
			}
			return &listExpr{elems: elems}, nil
		case "[":
			ad, err := p.attrList("]")
			if err != nil {
				return nil, err
			}
			return &adExpr{ad: ad}, nil
		case ".":
			n := p.next()
			if n.kind != tIdent {
				return nil, p.errorf(n, "expected an attribute name after '.'")
			}
			return newAttrRef(n.text, true), nil
		}
	}
	return nil, p.errorf(t, "expected an expression")
}

// exprList parses "e1, e2, ... close" after the opening token.
func (p *parser) exprList(close string) ([]Expr, error) {
	var list []Expr
	if p.isOp(close) {
		p.next()
		return list, nil
	}
	for {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		list = append(list, e)
		if p.isOp(",") {
			p.next()
			continue
		}
		if err := p.expect(close); err != nil {
			return nil, p.errorf(p.peek(), "expected ',' or '%s'", close)
		}
		return list, nil
	}
}

// attrList parses "name = expr; ... close" (a nested ad body); extra semicolons are
// tolerated, as in HTCondor.
func (p *parser) attrList(close string) (*ClassAd, error) {
	ad := New()
	for {
		for p.isOp(";") {
			p.next()
		}
		if p.isOp(close) {
			p.next()
			return ad, nil
		}
		t := p.next()
		if t.kind != tIdent {
			return nil, p.errorf(t, "expected an attribute name or '%s'", close)
		}
		if err := p.expect("="); err != nil {
			return nil, err
		}
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		ad.Set(t.text, e)
		if !p.isOp(";") && !p.isOp(close) {
			return nil, p.errorf(p.peek(), "expected ';' or '%s'", close)
		}
	}
}

// ParseAd parses a nested-ad literal in old-syntax expressions, "[ a = 1; b = a + 1 ]",
// into a ClassAd. Surrounding whitespace is allowed; nothing else may follow the ']'.
func ParseAd(src string) (*ClassAd, error) { return parseAdMode(src, oldSyntax) }

// ParseAdNew parses a nested-ad literal in new syntax (C escapes in strings), the form of
// condor_q -long:new and classad_eval's ad files.
func ParseAdNew(src string) (*ClassAd, error) { return parseAdMode(src, newSyntax) }

func parseAdMode(src string, syn syntax) (*ClassAd, error) {
	toks, err := lexMode(src, syn)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if err := p.expect("["); err != nil {
		return nil, err
	}
	ad, err := p.attrList("]")
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errorf(t, "expected end of ad")
	}
	return ad, nil
}

// String prints the ad as a nested-ad literal in old syntax: [ a = 1; b = "x" ].
func (ad *ClassAd) String() string {
	var b strings.Builder
	ad.writeInline(&b, oldSyntax)
	return b.String()
}

func newAttrRef(name string, absolute bool) *attrRef {
	key := internKey(name)
	return &attrRef{name: name, key: key, hash: hashKey(key), absolute: absolute}
}

func newSelect(base Expr, name string) *selectExpr {
	key := internKey(name)
	return &selectExpr{base: base, name: name, key: key, hash: hashKey(key)}
}
