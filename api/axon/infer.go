package axon

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/axonproto"
)

// InferName is the route of the generic synapse that reaches every model.
const InferName = "Infer"

// InferKind is the generic synapse, as a Python validator declares it:
//
//	class Infer(bt.Synapse):
//	    model: str
//	    inputs: list[dict]
//	    outputs: Optional[list[dict]] = None
//
// with required_hash_fields empty. inputs are KServe v2 JSON input tensors
// ({"name","shape","datatype","data"}; data flat row-major or nested). On
// the way in, outputs may list the wanted outputs by name ({"name": ...});
// the answer replaces it with the output tensors as KServe v2 JSON, data
// flat row-major. The newest ready version of the model answers. Model
// errors keep their status (400 bad input, 404 unknown model, 429 queue
// full, 503 not ready) with the synapse echoed; a passed deadline is 408.
func InferKind(inf Inferer) *Kind {
	return &Kind{
		Name:     InferName,
		Required: []axonproto.Field{{Name: "model", Empty: `""`}, {Name: "inputs", Empty: `[]`}},
		Forward: func(ctx context.Context, call *Call) error {
			return forwardInfer(ctx, inf, call)
		},
	}
}

var null = []byte("null")

func forwardInfer(ctx context.Context, inf Inferer, call *Call) error {
	syn := call.Synapse
	model, ok := syn.String("model")
	if !ok || model == "" {
		return api.BadRequest(`Infer: field "model" must be a model name`)
	}
	inputs, ok := syn.Field("inputs")
	if !ok || bytes.Equal(bytes.TrimSpace(inputs), null) {
		return api.BadRequest(`Infer: field "inputs" is required`)
	}
	kserve := make([]byte, 0, len(inputs)+64)
	kserve = append(kserve, `{"inputs":`...)
	kserve = append(kserve, inputs...)
	if outs, ok := syn.Field("outputs"); ok && !bytes.Equal(bytes.TrimSpace(outs), null) {
		kserve = append(kserve, `,"outputs":`...)
		kserve = append(kserve, outs...)
	}
	kserve = append(kserve, '}')
	req, err := api.DecodeInferRequest(kserve, -1)
	if err != nil {
		return err
	}
	req.BinaryOutput, req.Priority = false, call.Priority
	no := false
	for i := range req.Outputs {
		req.Outputs[i].Binary = &no
	}
	resp, err := inf.Infer(ctx, model, "", req)
	if err != nil {
		return err
	}
	for i := range resp.Outputs {
		resp.Outputs[i].Binary = false
	}
	body, _ := api.AppendInferResponse(nil, resp)
	var out struct {
		Outputs json.RawMessage `json:"outputs"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return err
	}
	if out.Outputs == nil {
		out.Outputs = json.RawMessage("[]")
	}
	syn.Set("outputs", out.Outputs)
	return nil
}
