package auth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const formType = "application/x-www-form-urlencoded"

// TestVerifyV4Header sends SigV4-signed requests over HTTP to a server that calls Verify,
// so the request Verify sees is the one Go's server builds from the wire (Host with the
// port, Content-Length, RequestURI).
func TestVerifyV4Header(t *testing.T) {
	describe := ec2Params("DescribeInstances", "InstanceId.1", "i-0123456789abcdef0",
		"Filter.1.Name", "tag:Name", "Filter.1.Value.1", "a b~c/d+e*f=g&h", "Filter.1.Value.2", "é中")
	cases := []struct {
		name     string
		build    func(t *testing.T, base string) *http.Request
		now      time.Time // zero: t0 + 1 minute
		wantID   string
		wantCode string
		wantMsg  string
	}{
		{
			name: "sdk POST form, Content-Type without charset (aws-sdk-go-v2)",
			build: func(t *testing.T, base string) *http.Request {
				return signSDK(t, newFormRequest(t, "POST", base+"/", describe, formType), testID, testSecret, "us-east-1", "ec2", t0)
			},
			wantID: testID,
		},
		{
			name: "sdk POST form with charset in Content-Type (boto3, awscli)",
			build: func(t *testing.T, base string) *http.Request {
				return signSDK(t, newFormRequest(t, "POST", base+"/", describe, formType+"; charset=utf-8"), testID, testSecret, "us-east-1", "ec2", t0)
			},
			wantID: testID,
		},
		{
			name: "sdk GET with the parameters in the query string (libcloud)",
			build: func(t *testing.T, base string) *http.Request {
				return signSDK(t, newFormRequest(t, "GET", base+"/", describe, ""), testID, testSecret, "us-east-1", "ec2", t0)
			},
			wantID: testID,
		},
		{
			name: "sdk POST to an endpoint with a path (Eucalyptus, OpenStack style)",
			build: func(t *testing.T, base string) *http.Request {
				return signSDK(t, newFormRequest(t, "POST", base+"/services/Cloud", describe, formType), testID, testSecret, "us-east-1", "ec2", t0)
			},
			wantID: testID,
		},
		{
			name: "sdk POST to a path with escapes and spaces",
			build: func(t *testing.T, base string) *http.Request {
				return signSDK(t, newFormRequest(t, "POST", base+"/my%20cloud/a%2Fb/~x", describe, formType), testID, testSecret, "us-east-1", "ec2", t0)
			},
			wantID: testID,
		},
		{
			name: "scope of boto 2 pointed at an IP address: region 0, service 127",
			build: func(t *testing.T, base string) *http.Request {
				return signSDK(t, newFormRequest(t, "POST", base+"/", describe, formType), testID, testSecret, "0", "127", t0)
			},
			wantID: testID,
		},
		{
			name: "hand-made boto 2 request: comma-only separators, charset=UTF-8, region 0 service 127",
			build: func(t *testing.T, base string) *http.Request {
				r := newFormRequest(t, "POST", base+"/", ec2Params("DescribeRegions", "Version", "2014-10-01"), formType+"; charset=UTF-8")
				refSignV4(r, testID, testSecret, "0", "127", t0, nil, ",", "")
				return r
			},
			wantID: testID,
		},
		{
			name: "hand-made HTCondor-style scope: the host name as region and service",
			build: func(t *testing.T, base string) *http.Request {
				r := newFormRequest(t, "POST", base+"/", describe, formType)
				r.Host = "localhost:8773"
				refSignV4(r, testID, testSecret, "localhost", "localhost", t0, nil, ", ", "")
				return r
			},
			wantID: testID,
		},
		{
			name: "Host with a port other than the server's, signed as sent",
			build: func(t *testing.T, base string) *http.Request {
				r := newFormRequest(t, "POST", base+"/", describe, formType)
				r.Host = "EC2.Example.com:8773"
				return signSDK(t, r, testID, testSecret, "us-east-1", "ec2", t0)
			},
			wantID: testID,
		},
		{
			name: "signed header with runs of spaces and surrounding spaces",
			build: func(t *testing.T, base string) *http.Request {
				r := newFormRequest(t, "POST", base+"/", describe, formType)
				r.Header.Set("X-Custom", "  a   b  c   ")
				refSignV4(r, testID, testSecret, "us-east-1", "ec2", t0, []string{"x-custom", "content-type"}, ", ", "")
				return r
			},
			wantID: testID,
		},
		{
			name: "sdk signs a header with runs of spaces",
			build: func(t *testing.T, base string) *http.Request {
				r := newFormRequest(t, "POST", base+"/", describe, formType)
				r.Header.Set("X-Custom", "a   b    c")
				return signSDK(t, r, testID, testSecret, "us-east-1", "ec2", t0)
			},
			wantID: testID,
		},
		{
			name: "repeated signed header, values joined with commas",
			build: func(t *testing.T, base string) *http.Request {
				r := newFormRequest(t, "POST", base+"/", describe, formType)
				r.Header.Add("X-Multi", "one")
				r.Header.Add("X-Multi", " two  2 ")
				return signSDK(t, r, testID, testSecret, "us-east-1", "ec2", t0)
			},
			wantID: testID,
		},
		{
			name: "Date header instead of X-Amz-Date",
			build: func(t *testing.T, base string) *http.Request {
				r := newFormRequest(t, "POST", base+"/", describe, formType)
				r.Header.Set("Date", t0.Format(http.TimeFormat))
				refSignV4(r, testID, testSecret, "us-east-1", "ec2", t0, []string{"date"}, ", ", "")
				return r
			},
			wantID: testID,
		},
		{
			name: "x-amz-content-sha256 matching the body",
			build: func(t *testing.T, base string) *http.Request {
				r := newFormRequest(t, "POST", base+"/", describe, formType)
				r.Header.Set("X-Amz-Content-Sha256", hexSHA256([]byte(describe.Encode())))
				return signSDK(t, r, testID, testSecret, "us-east-1", "ec2", t0)
			},
			wantID: testID,
		},
		{
			name: "x-amz-content-sha256 UNSIGNED-PAYLOAD on a GET",
			build: func(t *testing.T, base string) *http.Request {
				r := newFormRequest(t, "GET", base+"/", describe, "")
				r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
				refSignV4(r, testID, testSecret, "us-east-1", "ec2", t0, []string{"x-amz-content-sha256"}, ", ", "UNSIGNED-PAYLOAD")
				return r
			},
			wantID: testID,
		},
		{
			name: "second account",
			build: func(t *testing.T, base string) *http.Request {
				return signSDK(t, newFormRequest(t, "POST", base+"/", describe, formType), otherID, otherSecret, "us-east-1", "ec2", t0)
			},
			wantID: otherID,
		},
		{
			name: "clock 14 minutes ahead is accepted",
			build: func(t *testing.T, base string) *http.Request {
				return signSDK(t, newFormRequest(t, "POST", base+"/", describe, formType), testID, testSecret, "us-east-1", "ec2", t0)
			},
			now:    t0.Add(14 * time.Minute),
			wantID: testID,
		},
		{
			name: "clock 14 minutes behind is accepted",
			build: func(t *testing.T, base string) *http.Request {
				return signSDK(t, newFormRequest(t, "POST", base+"/", describe, formType), testID, testSecret, "us-east-1", "ec2", t0)
			},
			now:    t0.Add(-14 * time.Minute),
			wantID: testID,
		},

		// Failures.
		{
			name: "wrong secret",
			build: func(t *testing.T, base string) *http.Request {
				return signSDK(t, newFormRequest(t, "POST", base+"/", describe, formType), testID, otherSecret, "us-east-1", "ec2", t0)
			},
			wantCode: CodeAuthFailure, wantMsg: "signature does not match",
		},
		{
			name: "another account's secret",
			build: func(t *testing.T, base string) *http.Request {
				return signSDK(t, newFormRequest(t, "POST", base+"/", describe, formType), otherID, testSecret, "us-east-1", "ec2", t0)
			},
			wantCode: CodeAuthFailure, wantMsg: "signature does not match",
		},
		{
			name: "unknown access key",
			build: func(t *testing.T, base string) *http.Request {
				return signSDK(t, newFormRequest(t, "POST", base+"/", describe, formType), "AKIDNOBODY", testSecret, "us-east-1", "ec2", t0)
			},
			wantCode: CodeAuthFailure, wantMsg: "AWS was not able to validate the provided access credentials: unknown access key id \"AKIDNOBODY\"",
		},
		{
			name: "body parameter tampered with after signing",
			build: func(t *testing.T, base string) *http.Request {
				r := signSDK(t, newFormRequest(t, "POST", base+"/", ec2Params("TerminateInstances", "InstanceId.1", "i-1"), formType), testID, testSecret, "us-east-1", "ec2", t0)
				setBody(r, ec2Params("TerminateInstances", "InstanceId.1", "i-2").Encode())
				return r
			},
			wantCode: CodeAuthFailure, wantMsg: "signature does not match",
		},
		{
			name: "query parameter tampered with after signing",
			build: func(t *testing.T, base string) *http.Request {
				r := signSDK(t, newFormRequest(t, "GET", base+"/", ec2Params("TerminateInstances", "InstanceId.1", "i-1"), ""), testID, testSecret, "us-east-1", "ec2", t0)
				r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "i-1", "i-2", 1)
				return r
			},
			wantCode: CodeAuthFailure, wantMsg: "signature does not match",
		},
		{
			name: "query parameter added after signing",
			build: func(t *testing.T, base string) *http.Request {
				r := signSDK(t, newFormRequest(t, "POST", base+"/", describe, formType), testID, testSecret, "us-east-1", "ec2", t0)
				r.URL.RawQuery = "DryRun=false"
				return r
			},
			wantCode: CodeAuthFailure, wantMsg: "signature does not match",
		},
		{
			name: "signed header changed after signing",
			build: func(t *testing.T, base string) *http.Request {
				r := signSDK(t, newFormRequest(t, "POST", base+"/", describe, formType), testID, testSecret, "us-east-1", "ec2", t0)
				r.Header.Set("Content-Type", "text/plain")
				return r
			},
			wantCode: CodeAuthFailure, wantMsg: "signature does not match",
		},
		{
			name: "sent to another host than signed for",
			build: func(t *testing.T, base string) *http.Request {
				r := signSDK(t, newFormRequest(t, "POST", base+"/", describe, formType), testID, testSecret, "us-east-1", "ec2", t0)
				r.Host = "elsewhere.example.com"
				return r
			},
			wantCode: CodeAuthFailure, wantMsg: "signature does not match",
		},
		{
			name: "signature over a different scope than the header claims",
			build: func(t *testing.T, base string) *http.Request {
				r := signSDK(t, newFormRequest(t, "POST", base+"/", describe, formType), testID, testSecret, "us-east-1", "ec2", t0)
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/us-east-1/", "/us-west-2/", 1))
				return r
			},
			wantCode: CodeAuthFailure, wantMsg: "signature does not match",
		},
		{
			name: "signature that is not hex",
			build: func(t *testing.T, base string) *http.Request {
				r := signSDK(t, newFormRequest(t, "POST", base+"/", describe, formType), testID, testSecret, "us-east-1", "ec2", t0)
				a := r.Header.Get("Authorization")
				r.Header.Set("Authorization", a[:strings.Index(a, "Signature=")]+"Signature=zz")
				return r
			},
			wantCode: CodeAuthFailure, wantMsg: "signature does not match",
		},
		{
			name: "expired: clock 16 minutes ahead",
			build: func(t *testing.T, base string) *http.Request {
				return signSDK(t, newFormRequest(t, "POST", base+"/", describe, formType), testID, testSecret, "us-east-1", "ec2", t0)
			},
			now:      t0.Add(16 * time.Minute),
			wantCode: CodeRequestExpired, wantMsg: "Request has expired",
		},
		{
			name: "expired: signed 16 minutes in the future",
			build: func(t *testing.T, base string) *http.Request {
				return signSDK(t, newFormRequest(t, "POST", base+"/", describe, formType), testID, testSecret, "us-east-1", "ec2", t0)
			},
			now:      t0.Add(-16 * time.Minute),
			wantCode: CodeRequestExpired, wantMsg: "at most 15m0s",
		},
		{
			name: "expired request with a wrong secret is AuthFailure",
			build: func(t *testing.T, base string) *http.Request {
				return signSDK(t, newFormRequest(t, "POST", base+"/", describe, formType), testID, otherSecret, "us-east-1", "ec2", t0)
			},
			now:      t0.Add(time.Hour),
			wantCode: CodeAuthFailure, wantMsg: "signature does not match",
		},
		{
			name: "X-Amz-Date not signed",
			build: func(t *testing.T, base string) *http.Request {
				r := signSDK(t, newFormRequest(t, "POST", base+"/", describe, formType), testID, testSecret, "us-east-1", "ec2", t0)
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), ";x-amz-date", "", 1))
				return r
			},
			wantCode: CodeAuthFailure, wantMsg: "X-Amz-Date header must be one of the SignedHeaders",
		},
		{
			name: "host not signed",
			build: func(t *testing.T, base string) *http.Request {
				r := signSDK(t, newFormRequest(t, "POST", base+"/", describe, formType), testID, testSecret, "us-east-1", "ec2", t0)
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "host;", "", 1))
				return r
			},
			wantCode: CodeAuthFailure, wantMsg: "Host header must be one of the SignedHeaders",
		},
		{
			name: "no date at all",
			build: func(t *testing.T, base string) *http.Request {
				r := signSDK(t, newFormRequest(t, "POST", base+"/", describe, formType), testID, testSecret, "us-east-1", "ec2", t0)
				r.Header.Del("X-Amz-Date")
				return r
			},
			wantCode: CodeAuthFailure, wantMsg: "no X-Amz-Date or Date header",
		},
		{
			name: "malformed X-Amz-Date",
			build: func(t *testing.T, base string) *http.Request {
				r := signSDK(t, newFormRequest(t, "POST", base+"/", describe, formType), testID, testSecret, "us-east-1", "ec2", t0)
				r.Header.Set("X-Amz-Date", t0.Format(time.RFC3339))
				return r
			},
			wantCode: CodeAuthFailure, wantMsg: "ISO 8601 basic format",
		},
		{
			name: "credential scope date differs from X-Amz-Date",
			build: func(t *testing.T, base string) *http.Request {
				r := signSDK(t, newFormRequest(t, "POST", base+"/", describe, formType), testID, testSecret, "us-east-1", "ec2", t0)
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/20261123/", "/20261122/", 1))
				return r
			},
			wantCode: CodeAuthFailure, wantMsg: "credential scope date",
		},
		{
			name: "x-amz-content-sha256 that lies about the body",
			build: func(t *testing.T, base string) *http.Request {
				r := newFormRequest(t, "POST", base+"/", describe, formType)
				r.Header.Set("X-Amz-Content-Sha256", hexSHA256([]byte("Action=DescribeRegions")))
				refSignV4(r, testID, testSecret, "us-east-1", "ec2", t0, []string{"x-amz-content-sha256"}, ", ", hexSHA256([]byte("Action=DescribeRegions")))
				return r
			},
			wantCode: CodeAuthFailure, wantMsg: "x-amz-content-sha256 does not match",
		},
		{
			name: "UNSIGNED-PAYLOAD with a form body",
			build: func(t *testing.T, base string) *http.Request {
				r := newFormRequest(t, "POST", base+"/", describe, formType)
				r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
				refSignV4(r, testID, testSecret, "us-east-1", "ec2", t0, []string{"x-amz-content-sha256"}, ", ", "UNSIGNED-PAYLOAD")
				return r
			},
			wantCode: CodeAuthFailure, wantMsg: "UNSIGNED-PAYLOAD but the request has a body",
		},
		{
			name: "another Authorization scheme",
			build: func(t *testing.T, base string) *http.Request {
				r := newFormRequest(t, "POST", base+"/", describe, formType)
				r.Header.Set("Authorization", "AWS "+testID+":c2lnbmF0dXJl")
				return r
			},
			wantCode: CodeAuthFailure, wantMsg: `unsupported Authorization scheme "AWS"`,
		},
		{
			name: "Authorization without Signature",
			build: func(t *testing.T, base string) *http.Request {
				r := newFormRequest(t, "POST", base+"/", describe, formType)
				r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testID+"/20261123/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date")
				r.Header.Set("X-Amz-Date", "20261123T120000Z")
				return r
			},
			wantCode: CodeAuthFailure, wantMsg: "it has no Signature",
		},
		{
			name: "malformed credential",
			build: func(t *testing.T, base string) *http.Request {
				r := newFormRequest(t, "POST", base+"/", describe, formType)
				r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testID+"/20261123/us-east-1/ec2, SignedHeaders=host;x-amz-date, Signature=00")
				return r
			},
			wantCode: CodeAuthFailure, wantMsg: "malformed credential",
		},
		{
			name: "missing authentication",
			build: func(t *testing.T, base string) *http.Request {
				return newFormRequest(t, "POST", base+"/", describe, formType)
			},
			wantCode: CodeAuthFailure, wantMsg: "missing authentication",
		},
		{
			name: "presigned parameters in the body",
			build: func(t *testing.T, base string) *http.Request {
				p := ec2Params("DescribeRegions", "X-Amz-Algorithm", "AWS4-HMAC-SHA256", "X-Amz-Signature", "00")
				return newFormRequest(t, "POST", base+"/", p, formType)
			},
			wantCode: CodeAuthFailure, wantMsg: "must be in the URL's query string",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			now := c.now
			if now.IsZero() {
				now = t0.Add(time.Minute)
			}
			s := newTestServer(t, func() time.Time { return now })
			got := s.do(t, c.build(t, s.URL))
			wantResult(t, got, c.wantID, c.wantCode, c.wantMsg)
		})
	}
}

