package classad

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// tokKind is a lexical token type.
type tokKind uint8

const (
	tEOF tokKind = iota
	tInt
	tReal
	tString
	tIdent // also 'quoted names'
	tTrue
	tFalse
	tUndefined
	tError
	tOp // operators and punctuation; text in token.text
)

// token is one lexed token. col is the 1-based column (byte offset + 1) where it starts.
type token struct {
	kind tokKind
	text string // operator text, identifier name or string value
	i    int64
	f    float64
	col  int
}

// ParseError is a syntax error in an expression or ad, with the 1-based column
// (byte offset within the text) where it was found.
type ParseError struct {
	Col int
	Msg string
}

func (e *ParseError) Error() string { return fmt.Sprintf("parse error at column %d: %s", e.Col, e.Msg) }

// isValueToken reports whether a '-' after t is a binary minus rather than the sign of
// a negative literal (HTCondor's lexer rule).
func isValueToken(t token) bool {
	switch t.kind {
	case tInt, tReal, tString, tIdent, tTrue, tFalse, tUndefined, tError:
		return true
	case tOp:
		return t.text == "." || t.text == "]" || t.text == ")" || t.text == "}"
	}
	return false
}

// threeCharOps and twoCharOps are tried before single characters (longest match).
var threeCharOps = []string{"=?=", "=!=", ">>>"}
var twoCharOps = []string{"==", "!=", "<=", ">=", "<<", ">>", "&&", "||"}

const singleCharOps = "=<>!&|^~+-*/%?:.,;()[]{}"

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || (c|0x20) >= 'a' && (c|0x20) <= 'z' }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) }

// lex splits src into tokens using HTCondor's old ClassAd lexing rules (the rules for
// submit files, -constraint and condor_q -long text).
func lex(src string) ([]token, error) { return lexMode(src, oldSyntax) }

// lexMode lexes in either syntax. New syntax (the text inside condor_q -json's
// "\/Expr(...)\/") differs only in literals: strings and quoted names use C escapes,
// adjacent string literals are joined, and a leading zero does not make an integer
// invalid.
func lexMode(src string, syn syntax) ([]token, error) {
	var toks []token
	i := 0
	for {
		// whitespace and comments
		for i < len(src) {
			c := src[i]
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' {
				i++
			} else if c == '/' && i+1 < len(src) && src[i+1] == '/' {
				for i < len(src) && src[i] != '\n' {
					i++
				}
			} else if c == '/' && i+1 < len(src) && src[i+1] == '*' {
				end := strings.Index(src[i+2:], "*/")
				if end < 0 {
					return nil, &ParseError{Col: i + 1, Msg: "unterminated /* comment"}
				}
				i += end + 4
			} else {
				break
			}
		}
		if i >= len(src) {
			toks = append(toks, token{kind: tEOF, col: i + 1})
			return toks, nil
		}
		start := i
		c := src[i]
		negative := c == '-' && i+1 < len(src) && isDigit(src[i+1]) &&
			(len(toks) == 0 || !isValueToken(toks[len(toks)-1]))
		switch {
		case isDigit(c) || negative || (c == '.' && i+1 < len(src) && isDigit(src[i+1])):
			t, n, err := lexNumber(src, i, syn)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i = n
		case c == '"' && syn == newSyntax:
			s, n, err := lexStringNew(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tString, text: s, col: start + 1})
			i = n
		case c == '\'' && syn == newSyntax:
			name, n, err := lexQuotedNew(src, i, '\'')
			if err != nil {
				return nil, err
			}
			if name == "" {
				return nil, &ParseError{Col: start + 1, Msg: "empty quoted attribute name"}
			}
			toks = append(toks, token{kind: tIdent, text: name, col: start + 1})
			i = n
		case c == '"':
			s, n, err := lexStringOld(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tString, text: s, col: start + 1})
			i = n
		case c == '\'':
			end := strings.IndexByte(src[i+1:], '\'')
			if end < 0 {
				return nil, &ParseError{Col: start + 1, Msg: "unterminated quoted attribute name"}
			}
			name := src[i+1 : i+1+end]
			if name == "" {
				return nil, &ParseError{Col: start + 1, Msg: "empty quoted attribute name"}
			}
			if strings.IndexByte(name, 0) >= 0 {
				// As in strings: HTCondor's lexer makes a NUL a token error.
				return nil, &ParseError{Col: start + 1, Msg: "NUL character in quoted attribute name"}
			}
			toks = append(toks, token{kind: tIdent, text: name, col: start + 1})
			i += end + 2
		case isIdentStart(c):
			for i < len(src) && isIdentChar(src[i]) {
				i++
			}
			word := src[start:i]
			t := token{kind: tIdent, text: word, col: start + 1}
			switch strings.ToLower(word) {
			case "true":
				t.kind = tTrue
			case "false":
				t.kind = tFalse
			case "undefined":
				t.kind = tUndefined
			case "error":
				t.kind = tError
			case "is":
				t = token{kind: tOp, text: "=?=", col: start + 1}
			case "isnt":
				t = token{kind: tOp, text: "=!=", col: start + 1}
			}
			toks = append(toks, t)
		default:
			op := ""
			for _, o := range threeCharOps {
				if strings.HasPrefix(src[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				for _, o := range twoCharOps {
					if strings.HasPrefix(src[i:], o) {
						op = o
						break
					}
				}
			}
			if op == "" && strings.HasPrefix(src[i:], "=?") {
				return nil, &ParseError{Col: start + 1, Msg: "'=?' must be followed by '=' (the =?= operator)"}
			}
			if op == "" && strings.IndexByte(singleCharOps, c) >= 0 {
				op = src[i : i+1]
			}
			if op == "" {
				return nil, &ParseError{Col: start + 1, Msg: fmt.Sprintf("unexpected character %q", c)}
			}
			toks = append(toks, token{kind: tOp, text: op, col: start + 1})
			i += len(op)
		}
	}
}

