package cloud

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// apiError is an EC2 error answer: the Code clients switch on, EC2's wording of the
// Message, and the HTTP status EC2 sends it with.
type apiError struct {
	Code, Message string
	Status        int
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// clientError is a 400 answer: the client asked for something wrong.
func clientError(code, format string, args ...any) *apiError {
	return &apiError{Code: code, Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

// serverError is a 500 answer: the cloud failed, not the request.
func serverError(code, format string, args ...any) *apiError {
	return &apiError{Code: code, Message: fmt.Sprintf(format, args...), Status: http.StatusInternalServerError}
}

// The errors several actions share, worded as EC2 words them.

func errMissingParameter(name string) *apiError {
	return clientError("MissingParameter", "The request must contain the parameter %s", name)
}

func errInvalidValue(name, value string) *apiError {
	return clientError("InvalidParameterValue", "Invalid value '%s' for %s", value, name)
}

func errInvalidParameter(format string, args ...any) *apiError {
	return clientError("InvalidParameterValue", format, args...)
}

func errCombination(format string, args ...any) *apiError {
	return clientError("InvalidParameterCombination", format, args...)
}

func errUnknownFilter(name string) *apiError {
	return clientError("InvalidParameterValue", "The filter '%s' is invalid", name)
}

func errInternal(err error) *apiError {
	return serverError("InternalError", "An internal error has occurred (%v)", err)
}

// errNotFound words a NotFound error for one or several ids, as EC2 does:
// "The instance ID 'i-1' does not exist" / "The instance IDs 'i-1, i-2' do not exist".
func errNotFound(code, what string, ids []string) *apiError {
	if len(ids) == 1 {
		return clientError(code, "The %s ID '%s' does not exist", what, ids[0])
	}
	return clientError(code, "The %s IDs '%s' do not exist", what, strings.Join(ids, ", "))
}

// errReservationGone: an honoured ClientToken whose instances have all been purged
// (the token should have gone with them).
var errReservationGone = errors.New("the reservation of this client token no longer exists")
