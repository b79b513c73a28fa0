package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	v4Algorithm  = "AWS4-HMAC-SHA256"
	v4Terminator = "aws4_request"

	// amzDateLayout is SigV4's request time: ISO 8601 basic format, UTC.
	amzDateLayout   = "20060102T150405Z"
	scopeDateLayout = "20060102"

	unsignedPayload = "UNSIGNED-PAYLOAD"

	amzAlgorithm     = "X-Amz-Algorithm"
	amzCredential    = "X-Amz-Credential"
	amzDate          = "X-Amz-Date"
	amzSignedHeaders = "X-Amz-SignedHeaders"
	amzSignature     = "X-Amz-Signature"
	amzExpires       = "X-Amz-Expires"
)

// v4Request is a SigV4 signature as the request states it, before any secret is used.
type v4Request struct {
	accessKeyID string
	scope       string // date/region/service/aws4_request, as sent
	date        string // the scope's parts, which the signing key is derived from
	region      string
	service     string

	signedHeaders string   // as sent: it is part of the canonical request
	headerNames   []string // signedHeaders split, lower-cased
	signature     []byte   // decoded from hex; nil when it was not hex

	amzDate string    // the request time written as the string to sign has it
	time    time.Time // the same, parsed

	canonicalQuery string
	payloadHashes  []string // the payload hashes the client may have signed, tried in order
}

// verifyV4Header checks "Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
// Signature=...".
func verifyV4Header(q *request, secrets Secrets, now time.Time) (string, error) {
	authz, _, err := q.single("authorization")
	if err != nil {
		return "", err
	}
	algo, rest, _ := strings.Cut(strings.TrimSpace(authz), " ")
	if algo != v4Algorithm {
		return "", authFailure(fmt.Sprintf("unsupported Authorization scheme %s: this server accepts %s (Signature Version 4) or Signature Version 2 parameters", echo(algo), v4Algorithm))
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return "", authFailure(fmt.Sprintf("malformed Authorization header: %s is not key=value", echo(f)))
		}
		if _, dup := fields[k]; dup {
			return "", authFailure(fmt.Sprintf("malformed Authorization header: %s given twice", echo(k)))
		}
		fields[k] = v
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if _, ok := fields[k]; !ok {
			return "", authFailure(fmt.Sprintf("malformed Authorization header: it has no %s", k))
		}
	}
	v := &v4Request{}
	if err := v.setCredential(fields["Credential"]); err != nil {
		return "", err
	}
	if err := v.setSignedHeaders(fields["SignedHeaders"]); err != nil {
		return "", err
	}
	v.setSignature(fields["Signature"])

	// The request time: X-Amz-Date, else Date. Whichever is used must be signed, or the
	// time could be rewritten to replay an old request.
	if d, ok, err := q.single("x-amz-date"); err != nil {
		return "", err
	} else if ok {
		if err := v.setAmzDate(strings.TrimSpace(d)); err != nil {
			return "", err
		}
		if !v.signs("x-amz-date") {
			return "", authFailure("the X-Amz-Date header must be one of the SignedHeaders")
		}
	} else if d, ok, err := q.single("date"); err != nil {
		return "", err
	} else if ok {
		t, err := http.ParseTime(strings.TrimSpace(d))
		if err != nil {
			return "", authFailure(fmt.Sprintf("the Date header %s is not an HTTP date", echo(d)))
		}
		v.time = t.UTC()
		v.amzDate = v.time.Format(amzDateLayout)
		if !v.signs("date") {
			return "", authFailure("the Date header must be one of the SignedHeaders")
		}
	} else {
		return "", authFailure("the request has no X-Amz-Date or Date header to date its signature")
	}
	if err := v.checkScopeDate(); err != nil {
		return "", err
	}

	v.canonicalQuery = canonicalQuery(q.query, "")
	bh := sha256Hex(q.body)
	hashes, err := payloadHashes(q, bh, bh)
	if err != nil {
		return "", err
	}
	v.payloadHashes = hashes

	if err := v.verify(q, secrets); err != nil {
		return "", err
	}
	if err := checkSkew(v.time, now); err != nil {
		return "", err
	}
	return v.accessKeyID, nil
}

