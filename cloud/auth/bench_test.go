package auth

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// BenchmarkVerify measures one verification of a typical request in each form, as the
// cloud's front end pays it on every call.
func BenchmarkVerify(b *testing.B) {
	params := ec2Params("DescribeInstances", "MaxResults", "1000", "Filter.1.Name", "instance-state-name", "Filter.1.Value.1", "running")
	body := []byte(params.Encode())

	v4r := signSDK(b, newFormRequest(b, "POST", "http://127.0.0.1:8773/", params, formType), testID, testSecret, "us-east-1", "ec2", t0)
	v4srv := serverSide(v4r)

	v2p := ec2Params("DescribeInstances", "MaxResults", "1000", "Timestamp", t0.Format(time.RFC3339))
	signV2(v2p, "POST", "127.0.0.1:8773", "/", testID, testSecret, "HmacSHA256")
	v2srv := serverSide(newFormRequest(b, "POST", "http://127.0.0.1:8773/", v2p, formType))
	v2body := []byte(v2p.Encode())

	for _, c := range []struct {
		name   string
		r      *http.Request
		body   []byte
		params url.Values
	}{
		{"v4-header", v4srv, body, params},
		{"v2", v2srv, v2body, v2p},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := Verify(c.r, c.body, c.params, testSecrets, t0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// serverSide is r as Go's server would hand it to a handler.
func serverSide(r *http.Request) *http.Request {
	return &http.Request{Method: r.Method, Host: r.URL.Host, RequestURI: r.URL.RequestURI(), URL: r.URL,
		Header: r.Header.Clone(), ContentLength: r.ContentLength}
}
