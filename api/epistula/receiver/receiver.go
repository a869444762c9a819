package receiver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/axon"
	"github.com/taominer/taominer/api/epistula"
	"github.com/taominer/taominer/api/guard"
)

// Protocol is the protocol label of the receiver's refusals.
const Protocol = "epistula"

// Refusal reasons: the reason label of taominer_refusals_total with
// protocol="epistula". Refusals by the signer policy use the axon's reasons
// (axon.ReasonDenied, ReasonNotAllowed, ReasonUnregistered, ReasonNoPermit,
// ReasonLowStake), and refused bodies the guard's (body_too_large,
// body_budget, body_timeout, counted by api/guard).
const (
	ReasonUnknownRoute     = "unknown_route"        // 404: no route for the path
	ReasonMethod           = "method_not_allowed"   // 405: the path has routes, not for this method
	ReasonUnknownVersion   = "unknown_version"      // 400: Epistula-Version is not "2"
	ReasonMissingHeader    = "missing_header"       // 400: a required header is absent
	ReasonBadHeader        = "bad_header"           // 400: a header is malformed or repeated
	ReasonWrongSignedFor   = "wrong_signed_for"     // 400: Epistula-Signed-For is absent or not our hotkey
	ReasonStale            = "stale_timestamp"      // 401: the timestamp is outside the window
	ReasonNotLoaded        = "metagraph_not_loaded" // 503: the signer is unknown because the metagraph has not loaded
	ReasonBadBody          = "bad_body"             // 400: the body could not be read
	ReasonBadHotkey        = "bad_hotkey"           // 401: Epistula-Signed-By is not an SS58 address
	ReasonBadSignature     = "bad_signature"        // 401: the signature does not verify
	ReasonReplayed         = "replayed"             // 401: (signer, uuid) was seen within the store's time
	ReasonReplayStoreFull  = "replay_store_full"    // 503: the replay store is full of unexpired pairs
	ReasonRateLimited      = "rate_limited"         // 429: over the hotkey's rate limit
	DefaultWindow          = 8 * time.Second
	DefaultReplayStoreSize = 100_000
)

// Reasons lists the receiver's own reasons and the signer policy's, so
// that their series exist at 0.
var Reasons = []string{ReasonUnknownRoute, ReasonMethod, ReasonUnknownVersion, ReasonMissingHeader, ReasonBadHeader,
	ReasonWrongSignedFor, ReasonStale, ReasonNotLoaded, axon.ReasonDenied, axon.ReasonNotAllowed,
	axon.ReasonUnregistered, axon.ReasonNoPermit, axon.ReasonLowStake, ReasonBadBody, ReasonBadHotkey,
	ReasonBadSignature, ReasonReplayed, ReasonReplayStoreFull, ReasonRateLimited}

// Verifier checks sr25519 signatures by SS58 address, as axon.Verifier
// (chain/wallet's SS58Verifier).
type Verifier interface {
	Verify(hotkey, msg string, sig [64]byte) (bool, error)
}

// Policy is the signer policy and rate limit the receiver shares with the
// axon of its port (*axon.Axon).
type Policy interface {
	// CheckCaller returns the caller's metagraph entry, or the reason and
	// why it is refused.
	CheckCaller(hotkey string) (c axon.Caller, reason, why string)
	// MetagraphLoaded is false while the metagraph has not loaded.
	MetagraphLoaded() bool
	// AllowRate takes one request from the hotkey's budget.
	AllowRate(hotkey string, now time.Time) bool
	// RateLimit is the budget in requests per second.
	RateLimit() float64
}

// Counter counts refusals in taominer_refusals_total (*guard.Metrics).
type Counter interface {
	Declare(port, protocol string, reasons ...string)
	Refused(port, protocol, reason string, attrs ...any)
}

// Router finds the handler of an admitted request.
type Router interface {
	// Route returns the handler of method and path, or nil and the
	// methods the path has routes for (none: an unknown path).
	Route(method, path string) (h http.Handler, allowed []string)
}