// verifyV4Presigned checks a request presigned in its query string (X-Amz-Algorithm,
// X-Amz-Credential, X-Amz-Date, X-Amz-SignedHeaders, X-Amz-Signature, X-Amz-Expires).
func verifyV4Presigned(q *request, secrets Secrets, now time.Time) (string, error) {
	get := func(name string) (string, error) {
		vs := q.query.values(name)
		switch len(vs) {
		case 0:
			return "", authFailure(fmt.Sprintf("presigned request without the %s query parameter", name))
		case 1:
			return vs[0], nil
		}
		return "", authFailure(fmt.Sprintf("the %s query parameter is given %d times", name, len(vs)))
	}
	algo, err := get(amzAlgorithm)
	if err != nil {
		return "", err
	}
	if algo != v4Algorithm {
		return "", authFailure(fmt.Sprintf("unsupported %s %s: this server accepts %s", amzAlgorithm, echo(algo), v4Algorithm))
	}
	v := &v4Request{}
	cred, err := get(amzCredential)
	if err != nil {
		return "", err
	}
	if err := v.setCredential(cred); err != nil {
		return "", err
	}
	sh, err := get(amzSignedHeaders)
	if err != nil {
		return "", err
	}
	if err := v.setSignedHeaders(sh); err != nil {
		return "", err
	}
	sig, err := get(amzSignature)
	if err != nil {
		return "", err
	}
	v.setSignature(sig)
	d, err := get(amzDate)
	if err != nil {
		return "", err
	}
	if err := v.setAmzDate(d); err != nil {
		return "", err
	}
	if err := v.checkScopeDate(); err != nil {
		return "", err
	}
	// Without X-Amz-Expires a presigned request is held to the same window as a signed
	// header: EC2's own presigned URLs (CopySnapshot's PresignedUrl) need no more.
	var expires time.Duration
	hasExpires := q.query.has(amzExpires)
	if hasExpires {
		e, err := get(amzExpires)
		if err != nil {
			return "", err
		}
		n, err := strconv.ParseInt(e, 10, 64)
		if err != nil || n < 0 || n > int64(maxPresignExpires/time.Second) {
			return "", authFailure(fmt.Sprintf("%s %s must be a number of seconds from 0 to %d", amzExpires, echo(e), int64(maxPresignExpires/time.Second)))
		}
		expires = time.Duration(n) * time.Second
	}

	v.canonicalQuery = canonicalQuery(q.query, amzSignature)
	// Presigners choose: S3 style signs UNSIGNED-PAYLOAD, the SDKs' EC2 presigners sign
	// the empty body's hash. Both are tried; an unsigned body must be empty.
	bh := sha256Hex(q.body)
	hashes, err := payloadHashes(q, bh, unsignedPayload, bh)
	if err != nil {
		return "", err
	}
	v.payloadHashes = hashes

	if err := v.verify(q, secrets); err != nil {
		return "", err
	}
	if !hasExpires {
		if err := checkSkew(v.time, now); err != nil {
			return "", err
		}
		return v.accessKeyID, nil
	}
	if v.time.Sub(now) > maxClockSkew {
		return "", &Error{Code: CodeRequestExpired, Message: fmt.Sprintf(
			"Request is not yet valid: it was signed for %s, the server's time is %s, and the two may differ by at most %s; check the client's clock",
			v.time.Format(time.RFC3339), now.UTC().Format(time.RFC3339), maxClockSkew)}
	}
	if end := v.time.Add(expires); now.After(end) {
		return "", &Error{Code: CodeRequestExpired, Message: fmt.Sprintf(
			"Request has expired: the presigned request was valid until %s (signed at %s, %s %d), the server's time is %s",
			end.Format(time.RFC3339), v.time.Format(time.RFC3339), amzExpires, int64(expires/time.Second), now.UTC().Format(time.RFC3339))}
	}
	return v.accessKeyID, nil
}

// setCredential parses "AKID/YYYYMMDD/region/service/aws4_request". The region and
// service are whatever the client put there: boto 2 pointed at an IP address derives them
// from the address ("0" and "127" for 127.0.0.1), HTCondor from the host name, and the
// signature is recomputed with them rather than with names this server would choose.
func (v *v4Request) setCredential(cred string) error {
	parts := strings.Split(cred, "/")
	if len(parts) < 5 || parts[len(parts)-1] != v4Terminator {
		return authFailure(fmt.Sprintf("malformed credential %s: want ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request", echo(cred)))
	}
	n := len(parts)
	v.accessKeyID = strings.Join(parts[:n-4], "/")
	v.date, v.region, v.service = parts[n-4], parts[n-3], parts[n-2]
	if v.accessKeyID == "" {
		return authFailure(fmt.Sprintf("malformed credential %s: the access key id is empty", echo(cred)))
	}
	if _, err := time.Parse(scopeDateLayout, v.date); err != nil || len(v.date) != len(scopeDateLayout) {
		return authFailure(fmt.Sprintf("malformed credential %s: the date must be YYYYMMDD", echo(cred)))
	}
	v.scope = strings.Join(parts[n-4:], "/")
	return nil
}

// setSignedHeaders takes the ';'-separated list; host must be in it, as AWS requires, or
// the request could be replayed against another endpoint sharing the key.
func (v *v4Request) setSignedHeaders(list string) error {
	v.signedHeaders = list
	for _, h := range strings.Split(list, ";") {
		if h == "" {
			return authFailure(fmt.Sprintf("malformed SignedHeaders %s: an empty header name", echo(list)))
		}
		v.headerNames = append(v.headerNames, strings.ToLower(h))
	}
	if !v.signs("host") {
		return authFailure("the Host header must be one of the SignedHeaders")
	}
	return nil
}

