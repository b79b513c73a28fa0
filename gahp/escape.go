package gahp

import (
	"strconv"
	"strings"
)

// Null is how an empty or absent argument travels: HTCondor's gridmanager sends it for every
// unset value and the gahp compares case-insensitively, so "null" and "Null" are unset too.
const Null = "NULL"

// IsNull reports whether an argument means "unset": empty, or NULL in any case.
func IsNull(s string) bool {
	return s == "" || strings.EqualFold(s, Null)
}

// OrNull returns s, or Null if s is empty: how optional result fields are written.
func OrNull(s string) string {
	if s == "" {
		return Null
	}
	return s
}

// needsEscape reports whether b must be preceded by a backslash on the wire. Tabs are
// separators for a reader but HTCondor's writers never escape them; we do, so that any
// string survives a round trip (an escaped tab reads back as a tab in every reader).
func needsEscape(b byte) bool {
	return b == ' ' || b == '\\' || b == '\r' || b == '\n' || b == '\t'
}

// Escape returns s with a backslash before every space, tab, backslash, CR and LF.
func Escape(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if needsEscape(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	return string(AppendEscaped(make([]byte, 0, len(s)+n), s))
}

// AppendEscaped appends the escaped form of s to dst.
func AppendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if needsEscape(s[i]) {
			dst = append(dst, '\\')
		}
		dst = append(dst, s[i])
	}
	return dst
}

// AppendLine appends one protocol line to dst: the fields escaped, joined by single spaces,
// ended by LF. An empty field leaves two adjacent spaces, which reads back as an empty
// token, as HTCondor's create_output_string does.
func AppendLine(dst []byte, fields ...string) []byte {
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = AppendEscaped(dst, f)
	}
	return append(dst, '\n')
}

// Line returns one protocol line (see AppendLine), LF included.
func Line(fields ...string) string {
	return string(AppendLine(nil, fields...))
}

// Result field values for success and failure, the second token of every result line.
const (
	ResultSuccess = "0"
	ResultFailure = "1"
)

// AppendResult appends a result line: the request id, then fields (already including the
// 0/1 success flag), escaped.
func AppendResult(dst []byte, id int64, fields ...string) []byte {
	dst = strconv.AppendInt(dst, id, 10)
	for _, f := range fields {
		dst = append(dst, ' ')
		dst = AppendEscaped(dst, f)
	}
	return append(dst, '\n')
}

// Tokenize splits one line (its terminator already removed, escapes still in it) into
// arguments, undoing the escapes. It follows HTCondor's parse_gahp_command: a backslash
// takes the next byte literally; an unescaped space, tab, CR or LF ends a token, so
// separators are never collapsed and a trailing separator leaves a trailing empty token.
// Unlike HTCondor it keeps an escaped byte that ends the line (HTCondor drops it, which
// loses a trailing escaped space); a lone backslash at the very end is dropped.
// Tokenize never fails: every byte string is some list of arguments.
func Tokenize(line string) []string {
	args := make([]string, 0, 8)
	var b strings.Builder
	plain := 0 // start of the current token while it holds no escape (common case: no copy)
	escaped := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\':
			if !escaped {
				b.WriteString(line[plain:i])
				escaped = true
			}
			i++
			if i < len(line) {
				b.WriteByte(line[i])
			}
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			if escaped {
				args = append(args, b.String())
				b.Reset()
				escaped = false
			} else {
				args = append(args, line[plain:i])
			}
			plain = i + 1
		default:
			if escaped {
				b.WriteByte(c)
			}
		}
	}
	if escaped {
		args = append(args, b.String())
	} else {
		args = append(args, line[min(plain, len(line)):])
	}
	return args
}
