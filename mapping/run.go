package mapping

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/axon"
	"github.com/taominer/taominer/api/axonproto"
	"github.com/taominer/taominer/models/tensor"
)

// FallbackObserver is told each time a synapse is answered with the mapping's fallback values:
// the synapse, the model and the cause class (FallbackReason).
type FallbackObserver func(synapse, model, reason string)

// Causes of a fallback answer, as FallbackReason classifies them.
const (
	FallbackBadInput    = "bad_input"   // a field missing or not decodable (400)
	FallbackNoModel     = "no_model"    // the model is not in the repository (404)
	FallbackBusy        = "busy"        // the model's queue is full (429)
	FallbackUnavailable = "unavailable" // the model is not ready, or the deadline passed (503)
	FallbackNotFinite   = "not_finite"  // an output was NaN or infinite
	FallbackModelError  = "model_error" // anything else the model or post-processing failed on
)

// FallbackReason classifies why answering failed.
func FallbackReason(err error) string {
	if errors.Is(err, ErrNotFinite) {
		return FallbackNotFinite
	}
	switch api.KindOf(err) {
	case api.KindBadInput, api.KindTooLarge:
		return FallbackBadInput
	case api.KindNotFound:
		return FallbackNoModel
	case api.KindBusy:
		return FallbackBusy
	case api.KindUnavailable, api.KindExpired:
		return FallbackUnavailable
	}
	return FallbackModelError
}

// Kinds returns the axon kinds of the mapping's routes: each answers with
// the model through inf. log receives fallbacks (warn) with their cause, and
// obs (when not nil) counts them.
func (m *Mapping) Kinds(inf axon.Inferer, log *slog.Logger, obs FallbackObserver) []*axon.Kind {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if obs == nil {
		obs = func(string, string, string) {}
	}
	kinds := make([]*axon.Kind, 0, len(m.Routes))
	for _, r := range m.Routes {
		req := make([]axonproto.Field, 0, len(r.Required))
		for _, f := range r.Required {
			req = append(req, axonproto.Field{Name: f, Empty: m.emptyOf(f)})
		}
		name := r.Name
		kinds = append(kinds, &axon.Kind{
			Name: name, Required: req, HashFields: r.HashFields,
			Forward: func(ctx context.Context, call *axon.Call) error {
				return m.forward(ctx, inf, log.With("synapse", name, "model", m.Model), call,
					func(reason string) { obs(name, m.Model, reason) })
			},
		})
	}
	return kinds
}

// emptyOf is the JSON of a required field's empty value, for its
// bt_header_input_obj_* placeholder.
func (m *Mapping) emptyOf(field string) string {
	for _, in := range m.Inputs {
		if in.Field == field && (in.List || in.Tensor != nil && !in.Tensor.Base64) {
			return "[]"
		}
	}
	return `""`
}

// forward answers one synapse: inputs → model → outputs, or the fallbacks.
func (m *Mapping) forward(ctx context.Context, inf axon.Inferer, log *slog.Logger, call *axon.Call, fellBack func(reason string)) error {
	syn := call.Synapse
	fields, err := m.answer(ctx, inf, syn, call.Priority)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		if !m.hasFallbacks() {
			return err
		}
		reason := FallbackReason(err)
		log.Warn("synapse answered with the mapping's fallback", "reason", reason, "error", err)
		fellBack(reason)
		fields = make(map[string]json.RawMessage, len(m.Outputs))
		for _, o := range m.Outputs {
			fields[o.Field] = o.Fallback
		}
	}
	for _, o := range m.Outputs {
		syn.Set(o.Field, fields[o.Field])
	}
	for _, f := range m.Fixed {
		syn.Set(f.Field, f.Value)
	}
	return nil
}

func (m *Mapping) hasFallbacks() bool {
	for _, o := range m.Outputs {
		if o.Fallback == nil {
			return false
		}
	}
	return true
}

// ErrNotFinite reports a model output that is NaN or infinite, which JSON
// cannot carry.
var ErrNotFinite = errors.New("output is not finite")

// answer computes the answer's output fields.
func (m *Mapping) answer(ctx context.Context, inf axon.Inferer, syn *axonproto.Synapse, prio float64) (map[string]json.RawMessage, error) {
	items, n, err := m.items(syn)
	if err != nil {
		return nil, err
	}
	results := make([][]json.RawMessage, len(m.Outputs)) // [output][item]
	// n is 1 without list fields: one run.
	for start := 0; start < n; start += m.BatchSize {
		end := min(n, start+m.BatchSize)
		chunk := make([][]json.RawMessage, len(items))
		for i := range items {
			chunk[i] = items[i][start:end]
		}
		vals, err := m.run(ctx, inf, syn, chunk, end-start, prio)
		if err != nil {
			return nil, err
		}
		for o := range vals {
			results[o] = append(results[o], vals[o]...)
		}
	}
	out := make(map[string]json.RawMessage, len(m.Outputs))
	for o, spec := range m.Outputs {
		if !m.list {
			out[spec.Field] = results[o][0]
			continue
		}
		var b bytes.Buffer
		b.WriteByte('[')
		for i, r := range results[o] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(r)
		}
		b.WriteByte(']')
		out[spec.Field] = b.Bytes()
	}
	return out, nil
}

