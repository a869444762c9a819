package api

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/taominer/taominer/models/tensor"
)

// roundTripTensors has one tensor of every datatype, with edge values.
var roundTripTensors = []tensor.Tensor{
	tns("bool", tensor.Bool, []int64{2, 2}, []byte{1, 0, 0, 1}),
	tns("u8", tensor.Uint8, []int64{3}, le[uint8](0, 255, 7)),
	tns("u16", tensor.Uint16, []int64{3}, le[uint16](0, math.MaxUint16, 300)),
	tns("u32", tensor.Uint32, []int64{3}, le[uint32](0, math.MaxUint32, 1)),
	tns("u64", tensor.Uint64, []int64{3}, le[uint64](0, math.MaxUint64, 1<<63+1)),
	tns("i8", tensor.Int8, []int64{3}, le[int8](math.MinInt8, math.MaxInt8, 0)),
	tns("i16", tensor.Int16, []int64{3}, le[int16](math.MinInt16, math.MaxInt16, -1)),
	tns("i32", tensor.Int32, []int64{3}, le[int32](math.MinInt32, math.MaxInt32, 0)),
	tns("i64", tensor.Int64, []int64{1, 3}, le[int64](math.MinInt64, math.MaxInt64, -(1<<53)-1)),
	tns("fp16", tensor.FP16, []int64{7}, le[uint16](0x3c00, 0x7bff, 0x0001, 0x8000, 0xc000, 0x7c00, 0xfc00)),
	tns("bf16", tensor.BF16, []int64{5}, le[uint16](0x3f80, 0x7f7f, 0x0001, 0xff80, 0x4049)),
	tns("fp32", tensor.FP32, []int64{2, 4}, le[float32](0.1, -math.MaxFloat32, math.SmallestNonzeroFloat32, 0,
		float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), 123456.789)),
	tns("fp64", tensor.FP64, []int64{5}, le(0.1, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Copysign(0, -1), math.Inf(1))),
	strTensor("bytes", []int64{4}, "", "hello", "é😀", "quote\"back\\slash\nctl\x01\x7f"),
	tns("scalar", tensor.FP32, []int64{}, le[float32](2.5)),
	tns("empty", tensor.FP32, []int64{0, 3}, []byte{}),
	strTensor("empty_bytes", []int64{2, 0}),
}

func TestDecodeInferRequestRoundTrip(t *testing.T) {
	for _, binary := range []bool{false, true} {
		for _, want := range roundTripTensors {
			t.Run(fmt.Sprintf("binary=%v/%s", binary, want.Name), func(t *testing.T) {
				req := &InferRequest{ID: "id", Inputs: []tensor.Tensor{want}}
				body, headerLen := AppendInferRequest(nil, req, binary)
				if !binary && headerLen != len(body) {
					t.Errorf("got headerLen %d for a JSON body of %d bytes, want them equal", headerLen, len(body))
				}
				if !json.Valid(body[:headerLen]) {
					t.Fatalf("got invalid JSON header %q", body[:headerLen])
				}
				if !binary {
					headerLen = -1
				}
				got, err := DecodeInferRequest(body, headerLen)
				if err != nil {
					t.Fatalf("DecodeInferRequest(%q): %v", body, err)
				}
				if diff := cmp.Diff(req, got, cmpOpts...); diff != "" {
					t.Errorf("round trip mismatch (-want +got):\n%s\nbody: %q", diff, body)
				}
			})
		}
	}
}

