package cloud

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// timeLayout is EC2's timestamp form: UTC, milliseconds, a literal Z.
const timeLayout = "2006-01-02T15:04:05.000Z"

// xmlWriter appends the elements of one response body. It is a byte appender rather
// than encoding/xml because a DescribeInstances page of 1,000 instances is some 40,000
// elements and must render in milliseconds. Every element name gets the flavor's prefix.
// Text is escaped so any string a client stored (tag values, key names) round-trips.
type xmlWriter struct {
	b      []byte
	prefix string
}

func (w *xmlWriter) name(n string) {
	w.b = append(w.b, w.prefix...)
	w.b = append(w.b, n...)
}

// open writes <n>.
func (w *xmlWriter) open(n string) {
	w.b = append(w.b, '<')
	w.name(n)
	w.b = append(w.b, '>')
}

// close writes </n>.
func (w *xmlWriter) close(n string) {
	w.b = append(w.b, '<', '/')
	w.name(n)
	w.b = append(w.b, '>')
}

// empty writes <n/>.
func (w *xmlWriter) empty(n string) {
	w.b = append(w.b, '<')
	w.name(n)
	w.b = append(w.b, '/', '>')
}

// text writes <n>v</n>, or <n/> when v is empty.
func (w *xmlWriter) text(n, v string) {
	if v == "" {
		w.empty(n)
		return
	}
	w.open(n)
	w.b = appendEscaped(w.b, v)
	w.close(n)
}

// opt writes <n>v</n> only when v is not empty: EC2 omits members it has no value for.
func (w *xmlWriter) opt(n, v string) {
	if v != "" {
		w.text(n, v)
	}
}

func (w *xmlWriter) int(n string, v int64) {
	w.open(n)
	w.b = strconv.AppendInt(w.b, v, 10)
	w.close(n)
}

func (w *xmlWriter) bool(n string, v bool) {
	w.open(n)
	w.b = strconv.AppendBool(w.b, v)
	w.close(n)
}

func (w *xmlWriter) time(n string, t time.Time) {
	w.open(n)
	w.b = t.UTC().AppendFormat(w.b, timeLayout)
	w.close(n)
}

// appendEscaped appends s as XML character data. Characters XML 1.0 cannot carry at all
// (most C0 controls, invalid UTF-8) become U+FFFD; CR and TAB are written as character
// references so parsers do not normalise them away.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '&':
				b = append(b, "&amp;"...)
			case c == '<':
				b = append(b, "&lt;"...)
			case c == '>':
				b = append(b, "&gt;"...)
			case c == '"':
				b = append(b, "&quot;"...)
			case c == '\'':
				b = append(b, "&apos;"...)
			case c == '\r':
				b = append(b, "&#xD;"...)
			case c == '\t':
				b = append(b, "&#x9;"...)
			case c == '\n':
				b = append(b, c)
			case c < 0x20:
				b = append(b, "\uFFFD"...)
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r == 0xFFFE || r == 0xFFFF {
			b = append(b, "\uFFFD"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}
