// Package axon is the miner's Bittensor axon: the HTTP endpoint validators
// running the Python SDK call with signed synapses (spec
// wallet-and-axon.md §1–4, §9).
//
// Every request goes through admission in the SDK's order, cheapest first:
// the route (unknown synapse 404), the headers (500 when a value does not
// parse), the blacklist on the claimed hotkey (403: deny list, allow list,
// metagraph registration, validator permit, minimum stake), verification
// (401: nonce present, signature present and well formed, nonce freshness
// read-only, sr25519 signature over nonce.dendrite.axon.uuid.bodyhash with
// our own hotkey as the axon, then the nonce checked and stored
// atomically), the per-hotkey rate limit (429), the body (422 not JSON, 500
// schema or body-hash mismatch), and only then the synapse's forward.
// Every refusal is counted by reason.
//
// Responses follow the SDK: lower-case bt_header_* names on the wire (set
// in the header map directly, never canonicalised), Content-Type
// application/json on every answer, {"message": ...} bodies for refusals,
// and the whole synapse echoed with its axon terminal info filled in for
// answers from the forward.
package axon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/axonproto"
	"github.com/taominer/taominer/api/guard"
)

// Caller is what the metagraph knows of a hotkey.
type Caller struct {
	UID             uint16
	Stake           uint64 // alpha, in rao (1 alpha = 1e9)
	ValidatorPermit bool
}

// KindSource finds synapse kinds that are not registered with the axon:
// kinds that change while it runs. Its methods are called concurrently.
type KindSource interface {
	// Kind returns the kind answering route name.
	Kind(name string) (*Kind, bool)
	// KindNames lists the routes it answers, for the unknown-synapse
	// message.
	KindNames() []string
}

// Metagraph looks callers up by SS58 hotkey.
type Metagraph interface {
	Caller(hotkey string) (Caller, bool)
}

// Verifier checks the signatures of callers: sr25519 under the "substrate"
// signing context, as chain/wallet's SS58Verifier does. Its method is called
// concurrently.
type Verifier interface {
	// Verify reports whether sig is a signature of msg by the key of the
	// SS58 address hotkey; an error means hotkey is not an SS58 address.
	Verify(hotkey, msg string, sig [64]byte) (bool, error)
}

// Inferer runs inference, as the KServe server's Inferer: the engine in
// process, or the Redis front.
type Inferer interface {
	Infer(ctx context.Context, model, version string, req *api.InferRequest) (*api.InferResponse, error)
}

// Call is one admitted synapse call, as its forward sees it.
type Call struct {
	// Synapse is the body, which the forward may change (e.g. set outputs).
	Synapse *axonproto.Synapse
	// Hotkey is the verified dendrite hotkey.
	Hotkey string
	// Caller is the hotkey's metagraph entry (zero when not registered but
	// allowed).
	Caller Caller
	// Timeout is the validator's timeout, seconds.
	Timeout float64
	// Priority is the caller's batcher priority (StakePriority of its
	// stake): forwards set it on the inference requests they make
	// (api.InferRequest.Priority).
	Priority float64
}

// Kind is one synapse class the axon answers on POST /<Name>.
type Kind struct {
	// Name is the Python class name, the route.
	Name string
	// Required lists the class's required fields, for the input_obj headers.
	Required []axonproto.Field
	// HashFields is the class's required_hash_fields, in order.
	HashFields []string
	// Forward answers the call; nil echoes the synapse. An *api.Error sets
	// the answer's status and message (the synapse is still echoed); a
	// context deadline gives 408; any other error 500.
	Forward func(ctx context.Context, call *Call) error
}

