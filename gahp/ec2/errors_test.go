package ec2

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// answered builds the error the SDK returns for an HTTP answer with an API error.
func answered(status int, code, msg string) error {
	return fmt.Errorf("operation error EC2: RunInstances, %w", &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      &smithy.GenericAPIError{Code: code, Message: msg},
		},
		RequestID: "req-1",
	})
}

// transport builds the error the SDK returns when the HTTP client failed (status 0).
func transport(err error) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{}},
		Err:      &smithyhttp.RequestSendError{Err: err},
	}}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	for _, tc := range []struct {
		name  string
		err   error
		wrote bool
		want  class
	}{
		{"nil", nil, false, classNone},
		{"throttled 503", answered(503, "RequestLimitExceeded", "Request limit exceeded."), true, classThrottled},
		{"throttled 400", answered(400, "Throttling", "Rate exceeded"), true, classThrottled},
		{"ec2 throttled", answered(400, "EC2ThrottledException", ""), true, classThrottled},
		{"server fault", answered(500, "InternalError", "oops"), true, classServerFault},
		{"unavailable", answered(503, "Unavailable", "busy"), true, classServerFault},
		{"not found", answered(400, "InvalidInstanceID.NotFound", "no"), true, classRefused},
		{"auth", answered(401, "AuthFailure", "no"), true, classRefused},
		{"refused connection", transport(dial), false, classNotSent},
		{"reset after sending", transport(errors.New("read: connection reset by peer")), true, classMaybeActed},
		{"attempt timeout before sending", &smithy.CanceledError{Err: context.DeadlineExceeded}, false, classNotSent},
		{"attempt timeout after sending", &smithy.CanceledError{Err: context.DeadlineExceeded}, true, classMaybeActed},
		{"unreadable 200", &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 200}},
			Err:      &smithy.DeserializationError{Err: errors.New("unexpected EOF")},
		}}, true, classMaybeActed},
		{"no credentials", &v4.SigningError{Err: errors.New("failed to retrieve credentials")}, false, classCredentials},
		{"other", errors.New("serialization failed"), false, classInternal},
	} {
		if got := classify(tc.err, tc.wrote); got != tc.want {
			t.Errorf("%s: classify = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestErrorFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		err            error
		cls            class
		needCheck      string
		code, contains string
	}{
		{"not found", answered(400, "InvalidInstanceID.NotFound", "The instance ID 'i-1' does not exist"), classRefused, "",
			"E_HTTP_RESPONSE_NOT_200 (400)", "InvalidInstanceID.NotFound: The instance ID 'i-1' does not exist (request id req-1)"},
		{"auth", answered(401, "AuthFailure", "bad key"), classRefused, codeNeedCheckVMStart, "E_HTTP_RESPONSE_NOT_200 (401)", "AuthFailure"},
		{"server fault on start", answered(500, "InternalError", "oops"), classServerFault, codeNeedCheckVMStart, "NEED_CHECK_VM_START", "InternalError"},
		{"server fault on stop", answered(500, "InternalError", "oops"), classServerFault, "", "E_HTTP_RESPONSE_NOT_200 (500)", "InternalError"},
		{"transport on start", transport(errors.New("EOF")), classMaybeActed, codeNeedCheckVMStart, "NEED_CHECK_VM_START", "EOF"},
		{"transport on keypair", transport(errors.New("EOF")), classMaybeActed, codeNeedCheckSSHKey, "NEED_CHECK_SSHKEY", "EOF"},
		{"transport elsewhere", transport(errors.New("EOF")), classNotSent, "", "E_CURL_IO", "Transport error: EOF"},
		{"credentials", &v4.SigningError{Err: errors.New("no role")}, classCredentials, "", "E_CREDENTIALS", "no role"},
	} {
		f := errorFailure(tc.err, tc.cls, tc.needCheck)
		if f.code != tc.code || !strings.Contains(f.msg, tc.contains) {
			t.Errorf("%s: %q %q, want code %q and %q in the message", tc.name, f.code, f.msg, tc.code, tc.contains)
		}
	}
}
