package onnx

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/tensor"
)

// Session is an open ONNX Runtime session. Run may be called concurrently;
// ONNX Runtime sessions are safe for concurrent runs.
type Session struct {
	s        *ort.DynamicAdvancedSession
	io       models.IO
	out      []int // per output: element size, or 0 when it cannot be preallocated
	provider string
	binding  Binding

	mu        sync.Mutex
	bindings  []*ort.IoBinding // idle I/O bindings, reused across runs
	closed    bool
	boundRuns atomic.Int64 // runs through an I/O binding
}

var _ models.Session = (*Session)(nil)

// ReadIO reads a model file's inputs and outputs. Inputs or outputs that are
// not tensors, or whose element type the protocol cannot carry, are errors.
func ReadIO(path string, opts Options) (models.IO, error) {
	// Reading the graph's inputs and outputs needs no GPU provider.
	so, err := opts.sessionOptions(ProviderCPU)
	if err != nil {
		return models.IO{}, err
	}
	defer so.Destroy()
	ins, outs, err := ort.GetInputOutputInfoWithOptions(path, so)
	if err != nil {
		return models.IO{}, fmt.Errorf("read model %s: %w", path, err)
	}
	var io models.IO
	if io.Inputs, err = specs("input", ins); err != nil {
		return models.IO{}, err
	}
	if io.Outputs, err = specs("output", outs); err != nil {
		return models.IO{}, err
	}
	return io, nil
}

func specs(kind string, infos []ort.InputOutputInfo) ([]models.TensorSpec, error) {
	out := make([]models.TensorSpec, 0, len(infos))
	for _, in := range infos {
		if in.OrtValueType != ort.ONNXTypeTensor {
			return nil, fmt.Errorf("%s %q is a %s; only tensors can be served", kind, in.Name, in.OrtValueType)
		}
		dt, ok := fromORT(in.DataType)
		if !ok {
			return nil, fmt.Errorf("%s %q has element type %s, which the inference protocol cannot carry", kind, in.Name, in.DataType)
		}
		shape := make([]int64, len(in.Dimensions))
		for i, d := range in.Dimensions {
			if d < 0 {
				d = -1
			}
			shape[i] = d
		}
		out = append(out, models.TensorSpec{Name: in.Name, DataType: dt, Shape: shape})
	}
	return out, nil
}

// Open creates a session for the model file with the given inputs and
// outputs (as ReadIO returned them), on opts' execution provider. When a GPU
// provider cannot load, the error is a *ProviderLoadError (a shared library
// is missing) or wraps ONNX Runtime's message; with
// opts.Fallback "cpu" Open logs one warning and opens the model on the CPU
// instead.
func Open(path string, io models.IO, opts Options) (*Session, error) {
	return open(path, io, opts, func(in, out []string, so *ort.SessionOptions) (*ort.DynamicAdvancedSession, error) {
		return ort.NewDynamicAdvancedSession(path, in, out, so)
	})
}

type createFunc func(inputs, outputs []string, so *ort.SessionOptions) (*ort.DynamicAdvancedSession, error)

func open(path string, io models.IO, opts Options, create createFunc) (*Session, error) {
	provider := opts.provider()
	s, err := newSession(path, io, opts, provider, create)
	if err != nil && provider != ProviderCPU && opts.Fallback == ProviderCPU {
		log := opts.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Warn("execution provider unavailable; running on the CPU (fallback: cpu)",
			"model", path, "provider", provider, "device_id", opts.DeviceID, "error", err)
		s, err = newSession(path, io, opts, ProviderCPU, create)
	}
	return s, err
}

func newSession(path string, io models.IO, opts Options, provider string, create createFunc) (*Session, error) {
	so, err := opts.sessionOptions(provider)
	if err != nil {
		return nil, fmt.Errorf("create session for %s: %w", path, err)
	}
	defer so.Destroy()
	names := func(ts []models.TensorSpec) []string {
		n := make([]string, len(ts))
		for i, t := range ts {
			n[i] = t.Name
		}
		return n
	}
	s, err := create(names(io.Inputs), names(io.Outputs), so)
	if err != nil {
		return nil, fmt.Errorf("create session for %s on %s: %w", path, provider, err)
	}
	sess := &Session{s: s, io: io, out: make([]int, len(io.Outputs)), provider: provider, binding: opts.Binding.resolve()}
	for i, o := range io.Outputs {
		sess.out[i] = o.DataType.Size()
	}
	return sess, nil
}

// Provider is the execution provider the session runs on: the one asked
// for, or "cpu" after a fallback.
func (s *Session) Provider() string { return s.provider }

// Binding is the mode runs use to pass tensors (never BindingAuto).
func (s *Session) Binding() Binding { return s.binding }

