package auth

import (
	"net/url"
	"sort"
	"strings"
)

// pair is one name=value of a query string, decoded.
type pair struct{ name, value string }

// pairs keeps a query string's parameters in wire order, repeats included: a signature
// covers every occurrence, so none may be merged away.
type pairs []pair

func (ps pairs) has(name string) bool {
	for _, p := range ps {
		if p.name == name {
			return true
		}
	}
	return false
}

// values returns every value of name.
func (ps pairs) values(name string) []string {
	var vs []string
	for _, p := range ps {
		if p.name == name {
			vs = append(vs, p.value)
		}
	}
	return vs
}

// parseQuery decodes a raw query string the way form decoding does ('+' is a space), but
// keeps a ';' as an ordinary character and fails on a bad %-escape. url.ParseQuery is not
// used because it drops pairs containing ';', which would leave signed bytes out of the
// canonical request.
func parseQuery(raw string) (pairs, error) {
	var ps pairs
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		name, value, _ := strings.Cut(part, "=")
		n, err := url.QueryUnescape(name)
		if err != nil {
			return nil, err
		}
		v, err := url.QueryUnescape(value)
		if err != nil {
			return nil, err
		}
		ps = append(ps, pair{n, v})
	}
	return ps, nil
}

// unreserved reports whether c is one of RFC 3986's unreserved characters, the only ones
// AWS's canonical forms leave unescaped.
func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

const upperhex = "0123456789ABCDEF"

// escape percent-encodes every byte of s outside RFC 3986's unreserved set (and '/' too
// when keepSlash is false), with upper-case hex: AWS's UriEncode.
func escape(s string, keepSlash bool) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) && !(keepSlash && s[i] == '/') {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || keepSlash && c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperhex[c>>4])
		b.WriteByte(upperhex[c&15])
	}
	return b.String()
}

// encodedPair is a pair after UriEncode, ready for a canonical query string.
type encodedPair struct{ name, value string }

// canonicalQuery is SigV4's canonical query string: each name and value UriEncoded, the
// pairs sorted by encoded name then encoded value (AWS sorts after encoding), joined with
// '&', a name without value written "name=". skip names a parameter left out (the
// signature itself, in a presigned URL).
func canonicalQuery(ps pairs, skip string) string {
	enc := make([]encodedPair, 0, len(ps))
	for _, p := range ps {
		if skip != "" && p.name == skip {
			continue
		}
		enc = append(enc, encodedPair{escape(p.name, false), escape(p.value, false)})
	}
	sort.Slice(enc, func(i, j int) bool {
		if enc[i].name != enc[j].name {
			return enc[i].name < enc[j].name
		}
		return enc[i].value < enc[j].value
	})
	var b strings.Builder
	for i, p := range enc {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.name)
		b.WriteByte('=')
		b.WriteString(p.value)
	}
	return b.String()
}

// v4URIs returns the canonical URIs a SigV4 client may have signed for a path that came
// on the wire as raw (escaped). AWS's rule for every service but S3 is to remove dot
// segments and UriEncode the already-escaped path again, but the clients that matter
// implement it differently, and a server sees only the wire form:
//
//   - aws-sdk-go-v2 and the JS SDK encode the escaped path again without normalising;
//   - botocore (boto3, the AWS CLI) removes dot segments and empty segments first;
//   - boto 2 normalises the unescaped path and encodes it once;
//   - HTCondor's ec2_gahp and hand-written signers use the path as sent.
//
// For the paths EC2 clients use ("/", "/services/Cloud") all four agree and one candidate
// is returned; they differ only for paths with escapes, dot or empty segments. Accepting
// each is safe: they name the same resource, and each still needs the secret to sign.
func v4URIs(raw string) []string {
	if raw == "" {
		raw = "/"
	}
	cands := []string{
		escape(raw, true),
		escape(removeDotSegments(raw), true),
	}
	if dec, err := url.PathUnescape(raw); err == nil {
		cands = append(cands, escape(removeDotSegments(dec), true))
	}
	cands = append(cands, raw)
	return dedup(cands)
}

// removeDotSegments applies RFC 3986 §5.2.4 and also drops empty segments, as botocore
// does ("AWS services require consecutive slashes to be removed"); a leading and a
// trailing slash are kept.
func removeDotSegments(p string) string {
	if p == "" {
		return "/"
	}
	var out []string
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	var b strings.Builder
	if p[0] == '/' {
		b.WriteByte('/')
	}
	b.WriteString(strings.Join(out, "/"))
	if p[len(p)-1] == '/' && len(out) > 0 {
		b.WriteByte('/')
	}
	return b.String()
}

// dedup removes repeats from ss, keeping the first of each.
func dedup(ss []string) []string {
	out := ss[:0]
	for _, s := range ss {
		seen := false
		for _, o := range out {
			if o == s {
				seen = true
				break
			}
		}
		if !seen {
			out = append(out, s)
		}
	}
	return out
}

// foldSpaces trims a header value and turns each run of spaces inside it into one space:
// SigV4's Trimall.
func foldSpaces(v string) string {
	v = strings.TrimSpace(v)
	if !strings.Contains(v, "  ") {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
	space := false
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(v[i])
	}
	return b.String()
}
