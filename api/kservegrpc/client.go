package kservegrpc

import (
	"context"
	"encoding/binary"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/kservepb"
	"github.com/taominer/taominer/models/tensor"
)

// EncodeInferRequest is the client side of DecodeInferRequest: req as a
// ModelInferRequest for model and version with every input's data in
// raw_input_contents (as tritonclient sends it). Fixed-size data aliases
// req's tensors.
func EncodeInferRequest(model, version string, req *api.InferRequest) *kservepb.ModelInferRequest {
	m := &kservepb.ModelInferRequest{ModelName: model, ModelVersion: version, Id: req.ID,
		Parameters: outParameters(req.Parameters), RawInputContents: make([][]byte, len(req.Inputs))}
	for i := range req.Inputs {
		t := &req.Inputs[i]
		in := &kservepb.ModelInferRequest_InferInputTensor{Name: t.Name, Datatype: t.DataType.String(), Shape: t.Shape}
		if i < len(req.InputParameters) {
			in.Parameters = outParameters(req.InputParameters[i])
		}
		m.Inputs = append(m.Inputs, in)
		m.RawInputContents[i] = rawData(t)
	}
	for _, o := range req.Outputs {
		m.Outputs = append(m.Outputs, &kservepb.ModelInferRequest_InferRequestedOutputTensor{Name: o.Name,
			Parameters: outParameters(o.Parameters)})
	}
	return m
}

// DecodeInferResponse is the client side of EncodeInferResponse: outputs
// from raw_output_contents (or, without it, BYTES and numeric typed
// contents are not read: taominer always answers raw). Data aliases m.
func DecodeInferResponse(m *kservepb.ModelInferResponse) (*api.InferResponse, error) {
	raw := m.GetRawOutputContents()
	if len(raw) != len(m.GetOutputs()) {
		return nil, api.Fail(api.KindInternal, "response has %d raw_output_contents for %d outputs", len(raw), len(m.GetOutputs()))
	}
	r := &api.InferResponse{ModelName: m.GetModelName(), ModelVersion: m.GetModelVersion(), ID: m.GetId()}
	var err error
	if r.Parameters, err = parameters("response", m.GetParameters()); err != nil {
		return nil, err
	}
	for i, o := range m.GetOutputs() {
		dt, err := tensor.ParseDataType(o.GetDatatype())
		if err != nil {
			return nil, api.Fail(api.KindInternal, "output '%s': %v", o.GetName(), err)
		}
		t := tensor.Tensor{Name: o.GetName(), DataType: dt, Shape: o.GetShape()}
		if dt == tensor.Bytes {
			b := raw[i]
			for len(b) >= 4 {
				l := binary.LittleEndian.Uint32(b)
				if uint64(l) > uint64(len(b)-4) {
					break
				}
				t.Strings = append(t.Strings, b[4:4+l])
				b = b[4+l:]
			}
		} else {
			t.Data = raw[i]
		}
		if err := t.Validate(); err != nil {
			return nil, api.Fail(api.KindInternal, "output: %v", err)
		}
		p, err := parameters("output '"+t.Name+"'", o.GetParameters())
		if err != nil {
			return nil, err
		}
		r.Outputs = append(r.Outputs, api.ResponseOutput{Tensor: t, Binary: true, Parameters: p})
	}
	return r, nil
}

// CheckReady asks the gRPC port at addr (host:port) ServerReady once: nil
// when it answers ready, else what it answered or why it did not.
func CheckReady(ctx context.Context, addr string) error {
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cc.Close()
	r, err := kservepb.NewGRPCInferenceServiceClient(cc).ServerReady(ctx, &kservepb.ServerReadyRequest{}, grpc.WaitForReady(true))
	if err != nil {
		return fmt.Errorf("ServerReady on %s: %w", addr, err)
	}
	if !r.GetReady() {
		return fmt.Errorf("ServerReady on %s: not ready", addr)
	}
	return nil
}
