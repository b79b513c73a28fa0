package classad

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The built-in functions of HTCondor's ClassAd language, following src/classad/fnCall.cpp
// and the HTCondor-only ones in src/condor_utils/compat_classad.cpp. General rules, as in
// HTCondor: names are case-insensitive (the table is keyed by lower-case name), a wrong
// number of arguments is ERROR rather than a parse error, and no input panics: every
// failure is the ERROR value.
//
// Regular expressions use Go's regexp package (RE2 syntax, which is Perl-like) instead
// of PCRE. PCRE-only features (backreferences such as \1 inside the pattern, lookahead
// and lookbehind, possessive quantifiers, recursion) do not compile, so such patterns
// give ERROR, as any bad pattern does. Without the m option '$' matches only at the very
// end of the text, where PCRE also matches before a final newline.

func registerBuiltins(m map[string]builtinFunc) {
	m["time"] = fnTime
	m["ifthenelse"] = fnIfThenElse
	m["debug"] = fnDebug
	m["eval"] = fnEval
	m["unparse"] = fnUnparse
	registerTypeTests(m)
	registerListFuncs(m)
	registerStringFuncs(m)
	registerConversions(m)
	registerMath(m)
	registerRegexps(m)
	registerStringLists(m)
	m["interval"] = fnInterval
	m["formattime"] = fnFormatTime
}

func registerTypeTests(m map[string]builtinFunc) {
	kinds := map[string]Kind{
		"isundefined": UndefinedKind, "iserror": ErrorKind, "isstring": StringKind,
		"isinteger": IntKind, "isreal": RealKind, "isboolean": BoolKind,
		"islist": ListKind, "isclassad": ClassAdKind,
	}
	for name, k := range kinds {
		m[name] = typeTest(k)
	}
	// This package has no absolute or relative time types, so nothing is one.
	m["isabstime"] = typeTest(noKind)
	m["isreltime"] = typeTest(noKind)
}

// noKind is a Kind no value has.
const noKind Kind = 255

func registerListFuncs(m map[string]builtinFunc) {
	m["member"] = fnMember(false)
	m["identicalmember"] = fnMember(true)
	m["size"] = fnSize
	m["sum"] = fnSumAvg(false)
	m["avg"] = fnSumAvg(true)
	m["min"] = fnMinMax(opLt)
	m["max"] = fnMinMax(opGt)
	m["anycompare"] = fnListCompare(false)
	m["allcompare"] = fnListCompare(true)
}

func registerStringFuncs(m map[string]builtinFunc) {
	m["strcat"] = fnStrcat
	m["join"] = fnJoin
	m["toupper"] = fnChangeCase(asciiUpper)
	m["tolower"] = fnChangeCase(lowerASCII)
	m["substr"] = fnSubstr
	m["strcmp"] = fnStrcmp(false)
	m["stricmp"] = fnStrcmp(true)
	m["split"] = fnSplit
	m["splitusername"] = fnSplitAt(false)
	m["splitslotname"] = fnSplitAt(true)
}

func registerConversions(m map[string]builtinFunc) {
	m["int"] = convFunc(toIntValue)
	m["real"] = convFunc(toRealValue)
	m["string"] = convFunc(toStringValue)
	m["bool"] = convFunc(toBoolValue)
}

func registerMath(m map[string]builtinFunc) {
	m["floor"] = fnRound(math.Floor)
	m["ceiling"] = fnRound(math.Ceil)
	m["ceil"] = fnRound(math.Ceil)
	m["round"] = fnRound(math.RoundToEven) // C's rint in the default rounding mode
	m["pow"] = fnPow
	m["quantize"] = fnQuantize
	m["random"] = fnRandom
}

func registerRegexps(m map[string]builtinFunc) {
	m["regexp"] = fnRegexp
	m["regexps"] = fnSubstPattern("")
	m["replace"] = fnSubstPattern("f")
	m["replaceall"] = fnSubstPattern("fg")
	m["regexpmember"] = fnRegexpMember
}

func registerStringLists(m map[string]builtinFunc) {
	m["stringlistmember"] = fnStringListMember(false, false)
	m["stringlistimember"] = fnStringListMember(true, false)
	m["stringlistsubsetmatch"] = fnStringListMember(false, true)
	m["stringlistisubsetmatch"] = fnStringListMember(true, true)
	m["stringlistsize"] = fnStringListSize
	m["stringlistsum"] = fnStringListSummarize(summarizeSum)
	m["stringlistavg"] = fnStringListSummarize(summarizeAvg)
	m["stringlistmin"] = fnStringListSummarize(summarizeMin)
	m["stringlistmax"] = fnStringListSummarize(summarizeMax)
	m["stringlistsintersect"] = fnStringListsIntersect
	m["stringlist_regexpmember"] = fnStringListRegexpMember
}

// evalArgs evaluates every argument, for the (most) functions that are strict.
func evalArgs(st *evalState, args []Expr) []Value {
	vs := make([]Value, len(args))
	for i, a := range args {
		vs[i] = st.eval(a)
	}
	return vs
}