// items reads each input's field: the list items of list fields, or the
// one value. n is the number of items.
func (m *Mapping) items(syn *axonproto.Synapse) ([][]json.RawMessage, int, error) {
	out := make([][]json.RawMessage, len(m.Inputs))
	n := -1
	for i, in := range m.Inputs {
		raw, ok := syn.Field(in.Field)
		if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			return nil, 0, api.BadRequest("%s: field %q is required", m.Model, in.Field)
		}
		if !in.List {
			out[i] = []json.RawMessage{raw}
			n = 1
			continue
		}
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, 0, api.BadRequest("field %q: expected a list", in.Field)
		}
		if n >= 0 && len(list) != n {
			return nil, 0, api.BadRequest("list fields have different lengths (%d and %d)", n, len(list))
		}
		n = len(list)
		out[i] = list
	}
	return out, n, nil
}

// run pre-processes one chunk of items, runs the model once and
// post-processes its outputs: [output][item].
func (m *Mapping) run(ctx context.Context, inf axon.Inferer, syn *axonproto.Synapse, items [][]json.RawMessage, n int, prio float64) ([][]json.RawMessage, error) {
	if n == 0 {
		return make([][]json.RawMessage, len(m.Outputs)), nil
	}
	req := &api.InferRequest{Priority: prio} // the caller's stake priority
	inputs := map[string]*tensor.Tensor{}
	for i, in := range m.Inputs {
		ts, err := in.encode(items[i])
		if err != nil {
			return nil, api.BadRequest("field %q: %v", in.Field, err)
		}
		req.Inputs = append(req.Inputs, ts...)
	}
	for i := range req.Inputs {
		inputs[req.Inputs[i].Name] = &req.Inputs[i]
	}
	no := false
	seen := map[string]bool{}
	for _, o := range m.Outputs {
		if !seen[o.Tensor] {
			seen[o.Tensor] = true
			req.Outputs = append(req.Outputs, api.RequestedOutput{Name: o.Tensor, Binary: &no})
		}
	}
	resp, err := inf.Infer(ctx, m.Model, "", req)
	if err != nil {
		return nil, err
	}
	byName := map[string]*tensor.Tensor{}
	for i := range resp.Outputs {
		byName[resp.Outputs[i].Name] = &resp.Outputs[i].Tensor
	}
	out := make([][]json.RawMessage, len(m.Outputs))
	for o, spec := range m.Outputs {
		t := byName[spec.Tensor]
		if t == nil {
			return nil, fmt.Errorf("model %s returned no output %q", m.Model, spec.Tensor)
		}
		vals, err := m.postprocess(spec, t, n, inputs, syn)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", spec.Field, err)
		}
		out[o] = vals
	}
	return out, nil
}

// tensorNames lists the model inputs an input feeds.
func (in *Input) tensorNames() []string {
	switch {
	case in.Image != nil:
		return []string{in.Image.Tensor}
	case in.Tensor != nil:
		return []string{in.Tensor.Name}
	case in.Text != nil:
		names := []string{in.Text.InputIDs, in.Text.AttentionMask}
		if in.Text.TokenTypeIDs != "" {
			names = append(names, in.Text.TokenTypeIDs)
		}
		return names
	}
	return nil
}

// encode turns the items of one chunk into the input's tensors, batch axis
// first.
func (in *Input) encode(items []json.RawMessage) ([]tensor.Tensor, error) {
	n := int64(len(items))
	switch {
	case in.Image != nil:
		shape := in.Image.outShape()
		per := int(tensor.NumElements(shape))
		data := make([]byte, 0, int(n)*per*4)
		for i, raw := range items {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, fmt.Errorf("item %d: expected a base64 string", i)
			}
			px, err := in.Image.Preprocess(s)
			if err != nil {
				return nil, err
			}
			data = appendF32(data, px)
		}
		return []tensor.Tensor{{Name: in.Image.Tensor, DataType: tensor.FP32, Shape: append([]int64{n}, shape...), Data: data}}, nil
	case in.Tensor != nil:
		return in.Tensor.encode(items)
	case in.Text != nil:
		texts := make([]string, len(items))
		for i, raw := range items {
			if err := json.Unmarshal(raw, &texts[i]); err != nil {
				return nil, fmt.Errorf("item %d: expected a string", i)
			}
		}
		t := in.Text
		ids, typeIDs, mask, seq := in.text.EncodeBatch(texts, t.MaxLength)
		if t.PadToMax && seq < t.MaxLength {
			rows := len(texts)
			ids = padRows(ids, rows, seq, t.MaxLength, in.text.PadID())
			typeIDs, mask = padRows(typeIDs, rows, seq, t.MaxLength, 0), padRows(mask, rows, seq, t.MaxLength, 0)
			seq = t.MaxLength
		}
		shape := []int64{n, int64(seq)}
		out := []tensor.Tensor{
			{Name: t.InputIDs, DataType: tensor.Int64, Shape: shape, Data: appendI64(nil, ids)},
			{Name: t.AttentionMask, DataType: tensor.Int64, Shape: shape, Data: appendI64(nil, mask)},
		}
		if t.TokenTypeIDs != "" {
			out = append(out, tensor.Tensor{Name: t.TokenTypeIDs, DataType: tensor.Int64, Shape: shape, Data: appendI64(nil, typeIDs)})
		}
		return out, nil
	}
	return nil, errors.New("input has no kind")
}