// lexNumber lexes an integer or real literal (with an optional leading '-') at src[i:].
func lexNumber(src string, i int, syn syntax) (token, int, error) {
	start := i
	if src[i] == '-' {
		i++
	}
	digitsStart := i
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	intDigits := src[digitsStart:i]
	isReal := false
	if i < len(src) && src[i] == '.' {
		if i+1 < len(src) && isDigit(src[i+1]) {
			isReal = true
			i++
			for i < len(src) && isDigit(src[i]) {
				i++
			}
		} else if i+1 >= len(src) || !isIdentStart(src[i+1]) {
			// "1." is a token error in HTCondor's lexer; "1.x" is left to the parser.
			return token{}, 0, &ParseError{Col: start + 1, Msg: fmt.Sprintf("malformed real %q: a digit must follow '.'", src[start:i+1])}
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		j := i + 1
		if j < len(src) && (src[j] == '+' || src[j] == '-') {
			j++
		}
		if j < len(src) && isDigit(src[j]) {
			isReal = true
			for j < len(src) && isDigit(src[j]) {
				j++
			}
			i = j
		}
	}
	text := src[start:i]
	if !isReal && len(intDigits) > 1 && intDigits[0] == '0' && syn == oldSyntax {
		return token{}, 0, &ParseError{Col: start + 1, Msg: fmt.Sprintf("malformed integer %q: leading zeros are not allowed", text)}
	}
	if i < len(src) && isIdentStart(src[i]) {
		return token{}, 0, &ParseError{Col: start + 1, Msg: fmt.Sprintf("malformed number %q", src[start:i+1])}
	}
	if isReal {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil && !isRangeErr(err) {
			return token{}, 0, &ParseError{Col: start + 1, Msg: fmt.Sprintf("malformed real %q", text)}
		}
		return token{kind: tReal, f: f, col: start + 1}, i, nil
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		if !isRangeErr(err) {
			return token{}, 0, &ParseError{Col: start + 1, Msg: fmt.Sprintf("malformed integer %q", text)}
		}
		// strtoll saturates, and so do we.
		n = math.MaxInt64
		if text[0] == '-' {
			n = math.MinInt64
		}
	}
	return token{kind: tInt, i: n, col: start + 1}, i, nil
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// lexStringOld lexes a double-quoted string in old ClassAd syntax: a backslash is
// special only before a quote, where it makes the quote literal, unless that quote is the
// last character of the text or is followed by a newline, in which case the string ends
// with a backslash (HTCondor's tokenizeStringOld).
func lexStringOld(src string, i int) (string, int, error) {
	start := i
	i++
	var b strings.Builder
	for {
		j := strings.IndexByte(src[i:], '"')
		if j < 0 {
			return "", 0, &ParseError{Col: start + 1, Msg: "unterminated string literal"}
		}
		seg := src[i : i+j]
		q := i + j
		if strings.HasSuffix(seg, `\`) && q+1 < len(src) && src[q+1] != '\n' {
			b.WriteString(seg[:len(seg)-1])
			b.WriteByte('"')
			i = q + 1
			continue
		}
		b.WriteString(seg)
		if strings.IndexByte(b.String(), 0) >= 0 {
			return "", 0, &ParseError{Col: start + 1, Msg: "NUL character in string literal"}
		}
		return b.String(), q + 1, nil
	}
}

// lexQuotedNew lexes a new-syntax literal delimited by quote (double or single) at src[i]:
// a backslash escapes the next character, and the escapes are decoded as HTCondor's
// convert_escapes does. A NUL produced by an escape is an error.
func lexQuotedNew(src string, i int, quote byte) (string, int, error) {
	start := i
	k := i + 1
	for k < len(src) && src[k] != quote {
		if src[k] == '\\' {
			k++
		}
		k++
	}
	if k >= len(src) {
		return "", 0, &ParseError{Col: start + 1, Msg: "unterminated string literal"}
	}
	s, ok := convertEscapes(src[i+1 : k])
	if !ok || strings.IndexByte(s, 0) >= 0 {
		return "", 0, &ParseError{Col: start + 1, Msg: "NUL character in string literal"}
	}
	return s, k + 1, nil
}

// lexStringNew lexes a new-syntax string literal, joining literals separated only by
// white space ("ab" "cd" is "abcd"), as HTCondor's lexer does.
func lexStringNew(src string, i int) (string, int, error) {
	var b strings.Builder
	for {
		s, n, err := lexQuotedNew(src, i, '"')
		if err != nil {
			return "", 0, err
		}
		b.WriteString(s)
		m := n
		for m < len(src) && isCSpace(src[m]) {
			m++
		}
		if m < len(src) && src[m] == '"' {
			i = m
			continue
		}
		return b.String(), n, nil
	}
}

func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// convertEscapes decodes new-syntax string escapes as HTCondor's convert_escapes does:
// \a \b \f \n \r \t \v \\ \? \' \", octal \o \oo \ooo (three digits only when the first is
// 0-3), and any other escaped character stands for itself. ok is false if an escape
// produced a NUL.
func convertEscapes(raw string) (string, bool) {
	if strings.IndexByte(raw, '\\') < 0 {
		return raw, true
	}
	b := make([]byte, 0, len(raw))
	ok := true
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' || i == len(raw)-1 {
			b = append(b, c)
			continue
		}
		i++
		c = raw[i]
		switch c {
		case 'a':
			c = '\a'
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		case 'v':
			c = '\v'
		default:
			if isOctal(c) {
				n := int(c - '0')
				if i+1 < len(raw) && isOctal(raw[i+1]) {
					i++
					n = n*8 + int(raw[i]-'0')
					if n < 0x20 && i+1 < len(raw) && isOctal(raw[i+1]) {
						i++
						n = n*8 + int(raw[i]-'0')
					}
				}
				c = byte(n)
				if c == 0 {
					ok = false
				}
			}
			// '\\', '?', '\'', '"' and unknown escapes: the character itself.
		}
		b = append(b, c)
	}
	return string(b), ok
}