// relop applies a comparison operator to two values with the operator's own rules
// (strict for == and friends, non-strict for =?= and =!=), as HTCondor's
// Operation::Operate does for member() and anyCompare().
func relop(op opcode, a, b Value) Value {
	if op == opIs || op == opIsnt {
		same, ok := identical(a, b)
		if !ok {
			return Error()
		}
		return Bool(same == (op == opIs))
	}
	if a.kind == ErrorKind || b.kind == ErrorKind {
		return Error()
	}
	if a.kind == UndefinedKind || b.kind == UndefinedKind {
		return Undefined()
	}
	return compare(op, a, b)
}

func isTrueBool(v Value) bool { return v.kind == BoolKind && v.i != 0 }

// ---- time, control and reflection ----------------------------------------------------

func fnTime(st *evalState, args []Expr) Value {
	if len(args) != 0 {
		return Error()
	}
	return Int(st.now().Unix())
}

// fnIfThenElse is lazy: only the chosen branch is evaluated.
func fnIfThenElse(st *evalState, args []Expr) Value {
	if len(args) != 3 {
		return Error()
	}
	c := st.eval(args[0])
	var b bool
	switch c.kind {
	case UndefinedKind:
		return c
	case BoolKind, IntKind:
		b = c.i != 0
	case RealKind:
		b = c.f != 0
	default:
		return Error()
	}
	if b {
		return st.eval(args[1])
	}
	return st.eval(args[2])
}

// fnDebug is the identity; HTCondor also logs the evaluation at D_FULLDEBUG.
func fnDebug(st *evalState, args []Expr) Value {
	if len(args) != 1 {
		return Error()
	}
	return st.eval(args[0])
}

// fnEval parses its argument (converted as string() does) and evaluates the result in
// the current scope. A parse error, or nesting deeper than maxEvalDepth, is ERROR.
func fnEval(st *evalState, args []Expr) Value {
	if len(args) != 1 {
		return Error()
	}
	s := toStringValue(st.eval(args[0]))
	if s.kind != StringKind || st.depth >= maxEvalDepth {
		return Error()
	}
	e, err := ParseExpr(s.s)
	if err != nil {
		return Error()
	}
	st.depth++
	v := st.eval(e)
	st.depth--
	return v
}

// fnUnparse returns the text of the expression bound to the attribute named by its
// argument, which must be a plain attribute reference (not evaluated). The name is
// looked up from the current scope outwards; an unbound name gives "".
func fnUnparse(st *evalState, args []Expr) Value {
	if len(args) != 1 {
		return Error()
	}
	ref, ok := args[0].(*attrRef)
	if !ok {
		return Error()
	}
	if ref.absolute {
		// HTCondor looks the printed reference (".name") up as a name; nothing has it.
		return String("")
	}
	for ad := st.scope; ad != nil; ad = ad.parent {
		if en, ok := ad.lookupKey(ref.key, ref.hash); ok {
			return String(Unparse(en.expr))
		}
	}
	return String("")
}

func typeTest(k Kind) builtinFunc {
	return func(st *evalState, args []Expr) Value {
		if len(args) != 1 {
			return Error()
		}
		return Bool(st.eval(args[0]).kind == k)
	}
}

// ---- lists -----------------------------------------------------------------------------

// fnMember implements member (== comparison: case-insensitive strings, 1 matches 1.0)
// and identicalMember (=?= comparison).
func fnMember(useIs bool) builtinFunc {
	return func(st *evalState, args []Expr) Value {
		if len(args) != 2 {
			return Error()
		}
		x, list := st.eval(args[0]), st.eval(args[1])
		if list.kind == UndefinedKind || (!useIs && x.kind == UndefinedKind) {
			return Undefined()
		}
		if list.kind != ListKind || x.kind == ListKind || x.kind == ClassAdKind {
			return Error()
		}
		if !useIs && x.kind == ErrorKind {
			return Error()
		}
		op := opEq
		if useIs {
			op = opIs
		}
		for _, e := range list.list {
			if isTrueBool(relop(op, e, x)) {
				return Bool(true)
			}
		}
		return Bool(false)
	}
}

// fnSize is the length of a string (in bytes), a list or an ad.
func fnSize(st *evalState, args []Expr) Value {
	if len(args) != 1 {
		return Error()
	}
	v := st.eval(args[0])
	switch v.kind {
	case UndefinedKind:
		return v
	case StringKind:
		return Int(int64(len(v.s)))
	case ListKind:
		return Int(int64(len(v.list)))
	case ClassAdKind:
		if v.ad == nil {
			return Int(0)
		}
		return Int(int64(v.ad.Len()))
	}
	return Error()
}

// listArg evaluates a function's single list argument; done reports that the result
// is already known (UNDEFINED for an UNDEFINED argument, ERROR for a non-list).
func listArg(st *evalState, args []Expr) (list []Value, result Value, done bool) {
	if len(args) != 1 {
		return nil, Error(), true
	}
	v := st.eval(args[0])
	switch v.kind {
	case UndefinedKind:
		return nil, v, true
	case ListKind:
		return v.list, Value{}, false
	}
	return nil, Error(), true
}

