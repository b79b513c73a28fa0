// Package auth verifies the signature of an EC2 Query API request as an EC2 server must,
// and says which access key signed it. It accepts Signature Version 4 in the Authorization
// header or in presigned query parameters, and Signature Version 2 in the request
// parameters; anything else is an *Error carrying the EC2 error code to answer with, whose
// message never contains a secret or the string to sign.
package auth

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The EC2 error codes Verify answers with. EC2 uses AuthFailure for every credential
// problem (unknown key, wrong signature, malformed or missing authentication) and
// RequestExpired only for a request whose signature is right but whose time is not.
const (
	CodeAuthFailure    = "AuthFailure"
	CodeRequestExpired = "RequestExpired"
)

const (
	// maxClockSkew is how far a request's signing time may lie from the server's clock,
	// either way: AWS's own limit, so a client that works against AWS works here and a
	// captured request cannot be replayed for longer than it could be against AWS.
	maxClockSkew = 15 * time.Minute

	// maxPresignExpires is the longest X-Amz-Expires a presigned request may ask for:
	// AWS's limit of seven days.
	maxPresignExpires = 7 * 24 * time.Hour

	// maxEcho is the most bytes of a client-supplied value quoted in an error message, so
	// a hostile request cannot make the error body large.
	maxEcho = 128

	// credentialsMessage opens every AuthFailure message about credentials: EC2's own
	// wording, which clients and people search for.
	credentialsMessage = "AWS was not able to validate the provided access credentials"
)

// Secrets looks up the secret key of an access key id; ok is false for an unknown key.
type Secrets func(accessKeyID string) (secret string, ok bool)

// Error is an authentication failure; Code is the EC2 error code to answer with
// (CodeAuthFailure or CodeRequestExpired). Its Message is safe to send to the client: it
// names the access key and what was wrong, never a secret, a derived key or the string to
// sign.
type Error struct{ Code, Message string }

// Error returns "Code: Message".
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Verify checks the request's signature and returns the access key id that signed it.
// body is the raw request body (already read; may be empty for GET), params the merged
// query-string and form parameters. now is the server's clock (for the expiry checks).
//
// The signature forms are tried in the order a request can carry them: an Authorization
// header (Signature Version 4), then X-Amz-* presigned query parameters, then Signature
// Version 2 parameters. A request carrying none fails with AuthFailure "missing
// authentication". Every error is an *Error.
//
// What a signature covers, and so what Verify vouches for: for Signature Version 4 the
// method, path, query string, the signed headers and the body (through its SHA-256); for
// Signature Version 2 the method, host, path and every parameter in params. A request whose
// body is not covered (UNSIGNED-PAYLOAD) must have an empty body, since EC2 parameters in
// an unsigned body could be changed by anyone on the way.
func Verify(r *http.Request, body []byte, params url.Values, secrets Secrets, now time.Time) (accessKeyID string, err error) {
	req, err := newRequest(r, body)
	if err != nil {
		return "", err
	}
	if _, ok := req.header["authorization"]; ok {
		return verifyV4Header(req, secrets, now)
	}
	if req.query.has(amzAlgorithm) || req.query.has(amzSignature) || req.query.has(amzCredential) {
		return verifyV4Presigned(req, secrets, now)
	}
	if params.Has("AWSAccessKeyId") || params.Has("SignatureVersion") || params.Has("Signature") {
		return verifyV2(req, params, secrets, now)
	}
	if params.Has(amzAlgorithm) || params.Has(amzSignature) {
		// A presigned signature covers the URL's query string only: in a form body the
		// X-Amz-* parameters would authenticate nothing.
		return "", authFailure("presigned X-Amz-* parameters must be in the URL's query string, not the request body")
	}
	return "", authFailure("missing authentication: sign the request with Signature Version 4 (an Authorization header or X-Amz-* query parameters) or Signature Version 2 (AWSAccessKeyId, SignatureVersion, SignatureMethod, Timestamp, Signature)")
}

// request is what verification needs of an HTTP request, read once.
type request struct {
	method        string
	host          string // the Host header as the client sent it
	rawPath       string // the path as it came on the wire, escaped
	rawQuery      string
	query         pairs               // rawQuery decoded, in wire order
	header        map[string][]string // by lower-case name
	contentLength int64               // -1 when unknown
	body          []byte
}

func newRequest(r *http.Request, body []byte) (*request, error) {
	rawPath, rawQuery := requestTarget(r)
	query, err := parseQuery(rawQuery)
	if err != nil {
		return nil, authFailure(fmt.Sprintf("malformed query string: %v", err))
	}
	header := make(map[string][]string, len(r.Header))
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		header[lk] = append(header[lk], vs...)
	}
	host := r.Host
	if host == "" && r.URL != nil {
		host = r.URL.Host
	}
	return &request{
		method:        r.Method,
		host:          host,
		rawPath:       rawPath,
		rawQuery:      rawQuery,
		query:         query,
		header:        header,
		contentLength: r.ContentLength,
		body:          body,
	}, nil
}

// requestTarget returns the escaped path and the query string exactly as the client sent
// them. RequestURI is preferred to URL because the client signed the bytes on the wire,
// and because a handler mounted under http.StripPrefix sees a shortened URL.Path.
func requestTarget(r *http.Request) (rawPath, rawQuery string) {
	if ru := r.RequestURI; ru != "" {
		if strings.HasPrefix(ru, "/") {
			rawPath, rawQuery, _ = strings.Cut(ru, "?")
			return rawPath, rawQuery
		}
		if u, err := url.ParseRequestURI(ru); err == nil {
			return u.EscapedPath(), u.RawQuery
		}
	}
	if r.URL == nil {
		return "/", ""
	}
	return r.URL.EscapedPath(), r.URL.RawQuery
}

// single returns the only value of a header, or an error naming it when it is repeated:
// two X-Amz-Date headers (or two Authorization headers) leave it open which one was meant.
func (q *request) single(name string) (string, bool, error) {
	vs, ok := q.header[name]
	if !ok {
		return "", false, nil
	}
	if len(vs) != 1 {
		return "", true, authFailure(fmt.Sprintf("the %s header is given %d times", name, len(vs)))
	}
	return vs[0], true, nil
}

func authFailure(msg string) *Error { return &Error{Code: CodeAuthFailure, Message: msg} }

func unknownKey(id string) *Error {
	return authFailure(fmt.Sprintf("%s: unknown access key id %s", credentialsMessage, echo(id)))
}

// checkSkew answers RequestExpired when signed is more than maxClockSkew away from now.
func checkSkew(signed, now time.Time) error {
	d := now.Sub(signed)
	if d > maxClockSkew || d < -maxClockSkew {
		return &Error{Code: CodeRequestExpired, Message: fmt.Sprintf(
			"Request has expired: it was signed at %s, the server's time is %s, and the two may differ by at most %s; check the client's clock",
			signed.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), maxClockSkew)}
	}
	return nil
}

// echo quotes a client-supplied value for an error message, cut to maxEcho bytes.
func echo(s string) string {
	if len(s) > maxEcho {
		return strconv.Quote(s[:maxEcho]) + "..."
	}
	return strconv.Quote(s)
}
