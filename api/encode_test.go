package api

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/taominer/taominer/models/tensor"
)

func TestAppendInferResponseJSON(t *testing.T) {
	tests := []struct {
		name string
		resp InferResponse
		want string
	}{
		{
			name: "minimal",
			resp: InferResponse{ModelName: "m"},
			want: `{"model_name":"m","model_version":"","outputs":[]}`,
		},
		{
			name: "all fields",
			resp: InferResponse{
				ModelName: "m", ModelVersion: "1", ID: "42",
				Parameters: Parameters{"b": "x", "a": 1},
				Outputs: []ResponseOutput{
					{Tensor: tns("y", tensor.FP32, []int64{3, 2}, le[float32](1, 1.1, 2, 2.1, 3, 3.1))},
					{Tensor: tns("b", tensor.Bool, []int64{2}, []byte{0, 7}), Parameters: Parameters{"p": true}},
				},
			},
			want: `{"model_name":"m","model_version":"1","id":"42","parameters":{"a":1,"b":"x"},"outputs":[` +
				`{"name":"y","datatype":"FP32","shape":[3,2],"data":[1,1.1,2,2.1,3,3.1]},` +
				`{"name":"b","datatype":"BOOL","shape":[2],"parameters":{"p":true},"data":[false,true]}]}`,
		},
		{
			name: "numbers",
			resp: InferResponse{ModelName: "m", ModelVersion: "2", Outputs: []ResponseOutput{
				{Tensor: tns("f32", tensor.FP32, []int64{6}, le(float32(0.1), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1e-7, 3.4028235e38))},
				{Tensor: tns("f64", tensor.FP64, []int64{3}, le(0.1, 1e21, math.Copysign(0, -1)))},
				{Tensor: tns("f16", tensor.FP16, []int64{4}, le[uint16](0x3c00, 0x2e66, 0x0001, 0x7e00))},
				{Tensor: tns("bf16", tensor.BF16, []int64{2}, le[uint16](0x4049, 0xff80))},
				{Tensor: tns("i8", tensor.Int8, []int64{2}, le[int8](-128, 127))},
				{Tensor: tns("u64", tensor.Uint64, []int64{1}, le[uint64](math.MaxUint64))},
				{Tensor: tns("i64", tensor.Int64, []int64{1}, le[int64](math.MinInt64))},
				{Tensor: tns("u16", tensor.Uint16, []int64{1}, le[uint16](65535))},
				{Tensor: tns("i16", tensor.Int16, []int64{1}, le[int16](-32768))},
				{Tensor: tns("u32", tensor.Uint32, []int64{1}, le[uint32](math.MaxUint32))},
				{Tensor: tns("i32", tensor.Int32, []int64{1}, le[int32](math.MinInt32))},
				{Tensor: tns("u8", tensor.Uint8, []int64{1}, []byte{255})},
			}},
			want: `{"model_name":"m","model_version":"2","outputs":[` +
				`{"name":"f32","datatype":"FP32","shape":[6],"data":[0.1,"NaN","Infinity","-Infinity",1e-07,3.4028235e+38]},` +
				`{"name":"f64","datatype":"FP64","shape":[3],"data":[0.1,1e+21,-0]},` +
				`{"name":"f16","datatype":"FP16","shape":[4],"data":[1,0.099975586,5.9604645e-08,"NaN"]},` +
				`{"name":"bf16","datatype":"BF16","shape":[2],"data":[3.140625,"-Infinity"]},` +
				`{"name":"i8","datatype":"INT8","shape":[2],"data":[-128,127]},` +
				`{"name":"u64","datatype":"UINT64","shape":[1],"data":[18446744073709551615]},` +
				`{"name":"i64","datatype":"INT64","shape":[1],"data":[-9223372036854775808]},` +
				`{"name":"u16","datatype":"UINT16","shape":[1],"data":[65535]},` +
				`{"name":"i16","datatype":"INT16","shape":[1],"data":[-32768]},` +
				`{"name":"u32","datatype":"UINT32","shape":[1],"data":[4294967295]},` +
				`{"name":"i32","datatype":"INT32","shape":[1],"data":[-2147483648]},` +
				`{"name":"u8","datatype":"UINT8","shape":[1],"data":[255]}]}`,
		},
		{
			name: "strings",
			resp: InferResponse{ModelName: "m\"\\", ModelVersion: "1", ID: "\x00\x1f", Outputs: []ResponseOutput{
				{Tensor: strTensor("s", []int64{5}, "plain", "q\"b\\", "\n\r\t\b\f", "a\xffb\xc3", "é😀\u2028<>&")},
			}},
			want: `{"model_name":"m\"\\","model_version":"1","id":"\u0000\u001f","outputs":[` +
				`{"name":"s","datatype":"BYTES","shape":[5],"data":["plain","q\"b\\","\n\r\t\u0008\u000c","a` + "\uFFFD" + `b` + "\uFFFD" + `","é😀` + "\u2028" + `<>&"]}]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, headerLen := AppendInferResponse(nil, &tc.resp)
			if got := string(body); got != tc.want {
				t.Errorf("got body\n%s\nwant\n%s", got, tc.want)
			}
			if headerLen != len(body) {
				t.Errorf("got headerLen %d, want len(body) %d", headerLen, len(body))
			}
			if !json.Valid(body) {
				t.Errorf("got invalid JSON %q", body)
			}
		})
	}
}

func TestAppendInferResponseBinary(t *testing.T) {
	resp := &InferResponse{ModelName: "m", ModelVersion: "1", Outputs: []ResponseOutput{
		{Tensor: tns("a", tensor.FP32, []int64{2}, le[float32](1, 2)), Binary: true, Parameters: Parameters{"z": 1, "binary_data_size": 99}},
		{Tensor: tns("j", tensor.Int8, []int64{1}, []byte{0xff})},
		{Tensor: strTensor("s", []int64{2}, "xy", ""), Binary: true},
	}}
	prefix := []byte("HTTP-prefix")
	body, headerLen := AppendInferResponse(prefix, resp)
	const wantHeader = `{"model_name":"m","model_version":"1","outputs":[` +
		`{"name":"a","datatype":"FP32","shape":[2],"parameters":{"z":1,"binary_data_size":8}},` +
		`{"name":"j","datatype":"INT8","shape":[1],"data":[-1]},` +
		`{"name":"s","datatype":"BYTES","shape":[2],"parameters":{"binary_data_size":10}}]}`
	wantBin := string(le[float32](1, 2)) + "\x02\x00\x00\x00xy\x00\x00\x00\x00"
	if got, want := string(body), "HTTP-prefix"+wantHeader+wantBin; got != want {
		t.Errorf("got body\n%q\nwant\n%q", got, want)
	}
	if headerLen != len(wantHeader) {
		t.Errorf("got headerLen %d, want %d", headerLen, len(wantHeader))
	}
	got, err := DecodeInferResponse(body[len(prefix):], headerLen)
	if err != nil {
		t.Fatalf("DecodeInferResponse: %v", err)
	}
	resp.Outputs[0].Parameters = Parameters{"z": json.Number("1")}
	if diff := cmp.Diff(resp, got, cmpOpts...); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}
}

func TestDecodeInferResponse(t *testing.T) {
	// The protocol document's example, with model fields added.
	body := `{"model_name":"m","model_version":"3","id":"42","parameters":{"x":"y"},"outputs":[{"name":"output0","shape":[3,2],"datatype":"FP32","data":[1.0,1.1,2.0,2.1,3.0,3.1]}],"extra":{}}`
	got, err := DecodeInferResponse([]byte(body), -1)
	if err != nil {
		t.Fatalf("DecodeInferResponse: %v", err)
	}
	want := &InferResponse{ModelName: "m", ModelVersion: "3", ID: "42", Parameters: Parameters{"x": "y"}, Outputs: []ResponseOutput{
		{Tensor: tns("output0", tensor.FP32, []int64{3, 2}, le[float32](1, 1.1, 2, 2.1, 3, 3.1))},
	}}
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func TestAppendInferRequest(t *testing.T) {
	req := &InferRequest{
		ID:              "7",
		Parameters:      Parameters{"binary_data_output": false, "k": "v"},
		Inputs:          []tensor.Tensor{tns("x", tensor.Int32, []int64{2}, le[int32](1, -1))},
		InputParameters: []Parameters{{"q": json.Number("1.5")}},
		Outputs:         []RequestedOutput{{Name: "y", Binary: new(true)}, {Name: "z", Parameters: Parameters{"classification": 2}}},
		BinaryOutput:    true,
	}
	tests := []struct {
		binary bool
		want   string
	}{
		{false, `{"id":"7","parameters":{"k":"v","binary_data_output":true},"inputs":[{"name":"x","datatype":"INT32","shape":[2],"parameters":{"q":1.5},"data":[1,-1]}],` +
			`"outputs":[{"name":"y","parameters":{"binary_data":true}},{"name":"z","parameters":{"classification":2}}]}`},
		{true, `{"id":"7","parameters":{"k":"v","binary_data_output":true},"inputs":[{"name":"x","datatype":"INT32","shape":[2],"parameters":{"q":1.5,"binary_data_size":8}}],` +
			`"outputs":[{"name":"y","parameters":{"binary_data":true}},{"name":"z","parameters":{"classification":2}}]}` + "\x01\x00\x00\x00\xff\xff\xff\xff"},
	}
	for _, tc := range tests {
		body, headerLen := AppendInferRequest(nil, req, tc.binary)
		if string(body) != tc.want {
			t.Errorf("binary=%v: got body\n%q\nwant\n%q", tc.binary, body, tc.want)
		}
		if wantLen := strings.LastIndexByte(tc.want, '}') + 1; headerLen != wantLen {
			t.Errorf("binary=%v: got headerLen %d, want %d", tc.binary, headerLen, wantLen)
		}
	}
}

type paramStruct struct{ A int }

func TestAppendParamValue(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{"s", `"s"`},
		{true, `true`},
		{json.Number("-1.5e3"), `-1.5e3`},
		{json.Number("abc"), `"abc"`},
		{json.Number(""), `""`},
		{1.5, `1.5`},
		{math.NaN(), `"NaN"`},
		{math.Inf(-1), `"-Infinity"`},
		{float32(0.1), `0.1`},
		{int(-3), `-3`},
		{int8(-8), `-8`},
		{int16(-16), `-16`},
		{int32(-32), `-32`},
		{int64(math.MinInt64), `-9223372036854775808`},
		{uint(3), `3`},
		{uint8(8), `8`},
		{uint16(16), `16`},
		{uint32(32), `32`},
		{uint64(math.MaxUint64), `18446744073709551615`},
		{paramStruct{A: 1}, `{"A":1}`},
		{make(chan int), `"`},
	}
	for _, tc := range tests {
		got := string(appendParamValue(nil, tc.v))
		if !strings.HasPrefix(got, tc.want) || (tc.want != `"` && got != tc.want) {
			t.Errorf("appendParamValue(%#v) = %s, want %s", tc.v, got, tc.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("appendParamValue(%#v) = %s, not valid JSON", tc.v, got)
		}
	}
}

func TestParametersInt64(t *testing.T) {
	tests := []struct {
		v      any
		want   int64
		wantOK bool
	}{
		{json.Number("12"), 12, true},
		{json.Number("1e3"), 1000, true},
		{json.Number("1.5"), 0, false},
		{json.Number("1e300"), 0, false},
		{int(5), 5, true},
		{int32(-5), -5, true},
		{int64(-6), -6, true},
		{uint64(7), 7, true},
		{uint64(math.MaxUint64), 0, false},
		{2.0, 2, true},
		{2.5, 0, false},
		{"3", 0, false},
	}
	for _, tc := range tests {
		got, ok, err := Parameters{"k": tc.v}.Int64("k")
		if !ok || (err == nil) != tc.wantOK || got != tc.want {
			t.Errorf("Int64 of %#v = %d, %v, %v; want %d and success %v", tc.v, got, ok, err, tc.want, tc.wantOK)
		}
	}
	if _, ok, err := Parameters(nil).Int64("k"); ok || err != nil {
		t.Errorf("Int64 on nil Parameters = _, %v, %v; want false, nil", ok, err)
	}
}
