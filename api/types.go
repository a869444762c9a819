// Package api is the wire contract of the miner's HTTP inference endpoint:
// the KServe v2 / Open Inference Protocol (Triton-compatible) request and
// response types and their codec, including Triton's binary tensor data
// extension.
//
// Decoding is built for throughput: DecodeInferRequest scans the body by
// hand, writes JSON "data" arrays straight into the little-endian buffers of
// tensor.Tensor, and lets binary tensors alias the body. Decoded values that
// hold bytes (tensor Data, BYTES elements) may therefore point into the body
// passed in, which must not be modified while they are in use.
//
// Value rules of the JSON "data" arrays:
//
//   - Data may be flat ([1,2,3,4]) or nested ([[1,2],[3,4]]), row-major. Only
//     the total element count is checked against the shape, not the nesting.
//   - BOOL takes JSON true and false only.
//   - Integer types take JSON numbers that are integral and in range of the
//     type. Integer notation (123, -7) is parsed exactly, so all of INT64 and
//     UINT64 is reachable. Fraction or exponent notation (1e3, 2.0) is also
//     accepted when the value is integral and its magnitude is at most 2^53.
//   - FP16, BF16, FP32 and FP64 take JSON numbers, rounded to nearest even,
//     plus the JSON strings "NaN", "Infinity" and "-Infinity". A finite
//     number that rounds to infinity in the type is an error.
//   - BYTES takes JSON strings; an element is the UTF-8 bytes of the string.
//
// Strings in JSON (names, BYTES elements, parameters) that hold invalid UTF-8
// are decoded and encoded with each invalid byte replaced by U+FFFD, as
// encoding/json does, so the JSON form of BYTES is only lossless for UTF-8
// text; use the binary extension for arbitrary bytes.
package api

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/taominer/taominer/models/tensor"
)

// InferRequest is the body of POST v2/models/{model}[/versions/{v}]/infer.
type InferRequest struct {
	// ID is the optional request id, echoed in the response.
	ID string
	// Parameters holds the request-level parameters other than
	// binary_data_output, which is decoded into BinaryOutput.
	Parameters Parameters
	// Inputs are the input tensors, in request order.
	Inputs []tensor.Tensor
	// InputParameters holds, for each input, its parameters other than
	// binary_data_size (which only describes the wire layout). It is nil when
	// no input has such parameters; otherwise it has len(Inputs) entries, nil
	// for the inputs without parameters.
	InputParameters []Parameters
	// Outputs are the requested outputs; empty means all outputs.
	Outputs []RequestedOutput
	// BinaryOutput is the request-level parameters.binary_data_output: return
	// every output in binary form unless the output says otherwise.
	BinaryOutput bool
	// Priority is not on the wire: an edge's batcher priority for the
	// request (the axon's stake priority, a Redis job's resolved priority);
	// 0 leaves it to parameters.priority and the model's config.
	Priority float64
}

// RequestedOutput is one entry of the request's "outputs" list.
type RequestedOutput struct {
	// Name is the output's name.
	Name string
	// Binary is the output's parameters.binary_data; nil means use the
	// request's BinaryOutput.
	Binary *bool
	// Parameters holds the output's parameters other than binary_data (for
	// example Triton's "classification").
	Parameters Parameters
}

// WantBinary reports whether output o is to be returned in binary form
// under a request whose BinaryOutput is requestDefault.
func (o *RequestedOutput) WantBinary(requestDefault bool) bool {
	if o.Binary != nil {
		return *o.Binary
	}
	return requestDefault
}

// InferResponse is the body of a successful infer response.
type InferResponse struct {
	ModelName    string     // name of the model that ran
	ModelVersion string     // version of the model that ran
	ID           string     // the request's id; omitted from JSON when empty
	Parameters   Parameters // response-level parameters; omitted when empty
	Outputs      []ResponseOutput
}

// ResponseOutput is one output tensor of a response.
type ResponseOutput struct {
	tensor.Tensor
	// Binary sends the tensor in the binary extension instead of as JSON
	// "data". On decode it reports that the tensor came in binary form.
	Binary bool
	// Parameters holds the output's parameters other than binary_data_size,
	// which the encoder writes and the decoder consumes.
	Parameters Parameters
}

// Parameters is a protocol parameter map ({"name": value}). Values are of
// the protocol's three kinds: string, bool, or a number. The decoders produce
// string, bool and json.Number (the number's text, so integers keep full
// precision); the encoders also accept float64, float32, the int and uint
// types, and fall back to encoding/json for anything else. A JSON null,
// object or array as a parameter value is rejected by the decoders.
type Parameters map[string]any

// Bool returns parameter key as a bool. ok is false when the parameter is
// absent; err is set when it is present but not a bool.
func (p Parameters) Bool(key string) (v, ok bool, err error) {
	x, ok := p[key]
	if !ok {
		return false, false, nil
	}
	b, isBool := x.(bool)
	if !isBool {
		return false, true, fmt.Errorf("parameter %q: want a boolean, got %s", key, describeParam(x))
	}
	return b, true, nil
}

// Int64 returns parameter key as an int64. ok is false when the parameter
// is absent; err is set when it is present but not an integral number that
// fits an int64.
func (p Parameters) Int64(key string) (v int64, ok bool, err error) {
	x, ok := p[key]
	if !ok {
		return 0, false, nil
	}
	bad := func() (int64, bool, error) {
		return 0, true, fmt.Errorf("parameter %q: want an integer, got %s", key, describeParam(x))
	}
	switch n := x.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return i, true, nil
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || f != math.Trunc(f) || math.Abs(f) > maxExactFloat {
			return bad()
		}
		return int64(f), true, nil
	case int:
		return int64(n), true, nil
	case int64:
		return n, true, nil
	case int32:
		return int64(n), true, nil
	case uint64:
		if n > math.MaxInt64 {
			return bad()
		}
		return int64(n), true, nil
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > maxExactFloat {
			return bad()
		}
		return int64(n), true, nil
	}
	return bad()
}

func describeParam(x any) string {
	switch v := x.(type) {
	case string:
		return strconv.Quote(v)
	case json.Number:
		return string(v)
	}
	return fmt.Sprintf("%v (%T)", x, x)
}

// maxExactFloat is 2^53, the largest magnitude up to which every integer is
// exactly representable as a float64.
const maxExactFloat = 1 << 53
