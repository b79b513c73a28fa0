package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The demo-style account every test signs with, and a second one that must never be
// confused with it.
const (
	testID      = "AKIDEXAMPLE"
	testSecret  = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	otherID     = "AKIDOTHER"
	otherSecret = "otherSecretKeyOtherSecretKeyOther0000000"
)

// t0 is when the test requests are signed; the server's clock is t0 + a minute unless a
// case says otherwise.
var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func testSecrets(id string) (string, bool) {
	switch id {
	case testID:
		return testSecret, true
	case otherID:
		return otherSecret, true
	}
	return "", false
}

// result is what the test server's Verify call answered for one request.
type result struct {
	id    string
	err   error
	authz string // the request's Authorization header, to check the scope clients send
}

// testServer is an EC2-shaped endpoint that only authenticates: it reads the body, merges
// query-string and form parameters as the cloud's front end does, calls Verify, and
// answers a DescribeRegions-shaped body or an EC2 error document, so that real clients
// can talk to it.
type testServer struct {
	*httptest.Server
	now     func() time.Time
	secrets Secrets

	mu      sync.Mutex
	results []result
}

func newTestServer(t *testing.T, now func() time.Time) *testServer {
	t.Helper()
	s := &testServer{now: now, secrets: testSecrets}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *testServer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	params, err := mergedParams(r, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id, err := Verify(r, body, params, s.secrets, s.now())
	s.mu.Lock()
	s.results = append(s.results, result{id: id, err: err, authz: r.Header.Get("Authorization")})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	if err != nil {
		var ae *Error
		if !errors.As(err, &ae) {
			http.Error(w, "Verify returned a non-*Error: "+err.Error(), http.StatusInternalServerError)
			return
		}
		status := http.StatusUnauthorized
		if ae.Code == CodeRequestExpired {
			status = http.StatusBadRequest
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>req-1</RequestID></Response>`,
			ae.Code, xmlEscape(ae.Message))
		return
	}
	version := params.Get("Version")
	if version == "" {
		version = "2016-11-15"
	}
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/%s/"><requestId>req-1</requestId><regionInfo><item><regionName>us-east-1</regionName><regionEndpoint>127.0.0.1</regionEndpoint></item></regionInfo></DescribeRegionsResponse>`,
		xmlEscape(version))
}

// take returns and forgets the results recorded so far.
func (s *testServer) take() []result {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.results
	s.results = nil
	return rs
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s)) // a bytes.Buffer does not fail
	return b.String()
}

// mergedParams is the query string plus, for a form body, the form: what the cloud hands
// to Verify as params.
func mergedParams(r *http.Request, body []byte) (url.Values, error) {
	params, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("query string: %w", err)
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return nil, fmt.Errorf("content type: %w", err)
		}
		if mt == "application/x-www-form-urlencoded" {
			form, err := url.ParseQuery(string(body))
			if err != nil {
				return nil, fmt.Errorf("form body: %w", err)
			}
			for k, vs := range form {
				params[k] = append(params[k], vs...)
			}
		}
	}
	return params, nil
}

// do sends r to s and returns what Verify answered for it.
func (s *testServer) do(t *testing.T, r *http.Request) result {
	t.Helper()
	resp, err := s.Client().Do(r)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	rs := s.take()
	if len(rs) != 1 {
		t.Fatalf("server saw %d requests, want 1 (HTTP status %s)", len(rs), resp.Status)
	}
	return rs[0]
}

