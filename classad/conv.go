package classad

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// This file holds the value conversions HTCondor's built-in functions share
// (src/classad/value.cpp: convertValueToIntegerValue and friends) and the C library
// behaviour they lean on (strtod), written out so that Go matches glibc on the inputs
// policy expressions actually see.

// toStringValue converts v as string() does: UNDEFINED and ERROR stay as they are,
// strings are unchanged, and everything else is printed in the new syntax, which is
// why string(1.5) is "1.500000000000000E+00".
func toStringValue(v Value) Value {
	switch v.kind {
	case UndefinedKind, ErrorKind, StringKind:
		return v
	case ClassAdKind:
		if v.ad == nil {
			// AdValue(nil) is representable through the API; print it as an empty ad
			// rather than dereferencing nil.
			return String("[  ]")
		}
	}
	var b strings.Builder
	writeValue(&b, v, newSyntax)
	return String(b.String())
}

// toIntValue converts v as int() does. UNDEFINED stays UNDEFINED; ERROR, lists and ads
// are ERROR; reals truncate toward zero; strings go through strtod (so "3.9" is 3 and
// "12abc" is 12) and a B/K/M/G/T suffix scales by powers of 1024, as HTCondor's
// conversion does; a string with no number in front is ERROR.
func toIntValue(v Value) Value {
	switch v.kind {
	case UndefinedKind:
		return v
	case BoolKind, IntKind:
		return Int(v.i)
	case RealKind:
		return Int(truncReal(v.f))
	case StringKind:
		f, n := strtod(v.s)
		if n == 0 {
			return Error()
		}
		// HTCondor truncates before scaling: int("1.5K") is 1024, not 1536.
		return Int(truncReal(float64(truncReal(f)) * scaleFactor(v.s, n)))
	}
	return Error()
}

// toRealValue converts v as real() does; the rules are those of toIntValue without
// the truncation.
func toRealValue(v Value) Value {
	switch v.kind {
	case UndefinedKind:
		return v
	case BoolKind, IntKind:
		return Real(float64(v.i))
	case RealKind:
		return v
	case StringKind:
		f, n := strtod(v.s)
		if n == 0 {
			return Error()
		}
		return Real(f * scaleFactor(v.s, n))
	}
	return Error()
}

// toBoolValue converts v as bool() does: numbers are true when nonzero, the strings
// "true" and "false" (any case) convert, any other string is UNDEFINED.
func toBoolValue(v Value) Value {
	switch v.kind {
	case UndefinedKind:
		return v
	case BoolKind:
		return v
	case IntKind:
		return Bool(v.i != 0)
	case RealKind:
		return Bool(v.f != 0)
	case StringKind:
		switch {
		case asciiEqualFold(v.s, "true"):
			return Bool(true)
		case asciiEqualFold(v.s, "false"):
			return Bool(false)
		}
		return Undefined()
	}
	return Error()
}

// scaleFactor is the multiplier HTCondor applies when the character just after a
// string's number is a size suffix (Value::ScaleFactor).
func scaleFactor(s string, end int) float64 {
	if end >= len(s) {
		return 1
	}
	switch s[end] {
	case 'K', 'k':
		return 1 << 10
	case 'M', 'm':
		return 1 << 20
	case 'G', 'g':
		return 1 << 30
	case 'T', 't':
		return 1 << 40
	}
	return 1 // 'B' and anything else
}