// Close releases the session.
func (s *Session) Close() error {
	s.mu.Lock()
	for _, b := range s.bindings {
		b.Destroy()
	}
	s.bindings, s.closed = nil, true
	s.mu.Unlock()
	if err := s.s.Destroy(); err != nil {
		return fmt.Errorf("destroy session: %w", err)
	}
	return nil
}

// Run executes the model once. The context is checked before the run; a
// run that started finishes.
func (s *Session) Run(ctx context.Context, inputs []tensor.Tensor) ([]tensor.Tensor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(inputs) != len(s.io.Inputs) {
		return nil, fmt.Errorf("run: model has %d inputs, got %d", len(s.io.Inputs), len(inputs))
	}
	values := make([]ort.Value, 0, len(inputs)+len(s.io.Outputs))
	defer func() {
		for _, v := range values {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	batch := int64(-1)
	for i := range inputs {
		v, err := toValue(&inputs[i])
		if err != nil {
			return nil, err
		}
		values = append(values, v)
		if len(inputs[i].Shape) > 0 && batch < 0 {
			batch = inputs[i].Shape[0]
		}
	}
	outs := make([]ort.Value, len(s.io.Outputs))
	outData := make([][]byte, len(s.io.Outputs))
	for i, o := range s.io.Outputs {
		shape, ok := concreteShape(o.Shape, batch)
		if !ok || s.out[i] == 0 {
			continue // ONNX Runtime allocates it
		}
		n := tensor.NumElements(shape) * int64(s.out[i])
		buf := make([]byte, max(n, 1))
		v, err := ort.NewCustomDataTensor(ort.NewShape(shape...), buf, toORT(o.DataType))
		if err != nil {
			return nil, fmt.Errorf("allocate output %q: %w", o.Name, err)
		}
		outs[i], outData[i] = v, buf[:n]
		values = append(values, v)
	}
	var err error
	if s.binding == BindingIO && !slices.ContainsFunc(outData, func(b []byte) bool { return b == nil }) {
		err = s.runBound(values[:len(inputs)], outs)
	} else {
		err = s.s.Run(values[:len(inputs)], outs)
	}
	if err != nil {
		// Outputs allocated by the runtime before the failure are in outs.
		for i, v := range outs {
			if v != nil && outData[i] == nil {
				v.Destroy()
			}
		}
		return nil, fmt.Errorf("run model: %w", err)
	}
	result := make([]tensor.Tensor, len(outs))
	for i, v := range outs {
		spec := s.io.Outputs[i]
		t := tensor.Tensor{Name: spec.Name, DataType: spec.DataType, Shape: v.GetShape()}
		if outData[i] != nil {
			t.Data = outData[i]
		} else {
			values = append(values, v) // destroyed on return
			if err := fromValue(v, &t); err != nil {
				return nil, fmt.Errorf("output %q: %w", spec.Name, err)
			}
		}
		result[i] = t
	}
	return result, nil
}

// runBound runs with an I/O binding: the inputs and the preallocated
// outputs are bound, so ONNX Runtime reads and writes the Go buffers in
// place. Bindings are reused across runs (one per concurrent run).
func (s *Session) runBound(inputs, outputs []ort.Value) error {
	b, err := s.acquireBinding()
	if err != nil {
		return err
	}
	defer s.releaseBinding(b)
	s.boundRuns.Add(1)
	for i, v := range inputs {
		if err := b.BindInput(s.io.Inputs[i].Name, v); err != nil {
			return fmt.Errorf("bind input %q: %w", s.io.Inputs[i].Name, err)
		}
	}
	for i, v := range outputs {
		if err := b.BindOutput(s.io.Outputs[i].Name, v); err != nil {
			return fmt.Errorf("bind output %q: %w", s.io.Outputs[i].Name, err)
		}
	}
	return s.s.RunWithBinding(b)
}

func (s *Session) acquireBinding() (*ort.IoBinding, error) {
	s.mu.Lock()
	if n := len(s.bindings); n > 0 {
		b := s.bindings[n-1]
		s.bindings = s.bindings[:n-1]
		s.mu.Unlock()
		return b, nil
	}
	s.mu.Unlock()
	b, err := s.s.CreateIoBinding()
	if err != nil {
		return nil, fmt.Errorf("create I/O binding: %w", err)
	}
	return b, nil
}

// releaseBinding unbinds the run's buffers (the binding must not keep
// pointers into Go memory the caller now owns) and keeps the binding.
func (s *Session) releaseBinding(b *ort.IoBinding) {
	b.ClearBoundInputs()
	b.ClearBoundOutputs()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		b.Destroy()
		return
	}
	s.bindings = append(s.bindings, b)
}

// concreteShape fills a declared shape's batch dimension; ok is false when
// another dimension is variable (so only the run can tell the shape).
func concreteShape(declared []int64, batch int64) ([]int64, bool) {
	shape := make([]int64, len(declared))
	for i, d := range declared {
		if d < 0 {
			if i != 0 || batch < 0 {
				return nil, false
			}
			d = batch
		}
		shape[i] = d
	}
	return shape, true
}

func toValue(t *tensor.Tensor) (ort.Value, error) {
	shape := ort.NewShape(t.Shape...)
	if t.DataType == tensor.Bytes {
		st, err := ort.NewStringTensor(shape)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", t.Name, err)
		}
		strs := make([]string, len(t.Strings))
		for i, b := range t.Strings {
			strs[i] = string(b)
		}
		if err := st.SetContents(strs); err != nil {
			st.Destroy()
			return nil, fmt.Errorf("input %q: %w", t.Name, err)
		}
		return st, nil
	}
	data := t.Data
	if len(data) == 0 {
		data = make([]byte, 1) // the runtime wants a non-empty buffer even for zero elements
	}
	v, err := ort.NewCustomDataTensor(shape, data, toORT(t.DataType))
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", t.Name, err)
	}
	return v, nil
}