// TestVerifyV4Presigned sends requests presigned by aws-sdk-go-v2 in their query string.
func TestVerifyV4Presigned(t *testing.T) {
	params := ec2Params("DescribeInstances", "InstanceId.1", "i-1", "Filter.1.Value.1", "x y/z")
	withExpires := func(seconds string) url.Values {
		p := ec2Params("DescribeInstances", "InstanceId.1", "i-1")
		p.Set("X-Amz-Expires", seconds)
		return p
	}
	emptyHash := hexSHA256(nil)
	cases := []struct {
		name     string
		build    func(t *testing.T, base string) *http.Request
		now      time.Time
		wantID   string
		wantCode string
		wantMsg  string
	}{
		{
			name: "GET, UNSIGNED-PAYLOAD, X-Amz-Expires 300",
			build: func(t *testing.T, base string) *http.Request {
				return presignSDK(t, newFormRequest(t, "GET", base+"/", withExpires("300"), ""), testID, testSecret, "us-east-1", "ec2", "UNSIGNED-PAYLOAD", t0)
			},
			now:    t0.Add(4 * time.Minute),
			wantID: testID,
		},
		{
			name: "GET, empty body's hash (EC2 presigners), no X-Amz-Expires",
			build: func(t *testing.T, base string) *http.Request {
				return presignSDK(t, newFormRequest(t, "GET", base+"/", params, ""), testID, testSecret, "us-east-1", "ec2", emptyHash, t0)
			},
			wantID: testID,
		},
		{
			name: "scope region 0, service 127",
			build: func(t *testing.T, base string) *http.Request {
				return presignSDK(t, newFormRequest(t, "GET", base+"/", params, ""), testID, testSecret, "0", "127", "UNSIGNED-PAYLOAD", t0)
			},
			wantID: testID,
		},
		{
			name: "POST with a form body whose hash is signed",
			build: func(t *testing.T, base string) *http.Request {
				r := newFormRequest(t, "POST", base+"/", params, formType)
				return presignSDK(t, r, testID, testSecret, "us-east-1", "ec2", hexSHA256([]byte(params.Encode())), t0)
			},
			wantID: testID,
		},
		{
			name: "a week's X-Amz-Expires, used six days later",
			build: func(t *testing.T, base string) *http.Request {
				return presignSDK(t, newFormRequest(t, "GET", base+"/", withExpires("604800"), ""), testID, testSecret, "us-east-1", "ec2", "UNSIGNED-PAYLOAD", t0)
			},
			now:    t0.Add(6 * 24 * time.Hour),
			wantID: testID,
		},
		{
			name: "expired: X-Amz-Expires 300, used after 6 minutes",
			build: func(t *testing.T, base string) *http.Request {
				return presignSDK(t, newFormRequest(t, "GET", base+"/", withExpires("300"), ""), testID, testSecret, "us-east-1", "ec2", "UNSIGNED-PAYLOAD", t0)
			},
			now:      t0.Add(6 * time.Minute),
			wantCode: CodeRequestExpired, wantMsg: "valid until",
		},
		{
			name: "not yet valid: signed 16 minutes ahead",
			build: func(t *testing.T, base string) *http.Request {
				return presignSDK(t, newFormRequest(t, "GET", base+"/", withExpires("3600"), ""), testID, testSecret, "us-east-1", "ec2", "UNSIGNED-PAYLOAD", t0)
			},
			now:      t0.Add(-16 * time.Minute),
			wantCode: CodeRequestExpired, wantMsg: "not yet valid",
		},
		{
			name: "expired: no X-Amz-Expires, used after 16 minutes",
			build: func(t *testing.T, base string) *http.Request {
				return presignSDK(t, newFormRequest(t, "GET", base+"/", params, ""), testID, testSecret, "us-east-1", "ec2", emptyHash, t0)
			},
			now:      t0.Add(16 * time.Minute),
			wantCode: CodeRequestExpired, wantMsg: "Request has expired",
		},
		{
			name: "X-Amz-Expires beyond a week",
			build: func(t *testing.T, base string) *http.Request {
				return presignSDK(t, newFormRequest(t, "GET", base+"/", withExpires("604801"), ""), testID, testSecret, "us-east-1", "ec2", "UNSIGNED-PAYLOAD", t0)
			},
			wantCode: CodeAuthFailure, wantMsg: "X-Amz-Expires",
		},
		{
			name: "UNSIGNED-PAYLOAD with a form body",
			build: func(t *testing.T, base string) *http.Request {
				r := newFormRequest(t, "POST", base+"/", params, formType)
				return presignSDK(t, r, testID, testSecret, "us-east-1", "ec2", "UNSIGNED-PAYLOAD", t0)
			},
			wantCode: CodeAuthFailure, wantMsg: "UNSIGNED-PAYLOAD but has a body",
		},
		{
			name: "query parameter tampered with",
			build: func(t *testing.T, base string) *http.Request {
				r := presignSDK(t, newFormRequest(t, "GET", base+"/", params, ""), testID, testSecret, "us-east-1", "ec2", "UNSIGNED-PAYLOAD", t0)
				r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "i-1", "i-2", 1)
				return r
			},
			wantCode: CodeAuthFailure, wantMsg: "signature does not match",
		},
		{
			name: "wrong secret",
			build: func(t *testing.T, base string) *http.Request {
				return presignSDK(t, newFormRequest(t, "GET", base+"/", params, ""), testID, otherSecret, "us-east-1", "ec2", "UNSIGNED-PAYLOAD", t0)
			},
			wantCode: CodeAuthFailure, wantMsg: "signature does not match",
		},
		{
			name: "unknown key",
			build: func(t *testing.T, base string) *http.Request {
				return presignSDK(t, newFormRequest(t, "GET", base+"/", params, ""), "AKIDNOBODY", testSecret, "us-east-1", "ec2", "UNSIGNED-PAYLOAD", t0)
			},
			wantCode: CodeAuthFailure, wantMsg: "unknown access key id",
		},
		{
			name: "signature parameter missing",
			build: func(t *testing.T, base string) *http.Request {
				r := presignSDK(t, newFormRequest(t, "GET", base+"/", params, ""), testID, testSecret, "us-east-1", "ec2", "UNSIGNED-PAYLOAD", t0)
				q := r.URL.Query()
				q.Del("X-Amz-Signature")
				r.URL.RawQuery = q.Encode()
				return r
			},
			wantCode: CodeAuthFailure, wantMsg: "without the X-Amz-Signature query parameter",
		},
		{
			name: "signature parameter repeated",
			build: func(t *testing.T, base string) *http.Request {
				r := presignSDK(t, newFormRequest(t, "GET", base+"/", params, ""), testID, testSecret, "us-east-1", "ec2", "UNSIGNED-PAYLOAD", t0)
				r.URL.RawQuery += "&X-Amz-Signature=00"
				return r
			},
			wantCode: CodeAuthFailure, wantMsg: "given 2 times",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			now := c.now
			if now.IsZero() {
				now = t0.Add(time.Minute)
			}
			s := newTestServer(t, func() time.Time { return now })
			got := s.do(t, c.build(t, s.URL))
			wantResult(t, got, c.wantID, c.wantCode, c.wantMsg)
		})
	}
}