// isCSpace is C's isspace in the "C" locale.
func isCWhite(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isHexDigit(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// strtod parses the longest prefix of s that C's strtod accepts: leading white space,
// a sign, then a decimal or hexadecimal float, "inf", "infinity" or "nan[(chars)]".
// It returns the value and the index just past the number; n == 0 means no number was
// found (strtod's end == start). Out-of-range values become ±Inf or 0, as with strtod.
func strtod(s string) (f float64, n int) {
	i := 0
	for i < len(s) && isCWhite(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	f, end := unsignedStrtod(s, i)
	if end == 0 {
		return 0, 0
	}
	if neg {
		f = -f
	}
	return f, end
}

// unsignedStrtod parses the number (without sign) starting at s[i]; end is 0 when
// there is none.
func unsignedStrtod(s string, i int) (f float64, end int) {
	rest := s[i:]
	switch {
	case hasPrefixFold(rest, "infinity"):
		return math.Inf(1), i + 8
	case hasPrefixFold(rest, "inf"):
		return math.Inf(1), i + 3
	case hasPrefixFold(rest, "nan"):
		return math.NaN(), i + 3 + nanPayloadLen(rest[3:])
	}
	if len(rest) >= 2 && rest[0] == '0' && (rest[1] == 'x' || rest[1] == 'X') {
		if f, end, ok := hexStrtod(s, i+2); ok {
			return f, end
		}
		return 0, i + 1 // "0x" with no hex digits: only the 0 is a number
	}
	j, digits := i, 0
	for j < len(s) && isDigit(s[j]) {
		j++
		digits++
	}
	if j < len(s) && s[j] == '.' {
		j++
		for j < len(s) && isDigit(s[j]) {
			j++
			digits++
		}
	}
	if digits == 0 {
		return 0, 0
	}
	j = exponentEnd(s, j, 'e', 'E')
	f, _ = strconv.ParseFloat(s[i:j], 64) // a range error still yields ±Inf or 0
	return f, j
}

// hexStrtod parses hex digits [. hex digits] [p exponent] starting at s[i] (just past
// "0x"); ok is false when there are no hex digits.
func hexStrtod(s string, i int) (f float64, end int, ok bool) {
	j, digits := i, 0
	for j < len(s) && isHexDigit(s[j]) {
		j++
		digits++
	}
	if j < len(s) && s[j] == '.' {
		j++
		for j < len(s) && isHexDigit(s[j]) {
			j++
			digits++
		}
	}
	if digits == 0 {
		return 0, 0, false
	}
	mant := s[i:j]
	exp := "p0"
	if k := exponentEnd(s, j, 'p', 'P'); k > j {
		exp = "p" + s[j+1:k]
		j = k
	}
	f, err := strconv.ParseFloat("0x"+mant+exp, 64)
	if err != nil && !isRangeErr(err) {
		return 0, 0, false
	}
	return f, j, true
}

// exponentEnd returns the index past an exponent (marker, optional sign, digits) at
// s[j], or j when there is no complete exponent there.
func exponentEnd(s string, j int, lower, upper byte) int {
	if j >= len(s) || (s[j] != lower && s[j] != upper) {
		return j
	}
	k := j + 1
	if k < len(s) && (s[k] == '+' || s[k] == '-') {
		k++
	}
	if k >= len(s) || !isDigit(s[k]) {
		return j
	}
	for k < len(s) && isDigit(s[k]) {
		k++
	}
	return k
}

// nanPayloadLen is the length of a "(n-char-sequence)" after "nan", or 0.
func nanPayloadLen(s string) int {
	if len(s) == 0 || s[0] != '(' {
		return 0
	}
	for k := 1; k < len(s); k++ {
		c := s[k]
		switch {
		case c == ')':
			return k + 1
		case isDigit(c), c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		default:
			return 0
		}
	}
	return 0
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && asciiEqualFold(s[:len(prefix)], prefix)
}

// asciiEqualFold is C's strcasecmp(a, b) == 0: only ASCII letters fold, unlike
// strings.EqualFold, which would also equate "ſ" with "s".
func asciiEqualFold(a, b string) bool { return len(a) == len(b) && compareFold(a, b) == 0 }

func asciiUpper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// maxFormattedTime mirrors the 1024-byte buffer HTCondor hands strftime: a longer
// result makes strftime fail, and we return "" for it rather than an unbounded string.
const maxFormattedTime = 1023

var (
	weekdayNames = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	monthNames   = [...]string{"January", "February", "March", "April", "May", "June", "July",
		"August", "September", "October", "November", "December"}
)

// strftime formats t as C's strftime does in the "C" locale. It supports the
// conversions glibc does that make sense without a locale (%a %A %b %B %c %C %d %D %e
// %F %g %G %h %H %I %j %k %l %m %M %n %p %P %r %R %s %S %t %T %u %U %V %w %W %x %X %y
// %Y %z %Z %%), the flags - _ 0 ^ and #, and ignores the E and O modifiers. An unknown
// conversion is copied through literally, as glibc does.
func strftime(format string, t time.Time) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			b.WriteByte(format[i])
			continue
		}
		start := i
		i++
		var pad byte // 0: the conversion's default
		upper := false
		for ; i < len(format); i++ {
			switch format[i] {
			case '-', '_', '0':
				pad = format[i]
				continue
			case '^', '#':
				upper = true
				continue
			}
			break
		}
		for i < len(format) && (format[i] == 'E' || format[i] == 'O') {
			i++
		}
		if i >= len(format) {
			b.WriteString(format[start:]) // a lone '%' at the end is copied
			break
		}
		s, ok := strftimeConv(format[i], t, pad)
		if !ok {
			b.WriteString(format[start : i+1])
			continue
		}
		if upper {
			s = strings.ToUpper(s)
		}
		b.WriteString(s)
		if b.Len() > maxFormattedTime {
			return ""
		}
	}
	if b.Len() > maxFormattedTime {
		return ""
	}
	return b.String()
}

