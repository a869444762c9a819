package api

import (
	"encoding/json"
	"strconv"

	"github.com/taominer/taominer/models/tensor"
)

// DecodeInferRequest decodes the body of an infer request. headerLen is the
// value of the Inference-Header-Content-Length header, or -1 when it is
// absent. With -1 the whole body is JSON; with a positive value body[:headerLen]
// is the JSON header and the rest holds the binary tensors, in the order of
// the inputs that have parameters.binary_data_size. A headerLen of 0 (a raw
// binary body without JSON) is not handled here and is an error.
//
// The Data of binary inputs aliases body (capacity-limited, so appending
// to it copies), as do BYTES elements, binary ones and JSON strings without
// escapes; body must stay unchanged while the request is in use. All errors are *Error with status 400. See the package
// documentation for the rules on "data" values.
func DecodeInferRequest(body []byte, headerLen int) (*InferRequest, error) {
	return decodeInferRequest(body, headerLen, false)
}

// decodeInferRequest is DecodeInferRequest; slow disables the fast path of
// "data" arrays, so that tests can check that it changes nothing.
func decodeInferRequest(body []byte, headerLen int, slow bool) (*InferRequest, error) {
	s := &scanner{slow: slow}
	req := &InferRequest{}
	var inputs []tensorState
	hasInputs := false
	bin, err := s.decodeBody(body, headerLen, "request", []string{"id", "parameters", "inputs", "outputs"}, func(key string) (err error) {
		switch key {
		case "id":
			req.ID, err = s.optString("request", "id")
		case "parameters":
			req.Parameters, err = s.params("request")
			if err == nil {
				req.BinaryOutput, err = takeBool(req.Parameters, "request", "binary_data_output")
				if len(req.Parameters) == 0 {
					req.Parameters = nil
				}
			}
		case "inputs":
			if s.null() { // same as absent
				return nil
			}
			hasInputs = true
			inputs, err = s.tensors("input")
		case "outputs":
			req.Outputs, err = s.requestedOutputs()
		default:
			err = s.skip(1)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !hasInputs {
		return nil, BadRequest(`request: missing "inputs"`)
	}
	if err := attachBinary(inputs, bin, headerLen > 0); err != nil {
		return nil, err
	}
	req.Inputs = make([]tensor.Tensor, len(inputs))
	for i := range inputs {
		req.Inputs[i] = inputs[i].tensor()
		if inputs[i].params != nil {
			if req.InputParameters == nil {
				req.InputParameters = make([]Parameters, len(inputs))
			}
			req.InputParameters[i] = inputs[i].params
		}
	}
	return req, nil
}

// DecodeInferResponse decodes the body of an infer response, for clients and
// tests. headerLen is as for DecodeInferRequest: the value of the response's
// Inference-Header-Content-Length header, or -1 when it is absent. Outputs
// that came in binary form have Binary set.
func DecodeInferResponse(body []byte, headerLen int) (*InferResponse, error) {
	s := &scanner{}
	resp := &InferResponse{}
	var outputs []tensorState
	bin, err := s.decodeBody(body, headerLen, "response", []string{"model_name", "model_version", "id", "parameters", "outputs"}, func(key string) (err error) {
		switch key {
		case "model_name":
			resp.ModelName, err = s.optString("response", "model_name")
		case "model_version":
			resp.ModelVersion, err = s.optString("response", "model_version")
		case "id":
			resp.ID, err = s.optString("response", "id")
		case "parameters":
			resp.Parameters, err = s.params("response")
		case "outputs":
			if !s.null() {
				outputs, err = s.tensors("output")
			}
		default:
			err = s.skip(1)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := attachBinary(outputs, bin, headerLen > 0); err != nil {
		return nil, err
	}
	resp.Outputs = make([]ResponseOutput, len(outputs))
	for i := range outputs {
		resp.Outputs[i] = ResponseOutput{Tensor: outputs[i].tensor(), Binary: outputs[i].hasBin, Parameters: outputs[i].params}
	}
	return resp, nil
}

// decodeBody splits body (see splitBody; what is "request" or "response")
// and decodes its JSON header with s: one object with the known fields,
// each member decoded (or skipped) by member, then nothing more. It returns
// the binary part.
func (s *scanner) decodeBody(body []byte, headerLen int, what string, known []string, member func(key string) error) ([]byte, error) {
	hdr, bin, err := splitBody(body, headerLen, what)
	if err != nil {
		return nil, err
	}
	s.buf = hdr
	if err := s.beginObject(); err != nil {
		return nil, err
	}
	err = s.fields(known, func(key []byte) error {
		return BadRequest("%s: duplicate field %q", what, key)
	}, member)
	if err != nil {
		return nil, err
	}
	if err := s.end(); err != nil {
		return nil, err
	}
	return bin, nil
}

// splitBody splits a body into its JSON header and binary part.
func splitBody(body []byte, headerLen int, what string) (hdr, bin []byte, err error) {
	switch {
	case headerLen == 0:
		return nil, nil, BadRequest("%s: Inference-Header-Content-Length 0 (raw binary body) is not supported here; the body must start with a JSON header", what)
	case headerLen < -1:
		return nil, nil, BadRequest("%s: invalid Inference-Header-Content-Length %d", what, headerLen)
	case headerLen > len(body):
		return nil, nil, BadRequest("%s: Inference-Header-Content-Length %d exceeds the body length %d", what, headerLen, len(body))
	case len(body) == 0:
		return nil, nil, BadRequest("%s: empty body", what)
	case headerLen == -1:
		return body, nil, nil
	}
	return body[:headerLen], body[headerLen:], nil
}

// end checks that only whitespace follows the top-level object.
func (s *scanner) end() error {
	if s.peek(); s.pos != len(s.buf) {
		return s.syntaxErr("the end of the JSON header after the top-level object")
	}
	return nil
}

// fields walks the members of an object whose '{' has been consumed: for
// each key it calls member, which decodes (or skips) the value. A known key
// seen twice is reported through dup.
func (s *scanner) fields(known []string, dup func(key []byte) error, member func(key string) error) error {
	var seen fieldSet
	for first := true; ; first = false {
		key, ok, err := s.nextKey(first)
		if err != nil || !ok {
			return err
		}
		if seen.add(key, known...) {
			return dup(key)
		}
		if err := member(string(key)); err != nil {
			return err
		}
	}
}

// fieldSet records which known fields of an object were seen.
type fieldSet uint16

// add marks key as seen if it is one of known and reports whether it had
// been seen before.
func (f *fieldSet) add(key []byte, known ...string) (dup bool) {
	for i, k := range known {
		if string(key) == k {
			dup = f.has(i)
			*f |= 1 << i
		}
	}
	return dup
}

func (f fieldSet) has(i int) bool { return f&(1<<i) != 0 }

// optString decodes a string field that may be null.
func (s *scanner) optString(label, field string) (string, error) {
	if s.null() {
		return "", nil
	}
	if s.peek() != '"' {
		return "", BadRequest("%s: %q must be a string, got %s", label, field, s.kind())
	}
	v, err := s.str()
	return string(v), err
}

// params decodes a "parameters" object (or null).
func (s *scanner) params(label string) (Parameters, error) {
	if s.null() {
		return nil, nil
	}
	if s.peek() != '{' {
		return nil, BadRequest(`%s: "parameters" must be an object, got %s`, label, s.kind())
	}
	s.pos++
	var p Parameters
	for first := true; ; first = false {
		key, ok, err := s.nextKey(first)
		if err != nil || !ok {
			return p, err
		}
		var v any
		switch c := s.peek(); {
		case c == '"':
			b, err := s.str()
			if err != nil {
				return nil, err
			}
			v = string(b)
		case c == 't' || c == 'f':
			b, ok := s.bool()
			if !ok {
				return nil, s.syntaxErr("a JSON value")
			}
			v = b
		case c == '-' || c >= '0' && c <= '9':
			tok, _, err := s.number()
			if err != nil {
				return nil, err
			}
			v = json.Number(tok)
		default:
			return nil, BadRequest("%s: parameter %q must be a string, number or boolean, got %s", label, key, s.kind())
		}
		if p == nil {
			p = Parameters{}
		}
		p[string(key)] = v
	}
}

// takeBool removes parameter key from p and returns it, which must be a bool.
func takeBool(p Parameters, label, key string) (bool, error) {
	v, ok, err := p.Bool(key)
	if err != nil {
		return false, BadRequest("%s: %v", label, err)
	}
	if ok {
		delete(p, key)
	}
	return v, nil
}

// requestedOutputs decodes the request's "outputs" array (or null).
func (s *scanner) requestedOutputs() ([]RequestedOutput, error) {
	if s.null() {
		return nil, nil
	}
	if s.peek() != '[' {
		return nil, BadRequest(`"outputs" must be an array, got %s`, s.kind())
	}
	s.pos++
	var outs []RequestedOutput
	var names nameSet
	for first := true; ; first = false {
		ok, err := s.nextElem(first)
		if err != nil || !ok {
			return outs, err
		}
		label := "requested output " + strconv.Itoa(len(outs))
		if s.peek() != '{' {
			return nil, BadRequest("%s: must be an object, got %s", label, s.kind())
		}
		s.pos++
		var o RequestedOutput
		err = s.fields([]string{"name", "parameters"}, func(key []byte) error {
			return BadRequest("%s: duplicate field %q", label, key)
		}, func(key string) (err error) {
			switch key {
			case "name":
				o.Name, err = s.optString(label, "name")
				if o.Name != "" {
					label = "requested output " + strconv.Quote(o.Name)
				}
			case "parameters":
				if o.Parameters, err = s.params(label); err == nil {
					err = o.takeBinary(label)
				}
			default:
				err = s.skip(1)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		if o.Name == "" {
			return nil, BadRequest(`%s: missing "name"`, label)
		}
		if names.add(o.Name) {
			return nil, BadRequest("output %q is requested more than once", o.Name)
		}
		outs = append(outs, o)
	}
}

// takeBinary moves parameters.binary_data out of o.Parameters.
func (o *RequestedOutput) takeBinary(label string) error {
	if _, ok := o.Parameters["binary_data"]; !ok {
		return nil
	}
	b, err := takeBool(o.Parameters, label, "binary_data")
	if err != nil {
		return err
	}
	o.Binary = &b
	if len(o.Parameters) == 0 {
		o.Parameters = nil
	}
	return nil
}

// nameSet detects duplicate names: linearly while there are few, with a map
// beyond that.
type nameSet struct {
	list []string
	m    map[string]bool
}

// add adds name and reports whether it was already present.
func (n *nameSet) add(name string) (dup bool) {
	if n.m == nil && len(n.list) < 16 {
		for _, x := range n.list {
			if x == name {
				return true
			}
		}
		n.list = append(n.list, name)
		return false
	}
	if n.m == nil {
		n.m = make(map[string]bool, 2*len(n.list))
		for _, x := range n.list {
			n.m[x] = true
		}
	}
	dup = n.m[name]
	n.m[name] = true
	return dup
}
