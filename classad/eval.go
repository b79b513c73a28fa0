package classad

import (
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// maxEvalDepth bounds nested attribute and eval() evaluation so that pathological ads
// (deep chains, self-parsing strings) end in ERROR instead of exhausting the stack.
const maxEvalDepth = 1000

// Context is everything an evaluation needs besides the expression: the ad that MY and
// unscoped names refer to, an optional TARGET ad (matchmaking), and the clock and random
// source behind time() and random(), injectable so tests are deterministic.
type Context struct {
	My     *ClassAd
	Target *ClassAd
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Rand is the source for random(); nil means math/rand/v2's default source.
	Rand *rand.Rand
}

// statePool recycles evaluation states: the state must live on the heap (it is passed
// through interface calls), and reusing it keeps policy evaluation allocation-free.
var statePool = sync.Pool{New: func() any { return new(evalState) }}

func (c *Context) state() *evalState {
	st := statePool.Get().(*evalState)
	st.ctx = *c
	st.scope = c.My
	st.depth = 0
	st.stack = st.stackBuf[:0]
	return st
}

func release(st *evalState) {
	st.ctx = Context{}
	st.scope = nil
	clear(st.stackBuf[:])
	st.stack = nil
	statePool.Put(st)
}

// Eval evaluates e in the context.
func (c *Context) Eval(e Expr) Value {
	st := c.state()
	v := e.eval(st)
	release(st)
	return v
}

// EvalAttr evaluates attribute name of c.My (UNDEFINED if absent).
func (c *Context) EvalAttr(name string) Value {
	if c.My == nil {
		return Undefined()
	}
	st := c.state()
	v := st.evalAttrIn(c.My, strings.ToLower(name))
	release(st)
	return v
}

// inflight identifies an attribute being evaluated, for cycle detection.
type inflight struct {
	ad  *ClassAd
	key string
}

type evalState struct {
	ctx      Context
	scope    *ClassAd // innermost ad for unscoped lookups
	depth    int
	stack    []inflight
	stackBuf [8]inflight
}

func (st *evalState) now() time.Time {
	if st.ctx.Now != nil {
		return st.ctx.Now()
	}
	return time.Now()
}

func (st *evalState) float64() float64 {
	if st.ctx.Rand != nil {
		return st.ctx.Rand.Float64()
	}
	return rand.Float64()
}

func (st *evalState) int64n(n int64) int64 {
	if st.ctx.Rand != nil {
		return st.ctx.Rand.Int64N(n)
	}
	return rand.Int64N(n)
}

// eval evaluates e in the current state (for built-in functions).
func (st *evalState) eval(e Expr) Value { return e.eval(st) }

// evalAttrIn evaluates attribute key (lower case) of ad, with ad as the scope. A cycle
// (an attribute whose value depends on itself) is UNDEFINED, as in HTCondor's current code.
func (st *evalState) evalAttrIn(ad *ClassAd, key string) Value {
	return st.evalAttrHashed(ad, key, hashKey(key))
}

// evalAttrHashed is evalAttrIn with the key's hash already known (parsed references
// carry it).
func (st *evalState) evalAttrHashed(ad *ClassAd, key string, h uint64) Value {
	en, ok := ad.lookupKey(key, h)
	if !ok {
		return Undefined()
	}
	if en.isLit {
		return en.lit
	}
	for _, f := range st.stack {
		if f.ad == ad && f.key == key {
			return Undefined()
		}
	}
	if st.depth >= maxEvalDepth {
		return Error()
	}
	st.depth++
	st.stack = append(st.stack, inflight{ad, key})
	saved := st.scope
	st.scope = ad
	v := en.expr.eval(st)
	st.scope = saved
	st.stack = st.stack[:len(st.stack)-1]
	st.depth--
	return v
}

func (l *literal) eval(*evalState) Value { return l.v }

// sides returns the ad the current scope belongs to and the other ad of the match: in
// matchmaking, names inside the TARGET ad fall back to the MY ad and MY/TARGET swap
// meaning there, because a match is symmetric.
func (st *evalState) sides() (mine, other *ClassAd) {
	root := st.scope
	for root != nil && root.parent != nil {
		root = root.parent
	}
	if root != nil && root == st.ctx.Target && root != st.ctx.My {
		return st.ctx.Target, st.ctx.My
	}
	return st.ctx.My, st.ctx.Target
}

func (a *attrRef) eval(st *evalState) Value {
	if a.absolute {
		root := st.scope
		for root != nil && root.parent != nil {
			root = root.parent
		}
		if root == nil {
			return Undefined()
		}
		return st.evalAttrHashed(root, a.key, a.hash)
	}
	for ad := st.scope; ad != nil; ad = ad.parent {
		if ad.has(a.key, a.hash) {
			return st.evalAttrHashed(ad, a.key, a.hash)
		}
	}
	mine, other := st.sides()
	if other != nil {
		if other.has(a.key, a.hash) {
			return st.evalAttrHashed(other, a.key, a.hash)
		}
	}
	switch a.key {
	case "my":
		if mine != nil {
			return AdValue(mine)
		}
	case "target":
		if other != nil {
			return AdValue(other)
		}
	case "self":
		if st.scope != nil {
			return AdValue(st.scope)
		}
	case "parent":
		if st.scope != nil && st.scope.parent != nil {
			return AdValue(st.scope.parent)
		}
	case "root", "toplevel":
		root := st.scope
		for root != nil && root.parent != nil {
			root = root.parent
		}
		if root != nil {
			return AdValue(root)
		}
	case "currenttime":
		return Int(st.now().Unix())
	}
	return Undefined()
}

func (s *selectExpr) eval(st *evalState) Value {
	base := s.base.eval(st)
	switch base.kind {
	case UndefinedKind, ErrorKind:
		return base
	case ClassAdKind:
		return st.evalAttrHashed(base.ad, s.key, s.hash)
	case ListKind:
		out := make([]Value, len(base.list))
		for i, e := range base.list {
			switch e.kind {
			case ClassAdKind:
				out[i] = st.evalAttrHashed(e.ad, s.key, s.hash)
			case UndefinedKind:
				out[i] = Undefined()
			default:
				out[i] = Error()
			}
		}
		return List(out)
	}
	return Error()
}

func (s *subscriptExpr) eval(st *evalState) Value {
	base := s.base.eval(st)
	idx := s.index.eval(st)
	if base.kind == ErrorKind || idx.kind == ErrorKind {
		return Error()
	}
	if base.kind == UndefinedKind || idx.kind == UndefinedKind {
		return Undefined()
	}
	switch base.kind {
	case ListKind:
		if idx.kind != IntKind || idx.i < 0 || idx.i >= int64(len(base.list)) {
			return Error()
		}
		return base.list[idx.i]
	case ClassAdKind:
		if idx.kind != StringKind {
			return Error()
		}
		return st.evalAttrIn(base.ad, strings.ToLower(idx.s))
	}
	return Error()
}

func (p *parenExpr) eval(st *evalState) Value { return p.x.eval(st) }

func (c *callExpr) eval(st *evalState) Value {
	fn := c.fn
	if fn == nil {
		// Parsed before the function table was filled (a package-level expression in
		// this package), or an unknown function, which is ERROR.
		if fn = lookupBuiltin(c.name); fn == nil {
			return Error()
		}
	}
	return fn(st, c.args)
}

func (l *listExpr) eval(st *evalState) Value {
	out := make([]Value, len(l.elems))
	for i, e := range l.elems {
		out[i] = e.eval(st)
	}
	return List(out)
}

func (a *adExpr) eval(st *evalState) Value {
	return AdValue(&ClassAd{entries: a.ad.entries, index: a.ad.index, parent: st.scope})
}

func (e *condExpr) eval(st *evalState) Value {
	c := e.c.eval(st)
	switch c.kind {
	case UndefinedKind:
		return c
	case BoolKind, IntKind:
		if c.i != 0 {
			return e.a.eval(st)
		}
		return e.b.eval(st)
	case RealKind:
		if c.f != 0 {
			return e.a.eval(st)
		}
		return e.b.eval(st)
	}
	return Error()
}

func (e *elvisExpr) eval(st *evalState) Value {
	a := e.a.eval(st)
	if a.kind == UndefinedKind {
		return e.b.eval(st)
	}
	return a
}

func (u *unaryExpr) eval(st *evalState) Value {
	x := u.x.eval(st)
	if x.kind == ErrorKind || x.kind == UndefinedKind {
		return x
	}
	switch u.op {
	case opNeg:
		switch x.kind {
		case IntKind:
			return Int(-x.i)
		case RealKind:
			return Real(-x.f)
		}
	case opPlus:
		if x.kind == IntKind || x.kind == RealKind {
			return x
		}
	case opBitNot:
		if x.kind == IntKind {
			return Int(^x.i)
		}
	case opNot:
		switch x.kind {
		case BoolKind, IntKind:
			return Bool(x.i == 0)
		case RealKind:
			return Bool(x.f == 0)
		}
	}
	return Error()
}

// truth converts an operand of && and || : booleans and numbers (nonzero is true).
// ok is false for strings, lists and ads.
func truth(v Value) (b bool, ok bool) {
	switch v.kind {
	case BoolKind, IntKind:
		return v.i != 0, true
	case RealKind:
		return v.f != 0, true
	}
	return false, false
}

func (e *binaryExpr) eval(st *evalState) Value {
	switch e.op {
	case opAnd:
		return evalAnd(st, e.l, e.r)
	case opOr:
		return evalOr(st, e.l, e.r)
	case opIs, opIsnt:
		same, ok := identical(e.l.eval(st), e.r.eval(st))
		if !ok {
			return Error()
		}
		return Bool(same == (e.op == opIs))
	}
	l := e.l.eval(st)
	r := e.r.eval(st)
	if l.kind == ErrorKind || r.kind == ErrorKind {
		return Error()
	}
	if l.kind == UndefinedKind || r.kind == UndefinedKind {
		return Undefined()
	}
	switch e.op {
	case opEq, opNe, opLt, opLe, opGt, opGe:
		return compare(e.op, l, r)
	case opAdd, opSub, opMul, opDiv, opMod:
		return arith(e.op, l, r)
	}
	return bitwise(e.op, l, r)
}

func evalAnd(st *evalState, le, re Expr) Value {
	l := le.eval(st)
	if l.kind == ErrorKind {
		return l
	}
	lb, lok := truth(l)
	if l.kind != UndefinedKind && !lok {
		return Error()
	}
	if lok && !lb {
		return Bool(false)
	}
	r := re.eval(st)
	if r.kind == ErrorKind {
		return r
	}
	rb, rok := truth(r)
	if r.kind != UndefinedKind && !rok {
		return Error()
	}
	if l.kind == UndefinedKind {
		if rok && !rb {
			return Bool(false)
		}
		return Undefined()
	}
	if r.kind == UndefinedKind {
		return r
	}
	return Bool(rb)
}

func evalOr(st *evalState, le, re Expr) Value {
	l := le.eval(st)
	if l.kind == ErrorKind {
		return l
	}
	lb, lok := truth(l)
	if l.kind != UndefinedKind && !lok {
		return Error()
	}
	if lok && lb {
		return Bool(true)
	}
	r := re.eval(st)
	if r.kind == ErrorKind {
		return r
	}
	rb, rok := truth(r)
	if r.kind != UndefinedKind && !rok {
		return Error()
	}
	if l.kind == UndefinedKind {
		if rok && rb {
			return Bool(true)
		}
		return Undefined()
	}
	if r.kind == UndefinedKind {
		return r
	}
	return Bool(rb)
}

// isNumeric reports whether v takes part in arithmetic and numeric comparison.
func isNumeric(v Value) bool { return v.kind == IntKind || v.kind == RealKind || v.kind == BoolKind }

func compare(op opcode, l, r Value) Value {
	var c int
	switch {
	case l.kind == StringKind && r.kind == StringKind:
		c = compareFold(l.s, r.s)
	case isNumeric(l) && isNumeric(r):
		if l.kind != RealKind && r.kind != RealKind {
			switch {
			case l.i < r.i:
				c = -1
			case l.i > r.i:
				c = 1
			}
		} else {
			lf, _ := l.NumberAsReal()
			rf, _ := r.NumberAsReal()
			if math.IsNaN(lf) || math.IsNaN(rf) {
				// Every ordered comparison with NaN is false; != is true.
				return Bool(op == opNe)
			}
			switch {
			case lf < rf:
				c = -1
			case lf > rf:
				c = 1
			}
		}
	default:
		return Error()
	}
	switch op {
	case opEq:
		return Bool(c == 0)
	case opNe:
		return Bool(c != 0)
	case opLt:
		return Bool(c < 0)
	case opLe:
		return Bool(c <= 0)
	case opGt:
		return Bool(c > 0)
	}
	return Bool(c >= 0)
}

func arith(op opcode, l, r Value) Value {
	if !isNumeric(l) || !isNumeric(r) {
		return Error()
	}
	if l.kind != RealKind && r.kind != RealKind {
		a, b := l.i, r.i
		switch op {
		case opAdd:
			return Int(a + b)
		case opSub:
			return Int(a - b)
		case opMul:
			return Int(a * b)
		case opDiv:
			if b == 0 {
				return Error()
			}
			if a == math.MinInt64 && b == -1 {
				return Int(math.MaxInt64)
			}
			return Int(a / b)
		default: // opMod
			if b == 0 {
				return Error()
			}
			if b == -1 {
				return Int(0)
			}
			return Int(a % b)
		}
	}
	if op == opMod {
		return Error()
	}
	a, _ := l.NumberAsReal()
	b, _ := r.NumberAsReal()
	var f float64
	switch op {
	case opAdd:
		f = a + b
	case opSub:
		f = a - b
	case opMul:
		f = a * b
	default:
		if b == 0 {
			// C gives ±Inf or NaN; HTCondor treats +Inf (HUGE_VAL) as ERROR.
			switch {
			case a > 0:
				return Error()
			case a < 0:
				return Real(math.Inf(-1))
			}
			return Real(math.NaN())
		}
		f = a / b
	}
	if math.IsInf(f, 1) {
		return Error()
	}
	return Real(f)
}

func bitwise(op opcode, l, r Value) Value {
	if l.kind != IntKind || r.kind != IntKind {
		return Error()
	}
	a, b := l.i, r.i
	// The shift count is masked to 0..63 as x86 does for C's 64-bit shifts, so a
	// negative or huge count never panics.
	n := uint(b) & 63
	switch op {
	case opBitOr:
		return Int(a | b)
	case opBitXor:
		return Int(a ^ b)
	case opBitAnd:
		return Int(a & b)
	case opShl:
		return Int(a << n)
	case opShr:
		return Int(a >> n)
	case opUShr:
		return Int(int64(uint64(a) >> n))
	}
	return Error()
}

// compareFold compares two strings case-insensitively, byte by byte with ASCII case
// folding, as strcasecmp does, without allocating.
func compareFold(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := lowerASCII(a[i]), lowerASCII(b[i])
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
