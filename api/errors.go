package api

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an error with the HTTP status it maps to. Every error returned by
// the decoders in this package is an *Error with Status 400, and its Message
// is written for the client (it names the input and says what was expected).
// Use errors.As to get at it, or StatusOf for the status alone.
type Error struct {
	Status  int    // HTTP status code, e.g. http.StatusBadRequest
	Message string // message for the client, sent as ErrorBody.Error
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// ErrorBody is the JSON body of every error response of the protocol:
// {"error":"<message>"}.
type ErrorBody struct {
	Error string `json:"error"`
}

// StatusClientClosedRequest answers a request whose client went away
// before its answer (closed, or half-closed, its connection): nginx's 499.
// No client reads it (except a half-closed one); it is logged and counted
// as a cancellation, never as a client error.
const StatusClientClosedRequest = 499

// Errorf returns an *Error with the given status and a formatted message.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// BadRequest returns an *Error with status 400 and a formatted message.
func BadRequest(format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, format, args...)
}

// NotFound returns an *Error with status 404 and a formatted message.
func NotFound(format string, args ...any) *Error {
	return Errorf(http.StatusNotFound, format, args...)
}

// StatusOf returns the HTTP status for err: the Status of the first *Error in
// its chain, 200 for a nil error, and 500 for any other error.
func StatusOf(err error) int {
	if err == nil {
		return http.StatusOK
	}
	if e, ok := errors.AsType[*Error](err); ok && e.Status != 0 {
		return e.Status
	}
	return http.StatusInternalServerError
}