// Options configure a Receiver.
type Options struct {
	// Hotkey is our own hotkey's SS58 address: Epistula-Signed-For must
	// equal it. Required.
	Hotkey string
	// Verifier checks signatures; Policy decides on signers and their
	// rate. Required.
	Verifier Verifier
	Policy   Policy
	// Routes answers admitted requests. Required.
	Routes Router
	// Window is how far the timestamp may be from now, either way (0:
	// DefaultWindow).
	Window time.Duration
	// ReplayStoreSize bounds the replay store (0: DefaultReplayStoreSize).
	ReplayStoreSize int
	// MaxBodyBytes bounds bodies (0: 64 MiB); the port's guard applies
	// its own limits too.
	MaxBodyBytes int64
	// Refusals counts refusals under Port (nil: nowhere).
	Refusals Counter
	// Port is the port label (empty: "axon").
	Port   string
	Logger *slog.Logger
	// Now is the clock (nil: time.Now), for tests.
	Now func() time.Time
}

// Receiver is the http.Handler admitting Epistula v2 requests.
type Receiver struct {
	opt    Options
	replay *replayStore
}

// New returns a receiver.
func New(opt Options) (*Receiver, error) {
	switch {
	case opt.Hotkey == "":
		return nil, errors.New("epistula: no hotkey")
	case opt.Verifier == nil || opt.Policy == nil:
		return nil, errors.New("epistula: no verifier or signer policy")
	case opt.Routes == nil:
		return nil, errors.New("epistula: no routes")
	}
	if opt.Window <= 0 {
		opt.Window = DefaultWindow
	}
	if opt.ReplayStoreSize <= 0 {
		opt.ReplayStoreSize = DefaultReplayStoreSize
	}
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = guard.DefaultMaxBodyBytes
	}
	if opt.Port == "" {
		opt.Port = "axon"
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Refusals != nil {
		opt.Refusals.Declare(opt.Port, Protocol, Reasons...)
	}
	return &Receiver{opt: opt, replay: newReplayStore(opt.ReplayStoreSize, 2*opt.Window)}, nil
}

// Caller is an admitted request's verified signer.
type Caller struct {
	Hotkey string
	// Entry is the signer's metagraph entry (zero when not registered but
	// allowed).
	Entry axon.Caller
}

type callerKey struct{}

// CallerFrom returns the verified signer of an admitted request's context.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// StakePriority is the batcher priority of an admitted request's signer,
// as the axon gives its callers (axon.StakePriority of the signer's stake);
// 0 outside an admitted request.
func StakePriority(ctx context.Context) float64 {
	c, ok := CallerFrom(ctx)
	if !ok {
		return 0
	}
	return axon.StakePriority(c.Entry.Stake)
}

// Is reports whether r is an Epistula request: it carries
// Epistula-Version.
func Is(r *http.Request) bool { return len(r.Header.Values(epistula.HeaderVersion)) > 0 }

// Split sends Epistula requests (Is) to epistula and the others to other.
func Split(epistula, other http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if Is(r) {
			epistula.ServeHTTP(w, r)
			return
		}
		other.ServeHTTP(w, r)
	})
}

// refusal is one admission failure.
type refusal struct {
	reason string
	status int
	msg    string
}

func refuse(reason string, status int, format string, args ...any) *refusal {
	return &refusal{reason: reason, status: status, msg: fmt.Sprintf(format, args...)}
}

// ServeHTTP admits r (see the package documentation) and runs its route.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	guard.SetProtocol(w, Protocol)
	h, caller, body, ref := rc.admit(w, r)
	if ref != nil {
		rc.answer(w, r, ref)
		return
	}
	if h == nil { // the body was refused: answered already
		return
	}
	r2 := r.WithContext(context.WithValue(r.Context(), callerKey{}, caller))
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	h.ServeHTTP(w, r2)
}