func (v *v4Request) signs(name string) bool {
	for _, h := range v.headerNames {
		if h == name {
			return true
		}
	}
	return false
}

// setSignature decodes the hex signature; a signature that is not hex is kept as nil and
// simply fails to match, so a garbled signature and a wrong one read the same.
func (v *v4Request) setSignature(s string) {
	if b, err := hex.DecodeString(s); err == nil && len(b) == sha256.Size {
		v.signature = b
	}
}

func (v *v4Request) setAmzDate(d string) error {
	t, err := time.Parse(amzDateLayout, d)
	if err != nil {
		return authFailure(fmt.Sprintf("%s %s is not in ISO 8601 basic format (YYYYMMDD'T'HHMMSS'Z')", amzDate, echo(d)))
	}
	v.amzDate, v.time = d, t
	return nil
}

// checkScopeDate requires the credential scope's date to be the request time's date, as
// AWS does: the signing key is derived from the scope date, so a mismatch means the
// signature's lifetime is not what the request time claims.
func (v *v4Request) checkScopeDate() error {
	if want := v.time.UTC().Format(scopeDateLayout); v.date != want {
		return authFailure(fmt.Sprintf("the credential scope date %s does not match the request date %s", echo(v.date), want))
	}
	return nil
}

// checkContentSHA256 holds x-amz-content-sha256 to the body it describes: the signature
// covers the header, not the body, so a header that lied would leave the body (where EC2
// parameters live) unauthenticated.
func checkContentSHA256(h, bodyHash string, bodyLen int) error {
	if h == unsignedPayload {
		if bodyLen > 0 {
			return authFailure("x-amz-content-sha256 is UNSIGNED-PAYLOAD but the request has a body: its parameters would be unauthenticated")
		}
		return nil
	}
	if !strings.EqualFold(h, bodyHash) {
		return authFailure("x-amz-content-sha256 does not match the SHA-256 of the request body")
	}
	return nil
}

// verify looks the key up and recomputes the signature over each canonical URI and
// payload hash the client may have signed; a match on any proves the client holds the
// secret for this exact request.
func (v *v4Request) verify(q *request, secrets Secrets) error {
	secret, ok := lookup(secrets, v.accessKeyID)
	if !ok {
		return unknownKey(v.accessKeyID)
	}
	key := v4SigningKey(secret, v.date, v.region, v.service)
	headers := canonicalHeaders(q, v.headerNames)
	for _, uri := range v4URIs(q.rawPath) {
		for _, payload := range v.payloadHashes {
			canonical := strings.Join([]string{q.method, uri, v.canonicalQuery, headers, v.signedHeaders, payload}, "\n")
			sts := v4Algorithm + "\n" + v.amzDate + "\n" + v.scope + "\n" + sha256Hex([]byte(canonical))
			if !hmac.Equal(hmacSHA256(key, sts), v.signature) {
				continue
			}
			if payload == unsignedPayload && len(q.body) > 0 {
				return authFailure("the request was signed with UNSIGNED-PAYLOAD but has a body: its parameters would be unauthenticated")
			}
			return nil
		}
	}
	return authFailure(fmt.Sprintf("%s: the request signature does not match the one computed with the secret key of %s for credential scope %s (Signature Version 4); check the secret key, and that nothing between client and server changed the request",
		credentialsMessage, echo(v.accessKeyID), echo(v.scope)))
}

// canonicalHeaders is SigV4's CanonicalHeaders for the signed names: "name:value\n" each,
// a repeated header's values trimmed and joined with ','. Host and Content-Length are
// taken from where Go's server keeps them when they are not in the header map.
func canonicalHeaders(q *request, names []string) string {
	var b strings.Builder
	for _, name := range names {
		var vals []string
		switch {
		case name == "host":
			vals = []string{q.host}
		case name == "content-length" && len(q.header[name]) == 0 && q.contentLength >= 0:
			vals = []string{strconv.FormatInt(q.contentLength, 10)}
		default:
			vals = q.header[name]
		}
		b.WriteString(name)
		b.WriteByte(':')
		for i, val := range vals {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(foldSpaces(val))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// v4SigningKey derives SigV4's signing key from the secret and the credential scope.
func v4SigningKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, v4Terminator)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// lookup calls secrets, treating a nil Secrets as knowing no key.
func lookup(secrets Secrets, id string) (string, bool) {
	if secrets == nil {
		return "", false
	}
	return secrets(id)
}

// payloadHashes gives the payload hashes a signature may have used: the
// x-amz-content-sha256 header's when the client sent one (it must match bodyHash, the
// body's SHA-256), else the fallbacks.
func payloadHashes(q *request, bodyHash string, fallback ...string) ([]string, error) {
	h, ok, err := q.single("x-amz-content-sha256")
	if err != nil {
		return nil, err
	}
	if !ok {
		return fallback, nil
	}
	h = strings.TrimSpace(h)
	if err := checkContentSHA256(h, bodyHash, len(q.body)); err != nil {
		return nil, err
	}
	return []string{h}, nil
}