// fnSumAvg sums or averages a list of integers and reals with the + and / operators.
// UNDEFINED elements are skipped (and not counted by avg); any other element that is
// not an integer or real, booleans included, is ERROR. sum({}) is 0, and so is avg({}):
// HTCondor's code sets UNDEFINED for an empty list and then overwrites it with the
// running sum, the integer 0.
func fnSumAvg(avg bool) builtinFunc {
	return func(st *evalState, args []Expr) Value {
		list, res, done := listArg(st, args)
		if done {
			return res
		}
		sum, n := Int(0), 0
		for _, e := range list {
			switch e.kind {
			case UndefinedKind:
				continue
			case IntKind, RealKind:
			default:
				return Error()
			}
			if n == 0 {
				sum = e
			} else {
				sum = arith(opAdd, sum, e)
			}
			n++
		}
		if avg && n > 0 {
			return arith(opDiv, sum, Real(float64(n)))
		}
		return sum
	}
}

// fnMinMax returns the smallest (op opLt) or largest (opGt) element of a list of
// numbers, unchanged, so max({3, 2.5}) is the integer 3. UNDEFINED elements are
// skipped; an empty or all-UNDEFINED list is UNDEFINED; any other non-number is ERROR.
func fnMinMax(op opcode) builtinFunc {
	return func(st *evalState, args []Expr) Value {
		list, res, done := listArg(st, args)
		if done {
			return res
		}
		best, found := Undefined(), false
		for _, e := range list {
			switch e.kind {
			case UndefinedKind:
				continue
			case IntKind, RealKind:
			default:
				return Error()
			}
			if !found || isTrueBool(compare(op, e, best)) {
				best, found = e, true
			}
		}
		return best
	}
}

var listCompareOps = map[string]opcode{
	"<": opLt, "<=": opLe, "!=": opNe, "==": opEq, ">": opGt, ">=": opGe,
	"is": opIs, "isnt": opIsnt,
}

// fnListCompare implements anyCompare(op, list, x) and allCompare(op, list, x). As in
// HTCondor, a comparison that is UNDEFINED ends the scan with FALSE (for both), and
// one that is ERROR makes the result ERROR.
func fnListCompare(all bool) builtinFunc {
	return func(st *evalState, args []Expr) Value {
		if len(args) != 3 {
			return Error()
		}
		opv := st.eval(args[0])
		if opv.kind == UndefinedKind {
			return opv
		}
		op, ok := listCompareOps[opv.s]
		if opv.kind != StringKind || !ok {
			return Error()
		}
		lv := st.eval(args[1])
		if lv.kind == UndefinedKind {
			return lv
		}
		if lv.kind != ListKind {
			return Error()
		}
		x := st.eval(args[2])
		for _, e := range lv.list {
			r := relop(op, e, x)
			switch r.kind {
			case BoolKind:
				if (r.i != 0) != all {
					return Bool(!all)
				}
			case UndefinedKind:
				return Bool(false)
			default:
				return Error()
			}
		}
		return Bool(all)
	}
}

// ---- strings ---------------------------------------------------------------------------

// fnStrcat concatenates its arguments converted as string() does. The first argument
// that is UNDEFINED or ERROR decides the result and stops the evaluation.
func fnStrcat(st *evalState, args []Expr) Value {
	var b strings.Builder
	for _, a := range args {
		s := toStringValue(st.eval(a))
		if s.kind != StringKind {
			return s
		}
		b.WriteString(s.s)
	}
	return String(b.String())
}

// fnJoin implements join(sep, e1, ...), join(sep, list) and join(list). Items are
// converted as string() does; UNDEFINED items are skipped, an ERROR item is ERROR. The
// separator is strict: UNDEFINED or ERROR there is the result.
func fnJoin(st *evalState, args []Expr) Value {
	n := len(args)
	if n == 0 {
		return String("")
	}
	var sep Value
	var items []Value
	last := st.eval(args[n-1])
	switch {
	case n <= 2 && last.kind == ListKind:
		sep, items = String(""), last.list
		if n == 2 {
			sep = st.eval(args[0])
		}
	case n == 1:
		sep = last // join(x) with x not a list: x is the separator of nothing
	default:
		sep = st.eval(args[0])
		items = evalArgs(st, args[1:n-1])
		items = append(items, last)
	}
	sepStr := toStringValue(sep)
	if sepStr.kind != StringKind {
		return sepStr
	}
	var b strings.Builder
	first := true
	for _, it := range items {
		if it.kind == UndefinedKind {
			continue
		}
		s := toStringValue(it)
		if s.kind != StringKind {
			return s
		}
		if !first {
			b.WriteString(sepStr.s)
		}
		first = false
		b.WriteString(s.s)
	}
	return String(b.String())
}

// fnChangeCase implements toUpper and toLower: ASCII only, as C's toupper in the "C"
// locale; a non-string is first converted as string() does.
func fnChangeCase(conv func(byte) byte) builtinFunc {
	return func(st *evalState, args []Expr) Value {
		if len(args) != 1 {
			return Error()
		}
		s := toStringValue(st.eval(args[0]))
		if s.kind != StringKind {
			return s
		}
		out := []byte(s.s)
		for i, c := range out {
			out[i] = conv(c)
		}
		return String(string(out))
	}
}