// newFormRequest builds an EC2 Query request: for POST the parameters go in a form body
// with the given Content-Type, for GET in the query string.
func newFormRequest(t testing.TB, method, target string, params url.Values, contentType string) *http.Request {
	t.Helper()
	var body io.Reader
	if method == http.MethodGet {
		target += "?" + params.Encode()
	} else {
		body = strings.NewReader(params.Encode())
	}
	r, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if method != http.MethodGet && contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

func ec2Params(action string, kv ...string) url.Values {
	v := url.Values{"Action": {action}, "Version": {"2016-11-15"}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func bodyOf(t testing.TB, r *http.Request) []byte {
	t.Helper()
	if r.GetBody == nil {
		return nil
	}
	rc, err := r.GetBody()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// setBody replaces r's body (after signing, to tamper with it).
func setBody(r *http.Request, b string) {
	r.Body = io.NopCloser(strings.NewReader(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(b)), nil }
	r.ContentLength = int64(len(b))
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// signSDK signs r in its Authorization header with aws-sdk-go-v2's own SigV4 signer.
func signSDK(t testing.TB, r *http.Request, id, secret, region, service string, at time.Time) *http.Request {
	t.Helper()
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: id, SecretAccessKey: secret},
		r, hexSHA256(bodyOf(t, r)), service, region, at)
	if err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
	return r
}

// presignSDK presigns r with aws-sdk-go-v2's signer and returns the request to send: the
// presigned URL, r's body, and the headers the signer says must accompany it.
func presignSDK(t *testing.T, r *http.Request, id, secret, region, service, payloadHash string, at time.Time) *http.Request {
	t.Helper()
	u, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: id, SecretAccessKey: secret},
		r, payloadHash, service, region, at)
	if err != nil {
		t.Fatalf("PresignHTTP: %v", err)
	}
	body := bodyOf(t, r)
	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	out, err := http.NewRequest(r.Method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		if strings.EqualFold(k, "Host") {
			continue
		}
		out.Header[k] = vs
	}
	for k, vs := range r.Header {
		if _, ok := out.Header[k]; !ok {
			out.Header[k] = vs
		}
	}
	return out
}

// refSignV4 is a second SigV4 signer, written from AWS's description apart from both the
// verifier and the SDK, in the manner of boto 2's HmacAuthV4Handler: it signs the headers
// named (plus host), folds header whitespace as botocore does (strings.Fields), encodes
// the query with url.Values.Encode patched to RFC 3986, and joins the Authorization
// fields with sep (boto 2 writes ",", the SDKs ", "). It dates the request with X-Amz-Date
// unless the request already carries a Date header and "date" is among the names. A
// non-empty payloadHash replaces the body's SHA-256.
func refSignV4(r *http.Request, id, secret, region, service string, at time.Time, names []string, sep, payloadHash string) {
	amz := at.UTC().Format("20060102T150405Z")
	useDate := r.Header.Get("Date") != "" && contains(names, "date")
	if !useDate {
		r.Header.Set("X-Amz-Date", amz)
		if !contains(names, "x-amz-date") {
			names = append(names, "x-amz-date")
		}
	}
	if !contains(names, "host") {
		names = append(names, "host")
	}
	sort.Strings(names)

	var canon strings.Builder
	canon.WriteString(r.Method + "\n")
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	canon.WriteString(path + "\n")
	canon.WriteString(strings.ReplaceAll(r.URL.Query().Encode(), "+", "%20") + "\n")
	for _, n := range names {
		v := r.Host
		if v == "" {
			v = r.URL.Host
		}
		if n != "host" {
			v = strings.Join(strings.Fields(strings.Join(r.Header.Values(n), ",")), " ")
		}
		fmt.Fprintf(&canon, "%s:%s\n", n, v)
	}
	canon.WriteString("\n" + strings.Join(names, ";") + "\n") // CanonicalHeaders end with a newline of their own
	if payloadHash == "" {
		var body []byte
		if r.GetBody != nil {
			rc, _ := r.GetBody()
			body, _ = io.ReadAll(rc)
		}
		payloadHash = hexSHA256(body)
	}
	canon.WriteString(payloadHash)

	scope := fmt.Sprintf("%s/%s/%s/aws4_request", at.UTC().Format("20060102"), region, service)
	sts := fmt.Sprintf("AWS4-HMAC-SHA256\n%s\n%s\n%s", amz, scope, hexSHA256([]byte(canon.String())))
	key := []byte("AWS4" + secret)
	for _, part := range []string{at.UTC().Format("20060102"), region, service, "aws4_request"} {
		key = mac(sha256.New, key, part)
	}
	sig := hex.EncodeToString(mac(sha256.New, key, sts))
	r.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s%sSignedHeaders=%s%sSignature=%s",
		id, scope, sep, strings.Join(names, ";"), sep, sig))
}

func mac(h func() hash.Hash, key []byte, data string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// signV2 adds Signature Version 2 to params, written from AWS's description
// (docs.aws.amazon.com/general/latest/gr/signature-version-2.html) apart from the
// verifier: url.Values.Encode sorts by name and escapes, '+' is patched to %20 for RFC
// 3986. host is the host line to sign (lower-cased here), path the request path. The
// caller sets Timestamp or Expires.
func signV2(params url.Values, method, host, path, id, secret, sigMethod string) {
	params.Set("AWSAccessKeyId", id)
	params.Set("SignatureVersion", "2")
	params.Set("SignatureMethod", sigMethod)
	params.Del("Signature")
	h := sha256.New
	if sigMethod == "HmacSHA1" {
		h = sha1.New
	}
	sts := method + "\n" + strings.ToLower(host) + "\n" + path + "\n" + strings.ReplaceAll(params.Encode(), "+", "%20")
	params.Set("Signature", base64.StdEncoding.EncodeToString(mac(h, []byte(secret), sts)))
}

// wantResult checks a Verify answer: wantID for success, else the error's code and a
// substring of its message. No answer may contain a secret.
func wantResult(t *testing.T, got result, wantID, wantCode, wantMsg string) {
	t.Helper()
	if got.err != nil {
		for _, s := range []string{testSecret, otherSecret} {
			if strings.Contains(got.err.Error(), s) {
				t.Fatalf("error message leaks a secret: %v", got.err)
			}
		}
	}
	if wantCode == "" {
		if got.err != nil || got.id != wantID {
			t.Fatalf("Verify = %q, %v; want %q, nil", got.id, got.err, wantID)
		}
		return
	}
	var ae *Error
	if !errors.As(got.err, &ae) {
		t.Fatalf("Verify = %q, %v; want an *Error with code %s", got.id, got.err, wantCode)
	}
	if got.id != "" {
		t.Errorf("Verify returned id %q with an error", got.id)
	}
	if ae.Code != wantCode || !strings.Contains(ae.Message, wantMsg) {
		t.Fatalf("Verify error = %v; want code %s, message containing %q", ae, wantCode, wantMsg)
	}
}
