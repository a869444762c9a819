package kservegrpc

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/kservepb"
	"github.com/taominer/taominer/models/tensor"
)

func input(name, dt string, shape []int64, c *kservepb.InferTensorContents) *kservepb.ModelInferRequest_InferInputTensor {
	return &kservepb.ModelInferRequest_InferInputTensor{Name: name, Datatype: dt, Shape: shape, Contents: c}
}

// TestTypedContents: each datatype's typed field becomes the raw
// little-endian layout the front takes.
func TestTypedContents(t *testing.T) {
	tests := []struct {
		dt   string
		c    *kservepb.InferTensorContents
		want []byte
	}{
		{"BOOL", &kservepb.InferTensorContents{BoolContents: []bool{true, false}}, []byte{1, 0}},
		{"INT8", &kservepb.InferTensorContents{IntContents: []int32{-1, 127}}, []byte{0xff, 0x7f}},
		{"INT16", &kservepb.InferTensorContents{IntContents: []int32{-2, 258}}, []byte{0xfe, 0xff, 2, 1}},
		{"INT32", &kservepb.InferTensorContents{IntContents: []int32{-1, 1}}, []byte{0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0}},
		{"UINT8", &kservepb.InferTensorContents{UintContents: []uint32{255, 1}}, []byte{255, 1}},
		{"UINT16", &kservepb.InferTensorContents{UintContents: []uint32{65535, 1}}, []byte{255, 255, 1, 0}},
		{"INT64", &kservepb.InferTensorContents{Int64Contents: []int64{-1, 2}}, append(binary.LittleEndian.AppendUint64(nil, ^uint64(0)), 2, 0, 0, 0, 0, 0, 0, 0)},
		{"UINT64", &kservepb.InferTensorContents{Uint64Contents: []uint64{1, 2}}, []byte{1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0}},
		{"FP32", &kservepb.InferTensorContents{Fp32Contents: []float32{1, -2}}, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}},
		{"FP64", &kservepb.InferTensorContents{Fp64Contents: []float64{1, 0}}, []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.dt, func(t *testing.T) {
			req, err := DecodeInferRequest(&kservepb.ModelInferRequest{Inputs: []*kservepb.ModelInferRequest_InferInputTensor{input("x", tt.dt, []int64{2}, tt.c)}})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, req.Inputs[0].Data); d != "" {
				t.Errorf("data (-want +got):\n%s", d)
			}
		})
	}
	req, err := DecodeInferRequest(&kservepb.ModelInferRequest{Inputs: []*kservepb.ModelInferRequest_InferInputTensor{
		input("s", "BYTES", []int64{2}, &kservepb.InferTensorContents{BytesContents: [][]byte{[]byte("a"), {}}})}})
	if err != nil || len(req.Inputs[0].Strings) != 2 || string(req.Inputs[0].Strings[0]) != "a" {
		t.Errorf("BYTES typed: %v, %v", req, err)
	}
}

