package classad

// This file prints and reads ClassAd records in condor_q's two forms:
//
//   - the long form (condor_q -long, -jobads files, condor_qedit, -dry-run): one
//     "Name = <old-syntax expression>" line per attribute;
//   - the JSON form (condor_q -json), HTCondor's src/classad/jsonSink.cpp and
//     jsonSource.cpp.
//
// Long form. Attributes are printed sorted case-insensitively (condor_q's order), as
// stored and not evaluated, one line each, every line ending in "\n". A name that is not
// a plain identifier ([A-Za-z_][A-Za-z0-9_]*) is printed quoted, 'like this', and read
// back the same way; plain identifiers are printed as they are, reserved words included
// (HTCondor's long form takes everything before the '=' as the name). Reading, a line is
// optional spaces, a name, optional spaces, a single '=' (not "==", "=?=" or "=!="), then
// the expression to the end of the line. Blank lines and lines whose first non-blank
// character is '#' are skipped by ParseLong and end an ad in ParseLongAds. Errors are
// *LongFormError values naming the line; when the expression (or the name) is at fault
// they wrap a *ParseError whose Col counts from the start of the line. A string value
// that contains a newline cannot be written in the long form (HTCondor has the same
// limit: old syntax has no escape for it).
//
// JSON form, byte for byte what HTCondor's jsonSink writes:
//
//	[
//	{
//	  "ClusterId": 12,
//	  "PeriodicHold": "\/Expr(NumJobStarts > 2)\/",
//	  "Nested": {
//	    "a": 1
//	  },
//	  "List": [
//	    1,
//	    "\/Expr(x + 1)\/"
//	  ]
//	}
//	,
//	{
//	...
//	}
//	]
//
// Every object and array is pretty-printed the same way, nested ones included: each member
// on its own line indented two spaces deeper than the line that opened it, and the closing
// brace or bracket on its own line at the opener's indentation (so an empty list is
// "[\n  ]" at depth one and an empty ad "{\n}" at top level). Values: integers and reals
// as JSON numbers (reals as in the long form: %.16G with ".0" appended, 0.0 for zero),
// strings as JSON strings (escapes \" \\ \b \f \n \r \t and \u00XX for other control
// characters; bytes of 0x7f and above are written as they are), booleans, UNDEFINED as
// null, list expressions as arrays (each element by these same rules, as HTCondor does;
// a non-literal element becomes an "\/Expr(...)\/" string), nested ads as objects, and
// everything else, ERROR and the real infinities and NaN included, as the string
// "\/Expr(<new-syntax unparse>)\/". A real that %.16G would not read back exactly is
// written with 17 significant digits (formatRealExact, the core's rule for literals), so
// JSON round trips are lossless; HTCondor's %.16G drops the last bit of such values.
//
// Reading JSON (ParseJSONAds, UnmarshalJSON): numbers containing '.', 'e' or 'E' become
// reals and other numbers integers (saturating at the int64 range, as strtoll does); null
// becomes UNDEFINED, arrays list expressions and objects nested ads. As in HTCondor, a
// string is an expression only when its JSON text both starts and ends with an escaped
// slash ("\/Expr(...)\/"): "/Expr(x)/" written without the backslashes is an ordinary
// string. The expression inside is new ClassAd syntax (C escapes in strings, adjacent
// string literals concatenated). Extra commas between an object's members are tolerated,
// as HTCondor tolerates them. Attribute names must be non-empty and must not contain a
// single quote (such a name could not be printed as an expression).

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ---------------------------------------------------------------------------------------
// Long form: printing

// MarshalLong prints ad in condor_q -long form: one "Name = expression" line per
// attribute, sorted case-insensitively, expressions unparsed in old syntax as stored.
// Every line ends in "\n"; the blank line condor_q prints after each ad is left to the
// caller (see MarshalLongAds). A nil ad prints as nothing.
func (ad *ClassAd) MarshalLong() string {
	var b strings.Builder
	ad.writeLong(&b)
	return b.String()
}

// WriteLong writes ad.MarshalLong() to w.
func (ad *ClassAd) WriteLong(w io.Writer) error {
	_, err := io.WriteString(w, ad.MarshalLong())
	return err
}

// MarshalLongAds prints ads as condor_q -long does: each ad in long form followed by one
// blank line.
func MarshalLongAds(ads []*ClassAd) string {
	var b strings.Builder
	for _, ad := range ads {
		ad.writeLong(&b)
		b.WriteByte('\n')
	}
	return b.String()
}

