package api

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/taominer/taominer/models/tensor"
)

// FuzzDecodeInferRequest checks that no body makes the decoder panic, that
// errors are 400s, that the fast path of "data" arrays changes no result and
// no error, and that a decoded request re-encodes, in binary and in JSON
// form, to a body that decodes to the same request.
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
		req, err := decodeBoth(t, body, headerLen)
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

// FuzzDataFastPath checks that the fast path of "data" arrays gives the same
// result or the same error as the general code, for arrays of each numeric
// type. The array is put in a body with padding after it, so that it does not
// all fall in the last bytes of the body, which the fast path leaves to the
// general code.
func FuzzDataFastPath(f *testing.F) {
	for i, tok := range fastDataTokens {
		f.Add(uint8(i), "["+tok+", 1.5, "+tok+"]", uint8(i%3))
	}
	f.Add(uint8(0), "[0.123456789,-0.987654321,1e-5, 3.4028235e38]", uint8(0))
	f.Add(uint8(1), "[[1,2],[3,4.5e-3]]", uint8(4))
	f.Add(uint8(7), "[9223372036854775807,-9223372036854775808,0,-0]", uint8(2))
	dts := []string{"FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64", "FP16"}
	f.Fuzz(func(t *testing.T, dt uint8, data string, shape uint8) {
		body := fmt.Sprintf(`{"inputs":[{"name":"x","datatype":%q,"shape":[%d],"data":%s,"pad":"%s"}]}`,
			dts[int(dt)%len(dts)], shape, data, strings.Repeat(" ", 64))
		decodeBoth(t, []byte(body), -1)
	})
}