// TestDecodeErrors: bad messages are bad input (INVALID_ARGUMENT) with a
// message naming the field.
func TestDecodeErrors(t *testing.T) {
	fp := func(v ...float32) *kservepb.InferTensorContents {
		return &kservepb.InferTensorContents{Fp32Contents: v}
	}
	tests := []struct {
		name string
		m    *kservepb.ModelInferRequest
		want string
	}{
		{"no name", &kservepb.ModelInferRequest{Inputs: []*kservepb.ModelInferRequest_InferInputTensor{input("", "FP32", []int64{1}, fp(1))}}, "inputs[].name"},
		{"bad datatype", &kservepb.ModelInferRequest{Inputs: []*kservepb.ModelInferRequest_InferInputTensor{input("x", "F32", []int64{1}, fp(1))}}, `datatype "F32"`},
		{"huge shape", &kservepb.ModelInferRequest{Inputs: []*kservepb.ModelInferRequest_InferInputTensor{input("x", "FP32", []int64{1 << 30, 1 << 30, 1 << 30}, fp(1))}}, "sane size"},
		{"FP16 typed", &kservepb.ModelInferRequest{Inputs: []*kservepb.ModelInferRequest_InferInputTensor{input("x", "FP16", []int64{1}, fp(1))}}, "only in raw_input_contents"},
		{"INT8 out of range", &kservepb.ModelInferRequest{Inputs: []*kservepb.ModelInferRequest_InferInputTensor{
			input("x", "INT8", []int64{1}, &kservepb.InferTensorContents{IntContents: []int32{200}})}}, "out of range of INT8"},
		{"UINT16 out of range", &kservepb.ModelInferRequest{Inputs: []*kservepb.ModelInferRequest_InferInputTensor{
			input("x", "UINT16", []int64{1}, &kservepb.InferTensorContents{UintContents: []uint32{70000}})}}, "out of range of UINT16"},
		{"two fields", &kservepb.ModelInferRequest{Inputs: []*kservepb.ModelInferRequest_InferInputTensor{
			input("x", "FP32", []int64{1}, &kservepb.InferTensorContents{Fp32Contents: []float32{1}, IntContents: []int32{1}})}}, "another contents field"},
		{"BYTES raw truncated", &kservepb.ModelInferRequest{Inputs: []*kservepb.ModelInferRequest_InferInputTensor{input("s", "BYTES", []int64{1}, nil)},
			RawInputContents: [][]byte{{9, 0, 0, 0, 'a'}}}, "declares 9 bytes"},
		{"BYTES raw extra", &kservepb.ModelInferRequest{Inputs: []*kservepb.ModelInferRequest_InferInputTensor{input("s", "BYTES", []int64{1}, nil)},
			RawInputContents: [][]byte{{1, 0, 0, 0, 'a', 0, 0, 0, 0}}}, "more than the 1 elements"},
		{"BYTES raw short", &kservepb.ModelInferRequest{Inputs: []*kservepb.ModelInferRequest_InferInputTensor{input("s", "BYTES", []int64{2}, nil)},
			RawInputContents: [][]byte{{1, 0, 0, 0, 'a'}}}, "need at least 8 bytes"},
		{"parameter without value", &kservepb.ModelInferRequest{Parameters: map[string]*kservepb.InferParameter{"p": {}}}, "parameter 'p' has no value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeInferRequest(tt.m)
			if api.KindOf(err) != api.KindBadInput || Code(api.KindOf(err)) != codes.InvalidArgument || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want bad input containing %q", err, tt.want)
			}
		})
	}
}

// TestCodes: the §6 mapping of every kind.
func TestCodes(t *testing.T) {
	want := map[api.Kind]codes.Code{api.KindInternal: codes.Internal, api.KindBadInput: codes.InvalidArgument,
		api.KindNotFound: codes.NotFound, api.KindBusy: codes.Unavailable, api.KindUnavailable: codes.Unavailable,
		api.KindExpired: codes.DeadlineExceeded, api.KindCancelled: codes.Canceled, api.KindTooLarge: codes.ResourceExhausted,
		api.Kind(200): codes.Internal}
	for k, c := range want {
		if got := Code(k); got != c {
			t.Errorf("Code(%v) = %v, want %v", k, got, c)
		}
	}
}

// FuzzDecodeInferRequest: no message makes the decoder panic; errors are
// bad input; every decoded input validates against its shape, and
// re-encodes (raw) to a message that decodes to the same request.
func FuzzDecodeInferRequest(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.wire)
	}
	seed, _ := proto.Marshal(&kservepb.ModelInferRequest{ModelName: "m", Inputs: []*kservepb.ModelInferRequest_InferInputTensor{
		input("a", "INT16", []int64{2}, &kservepb.InferTensorContents{IntContents: []int32{-3, 4}}),
		input("b", "BOOL", []int64{1, 1}, &kservepb.InferTensorContents{BoolContents: []bool{true}})},
		Parameters: map[string]*kservepb.InferParameter{"priority": {ParameterChoice: &kservepb.InferParameter_Uint64Param{Uint64Param: 1}}}})
	f.Add(seed)
	f.Fuzz(func(t *testing.T, wire []byte) {
		var m kservepb.ModelInferRequest
		if proto.Unmarshal(wire, &m) != nil {
			return
		}
		req, err := DecodeInferRequest(&m)
		if err != nil {
			if api.KindOf(err) != api.KindBadInput {
				t.Fatalf("error of kind %v, want bad input: %v", api.KindOf(err), err)
			}
			return
		}
		for _, in := range req.Inputs {
			if err := in.Validate(); err != nil {
				t.Fatalf("decoded input does not validate: %v", err)
			}
		}
		again, err := DecodeInferRequest(EncodeInferRequest("m", "", req))
		if err != nil {
			t.Fatalf("re-encoded request does not decode: %v", err)
		}
		norm := func(r *api.InferRequest) *api.InferRequest {
			c := *r
			c.Inputs = make([]tensor.Tensor, len(r.Inputs))
			for i, in := range r.Inputs {
				if len(in.Data) == 0 {
					in.Data = nil
				}
				c.Inputs[i] = in
			}
			return &c
		}
		if d := cmp.Diff(norm(req), norm(again)); d != "" {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
	})
}