// padRows widens rows of from values to to values, padding with pad.
func padRows(v []int64, rows, from, to int, pad int64) []int64 {
	out := make([]int64, rows*to)
	for i := range out {
		out[i] = pad
	}
	for r := range rows {
		copy(out[r*to:], v[r*from:(r+1)*from])
	}
	return out
}

func appendF32(dst []byte, v []float32) []byte {
	for _, x := range v {
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(x))
	}
	return dst
}

func appendI64(dst []byte, v []int64) []byte {
	for _, x := range v {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(x))
	}
	return dst
}

// encode reads each item as a number/list/nested list (or base64 bytes)
// of the spec's shape.
func (t *TensorSpec) encode(items []json.RawMessage) ([]tensor.Tensor, error) {
	var shape []int64
	var data []byte
	for i, raw := range items {
		var b []byte
		if t.Base64 {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, fmt.Errorf("item %d: expected a base64 string", i)
			}
			dec, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
			size := t.DataType.Size()
			if size == 0 || len(dec)%size != 0 {
				return nil, fmt.Errorf("item %d: %d bytes is not a whole number of %s elements", i, len(dec), t.DataType)
			}
			b = dec
		} else {
			var v any
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
			var err error
			if b, err = appendValues(nil, v, t.DataType); err != nil {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
		}
		s, err := fitShape(t.Shape, int64(len(b)/t.DataType.Size()))
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		if shape != nil && tensor.FormatShape(shape) != tensor.FormatShape(s) {
			return nil, fmt.Errorf("item %d: shape %s differs from item 0's %s", i, tensor.FormatShape(s), tensor.FormatShape(shape))
		}
		shape = s
		data = append(data, b...)
	}
	return []tensor.Tensor{{Name: t.Name, DataType: t.DataType, Shape: append([]int64{int64(len(items))}, shape...), Data: data}}, nil
}

// fitShape fills the -1 of shape from the element count.
func fitShape(shape []int64, count int64) ([]int64, error) {
	out := append([]int64(nil), shape...)
	known := int64(1)
	free := -1
	for i, d := range out {
		if d < 0 {
			free = i
			continue
		}
		known *= d
	}
	if free >= 0 && known > 0 && count%known == 0 {
		out[free] = count / known
	}
	if tensor.NumElements(out) != count {
		return nil, fmt.Errorf("%d values do not fit the shape %s", count, tensor.FormatShape(shape))
	}
	return out, nil
}

// appendValues flattens a JSON number or nested list of numbers (or bools)
// into dt's little-endian bytes.
func appendValues(dst []byte, v any, dt tensor.DataType) ([]byte, error) {
	switch x := v.(type) {
	case []any:
		var err error
		for _, e := range x {
			if dst, err = appendValues(dst, e, dt); err != nil {
				return nil, err
			}
		}
		return dst, nil
	case bool:
		if dt != tensor.Bool {
			return nil, fmt.Errorf("expected numbers, got a boolean")
		}
		if x {
			return append(dst, 1), nil
		}
		return append(dst, 0), nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return nil, err
		}
		switch dt {
		case tensor.FP32:
			return binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(f))), nil
		case tensor.FP64:
			return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f)), nil
		}
		iv, err := x.Int64()
		if err != nil {
			if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				return nil, fmt.Errorf("%s is not an integer", x)
			}
			iv = int64(f)
		}
		switch dt {
		case tensor.Int64:
			return binary.LittleEndian.AppendUint64(dst, uint64(iv)), nil
		case tensor.Int32:
			if iv != int64(int32(iv)) {
				return nil, fmt.Errorf("%d is out of range of INT32", iv)
			}
			return binary.LittleEndian.AppendUint32(dst, uint32(iv)), nil
		case tensor.Int8:
			if iv != int64(int8(iv)) {
				return nil, fmt.Errorf("%d is out of range of INT8", iv)
			}
			return append(dst, byte(iv)), nil
		case tensor.Uint8:
			if iv < 0 || iv > 255 {
				return nil, fmt.Errorf("%d is out of range of UINT8", iv)
			}
			return append(dst, byte(iv)), nil
		}
		return nil, fmt.Errorf("expected booleans, got a number")
	}
	return nil, fmt.Errorf("expected a number or a list of numbers")
}
