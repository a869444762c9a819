package onnx

import (
	"context"
	_ "embed" // the probe model
	"encoding/binary"
	"fmt"
	"math"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/tensor"
)

// probeModel is models/modeltest/testdata/row_sum.onnx (197 bytes): x FP32
// [batch,n] → s [batch,1] row sums, y = 3x [batch,n].
//
//go:embed probe.onnx
var probeModel []byte

// ProbeInput is the input Probe runs: x FP32 [2,3].
var ProbeInput = []float32{1, 2, 3, 4, 5, 6}

// ProbeWant is what the probe model computes from ProbeInput: the row sums
// then 3x.
var ProbeWant = []float32{6, 15, 3, 6, 9, 12, 15, 18}

// Probe opens a tiny model built into the binary on provider and device,
// without falling back, and runs it once with ProbeInput through the given
// binding mode. It returns the outputs (s then y, as float32), or the
// error that stopped the provider, which wraps ONNX Runtime's own message.
// Init must have been called.
func Probe(ctx context.Context, provider string, deviceID int, binding Binding) ([]float32, error) {
	spec := func(name string, dims ...int64) models.TensorSpec {
		return models.TensorSpec{Name: name, DataType: tensor.FP32, Shape: dims}
	}
	io := models.IO{
		Inputs:  []models.TensorSpec{spec("x", -1, -1)},
		Outputs: []models.TensorSpec{spec("s", -1, 1), spec("y", -1, -1)},
	}
	opts := Options{IntraOpThreads: 1, ExecutionProvider: provider, DeviceID: deviceID, Binding: binding}
	s, err := open("probe model", io, opts, func(in, out []string, so *ort.SessionOptions) (*ort.DynamicAdvancedSession, error) {
		return ort.NewDynamicAdvancedSessionWithONNXData(probeModel, in, out, so)
	})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	data := make([]byte, 4*len(ProbeInput))
	for i, v := range ProbeInput {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
	}
	outs, err := s.Run(ctx, []tensor.Tensor{{Name: "x", DataType: tensor.FP32, Shape: []int64{2, 3}, Data: data}})
	if err != nil {
		return nil, fmt.Errorf("probe run on %s: %w", provider, err)
	}
	var got []float32
	for _, o := range outs {
		for i := 0; i+4 <= len(o.Data); i += 4 {
			got = append(got, math.Float32frombits(binary.LittleEndian.Uint32(o.Data[i:])))
		}
	}
	return got, nil
}