// fromValue copies an output the runtime allocated into t.
func fromValue(v ort.Value, t *tensor.Tensor) error {
	switch x := v.(type) {
	case *ort.StringTensor:
		s, err := x.GetContents()
		if err != nil {
			return err
		}
		t.Strings = make([][]byte, len(s))
		for i := range s {
			t.Strings[i] = []byte(s[i])
		}
		return nil
	case *ort.Tensor[float32]:
		t.Data = asBytes(x.GetData())
	case *ort.Tensor[float64]:
		t.Data = asBytes(x.GetData())
	case *ort.Tensor[int8]:
		t.Data = asBytes(x.GetData())
	case *ort.Tensor[uint8]:
		t.Data = asBytes(x.GetData())
	case *ort.Tensor[int16]:
		t.Data = asBytes(x.GetData())
	case *ort.Tensor[uint16]:
		t.Data = asBytes(x.GetData())
	case *ort.Tensor[int32]:
		t.Data = asBytes(x.GetData())
	case *ort.Tensor[uint32]:
		t.Data = asBytes(x.GetData())
	case *ort.Tensor[int64]:
		t.Data = asBytes(x.GetData())
	case *ort.Tensor[uint64]:
		t.Data = asBytes(x.GetData())
	case *ort.Tensor[bool]:
		t.Data = asBytes(x.GetData())
	default:
		// onnxruntime_go v1.27 copies only one byte per element of the
		// types it has no Go type for (FP16, BF16); such outputs are only
		// served when their shape is known before the run.
		return fmt.Errorf("%s output with a shape only known after the run is not supported", t.DataType)
	}
	if want := t.NumElements() * int64(t.DataType.Size()); int64(len(t.Data)) != want {
		return fmt.Errorf("runtime returned %d bytes for shape %v, want %d", len(t.Data), t.Shape, want)
	}
	return nil
}

// asBytes views a slice of fixed-size values as its little-endian bytes.
// The Go slice was allocated by onnxruntime_go and outlives the OrtValue.
func asBytes[T any](s []T) []byte {
	if len(s) == 0 {
		return []byte{}
	}
	var zero T
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(zero)))
}

var ortTypes = map[tensor.DataType]ort.TensorElementDataType{
	tensor.Bool:   ort.TensorElementDataTypeBool,
	tensor.Uint8:  ort.TensorElementDataTypeUint8,
	tensor.Uint16: ort.TensorElementDataTypeUint16,
	tensor.Uint32: ort.TensorElementDataTypeUint32,
	tensor.Uint64: ort.TensorElementDataTypeUint64,
	tensor.Int8:   ort.TensorElementDataTypeInt8,
	tensor.Int16:  ort.TensorElementDataTypeInt16,
	tensor.Int32:  ort.TensorElementDataTypeInt32,
	tensor.Int64:  ort.TensorElementDataTypeInt64,
	tensor.FP16:   ort.TensorElementDataTypeFloat16,
	tensor.FP32:   ort.TensorElementDataTypeFloat,
	tensor.FP64:   ort.TensorElementDataTypeDouble,
	tensor.BF16:   ort.TensorElementDataTypeBFloat16,
	tensor.Bytes:  ort.TensorElementDataTypeString,
}

func toORT(d tensor.DataType) ort.TensorElementDataType { return ortTypes[d] }

func fromORT(t ort.TensorElementDataType) (tensor.DataType, bool) {
	for d, o := range ortTypes {
		if o == t {
			return d, true
		}
	}
	return tensor.Invalid, false
}