// fnSubstr is Perl-like substr(s, offset [, length]) on bytes: a negative offset
// counts from the end (and is clamped to the start of the string), a negative length
// leaves that many bytes off the end, and the result is clipped to the string ("" when
// it lies wholly outside).
func fnSubstr(st *evalState, args []Expr) Value {
	if len(args) < 2 || len(args) > 3 {
		return Error()
	}
	vs := evalArgs(st, args)
	for _, v := range vs {
		if v.kind == UndefinedKind {
			return v
		}
	}
	if vs[0].kind != StringKind || vs[1].kind != IntKind || (len(vs) == 3 && vs[2].kind != IntKind) {
		return Error()
	}
	s := vs[0].s
	start := clampOffset(vs[1].i, int64(len(s)))
	end := int64(len(s))
	if len(vs) == 3 {
		end = substrEnd(start, vs[2].i, int64(len(s)))
	}
	return String(s[start:end])
}

// clampOffset resolves a substr offset (negative: from the end) to 0..n.
func clampOffset(off, n int64) int64 {
	if off < 0 {
		off += n // n >= 0 > off: cannot overflow
	}
	return max(0, min(off, n))
}

// substrEnd is the end of a substr of the given length starting at start (0..n); the
// arithmetic cannot overflow whatever the length.
func substrEnd(start, length, n int64) int64 {
	switch {
	case length == 0:
		return start
	case length < 0:
		return max(start, n+length)
	case length < n-start:
		return start + length
	}
	return n
}

// fnStrcmp implements strcmp (case-sensitive) and stricmp (ASCII case-insensitive):
// -1, 0 or 1. Non-strings are converted as string() does; UNDEFINED or ERROR is ERROR.
func fnStrcmp(fold bool) builtinFunc {
	return func(st *evalState, args []Expr) Value {
		if len(args) != 2 {
			return Error()
		}
		a, b := toStringValue(st.eval(args[0])), toStringValue(st.eval(args[1]))
		if a.kind != StringKind || b.kind != StringKind {
			return Error()
		}
		if fold {
			return Int(int64(compareFold(a.s, b.s)))
		}
		return Int(int64(strings.Compare(a.s, b.s)))
	}
}

// fnSplit implements split(s [, separators]). The default separators are comma, space
// and tab. Runs of white space, and a single non-space separator mixed with white space,
// separate once; a repeated non-space separator ("a,,b") yields an empty item between.
func fnSplit(st *evalState, args []Expr) Value {
	if len(args) != 1 && len(args) != 2 {
		return Error()
	}
	vs := evalArgs(st, args)
	seps := ", \t"
	if vs[0].kind != StringKind || (len(vs) == 2 && vs[1].kind != StringKind) {
		return Error()
	}
	if len(vs) == 2 {
		seps = vs[1].s
	}
	return List(splitItems(vs[0].s, seps))
}

// splitItems is HTCondor's splitArb_func loop.
func splitItems(s, seps string) []Value {
	out := []Value{}
	last := 0
	if seps != "" {
		prev := -1 // the last non-space separator seen, or -1
		for ix := indexAnyByte(s, seps, 0); ix >= 0; ix = indexAnyByte(s, seps, last) {
			if ix > last {
				out = append(out, String(s[last:ix]))
			} else if (prev < 0 || !isCWhite(byte(prev))) && prev == int(s[ix]) {
				out = append(out, String(""))
			}
			if !isCWhite(s[ix]) {
				prev = int(s[ix])
			}
			last = ix + 1
		}
	}
	if len(s) > last {
		out = append(out, String(s[last:]))
	}
	return out
}

// indexAnyByte is the index of the first byte of s at or after from that is one of the
// bytes of set (strcspn semantics, bytes rather than runes), or -1.
func indexAnyByte(s, set string, from int) int {
	for i := from; i < len(s); i++ {
		if strings.IndexByte(set, s[i]) >= 0 {
			return i
		}
	}
	return -1
}

// fnSplitAt implements splitUserName ("user@domain" -> {"user", "domain"}) and
// splitSlotName ("slot1@host" -> {"slot1", "host"}). Without an '@' the missing half is
// "": the domain for a user name, the slot for a slot name.
func fnSplitAt(slot bool) builtinFunc {
	return func(st *evalState, args []Expr) Value {
		if len(args) != 1 {
			return Error()
		}
		v := st.eval(args[0])
		if v.kind != StringKind {
			return Error()
		}
		first, second := v.s, ""
		if i := strings.IndexByte(v.s, '@'); i >= 0 {
			first, second = v.s[:i], v.s[i+1:]
		} else if slot {
			first, second = "", v.s
		}
		return List([]Value{String(first), String(second)})
	}
}

// ---- conversions and arithmetic ------------------------------------------------------

func convFunc(conv func(Value) Value) builtinFunc {
	return func(st *evalState, args []Expr) Value {
		if len(args) != 1 {
			return Error()
		}
		return conv(st.eval(args[0]))
	}
}

