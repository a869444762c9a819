// Package dendrite signs and sends synapses as the Bittensor Python SDK's
// dendrite does (spec wallet-and-axonproto.md §3), for tests, `miner query` and
// validator tools.
//
// A request carries the SDK's header set (name, timeout, the three
// bt_header_axon_* of the target, the bt_header_dendrite_* of the caller
// including nonce = time.Now().UnixNano(), a uuid fixed per Client and the
// signature, a bt_header_input_obj_* placeholder per required field, sizes,
// computed_body_hash) and the whole synapse as the JSON body. The signature
// is sr25519 ("substrate" context) over nonce.dendrite.axonproto.uuid.bodyhash.
// Responses are read as process_server_response does: JSON required, the
// body's synapse on 200, {"message"} otherwise, then the bt_header_* values
// merged over the terminal info.
package dendrite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/taominer/taominer/api/axonproto"
)

// Version is the dendrite version sent: SDK 10.2.0's version_as_int.
const Version = 10002000

// Signer signs as one hotkey: sr25519 under the "substrate" signing
// context, as chain/wallet's Keypair does.
type Signer interface {
	// SS58 is the hotkey's address, sent as bt_header_dendrite_hotkey.
	SS58() string
	// Sign signs msg.
	Sign(msg []byte) ([64]byte, error)
}

// ErrNoSecret is returned by New for a key that holds no secret.
var ErrNoSecret = errors.New("dendrite: key has no secret to sign with")

// Client is a dendrite: one hotkey, one uuid. The SDK uses a uuid1, whose
// format the axon never checks; this is a random one.
type Client struct {
	key  Signer
	uuid string
	// IP is the dendrite's own external IP, sent as bt_header_dendrite_ip
	// when set.
	IP string
	// HTTP sends the requests (nil: a client of its own; the request's
	// timeout bounds each call either way).
	HTTP *http.Client
	// Now is the nonce clock (nil: time.Now).
	Now func() time.Time
}

// New returns a dendrite signing with key. A key that can say whether it
// holds its secret (a HasSecret() bool method, as chain/wallet's Keypair
// has) and holds none is refused with ErrNoSecret.
func New(key Signer) (*Client, error) {
	if k, ok := key.(interface{ HasSecret() bool }); ok && !k.HasSecret() {
		return nil, ErrNoSecret
	}
	return &Client{key: key, uuid: axonproto.NewUUID()}, nil
}

// UUID is the client's uuid, the same for each of its requests.
func (c *Client) UUID() string { return c.uuid }

// Target is the axon called.
type Target struct {
	Addr   string // ip:port
	Hotkey string // the axon's hotkey, SS58
}

// Request is one synapse to send.
type Request struct {
	// Name is the synapse's Python class name, the route.
	Name string
	// Synapse holds the subclass fields (base fields are filled in).
	Synapse *axonproto.Synapse
	// Required lists the server class's required fields, for the
	// bt_header_input_obj_* placeholders the Python axon needs.
	Required []axonproto.Field
	// HashFields is the class's required_hash_fields.
	HashFields []string
	// Timeout in seconds (0: 12).
	Timeout float64
}

// Signed is a request ready to send (or to send again, as a replay).
type Signed struct {
	URL     string
	Header  http.Header // lower-case names, as the SDK sends them
	Body    []byte
	Name    string
	Timeout float64
	Nonce   int64
	Message string // the signed message
}