func (ad *ClassAd) writeLong(b *strings.Builder) {
	if ad == nil {
		return
	}
	for _, en := range ad.sorted() {
		n, e := en.name, en.expr
		writeLongName(b, n)
		b.WriteString(" = ")
		if e == nil {
			b.WriteString("undefined")
		} else {
			e.write(b, oldSyntax)
		}
		b.WriteByte('\n')
	}
}

// isPlainName reports whether name is an identifier: [A-Za-z_][A-Za-z0-9_]*.
func isPlainName(name string) bool {
	if name == "" || !isIdentStart(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		if !isIdentChar(name[i]) {
			return false
		}
	}
	return true
}

// writeLongName prints an attribute name at the start of a long-form line: as it is when
// it is an identifier (reserved words too), otherwise quoted as 'name'.
func writeLongName(b *strings.Builder, name string) {
	if isPlainName(name) {
		b.WriteString(name)
		return
	}
	b.WriteByte('\'')
	b.WriteString(name)
	b.WriteByte('\'')
}

// ---------------------------------------------------------------------------------------
// Long form: reading

// LongFormError is an error in long-form text: the line number (1-based, counted from
// the start of the text or stream), the line itself, and what was wrong. Err is a
// *ParseError (with Col counted from the start of the line, 1-based) for syntax errors,
// so errors.As finds it.
type LongFormError struct {
	Line int
	Text string
	Err  error
}

// maxErrorLineLen caps how much of a bad line an error message repeats.
const maxErrorLineLen = 200

func (e *LongFormError) Error() string {
	text := e.Text
	if len(text) > maxErrorLineLen {
		text = text[:maxErrorLineLen] + "..."
	}
	return fmt.Sprintf("line %d: %s: %v", e.Line, text, e.Err)
}

func (e *LongFormError) Unwrap() error { return e.Err }

// ParseLong reads long-form text ("Attr = expr" lines) into one ad. Blank lines and
// lines starting with '#' are skipped. A trailing "\r" on a line is ignored.
func ParseLong(text string) (*ClassAd, error) {
	ad := New()
	lineNo := 0
	for len(text) > 0 {
		lineNo++
		line := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		line = strings.TrimSuffix(line, "\r")
		if isSeparatorLine(line) {
			continue
		}
		name, e, err := parseLongLine(line)
		if err != nil {
			return nil, &LongFormError{Line: lineNo, Text: line, Err: err}
		}
		ad.Set(name, e)
	}
	return ad, nil
}

// ParseLongAds reads a stream of long-form ads, as condor_q -long writes them: ads are
// separated by blank lines or '#' lines (any number of them; empty ads are not returned).
// On error it returns nil and a *LongFormError whose line number counts from the start of
// the stream, or the reader's error.
func ParseLongAds(r io.Reader) ([]*ClassAd, error) {
	br := bufio.NewReader(r)
	var ads []*ClassAd
	var cur *ClassAd
	for lineNo := 1; ; lineNo++ {
		line, rerr := br.ReadString('\n')
		if rerr != nil && rerr != io.EOF {
			return nil, rerr
		}
		if line != "" {
			line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
			if isSeparatorLine(line) {
				if cur != nil {
					ads = append(ads, cur)
					cur = nil
				}
			} else {
				name, e, err := parseLongLine(line)
				if err != nil {
					return nil, &LongFormError{Line: lineNo, Text: line, Err: err}
				}
				if cur == nil {
					cur = New()
				}
				cur.Set(name, e)
			}
		}
		if rerr == io.EOF {
			break
		}
	}
	if cur != nil {
		ads = append(ads, cur)
	}
	return ads, nil
}

func isLineSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'
}

// isSeparatorLine reports whether line is blank or a '#' comment.
func isSeparatorLine(line string) bool {
	i := 0
	for i < len(line) && isLineSpace(line[i]) {
		i++
	}
	return i == len(line) || line[i] == '#'
}