// fnRound implements floor, ceiling and round: an integer is returned as it is, and
// anything else goes through real() and then f, giving an integer. A value real()
// cannot convert, UNDEFINED included, is ERROR.
func fnRound(f func(float64) float64) builtinFunc {
	return func(st *evalState, args []Expr) Value {
		if len(args) != 1 {
			return Error()
		}
		v := st.eval(args[0])
		if v.kind == IntKind {
			return v
		}
		r := toRealValue(v)
		if r.kind != RealKind {
			return Error()
		}
		return Int(truncReal(f(r.f)))
	}
}

// fnPow is an integer when both arguments are integers and the exponent is not
// negative, else a real. HTCondor computes the integer case in floating point as
// (long long)(pow(b, e) + 0.5), which we keep: so pow(-2, 3) is -7, as in HTCondor.
func fnPow(st *evalState, args []Expr) Value {
	if len(args) != 2 {
		return Error()
	}
	b, e := st.eval(args[0]), st.eval(args[1])
	if b.kind == IntKind && e.kind == IntKind && e.i >= 0 {
		return Int(truncReal(math.Pow(float64(b.i), float64(e.i)) + 0.5))
	}
	rb, re := toRealValue(b), toRealValue(e)
	if rb.kind != RealKind || re.kind != RealKind {
		return Error()
	}
	return Real(math.Pow(rb.f, re.f))
}

// fnQuantize rounds a up to a multiple of b. When b is a list, the first element not
// smaller than a is returned unchanged; if there is none, a is rounded up to a multiple
// of the last element. An integer a with an integer step stays an integer; a zero step
// returns a unchanged.
func fnQuantize(st *evalState, args []Expr) Value {
	if len(args) != 2 {
		return Error()
	}
	a, b := st.eval(args[0]), st.eval(args[1])
	ra := toRealValue(a)
	if ra.kind != RealKind {
		return Error()
	}
	step := b
	if b.kind == ListKind {
		step = Real(0) // an empty list means "don't quantize"
		for _, e := range b.list {
			re := toRealValue(e)
			if re.kind != RealKind {
				return Error()
			}
			if re.f >= ra.f {
				return e
			}
			step = e
		}
	}
	return quantizeTo(a, ra.f, step)
}

func quantizeTo(a Value, ra float64, step Value) Value {
	if step.kind == IntKind {
		switch {
		case step.i == 0:
			return a
		case a.kind == IntKind:
			// C arithmetic: wraps on overflow, and Go's MinInt64 / -1 does not trap.
			return Int((a.i + step.i - 1) / step.i * step.i)
		}
		return Real(math.Ceil(ra/float64(step.i)) * float64(step.i))
	}
	rs := toRealValue(step)
	if rs.kind != RealKind {
		return Error()
	}
	if rs.f >= -1e-8 && rs.f <= 1e-8 {
		return a
	}
	return Real(math.Ceil(ra/rs.f) * rs.f)
}

// fnRandom: random() is a real in [0,1); random(n) with an integer n > 0 an integer in
// [0,n); random(x) with a finite real x > 0 a real in [0,x). Anything else is ERROR.
func fnRandom(st *evalState, args []Expr) Value {
	if len(args) > 1 {
		return Error()
	}
	if len(args) == 0 {
		return Real(st.float64())
	}
	v := st.eval(args[0])
	switch {
	case v.kind == IntKind && v.i > 0:
		return Int(st.int64n(v.i))
	case v.kind == RealKind && v.f > 0 && !math.IsInf(v.f, 1):
		return Real(v.f * st.float64())
	}
	return Error()
}

// fnInterval formats a number of seconds as d+hh:mm:ss, h:mm:ss, m:ss or s, whichever
// is the shortest that holds it (interval(90061) is "1+01:01:01"). Its argument goes
// through int(); one int() cannot convert (UNDEFINED included) is ERROR. The count is
// 64-bit where HTCondor narrows it to a C int.
func fnInterval(st *evalState, args []Expr) Value {
	if len(args) != 1 {
		return Error()
	}
	iv := toIntValue(st.eval(args[0]))
	if iv.kind != IntKind {
		return Error()
	}
	secs := iv.i
	days := secs / 86400
	secs %= 86400
	hours, mins, s := secs/3600, secs%3600/60, secs%60
	two := func(n int64) string { return padNum(int(abs64(n)), 2, '0', 0) }
	switch {
	case days != 0:
		return String(itoa64(days) + "+" + two(hours) + ":" + two(mins) + ":" + two(s))
	case hours != 0:
		return String(itoa64(hours) + ":" + two(mins) + ":" + two(s))
	case mins != 0:
		return String(itoa64(mins) + ":" + two(s))
	}
	return String(itoa64(s))
}

