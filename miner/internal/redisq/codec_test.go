package redisq

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/taominer/taominer/models/tensor"
)

// sampleTensors has one tensor of every data type, plus an empty and a
// scalar one.
func sampleTensors() []tensor.Tensor {
	var ts []tensor.Tensor
	for dt := tensor.Bool; dt <= tensor.Bytes; dt++ {
		t := tensor.Tensor{Name: "t_" + dt.String(), DataType: dt, Shape: []int64{2, 3}}
		if dt == tensor.Bytes {
			t.Strings = [][]byte{[]byte("a"), {}, []byte("héllo"), {0, 1, 2}, []byte("x"), make([]byte, 300)}
		} else {
			t.Data = make([]byte, 6*dt.Size())
			for i := range t.Data {
				t.Data[i] = byte(i*7 + int(dt))
			}
		}
		ts = append(ts, t)
	}
	ts = append(ts,
		tensor.Tensor{Name: "empty", DataType: tensor.FP32, Shape: []int64{0, 4}, Data: []byte{}},
		tensor.Tensor{Name: "scalar", DataType: tensor.FP64, Shape: []int64{}, Data: binary.LittleEndian.AppendUint64(nil, math.Float64bits(math.Pi))},
		tensor.Tensor{Name: "", DataType: tensor.Bytes, Shape: []int64{0}, Strings: [][]byte{}},
	)
	return ts
}

var equate = cmp.Options{cmpopts.EquateEmpty(), cmpopts.EquateNaNs(), cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })}

func TestRequestRoundTrip(t *testing.T) {
	for _, r := range []*Request{
		{
			ID: "front-1", Model: "ppocr_cls", Version: "1",
			Deadline: time.Unix(1_800_000_000, 123456789), Priority: -2.5,
			ReplyKey: ReplyKey("front"), Inputs: sampleTensors(),
		},
		{ID: "", Priority: math.Inf(1)}, // no deadline, no tensors
	} {
		b, err := EncodeRequest(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeRequest(b)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(r, got, equate); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
		if _, err := DecodeReply(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("request decoded as a reply: %v", err)
		}
	}
}

func TestReplyRoundTrip(t *testing.T) {
	for _, r := range []*Reply{
		{ID: "a-1", Outputs: sampleTensors()},
		{ID: "a-2", Err: "model failed: boom"},
	} {
		b, err := EncodeReply(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeReply(b)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(r, got, equate); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestEncodeRejectsInvalidTensor(t *testing.T) {
	bad := []tensor.Tensor{{Name: "x", DataType: tensor.FP32, Shape: []int64{2}, Data: make([]byte, 4)}}
	if _, err := EncodeRequest(&Request{Inputs: bad}); !errors.Is(err, tensor.ErrShape) {
		t.Fatalf("got %v, want ErrShape", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	good, err := EncodeReply(&Reply{ID: "x", Outputs: sampleTensors()})
	if err != nil {
		t.Fatal(err)
	}
	hdr := []byte{magic, formatVersion, kindReply, 1, 'x', 0}
	cases := map[string][]byte{
		"empty":       nil,
		"bad magic":   append([]byte{0}, good[1:]...),
		"new version": append([]byte{magic, 9}, good[2:]...),
		"trailing":    append(append([]byte{}, good...), 0),
		// one FP32 tensor, shape [2], claiming 4 data bytes
		"short data": append(append([]byte{}, hdr...), 1, 0, byte(tensor.FP32), 1, 2, 4, 0, 0, 0, 0),
		// a count of 2^62 tensors must not allocate
		"huge count": append(append([]byte{}, hdr...), binary.AppendUvarint(nil, 1<<62)...),
		// shape whose element count overflows int64
		"overflow": append(append(append(append([]byte{}, hdr...), 1, 0, byte(tensor.Uint8), 2),
			binary.AppendUvarint(binary.AppendUvarint(nil, 1<<40), 1<<40)...), 0),
		"bad dtype": append(append([]byte{}, hdr...), 1, 0, 99, 0, 0),
	}
	for i := range good {
		cases["truncated "+string(rune('a'+i%26))+string(rune('0'+i/26%10))] = good[:i]
	}
	for name, b := range cases {
		if _, err := DecodeReply(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	req, _ := EncodeRequest(&Request{ID: "i", Model: "m", Version: "1", Deadline: time.Unix(1, 2), ReplyKey: "k", Inputs: sampleTensors()})
	rep, _ := EncodeReply(&Reply{ID: "i", Outputs: sampleTensors()[:3]})
	f.Add(req)
	f.Add(rep)
	f.Add([]byte{magic, formatVersion, kindReply, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := DecodeRequest(b); err == nil {
			b2, err := EncodeRequest(r)
			if err != nil {
				t.Fatalf("decoded request does not re-encode: %v", err)
			}
			r2, err := DecodeRequest(b2)
			if err != nil || !cmp.Equal(r, r2, equate) {
				t.Fatalf("re-encoded request differs: %v", err)
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error does not wrap ErrMalformed: %v", err)
		}
		if r, err := DecodeReply(b); err == nil {
			b2, err := EncodeReply(r)
			if err != nil {
				t.Fatalf("decoded reply does not re-encode: %v", err)
			}
			r2, err := DecodeReply(b2)
			if err != nil || !cmp.Equal(r, r2, equate) {
				t.Fatalf("re-encoded reply differs: %v", err)
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error does not wrap ErrMalformed: %v", err)
		}
	})
}