// parseLongLine parses one "Name = expression" line. Errors are *ParseError values with
// the column counted from the start of the line.
func parseLongLine(line string) (string, Expr, error) {
	i := 0
	for i < len(line) && isLineSpace(line[i]) {
		i++
	}
	var name string
	switch {
	case i >= len(line):
		return "", nil, &ParseError{Col: i + 1, Msg: "expected an attribute name, found end of line"}
	case line[i] == '\'':
		end := strings.IndexByte(line[i+1:], '\'')
		if end < 0 {
			return "", nil, &ParseError{Col: i + 1, Msg: "unterminated quoted attribute name"}
		}
		name = line[i+1 : i+1+end]
		if name == "" {
			return "", nil, &ParseError{Col: i + 1, Msg: "empty quoted attribute name"}
		}
		i += end + 2
	case isIdentStart(line[i]):
		start := i
		for i < len(line) && isIdentChar(line[i]) {
			i++
		}
		name = line[start:i]
	default:
		return "", nil, &ParseError{Col: i + 1, Msg: fmt.Sprintf("expected an attribute name, found %q", line[i])}
	}
	for i < len(line) && isLineSpace(line[i]) {
		i++
	}
	if i >= len(line) || line[i] != '=' {
		found := "end of line"
		if i < len(line) {
			found = fmt.Sprintf("%q", line[i])
		}
		return "", nil, &ParseError{Col: i + 1, Msg: fmt.Sprintf("expected '=' after attribute name %q, found %s", name, found)}
	}
	for _, op := range []string{"==", "=?=", "=!="} {
		if strings.HasPrefix(line[i:], op) {
			return "", nil, &ParseError{Col: i + 1, Msg: fmt.Sprintf("expected 'Name = expression', found the comparison '%s'", op)}
		}
	}
	e, err := ParseExpr(line[i+1:])
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return "", nil, &ParseError{Col: pe.Col + i + 1, Msg: pe.Msg}
		}
		return "", nil, err
	}
	return name, e, nil
}

// ---------------------------------------------------------------------------------------
// JSON: printing

// MarshalJSONAds prints ads as condor_q -json does: "[\n", the ads separated by ",\n",
// each followed by "\n", then "]\n". Zero ads print as nothing at all. A nil ad prints as
// an empty object.
func MarshalJSONAds(ads []*ClassAd) string {
	if len(ads) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("[\n")
	for i, ad := range ads {
		if i > 0 {
			b.WriteString(",\n")
		}
		writeJSONAd(&b, ad, 0)
		b.WriteByte('\n')
	}
	b.WriteString("]\n")
	return b.String()
}

// MarshalJSON prints ad as one condor_q -json object (without a trailing newline), so
// that encoding/json can marshal ads. A nil ad is null.
func (ad *ClassAd) MarshalJSON() ([]byte, error) {
	if ad == nil {
		return []byte("null"), nil
	}
	var b strings.Builder
	writeJSONAd(&b, ad, 0)
	return []byte(b.String()), nil
}

func writeIndent(b *strings.Builder, n int) {
	for ; n > 0; n-- {
		b.WriteByte(' ')
	}
}

// writeJSONAd writes ad as an object whose opening brace is at indentation indent.
func writeJSONAd(b *strings.Builder, ad *ClassAd, indent int) {
	b.WriteByte('{')
	if ad != nil {
		for i, en := range ad.sorted() {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
			writeIndent(b, indent+2)
			writeJSONString(b, en.name)
			b.WriteString(": ")
			e := en.expr
			writeJSONExpr(b, e, indent+2)
		}
	}
	b.WriteByte('\n')
	writeIndent(b, indent)
	b.WriteByte('}')
}

func writeJSONExpr(b *strings.Builder, e Expr, indent int) {
	if e == nil {
		b.WriteString("null")
		return
	}
	if v, ok := IsLiteral(e); ok {
		writeJSONValue(b, v, indent)
		return
	}
	switch x := e.(type) {
	case *listExpr:
		writeJSONArray(b, len(x.elems), indent, func(i int) { writeJSONExpr(b, x.elems[i], indent+2) })
	case *adExpr:
		writeJSONAd(b, x.ad, indent)
	default:
		writeJSONQuotedExpr(b, UnparseNew(e))
	}
}

func writeJSONArray(b *strings.Builder, n, indent int, elem func(i int)) {
	b.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
		writeIndent(b, indent+2)
		elem(i)
	}
	b.WriteByte('\n')
	writeIndent(b, indent)
	b.WriteByte(']')
}

