package api

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/taominer/taominer/models/tensor"
)

// FuzzDecodeInferRequest checks that no body makes the decoder panic, that
// errors are 400s, and that a decoded request re-encodes, in binary and in
// JSON form, to a body that decodes to the same request.
func FuzzDecodeInferRequest(f *testing.F) {
	for _, tc := range errorCases {
		body, headerLen := errorCaseBody(tc.body, tc.headerLen)
		f.Add(body, headerLen)
	}
	for _, binary := range []bool{false, true} {
		body, headerLen := AppendInferRequest(nil, &InferRequest{
			ID: "seed", Parameters: Parameters{"p": 1}, Inputs: roundTripTensors,
			Outputs: []RequestedOutput{{Name: "y", Binary: new(true)}}, BinaryOutput: true,
		}, binary)
		if !binary {
			headerLen = -1
		}
		f.Add(body, headerLen)
	}
	f.Add([]byte(input(`"data":[[1,2],[3,4]],"shape":[2,2],"datatype":"FP16","name":"x"`)), -1)
	f.Add([]byte(input(`"name":"x","datatype":"BYTES","shape":[2],"data":["\ud83d\ude00","a\u0000"]`)), -1)
	f.Fuzz(func(t *testing.T, body []byte, headerLen int) {
		req, err := DecodeInferRequest(body, headerLen)
		if err != nil {
			wantBadRequest(t, err, "")
			return
		}
		for _, in := range req.Inputs {
			if err := in.Validate(); err != nil {
				t.Fatalf("decoded input does not validate: %v", err)
			}
		}
		for _, binary := range []bool{true, false} {
			t.Run(fmt.Sprintf("binary=%v", binary), func(t *testing.T) {
				body2, headerLen2 := AppendInferRequest(nil, req, binary)
				if !binary {
					headerLen2 = -1
				}
				got, err := DecodeInferRequest(body2, headerLen2)
				if err != nil {
					t.Fatalf("re-encoded body %q does not decode: %v", body2, err)
				}
				want := *req
				if !binary {
					want.Inputs = make([]tensor.Tensor, len(req.Inputs))
					for i, in := range req.Inputs {
						want.Inputs[i] = jsonEquivalent(in)
					}
					got2 := make([]tensor.Tensor, len(got.Inputs))
					for i, in := range got.Inputs {
						got2[i] = jsonEquivalent(in)
					}
					got.Inputs = got2
				}
				if diff := cmp.Diff(&want, got, cmpOpts...); diff != "" {
					t.Fatalf("re-encoded request differs (-want +got):\n%s\nbody: %q\nre-encoded: %q", diff, body, body2)
				}
			})
		}
	})
}
