package rpc

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrConnectionLost is returned (wrapped) to calls in flight and to open subscriptions when the
// websocket connection drops. Later calls reconnect.
var ErrConnectionLost = errors.New("rpc: connection lost")

// ErrClosed is returned by calls on a closed client.
var ErrClosed = errors.New("rpc: client closed")

// ErrUnknownNetwork is returned (wrapped) by Endpoint for a name that is neither a network
// preset nor a ws:// or wss:// URL.
var ErrUnknownNetwork = errors.New("rpc: unknown network")

// Error is a JSON-RPC error object returned by the node.
type Error struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *Error) Error() string {
	s := fmt.Sprintf("rpc error %d: %s", e.Code, e.Message)
	if len(e.Data) > 0 && string(e.Data) != "null" {
		s += ": " + e.DataString()
	}
	return s
}

// ErrorCode returns the JSON-RPC error code.
func (e *Error) ErrorCode() int { return e.Code }

// DataString returns Data as text: the string itself when Data is a JSON string.
func (e *Error) DataString() string {
	var s string
	if json.Unmarshal(e.Data, &s) == nil {
		return s
	}
	return string(e.Data)
}

// JSON-RPC error codes the chain client acts on (Substrate's client/rpc-api).
const (
	// CodeMethodNotFound is JSON-RPC's "method not found" (the node lacks the RPC method).
	CodeMethodNotFound = -32601
	// CodeStateClient is the state RPCs' "client error" (4000 + 3). The node uses it both for a
	// block whose state a lite node already pruned ("State already discarded", fall back to an
	// archive node) and for a runtime API that the runtime at that block lacks ("Exported method
	// … is not found", fall back to storage queries).
	CodeStateClient = 4003
)

// Code returns the JSON-RPC error code carried by err, and whether it carries one.
func Code(err error) (int, bool) {
	var e interface{ ErrorCode() int }
	if errors.As(err, &e) {
		return e.ErrorCode(), true
	}
	return 0, false
}

// IsStateDiscarded reports whether err is the node's answer for a block whose state it no longer
// keeps (error 4003, "State already discarded" / "unknown Block"); retry on an archive node.
func IsStateDiscarded(err error) bool {
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeStateClient {
		return false
	}
	m := strings.ToLower(e.Message)
	return strings.Contains(m, "state already discarded") || strings.Contains(m, "unknown block")
}

// IsRuntimeAPIUnavailable reports whether err says the runtime API method (or the RPC method)
// does not exist: error 4003 from state_call with a "not found" message, or -32601. Callers fall
// back to reading storage.
func IsRuntimeAPIUnavailable(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	if e.Code == CodeMethodNotFound {
		return true
	}
	if e.Code != CodeStateClient || IsStateDiscarded(err) {
		return false
	}
	m := strings.ToLower(e.Message + " " + e.DataString())
	return strings.Contains(m, "not found") || strings.Contains(m, "does not exist")
}