func writeJSONValue(b *strings.Builder, v Value, indent int) {
	switch v.Kind() {
	case UndefinedKind:
		b.WriteString("null")
	case ErrorKind:
		writeJSONQuotedExpr(b, "error")
	case BoolKind:
		t, _ := v.BoolValue()
		b.WriteString(strconv.FormatBool(t))
	case IntKind:
		i, _ := v.IntValue()
		b.WriteString(strconv.FormatInt(i, 10))
	case RealKind:
		f, _ := v.RealValue()
		if math.IsInf(f, 0) || math.IsNaN(f) {
			writeJSONQuotedExpr(b, formatRealExact(f, newSyntax))
		} else {
			b.WriteString(formatRealExact(f, oldSyntax))
		}
	case StringKind:
		s, _ := v.StringValue()
		writeJSONString(b, s)
	case ListKind:
		list, _ := v.ListValue()
		writeJSONArray(b, len(list), indent, func(i int) { writeJSONValue(b, list[i], indent+2) })
	case ClassAdKind:
		ad, _ := v.ClassAdValue()
		writeJSONAd(b, ad, indent)
	default:
		var s strings.Builder
		writeLiteral(&s, v, newSyntax)
		writeJSONQuotedExpr(b, s.String())
	}
}

// writeJSONQuotedExpr writes "\/Expr(text)\/".
func writeJSONQuotedExpr(b *strings.Builder, text string) {
	b.WriteString(`"\/Expr(`)
	writeJSONEscaped(b, text)
	b.WriteString(`)\/"`)
}

func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	writeJSONEscaped(b, s)
	b.WriteByte('"')
}

// writeJSONEscaped writes s with HTCondor's JSON string escapes (jsonSink.cpp
// UnparseAuxEscapeString); NUL, which HTCondor strings never hold, is written as \u0000.
func writeJSONEscaped(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			} else {
				b.WriteByte(c)
			}
		}
	}
}

// ---------------------------------------------------------------------------------------
// JSON: reading

// JSONError is an error in JSON ClassAd text, at a 1-based line and byte column. When an
// "\/Expr(...)\/" string does not parse, Err wraps the *ParseError, whose Col counts
// within the expression text.
type JSONError struct {
	Line, Col int
	Err       error
}

func (e *JSONError) Error() string {
	return fmt.Sprintf("JSON line %d, column %d: %v", e.Line, e.Col, e.Err)
}

func (e *JSONError) Unwrap() error { return e.Err }

// ParseJSONAds reads condor_q -json output: an array of objects, a single object, or a
// sequence of them (JSON-lines style). Empty input (condor_q's output for zero ads) gives
// no ads and no error.
func ParseJSONAds(data []byte) ([]*ClassAd, error) {
	p := &jsonParser{data: data}
	var ads []*ClassAd
	for {
		p.skipWS()
		if p.eof() {
			return ads, nil
		}
		switch p.data[p.pos] {
		case '{':
			ad, err := p.object()
			if err != nil {
				return nil, err
			}
			ads = append(ads, ad)
		case '[':
			p.pos++
			for first := true; ; first = false {
				p.skipWS()
				if !p.eof() && p.data[p.pos] == ']' && first {
					p.pos++
					break
				}
				if p.eof() || p.data[p.pos] != '{' {
					return nil, p.errorf(p.pos, "expected a ClassAd object, found %s", p.found())
				}
				ad, err := p.object()
				if err != nil {
					return nil, err
				}
				ads = append(ads, ad)
				p.skipWS()
				if !p.eof() && p.data[p.pos] == ',' {
					p.pos++
					continue
				}
				if !p.eof() && p.data[p.pos] == ']' {
					p.pos++
					break
				}
				return nil, p.errorf(p.pos, "expected ',' or ']', found %s", p.found())
			}
		default:
			return nil, p.errorf(p.pos, "expected '[' or '{', found %s", p.found())
		}
	}
}

// UnmarshalJSON replaces ad's attributes with those of one JSON object in condor_q -json
// form (see ParseJSONAds). JSON null leaves ad unchanged, as encoding/json expects.
func (ad *ClassAd) UnmarshalJSON(data []byte) error {
	p := &jsonParser{data: data}
	p.skipWS()
	if strings.HasPrefix(string(data[p.pos:]), "null") {
		p.pos += 4
		p.skipWS()
		if p.eof() {
			return nil
		}
	}
	if p.eof() || p.data[p.pos] != '{' {
		return p.errorf(p.pos, "expected a ClassAd object, found %s", p.found())
	}
	parsed, err := p.object()
	if err != nil {
		return err
	}
	p.skipWS()
	if !p.eof() {
		return p.errorf(p.pos, "unexpected %s after the object", p.found())
	}
	for _, n := range ad.Names() {
		ad.Delete(n)
	}
	for _, n := range parsed.Names() {
		e, _ := parsed.Lookup(n)
		ad.Set(n, e)
	}
	return nil
}

