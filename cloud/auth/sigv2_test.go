package auth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestVerifyV2 sends Signature Version 2 requests over HTTP, signed by signV2 (written
// from AWS's description, apart from the verifier).
func TestVerifyV2(t *testing.T) {
	stamp := t0.Format("2006-01-02T15:04:05Z")
	// v2 builds a signed request: params signed for host (the server's own when ""), sent
	// to path with method.
	v2 := func(t *testing.T, base, method, path, host, sigMethod, id, secret string, params url.Values) *http.Request {
		t.Helper()
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		if host == "" {
			host = u.Host
		}
		signV2(params, method, host, path, id, secret, sigMethod)
		return newFormRequest(t, method, base+path, params, formType)
	}
	withStamp := func(kv ...string) url.Values {
		p := ec2Params("RunInstances", kv...)
		p.Set("Timestamp", stamp)
		return p
	}
	runParams := []string{"ImageId", "ami-12345678", "MinCount", "1", "MaxCount", "1", "UserData", "IyEvYmluL3NoCmVjaG8gaGk=",
		"KeyName", "my key~/+*", "SecurityGroup.1", "default", "TagSpecification.1.Tag.1.Value", "é 中"}
	cases := []struct {
		name     string
		build    func(t *testing.T, base string) *http.Request
		now      time.Time
		wantID   string
		wantCode string
		wantMsg  string
	}{
		{
			name: "POST form, HmacSHA256, Timestamp (VM::EC2, boto 2 forced)",
			build: func(t *testing.T, base string) *http.Request {
				return v2(t, base, "POST", "/", "", "HmacSHA256", testID, testSecret, withStamp(runParams...))
			},
			wantID: testID,
		},
		{
			name: "POST form with charset in Content-Type",
			build: func(t *testing.T, base string) *http.Request {
				r := v2(t, base, "POST", "/", "", "HmacSHA256", testID, testSecret, withStamp(runParams...))
				r.Header.Set("Content-Type", formType+"; charset=UTF-8")
				return r
			},
			wantID: testID,
		},
		{
			name: "HmacSHA1",
			build: func(t *testing.T, base string) *http.Request {
				return v2(t, base, "POST", "/", "", "HmacSHA1", testID, testSecret, withStamp(runParams...))
			},
			wantID: testID,
		},
		{
			name: "GET query (libcloud signature_version 2)",
			build: func(t *testing.T, base string) *http.Request {
				return v2(t, base, "GET", "/", "", "HmacSHA256", testID, testSecret, withStamp(runParams...))
			},
			wantID: testID,
		},
		{
			name: "endpoint with a path",
			build: func(t *testing.T, base string) *http.Request {
				return v2(t, base, "POST", "/services/Cloud/", "", "HmacSHA256", testID, testSecret, withStamp(runParams...))
			},
			wantID: testID,
		},
		{
			name: "Host with port, signed upper-case as sent",
			build: func(t *testing.T, base string) *http.Request {
				r := v2(t, base, "POST", "/", "EC2.Example.COM:8773", "HmacSHA256", testID, testSecret, withStamp(runParams...))
				r.Host = "EC2.Example.COM:8773"
				return r
			},
			wantID: testID,
		},
		{
			name: "Host sent with a port, signed without it",
			build: func(t *testing.T, base string) *http.Request {
				r := v2(t, base, "POST", "/", "ec2.example.com", "HmacSHA256", testID, testSecret, withStamp(runParams...))
				r.Host = "ec2.example.com:8773"
				return r
			},
			wantID: testID,
		},
		{
			name: "Host sent without a port, signed with the default one",
			build: func(t *testing.T, base string) *http.Request {
				r := v2(t, base, "POST", "/", "ec2.example.com:80", "HmacSHA256", testID, testSecret, withStamp(runParams...))
				r.Host = "ec2.example.com"
				return r
			},
			wantID: testID,
		},
		{
			name: "Expires in the future instead of Timestamp",
			build: func(t *testing.T, base string) *http.Request {
				p := ec2Params("DescribeRegions")
				p.Set("Expires", t0.Add(10*time.Minute).Format(time.RFC3339))
				return v2(t, base, "GET", "/", "", "HmacSHA256", testID, testSecret, p)
			},
			now:    t0.Add(9 * time.Minute),
			wantID: testID,
		},
		{
			name: "Timestamp with fractional seconds and an offset",
			build: func(t *testing.T, base string) *http.Request {
				p := ec2Params("DescribeRegions")
				p.Set("Timestamp", t0.In(time.FixedZone("x", 3600)).Format("2006-01-02T15:04:05.000-07:00"))
				return v2(t, base, "POST", "/", "", "HmacSHA256", testID, testSecret, p)
			},
			wantID: testID,
		},
		{
			name: "second account",
			build: func(t *testing.T, base string) *http.Request {
				return v2(t, base, "POST", "/", "", "HmacSHA256", otherID, otherSecret, withStamp(runParams...))
			},
			wantID: otherID,
		},

		// Failures.
		{
			name: "wrong secret",
			build: func(t *testing.T, base string) *http.Request {
				return v2(t, base, "POST", "/", "", "HmacSHA256", testID, otherSecret, withStamp(runParams...))
			},
			wantCode: CodeAuthFailure, wantMsg: "signature does not match",
		},
		{
			name: "unknown key",
			build: func(t *testing.T, base string) *http.Request {
				return v2(t, base, "POST", "/", "", "HmacSHA256", "AKIDNOBODY", testSecret, withStamp(runParams...))
			},
			wantCode: CodeAuthFailure, wantMsg: "AWS was not able to validate the provided access credentials: unknown access key id",
		},
		{
			name: "tampered parameter",
			build: func(t *testing.T, base string) *http.Request {
				p := withStamp(runParams...)
				r := v2(t, base, "POST", "/", "", "HmacSHA256", testID, testSecret, p)
				p.Set("MaxCount", "100")
				setBody(r, p.Encode())
				return r
			},
			wantCode: CodeAuthFailure, wantMsg: "signature does not match",
		},
		{
			name: "parameter added to the query string of a signed POST",
			build: func(t *testing.T, base string) *http.Request {
				r := v2(t, base, "POST", "/", "", "HmacSHA256", testID, testSecret, withStamp(runParams...))
				r.URL.RawQuery = "InstanceType=m5.24xlarge"
				return r
			},
			wantCode: CodeAuthFailure, wantMsg: "signature does not match",
		},
		{
			name: "sent to another path than signed",
			build: func(t *testing.T, base string) *http.Request {
				p := withStamp(runParams...)
				signV2(p, "POST", strings.TrimPrefix(base, "http://"), "/other", testID, testSecret, "HmacSHA256")
				return newFormRequest(t, "POST", base+"/", p, formType)
			},
			wantCode: CodeAuthFailure, wantMsg: "signature does not match",
		},
		{
			name: "signed as GET, sent as POST",
			build: func(t *testing.T, base string) *http.Request {
				p := withStamp(runParams...)
				signV2(p, "GET", strings.TrimPrefix(base, "http://"), "/", testID, testSecret, "HmacSHA256")
				return newFormRequest(t, "POST", base+"/", p, formType)
			},
			wantCode: CodeAuthFailure, wantMsg: "signature does not match",
		},
		{
			name: "signed for another port",
			build: func(t *testing.T, base string) *http.Request {
				r := v2(t, base, "POST", "/", "ec2.example.com:9999", "HmacSHA256", testID, testSecret, withStamp(runParams...))
				r.Host = "ec2.example.com:8773"
				return r
			},
			wantCode: CodeAuthFailure, wantMsg: "signature does not match",
		},
		{
			name: "expired Timestamp",
			build: func(t *testing.T, base string) *http.Request {
				return v2(t, base, "POST", "/", "", "HmacSHA256", testID, testSecret, withStamp(runParams...))
			},
			now:      t0.Add(16 * time.Minute),
			wantCode: CodeRequestExpired, wantMsg: "Request has expired",
		},
		{
			name: "Timestamp from the future",
			build: func(t *testing.T, base string) *http.Request {
				return v2(t, base, "POST", "/", "", "HmacSHA256", testID, testSecret, withStamp(runParams...))
			},
			now:      t0.Add(-16 * time.Minute),
			wantCode: CodeRequestExpired, wantMsg: "check the client's clock",
		},
		{
			name: "Expires passed",
			build: func(t *testing.T, base string) *http.Request {
				p := ec2Params("DescribeRegions")
				p.Set("Expires", t0.Add(time.Minute).Format(time.RFC3339))
				return v2(t, base, "GET", "/", "", "HmacSHA256", testID, testSecret, p)
			},
			now:      t0.Add(2 * time.Minute),
			wantCode: CodeRequestExpired, wantMsg: "signature expired at",
		},
		{
			name: "SignatureVersion 1",
			build: func(t *testing.T, base string) *http.Request {
				p := withStamp()
				signV2(p, "POST", strings.TrimPrefix(base, "http://"), "/", testID, testSecret, "HmacSHA256")
				p.Set("SignatureVersion", "1")
				return newFormRequest(t, "POST", base+"/", p, formType)
			},
			wantCode: CodeAuthFailure, wantMsg: "Signature Version 1 is not supported",
		},
		{
			name: "SignatureVersion missing",
			build: func(t *testing.T, base string) *http.Request {
				p := withStamp()
				signV2(p, "POST", strings.TrimPrefix(base, "http://"), "/", testID, testSecret, "HmacSHA256")
				p.Del("SignatureVersion")
				return newFormRequest(t, "POST", base+"/", p, formType)
			},
			wantCode: CodeAuthFailure, wantMsg: "SignatureVersion is missing",
		},
		{
			name: "SignatureMethod unknown",
			build: func(t *testing.T, base string) *http.Request {
				return v2(t, base, "POST", "/", "", "HmacMD5", testID, testSecret, withStamp())
			},
			wantCode: CodeAuthFailure, wantMsg: `SignatureMethod "HmacMD5" is not supported`,
		},
		{
			name: "neither Timestamp nor Expires",
			build: func(t *testing.T, base string) *http.Request {
				return v2(t, base, "POST", "/", "", "HmacSHA256", testID, testSecret, ec2Params("DescribeRegions"))
			},
			wantCode: CodeAuthFailure, wantMsg: "Timestamp or an Expires",
		},
		{
			name: "Signature missing",
			build: func(t *testing.T, base string) *http.Request {
				p := withStamp()
				signV2(p, "POST", strings.TrimPrefix(base, "http://"), "/", testID, testSecret, "HmacSHA256")
				p.Del("Signature")
				return newFormRequest(t, "POST", base+"/", p, formType)
			},
			wantCode: CodeAuthFailure, wantMsg: "Signature is missing",
		},
		{
			name: "Signature repeated",
			build: func(t *testing.T, base string) *http.Request {
				p := withStamp()
				signV2(p, "POST", strings.TrimPrefix(base, "http://"), "/", testID, testSecret, "HmacSHA256")
				p.Add("Signature", "AAAA")
				return newFormRequest(t, "POST", base+"/", p, formType)
			},
			wantCode: CodeAuthFailure, wantMsg: "Signature parameter is given 2 times",
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

// TestVerifyV2KnownAnswer checks the verifier against the example in AWS's Signature
// Version 2 documentation, signed by AWS: a GET with a zoneless Timestamp.
func TestVerifyV2KnownAnswer(t *testing.T) {
	r := httptest.NewRequest("GET", "https://elasticmapreduce.amazonaws.com/?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Action=DescribeJobFlows&SignatureMethod=HmacSHA256&SignatureVersion=2&Timestamp=2011-10-03T15%3A19%3A30&Version=2009-03-31&Signature=i91nKc4PWAt0JJIdXwz9HxZCJDdiy6cf%2FMj6vPxyYIs%3D", nil)
	secrets := func(id string) (string, bool) {
		return "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", id == "AKIAIOSFODNN7EXAMPLE"
	}
	id, err := Verify(r, nil, r.URL.Query(), secrets, time.Date(2011, 10, 3, 15, 25, 0, 0, time.UTC))
	if err != nil || id != "AKIAIOSFODNN7EXAMPLE" {
		t.Fatalf("Verify = %q, %v; want AKIAIOSFODNN7EXAMPLE, nil", id, err)
	}
}

// TestVerifyV2UnescapedPlus: a client that leaves the base64 '+' of its signature
// unescaped in a query string has it decoded as a space; the signature still verifies.
func TestVerifyV2UnescapedPlus(t *testing.T) {
	for i := 0; i < 1000; i++ {
		p := ec2Params("DescribeRegions", "Nonce", strings.Repeat("n", i))
		p.Set("Timestamp", t0.Format(time.RFC3339))
		signV2(p, "GET", "ec2.example.com", "/", testID, testSecret, "HmacSHA256")
		sig := p.Get("Signature")
		if !strings.Contains(sig, "+") {
			continue
		}
		p.Del("Signature")
		raw := p.Encode() + "&Signature=" + strings.ReplaceAll(sig, "/", "%2F") // '+' left bare
		r := httptest.NewRequest("GET", "http://ec2.example.com/?"+raw, nil)
		params, err := url.ParseQuery(raw)
		if err != nil {
			t.Fatal(err)
		}
		id, err := Verify(r, nil, params, testSecrets, t0)
		wantResult(t, result{id: id, err: err}, testID, "", "")
		return
	}
	t.Fatal("no signature with a '+' in 1000 tries")
}

// TestVerifyPrecedence: a request carrying a SigV4 header and SigV2 parameters is judged
// by the header alone, which covers the parameters too.
func TestVerifyPrecedence(t *testing.T) {
	s := newTestServer(t, func() time.Time { return t0 })
	p := ec2Params("DescribeRegions", "Timestamp", t0.Format(time.RFC3339))
	signV2(p, "POST", "wrong.example.com", "/", testID, otherSecret, "HmacSHA256") // a V2 signature that would fail
	r := signSDK(t, newFormRequest(t, "POST", s.URL+"/", p, formType), otherID, otherSecret, "us-east-1", "ec2", t0)
	wantResult(t, s.do(t, r), otherID, "", "")
}
