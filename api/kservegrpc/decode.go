package kservegrpc

import (
	"encoding/binary"
	"math"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/kservepb"
	"github.com/taominer/taominer/models/tensor"
)

// DecodeInferRequest turns a ModelInferRequest into the request the front
// runs. Each input's data comes either from raw_input_contents (one entry
// per input, in order, little-endian; BYTES elements each a 4-byte
// little-endian length and the bytes) or from its typed contents, never
// both in one request; its size must match its shape and datatype. Raw
// data aliases the message's bytes. Every output is answered in
// raw_output_contents, so the request asks for binary outputs. Failures
// are bad input.
func DecodeInferRequest(m *kservepb.ModelInferRequest) (*api.InferRequest, error) {
	raw := m.GetRawInputContents()
	if len(raw) > 0 && len(raw) != len(m.GetInputs()) {
		return nil, api.BadRequest("raw_input_contents has %d entries for %d inputs: send one entry per input, in the order of inputs",
			len(raw), len(m.GetInputs()))
	}
	req := &api.InferRequest{ID: m.GetId(), BinaryOutput: true, Inputs: make([]tensor.Tensor, len(m.GetInputs()))}
	var err error
	if req.Parameters, err = parameters("request", m.GetParameters()); err != nil {
		return nil, err
	}
	for i, in := range m.GetInputs() {
		t, err := header(in.GetName(), in.GetDatatype(), in.GetShape())
		if err != nil {
			return nil, err
		}
		switch {
		case len(raw) > 0 && in.GetContents() != nil:
			return nil, api.BadRequest("input '%s': contents must not be given when raw_input_contents is used: put every input's data in one of the two", t.Name)
		case len(raw) > 0:
			err = fromRaw(&t, raw[i])
		case in.GetContents() != nil:
			err = fromContents(&t, in.GetContents())
		default:
			err = api.BadRequest("input '%s': no data: give it contents or a raw_input_contents entry", t.Name)
		}
		if err != nil {
			return nil, err
		}
		req.Inputs[i] = t
		p, err := parameters("input '"+t.Name+"'", in.GetParameters())
		if err != nil {
			return nil, err
		}
		if p != nil {
			if req.InputParameters == nil {
				req.InputParameters = make([]api.Parameters, len(req.Inputs))
			}
			req.InputParameters[i] = p
		}
	}
	for _, o := range m.GetOutputs() {
		p, err := parameters("output '"+o.GetName()+"'", o.GetParameters())
		if err != nil {
			return nil, err
		}
		req.Outputs = append(req.Outputs, api.RequestedOutput{Name: o.GetName(), Parameters: p})
	}
	return req, nil
}

// maxElements bounds a shape's element count, far above any message
// that passes the size limit, so that products cannot overflow.
const maxElements = 1 << 40

// header checks an input's name, datatype and shape.
func header(name, datatype string, shape []int64) (tensor.Tensor, error) {
	if name == "" {
		return tensor.Tensor{}, api.BadRequest("an input has no name: set inputs[].name")
	}
	dt, err := tensor.ParseDataType(datatype)
	if err != nil {
		return tensor.Tensor{}, api.BadRequest("input '%s': datatype %q is not one of BOOL, UINT8…UINT64, INT8…INT64, FP16, BF16, FP32, FP64, BYTES", name, datatype)
	}
	n := int64(1)
	for _, d := range shape {
		if d < 0 || (d > 0 && n > maxElements/d) {
			return tensor.Tensor{}, api.BadRequest("input '%s': shape %s is not a list of non-negative dimensions of a sane size", name, tensor.FormatShape(shape))
		}
		n *= d
	}
	return tensor.Tensor{Name: name, DataType: dt, Shape: shape}, nil
}

// fromRaw sets t's data from its raw_input_contents entry.
func fromRaw(t *tensor.Tensor, b []byte) error {
	n := tensor.NumElements(t.Shape)
	if t.DataType != tensor.Bytes {
		if want := n * int64(t.DataType.Size()); int64(len(b)) != want {
			return api.BadRequest("input '%s': shape %s of %s needs %d bytes of raw_input_contents, got %d",
				t.Name, tensor.FormatShape(t.Shape), t.DataType, want, len(b))
		}
		t.Data = b
		return nil
	}
	if int64(len(b)) < 4*n {
		return api.BadRequest("input '%s': %d BYTES elements need at least %d bytes of raw_input_contents, got %d", t.Name, n, 4*n, len(b))
	}
	t.Strings = make([][]byte, 0, n)
	for len(b) > 0 {
		if len(b) < 4 || int64(len(t.Strings)) == n {
			return api.BadRequest("input '%s': raw BYTES data holds more than the %d elements of shape %s, or ends inside a 4-byte length",
				t.Name, n, tensor.FormatShape(t.Shape))
		}
		l := binary.LittleEndian.Uint32(b)
		if uint64(l) > uint64(len(b)-4) {
			return api.BadRequest("input '%s': BYTES element %d declares %d bytes, only %d remain", t.Name, len(t.Strings), l, len(b)-4)
		}
		t.Strings = append(t.Strings, b[4:4+l:4+l])
		b = b[4+l:]
	}
	if int64(len(t.Strings)) != n {
		return api.BadRequest("input '%s': shape %s holds %d BYTES elements, raw data has %d", t.Name, tensor.FormatShape(t.Shape), n, len(t.Strings))
	}
	return nil
}

