package kservegrpc

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/kservepb"
	"github.com/taominer/taominer/models/tensor"
)

type vector struct {
	Message   string `json:"message"`
	Text      string `json:"text"`
	Len       int    `json:"len"`
	Hex       string `json:"hex"`
	FrameHex  string `json:"grpc_frame_hex"`
	wire      []byte
	frameWire []byte
}

func loadVectors(t testing.TB) map[string]*vector {
	t.Helper()
	b, err := os.ReadFile("testdata/kserve_grpc_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Cases map[string]*vector }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	for name, v := range f.Cases {
		if v.wire, err = hex.DecodeString(v.Hex); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if v.frameWire, err = hex.DecodeString(v.FrameHex); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return f.Cases
}

// TestWireVectors: every vector decodes with our generated code into the
// message its text form describes, and re-encodes to the same bytes; its
// gRPC frame is the 5-byte prefix and the message.
func TestWireVectors(t *testing.T) {
	cases := loadVectors(t)
	if len(cases) != 4 {
		t.Fatalf("%d vectors, want 4", len(cases))
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			var got, want proto.Message
			switch v.Message {
			case "inference.ModelInferRequest":
				got, want = &kservepb.ModelInferRequest{}, &kservepb.ModelInferRequest{}
			case "inference.ModelInferResponse":
				got, want = &kservepb.ModelInferResponse{}, &kservepb.ModelInferResponse{}
			default:
				t.Fatalf("message %s", v.Message)
			}
			if len(v.wire) != v.Len {
				t.Fatalf("hex is %d bytes, len says %d", len(v.wire), v.Len)
			}
			if err := proto.Unmarshal(v.wire, got); err != nil {
				t.Fatal(err)
			}
			if err := prototext.Unmarshal([]byte(v.Text), want); err != nil {
				t.Fatalf("text form: %v", err)
			}
			if !proto.Equal(got, want) {
				t.Errorf("decoded %v, text form %v", got, want)
			}
			if len(got.ProtoReflect().GetUnknown()) != 0 {
				t.Errorf("unknown fields left: %x", got.ProtoReflect().GetUnknown())
			}
			enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(enc) != v.Hex {
				t.Errorf("re-encoded:\n%x\nwant\n%s", enc, v.Hex)
			}
			frame := append([]byte{0, 0, 0, 0, 0}, enc...)
			binary.BigEndian.PutUint32(frame[1:], uint32(len(enc)))
			if hex.EncodeToString(frame) != v.FrameHex {
				t.Errorf("frame:\n%x\nwant\n%s", frame, v.FrameHex)
			}
		})
	}
}

// TestVectorsDecodeToRequests: the request vectors decode into the
// front's requests, raw and typed alike; the response vector is what
// EncodeInferResponse writes for its answer.
func TestVectorsDecodeToRequests(t *testing.T) {
	cases := loadVectors(t)
	f32 := func(v ...float32) []byte {
		b := make([]byte, 0, 4*len(v))
		for _, x := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
		return b
	}
	x := tensor.Tensor{Name: "input__0", DataType: tensor.FP32, Shape: []int64{1, 3}, Data: f32(0.1, 0.2, 0.3)}
	tests := []struct {
		name string
		want *api.InferRequest
	}{
		{"req_raw_fp32", &api.InferRequest{ID: "req-1", BinaryOutput: true, Parameters: api.Parameters{"timeout": int64(1000)},
			Inputs: []tensor.Tensor{x}, Outputs: []api.RequestedOutput{{Name: "output__0"}}}},
		{"req_contents_fp32", &api.InferRequest{BinaryOutput: true, Inputs: []tensor.Tensor{x}}},
		{"req_raw_bytes_tensor", &api.InferRequest{BinaryOutput: true, Inputs: []tensor.Tensor{{Name: "TEXT", DataType: tensor.Bytes,
			Shape: []int64{2}, Strings: [][]byte{[]byte("hello"), {}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m kservepb.ModelInferRequest
			if err := proto.Unmarshal(cases[tt.name].wire, &m); err != nil {
				t.Fatal(err)
			}
			got, err := DecodeInferRequest(&m)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("DecodeInferRequest (-want +got):\n%s", d)
			}
		})
	}
	resp := EncodeInferResponse(&api.InferResponse{ModelName: "resnet50", ModelVersion: "1", ID: "req-1",
		Outputs: []api.ResponseOutput{{Tensor: tensor.Tensor{Name: "output__0", DataType: tensor.FP32, Shape: []int64{1, 2}, Data: f32(0.25, 0.75)}}}})
	enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(enc) != cases["resp_raw_fp32"].Hex {
		t.Errorf("EncodeInferResponse:\n%x\nwant\n%s", enc, cases["resp_raw_fp32"].Hex)
	}
}