// admit runs the checks. It returns the route, the signer and the body of
// an admitted request; a refusal to answer and count; or neither when the
// body was refused and answered (the guard counts those).
func (rc *Receiver) admit(w http.ResponseWriter, r *http.Request) (http.Handler, Caller, []byte, *refusal) {
	now := rc.opt.Now()
	h, allowed := rc.opt.Routes.Route(r.Method, r.URL.Path)
	if h == nil {
		if len(allowed) > 0 {
			w.Header().Set("Allow", joinComma(allowed))
			return nil, Caller{}, nil, refuse(ReasonMethod, http.StatusMethodNotAllowed,
				"method %s not allowed on %s (Epistula routes there: %s)", r.Method, r.URL.Path, joinComma(allowed))
		}
		return nil, Caller{}, nil, refuse(ReasonUnknownRoute, http.StatusNotFound,
			"no Epistula route %s %s (KServe v2 inference is POST /v2/models/{name}/infer; other routes come from synapse mapping files)",
			r.Method, r.URL.Path)
	}
	if err := epistula.CheckVersion(r.Header); err != nil {
		return nil, Caller{}, nil, refuse(ReasonUnknownVersion, http.StatusBadRequest, "%v", err)
	}
	hd, err := epistula.ParseHeaders(r.Header)
	if err != nil {
		reason := ReasonBadHeader
		if he, ok := errors.AsType[*epistula.HeaderError](err); ok && he.Missing {
			reason = ReasonMissingHeader
		}
		return nil, Caller{}, nil, refuse(reason, http.StatusBadRequest, "%v", err)
	}
	if hd.SignedFor == "" {
		return nil, Caller{}, nil, refuse(ReasonWrongSignedFor, http.StatusBadRequest,
			"%s: missing; set it to this miner's hotkey %s", epistula.HeaderSignedFor, rc.opt.Hotkey)
	}
	if hd.SignedFor != rc.opt.Hotkey {
		return nil, Caller{}, nil, refuse(ReasonWrongSignedFor, http.StatusBadRequest,
			"%s: %s is not this miner's hotkey %s; the request is not intended for it", epistula.HeaderSignedFor, hd.SignedFor, rc.opt.Hotkey)
	}
	if ref := rc.fresh(hd.TimestampMs, now); ref != nil {
		return nil, Caller{}, nil, ref
	}
	entry, reason, why := rc.opt.Policy.CheckCaller(hd.SignedBy)
	if reason != "" {
		if reason == axon.ReasonUnregistered && !rc.opt.Policy.MetagraphLoaded() {
			w.Header().Set("Retry-After", "5")
			return nil, Caller{}, nil, refuse(ReasonNotLoaded, http.StatusServiceUnavailable,
				"the metagraph has not loaded yet, so signer %s cannot be checked; retry shortly", hd.SignedBy)
		}
		return nil, Caller{}, nil, refuse(reason, http.StatusForbidden, "%s: signer %s refused: %s", epistula.HeaderSignedBy, hd.SignedBy, why)
	}
	// A read-only look first, so that replays and a full store cost no
	// body and no sr25519 verification; the insert after verifying decides.
	if ref := rc.replayRefusal(w, rc.replay.check(hd.SignedBy, hd.UUID, now), hd); ref != nil {
		return nil, Caller{}, nil, ref
	}
	body, ok := rc.readBody(w, r)
	if !ok {
		return nil, Caller{}, nil, nil
	}
	if body == nil {
		return nil, Caller{}, nil, refuse(ReasonBadBody, http.StatusBadRequest, "the request body could not be read")
	}
	msg := epistula.Message(epistula.BodyHash(body), hd.UUID, hd.Timestamp, hd.SignedFor)
	good, err := rc.opt.Verifier.Verify(hd.SignedBy, msg, hd.Signature)
	if err != nil {
		return nil, Caller{}, nil, refuse(ReasonBadHotkey, http.StatusUnauthorized, "%s: %q is not an SS58 address", epistula.HeaderSignedBy, hd.SignedBy)
	}
	if !good {
		return nil, Caller{}, nil, refuse(ReasonBadSignature, http.StatusUnauthorized,
			"%s does not verify: expected an sr25519 signature by %s of %q (sha256 hex of the body bytes as sent, uuid, timestamp, signed-for)",
			epistula.HeaderSignature, hd.SignedBy, msg)
	}
	if ref := rc.replayRefusal(w, rc.replay.insert(hd.SignedBy, hd.UUID, now), hd); ref != nil {
		return nil, Caller{}, nil, ref
	}
	if !rc.opt.Policy.AllowRate(hd.SignedBy, now) {
		w.Header().Set("Retry-After", "1")
		return nil, Caller{}, nil, refuse(ReasonRateLimited, http.StatusTooManyRequests,
			"too many requests: over %g requests/s for hotkey %s (--axon-rate-limit)", rc.opt.Policy.RateLimit(), hd.SignedBy)
	}
	return h, Caller{Hotkey: hd.SignedBy, Entry: entry}, body, nil
}