// fromContents sets t's data from its typed contents: the one field of
// its datatype, holding exactly the shape's element count.
func fromContents(t *tensor.Tensor, c *kservepb.InferTensorContents) error {
	n := tensor.NumElements(t.Shape)
	field, count := contentsField(t.DataType, c)
	if field == "" {
		return api.BadRequest("input '%s': %s data travels only in raw_input_contents", t.Name, t.DataType)
	}
	if others := filled(c) - min(count, 1); others > 0 {
		return api.BadRequest("input '%s': %s data goes in contents.%s only; another contents field is set", t.Name, t.DataType, field)
	}
	if int64(count) != n {
		return api.BadRequest("input '%s': shape %s holds %d elements, contents.%s has %d", t.Name, tensor.FormatShape(t.Shape), n, field, count)
	}
	size := t.DataType.Size()
	if t.DataType == tensor.Bytes {
		t.Strings = c.GetBytesContents()
		return nil
	}
	d := make([]byte, int(n)*size)
	put := func(i int, v uint64) {
		switch size {
		case 1:
			d[i] = byte(v)
		case 2:
			binary.LittleEndian.PutUint16(d[2*i:], uint16(v))
		case 4:
			binary.LittleEndian.PutUint32(d[4*i:], uint32(v))
		default:
			binary.LittleEndian.PutUint64(d[8*i:], v)
		}
	}
	var bad int64 = -1
	switch t.DataType {
	case tensor.Bool:
		for i, v := range c.GetBoolContents() {
			if v {
				d[i] = 1
			}
		}
	case tensor.Int8, tensor.Int16, tensor.Int32:
		lo, hi := int32(math.MinInt32), int32(math.MaxInt32)
		if size < 4 {
			hi = int32(1)<<(8*size-1) - 1
			lo = -hi - 1
		}
		for i, v := range c.GetIntContents() {
			if v < lo || v > hi {
				bad = int64(v)
			}
			put(i, uint64(uint32(v)))
		}
	case tensor.Uint8, tensor.Uint16, tensor.Uint32:
		hi := uint32(math.MaxUint32)
		if size < 4 {
			hi = uint32(1)<<(8*size) - 1
		}
		for i, v := range c.GetUintContents() {
			if v > hi {
				bad = int64(v)
			}
			put(i, uint64(v))
		}
	case tensor.Int64:
		for i, v := range c.GetInt64Contents() {
			put(i, uint64(v))
		}
	case tensor.Uint64:
		for i, v := range c.GetUint64Contents() {
			put(i, v)
		}
	case tensor.FP32:
		for i, v := range c.GetFp32Contents() {
			put(i, uint64(math.Float32bits(v)))
		}
	case tensor.FP64:
		for i, v := range c.GetFp64Contents() {
			put(i, math.Float64bits(v))
		}
	}
	if bad != -1 {
		return api.BadRequest("input '%s': value %d in contents.%s is out of range of %s", t.Name, bad, field, t.DataType)
	}
	t.Data = d
	return nil
}

// contentsField names the contents field of datatype dt and its length;
// "" for the datatypes without one (FP16, BF16).
func contentsField(dt tensor.DataType, c *kservepb.InferTensorContents) (string, int) {
	switch dt {
	case tensor.Bool:
		return "bool_contents", len(c.GetBoolContents())
	case tensor.Int8, tensor.Int16, tensor.Int32:
		return "int_contents", len(c.GetIntContents())
	case tensor.Int64:
		return "int64_contents", len(c.GetInt64Contents())
	case tensor.Uint8, tensor.Uint16, tensor.Uint32:
		return "uint_contents", len(c.GetUintContents())
	case tensor.Uint64:
		return "uint64_contents", len(c.GetUint64Contents())
	case tensor.FP32:
		return "fp32_contents", len(c.GetFp32Contents())
	case tensor.FP64:
		return "fp64_contents", len(c.GetFp64Contents())
	case tensor.Bytes:
		return "bytes_contents", len(c.GetBytesContents())
	}
	return "", 0
}

// filled counts the non-empty contents fields.
func filled(c *kservepb.InferTensorContents) int {
	n := 0
	for _, l := range []int{len(c.GetBoolContents()), len(c.GetIntContents()), len(c.GetInt64Contents()),
		len(c.GetUintContents()), len(c.GetUint64Contents()), len(c.GetFp32Contents()), len(c.GetFp64Contents()),
		len(c.GetBytesContents())} {
		if l > 0 {
			n++
		}
	}
	return n
}

// parameters converts a parameter map; a parameter without a value is bad
// input. nil for an empty map.
func parameters(where string, m map[string]*kservepb.InferParameter) (api.Parameters, error) {
	if len(m) == 0 {
		return nil, nil
	}
	p := make(api.Parameters, len(m))
	for k, v := range m {
		switch c := v.GetParameterChoice().(type) {
		case *kservepb.InferParameter_BoolParam:
			p[k] = c.BoolParam
		case *kservepb.InferParameter_Int64Param:
			p[k] = c.Int64Param
		case *kservepb.InferParameter_StringParam:
			p[k] = c.StringParam
		case *kservepb.InferParameter_DoubleParam:
			p[k] = c.DoubleParam
		case *kservepb.InferParameter_Uint64Param:
			p[k] = c.Uint64Param
		default:
			return nil, api.BadRequest("%s parameter '%s' has no value: set one of bool_param, int64_param, string_param, double_param, uint64_param", where, k)
		}
	}
	return p, nil
}