// Options configure an axon.
type Options struct {
	// Hotkey is our own hotkey's SS58 address, the axon part of every
	// signed message. Required.
	Hotkey string
	// Verifier checks the callers' signatures. Required.
	Verifier Verifier
	// Metagraph answers who the callers are; nil means no chain: only
	// Allow hotkeys are served.
	Metagraph Metagraph
	// MinStake is the least alpha stake, in rao, of a metagraph caller.
	MinStake uint64
	// Allow and Deny are explicit hotkey lists. Deny wins; Allow skips the
	// metagraph checks.
	Allow, Deny []string
	// RateLimit is the requests per second one hotkey may make (0: no
	// limit); Burst is its bucket size (0: twice the rate, at least 1).
	RateLimit float64
	Burst     float64
	// NonceStoreSize bounds the hotkey:uuid nonce store (0: 100 000).
	NonceStoreSize int
	// MaxBodyBytes bounds request bodies (0: 64 MiB).
	MaxBodyBytes int64
	// Inferer runs the Infer synapse; nil leaves Infer out.
	Inferer Inferer
	// Kinds, when set, is asked for the synapse names the axon has no
	// kind of: kinds that come and go while the axon runs (the mapped
	// synapses that follow the model folder). Registered kinds win.
	Kinds KindSource
	// Registerer receives the axon's metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Logger logs refusals at debug level and failures at error level.
	Logger *slog.Logger
	// Now is the clock (nil: time.Now), for tests.
	Now func() time.Time
	// Version is the axon's bt_header_axon_version (0: 10002000, SDK 10.2.0).
	Version int64
	// RecentSize is how many calls the recent-queries log keeps (0:
	// DefaultRecentSize); TopCallers how many hotkeys it counts (0:
	// DefaultTopCallers). See Validators.
	RecentSize, TopCallers int
}

// Axon is the HTTP handler of the axon.
type Axon struct {
	opt         Options
	hotkey      string
	kinds       map[string]*Kind
	names       []string
	allow, deny map[string]struct{}
	nonces      *nonceStore
	limit       *limiter
	uuid        string
	met         *metrics
	log         *slog.Logger
	recent      *recentLog // recent.go
}

// New returns an axon serving the ping synapse "Synapse", the generic
// "Infer" synapse when opt.Inferer is set, and the extra kinds given.
func New(opt Options, kinds ...*Kind) (*Axon, error) {
	if opt.Hotkey == "" {
		return nil, errors.New("axon: no hotkey")
	}
	if opt.Verifier == nil {
		return nil, errors.New("axon: no signature verifier")
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.NonceStoreSize <= 0 {
		opt.NonceStoreSize = 100_000
	}
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = 64 << 20
	}
	if opt.Version == 0 {
		opt.Version = 10002000
	}
	a := &Axon{opt: opt, hotkey: opt.Hotkey, kinds: map[string]*Kind{}, log: opt.Logger,
		allow: set(opt.Allow), deny: set(opt.Deny), nonces: newNonceStore(opt.NonceStoreSize),
		limit: newLimiter(opt.RateLimit, opt.Burst), uuid: axonproto.NewUUID(),
		recent: newRecentLog(opt.RecentSize, opt.TopCallers, opt.Now())}
	all := []*Kind{{Name: "Synapse"}}
	if opt.Inferer != nil {
		all = append(all, InferKind(opt.Inferer))
	}
	for _, k := range append(all, kinds...) {
		if err := a.Register(k); err != nil {
			return nil, err
		}
	}
	m, err := newMetrics(opt.Registerer)
	if err != nil {
		return nil, err
	}
	a.met = m
	// Series at 0 for the synapses known now, so that rate() sees their
	// first call (a series born at its first increment shows none).
	names := a.names
	if opt.Kinds != nil {
		names = append(slices.Clip(names), opt.Kinds.KindNames()...)
	}
	for _, n := range names {
		m.accepted.WithLabelValues(n)
		m.answered.WithLabelValues(n, "200")
	}
	return a, nil
}

// Register adds a synapse kind; its name must be new.
func (a *Axon) Register(k *Kind) error {
	if k.Name == "" || strings.ContainsAny(k.Name, "/ ") {
		return fmt.Errorf("axon: bad synapse name %q", k.Name)
	}
	if _, dup := a.kinds[k.Name]; dup {
		return fmt.Errorf("axon: synapse %q registered twice", k.Name)
	}
	a.kinds[k.Name] = k
	a.names = append(a.names, k.Name)
	return nil
}

func set(items []string) map[string]struct{} {
	m := make(map[string]struct{}, len(items))
	for _, s := range items {
		m[s] = struct{}{}
	}
	return m
}

// StakePriority maps an alpha stake in rao to a batcher priority: 1 +
// ln(1 + stake in alpha). It is monotone, 1 for no stake (the batcher's
// default), about 7.9 for 1000 alpha and 12.5 for 250 000 alpha; with the
// batcher's aging of one per second, a bigger validator overtakes a smaller
// one's requests waiting up to the difference in seconds.
func StakePriority(rao uint64) float64 { return 1 + math.Log1p(float64(rao)/1e9) }

// Deadline margin: the forward's deadline is the validator's timeout minus
// a tenth of it, at most MaxMargin, counted from when the request arrived;
// timeouts above MaxTimeout are cut to it.
const (
	MaxMargin  = time.Second
	MaxTimeout = 5 * time.Minute
)