func abs64(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// fnFormatTime implements formatTime([t] [, format]) with strftime semantics in the
// local time zone. t defaults to the current time and must be an integer (or a real,
// truncated); format defaults to "%c" and must be a string.
//
// Two deliberate differences from HTCondor: t is a 64-bit number of seconds (HTCondor
// narrows it to a C int), and %z / %Z describe the zone in effect at t (HTCondor fills
// the struct tm by hand for an explicit t, so there %z prints +0000 and %Z the zone's
// standard-time name even in summer).
func fnFormatTime(st *evalState, args []Expr) Value {
	if len(args) > 2 {
		return Error()
	}
	t, format := st.now().Unix(), "%c"
	if len(args) >= 1 {
		switch v := st.eval(args[0]); v.kind {
		case IntKind:
			t = v.i
		case RealKind:
			t = truncReal(v.f)
		default:
			return Error()
		}
	}
	if len(args) == 2 {
		f := st.eval(args[1])
		if f.kind != StringKind {
			return Error()
		}
		format = f.s
	}
	return String(strftime(format, time.Unix(t, 0).In(time.Local)))
}

// ---- regular expressions -------------------------------------------------------------

type regexOpts struct {
	icase, multiline, dotall, extended bool
	full, global                       bool // substitution only
}

// parseRegexOpts reads an options string as fnCall.cpp does: it looks for the
// lower-case letters it knows (or, for the stringList_ functions, either case) and
// ignores everything else, for forward compatibility.
func parseRegexOpts(s string, anyCase bool) regexOpts {
	has := func(c byte) bool {
		return strings.IndexByte(s, c) >= 0 || (anyCase && strings.IndexByte(s, asciiUpper(c)) >= 0)
	}
	return regexOpts{
		icase: has('i'), multiline: has('m'), dotall: has('s'), extended: has('x'),
		full: has('f'), global: has('g'),
	}
}

// regexCache holds compiled patterns: policy expressions evaluate the same regexp on
// every pass, and compiling dominates matching. It is cleared when full so that
// hostile input cannot grow it without bound.
var regexCache = struct {
	sync.Mutex
	m map[string]*regexp.Regexp // nil value: the pattern does not compile
}{m: make(map[string]*regexp.Regexp)}

const regexCacheMax = 512

// compileRegex compiles pattern with the options' flags; nil means a bad pattern.
func compileRegex(pattern string, o regexOpts) *regexp.Regexp {
	flags := ""
	if o.icase {
		flags += "i"
	}
	if o.multiline {
		flags += "m"
	}
	if o.dotall {
		flags += "s"
	}
	if o.extended {
		pattern = stripExtended(pattern)
	}
	src := pattern
	if flags != "" {
		src = "(?" + flags + ")" + pattern
	}
	regexCache.Lock()
	re, ok := regexCache.m[src]
	regexCache.Unlock()
	if ok {
		return re
	}
	re, err := regexp.Compile(src)
	if err != nil {
		re = nil
	}
	regexCache.Lock()
	if len(regexCache.m) >= regexCacheMax {
		clear(regexCache.m)
	}
	regexCache.m[src] = re
	regexCache.Unlock()
	return re
}

// stripExtended emulates PCRE's x option, which RE2 lacks: white space outside
// character classes is dropped and '#' starts a comment running to the end of the line.
// Escaped characters are kept as they are.
func stripExtended(p string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			b.WriteByte(c)
			b.WriteByte(p[i+1])
			i++
			continue
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
		case isCWhite(c):
			continue
		case c == '#':
			for i < len(p) && p[i] != '\n' {
				i++
			}
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// regexArgs evaluates the arguments of regexp-style functions: n required ones and an
// optional options string after them. ERROR anywhere wins, then UNDEFINED; options that
// are not a string are ERROR. done reports that res is the function's result.
func regexArgs(st *evalState, args []Expr, n int) (vs []Value, opts string, res Value, done bool) {
	if len(args) != n && len(args) != n+1 {
		return nil, "", Error(), true
	}
	vs = evalArgs(st, args)
	for _, v := range vs {
		if v.kind == ErrorKind {
			return nil, "", v, true
		}
	}
	for _, v := range vs {
		if v.kind == UndefinedKind {
			return nil, "", v, true
		}
	}
	if len(vs) == n+1 {
		if vs[n].kind != StringKind {
			return nil, "", Error(), true
		}
		opts = vs[n].s
	}
	return vs[:n], opts, Value{}, false
}

// fnRegexp is regexp(pattern, target [, options]): an unanchored search.
func fnRegexp(st *evalState, args []Expr) Value {
	vs, opts, res, done := regexArgs(st, args, 2)
	if done {
		return res
	}
	if vs[0].kind != StringKind || vs[1].kind != StringKind {
		return Error()
	}
	re := compileRegex(vs[0].s, parseRegexOpts(opts, false))
	if re == nil {
		return Error()
	}
	return Bool(re.MatchString(vs[1].s))
}

// fnSubstPattern implements regexps(pattern, target, replacement [, options]) and,
// with extra options, replace (f: keep the unmatched text) and replaceall (fg: every
// match). In the replacement \0 to \9 stand for the match and its groups; naming a
// group beyond the last one that took part in the match is ERROR. Without a match the
// result is "" (or the whole target with f).
//
// With g, matches are found as Go's FindAll does: an empty match right after the
// previous match is skipped, where PCRE would take it.
func fnSubstPattern(extra string) builtinFunc {
	return func(st *evalState, args []Expr) Value {
		vs, opts, res, done := regexArgs(st, args, 3)
		if done {
			return res
		}
		if vs[0].kind != StringKind || vs[1].kind != StringKind || vs[2].kind != StringKind {
			return Error()
		}
		o := parseRegexOpts(opts+extra, false)
		re := compileRegex(vs[0].s, o)
		if re == nil {
			return Error()
		}
		return substitute(re, vs[1].s, vs[2].s, o)
	}
}

func substitute(re *regexp.Regexp, target, repl string, o regexOpts) Value {
	var locs [][]int
	if o.global {
		locs = re.FindAllStringSubmatchIndex(target, -1)
	} else if loc := re.FindStringSubmatchIndex(target); loc != nil {
		locs = [][]int{loc}
	}
	var b strings.Builder
	last := 0
	for _, loc := range locs {
		if o.full {
			b.WriteString(target[last:loc[0]])
		}
		if !expandReplacement(&b, repl, target, loc) {
			return Error()
		}
		last = loc[1]
	}
	if o.full {
		b.WriteString(target[last:])
	}
	return String(b.String())
}

// expandReplacement writes repl with \N replaced by group N of the match loc. A
// backslash not followed by a digit is copied. ok is false when N is at or beyond the
// number of groups PCRE would report (one more than the highest group that matched).
func expandReplacement(b *strings.Builder, repl, target string, loc []int) bool {
	ngroups := 0
	for g := len(loc)/2 - 1; g >= 0; g-- {
		if loc[2*g] >= 0 {
			ngroups = g + 1
			break
		}
	}
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '\\' || i+1 >= len(repl) || !isDigit(repl[i+1]) {
			b.WriteByte(c)
			continue
		}
		g := int(repl[i+1] - '0')
		i++
		if g >= ngroups {
			return false
		}
		if loc[2*g] >= 0 {
			b.WriteString(target[loc[2*g]:loc[2*g+1]])
		}
	}
	return true
}

// fnRegexpMember is regexpMember(pattern, list [, options]): TRUE if any string in the
// list matches. A non-string element is ERROR, except UNDEFINED, which makes a result
// that would be FALSE UNDEFINED instead. A bad pattern is ERROR (HTCondor gives FALSE).
func fnRegexpMember(st *evalState, args []Expr) Value {
	vs, opts, res, done := regexArgs(st, args, 2)
	if done {
		return res
	}
	if vs[0].kind != StringKind || vs[1].kind != ListKind {
		return Error()
	}
	re := compileRegex(vs[0].s, parseRegexOpts(opts, false))
	if re == nil {
		return Error()
	}
	sawUndefined := false
	for _, e := range vs[1].list {
		switch e.kind {
		case StringKind:
			if re.MatchString(e.s) {
				return Bool(true)
			}
		case UndefinedKind:
			sawUndefined = true
		default:
			return Error()
		}
	}
	if sawUndefined {
		return Undefined()
	}
	return Bool(false)
}

// ---- string lists (HTCondor's compat_classad.cpp) ------------------------------------

// stringListItems splits a string list as HTCondor's StringTokenIterator does: at any
// of the delimiter bytes, with white space trimmed from each item and empty items
// dropped.
func stringListItems(s, delims string) []string {
	var out []string
	for len(s) > 0 {
		i := indexAnyByte(s, delims, 0)
		item := s
		if i >= 0 {
			item, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if item = strings.TrimFunc(item, isCWhiteRune); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func isCWhiteRune(r rune) bool { return r < 0x80 && isCWhite(byte(r)) }

// stringArgs evaluates between min and max arguments that must all be strings (ERROR
// otherwise, UNDEFINED included), as most of compat_classad.cpp's functions require.
func stringArgs(st *evalState, args []Expr, min, max int) ([]string, bool) {
	if len(args) < min || len(args) > max {
		return nil, false
	}
	out := make([]string, len(args))
	for i, a := range args {
		v := st.eval(a)
		if v.kind != StringKind {
			return nil, false
		}
		out[i] = v.s
	}
	return out, true
}

// fnStringListMember implements stringListMember(x, list [, delims]) and the
// case-insensitive stringListIMember, and (subset) stringListSubsetMatch and
// stringListISubsetMatch, which test every item of x. The default delimiters are
// ", \t\r\n". An UNDEFINED argument counts as "" unless both x and list are UNDEFINED,
// which is UNDEFINED; any other non-string is ERROR.
func fnStringListMember(fold, subset bool) builtinFunc {
	return func(st *evalState, args []Expr) Value {
		if len(args) < 2 || len(args) > 3 {
			return Error()
		}
		vs := evalArgs(st, args)
		for _, v := range vs {
			if v.kind != StringKind && v.kind != UndefinedKind {
				return Error()
			}
		}
		if vs[0].kind == UndefinedKind && vs[1].kind == UndefinedKind {
			return Undefined()
		}
		delims := ", \t\r\n"
		if len(vs) == 3 && vs[2].kind == StringKind {
			delims = vs[2].s
		}
		list := stringListItems(vs[1].s, delims)
		if !subset {
			return Bool(containsString(list, vs[0].s, fold))
		}
		for _, item := range stringListItems(vs[0].s, delims) {
			if !containsString(list, item, fold) {
				return Bool(false)
			}
		}
		return Bool(true)
	}
}

func containsString(list []string, s string, fold bool) bool {
	for _, item := range list {
		if item == s || (fold && asciiEqualFold(item, s)) {
			return true
		}
	}
	return false
}

// fnStringListSize counts the items of a string list (default delimiters ", ").
func fnStringListSize(st *evalState, args []Expr) Value {
	ss, ok := stringArgs(st, args, 1, 2)
	if !ok {
		return Error()
	}
	delims := ", "
	if len(ss) == 2 {
		delims = ss[1]
	}
	return Int(int64(len(stringListItems(ss[0], delims))))
}

type summarizeKind uint8

const (
	summarizeSum summarizeKind = iota
	summarizeAvg
	summarizeMin
	summarizeMax
)

// fnStringListSummarize implements stringListSum/Avg/Min/Max over the numbers in a
// string list (default delimiters ", "). Each item must start with a number (sscanf
// "%lf"), else ERROR. The result is an integer unless some item has a character other
// than digits and signs. An empty list gives 0.0 for sum and avg and UNDEFINED for min
// and max. As in HTCondor, max starts from FLT_MIN (the smallest positive float), so
// the max of negative numbers is that value (0 as an integer), and min starts from
// FLT_MAX.
func fnStringListSummarize(kind summarizeKind) builtinFunc {
	return func(st *evalState, args []Expr) Value {
		ss, ok := stringArgs(st, args, 1, 2)
		if !ok {
			return Error()
		}
		delims := ", "
		if len(ss) == 2 {
			delims = ss[1]
		}
		items := stringListItems(ss[0], delims)
		if len(items) == 0 {
			if kind == summarizeMin || kind == summarizeMax {
				return Undefined()
			}
			return Real(0)
		}
		acc, isReal := summarizeStart(kind), false
		for _, item := range items {
			f, n := strtod(item)
			if n == 0 {
				return Error()
			}
			isReal = isReal || strings.Trim(item, "+-0123456789") != ""
			acc = summarizeStep(kind, acc, f)
		}
		if kind == summarizeAvg {
			acc /= float64(len(items))
		}
		if isReal {
			return Real(acc)
		}
		return Int(truncReal(acc))
	}
}

func summarizeStart(kind summarizeKind) float64 {
	switch kind {
	case summarizeMin:
		return math.MaxFloat32
	case summarizeMax:
		return 0x1p-126 // FLT_MIN
	}
	return 0
}

func summarizeStep(kind summarizeKind, acc, f float64) float64 {
	switch kind {
	case summarizeMin:
		if f < acc {
			return f
		}
		return acc
	case summarizeMax:
		if f > acc {
			return f
		}
		return acc
	}
	return acc + f
}

// fnStringListsIntersect is stringListsIntersect(a, b [, delims]): TRUE when the lists
// share an item (case-sensitive). The default delimiters are space and comma, and
// items are not trimmed (fnCall.cpp's split_string_list). ERROR wins over UNDEFINED;
// a non-string is ERROR.
func fnStringListsIntersect(st *evalState, args []Expr) Value {
	vs, delims, res, done := regexArgs(st, args, 2)
	if done {
		return res
	}
	if vs[0].kind != StringKind || vs[1].kind != StringKind {
		return Error()
	}
	if delims == "" {
		delims = " ,"
	}
	b := splitPlain(vs[1].s, delims)
	for _, item := range splitPlain(vs[0].s, delims) {
		if containsString(b, item, false) {
			return Bool(true)
		}
	}
	return Bool(false)
}

// splitPlain splits s at any delimiter byte and drops empty items, without trimming.
func splitPlain(s, delims string) []string {
	var out []string
	for len(s) > 0 {
		i := indexAnyByte(s, delims, 0)
		if i < 0 {
			return append(out, s)
		}
		if i > 0 {
			out = append(out, s[:i])
		}
		s = s[i+1:]
	}
	return out
}

// fnStringListRegexpMember is stringList_regexpMember(pattern, list [, delims
// [, options]]): TRUE if any item matches, UNDEFINED for an empty list. All arguments
// must be strings; options letters may be either case.
func fnStringListRegexpMember(st *evalState, args []Expr) Value {
	ss, ok := stringArgs(st, args, 2, 4)
	if !ok {
		return Error()
	}
	delims, opts := ", ", ""
	if len(ss) >= 3 {
		delims = ss[2]
	}
	if len(ss) == 4 {
		opts = ss[3]
	}
	re := compileRegex(ss[0], parseRegexOpts(opts, true))
	if re == nil {
		return Error()
	}
	items := stringListItems(ss[1], delims)
	if len(items) == 0 {
		return Undefined()
	}
	for _, item := range items {
		if re.MatchString(item) {
			return Bool(true)
		}
	}
	return Bool(false)
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
