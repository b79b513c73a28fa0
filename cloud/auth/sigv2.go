package auth

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"net"
	"net/url"
	"sort"
	"strings"
	"time"
)

// verifyV2 checks Signature Version 2 (AWSAccessKeyId, SignatureVersion=2, SignatureMethod,
// Timestamp or Expires, Signature), which pre-2014 tools such as VM::EC2 and boto 2 (when
// forced) still send. The string to sign is
//
//	METHOD \n host \n path \n canonical query
//
// where the canonical query is every parameter but Signature, sorted by name in byte
// order, RFC 3986 encoded: every parameter the server acts on is covered.
func verifyV2(q *request, params url.Values, secrets Secrets, now time.Time) (string, error) {
	get := func(name string) (string, error) {
		vs := params[name]
		switch len(vs) {
		case 0:
			return "", nil
		case 1:
			return vs[0], nil
		}
		return "", authFailure(fmt.Sprintf("the %s parameter is given %d times", name, len(vs)))
	}
	var p struct{ id, version, method, sig, timestamp, expires string }
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"AWSAccessKeyId", &p.id}, {"SignatureVersion", &p.version}, {"SignatureMethod", &p.method},
		{"Signature", &p.sig}, {"Timestamp", &p.timestamp}, {"Expires", &p.expires},
	} {
		v, err := get(f.name)
		if err != nil {
			return "", err
		}
		*f.dst = v
	}
	switch p.version {
	case "2":
	case "":
		return "", authFailure("SignatureVersion is missing: sign with Signature Version 2 or 4")
	case "0", "1":
		// Versions 0 and 1 sign the parameters without the host, path or method (and 1
		// sorts names case-insensitively, which makes distinct requests collide); AWS
		// retired them for that, and no client in use still sends them.
		return "", authFailure(fmt.Sprintf("Signature Version %s is not supported: it is insecure and AWS retired it; sign with Signature Version 2 or 4", p.version))
	default:
		return "", authFailure(fmt.Sprintf("SignatureVersion %s is not supported: sign with Signature Version 2 or 4", echo(p.version)))
	}
	var newHash func() hash.Hash
	switch p.method {
	case "HmacSHA256":
		newHash = sha256.New
	case "HmacSHA1":
		newHash = sha1.New
	case "":
		return "", authFailure("SignatureMethod is missing: use HmacSHA256 or HmacSHA1")
	default:
		return "", authFailure(fmt.Sprintf("SignatureMethod %s is not supported: use HmacSHA256 or HmacSHA1", echo(p.method)))
	}
	if p.id == "" {
		return "", authFailure("AWSAccessKeyId is missing")
	}
	if p.sig == "" {
		return "", authFailure("Signature is missing")
	}
	var signed, expires time.Time
	var err error
	switch {
	case p.timestamp == "" && p.expires == "":
		return "", authFailure("Signature Version 2 needs a Timestamp or an Expires parameter")
	case p.timestamp != "":
		if signed, err = parseV2Time(p.timestamp); err != nil {
			return "", authFailure(fmt.Sprintf("Timestamp %s is not an ISO 8601 time", echo(p.timestamp)))
		}
	}
	if p.expires != "" {
		if expires, err = parseV2Time(p.expires); err != nil {
			return "", authFailure(fmt.Sprintf("Expires %s is not an ISO 8601 time", echo(p.expires)))
		}
	}

	secret, ok := lookup(secrets, p.id)
	if !ok {
		return "", unknownKey(p.id)
	}
	got := decodeV2Signature(p.sig)
	query := v2CanonicalQuery(params)
	mac := hmac.New(newHash, []byte(secret))
	matched := false
candidates:
	for _, host := range v2Hosts(q.host) {
		for _, path := range v2Paths(q.rawPath) {
			mac.Reset()
			mac.Write([]byte(strings.ToUpper(q.method) + "\n" + host + "\n" + path + "\n" + query))
			if hmac.Equal(mac.Sum(nil), got) {
				matched = true
				break candidates
			}
		}
	}
	if !matched {
		return "", authFailure(fmt.Sprintf("%s: the request signature does not match the one computed with the secret key of %s (Signature Version 2, %s); check the secret key, and that nothing between client and server changed the request",
			credentialsMessage, echo(p.id), p.method))
	}

	if p.timestamp != "" {
		if err := checkSkew(signed, now); err != nil {
			return "", err
		}
	}
	if p.expires != "" && now.After(expires) {
		return "", &Error{Code: CodeRequestExpired, Message: fmt.Sprintf(
			"Request has expired: its signature expired at %s, the server's time is %s",
			expires.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))}
	}
	return p.id, nil
}

// parseV2Time reads Timestamp and Expires in the forms clients send: with a zone (boto 2,
// VM::EC2 and libcloud write "Z"), with fractional seconds, and without a zone, which
// AWS's own Signature Version 2 example uses and which means UTC.
func parseV2Time(s string) (time.Time, error) {
	const zoneless = "2006-01-02T15:04:05.999999999"
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Parse(zoneless, s)
}

// decodeV2Signature decodes the base64 signature. A '+' that reached the query string
// unescaped has been decoded as a space, so spaces are read back as '+'; a signature that
// still does not decode is nil and simply fails to match.
func decodeV2Signature(s string) []byte {
	s = strings.ReplaceAll(s, " ", "+")
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b
	}
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b
	}
	return nil
}

// v2CanonicalQuery is every parameter but Signature, sorted by name (then value) in byte
// order before encoding, as AWS's Signature Version 2 describes, each name and value RFC
// 3986 encoded.
func v2CanonicalQuery(params url.Values) string {
	var ps []pair
	for name, vs := range params {
		if name == "Signature" {
			continue
		}
		for _, v := range vs {
			ps = append(ps, pair{name, v})
		}
	}
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].name != ps[j].name {
			return ps[i].name < ps[j].name
		}
		return ps[i].value < ps[j].value
	})
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(escape(p.name, false))
		b.WriteByte('=')
		b.WriteString(escape(p.value, false))
	}
	return b.String()
}

// v2Hosts returns the host lines a Signature Version 2 client may have signed: the Host
// header lower-cased as sent, and that host with the port dropped, or with the default
// port added when none was sent. Clients disagree (boto 2 signs the port it sends; some
// signers always write host:port, others never), and OpenStack's EC2 API retries the same
// way. Every candidate names the host the client addressed.
func v2Hosts(host string) []string {
	host = strings.ToLower(host)
	cands := []string{host}
	if h, _, err := net.SplitHostPort(host); err == nil {
		if strings.Contains(h, ":") {
			h = "[" + h + "]" // an IPv6 literal keeps its brackets in a Host header
		}
		cands = append(cands, h)
	} else {
		cands = append(cands, host+":80", host+":443")
	}
	return dedup(cands)
}

// v2Paths returns the paths a Signature Version 2 client may have signed: the path as
// sent (boto 2, VM::EC2), and its RFC 3986 re-encoding, which differs only for a path
// with escapes. An empty path is "/".
func v2Paths(raw string) []string {
	if raw == "" {
		raw = "/"
	}
	cands := []string{raw}
	if dec, err := url.PathUnescape(raw); err == nil {
		cands = append(cands, escape(dec, true))
	}
	return dedup(cands)
}
