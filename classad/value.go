package classad

import (
	"math"
	"strconv"
	"strings"
)

// Kind is the type of a ClassAd value.
type Kind uint8

// The value kinds of the ClassAd language. Booleans are a type of their own, not the
// integers 1 and 0 (HTCondor's code, not its manual).
const (
	UndefinedKind Kind = iota
	ErrorKind
	BoolKind
	IntKind
	RealKind
	StringKind
	ListKind
	ClassAdKind
)

var kindNames = [...]string{"undefined", "error", "boolean", "integer", "real", "string", "list", "classad"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is the result of evaluating an expression. The zero Value is UNDEFINED.
// A Value is immutable: lists and ads it holds must not be changed after construction.
type Value struct {
	kind Kind
	i    int64 // IntKind; BoolKind as 0/1
	f    float64
	s    string
	list []Value
	ad   *ClassAd
}

// Undefined returns the UNDEFINED value.
func Undefined() Value { return Value{} }

// Error returns the ERROR value.
func Error() Value { return Value{kind: ErrorKind} }

// Bool returns a boolean value.
func Bool(b bool) Value {
	if b {
		return Value{kind: BoolKind, i: 1}
	}
	return Value{kind: BoolKind}
}

// Int returns an integer value.
func Int(i int64) Value { return Value{kind: IntKind, i: i} }

// Real returns a real value.
func Real(f float64) Value { return Value{kind: RealKind, f: f} }

// String returns a string value.
func String(s string) Value { return Value{kind: StringKind, s: s} }

// List returns a list value holding vs (not copied).
func List(vs []Value) Value { return Value{kind: ListKind, list: vs} }

// AdValue returns a value holding the ClassAd ad.
func AdValue(ad *ClassAd) Value { return Value{kind: ClassAdKind, ad: ad} }

// Kind returns the value's type.
func (v Value) Kind() Kind { return v.kind }

// IsUndefined reports whether v is UNDEFINED.
func (v Value) IsUndefined() bool { return v.kind == UndefinedKind }

// IsError reports whether v is ERROR.
func (v Value) IsError() bool { return v.kind == ErrorKind }

// BoolValue returns v's boolean and whether v is a boolean.
func (v Value) BoolValue() (bool, bool) { return v.i != 0, v.kind == BoolKind }

// IntValue returns v's integer and whether v is an integer.
func (v Value) IntValue() (int64, bool) { return v.i, v.kind == IntKind }

// RealValue returns v's real and whether v is a real.
func (v Value) RealValue() (float64, bool) { return v.f, v.kind == RealKind }

// StringValue returns v's string and whether v is a string.
func (v Value) StringValue() (string, bool) { return v.s, v.kind == StringKind }

// ListValue returns v's elements and whether v is a list.
func (v Value) ListValue() ([]Value, bool) { return v.list, v.kind == ListKind }

// ClassAdValue returns v's ad and whether v is a ClassAd.
func (v Value) ClassAdValue() (*ClassAd, bool) { return v.ad, v.kind == ClassAdKind }

// IsNumber reports whether v is an integer, real or boolean (booleans count as 0/1,
// as HTCondor's IsNumber does).
func (v Value) IsNumber() bool {
	return v.kind == IntKind || v.kind == RealKind || v.kind == BoolKind
}

// NumberAsInt returns v as an integer the way HTCondor's IsNumber(int&) does: booleans
// as 0/1 and reals truncated toward zero. ok is false for non-numbers.
func (v Value) NumberAsInt() (i int64, ok bool) {
	switch v.kind {
	case IntKind, BoolKind:
		return v.i, true
	case RealKind:
		return truncReal(v.f), true
	}
	return 0, false
}

// NumberAsReal returns v as a real (booleans as 0/1); ok is false for non-numbers.
func (v Value) NumberAsReal() (float64, bool) {
	switch v.kind {
	case IntKind, BoolKind:
		return float64(v.i), true
	case RealKind:
		return v.f, true
	}
	return 0, false
}

// IsTrue reports whether v "fires" as a policy expression: a number (booleans as 0/1,
// reals truncated) that is nonzero. UNDEFINED, ERROR, strings, lists and ads are not true.
func (v Value) IsTrue() bool {
	i, ok := v.NumberAsInt()
	return ok && i != 0
}

// truncReal converts like a C cast, saturating instead of being undefined on overflow.
func truncReal(f float64) int64 {
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}

// String prints v in HTCondor's old ClassAd syntax, the form classad_eval and
// condor_q -long show: undefined, error, true, 3, 3.5, "text", { 1,2 }, [ a = 1 ].
func (v Value) String() string {
	var b strings.Builder
	writeValue(&b, v, oldSyntax)
	return b.String()
}

// syntax selects between HTCondor's two printed forms.
type syntax uint8

const (
	// oldSyntax is what condor_q -long, hold reasons and classad_eval print.
	oldSyntax syntax = iota
	// newSyntax is what string(), strcat() and the JSON \/Expr()\/ form use.
	newSyntax
)

func writeValue(b *strings.Builder, v Value, syn syntax) {
	writeValueMode(b, v, syn, false)
}

// writeLiteral prints v as a literal inside an expression: like writeValue, but reals
// are printed so they read back as the same float64 (see formatRealExact).
func writeLiteral(b *strings.Builder, v Value, syn syntax) {
	writeValueMode(b, v, syn, true)
}

func writeValueMode(b *strings.Builder, v Value, syn syntax, exact bool) {
	switch v.kind {
	case UndefinedKind:
		b.WriteString("undefined")
	case ErrorKind:
		b.WriteString("error")
	case BoolKind:
		if v.i != 0 {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case IntKind:
		b.WriteString(strconv.FormatInt(v.i, 10))
	case RealKind:
		if exact {
			b.WriteString(formatRealExact(v.f, syn))
		} else {
			b.WriteString(formatReal(v.f, syn))
		}
	case StringKind:
		writeQuoted(b, v.s, syn)
	case ListKind:
		b.WriteString("{ ")
		for i, e := range v.list {
			if i > 0 {
				b.WriteByte(',')
			}
			writeValueMode(b, e, syn, exact)
		}
		b.WriteString(" }")
	case ClassAdKind:
		v.ad.writeInline(b, syn)
	}
}

// formatReal prints a real value as HTCondor does: %.16G with ".0" added when the text
// has no '.', 'e' or 'E' (old syntax), or %1.15E (new syntax). Infinities and NaN print as
// the expressions that make them.
func formatReal(f float64, syn syntax) string {
	if s, ok := specialReal(f); ok {
		return s
	}
	if syn == newSyntax {
		return strconv.FormatFloat(f, 'E', 15, 64)
	}
	return withPoint(strconv.FormatFloat(f, 'G', 16, 64))
}

// formatRealExact prints a real literal of an expression. It is formatReal's text
// whenever that reads back as the same float64 — every literal written with up to 16
// significant digits — and otherwise uses 17 digits, so that parse(unparse(e)) always
// evaluates like e. (HTCondor's %.16G loses the last bit of such values.)
func formatRealExact(f float64, syn syntax) string {
	s := formatReal(f, syn)
	if _, special := specialReal(f); special {
		return s
	}
	if back, err := strconv.ParseFloat(s, 64); err == nil && back == f {
		return s
	}
	if syn == newSyntax {
		return strconv.FormatFloat(f, 'E', 16, 64)
	}
	return withPoint(strconv.FormatFloat(f, 'G', 17, 64))
}

func specialReal(f float64) (string, bool) {
	switch {
	case math.IsInf(f, 1):
		return `real("INF")`, true
	case math.IsInf(f, -1):
		return `real("-INF")`, true
	case math.IsNaN(f):
		return `real("NaN")`, true
	}
	return "", false
}

func withPoint(s string) string {
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}

// writeQuoted writes s as a string literal. Old syntax escapes only '"' (a backslash is
// special only before a quote in old syntax); new syntax uses C escapes.
func writeQuoted(b *strings.Builder, s string, syn syntax) {
	b.WriteByte('"')
	if syn == oldSyntax {
		for i := 0; i < len(s); i++ {
			if s[i] == '"' {
				b.WriteString(`\"`)
			} else {
				b.WriteByte(s[i])
			}
		}
	} else {
		for i := 0; i < len(s); i++ {
			switch c := s[i]; c {
			case '"':
				b.WriteString(`\"`)
			case '\\':
				b.WriteString(`\\`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}

// identical reports a =?= b: same type and same value, strings compared case-sensitively.
// The second result is false when the comparison is an ERROR (two lists or two ads, as in
// HTCondor's code).
func identical(a, b Value) (same bool, ok bool) {
	if a.kind != b.kind {
		return false, true
	}
	switch a.kind {
	case UndefinedKind, ErrorKind:
		return true, true
	case BoolKind, IntKind:
		return a.i == b.i, true
	case RealKind:
		return a.f == b.f, true
	case StringKind:
		return a.s == b.s, true
	}
	return false, false
}
