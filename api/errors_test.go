package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// errorCases are bodies that DecodeInferRequest must reject with a 400 whose
// message contains want. headerLen -1 means no binary part.
var errorCases = []struct {
	name      string
	body      string
	headerLen int // -1: whole body is JSON; -2: len of the body up to "\x00"
	want      string
}{
	// Framing.
	{"empty body", ``, -1, "request: empty body"},
	{"raw binary", `{}`, 0, "Inference-Header-Content-Length 0 (raw binary body) is not supported here"},
	{"negative header length", `{}`, -5, "invalid Inference-Header-Content-Length -5"},
	{"header length too big", `{}`, 10, "Inference-Header-Content-Length 10 exceeds the body length 2"},
	// JSON syntax.
	{"not json", `hello`, -1, `invalid JSON at offset 0: expected '{', got "hello"`},
	{"trailing garbage", `{"inputs":[]} x`, -1, `invalid JSON at offset 14: expected the end of the JSON header after the top-level object, got "x"`},
	{"unterminated object", `{"inputs":[]`, -1, "expected ',' or '}' after object member, got end of input"},
	{"missing colon", `{"inputs" []}`, -1, "expected ':' after object key"},
	{"unquoted key", `{inputs:[]}`, -1, "expected object key string"},
	{"trailing comma in object", `{"inputs":[],}`, -1, "expected object key string"},
	{"bad literal", `{"x":tru,"inputs":[]}`, -1, "expected a JSON value"},
	{"bad escape", `{"id":"\x","inputs":[]}`, -1, "expected a valid escape sequence"},
	{"short unicode escape", `{"id":"\u12","inputs":[]}`, -1, "expected a valid escape sequence"},
	{"control character", "{\"id\":\"a\nb\",\"inputs\":[]}", -1, "expected a string without raw control characters"},
	{"unterminated string", `{"id":"abc`, -1, `expected '"' to end the string`},
	{"bad skipped value", `{"extra":[1,,2],"inputs":[]}`, -1, "invalid JSON at offset 12: expected a JSON value"},
	{"bad skipped escape", `{"extra":"\q","inputs":[]}`, -1, "expected a valid escape sequence"},
	{"too deep unknown field", `{"extra":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `,"inputs":[]}`, -1, "nested deeper than 128 levels"},
	// Request structure.
	{"missing inputs", `{}`, -1, `request: missing "inputs"`},
	{"null inputs", `{"inputs":null}`, -1, `request: missing "inputs"`},
	{"inputs not array", `{"inputs":{}}`, -1, `"inputs" must be an array, got an object`},
	{"input not object", `{"inputs":[1]}`, -1, `input 0: must be an object, got the number "1"`},
	{"id not string", `{"id":42,"inputs":[]}`, -1, `request: "id" must be a string, got the number "42"`},
	{"duplicate request field", `{"inputs":[],"inputs":[]}`, -1, `request: duplicate field "inputs"`},
	{"parameters not object", `{"parameters":[],"inputs":[]}`, -1, `request: "parameters" must be an object, got an array`},
	{"parameter null", `{"parameters":{"a":null},"inputs":[]}`, -1, `request: parameter "a" must be a string, number or boolean, got "null"`},
	{"parameter object", `{"parameters":{"a":{}},"inputs":[]}`, -1, `request: parameter "a" must be a string, number or boolean, got an object`},
	{"binary_data_output not bool", `{"parameters":{"binary_data_output":"yes"},"inputs":[]}`, -1, `request: parameter "binary_data_output": want a boolean, got "yes"`},
	// Requested outputs.
	{"outputs not array", `{"inputs":[],"outputs":{}}`, -1, `"outputs" must be an array, got an object`},
	{"output not object", `{"inputs":[],"outputs":["y"]}`, -1, `requested output 0: must be an object, got a string "\"y\""`},
	{"output missing name", `{"inputs":[],"outputs":[{}]}`, -1, `requested output 0: missing "name"`},
	{"output duplicate", `{"inputs":[],"outputs":[{"name":"y"},{"name":"y"}]}`, -1, `output "y" is requested more than once`},
	{"output binary_data not bool", `{"inputs":[],"outputs":[{"name":"y","parameters":{"binary_data":1}}]}`, -1, `requested output "y": parameter "binary_data": want a boolean, got 1`},
	// Input fields.
	{"missing name", input(`"datatype":"FP32","shape":[1],"data":[1]`), -1, `input 0: missing "name"`},
	{"empty name", input(`"name":"","datatype":"FP32","shape":[1],"data":[1]`), -1, `input 0: "name" is empty`},
	{"name not string", input(`"name":1,"datatype":"FP32","shape":[1],"data":[1]`), -1, `input 0: "name" must be a string, got the number "1"`},
	{"missing datatype", input(`"name":"x","shape":[1],"data":[1]`), -1, `input "x": missing "datatype"`},
	{"missing shape", input(`"name":"x","datatype":"FP32","data":[1]`), -1, `input "x": missing "shape"`},
	{"missing data", input(`"name":"x","datatype":"FP32","shape":[1]`), -1, `input "x": missing "data" (or parameters.binary_data_size for binary data)`},
	{"null data", input(`"name":"x","datatype":"FP32","shape":[1],"data":null`), -1, `input "x": missing "data"`},
	{"unknown datatype", input(`"name":"x","datatype":"FP8","shape":[1],"data":[1]`), -1, `input "x": unknown datatype "FP8" (want one of BOOL, UINT8`},
	{"lowercase datatype", input(`"name":"x","datatype":"fp32","shape":[1],"data":[1]`), -1, `input "x": unknown datatype "fp32"`},
	{"datatype not string", input(`"name":"x","datatype":11,"shape":[1],"data":[1]`), -1, `input "x": "datatype" must be a string, got the number "11"`},
	{"duplicate field", input(`"name":"x","name":"y","datatype":"FP32","shape":[1],"data":[1]`), -1, `input "x": duplicate field "name"`},
	{"duplicate input", `{"inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[1]},{"name":"x","datatype":"INT8","shape":[1],"data":[1]}]}`, -1, `input "x" appears more than once`},
	// Shapes.
	{"negative dim", input(`"name":"x","datatype":"FP32","shape":[1,-1],"data":[1]`), -1, `input "x": "shape" must be an array of non-negative integers, got -1`},
	{"fractional dim", input(`"name":"x","datatype":"FP32","shape":[1.5],"data":[1]`), -1, `input "x": "shape" must be an array of non-negative integers, got 1.5`},
	{"exponent dim", input(`"name":"x","datatype":"FP32","shape":[1e2],"data":[1]`), -1, `got 1e2`},
	{"string dim", input(`"name":"x","datatype":"FP32","shape":["1"],"data":[1]`), -1, `input "x": "shape" must be an array of non-negative integers, got a string "\"1\""`},
	{"shape not array", input(`"name":"x","datatype":"FP32","shape":3,"data":[1]`), -1, `"shape" must be an array of non-negative integers, got the number "3"`},
	{"huge dim", input(`"name":"x","datatype":"FP32","shape":[99999999999999999999],"data":[1]`), -1, `got 99999999999999999999`},
	{"huge shape", input(`"name":"x","datatype":"FP32","shape":[4294967296,4294967296],"data":[1]`), -1, `input "x": shape [4294967296,4294967296] has more than 2^53 elements`},
	// Element counts.
	{"too few elements", input(`"name":"x","datatype":"FP32","shape":[2,2],"data":[1,2,3]`), -1, `input "x": shape [2,2] needs 4 elements, got 3`},
	{"too many elements", input(`"name":"x","datatype":"FP32","shape":[1],"data":[[1],[2]]`), -1, `input "x": shape [1] needs 1 elements, got 2`},
	{"too few strings", input(`"name":"x","datatype":"BYTES","shape":[2],"data":["a"]`), -1, `input "x": shape [2] needs 2 elements, got 1`},
	{"count before datatype", input(`"data":[1,2],"name":"x","shape":[3],"datatype":"INT8"`), -1, `input "x": shape [3] needs 3 elements, got 2`},
	// Values.
	{"uint8 overflow", input(`"name":"x","datatype":"UINT8","shape":[2],"data":[1,300]`), -1, `input "x": data element 1: 300 is out of range for UINT8`},
	{"int32 fraction", input(`"name":"x","datatype":"INT32","shape":[1],"data":[1.5]`), -1, `input "x": data element 0: 1.5 is not an integer (INT32)`},
	{"int8 underflow", input(`"name":"x","datatype":"INT8","shape":[1],"data":[-129]`), -1, `-129 is out of range for INT8`},
	{"uint16 negative", input(`"name":"x","datatype":"UINT16","shape":[1],"data":[-1]`), -1, `-1 is out of range for UINT16`},
	{"uint32 negative float", input(`"name":"x","datatype":"UINT32","shape":[1],"data":[-1e0]`), -1, `-1e0 is out of range for UINT32`},
	{"int64 overflow", input(`"name":"x","datatype":"INT64","shape":[1],"data":[9223372036854775808]`), -1, `9223372036854775808 is out of range for INT64`},
	{"int64 underflow", input(`"name":"x","datatype":"INT64","shape":[1],"data":[-9223372036854775809]`), -1, `-9223372036854775809 is out of range for INT64`},
	{"int64 many digits", input(`"name":"x","datatype":"INT64","shape":[1],"data":[123456789012345678901]`), -1, `123456789012345678901 is out of range for INT64`},
	{"uint64 overflow", input(`"name":"x","datatype":"UINT64","shape":[1],"data":[18446744073709551616]`), -1, `18446744073709551616 is out of range for UINT64`},
	{"uint64 negative many digits", input(`"name":"x","datatype":"UINT64","shape":[1],"data":[-18446744073709551616]`), -1, `-18446744073709551616 is out of range for UINT64`},
	{"int64 float beyond 2^53", input(`"name":"x","datatype":"INT64","shape":[1],"data":[1e19]`), -1, `1e19: integers beyond 2^53 must be written in integer notation (INT64)`},
	{"int string", input(`"name":"x","datatype":"INT32","shape":[1],"data":["1"]`), -1, `input "x": data element 0: INT32 takes integers, got a string "\"1\""`},
	{"uint bool", input(`"name":"x","datatype":"UINT8","shape":[1],"data":[true]`), -1, `UINT8 takes integers, got "true"`},
	{"bool number", input(`"name":"x","datatype":"BOOL","shape":[1],"data":[1]`), -1, `input "x": data element 0: BOOL takes true or false, got the number "1"`},
	{"bool string", input(`"name":"x","datatype":"BOOL","shape":[1],"data":["true"]`), -1, `BOOL takes true or false, got a string`},
	{"bytes number", input(`"name":"x","datatype":"BYTES","shape":[1],"data":[1]`), -1, `input "x": data element 0: BYTES takes strings, got the number "1"`},
	{"bytes null", input(`"name":"x","datatype":"BYTES","shape":[1],"data":[null]`), -1, `BYTES takes strings, got "null"`},
	{"fp32 string", input(`"name":"x","datatype":"FP32","shape":[1],"data":["abc"]`), -1, `input "x": data element 0: FP32 takes numbers and the strings "NaN", "Infinity", "-Infinity", got a string "\"abc\""`},
	{"fp32 nan lowercase", input(`"name":"x","datatype":"FP32","shape":[1],"data":["nan"]`), -1, `FP32 takes numbers and the strings`},
	{"fp32 bool", input(`"name":"x","datatype":"FP32","shape":[1],"data":[true]`), -1, `FP32 takes numbers and the strings "NaN", "Infinity", "-Infinity", got "true"`},
	{"fp32 overflow", input(`"name":"x","datatype":"FP32","shape":[1],"data":[1e39]`), -1, `input "x": data element 0: 1e39 is out of range for FP32`},
	{"fp64 overflow", input(`"name":"x","datatype":"FP64","shape":[1],"data":[1e309]`), -1, `1e309 is out of range for FP64`},
	{"fp16 overflow", input(`"name":"x","datatype":"FP16","shape":[1],"data":[65520]`), -1, `65520 is out of range for FP16`},
	{"bf16 overflow", input(`"name":"x","datatype":"BF16","shape":[1],"data":[-1e39]`), -1, `-1e39 is out of range for BF16`},
	{"plus sign", input(`"name":"x","datatype":"FP32","shape":[1],"data":[+1]`), -1, `FP32 takes numbers and the strings "NaN", "Infinity", "-Infinity", got "+1"`},
	// Data syntax.
	{"data not array", input(`"name":"x","datatype":"FP32","shape":[1],"data":5`), -1, `input "x": "data" must be a JSON array, got the number "5"`},
	{"data object", input(`"name":"x","datatype":"FP32","shape":[1],"data":{}`), -1, `"data" must be a JSON array, got an object`},
	{"trailing comma", input(`"name":"x","datatype":"FP32","shape":[2],"data":[1,2,]`), -1, `expected a value after ','`},
	{"leading comma", input(`"name":"x","datatype":"FP32","shape":[2],"data":[,1,2]`), -1, `expected a value, got ",1"`},
	{"missing comma", input(`"name":"x","datatype":"FP32","shape":[2],"data":[1 2]`), -1, `expected ',' or ']' after array element, got "2"`},
	{"missing comma nested", input(`"name":"x","datatype":"FP32","shape":[2],"data":[[1][2]]`), -1, `expected ',' or ']' after array element, got "[2"`},
	{"unterminated data", `{"inputs":[{"name":"x","datatype":"FP32","shape":[2],"data":[1,2`, -1, `expected ',' or ']' in "data", got end of input`},
	{"leading zero", input(`"name":"x","datatype":"FP32","shape":[1],"data":[01]`), -1, `expected ',' or ']' after array element, got "1"`},
	{"bare dot", input(`"name":"x","datatype":"FP32","shape":[1],"data":[1.]`), -1, `expected a digit after '.'`},
	{"bare minus", input(`"name":"x","datatype":"FP32","shape":[1],"data":[-]`), -1, `expected a digit, got "]"`},
	{"bare exponent", input(`"name":"x","datatype":"FP32","shape":[1],"data":[1e+]`), -1, `expected a digit in the exponent`},
	{"hex", input(`"name":"x","datatype":"INT32","shape":[1],"data":[0x10]`), -1, `expected ',' or ']' after array element, got "x10"`},
	{"too deep data", input(`"name":"x","datatype":"FP32","shape":[1],"data":` + strings.Repeat("[", 200) + "1" + strings.Repeat("]", 200)), -1, "nested deeper than 128 levels"},
	{"deferred data syntax", input(`"data":[1,,2],"name":"x","datatype":"FP32","shape":[2]`), -1, "expected a JSON value"},
	// Binary extension.
	{"binary without header", input(`"name":"x","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":4}`), -1, `input "x": parameters.binary_data_size is set but the body has no binary part (the Inference-Header-Content-Length header is missing)`},
	{"binary and data", input(`"name":"x","datatype":"FP32","shape":[1],"data":[1],"parameters":{"binary_data_size":4}`) + "\x00\x00\x00\x00\x00", -2, `input "x": has both "data" and parameters.binary_data_size`},
	{"binary size negative", input(`"name":"x","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":-4}`) + "\x00", -2, `input "x": parameter "binary_data_size" must be a non-negative integer, got -4`},
	{"binary size string", input(`"name":"x","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":"4"}`) + "\x00", -2, `must be a non-negative integer, got "4"`},
	{"binary size float", input(`"name":"x","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":4.0}`) + "\x00", -2, `must be a non-negative integer, got 4.0`},
	{"binary size exceeds", input(`"name":"x","datatype":"FP32","shape":[1,3,48,192],"parameters":{"binary_data_size":110592}`) + "\x00" + strings.Repeat("\x01", 1000), -2,
		`input "x": binary_data_size 110592 exceeds the 1000 bytes left in the body`},
	{"binary size mismatch", input(`"name":"x","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":4}`) + "\x00" + "abcd", -2,
		`input "x": binary_data_size 4 does not match shape [2] of FP32, which needs 8 bytes`},
	{"binary trailing", input(`"name":"x","datatype":"INT8","shape":[2],"parameters":{"binary_data_size":2}`) + "\x00" + "abcd", -2,
		`the body has 2 bytes after the binary tensors (their binary_data_size values add up to 2, the binary part after the JSON header is 4 bytes)`},
	{"binary trailing without binary inputs", input(`"name":"x","datatype":"INT8","shape":[1],"data":[1]`) + "\x00" + "ab", -2, `the body has 2 bytes after the binary tensors`},
	{"binary bool", input(`"name":"x","datatype":"BOOL","shape":[3],"parameters":{"binary_data_size":3}`) + "\x00" + "\x01\x00\x02", -2, `input "x": BOOL element 2 is the byte 2, want 0 or 1`},
	{"binary bytes short length", input(`"name":"x","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":3}`) + "\x00" + "\x01\x00\x00", -2,
		`input "x": BYTES element 0: 3 bytes left in binary_data_size, too few for the 4-byte length`},
	{"binary bytes long element", input(`"name":"x","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":6}`) + "\x00" + "\x05\x00\x00\x00ab", -2,
		`input "x": BYTES element 0: length 5 exceeds the 2 bytes left in binary_data_size`},
	{"binary bytes count", input(`"name":"x","datatype":"BYTES","shape":[2],"parameters":{"binary_data_size":6}`) + "\x00" + "\x02\x00\x00\x00ab", -2,
		`input "x": shape [2] needs 2 elements, got 1 in binary_data_size 6`},
}

func TestDecodeInferRequestErrors(t *testing.T) {
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			body, headerLen := errorCaseBody(tc.body, tc.headerLen)
			req, err := DecodeInferRequest(body, headerLen)
			if err == nil {
				t.Fatalf("DecodeInferRequest(%q, %d) = %+v, want an error containing %q", body, headerLen, req, tc.want)
			}
			if req != nil {
				t.Errorf("got request %+v along with error %v, want nil", req, err)
			}
			wantBadRequest(t, err, tc.want)
		})
	}
}

