package guard

import (
	"errors"
	"fmt"
	"github.com/taominer/taominer/api"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Handler guards h, which speaks protocol (the protocol label of its
// refusals: "kserve", "axon", ...). For each request it:
//
//   - gives the body BodyTimeout from the end of the headers to arrive
//     (a read deadline; net/http clears it once the body has been read to
//     its end, so that queueing and inference have no read deadline; a body
//     the handler never reads keeps it, so that net/http's own drain of it
//     cannot stall either);
//   - wraps the body so that bytes are charged to the budget as they
//     arrive, and a body over MaxBodyBytes, over the budget or past its
//     deadline fails with a *RefusalError (413, 503, 408) and marks the
//     connection to be closed;
//   - sets the answer's write deadline when the handler starts writing it
//     (WriteTimeout from then); until then writes (a 100 Continue) have
//     BodyTimeout+WriteTimeout;
//   - after h returns, counts one refusal from what h answered (the body's
//     refusal, or 413, or 499 for a client that went away) and releases
//     the body's bytes.
func (p *Port) Handler(protocol string, h http.Handler) http.Handler {
	p.met.initPort(p.name, protocol)
	return &handler{port: p, protocol: protocol, next: h}
}

type handler struct {
	port     *Port
	protocol string
	next     http.Handler
}

// deadliner is what *http.response offers (http.ResponseController's
// SetReadDeadline and SetWriteDeadline, without the controller).
type deadliner interface {
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// exchanges recycles the per-request state (the answer writer and the
// body), so that guarding a request allocates nothing.
var exchanges = sync.Pool{New: func() any { return new(exchange) }}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := exchanges.Get().(*exchange)
	x.reset(h, w)
	lim := &h.port.limits
	now := time.Now()
	if x.dl != nil {
		_ = x.dl.SetWriteDeadline(now.Add(lim.BodyTimeout + lim.WriteTimeout))
	}
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		if x.dl != nil {
			_ = x.dl.SetReadDeadline(now.Add(lim.BodyTimeout))
		}
		x.body = body{rc: r.Body, x: x, declared: r.ContentLength}
		r.Body = &x.body
	}
	h.next.ServeHTTP(x, r)
	h.finish(x, r)
	if h.port.budget != nil {
		h.port.budget.release(x.body.n)
	}
	x.reset(nil, nil)
	exchanges.Put(x)
}

// finish counts what the handler answered, once.
func (h *handler) finish(x *exchange, r *http.Request) {
	reason := ""
	switch {
	case x.body.refusal != nil:
		reason = x.body.refusal.Reason
	case x.status == http.StatusRequestEntityTooLarge:
		reason = ReasonBodyTooLarge
	case x.status == api.StatusClientClosedRequest:
		reason = ReasonClientClosed
	default:
		return
	}
	protocol := h.protocol
	if x.protocol != "" {
		protocol = x.protocol
	}
	h.port.met.RefusedRequest(h.port.name, protocol, reason, x.status, r)
}

// exchange is one guarded request: the answer writer the handler sees and
// the guarded body.
type exchange struct {
	h        *handler
	w        http.ResponseWriter
	dl       deadliner
	status   int
	body     body
	protocol string // set by SetProtocol; "" is the handler's
}

func (x *exchange) reset(h *handler, w http.ResponseWriter) {
	dl, _ := w.(deadliner)
	*x = exchange{h: h, w: w, dl: dl}
}

// SetProtocol relabels what the guard counts for the request answered
// through w (the writer a guarded handler was given, or one wrapping it
// with an Unwrap method): its refusals are counted with protocol instead
// of the port handler's (the axon port serves both the axon and Epistula).
// It reports false when w is not a guard's writer.
func SetProtocol(w http.ResponseWriter, protocol string) bool {
	for {
		switch v := w.(type) {
		case *exchange:
			v.protocol = protocol
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = v.Unwrap()
		default:
			return false
		}
	}
}

// Header returns the answer's header map.
func (x *exchange) Header() http.Header { return x.w.Header() }

// WriteHeader starts the answer: its write deadline runs from now.
func (x *exchange) WriteHeader(code int) {
	if x.status == 0 && code >= 200 {
		x.status = code
		if x.dl != nil {
			_ = x.dl.SetWriteDeadline(time.Now().Add(x.h.port.limits.WriteTimeout))
		}
	}
	x.w.WriteHeader(code)
}

// Write writes the answer's body (starting the answer with 200 if needed).
func (x *exchange) Write(b []byte) (int, error) {
	if x.status == 0 {
		x.WriteHeader(http.StatusOK)
	}
	return x.w.Write(b)
}

// Flush sends what is buffered.
func (x *exchange) Flush() {
	if x.status == 0 {
		x.WriteHeader(http.StatusOK)
	}
	if f, ok := x.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (x *exchange) Unwrap() http.ResponseWriter { return x.w }

// body is a guarded request body.
type body struct {
	rc       io.ReadCloser
	x        *exchange
	declared int64 // Content-Length, or -1
	n        int64 // bytes received (and charged)
	refusal  *RefusalError
	eof      bool
}

func (b *body) Read(p []byte) (int, error) {
	switch {
	case b.refusal != nil:
		return 0, b.refusal
	case b.eof:
		return 0, io.EOF
	}
	port := b.x.h.port
	max := port.limits.MaxBodyBytes
	if b.declared > max {
		return 0, b.refuse(http.StatusRequestEntityTooLarge, ReasonBodyTooLarge,
			fmt.Sprintf("request body too large: %d bytes, the limit is %d bytes (--max-body-bytes)", b.declared, max))
	}
	n, err := b.rc.Read(p)
	if n > 0 {
		if b.n+int64(n) > max {
			return 0, b.refuse(http.StatusRequestEntityTooLarge, ReasonBodyTooLarge,
				fmt.Sprintf("request body too large: over the limit of %d bytes (--max-body-bytes)", max))
		}
		if port.budget != nil && !port.budget.charge(int64(n)) {
			return 0, b.refuse(http.StatusServiceUnavailable, ReasonBodyBudget,
				"server busy: request bodies in progress fill the memory set aside for them (--max-inflight-body-bytes); retry shortly")
		}
		b.n += int64(n)
	}
	if err != nil {
		if err == io.EOF {
			// The body is in. net/http clears the read deadline as it starts
			// watching for the client going away, so the request runs with
			// no read deadline.
			b.eof = true
		} else if isTimeout(err) {
			return 0, b.refuse(http.StatusRequestTimeout, ReasonBodyTimeout,
				fmt.Sprintf("request body not received within %s (--body-read-timeout): %d of %s bytes arrived",
					port.limits.BodyTimeout, b.n, declared(b.declared)))
		}
	}
	return n, err
}

func declared(n int64) string {
	if n < 0 {
		return "an undeclared number of"
	}
	return fmt.Sprint(n)
}

// refuse records the refusal and asks for the connection to be closed
// after the answer (a client that breaks a body limit gets no second
// request on it, and its unread bytes are never read).
func (b *body) refuse(status int, reason, msg string) *RefusalError {
	b.refusal = &RefusalError{Status: status, Reason: reason, Message: msg}
	h := b.x.w.Header()
	h.Set("Connection", "close")
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	return b.refusal
}

func (b *body) Close() error { return b.rc.Close() }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
