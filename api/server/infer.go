package server

import (
	"bytes"
	"net/http"
	"strconv"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/guard"
	"github.com/taominer/taominer/models/tensor"
)

// HeaderContentLength is the binary tensor extension's header giving the
// size of the JSON part of a body.
const HeaderContentLength = "Inference-Header-Content-Length"

// bufPool recycles request and response bodies. Decoded binary tensors
// alias the request body, so a body returns to the pool only after the
// response that used it is written.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooled keeps huge one-off bodies out of the pool.
const maxPooled = 4 << 20

func getBuf() *bytes.Buffer { return bufPool.Get().(*bytes.Buffer) }

func putBuf(b *bytes.Buffer) {
	if b.Cap() <= maxPooled {
		b.Reset()
		bufPool.Put(b)
	}
}

// Content types of infer answers, shared by every answer's header.
var (
	applicationJSON = []string{"application/json"}
	octetStream     = []string{"application/octet-stream"}
)

func (h *handlers) infer(c *gin.Context) {
	model, version := c.Param("model"), c.Param("version")
	body := getBuf()
	defer putBuf(body)
	resp, err := h.run(c, model, version, body)
	if err != nil {
		writeError(c, err)
		return
	}
	out := getBuf()
	defer putBuf(out)
	encoded, headerLen := api.AppendInferResponse(out.Bytes(), resp)
	w := c.Writer
	hdr := w.Header()
	// Canonical keys and shared, never modified values: no allocation per
	// answer for the fixed headers (Header.Set allocates a slice each).
	if headerLen < len(encoded) {
		hdr["Content-Type"] = octetStream
		hdr[HeaderContentLength] = []string{strconv.Itoa(headerLen)}
	} else {
		hdr["Content-Type"] = applicationJSON
	}
	hdr["Content-Length"] = []string{strconv.Itoa(len(encoded))}
	w.WriteHeader(http.StatusOK)
	w.Write(encoded)
	if cap(encoded) > out.Cap() {
		// Keep the grown buffer for the next response.
		*out = *bytes.NewBuffer(encoded[:0])
	}
}

// run reads, decodes and runs one infer request, its body read into body.
// An Inferer that gathers batches (Expecter) is told about the request from
// its start until it is answered, so that a batch forming meanwhile may
// wait for it; a slow body can hold a batch no longer than the Inferer's
// bound (batch.Options.GatherWindow).
func (h *handlers) run(c *gin.Context, model, version string, body *bytes.Buffer) (*api.InferResponse, error) {
	ctx := c.Request.Context()
	if e, ok := h.opt.Inferer.(Expecter); ok {
		var done func()
		ctx, done = e.Expect(ctx, model, version)
		defer done()
	}
	data, err := h.readBody(c, body)
	if err != nil {
		return nil, err
	}
	req, err := h.decode(c, model, version, data)
	if err != nil {
		return nil, err
	}
	if h.opt.Priority != nil {
		req.Priority = h.opt.Priority(ctx)
	}
	return h.opt.Inferer.Infer(ctx, model, version, req)
}

// readBody reads the request body within the size limit into buf (a
// pooled buffer, which keeps what it grew to). Memory follows the bytes
// received, never the declared length (guard.ReadAll).
func (h *handlers) readBody(c *gin.Context, buf *bytes.Buffer) ([]byte, error) {
	n := c.Request.ContentLength
	if n > h.opt.MaxBodyBytes {
		return nil, api.Errorf(http.StatusRequestEntityTooLarge, "request body too large: %d bytes, the limit is %d bytes (--max-body-bytes)", n, h.opt.MaxBodyBytes)
	}
	r := http.MaxBytesReader(c.Writer, c.Request.Body, h.opt.MaxBodyBytes)
	data, err := guard.ReadAll(r, n, buf.AvailableBuffer())
	if cap(data) > buf.Cap() {
		*buf = *bytes.NewBuffer(data[:0])
	}
	if err != nil {
		return nil, bodyError(err)
	}
	return data, nil
}

func (h *handlers) decode(c *gin.Context, model, version string, body []byte) (*api.InferRequest, error) {
	headerLen := -1
	if v := c.GetHeader(HeaderContentLength); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, api.BadRequest("%s: %q is not a non-negative integer", HeaderContentLength, v)
		}
		if n > len(body) {
			return nil, api.BadRequest("%s is %d but the body has only %d bytes", HeaderContentLength, n, len(body))
		}
		headerLen = n
	}
	if headerLen == 0 {
		return h.rawRequest(model, version, body)
	}
	return api.DecodeInferRequest(body, headerLen)
}

// rawRequest builds the request of the binary extension's raw mode: the
// body is the only input's bytes, as a batch of one, and every output comes
// back binary.
func (h *handlers) rawRequest(model, version string, body []byte) (*api.InferRequest, error) {
	md, err := h.opt.Catalog.ModelMetadata(model, version)
	if err != nil {
		return nil, err
	}
	if len(md.Inputs) != 1 {
		return nil, api.BadRequest("raw binary request (%s: 0) needs a model with exactly one input; '%s' has %d", HeaderContentLength, model, len(md.Inputs))
	}
	in := md.Inputs[0]
	dt, err := tensor.ParseDataType(in.Datatype)
	if err != nil {
		return nil, err
	}
	t := tensor.Tensor{Name: in.Name, DataType: dt, Shape: append([]int64(nil), in.Shape...)}
	if dt == tensor.Bytes {
		t.Shape = []int64{1}
		if len(in.Shape) == 2 && in.Shape[0] < 0 {
			t.Shape = []int64{1, 1}
		}
		t.Strings = [][]byte{body}
		return &api.InferRequest{Inputs: []tensor.Tensor{t}, BinaryOutput: true}, nil
	}
	if len(t.Shape) > 0 && t.Shape[0] < 0 {
		t.Shape[0] = 1 // a batch of one
	}
	known, variable := int64(dt.Size()), -1
	for i, d := range t.Shape {
		if d >= 0 {
			known *= d
			continue
		}
		if variable >= 0 {
			return nil, api.BadRequest("raw binary request: input '%s' has shape %s with more than one variable dimension", in.Name, tensor.FormatShape(in.Shape))
		}
		variable = i
	}
	if variable >= 0 && known > 0 {
		if int64(len(body))%known != 0 {
			return nil, api.BadRequest("raw binary request: %d bytes is not a whole number of %s rows of %d bytes for input '%s'", len(body), dt, known, in.Name)
		}
		t.Shape[variable] = int64(len(body)) / known
	}
	if want := tensor.NumElements(t.Shape) * int64(dt.Size()); want != int64(len(body)) {
		return nil, api.BadRequest("raw binary request: input '%s' of shape %s and type %s needs %d bytes, got %d", in.Name, tensor.FormatShape(t.Shape), dt, want, len(body))
	}
	t.Data = body
	return &api.InferRequest{Inputs: []tensor.Tensor{t}, BinaryOutput: true}, nil
}