type jsonParser struct {
	data  []byte
	pos   int
	depth int
}

func (p *jsonParser) eof() bool { return p.pos >= len(p.data) }

func (p *jsonParser) skipWS() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// found describes what is at the current position, for error messages.
func (p *jsonParser) found() string {
	if p.eof() {
		return "end of input"
	}
	r, _ := utf8.DecodeRune(p.data[p.pos:])
	return strconv.QuoteRune(r)
}

// position converts a byte offset into a 1-based line and column.
func (p *jsonParser) position(off int) (line, col int) {
	if off > len(p.data) {
		off = len(p.data)
	}
	line = 1 + strings.Count(string(p.data[:off]), "\n")
	col = off + 1
	if i := strings.LastIndexByte(string(p.data[:off]), '\n'); i >= 0 {
		col = off - i
	}
	return line, col
}

func (p *jsonParser) errorf(off int, format string, args ...any) error {
	line, col := p.position(off)
	return &JSONError{Line: line, Col: col, Err: fmt.Errorf(format, args...)}
}

func (p *jsonParser) enter() error {
	p.depth++
	if p.depth > maxParseDepth {
		return p.errorf(p.pos, "JSON nested deeper than %d levels", maxParseDepth)
	}
	return nil
}

// object parses an object at p.pos (which holds '{') into a ClassAd.
func (p *jsonParser) object() (*ClassAd, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	open := p.pos
	p.pos++
	ad := New()
	for {
		p.skipWS()
		if p.eof() {
			return nil, p.errorf(open, "unterminated object")
		}
		switch p.data[p.pos] {
		case ',': // HTCondor tolerates empty members
			p.pos++
			continue
		case '}':
			p.pos++
			return ad, nil
		case '"':
		default:
			return nil, p.errorf(p.pos, "expected an attribute name or '}', found %s", p.found())
		}
		keyPos := p.pos
		name, _, err := p.str()
		if err != nil {
			return nil, err
		}
		if name == "" {
			return nil, p.errorf(keyPos, "empty attribute name")
		}
		if strings.IndexByte(name, '\'') >= 0 {
			return nil, p.errorf(keyPos, "attribute name %q contains a single quote", name)
		}
		p.skipWS()
		if p.eof() || p.data[p.pos] != ':' {
			return nil, p.errorf(p.pos, "expected ':' after attribute name %q, found %s", name, p.found())
		}
		p.pos++
		p.skipWS()
		e, err := p.value()
		if err != nil {
			return nil, err
		}
		ad.Set(name, e)
		p.skipWS()
		if p.eof() || (p.data[p.pos] != ',' && p.data[p.pos] != '}') {
			return nil, p.errorf(p.pos, "expected ',' or '}' after the value of %q, found %s", name, p.found())
		}
	}
}

// value parses any JSON value at p.pos into an expression.
func (p *jsonParser) value() (Expr, error) {
	if p.eof() {
		return nil, p.errorf(p.pos, "expected a value, found end of input")
	}
	start := p.pos
	switch c := p.data[p.pos]; {
	case c == '{':
		ad, err := p.object()
		if err != nil {
			return nil, err
		}
		return &adExpr{ad: ad}, nil
	case c == '[':
		return p.array()
	case c == '"':
		s, quoted, err := p.str()
		if err != nil {
			return nil, err
		}
		if quoted && len(s) >= len("/Expr()/") && strings.EqualFold(s[:6], "/Expr(") && strings.HasSuffix(s, ")/") {
			inner := s[6 : len(s)-2]
			e, err := parseExprNewSyntax(inner)
			if err != nil {
				text := inner
				if len(text) > maxErrorLineLen {
					text = text[:maxErrorLineLen] + "..."
				}
				line, col := p.position(start)
				return nil, &JSONError{Line: line, Col: col, Err: fmt.Errorf("expression %s: %w", text, err)}
			}
			return e, nil
		}
		if strings.IndexByte(s, 0) >= 0 {
			return nil, p.errorf(start, "NUL character in string")
		}
		return Literal(String(s)), nil
	case c == '-' || isDigit(c):
		return p.number()
	}
	for _, kw := range []struct {
		text string
		v    Value
	}{{"true", Bool(true)}, {"false", Bool(false)}, {"null", Undefined()}} {
		if strings.HasPrefix(string(p.data[p.pos:min(len(p.data), p.pos+len(kw.text))]), kw.text) {
			p.pos += len(kw.text)
			return Literal(kw.v), nil
		}
	}
	return nil, p.errorf(p.pos, "expected a value, found %s", p.found())
}