// strftimeConv expands one conversion character; ok is false for unknown ones.
func strftimeConv(c byte, t time.Time, pad byte) (string, bool) {
	year, month, day := t.Date()
	hour, wday, yday := t.Hour(), int(t.Weekday()), t.YearDay()-1
	switch c {
	case 'a':
		return weekdayNames[wday][:3], true
	case 'A':
		return weekdayNames[wday], true
	case 'b', 'h':
		return monthNames[month-1][:3], true
	case 'B':
		return monthNames[month-1], true
	case 'c':
		return strftime("%a %b %e %H:%M:%S %Y", t), true
	case 'C':
		return padNum(floorDiv(year, 100), 2, '0', pad), true
	case 'd':
		return padNum(day, 2, '0', pad), true
	case 'D', 'x':
		return strftime("%m/%d/%y", t), true
	case 'e':
		return padNum(day, 2, ' ', pad), true
	case 'F':
		return strftime("%Y-%m-%d", t), true
	case 'g':
		y, _ := t.ISOWeek()
		return padNum(floorMod(y, 100), 2, '0', pad), true
	case 'G':
		y, _ := t.ISOWeek()
		return padNum(y, 1, '0', pad), true
	case 'H':
		return padNum(hour, 2, '0', pad), true
	case 'I':
		return padNum(hour12(hour), 2, '0', pad), true
	case 'j':
		return padNum(yday+1, 3, '0', pad), true
	case 'k':
		return padNum(hour, 2, ' ', pad), true
	case 'l':
		return padNum(hour12(hour), 2, ' ', pad), true
	case 'm':
		return padNum(int(month), 2, '0', pad), true
	case 'M':
		return padNum(t.Minute(), 2, '0', pad), true
	case 'n':
		return "\n", true
	case 'p':
		if hour < 12 {
			return "AM", true
		}
		return "PM", true
	case 'P':
		if hour < 12 {
			return "am", true
		}
		return "pm", true
	case 'r':
		return strftime("%I:%M:%S %p", t), true
	case 'R':
		return strftime("%H:%M", t), true
	case 's':
		return strconv.FormatInt(t.Unix(), 10), true
	case 'S':
		return padNum(t.Second(), 2, '0', pad), true
	case 't':
		return "\t", true
	case 'T', 'X':
		return strftime("%H:%M:%S", t), true
	case 'u':
		return strconv.Itoa((wday+6)%7 + 1), true
	case 'U':
		return padNum((yday+7-wday)/7, 2, '0', pad), true
	case 'V':
		_, w := t.ISOWeek()
		return padNum(w, 2, '0', pad), true
	case 'w':
		return strconv.Itoa(wday), true
	case 'W':
		return padNum((yday+7-(wday+6)%7)/7, 2, '0', pad), true
	case 'y':
		return padNum(floorMod(year, 100), 2, '0', pad), true
	case 'Y':
		return padNum(year, 1, '0', pad), true
	case 'z':
		return zoneOffset(t), true
	case 'Z':
		name, _ := t.Zone()
		return name, true
	case '%':
		return "%", true
	}
	return "", false
}

// padNum prints n at least width wide, padded with def unless the flag overrides it:
// '-' means no padding, '_' spaces, '0' zeros.
func padNum(n, width int, def, flag byte) string {
	s := strconv.Itoa(n)
	fill := def
	switch flag {
	case '-':
		return s
	case '_':
		fill = ' '
	case '0':
		fill = '0'
	}
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
		width--
	}
	for len(s) < width {
		if fill == '0' {
			s = "0" + s
		} else {
			s = " " + s
		}
	}
	if neg {
		s = "-" + s
	}
	return s
}

func hour12(h int) int {
	if h%12 == 0 {
		return 12
	}
	return h % 12
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int) int { return a - floorDiv(a, b)*b }

// zoneOffset prints t's UTC offset as %z does: +hhmm or -hhmm.
func zoneOffset(t time.Time) string {
	_, off := t.Zone()
	sign := byte('+')
	if off < 0 {
		sign = '-'
		off = -off
	}
	off /= 60
	return string(sign) + padNum(off/60, 2, '0', 0) + padNum(off%60, 2, '0', 0)
}
