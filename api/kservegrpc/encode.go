package kservegrpc

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/kservepb"
	"github.com/taominer/taominer/models/tensor"
)

// EncodeInferResponse turns the front's answer into a ModelInferResponse
// with every output's data in raw_output_contents, one entry per output in
// the order of outputs (what tritonclient reads back), BYTES elements each
// as a 4-byte little-endian length and the bytes. Fixed-size data aliases
// the answer's tensors.
func EncodeInferResponse(r *api.InferResponse) *kservepb.ModelInferResponse {
	m := &kservepb.ModelInferResponse{ModelName: r.ModelName, ModelVersion: r.ModelVersion, Id: r.ID,
		Parameters:        outParameters(r.Parameters),
		Outputs:           make([]*kservepb.ModelInferResponse_InferOutputTensor, len(r.Outputs)),
		RawOutputContents: make([][]byte, len(r.Outputs))}
	for i := range r.Outputs {
		o := &r.Outputs[i]
		m.Outputs[i] = &kservepb.ModelInferResponse_InferOutputTensor{Name: o.Name, Datatype: o.DataType.String(),
			Shape: o.Shape, Parameters: outParameters(o.Parameters)}
		m.RawOutputContents[i] = rawData(&o.Tensor)
	}
	return m
}

// rawData is t's data in the raw layout.
func rawData(t *tensor.Tensor) []byte {
	if t.DataType != tensor.Bytes {
		if t.Data == nil {
			return []byte{} // an entry even for an empty output
		}
		return t.Data
	}
	b := make([]byte, 0, t.ByteSize())
	for _, s := range t.Strings {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

// outParameters converts response parameters; numbers become int64 (or
// uint64 beyond int64, double when not integral), anything else its text.
func outParameters(p api.Parameters) map[string]*kservepb.InferParameter {
	if len(p) == 0 {
		return nil
	}
	m := make(map[string]*kservepb.InferParameter, len(p))
	for k, v := range p {
		m[k] = parameter(v)
	}
	return m
}

func parameter(v any) *kservepb.InferParameter {
	str := func(s string) *kservepb.InferParameter {
		return &kservepb.InferParameter{ParameterChoice: &kservepb.InferParameter_StringParam{StringParam: s}}
	}
	i64 := func(n int64) *kservepb.InferParameter {
		return &kservepb.InferParameter{ParameterChoice: &kservepb.InferParameter_Int64Param{Int64Param: n}}
	}
	f64 := func(f float64) *kservepb.InferParameter {
		return &kservepb.InferParameter{ParameterChoice: &kservepb.InferParameter_DoubleParam{DoubleParam: f}}
	}
	switch x := v.(type) {
	case bool:
		return &kservepb.InferParameter{ParameterChoice: &kservepb.InferParameter_BoolParam{BoolParam: x}}
	case string:
		return str(x)
	case int:
		return i64(int64(x))
	case int64:
		return i64(x)
	case int32:
		return i64(int64(x))
	case uint64:
		return &kservepb.InferParameter{ParameterChoice: &kservepb.InferParameter_Uint64Param{Uint64Param: x}}
	case float64:
		return f64(x)
	case float32:
		return f64(float64(x))
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i64(n)
		}
		if n, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return &kservepb.InferParameter{ParameterChoice: &kservepb.InferParameter_Uint64Param{Uint64Param: n}}
		}
		if f, err := x.Float64(); err == nil {
			return f64(f)
		}
		return str(string(x))
	}
	return str(fmt.Sprint(v))
}