func TestDecodeInferRequestAllInputs(t *testing.T) {
	req := &InferRequest{
		ID:              "many",
		Parameters:      Parameters{"priority": json.Number("3"), "tag": "x", "flag": false},
		Inputs:          roundTripTensors,
		InputParameters: make([]Parameters, len(roundTripTensors)),
		Outputs:         []RequestedOutput{{Name: "a"}, {Name: "b", Binary: new(true), Parameters: Parameters{"classification": json.Number("2")}}},
		BinaryOutput:    true,
	}
	req.InputParameters[1] = Parameters{"note": "hi"}
	for _, binary := range []bool{false, true} {
		t.Run(fmt.Sprintf("binary=%v", binary), func(t *testing.T) {
			body, headerLen := AppendInferRequest(nil, req, binary)
			if !binary {
				headerLen = -1
			}
			got, err := DecodeInferRequest(body, headerLen)
			if err != nil {
				t.Fatalf("DecodeInferRequest: %v", err)
			}
			if diff := cmp.Diff(req, got, cmpOpts...); diff != "" {
				t.Errorf("round trip mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// input wraps one input object in a request body.
func input(fields string) string { return `{"inputs":[{` + fields + `}]}` }

func TestDecodeDataValues(t *testing.T) {
	tests := []struct {
		name     string
		dt       string
		shape    string
		data     string
		wantData []byte
		wantStrs []string
	}{
		{"flat", "UINT8", "[2,2]", "[1,2,3,4]", []byte{1, 2, 3, 4}, nil},
		{"nested", "UINT8", "[2,2]", "[[1,2],[3,4]]", []byte{1, 2, 3, 4}, nil},
		{"deeply nested", "UINT8", "[1,1,2]", "[[[1,2]]]", []byte{1, 2}, nil},
		{"whitespace", "UINT8", "[2,2]", "[ 1 ,\n\t2 , 3\r\n, [4] ]", []byte{1, 2, 3, 4}, nil},
		{"empty", "INT32", "[0]", "[]", []byte{}, nil},
		{"empty nested", "INT32", "[2,0]", "[[],[]]", []byte{}, nil},
		{"scalar", "INT16", "[]", "[-2]", le[int16](-2), nil},
		{"int64 extremes", "INT64", "[2]", "[9223372036854775807,-9223372036854775808]", le[int64](math.MaxInt64, math.MinInt64), nil},
		{"int64 precision", "INT64", "[2]", "[9007199254740993,-9007199254740993]", le[int64](1<<53+1, -(1<<53 + 1)), nil},
		{"uint64 extremes", "UINT64", "[3]", "[18446744073709551615,12345678901234567890,9223372036854775808]", le[uint64](math.MaxUint64, 12345678901234567890, 1<<63), nil},
		{"integral floats", "INT32", "[5]", "[1e3,2.0,-0.0,1E+2,-7.5e1]", le[int32](1000, 2, 0, 100, -75), nil},
		{"integral float 2^53", "INT64", "[1]", "[9007199254740992.0]", le[int64](1 << 53), nil},
		{"minus zero unsigned", "UINT8", "[2]", "[-0,-0.0]", []byte{0, 0}, nil},
		{"int8 range", "INT8", "[2]", "[-128,127]", le[int8](-128, 127), nil},
		{"uint16 max", "UINT16", "[1]", "[65535]", le[uint16](65535), nil},
		{"uint32 max", "UINT32", "[1]", "[4294967295]", le[uint32](math.MaxUint32), nil},
		{"bool", "BOOL", "[3]", "[true,false,true]", []byte{1, 0, 1}, nil},
		{"fp32", "FP32", "[6]", "[0.1,1e-46,3.4028235e38,-0.0,1.401298464324817e-45,16777217]",
			le[float32](0.1, 0, math.MaxFloat32, float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, 16777216), nil},
		{"fp32 non-finite", "FP32", "[3]", `["NaN","Infinity","-Infinity"]`,
			le(float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))), nil},
		{"fp32 escaped NaN", "FP32", "[1]", `["\u004EaN"]`, le(float32(math.NaN())), nil},
		{"fp32 long mantissa", "FP32", "[2]", "[0.1234567890123456789012345,123456789012345678901234567890]",
			le[float32](0.1234567890123456789012345, 123456789012345678901234567890), nil},
		{"fp64", "FP64", "[4]", "[1.7976931348623157e308,5e-324,0.30000000000000004,1e-400]",
			le(math.MaxFloat64, math.SmallestNonzeroFloat64, 0.30000000000000004, 0), nil},
		{"fp64 non-finite", "FP64", "[3]", `["NaN","Infinity","-Infinity"]`, le(math.NaN(), math.Inf(1), math.Inf(-1)), nil},
		{"fp16", "FP16", "[7]", `[1,65504,0.1,-2,5.960464477539063e-08,65519,"-Infinity"]`,
			le[uint16](0x3c00, 0x7bff, 0x2e66, 0xc000, 0x0001, 0x7bff, 0xfc00), nil},
		{"fp16 ties to even", "FP16", "[4]", "[2049,2051,1.00048828125,1.00146484375]", le[uint16](0x6800, 0x6802, 0x3c00, 0x3c02), nil},
		{"bf16", "BF16", "[4]", `[1,3.14159265,-0.0,"NaN"]`, le[uint16](0x3f80, 0x4049, 0x8000, 0x7fc0), nil},
		{"bytes", "BYTES", "[3]", `["a","","b c"]`, nil, []string{"a", "", "b c"}},
		{"bytes escapes", "BYTES", "[8]", `["q\"b\\s\/","\u00e9","\ud83d\ude00","\ud800","\udc00x","\b\f\n\r\t","\u0000","é"]`, nil,
			[]string{`q"b\s/`, "é", "😀", "\uFFFD", "\uFFFDx", "\b\f\n\r\t", "\x00", "é"}},
		{"bytes invalid utf-8", "BYTES", "[2]", "[\"a\xffb\",\"\xed\xa0\x80\"]", nil, []string{"a\uFFFDb", "\uFFFD\uFFFD\uFFFD"}},
		{"bytes nested", "BYTES", "[2,1]", `[["x"],["y"]]`, nil, []string{"x", "y"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := input(fmt.Sprintf(`"name":"x","datatype":%q,"shape":%s,"data":%s`, tc.dt, tc.shape, tc.data))
			req, err := DecodeInferRequest([]byte(body), -1)
			if err != nil {
				t.Fatalf("DecodeInferRequest(%s): %v", body, err)
			}
			got := req.Inputs[0]
			if tc.wantStrs != nil {
				var gotStrs []string
				for _, s := range got.Strings {
					gotStrs = append(gotStrs, string(s))
				}
				if diff := cmp.Diff(tc.wantStrs, gotStrs); diff != "" {
					t.Errorf("strings mismatch (-want +got):\n%s", diff)
				}
				return
			}
			if diff := cmp.Diff(tc.wantData, got.Data, cmpOpts...); diff != "" {
				t.Errorf("data mismatch (-want +got):\n%s", diff)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("decoded tensor does not validate: %v", err)
			}
		})
	}
}

// TestDecodeFieldOrder decodes an input with its fields in every order.
func TestDecodeFieldOrder(t *testing.T) {
	fields := []string{`"name":"x"`, `"datatype":"INT16"`, `"shape":[2,2]`, `"parameters":{"p":"v"}`, `"data":[[1,-2],[3,4]]`, `"extra":{"a":[1,{"b":null}]}`}
	want := tns("x", tensor.Int16, []int64{2, 2}, le[int16](1, -2, 3, 4))
	var permute func(k int)
	n := 0
	permute = func(k int) {
		if k == len(fields) {
			n++
			body := input(strings.Join(fields, " ,\n "))
			req, err := DecodeInferRequest([]byte(body), -1)
			if err != nil {
				t.Fatalf("DecodeInferRequest(%s): %v", body, err)
			}
			if diff := cmp.Diff([]tensor.Tensor{want}, req.Inputs, cmpOpts...); diff != "" {
				t.Fatalf("body %s: mismatch (-want +got):\n%s", body, diff)
			}
			if diff := cmp.Diff([]Parameters{{"p": "v"}}, req.InputParameters); diff != "" {
				t.Fatalf("body %s: parameters mismatch (-want +got):\n%s", body, diff)
			}
			return
		}
		for i := k; i < len(fields); i++ {
			fields[k], fields[i] = fields[i], fields[k]
			permute(k + 1)
			fields[k], fields[i] = fields[i], fields[k]
		}
	}
	permute(0)
	if n != 720 {
		t.Errorf("got %d orders, want 720", n)
	}
}

func TestDecodeRequestFields(t *testing.T) {
	body := ` { "extra" : [1, "two", {"3": [true, false, null]}] ,
		"id" : "r\u00e91", "parameters": {"binary_data_output": true, "priority": 2, "big": 18446744073709551616, "s": "x", "b": false},
		"inputs": [{"name": "in", "datatype": "BOOL", "shape": [1], "data": [true], "parameters": null}],
		"outputs": [{"name": "a", "parameters": {"binary_data": false, "classification": 3}}, {"name": "b"}, {"name": "c", "parameters": {"binary_data": true}}]
	} `
	got, err := DecodeInferRequest([]byte(body), -1)
	if err != nil {
		t.Fatalf("DecodeInferRequest: %v", err)
	}
	want := &InferRequest{
		ID:         "ré1",
		Parameters: Parameters{"priority": json.Number("2"), "big": json.Number("18446744073709551616"), "s": "x", "b": false},
		Inputs:     []tensor.Tensor{tns("in", tensor.Bool, []int64{1}, []byte{1})},
		Outputs: []RequestedOutput{
			{Name: "a", Binary: new(false), Parameters: Parameters{"classification": json.Number("3")}},
			{Name: "b"},
			{Name: "c", Binary: new(true)},
		},
		BinaryOutput: true,
	}
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	for i, wantBin := range []bool{false, true, true} {
		if g := got.Outputs[i].WantBinary(got.BinaryOutput); g != wantBin {
			t.Errorf("Outputs[%d].WantBinary(true) = %v, want %v", i, g, wantBin)
		}
	}
	if p, ok, err := got.Parameters.Int64("priority"); p != 2 || !ok || err != nil {
		t.Errorf("Parameters.Int64(priority) = %d, %v, %v; want 2, true, nil", p, ok, err)
	}
	if _, ok, err := got.Parameters.Int64("big"); !ok || err == nil {
		t.Errorf("Parameters.Int64(big) = _, %v, %v; want true and an error", ok, err)
	}
	if b, ok, err := got.Parameters.Bool("b"); b || !ok || err != nil {
		t.Errorf("Parameters.Bool(b) = %v, %v, %v; want false, true, nil", b, ok, err)
	}
	if _, ok, err := got.Parameters.Bool("s"); !ok || err == nil {
		t.Errorf("Parameters.Bool(s) = _, %v, %v; want true and an error", ok, err)
	}
	if _, ok, err := got.Parameters.Bool("missing"); ok || err != nil {
		t.Errorf("Parameters.Bool(missing) = _, %v, %v; want false, nil", ok, err)
	}
}

func TestDecodeNulls(t *testing.T) {
	body := `{"id":null,"parameters":null,"inputs":[{"name":"x","datatype":"INT8","shape":[1],"parameters":null,"data":[5]}],"outputs":null}`
	got, err := DecodeInferRequest([]byte(body), -1)
	if err != nil {
		t.Fatalf("DecodeInferRequest: %v", err)
	}
	want := &InferRequest{Inputs: []tensor.Tensor{tns("x", tensor.Int8, []int64{1}, []byte{5})}}
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func TestDecodeBinaryAliasesBody(t *testing.T) {
	body := []byte(`{"inputs":[{"name":"a","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}},` +
		`{"name":"j","datatype":"INT8","shape":[1],"data":[3]},` +
		`{"name":"s","datatype":"BYTES","shape":[2],"parameters":{"binary_data_size":11}}]}`)
	headerLen := len(body)
	body = append(body, le[float32](1.5, -2)...)
	body = append(body, 3, 0, 0, 0, 'a', 'b', 'c', 0, 0, 0, 0)
	req, err := DecodeInferRequest(body, headerLen)
	if err != nil {
		t.Fatalf("DecodeInferRequest: %v", err)
	}
	want := []tensor.Tensor{
		tns("a", tensor.FP32, []int64{2}, le[float32](1.5, -2)),
		tns("j", tensor.Int8, []int64{1}, []byte{3}),
		strTensor("s", []int64{2}, "abc", ""),
	}
	if diff := cmp.Diff(want, req.Inputs, cmpOpts...); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	if got, want := unsafe.SliceData(req.Inputs[0].Data), &body[headerLen]; got != want {
		t.Errorf("got FP32 data at %p, want it aliasing the body at %p", got, want)
	}
	if got, want := unsafe.SliceData(req.Inputs[2].Strings[0]), &body[headerLen+12]; got != want {
		t.Errorf("got BYTES element at %p, want it aliasing the body at %p", got, want)
	}
	if got := cap(req.Inputs[0].Data); got != 8 {
		t.Errorf("got cap %d for binary data, want 8 (appends must not overwrite the body)", got)
	}
}