// errorCaseBody returns a case's body and header length, splitting at the
// first NUL byte for headerLen -2.
func errorCaseBody(body string, headerLen int) ([]byte, int) {
	if headerLen == -2 {
		i := strings.IndexByte(body, 0)
		return []byte(body[:i] + body[i+1:]), i
	}
	return []byte(body), headerLen
}

// TestDecodeElementCountMessage checks the exact message for a body whose
// data is one element short.
func TestDecodeElementCountMessage(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"inputs":[{"name":"x","shape":[1,3,48,192],"datatype":"FP32","data":[`)
	for i := range 27647 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("0.5")
	}
	b.WriteString("]}]}")
	_, err := DecodeInferRequest([]byte(b.String()), -1)
	const want = `input "x": shape [1,3,48,192] needs 27648 elements, got 27647`
	if err == nil || err.Error() != want {
		t.Errorf("got error %v, want %q", err, want)
	}
}

func TestDecodeInferResponseErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"model_name not string", `{"model_name":1,"outputs":[]}`, `response: "model_name" must be a string, got the number "1"`},
		{"duplicate field", `{"model_name":"a","model_name":"b"}`, `response: duplicate field "model_name"`},
		{"output missing data", `{"outputs":[{"name":"y","datatype":"FP32","shape":[1]}]}`, `output "y": missing "data"`},
		{"output bad value", `{"outputs":[{"name":"y","datatype":"INT8","shape":[1],"data":[128]}]}`, `output "y": data element 0: 128 is out of range for INT8`},
		{"duplicate output", `{"outputs":[{"name":"y","datatype":"INT8","shape":[0],"data":[]},{"name":"y","datatype":"INT8","shape":[0],"data":[]}]}`, `output "y" appears more than once`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeInferResponse([]byte(tc.body), -1)
			wantBadRequest(t, err, tc.want)
		})
	}
	_, err := DecodeInferResponse([]byte(`{}`), 0)
	wantBadRequest(t, err, "response: Inference-Header-Content-Length 0 (raw binary body) is not supported here")
}

func TestError(t *testing.T) {
	err := BadRequest("input %q: bad", "x")
	if got, want := err.Error(), `input "x": bad`; got != want {
		t.Errorf("got message %q, want %q", got, want)
	}
	wrapped := fmt.Errorf("serve: %w", err)
	tests := []struct {
		err  error
		want int
	}{
		{nil, http.StatusOK},
		{err, http.StatusBadRequest},
		{wrapped, http.StatusBadRequest},
		{NotFound("model %q not found", "m"), http.StatusNotFound},
		{Errorf(http.StatusServiceUnavailable, "busy"), http.StatusServiceUnavailable},
		{errors.New("boom"), http.StatusInternalServerError},
		{&Error{Message: "no status"}, http.StatusInternalServerError},
	}
	for _, tc := range tests {
		if got := StatusOf(tc.err); got != tc.want {
			t.Errorf("StatusOf(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	var e *Error
	if !errors.As(wrapped, &e) || e.Message != `input "x": bad` {
		t.Errorf("errors.As(%v) = %v, want the *Error", wrapped, e)
	}
}
