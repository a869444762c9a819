package api

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/taominer/taominer/models/tensor"
)

// AppendInferResponse appends the encoded response r to dst and returns the
// extended slice and the length of the JSON header it wrote. The header is
// body[len(dst):len(dst)+headerLen], followed by the contents of the binary
// outputs in output order; binary outputs get parameters.binary_data_size
// instead of "data". When no output is binary nothing follows the JSON, so
// with an empty dst headerLen == len(body) and no Inference-Header-Content-Length
// header is needed.
//
// Data is written flat. FP32 and FP16/BF16 (via float32) use the shortest
// text that round-trips; NaN and ±Inf are written as the strings "NaN",
// "Infinity" and "-Infinity". The tensors are trusted: a Data length that is
// not a multiple of the element size has its partial element dropped.
func AppendInferResponse(dst []byte, r *InferResponse) (body []byte, headerLen int) {
	hint := 128
	for i := range r.Outputs {
		hint += 64 + len(r.Outputs[i].Name) + sizeHint(&r.Outputs[i].Tensor, r.Outputs[i].Binary)
	}
	dst = slices.Grow(dst, hint)
	start := len(dst)
	dst = append(dst, `{"model_name":`...)
	dst = appendString(dst, r.ModelName)
	dst = append(dst, `,"model_version":`...)
	dst = appendString(dst, r.ModelVersion)
	if r.ID != "" {
		dst = append(dst, `,"id":`...)
		dst = appendString(dst, r.ID)
	}
	if len(r.Parameters) > 0 {
		dst = append(dst, `,"parameters":`...)
		dst = appendParams(dst, r.Parameters, "", nil)
	}
	dst = append(dst, `,"outputs":[`...)
	for i := range r.Outputs {
		o := &r.Outputs[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendTensorHeader(dst, &o.Tensor)
		if o.Binary {
			dst = append(dst, `,"parameters":`...)
			dst = appendParams(dst, o.Parameters, "binary_data_size", int64(o.ByteSize()))
		} else {
			if len(o.Parameters) > 0 {
				dst = append(dst, `,"parameters":`...)
				dst = appendParams(dst, o.Parameters, "", nil)
			}
			dst = append(dst, `,"data":`...)
			dst = appendData(dst, &o.Tensor)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, "]}"...)
	headerLen = len(dst) - start
	for i := range r.Outputs {
		if r.Outputs[i].Binary {
			dst = appendBinary(dst, &r.Outputs[i].Tensor)
		}
	}
	return dst, headerLen
}

// AppendInferRequest appends the encoded request r to dst, for clients,
// tests and load generators, and returns the extended slice and the length of
// the JSON header (as for AppendInferResponse). With binary set every input
// is sent in the binary extension (parameters.binary_data_size, contents after
// the header, headerLen < len(body)-len(dst) unless all inputs are empty);
// otherwise inputs are sent as JSON "data". r.BinaryOutput becomes
// parameters.binary_data_output and each output's Binary its
// parameters.binary_data.
func AppendInferRequest(dst []byte, r *InferRequest, binary bool) (body []byte, headerLen int) {
	hint := 128
	for i := range r.Inputs {
		hint += 64 + len(r.Inputs[i].Name) + sizeHint(&r.Inputs[i], binary)
	}
	dst = slices.Grow(dst, hint)
	start := len(dst)
	dst = append(dst, '{')
	if r.ID != "" {
		dst = append(dst, `"id":`...)
		dst = appendString(dst, r.ID)
		dst = append(dst, ',')
	}
	if r.BinaryOutput {
		dst = append(dst, `"parameters":`...)
		dst = appendParams(dst, r.Parameters, "binary_data_output", true)
		dst = append(dst, ',')
	} else if len(r.Parameters) > 0 {
		dst = append(dst, `"parameters":`...)
		dst = appendParams(dst, r.Parameters, "", nil)
		dst = append(dst, ',')
	}
	dst = append(dst, `"inputs":[`...)
	for i := range r.Inputs {
		t := &r.Inputs[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		var params Parameters
		if i < len(r.InputParameters) {
			params = r.InputParameters[i]
		}
		dst = appendTensorHeader(dst, t)
		if binary {
			dst = append(dst, `,"parameters":`...)
			dst = appendParams(dst, params, "binary_data_size", int64(t.ByteSize()))
		} else {
			if len(params) > 0 {
				dst = append(dst, `,"parameters":`...)
				dst = appendParams(dst, params, "", nil)
			}
			dst = append(dst, `,"data":`...)
			dst = appendData(dst, t)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	if len(r.Outputs) > 0 {
		dst = append(dst, `,"outputs":[`...)
		for i := range r.Outputs {
			o := &r.Outputs[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"name":`...)
			dst = appendString(dst, o.Name)
			if o.Binary != nil {
				dst = append(dst, `,"parameters":`...)
				dst = appendParams(dst, o.Parameters, "binary_data", *o.Binary)
			} else if len(o.Parameters) > 0 {
				dst = append(dst, `,"parameters":`...)
				dst = appendParams(dst, o.Parameters, "", nil)
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	dst = append(dst, '}')
	headerLen = len(dst) - start
	if binary {
		for i := range r.Inputs {
			dst = appendBinary(dst, &r.Inputs[i])
		}
	}
	return dst, headerLen
}

// maxTextWidth is the longest JSON text of one element plus its comma.
var maxTextWidth = [...]int{
	tensor.Bool: 6, tensor.Uint8: 4, tensor.Uint16: 6, tensor.Uint32: 11, tensor.Uint64: 21,
	tensor.Int8: 5, tensor.Int16: 7, tensor.Int32: 12, tensor.Int64: 21,
	tensor.FP16: 16, tensor.FP32: 16, tensor.FP64: 25, tensor.BF16: 16,
}

// sizeHint estimates the encoded size of t's contents.
func sizeHint(t *tensor.Tensor, binary bool) int {
	switch {
	case binary:
		return t.ByteSize()
	case t.DataType == tensor.Bytes:
		n := 2
		for _, s := range t.Strings {
			n += len(s) + 3
		}
		return n
	case int(t.DataType) < len(maxTextWidth) && t.DataType.Size() > 0:
		return 2 + len(t.Data)/t.DataType.Size()*maxTextWidth[t.DataType]
	}
	return 0
}

// appendTensorHeader appends {"name":..,"datatype":..,"shape":[..] without
// the closing brace.
func appendTensorHeader(dst []byte, t *tensor.Tensor) []byte {
	dst = append(dst, `{"name":`...)
	dst = appendString(dst, t.Name)
	dst = append(dst, `,"datatype":"`...)
	dst = append(dst, t.DataType.String()...)
	dst = append(dst, `","shape":[`...)
	for i, d := range t.Shape {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendInt(dst, d, 10)
	}
	return append(dst, ']')
}

// appendData appends t's elements as a flat JSON array. Each element is
// followed by a comma; the last one's becomes the closing bracket.
func appendData(dst []byte, t *tensor.Tensor) []byte {
	dst = append(dst, '[')
	start := len(dst)
	d := t.Data
	switch w := t.DataType.Size(); {
	case t.DataType == tensor.Bytes:
		for _, s := range t.Strings {
			dst = append(appendString(dst, s), ',')
		}
	case t.DataType == tensor.Bool:
		for _, b := range d {
			dst = append(strconv.AppendBool(dst, b != 0), ',')
		}
	case t.DataType == tensor.Uint8:
		for _, b := range d {
			dst = append(strconv.AppendUint(dst, uint64(b), 10), ',')
		}
	case t.DataType == tensor.Int8:
		for _, b := range d {
			dst = append(strconv.AppendInt(dst, int64(int8(b)), 10), ',')
		}
	case w > 1: // the 2-, 4- and 8-byte types
		le := binary.LittleEndian
		for i := 0; i+w <= len(d); i += w {
			switch t.DataType {
			case tensor.Uint16:
				dst = strconv.AppendUint(dst, uint64(le.Uint16(d[i:])), 10)
			case tensor.Int16:
				dst = strconv.AppendInt(dst, int64(int16(le.Uint16(d[i:]))), 10)
			case tensor.FP16:
				dst = appendFloat(dst, float64(FP16ToFloat32(le.Uint16(d[i:]))), 32)
			case tensor.BF16:
				dst = appendFloat(dst, float64(BF16ToFloat32(le.Uint16(d[i:]))), 32)
			case tensor.Uint32:
				dst = strconv.AppendUint(dst, uint64(le.Uint32(d[i:])), 10)
			case tensor.Int32:
				dst = strconv.AppendInt(dst, int64(int32(le.Uint32(d[i:]))), 10)
			case tensor.FP32:
				dst = appendFloat(dst, float64(math.Float32frombits(le.Uint32(d[i:]))), 32)
			case tensor.Uint64:
				dst = strconv.AppendUint(dst, le.Uint64(d[i:]), 10)
			case tensor.Int64:
				dst = strconv.AppendInt(dst, int64(le.Uint64(d[i:])), 10)
			case tensor.FP64:
				dst = appendFloat(dst, math.Float64frombits(le.Uint64(d[i:])), 64)
			}
			dst = append(dst, ',')
		}
	}
	if len(dst) > start {
		dst = dst[:len(dst)-1]
	}
	return append(dst, ']')
}

// appendBinary appends t's contents in the binary extension's layout.
func appendBinary(dst []byte, t *tensor.Tensor) []byte {
	if t.DataType != tensor.Bytes {
		return append(dst, t.Data...)
	}
	for _, s := range t.Strings {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(s)))
		dst = append(dst, s...)
	}
	return dst
}

// appendFloat appends f as a JSON number with the shortest text that
// round-trips at bitSize, or as "NaN", "Infinity" or "-Infinity".
func appendFloat(dst []byte, f float64, bitSize int) []byte {
	switch {
	case f != f:
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bitSize)
}

// appendParams appends p as a JSON object with sorted keys. If extraKey is
// not empty, extraKey: extraVal is appended last, replacing any p[extraKey].
func appendParams(dst []byte, p Parameters, extraKey string, extraVal any) []byte {
	keys := make([]string, 0, len(p))
	for k := range p {
		if extraKey == "" || k != extraKey {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = appendParamValue(dst, p[k])
	}
	if extraKey != "" {
		if len(keys) > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, extraKey)
		dst = append(dst, ':')
		dst = appendParamValue(dst, extraVal)
	}
	return append(dst, '}')
}

// appendParamValue appends a parameter value; see Parameters for the types.
func appendParamValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return appendString(dst, x)
	case bool:
		return strconv.AppendBool(dst, x)
	case json.Number:
		s := scanner{buf: []byte(x)}
		if _, _, err := s.number(); err == nil && s.pos == len(s.buf) {
			return append(dst, x...)
		}
		return appendString(dst, string(x))
	case float64:
		return appendFloat(dst, x, 64)
	case float32:
		return appendFloat(dst, float64(x), 32)
	case int, int8, int16, int32, int64:
		return strconv.AppendInt(dst, reflect.ValueOf(x).Int(), 10)
	case uint, uint8, uint16, uint32, uint64:
		return strconv.AppendUint(dst, reflect.ValueOf(x).Uint(), 10)
	}
	if b, err := json.Marshal(v); err == nil {
		return append(dst, b...)
	}
	return appendString(dst, fmt.Sprint(v))
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 bytes are replaced
// by U+FFFD so that the output is always valid JSON.
func appendString[S ~string | ~[]byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		var buf [utf8.UTFMax]byte
		n := copy(buf[:], s[i:])
		r, size := utf8.DecodeRune(buf[:n])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