func (p *jsonParser) array() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	open := p.pos
	p.pos++
	elems := []Expr{}
	p.skipWS()
	if !p.eof() && p.data[p.pos] == ']' {
		p.pos++
		return &listExpr{elems: elems}, nil
	}
	for {
		p.skipWS()
		e, err := p.value()
		if err != nil {
			return nil, err
		}
		elems = append(elems, e)
		p.skipWS()
		if p.eof() {
			return nil, p.errorf(open, "unterminated array")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return &listExpr{elems: elems}, nil
		default:
			return nil, p.errorf(p.pos, "expected ',' or ']' in array, found %s", p.found())
		}
	}
}

// number parses a JSON number: a real if it has a fraction or an exponent, otherwise an
// integer (saturated to the int64 range).
func (p *jsonParser) number() (Expr, error) {
	start := p.pos
	d := p.data
	if d[p.pos] == '-' {
		p.pos++
	}
	digits := func() int {
		n := 0
		for p.pos < len(d) && isDigit(d[p.pos]) {
			p.pos++
			n++
		}
		return n
	}
	switch {
	case p.pos < len(d) && d[p.pos] == '0':
		p.pos++
	case digits() == 0:
		return nil, p.errorf(start, "malformed number %q", d[start:p.pos])
	}
	isReal := false
	if p.pos < len(d) && d[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return nil, p.errorf(start, "malformed number %q: a digit must follow '.'", d[start:p.pos])
		}
		isReal = true
	}
	if p.pos < len(d) && (d[p.pos] == 'e' || d[p.pos] == 'E') {
		p.pos++
		if p.pos < len(d) && (d[p.pos] == '+' || d[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return nil, p.errorf(start, "malformed number %q: digits must follow the exponent", d[start:p.pos])
		}
		isReal = true
	}
	text := string(d[start:p.pos])
	if isReal {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil && !isRangeErr(err) {
			return nil, p.errorf(start, "malformed number %q", text)
		}
		return Literal(Real(f)), nil
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		if !isRangeErr(err) {
			return nil, p.errorf(start, "malformed number %q", text)
		}
		n = math.MaxInt64
		if text[0] == '-' {
			n = math.MinInt64
		}
	}
	return Literal(Int(n)), nil
}

// str parses a JSON string at p.pos. quotedExpr reports HTCondor's test for a quoted
// expression: the raw (still escaped) text both starts and ends with "\/".
func (p *jsonParser) str() (s string, quotedExpr bool, err error) {
	open := p.pos
	p.pos++
	rawStart := p.pos
	var b []byte
	d := p.data
	for {
		if p.pos >= len(d) {
			return "", false, p.errorf(open, "unterminated string")
		}
		c := d[p.pos]
		switch {
		case c == '"':
			raw := d[rawStart:p.pos]
			p.pos++
			n := len(raw)
			quotedExpr = n >= 4 && raw[0] == '\\' && raw[1] == '/' && raw[n-2] == '\\' && raw[n-1] == '/'
			return string(b), quotedExpr, nil
		case c == '\\':
			esc := p.pos
			p.pos++
			if p.pos >= len(d) {
				return "", false, p.errorf(open, "unterminated string")
			}
			switch e := d[p.pos]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := p.hex4(p.pos + 1)
				if !ok {
					return "", false, p.errorf(esc, "malformed \\u escape")
				}
				p.pos += 4
				if utf16.IsSurrogate(r) {
					r2, ok2 := rune(-1), false
					if p.pos+2 < len(d) && d[p.pos+1] == '\\' && d[p.pos+2] == 'u' {
						r2, ok2 = p.hex4(p.pos + 3)
					}
					if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
						r = dec
						p.pos += 6
					} else {
						r = utf8.RuneError
					}
				}
				b = utf8.AppendRune(b, r)
			default:
				return "", false, p.errorf(esc, "invalid escape '\\%c' in string", e)
			}
			p.pos++
		default:
			b = append(b, c)
			p.pos++
		}
	}
}

// hex4 decodes four hex digits at off.
func (p *jsonParser) hex4(off int) (rune, bool) {
	if off+4 > len(p.data) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(p.data[off:off+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}

// parseExprNewSyntax parses the new-syntax text inside "\/Expr(...)\/".
func parseExprNewSyntax(src string) (Expr, error) { return ParseExprNew(src) }
