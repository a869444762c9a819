package api

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// benchBody returns a request body with one FP32 input of shape
// [1,3,48,192] (27 648 elements) holding 0.123456789-style values.
func benchBody() []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	b := []byte(`{"id":"bench","inputs":[{"name":"x","shape":[1,3,48,192],"datatype":"FP32","data":[`)
	for i := range 1 * 3 * 48 * 192 {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, rng.Float64()*2-1, 'f', 9, 64)
	}
	return append(b, `]}],"outputs":[{"name":"y"}]}`...)
}

// stdRequest is what a server built on encoding/json would decode into.
type stdRequest struct {
	ID     string `json:"id"`
	Inputs []struct {
		Name     string    `json:"name"`
		Shape    []int64   `json:"shape"`
		Datatype string    `json:"datatype"`
		Data     []float32 `json:"data"`
	} `json:"inputs"`
	Outputs []struct {
		Name string `json:"name"`
	} `json:"outputs"`
}

func BenchmarkDecodeJSON(b *testing.B) {
	body := benchBody()
	b.Run("codec=ours", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeInferRequest(body, -1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("codec=encoding_json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var r stdRequest
			if err := json.Unmarshal(body, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestBenchBodyMatchesEncodingJSON checks that both decoders of the
// benchmark agree on every value.
func TestBenchBodyMatchesEncodingJSON(t *testing.T) {
	body := benchBody()
	req, err := DecodeInferRequest(body, -1)
	if err != nil {
		t.Fatalf("DecodeInferRequest: %v", err)
	}
	var std stdRequest
	if err := json.Unmarshal(body, &std); err != nil {
		t.Fatalf("json.Unmarshal: %v", err)
	}
	if diff := cmp.Diff(le(std.Inputs[0].Data...), req.Inputs[0].Data); diff != "" {
		t.Errorf("data mismatch (-encoding/json +ours):\n%s", diff)
	}
}

func BenchmarkDecodeBinary(b *testing.B) {
	req, err := DecodeInferRequest(benchBody(), -1)
	if err != nil {
		b.Fatal(err)
	}
	body, headerLen := AppendInferRequest(nil, req, true)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeInferRequest(body, headerLen); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendInferResponse(b *testing.B) {
	req, err := DecodeInferRequest(benchBody(), -1)
	if err != nil {
		b.Fatal(err)
	}
	for _, binary := range []bool{false, true} {
		b.Run(fmt.Sprintf("binary=%v", binary), func(b *testing.B) {
			resp := &InferResponse{ModelName: "m", ModelVersion: "1", Outputs: []ResponseOutput{{Tensor: req.Inputs[0], Binary: binary}}}
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = AppendInferResponse(buf[:0], resp)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

// BenchmarkDecodeJSONFormats decodes 27 648 elements written the ways
// clients write them: Go's shortest float32 form (of normal values, and of
// uniform ones in [-1, 1] as miner bench sends), Python's repr of float32
// values widened to float64 (with its ", " separator), float64 values, and
// small integers.
func BenchmarkDecodeJSONFormats(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	formats := []struct {
		name, dt, sep string
		elem          func() string
	}{
		{"fp32_shortest", "FP32", ",", func() string { return strconv.FormatFloat(float64(float32(rng.NormFloat64())), 'g', -1, 32) }},
		{"fp32_uniform", "FP32", ",", func() string { return strconv.FormatFloat(float64(float32(rng.Float64()*2-1)), 'g', -1, 32) }}, // as miner bench sends
		{"fp32_python", "FP32", ", ", func() string { return strconv.FormatFloat(float64(float32(rng.NormFloat64())), 'g', -1, 64) }},
		{"fp64_shortest", "FP64", ",", func() string { return strconv.FormatFloat(rng.NormFloat64(), 'g', -1, 64) }},
		{"fp64_f6", "FP64", ",", func() string { return strconv.FormatFloat(rng.NormFloat64(), 'f', 6, 64) }},
		{"int64", "INT64", ",", func() string { return strconv.Itoa(rng.IntN(100000)) }},
	}
	for _, f := range formats {
		elems := make([]string, 27648)
		for i := range elems {
			elems[i] = f.elem()
		}
		body := []byte(`{"inputs":[{"name":"x","shape":[27648],"datatype":"` + f.dt + `","data":[` +
			strings.Join(elems, f.sep) + `]}]}`)
		b.Run("format="+f.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := DecodeInferRequest(body, -1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