// ForwardTimeout is the time the forward gets for a validator timeout of
// seconds (non-positive: DefaultTimeout).
func ForwardTimeout(seconds float64) time.Duration {
	if !(seconds > 0) {
		seconds = axonproto.DefaultTimeout
	}
	t := time.Duration(min(seconds*1e9, float64(MaxTimeout)))
	return t - min(t/10, MaxMargin)
}

// ServeHTTP runs admission and the synapse's forward.
func (a *Axon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := a.opt.Now()
	name := strings.TrimPrefix(r.URL.Path, "/")
	kind, ok := a.kinds[name]
	if !ok && a.opt.Kinds != nil {
		kind, ok = a.opt.Kinds.Kind(name)
	}
	if !ok {
		rq, _ := parseHeaders(r.Header)
		names := a.names
		if a.opt.Kinds != nil {
			names = append(slices.Clip(names), a.opt.Kinds.KindNames()...)
		}
		a.refuse(w, r, rq, nil, start, &refusal{reason: ReasonUnknownSynapse, status: http.StatusNotFound,
			msg: fmt.Sprintf("Synapse name '%s' not found. Available synapses %s", name, pyList(names))})
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		rq, _ := parseHeaders(r.Header)
		a.refuse(w, r, rq, kind, start, &refusal{reason: ReasonMethod, status: http.StatusMethodNotAllowed, msg: "Method Not Allowed"})
		return
	}
	rq, err := parseHeaders(r.Header)
	if err != nil {
		a.refuse(w, r, rq, kind, start, a.internal(ReasonBadHeaders, err))
		return
	}
	caller, ref := a.blacklist(rq.hotkey())
	if ref != nil {
		a.refuse(w, r, rq, kind, start, ref)
		return
	}
	if ref := a.verify(rq, start); ref != nil {
		a.refuse(w, r, rq, kind, start, ref)
		return
	}
	if !a.limit.allow(rq.hotkey(), start) {
		a.refuse(w, r, rq, kind, start, &refusal{reason: ReasonRateLimited, status: http.StatusTooManyRequests,
			msg: fmt.Sprintf("Too Many Requests: over %g requests/s for this hotkey", a.opt.RateLimit)})
		return
	}
	body, err := guard.ReadAll(http.MaxBytesReader(w, r.Body, a.opt.MaxBodyBytes), r.ContentLength, nil)
	if err != nil {
		if rf, ok := guard.AsRefusal(err); ok { // a port limit: over the body budget, too slow, too large
			a.refuse(w, r, rq, kind, start, &refusal{reason: rf.Reason, status: rf.Status, msg: rf.Message})
			return
		}
		if _, big := errors.AsType[*http.MaxBytesError](err); big {
			a.refuse(w, r, rq, kind, start, &refusal{reason: ReasonBodyTooLarge, status: http.StatusRequestEntityTooLarge,
				msg: fmt.Sprintf("Request body larger than %d bytes", a.opt.MaxBodyBytes)})
			return
		}
		a.refuse(w, r, rq, kind, start, a.internal(ReasonBadBody, err))
		return
	}
	syn, err := axonproto.ParseSynapse(body)
	if err != nil {
		a.invalidJSON(w, rq, kind, err, start)
		return
	}
	hash, err := axonproto.BodyHash(syn, kind.HashFields)
	if err != nil {
		a.refuse(w, r, rq, kind, start, a.internal(ReasonBadBody, err))
		return
	}
	if hash != rq.bodyHash {
		a.refuse(w, r, rq, kind, start, a.internal(ReasonBodyHash,
			fmt.Errorf("body hash mismatch: computed %s, header %q", hash, rq.bodyHash)))
		return
	}
	a.met.accepted.WithLabelValues(kind.Name).Inc()
	a.forward(w, r, rq, kind, syn, caller, start)
}

