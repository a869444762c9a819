package kservegrpc

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/taominer/taominer/api/kservepb"
)

// ModelInfer runs one request through the front. Its deadline is the
// earlier of the call's gRPC deadline and its "timeout" parameter
// (microseconds; the front applies it); its "priority" parameter (int64
// or uint64, as Triton clients send it) picks its priority level.
func (h *handler) ModelInfer(ctx context.Context, m *kservepb.ModelInferRequest) (*kservepb.ModelInferResponse, error) {
	o, err := h.ready(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := infer(ctx, o, m)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return resp, nil
}

func infer(ctx context.Context, o *Options, m *kservepb.ModelInferRequest) (*kservepb.ModelInferResponse, error) {
	req, err := DecodeInferRequest(m)
	if err != nil {
		return nil, err
	}
	resp, err := o.Inferer.Infer(ctx, m.GetModelName(), m.GetModelVersion(), req)
	if err != nil {
		return nil, err
	}
	return EncodeInferResponse(resp), nil
}

// finalResponse is the request parameter asking a stream to mark the last
// response of a request, and the response parameter marking it.
const (
	paramEmptyFinal = "triton_enable_empty_final_response"
	paramFinal      = "triton_final_response"
)

// ModelStreamInfer runs the requests of a stream one after another, each
// answered by one response (a failed request by its error_message; the
// stream stays open). Each request is charged to the body budget while it
// runs. A request with triton_enable_empty_final_response gets its one
// response marked triton_final_response.
func (h *handler) ModelStreamInfer(stream kservepb.GRPCInferenceService_ModelStreamInferServer) error {
	ctx := stream.Context()
	o, err := h.ready(ctx)
	if err != nil {
		return err
	}
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		out, err := h.streamOne(ctx, o, m)
		if err != nil {
			return err
		}
		if err := stream.Send(out); err != nil {
			return err
		}
	}
}

// streamOne answers one request of a stream; err ends the stream.
func (h *handler) streamOne(ctx context.Context, o *Options, m *kservepb.ModelInferRequest) (*kservepb.ModelStreamInferResponse, error) {
	release, err := h.s.charge(ctx, m)
	if err != nil {
		return nil, err
	}
	defer release()
	final := false
	if p, ok := m.GetParameters()[paramEmptyFinal]; ok {
		final = p.GetBoolParam()
		delete(m.Parameters, paramEmptyFinal)
	}
	resp, err := infer(ctx, o, m)
	if err != nil {
		reason, st := toStatus(err)
		if status.Code(st) == codes.Canceled {
			return nil, st // the stream ends, counted once as the call's answer
		}
		h.s.answers.WithLabelValues("ModelStreamInfer", status.Code(st).String(), reason).Inc()
		return &kservepb.ModelStreamInferResponse{ErrorMessage: err.Error(),
			InferResponse: &kservepb.ModelInferResponse{Id: m.GetId(), ModelName: m.GetModelName(), ModelVersion: m.GetModelVersion()}}, nil
	}
	if final {
		if resp.Parameters == nil {
			resp.Parameters = map[string]*kservepb.InferParameter{}
		}
		resp.Parameters[paramFinal] = parameter(true)
	}
	return &kservepb.ModelStreamInferResponse{InferResponse: resp}, nil
}
