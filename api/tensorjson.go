package api

import (
	"encoding/json"
	"strconv"

	"github.com/taominer/taominer/models/tensor"
)

// tensors decodes the "inputs" or "outputs" array of tensors.
func (s *scanner) tensors(what string) ([]tensorState, error) {
	if s.peek() != '[' {
		return nil, BadRequest(`%q must be an array, got %s`, what+"s", s.kind())
	}
	s.pos++
	var ts []tensorState
	var names nameSet
	for first := true; ; first = false {
		ok, err := s.nextElem(first)
		if err != nil || !ok {
			return ts, err
		}
		t, err := s.tensorObject(what, len(ts))
		if err != nil {
			return nil, err
		}
		if names.add(t.name) {
			return nil, BadRequest("%s %q appears more than once", what, t.name)
		}
		ts = append(ts, t)
	}
}

// tensorObject decodes one tensor object: an input of a request or an output
// of a response. Fields may come in any order.
func (s *scanner) tensorObject(what string, index int) (tensorState, error) {
	t := tensorState{what: what, index: index, dataAt: -1}
	if s.peek() != '{' {
		return t, t.errf("must be an object, got %s", s.kind())
	}
	s.pos++
	err := s.fields([]string{"name", "datatype", "shape", "parameters", "data"}, func(key []byte) error {
		return t.errf("duplicate field %q", key)
	}, func(key string) (err error) {
		switch key {
		case "name":
			if s.peek() != '"' {
				return t.errf(`"name" must be a string, got %s`, s.kind())
			}
			v, err := s.str()
			if err != nil {
				return err
			}
			if len(v) == 0 {
				return t.errf(`"name" is empty`)
			}
			t.name = string(v)
		case "datatype":
			if s.peek() != '"' {
				return t.errf(`"datatype" must be a string, got %s`, s.kind())
			}
			v, err := s.str()
			if err != nil {
				return err
			}
			if t.dt, err = tensor.ParseDataType(string(v)); err != nil {
				return t.errf("%v", err)
			}
		case "shape":
			err = s.shape(&t)
		case "parameters":
			if t.params, err = s.params(t.label()); err == nil {
				err = t.takeBinarySize()
			}
		case "data":
			if s.null() {
				return nil
			}
			t.hasData = true
			if t.dt.Valid() {
				err = s.parseData(&t)
			} else { // datatype comes later: parse once the object is read
				t.dataAt = s.pos
				err = s.skip(1)
			}
		default:
			err = s.skip(1)
		}
		return err
	})
	if err != nil {
		return t, err
	}
	switch {
	case t.name == "":
		return t, t.errf(`missing "name"`)
	case !t.dt.Valid():
		return t, t.errf(`missing "datatype"`)
	case !t.hasShape:
		return t, t.errf(`missing "shape"`)
	case t.hasBin && t.hasData:
		return t, t.errf(`has both "data" and parameters.binary_data_size`)
	case !t.hasBin && !t.hasData:
		return t, t.errf(`missing "data" (or parameters.binary_data_size for binary data)`)
	}
	if t.dataAt >= 0 {
		end := s.pos
		s.pos = t.dataAt
		if err := s.parseData(&t); err != nil {
			return t, err
		}
		s.pos = end
	}
	if t.hasData && t.count != t.n {
		return t, t.errf("shape %s needs %d elements, got %d", tensor.FormatShape(t.shape), t.n, t.count)
	}
	return t, nil
}

// takeBinarySize moves parameters.binary_data_size out of t.params.
func (t *tensorState) takeBinarySize() error {
	v, ok := t.params["binary_data_size"]
	if !ok {
		return nil
	}
	num, _ := v.(json.Number)
	size, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil || size < 0 {
		return t.errf("parameter \"binary_data_size\" must be a non-negative integer, got %s", describeParam(v))
	}
	t.hasBin, t.binSize = true, size
	if delete(t.params, "binary_data_size"); len(t.params) == 0 {
		t.params = nil
	}
	return nil
}

// shape decodes a "shape" array of non-negative integers.
func (s *scanner) shape(t *tensorState) error {
	const want = `"shape" must be an array of non-negative integers`
	if s.peek() != '[' {
		return t.errf("%s, got %s", want, s.kind())
	}
	s.pos++
	shape := make([]int64, 0, 4)
	n, zero := int64(1), false
	for first := true; ; first = false {
		ok, err := s.nextElem(first)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if c := s.peek(); c != '-' && (c < '0' || c > '9') {
			return t.errf("%s, got %s", want, s.kind())
		}
		tok, integer, err := s.number()
		if err != nil {
			return err
		}
		d, err := strconv.ParseInt(unsafeString(tok), 10, 64)
		if !integer || err != nil || d < 0 {
			return t.errf("%s, got %s", want, tok)
		}
		switch {
		case d == 0:
			zero = true
		case n > maxElements/d:
			n = maxElements + 1
		default:
			n *= d
		}
		shape = append(shape, d)
	}
	if zero {
		n = 0
	}
	if n > maxElements {
		return t.errf("shape %s has more than 2^53 elements", tensor.FormatShape(shape))
	}
	t.shape, t.n, t.hasShape = shape, n, true
	return nil
}
