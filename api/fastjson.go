package api

import (
	"strconv"
)

// The bodies that carry many ads (a submit of 100,000 jobs, a query reply of as many)
// are read by a small reader for exactly their shape, several times faster than
// encoding/json's reflection. It handles only plain cases: ASCII strings with the common
// escapes, integers, no nulls, no duplicate keys. On anything else it reports failure and
// the caller decodes the same bytes with encoding/json, so what is accepted and the
// errors given are always encoding/json's.

// jsonReader reads one JSON value from b.
type jsonReader struct {
	b   []byte
	pos int
	buf []byte // scratch for unescaping
}

func (r *jsonReader) ws() {
	for r.pos < len(r.b) {
		switch r.b[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// eat consumes c (after white space) and reports whether it was there.
func (r *jsonReader) eat(c byte) bool {
	r.ws()
	if r.pos < len(r.b) && r.b[r.pos] == c {
		r.pos++
		return true
	}
	return false
}

// str reads a string of ASCII characters with the escapes \" \\ \/ \b \f \n \r \t.
func (r *jsonReader) str() (string, bool) {
	if !r.eat('"') {
		return "", false
	}
	start := r.pos
	for i := start; i < len(r.b); i++ {
		c := r.b[i]
		switch {
		case c == '"':
			r.pos = i + 1
			return string(r.b[start:i]), true
		case c == '\\':
			return r.strEscaped(start, i)
		case c < 0x20 || c >= 0x80:
			return "", false
		}
	}
	return "", false
}

// strEscaped continues str from the first backslash at i.
func (r *jsonReader) strEscaped(start, i int) (string, bool) {
	buf := append(r.buf[:0], r.b[start:i]...)
	for i < len(r.b) {
		c := r.b[i]
		switch {
		case c == '"':
			r.pos = i + 1
			r.buf = buf
			return string(buf), true
		case c == '\\':
			if i+1 >= len(r.b) {
				return "", false
			}
			switch e := r.b[i+1]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			default:
				return "", false // \u and anything else: encoding/json
			}
			i += 2
		case c < 0x20 || c >= 0x80:
			return "", false
		default:
			buf = append(buf, c)
			i++
		}
	}
	return "", false
}

// int reads an integer (no fraction, no exponent).
func (r *jsonReader) int() (int64, bool) {
	r.ws()
	start := r.pos
	if r.pos < len(r.b) && r.b[r.pos] == '-' {
		r.pos++
	}
	for r.pos < len(r.b) && r.b[r.pos] >= '0' && r.b[r.pos] <= '9' {
		r.pos++
	}
	if r.pos < len(r.b) {
		switch r.b[r.pos] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(r.b[start:r.pos]), 10, 64)
	if err != nil || r.b[start] == '0' && r.pos-start > 1 || r.b[start] == '-' && r.pos-start > 1 && r.b[start+1] == '0' && r.pos-start > 2 {
		return 0, false
	}
	return n, true
}

// strings reads an array of strings.
func (r *jsonReader) strings() ([]string, bool) {
	if !r.eat('[') {
		return nil, false
	}
	out := []string{}
	if r.eat(']') {
		return out, true
	}
	for {
		s, ok := r.str()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		if r.eat(']') {
			return out, true
		}
		if !r.eat(',') {
			return nil, false
		}
	}
}

// object reads an object, calling field for each key; field reads the value.
func (r *jsonReader) object(field func(key string) bool) bool {
	if !r.eat('{') {
		return false
	}
	if r.eat('}') {
		return true
	}
	seen := map[string]bool{}
	for {
		key, ok := r.str()
		if !ok || seen[key] || !r.eat(':') || !field(key) {
			return false
		}
		seen[key] = true
		if r.eat('}') {
			return true
		}
		if !r.eat(',') {
			return false
		}
	}
}

// end reports whether only white space is left.
func (r *jsonReader) end() bool {
	r.ws()
	return r.pos == len(r.b)
}

// fastSubmitRequest decodes a SubmitRequest of the plain shape; ok false means "use
// encoding/json".
func fastSubmitRequest(b []byte) (req SubmitRequest, ok bool) {
	r := &jsonReader{b: b}
	ok = r.object(func(key string) bool {
		switch key {
		case "submit_key":
			req.SubmitKey, ok = r.str()
		case "expect_cluster":
			req.ExpectCluster, ok = r.int()
		case "clusters":
			if !r.eat('[') {
				return false
			}
			req.Clusters = [][]string{}
			if r.eat(']') {
				return true
			}
			for {
				c, ok := r.strings()
				if !ok {
					return false
				}
				req.Clusters = append(req.Clusters, c)
				if r.eat(']') {
					return true
				}
				if !r.eat(',') {
					return false
				}
			}
		case "common":
			req.Common, ok = r.strings()
		default:
			return false
		}
		return ok
	})
	return req, ok && r.end()
}

// fastQueryResponse decodes a QueryResponse of the plain shape.
func fastQueryResponse(b []byte) (resp QueryResponse, ok bool) {
	r := &jsonReader{b: b}
	ok = r.object(func(key string) bool {
		if key != "ads" {
			return false
		}
		resp.Ads, ok = r.strings()
		return ok
	})
	return resp, ok && r.end()
}

// appendSubmitRequest encodes req in encoding/json's field order with the fast string
// encoder; it decodes to what encoding/json's encoding decodes to (which also escapes
// <, > and &, needlessly here).
func appendSubmitRequest(b []byte, req *SubmitRequest) []byte {
	b = append(b, `{"submit_key":`...)
	b = appendJSONString(b, req.SubmitKey)
	b = append(b, `,"expect_cluster":`...)
	b = strconv.AppendInt(b, req.ExpectCluster, 10)
	b = append(b, `,"clusters":`...)
	if req.Clusters == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, c := range req.Clusters {
			if i > 0 {
				b = append(b, ',')
			}
			if c == nil {
				b = append(b, "null"...)
				continue
			}
			b = append(b, '[')
			for j, s := range c {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, s)
			}
			b = append(b, ']')
		}
		b = append(b, ']')
	}
	if len(req.Common) > 0 {
		b = append(b, `,"common":[`...)
		for i, s := range req.Common {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}