// forward runs the kind's forward under the deadline and answers with the
// synapse.
func (a *Axon) forward(w http.ResponseWriter, r *http.Request, rq *request, kind *Kind, syn *axonproto.Synapse, caller Caller, start time.Time) {
	timeout := rq.timeout
	if t, ok, err := syn.Float("timeout"); err == nil && ok {
		timeout = t
	}
	ctx, cancel := context.WithDeadline(r.Context(), start.Add(ForwardTimeout(timeout)))
	defer cancel()
	status, msg := http.StatusOK, "Success"
	if kind.Forward != nil {
		call := &Call{Synapse: syn, Hotkey: rq.hotkey(), Caller: caller, Timeout: timeout, Priority: StakePriority(caller.Stake)}
		if err := kind.Forward(ctx, call); err != nil {
			status, msg = a.forwardError(ctx, kind, timeout, err)
		}
	}
	axon, err := syn.Terminal("axon")
	if err != nil {
		axon = axonproto.TerminalInfo{}
	}
	dendrite, err := syn.Terminal("dendrite")
	if err != nil {
		dendrite = axonproto.TerminalInfo{}
	}
	code := int64(status)
	elapsed := a.opt.Now().Sub(start).Seconds()
	axon.StatusCode, axon.StatusMessage, axon.ProcessTime = &code, &msg, &elapsed
	_ = syn.SetValue("axon", axon)
	if _, ok := syn.Field("dendrite"); !ok {
		_ = syn.SetValue("dendrite", dendrite)
	}
	respHash, err := axonproto.BodyHash(syn, kind.HashFields)
	if err != nil {
		respHash = ""
	}
	body := syn.AppendJSON(make([]byte, 0, 512), kind.Name)
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	h[axonproto.HeaderName] = []string{kind.Name}
	h[axonproto.HeaderTimeout] = []string{axonproto.PyFloat(timeout)}
	add := func(k, v string) { h[k] = []string{v} }
	axon.Headers(axonproto.PrefixAxon, add)
	dendrite.Headers(axonproto.PrefixDendrite, add)
	axonproto.InputObjHeaders(kind.Required, add)
	rq.tailHeaders(add, respHash)
	w.WriteHeader(status)
	_, _ = w.Write(body)
	a.met.answered.WithLabelValues(kind.Name, strconv.Itoa(status)).Inc()
	a.met.duration.WithLabelValues(kind.Name).Observe(a.opt.Now().Sub(start).Seconds())
	a.record(rq.hotkey(), kind.Name, status, "", msg, start)
}

// forwardError maps a forward's error to the answer's status and message.
func (a *Axon) forwardError(ctx context.Context, kind *Kind, timeout float64, err error) (int, string) {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return http.StatusRequestTimeout, "Response timeout after: " + axonproto.PyFloat(timeout) + "s"
	}
	if e, ok := errors.AsType[*api.Error](err); ok && e.Kind != api.KindInternal {
		if e.Kind == api.KindExpired {
			return http.StatusRequestTimeout, "Response timeout after: " + axonproto.PyFloat(timeout) + "s (" + e.Message + ")"
		}
		return api.StatusOf(e), e.Message
	}
	id := axonproto.NewUUID()
	a.log.Error("axon forward failed", "synapse", kind.Name, "error", err, "id", id)
	return http.StatusInternalServerError, "Internal Server Error #" + id
}

// internal is a 500 refusal whose details are only logged.
func (a *Axon) internal(reason string, err error) *refusal {
	id := axonproto.NewUUID()
	a.log.Debug("axon request refused", "reason", reason, "error", err, "id", id)
	return &refusal{reason: reason, status: http.StatusInternalServerError, msg: "Internal Server Error #" + id}
}

// invalidJSON answers a body that is not JSON as FastAPI does: 422 with a
// detail list and no bt headers.
func (a *Axon) invalidJSON(w http.ResponseWriter, rq *request, kind *Kind, err error, start time.Time) {
	a.met.refused.WithLabelValues(ReasonBadBody).Inc()
	a.log.Debug("axon request refused", "reason", ReasonBadBody, "hotkey", rq.hotkey(), "error", err)
	body, _ := json.Marshal(map[string]any{"detail": []map[string]any{{
		"type": "json_invalid", "loc": []any{"body", 0}, "msg": "JSON decode error", "ctx": map[string]string{"error": err.Error()},
	}}})
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusUnprocessableEntity)
	_, _ = w.Write(body)
	a.met.answered.WithLabelValues(kind.Name, "422").Inc()
	a.record(rq.hotkey(), kind.Name, http.StatusUnprocessableEntity, ReasonBadBody, "JSON decode error", start)
}

