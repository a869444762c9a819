package engine

import (
	"strings"

	"github.com/taominer/taominer/api"
)

// unsupported are protocol parameters of extensions this server does not
// implement; a request that uses them is refused rather than answered as if
// they were not there.
var unsupported = map[string]string{
	"shared_memory_region":    "the shared-memory extensions are not supported",
	"shared_memory_byte_size": "the shared-memory extensions are not supported",
	"shared_memory_offset":    "the shared-memory extensions are not supported",
	"classification":          "the classification extension is not supported",
	"sequence_id":             "the sequence extension is not supported",
	"sequence_start":          "the sequence extension is not supported",
	"sequence_end":            "the sequence extension is not supported",
}

// checkParameters refuses parameters of unimplemented extensions anywhere in
// the request.
func checkParameters(req *api.InferRequest) error {
	check := func(where string, p api.Parameters) error {
		for k := range p {
			if why, ok := unsupported[k]; ok {
				return api.BadRequest("%s parameter '%s': %s", where, k, why)
			}
			if strings.HasPrefix(k, "triton_") {
				return api.BadRequest("%s parameter '%s': reserved name", where, k)
			}
		}
		return nil
	}
	if err := check("request", req.Parameters); err != nil {
		return err
	}
	for i, p := range req.InputParameters {
		if err := check("input '"+req.Inputs[i].Name+"'", p); err != nil {
			return err
		}
	}
	for _, o := range req.Outputs {
		if err := check("output '"+o.Name+"'", o.Parameters); err != nil {
			return err
		}
	}
	return nil
}
