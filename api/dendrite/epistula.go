package dendrite

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/taominer/taominer/api/epistula"
)

// MaxEpistulaAnswer bounds the answer body CallEpistula reads.
const MaxEpistulaAnswer = 64 << 20

// EpistulaRequest is one Epistula v2 request to sign and send.
type EpistulaRequest struct {
	// Method (empty: POST) and URL of the request.
	Method, URL string
	// SignedFor is the receiver's hotkey, SS58 (Epistula-Signed-For).
	SignedFor string
	// Body is sent exactly as given, and its SHA-256 signed.
	Body []byte
	// Header holds extra headers (e.g. a subnet's own); the Epistula
	// headers are set over them.
	Header http.Header
}

// EpistulaResponse is a receiver's answer.
type EpistulaResponse struct {
	Status int
	Header http.Header
	Body   []byte
	// ProcessTime is the round trip.
	ProcessTime time.Duration
}

// SignEpistula returns req as an *http.Request signed with the client's
// hotkey (Epistula-Signed-By) at the client's clock, with a new uuid.
func (c *Client) SignEpistula(ctx context.Context, req EpistulaRequest) (*http.Request, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	s, err := epistula.Sign(c.key, req.Body, req.SignedFor, now(), "")
	if err != nil {
		return nil, fmt.Errorf("dendrite: %w", err)
	}
	method := req.Method
	if method == "" {
		method = http.MethodPost
	}
	hr, err := http.NewRequestWithContext(ctx, method, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		return nil, fmt.Errorf("dendrite: epistula request: %w", err)
	}
	if len(req.Body) == 0 {
		hr.Body, hr.ContentLength = http.NoBody, 0
	}
	for k, v := range req.Header {
		hr.Header[k] = append([]string(nil), v...)
	}
	for k, v := range s.Header {
		hr.Header[k] = v
	}
	return hr, nil
}

// CallEpistula signs and sends req and reads the answer (at most
// MaxEpistulaAnswer bytes). ctx bounds the call. An error means no answer
// came; any status is an answer.
func (c *Client) CallEpistula(ctx context.Context, req EpistulaRequest) (*EpistulaResponse, error) {
	hr, err := c.SignEpistula(ctx, req)
	if err != nil {
		return nil, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	start := time.Now()
	resp, err := hc.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("dendrite: epistula %s %s: %w", hr.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxEpistulaAnswer))
	if err != nil {
		return nil, fmt.Errorf("dendrite: epistula answer: %w", err)
	}
	return &EpistulaResponse{Status: resp.StatusCode, Header: resp.Header, Body: body, ProcessTime: time.Since(start)}, nil
}

// MarshalJSON prints the answer as {"status", "process_time_ms", "body"}:
// the body as JSON when it is JSON, else as a string.
func (r *EpistulaResponse) MarshalJSON() ([]byte, error) {
	var body any = string(r.Body)
	if json.Valid(r.Body) {
		body = json.RawMessage(r.Body)
	}
	return json.Marshal(struct {
		Status        int     `json:"status"`
		ProcessTimeMS float64 `json:"process_time_ms"`
		Body          any     `json:"body"`
	}{r.Status, float64(r.ProcessTime.Microseconds()) / 1e3, body})
}