// Sign builds and signs a request for target.
func (c *Client) Sign(target Target, req Request) (*Signed, error) {
	if req.Name == "" {
		return nil, errors.New("dendrite: no synapse name")
	}
	host, portText, err := net.SplitHostPort(target.Addr)
	if err != nil {
		return nil, fmt.Errorf("dendrite: axon address: %w", err)
	}
	port, err := strconv.ParseInt(portText, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("dendrite: axon port %q: %w", portText, err)
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = axonproto.DefaultTimeout
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	syn := axonproto.NewSynapse()
	if req.Synapse != nil {
		syn = req.Synapse
	}
	hash, err := axonproto.BodyHash(syn, req.HashFields)
	if err != nil {
		return nil, fmt.Errorf("dendrite: %w", err)
	}
	nonce := now().UnixNano()
	hotkey := c.key.SS58()
	msg := axonproto.Message(nonce, hotkey, target.Hotkey, c.uuid, hash)
	sig, err := c.key.Sign([]byte(msg))
	if err != nil {
		return nil, fmt.Errorf("dendrite: sign: %w", err)
	}
	sigText := axonproto.FormatSignature(sig)
	version := int64(Version)
	d := axonproto.TerminalInfo{Version: &version, Nonce: &nonce, UUID: &c.uuid, Hotkey: &hotkey, Signature: &sigText}
	if c.IP != "" {
		d.IP = &c.IP
	}
	ax := axonproto.TerminalInfo{IP: &host, Port: &port, Hotkey: &target.Hotkey}

	body := axonproto.NewSynapse()
	_ = body.SetValue("timeout", json.Number(axonproto.PyFloat(timeout)))
	_ = body.SetValue("total_size", 0)
	_ = body.SetValue("header_size", 0)
	_ = body.SetValue("dendrite", d)
	_ = body.SetValue("axon", ax)
	_ = body.SetValue("computed_body_hash", "")
	s := &Signed{URL: "http://" + target.Addr + "/" + req.Name, Header: http.Header{}, Name: req.Name,
		Timeout: timeout, Nonce: nonce, Message: msg}
	s.Body = appendFields(body, syn).AppendJSON(nil, req.Name)

	h := s.Header
	add := func(k, v string) { h[k] = []string{v} }
	add("content-type", "application/json")
	add(axonproto.HeaderName, req.Name)
	add(axonproto.HeaderTimeout, axonproto.PyFloat(timeout))
	ax.Headers(axonproto.PrefixAxon, add)
	d.Headers(axonproto.PrefixDendrite, add)
	axonproto.InputObjHeaders(req.Required, add)
	add(axonproto.HeaderHeaderSize, "0")
	add(axonproto.HeaderTotalSize, strconv.Itoa(len(s.Body)))
	add(axonproto.HeaderComputedBodyHash, hash)
	return s, nil
}

// appendFields copies the subclass fields of syn (not the base ones) after
// those of body.
func appendFields(body, syn *axonproto.Synapse) *axonproto.Synapse {
	for _, k := range syn.Keys() {
		switch k {
		case "name", "timeout", "total_size", "header_size", "dendrite", "axon", "computed_body_hash":
			continue
		}
		v, _ := syn.Field(k)
		body.Set(k, v)
	}
	return body
}

// Response is an axon's answer, read as the SDK's dendrite reads it.
type Response struct {
	// Status and Message are the dendrite's status_code and status_message:
	// the HTTP status and the axon's message, or the SDK's synthetic codes
	// (408 timeout, 503 unreachable, 422 unparsable answer).
	Status  int
	Message string
	// Synapse is the body of a 200 answer (nil otherwise).
	Synapse *axonproto.Synapse
	// Axon and Dendrite are the terminal infos after the SDK's merge: the
	// body's (on 200), then the response's bt_header_* values over them.
	Axon, Dendrite axonproto.TerminalInfo
	// Header and Body are the raw answer (nil when none came).
	Header http.Header
	Body   []byte
	// ProcessTime is the round trip.
	ProcessTime time.Duration
}

// Call signs and sends req to target.
func (c *Client) Call(ctx context.Context, target Target, req Request) (*Response, error) {
	s, err := c.Sign(target, req)
	if err != nil {
		return nil, err
	}
	return c.Send(ctx, s), nil
}

// Send posts a signed request and reads the answer. Transport failures
// become the SDK's synthetic statuses in the Response, not errors.
func (c *Client) Send(ctx context.Context, s *Signed) *Response {
	start := time.Now()
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(s.Timeout*float64(time.Second)))
	defer cancel()
	r := &Response{}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(s.Body))
	if err != nil {
		r.Status, r.Message = 500, "Client error"
		return r
	}
	for k, v := range s.Header {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err == nil {
		r.Header = resp.Header
		r.Body, err = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
	}
	r.ProcessTime = time.Since(start)
	if err != nil {
		var ne net.Error
		switch {
		case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
			r.Status, r.Message = 408, "Request timeout after "+axonproto.PyFloat(s.Timeout)+" seconds"
		case r.Header != nil:
			r.Status, r.Message = 400, "Payload error"
		default:
			r.Status, r.Message = 503, "Service unavailable at "+strings.TrimPrefix(s.URL, "http://")
		}
		return r
	}
	r.read(resp.StatusCode)
	return r
}

// read applies process_server_response (spec §3.2).
func (r *Response) read(status int) {
	fail := func(err error) {
		r.Status, r.Message = 422, "Failed to parse response: "+err.Error()
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" {
		fail(fmt.Errorf("content type %q", r.Header.Get("Content-Type")))
		return
	}
	if status == http.StatusOK {
		syn, err := axonproto.ParseSynapse(r.Body)
		if err != nil {
			fail(err)
			return
		}
		if r.Axon, err = syn.Terminal("axon"); err != nil {
			fail(err)
			return
		}
		if r.Dendrite, err = syn.Terminal("dendrite"); err != nil {
			fail(err)
			return
		}
		r.Synapse = syn
	} else {
		var m struct {
			Message *string `json:"message"`
		}
		if err := json.Unmarshal(r.Body, &m); err != nil {
			fail(err)
			return
		}
		code := int64(status)
		r.Axon.StatusCode, r.Axon.StatusMessage = &code, m.Message
	}
	// The SDK matches the lower-case prefixes case-sensitively over
	// aiohttp's case-keeping dict; Go's client canonicalises names, so they
	// are looked up case-insensitively here (the axon's tests read the wire).
	get := r.Header.Get
	ha, err := axonproto.ParseTerminalHeaders(axonproto.PrefixAxon, get)
	if err != nil {
		fail(err)
		return
	}
	hd, err := axonproto.ParseTerminalHeaders(axonproto.PrefixDendrite, get)
	if err != nil {
		fail(err)
		return
	}
	merge(&r.Axon, ha)
	merge(&r.Dendrite, hd)
	if r.Axon.StatusCode != nil {
		r.Status = int(*r.Axon.StatusCode)
	} else {
		r.Status = status
	}
	if r.Axon.StatusMessage != nil {
		r.Message = *r.Axon.StatusMessage
	}
}

// merge sets the non-nil fields of from on dst. All of TerminalInfo's
// fields are pointers, nil when absent.
func merge(dst *axonproto.TerminalInfo, from axonproto.TerminalInfo) {
	d, f := reflect.ValueOf(dst).Elem(), reflect.ValueOf(from)
	for i := range f.NumField() {
		if v := f.Field(i); v.Kind() == reflect.Pointer && !v.IsNil() {
			d.Field(i).Set(v)
		}
	}
}