// replayRefusal is the refusal of a replay store outcome, or nil.
func (rc *Receiver) replayRefusal(w http.ResponseWriter, outcome int, hd epistula.Headers) *refusal {
	switch outcome {
	case replayed:
		return refuse(ReasonReplayed, http.StatusUnauthorized,
			"%s: %s was already used by %s; send each request with a new uuid", epistula.HeaderUUID, hd.UUID, hd.SignedBy)
	case full:
		w.Header().Set("Retry-After", "1")
		return refuse(ReasonReplayStoreFull, http.StatusServiceUnavailable,
			"server busy: the replay store holds %d unexpired requests (--epistula-replay-store); retry shortly", rc.opt.ReplayStoreSize)
	}
	return nil
}

// fresh checks the timestamp against now, both ways, in milliseconds.
func (rc *Receiver) fresh(ts int64, now time.Time) *refusal {
	nowMs, win := now.UnixMilli(), rc.opt.Window.Milliseconds()
	switch {
	case ts < nowMs-win:
		return refuse(ReasonStale, http.StatusUnauthorized, "%s: %d is %d ms old, more than the %d ms accepted; sign each request when sending it (Unix time in milliseconds)",
			epistula.HeaderTimestamp, ts, nowMs-ts, win)
	case ts > nowMs+win:
		return refuse(ReasonStale, http.StatusUnauthorized, "%s: %d is %d ms in the future, more than the %d ms accepted; check the sender's clock (Unix time in milliseconds)",
			epistula.HeaderTimestamp, ts, ts-nowMs, win)
	}
	return nil
}

// readBody reads the body under the limits. A refused body is answered
// here (the guard counts it) and ok is false; a body that failed otherwise
// is nil with ok true.
func (rc *Receiver) readBody(w http.ResponseWriter, r *http.Request) (body []byte, ok bool) {
	if r.Body == nil {
		return []byte{}, true
	}
	body, err := guard.ReadAll(http.MaxBytesReader(w, r.Body, rc.opt.MaxBodyBytes), r.ContentLength, nil)
	if err == nil {
		if body == nil {
			body = []byte{}
		}
		return body, true
	}
	if rf, isRefusal := guard.AsRefusal(err); isRefusal {
		writeError(w, rf.Status, rf.Message)
		return nil, false
	}
	if _, big := errors.AsType[*http.MaxBytesError](err); big {
		writeError(w, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("request body too large: over the limit of %d bytes (--max-body-bytes)", rc.opt.MaxBodyBytes))
		return nil, false
	}
	rc.opt.Logger.Debug("epistula body read failed", "error", err)
	return nil, true
}

// answer writes and counts a refusal.
func (rc *Receiver) answer(w http.ResponseWriter, r *http.Request, ref *refusal) {
	if rc.opt.Refusals != nil {
		rc.opt.Refusals.Refused(rc.opt.Port, Protocol, ref.reason, "status", ref.status, "path", shortPath(r.URL.Path),
			"client", r.RemoteAddr)
	}
	rc.opt.Logger.Debug("epistula request refused", "reason", ref.reason, "status", ref.status, "error", ref.msg)
	writeError(w, ref.status, ref.msg)
}

// writeError answers {"error": msg} with status.
func writeError(w http.ResponseWriter, status int, msg string) {
	body, _ := json.Marshal(api.ErrorBody{Error: msg})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func shortPath(p string) string {
	if len(p) > 80 {
		return p[:80] + "…"
	}
	return p
}

func joinComma(s []string) string { return strings.Join(s, ", ") }
