package ec2

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// HTCondor's error codes (field 3 of a failure line), from its amazonCommands.cpp. The
// gridmanager matches some of them exactly (NEED_CHECK_*) and greps others: see
// httpErrorCode.
const (
	codeNeedCheckVMStart  = "NEED_CHECK_VM_START" // EC2_VM_START(_SPOT): the cloud may have started it
	codeNeedCheckSSHKey   = "NEED_CHECK_SSHKEY"   // EC2_VM_CREATE_KEYPAIR: the key may exist
	codeTransport         = "E_CURL_IO"           // the call failed in transport (HTCondor's curl error)
	codeInvalidServiceURL = "E_INVALID_SERVICE_URL"
	codeFileIO            = "E_FILE_IO"
	codeDeadline          = "E_DEADLINE_WOULD_BE_EXCEEDED"
	codeNoInstanceID      = "E_NO_INSTANCE_ID"
	codeNoSpotRequestID   = "E_NO_SPOT_REQUEST_ID"
	codeInternal          = "E_INTERNAL"
	codeGahp              = "GAHPERROR"
	codeCredentials       = "E_CREDENTIALS" // ours: credentials could not be had (FROM INSTANCE without a role)
)

// httpErrorCode is HTCondor's code for a non-200 answer, e.g. "E_HTTP_RESPONSE_NOT_200 (401)":
// the gridmanager looks for "(401)" in it to tell an authentication failure.
func httpErrorCode(status int) string {
	return fmt.Sprintf("E_HTTP_RESPONSE_NOT_200 (%d)", status)
}

// class is what an error proves about the cloud's state, which decides whether the call
// may be made again.
type class int

const (
	classNone        class = iota
	classThrottled         // RequestLimitExceeded and kin: refused for rate, nothing done
	classNotSent           // failed before a byte of the request left: nothing done
	classMaybeActed        // failed after the request was written: the cloud may have acted
	classServerFault       // a 5xx answer (not throttling): the cloud may have acted
	classRefused           // a 4xx answer: the cloud refused; final
	classCredentials       // no credentials to sign with: final
	classInternal          // anything else (a bug, a serialization failure): final
)

func (c class) String() string {
	return [...]string{"none", "throttled", "not sent", "may have acted", "server fault", "refused", "credentials", "internal"}[c]
}

// classify is the one place SDK errors are read. wrote says whether the attempt's request
// headers went out (from an httptrace hook): a transport error before that proves the cloud
// never saw the request; after it, the cloud may have acted on it.
func classify(err error, wrote bool) class {
	if err == nil {
		return classNone
	}
	// Transport failures first: the SDK wraps them in a ResponseError too (status 0).
	var send interface{ ConnectionError() bool }
	var canceled *smithy.CanceledError
	if errors.As(err, &send) && send.ConnectionError() || errors.As(err, &canceled) {
		// canceled: the attempt's own timeout (the caller checks its context first).
		if wrote {
			return classMaybeActed
		}
		return classNotSent
	}
	var deser *smithy.DeserializationError
	if status := httpStatus(err); status > 0 && status < 300 && errors.As(err, &deser) {
		// A 200 we cannot read: the cloud answered, so it may well have acted.
		return classMaybeActed
	}
	if status := httpStatus(err); status > 0 {
		if isThrottle(err) {
			return classThrottled
		}
		if status >= 500 {
			return classServerFault
		}
		return classRefused
	}
	if isThrottle(err) {
		return classThrottled
	}
	var signing *v4.SigningError
	if errors.As(err, &signing) {
		return classCredentials
	}
	if errors.As(err, &deser) {
		return classMaybeActed
	}
	return classInternal
}

// httpStatus is the status of the answer an error carries, or 0 if none came.
func httpStatus(err error) int {
	var resp *awshttp.ResponseError
	if errors.As(err, &resp) && resp.Response != nil && resp.Response.Response != nil {
		return resp.HTTPStatusCode()
	}
	return 0
}

// isThrottle reports an API error whose code means "slow down": the SDK's own list
// (RequestLimitExceeded, Throttling, EC2ThrottledException, SlowDown, ...) so the two never
// disagree.
func isThrottle(err error) bool {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	_, ok := retry.DefaultThrottleErrorCodes[apiErr.ErrorCode()]
	return ok
}

// rejectsParameter reports whether the cloud refused a request for a parameter it does
// not take (an EC2-compatible cloud without paging, say): the caller may ask again without
// the optional parameter.
func rejectsParameter(err error) bool {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode() {
	case "InvalidParameter", "InvalidParameterValue", "InvalidParameterCombination", "UnknownParameter":
		return true
	}
	return false
}

// IsNotFound reports an error saying the named resource does not exist
// (InvalidInstanceID.NotFound, InvalidKeyPair.NotFound, ...).
func IsNotFound(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && strings.HasSuffix(apiErr.ErrorCode(), ".NotFound")
}

// failure is a failed command's code and message, the fields after "1".
type failure struct {
	code, msg string
}

func (f *failure) fields() []string {
	return []string{"1", f.code, f.msg}
}

// errorFailure turns a final error into the failure line HTCondor's gridmanager expects.
// needCheck is the code for "the cloud may have acted" (NEED_CHECK_VM_START, ...) or ""
// for commands that report transport trouble as E_CURL_IO.
func errorFailure(err error, cls class, needCheck string) *failure {
	switch cls {
	case classNotSent, classMaybeActed:
		code := codeTransport
		if needCheck != "" {
			code = needCheck
		}
		return &failure{code, "Transport error: " + transportMessage(err)}
	case classCredentials:
		return &failure{codeCredentials, "Failed to get credentials: " + rootMessage(err)}
	}
	if status := httpStatus(err); status > 0 {
		f := &failure{code: httpErrorCode(status), msg: apiMessage(err, status)}
		if cls == classServerFault && needCheck != "" {
			// A server fault answering a start: the cloud may have started it (AWS asks for
			// a retry with the same client token). The gridmanager checks and decides.
			f.code = needCheck
		}
		return f
	}
	return &failure{codeInternal, rootMessage(err)}
}

// apiMessage is the failure message for an answered call: the AWS error code first (the
// gridmanager greps for InvalidInstanceID.NotFound, InvalidKeyPair.Duplicate, ...), then the
// cloud's message and request id. HTCondor sends the raw XML body; every check it makes is a
// substring test on the code, which this text passes too.
func apiMessage(err error, status int) string {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return fmt.Sprintf("HTTP response was %d, not 200: %s", status, rootMessage(err))
	}
	msg := apiErr.ErrorCode() + ": " + apiErr.ErrorMessage()
	if msg == ": " {
		msg = fmt.Sprintf("HTTP response was %d (%s), not 200, and no error was returned.", status, http.StatusText(status))
	}
	var rid interface{ ServiceRequestID() string }
	if errors.As(err, &rid) && rid.ServiceRequestID() != "" {
		msg += " (request id " + rid.ServiceRequestID() + ")"
	}
	return msg
}

// transportMessage says what went wrong on the wire: the HTTP client's error (it names the
// URL and the failing step, e.g. "dial tcp 127.0.0.1:1: connect: connection refused").
func transportMessage(err error) string {
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) && send.Err != nil {
		return send.Err.Error()
	}
	var canceled *smithy.CanceledError
	if errors.As(err, &canceled) {
		return "attempt timed out: " + rootMessage(err)
	}
	return rootMessage(err)
}

// rootMessage is the innermost error's text: the SDK's wrapping ("operation error EC2:
// RunInstances, https response error ...") adds nothing the code does not say.
func rootMessage(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}
