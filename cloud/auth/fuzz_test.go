package auth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// FuzzVerify feeds Verify arbitrary request targets, Authorization and X-Amz-Date headers
// and bodies: it must never panic, must answer only with *Error values carrying one of its
// two codes, and must never put the secret in a message. Every access key id is known (to
// the same secret), so the fuzzer reaches the signature computation.
func FuzzVerify(f *testing.F) {
	// Seeds: a valid SDK-signed POST, a valid presigned GET and a valid SigV2 POST, so the
	// fuzzer mutates from requests that get all the way through.
	body := ec2Params("DescribeRegions").Encode()
	creds := aws.Credentials{AccessKeyID: testID, SecretAccessKey: testSecret}
	r := mustRequest("POST", "http://127.0.0.1:8773/", body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hexSHA256([]byte(body)), "127", "0", t0); err != nil {
		f.Fatal(err)
	}
	f.Add("POST", "127.0.0.1:8773", "/", r.Header.Get("Authorization"), r.Header.Get("X-Amz-Date"), body)
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds,
		mustRequest("GET", "http://127.0.0.1:8773/?"+body, ""), "UNSIGNED-PAYLOAD", "ec2", "us-east-1", t0)
	if err != nil {
		f.Fatal(err)
	}
	pu, _ := url.Parse(u)
	f.Add("GET", "127.0.0.1:8773", pu.RequestURI(), "", "", "")
	p := ec2Params("DescribeRegions", "Timestamp", t0.Format(time.RFC3339))
	signV2(p, "POST", "127.0.0.1:8773", "/", testID, testSecret, "HmacSHA256")
	f.Add("POST", "127.0.0.1:8773", "/", "", "", p.Encode())
	f.Add("GET", "h", "/a/../b//c?x=%zz", "AWS4-HMAC-SHA256 Credential=/", "x", "")
	f.Add("GET", "", "*", "AWS4-HMAC-SHA256 Credential=a/20261123/r/s/aws4_request,SignedHeaders=host,Signature=00,,Signature=1", "20261123T120000Z", "SignatureVersion=1")

	anySecret := func(string) (string, bool) { return testSecret, true }
	f.Fuzz(func(t *testing.T, method, host, target, authz, amzDate, body string) {
		r := &http.Request{Method: method, Host: host, RequestURI: target, Header: http.Header{}, ContentLength: int64(len(body))}
		if u, err := url.ParseRequestURI(target); err == nil {
			r.URL = u
		} else {
			r.URL = &url.URL{Path: "/"}
		}
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		if amzDate != "" {
			r.Header.Set("X-Amz-Date", amzDate)
		}
		r.Header.Set("Content-Type", formType)
		params, _ := url.ParseQuery(r.URL.RawQuery)
		if form, err := url.ParseQuery(body); err == nil {
			for k, vs := range form {
				params[k] = append(params[k], vs...)
			}
		}
		id, err := Verify(r, []byte(body), params, anySecret, t0)
		if err == nil {
			if id == "" {
				t.Fatal("Verify accepted a request with an empty access key id")
			}
			return
		}
		var ae *Error
		if !errors.As(err, &ae) {
			t.Fatalf("Verify returned a non-*Error: %v", err)
		}
		if ae.Code != CodeAuthFailure && ae.Code != CodeRequestExpired {
			t.Fatalf("unexpected code %q", ae.Code)
		}
		if strings.Contains(ae.Message, testSecret) {
			t.Fatalf("message leaks the secret: %q", ae.Message)
		}
		if id != "" {
			t.Fatalf("Verify returned id %q with an error", id)
		}
	})
}

// FuzzSDKRoundTrip signs requests carrying arbitrary parameters, paths and header values
// with aws-sdk-go-v2's signer, in the header and presigned, and requires Verify to accept
// every one: the verifier's canonical request must agree with the SDK's on any input an
// HTTP request can carry.
func FuzzSDKRoundTrip(f *testing.F) {
	f.Add("Filter.1.Value.1", "a b~c/d+e*f=g&h;i", "services/Cloud", "a   b", false, false)
	f.Add("é", "中\x00\xff", "my%20cloud/./x/../y//z", "  x  ", true, false)
	f.Add("", "", "", "", true, true)
	f.Add("AWSAccessKeyId", "AKIDOTHER", "a?b#c", "\tv\t", false, true)
	f.Fuzz(func(t *testing.T, name, value, path, header string, get, presign bool) {
		if !validHeaderValue(header) {
			t.Skip("not a value an HTTP header can carry")
		}
		if strings.HasPrefix(name, "X-Amz-") {
			t.Skip("a presigned request's own parameters are checked, not carried")
		}
		params := ec2Params("DescribeInstances")
		params.Add(name, value)
		method, body := "POST", params.Encode()
		target := &url.URL{Scheme: "http", Host: "127.0.0.1:8773", Path: "/" + path}
		if get {
			method, body = "GET", ""
			target.RawQuery = params.Encode()
		}
		r := mustRequest(method, target.String(), body)
		if !get {
			r.Header.Set("Content-Type", formType)
		}
		r.Header.Set("X-Custom", header)
		creds := aws.Credentials{AccessKeyID: testID, SecretAccessKey: testSecret}
		payload := hexSHA256([]byte(body))
		if presign {
			u, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), creds, r, payload, "ec2", "us-east-1", t0)
			if err != nil {
				t.Fatal(err)
			}
			r = mustRequest(method, u, body)
			for k, vs := range hdr {
				if !strings.EqualFold(k, "Host") {
					r.Header[k] = vs
				}
			}
		} else if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, payload, "ec2", "us-east-1", t0); err != nil {
			t.Fatal(err)
		}

		// What Go's server would build from these bytes: the request target as sent, the
		// Host header, header values trimmed of the whitespace around them.
		sr := &http.Request{Method: r.Method, Host: r.URL.Host, RequestURI: r.URL.RequestURI(), URL: r.URL,
			Header: http.Header{}, ContentLength: r.ContentLength}
		for k, vs := range r.Header {
			for _, v := range vs {
				sr.Header.Add(k, strings.Trim(v, " \t"))
			}
		}
		id, err := Verify(sr, []byte(body), params, testSecrets, t0)
		if err != nil || id != testID {
			t.Fatalf("Verify = %q, %v; want %q (%s %s)", id, err, testID, sr.Method, sr.RequestURI)
		}
	})
}

// validHeaderValue reports whether Go's HTTP server would accept v as a header value.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func mustRequest(method, target, body string) *http.Request {
	var r *http.Request
	var err error
	if body == "" {
		r, err = http.NewRequest(method, target, nil)
	} else {
		r, err = http.NewRequest(method, target, strings.NewReader(body))
	}
	if err != nil {
		panic(err)
	}
	return r
}