// TestVerifyV4KnownAnswer checks the verifier against AWS's published SigV4 test-suite
// example "get-vanilla", whose signature was computed by AWS, not by any code here.
func TestVerifyV4KnownAnswer(t *testing.T) {
	r := httptest.NewRequest("GET", "http://example.amazonaws.com/", nil)
	r.Header.Set("X-Amz-Date", "20150830T123600Z")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
	secrets := func(id string) (string, bool) { return "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", id == "AKIDEXAMPLE" }
	id, err := Verify(r, nil, url.Values{}, secrets, time.Date(2015, 8, 30, 12, 40, 0, 0, time.UTC))
	if err != nil || id != "AKIDEXAMPLE" {
		t.Fatalf("Verify = %q, %v; want AKIDEXAMPLE, nil", id, err)
	}
}

// TestVerifyBehindStripPrefix shows that a handler mounted under http.StripPrefix still
// verifies: the signature covers the path the client sent, which RequestURI keeps.
func TestVerifyBehindStripPrefix(t *testing.T) {
	var got result
	mux := http.NewServeMux()
	mux.Handle("/services/", http.StripPrefix("/services", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := Verify(r, nil, r.URL.Query(), testSecrets, t0)
		got = result{id: id, err: err}
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	r := signSDK(t, newFormRequest(t, "GET", srv.URL+"/services/Cloud", ec2Params("DescribeRegions"), ""), testID, testSecret, "us-east-1", "ec2", t0)
	resp, err := srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantResult(t, got, testID, "", "")
}

// TestVerifyNilSecrets: a nil Secrets knows no key, rather than panicking.
func TestVerifyNilSecrets(t *testing.T) {
	r := signSDK(t, newFormRequest(t, "GET", "http://127.0.0.1:8773/", ec2Params("DescribeRegions"), ""), testID, testSecret, "us-east-1", "ec2", t0)
	sr := httptest.NewRequest(r.Method, r.URL.String(), nil)
	sr.Header = r.Header
	_, err := Verify(sr, nil, sr.URL.Query(), nil, t0)
	wantResult(t, result{err: err}, "", CodeAuthFailure, "unknown access key id")
}

func TestErrorString(t *testing.T) {
	e := &Error{Code: CodeAuthFailure, Message: "missing authentication"}
	if got, want := e.Error(), "AuthFailure: missing authentication"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