// refuse answers a refusal as the SDK's middleware does: {"message": ...}
// with the status, and headers from the header-built synapse (spec §2.3,
// error case). The axon signature of the SDK's error answers is left out:
// no dendrite checks it, and signing would make each refusal cost an
// sr25519 signature.
func (a *Axon) refuse(w http.ResponseWriter, r *http.Request, rq *request, kind *Kind, start time.Time, ref *refusal) {
	a.met.refused.WithLabelValues(ref.reason).Inc()
	hotkey := ""
	if rq != nil {
		hotkey = rq.hotkey()
	}
	a.log.Debug("axon request refused", "reason", ref.reason, "status", ref.status, "hotkey", hotkey, "path", r.URL.Path)
	body := make([]byte, 0, 64+len(ref.msg))
	body = append(body, `{"message":`...)
	msg, _ := json.Marshal(ref.msg)
	body = append(body, msg...)
	body = append(body, '}')

	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	add := func(k, v string) { h[k] = []string{v} }
	name := strings.TrimPrefix(r.URL.Path, "/")
	if kind != nil {
		name = kind.Name
	}
	add(axonproto.HeaderName, name)
	if rq == nil {
		rq = &request{timeout: axonproto.DefaultTimeout}
	}
	add(axonproto.HeaderTimeout, axonproto.PyFloat(rq.timeout))
	ax := rq.axon
	code := int64(ref.status)
	elapsed := a.opt.Now().Sub(start).Seconds()
	nonce := start.UnixNano()
	ax.StatusCode, ax.StatusMessage, ax.ProcessTime = &code, &ref.msg, &elapsed
	ax.Version, ax.UUID, ax.Nonce, ax.Signature = &a.opt.Version, &a.uuid, &nonce, nil
	ax.Headers(axonproto.PrefixAxon, add)
	d := rq.dendrite
	if host, port, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		d.IP = &host
		if p, err := strconv.ParseInt(port, 10, 64); err == nil {
			d.Port = &p
		}
	}
	d.Headers(axonproto.PrefixDendrite, add)
	if kind != nil {
		axonproto.InputObjHeaders(kind.Required, add)
	}
	rq.tailHeaders(add, rq.bodyHash)
	w.WriteHeader(ref.status)
	_, _ = w.Write(body)
	label := name
	if kind == nil {
		label = "unknown"
	}
	a.met.answered.WithLabelValues(label, strconv.Itoa(ref.status)).Inc()
	a.record(hotkey, label, ref.status, ref.reason, ref.msg, start)
}

// tailHeaders adds the answer's last headers: the request's header_size and
// total_size (0 when it sent none) and bodyHash as computed_body_hash.
func (rq *request) tailHeaders(add func(k, v string), bodyHash string) {
	hs, ts := int64(0), int64(0)
	if rq.hdrSize != nil {
		hs = *rq.hdrSize
	}
	if rq.totalSize != nil {
		ts = *rq.totalSize
	}
	add(axonproto.HeaderHeaderSize, strconv.FormatInt(hs, 10))
	add(axonproto.HeaderTotalSize, strconv.FormatInt(ts, 10))
	add(axonproto.HeaderComputedBodyHash, bodyHash)
}

// pyList is Python's repr of a list of names.
func pyList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = axonproto.PyQuote(n)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// Starting returns the handler of the axon port while the node starts,
// before the axon is built: every request is answered 503 with
// {"message": "starting: " + phase()}, the SDK's error body, so that a
// validator gets a prompt answer rather than a timeout. refused, when
// set, is told of each answer, so that the caller counts it once.
func Starting(phase func() string, refused func(*http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := json.Marshal(map[string]string{"message": "starting: " + phase()})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write(body)
		if refused != nil {
			refused(r)
		}
	})
}

// Handler returns the axon as the http.Handler of its server. ServeHTTP
// answers every path and method itself, so Go's text/plain 404 and 405
// never reach a validator.
func (a *Axon) Handler() http.Handler { return a }

// metrics are the axon's Prometheus series.
type metrics struct {
	refused  *prometheus.CounterVec
	accepted *prometheus.CounterVec
	answered *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "taominer_axon_refused_total",
			Help: "Axon requests refused before reaching a model, by reason."}, []string{"reason"}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "taominer_axon_accepted_total",
			Help: "Axon requests that passed admission and were forwarded, by synapse."}, []string{"synapse"}),
		answered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "taominer_axon_answered_total",
			Help: "Axon responses written, by synapse and HTTP status."}, []string{"synapse", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "taominer_axon_request_duration_seconds",
			Help:    "Time from arrival to answer of forwarded axon requests, by synapse.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"synapse"}),
	}
	for _, r := range Reasons {
		m.refused.WithLabelValues(r)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.refused, m.accepted, m.answered, m.duration} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("axon metrics: %w", err)
			}
		}
	}
	return m, nil
}
