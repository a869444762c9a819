package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Kind says what went wrong with a request, whatever protocol carried it.
// The core (the engine, the Redis front) returns kinds, never protocol
// codes; each edge maps them to its own codes once (KServe HTTP:
// Kind.HTTPStatus; the axon: its own rules; gRPC: status codes).
type Kind uint8

// Kinds of failure.
const (
	// KindInternal is an unclassified failure (the zero Kind): 500.
	KindInternal Kind = iota
	// KindBadInput: the request is malformed or does not fit the model
	// (names, types, shapes, parameters): 400.
	KindBadInput
	// KindNotFound: no such model, version or endpoint: 404.
	KindNotFound
	// KindBusy: a queue is full; retry later: 429.
	KindBusy
	// KindUnavailable: the model is not ready or being replaced, or a
	// backend (Redis, the workers) is unreachable: 503.
	KindUnavailable
	// KindExpired: the request's deadline passed before or while it ran:
	// 503 on KServe.
	KindExpired
	// KindCancelled: the client went away before its answer: 499.
	KindCancelled
	// KindTooLarge: the request is larger than a limit: 413.
	KindTooLarge
)

var kindNames = [...]string{KindInternal: "internal", KindBadInput: "bad_input", KindNotFound: "not_found",
	KindBusy: "busy", KindUnavailable: "unavailable", KindExpired: "expired", KindCancelled: "cancelled",
	KindTooLarge: "too_large"}

// String is the kind's name: internal, bad_input, not_found, busy,
// unavailable, expired, cancelled, too_large.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind is the inverse of String.
func ParseKind(s string) (Kind, bool) {
	for k, n := range kindNames {
		if n == s {
			return Kind(k), true
		}
	}
	return 0, false
}

var kindStatus = [...]int{KindInternal: http.StatusInternalServerError, KindBadInput: http.StatusBadRequest,
	KindNotFound: http.StatusNotFound, KindBusy: http.StatusTooManyRequests, KindUnavailable: http.StatusServiceUnavailable,
	KindExpired: http.StatusServiceUnavailable, KindCancelled: StatusClientClosedRequest,
	KindTooLarge: http.StatusRequestEntityTooLarge}

// HTTPStatus is the KServe HTTP status of the kind.
func (k Kind) HTTPStatus() int {
	if int(k) < len(kindStatus) {
		return kindStatus[k]
	}
	return http.StatusInternalServerError
}

// kindOfStatus classifies an HTTP status an edge chose itself.
func kindOfStatus(status int) Kind {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusMethodNotAllowed:
		return KindBadInput
	case http.StatusNotFound:
		return KindNotFound
	case http.StatusTooManyRequests:
		return KindBusy
	case http.StatusServiceUnavailable:
		return KindUnavailable
	case http.StatusRequestTimeout, http.StatusGatewayTimeout:
		return KindExpired
	case StatusClientClosedRequest:
		return KindCancelled
	case http.StatusRequestEntityTooLarge:
		return KindTooLarge
	}
	return KindInternal
}

// Error is a request's failure: its Kind and a message written for the
// client (it names the input and says what was expected). Every error the
// decoders in this package return is an *Error of KindBadInput. Status is
// set only by an edge that chose a code of its own (Errorf: 405, 413, ...);
// otherwise the edge maps Kind. Use errors.As to get at it, KindOf for the
// kind, StatusOf for the KServe HTTP status.
type Error struct {
	Kind    Kind
	Status  int    // an edge's own HTTP status, or 0: Kind.HTTPStatus
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

// Fail returns an *Error of kind with a formatted message: what the core
// returns.
func Fail(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Errorf returns an *Error with an HTTP status an edge chose itself (its
// kind follows from the status) and a formatted message.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Kind: kindOfStatus(status), Status: status, Message: fmt.Sprintf(format, args...)}
}

// BadRequest returns an *Error of KindBadInput with a formatted message.
func BadRequest(format string, args ...any) *Error {
	return Fail(KindBadInput, format, args...)
}

// NotFound returns an *Error of KindNotFound with a formatted message.
func NotFound(format string, args ...any) *Error {
	return Fail(KindNotFound, format, args...)
}

// KindOf returns the Kind of the first *Error in err's chain, and
// KindInternal for any other error (or nil).
func KindOf(err error) Kind {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Kind
	}
	return KindInternal
}

// StatusOf returns the KServe HTTP status for err: 200 for nil; for the
// first *Error in its chain, its Status when an edge set one, else its
// Kind's; 500 for any other error.
func StatusOf(err error) int {
	if err == nil {
		return http.StatusOK
	}
	if e, ok := errors.AsType[*Error](err); ok {
		if e.Status != 0 {
			return e.Status
		}
		return e.Kind.HTTPStatus()
	}
	return http.StatusInternalServerError
}
