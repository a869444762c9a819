package axon

import (
	"container/list"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/taominer/taominer/api/axonproto"
	"github.com/taominer/taominer/api/guard"
)

// Nonce rules of the SDK's default_verify (spec §1.6).
const (
	// AllowedDelta is the age a first nonce per hotkey:uuid may have, on
	// top of the request's timeout.
	AllowedDelta = 4 * time.Second
	// NonceWindowVersion is the dendrite version (7.2.0) from which the
	// freshness window applies.
	NonceWindowVersion = 7002000
)

// request is what the headers of one call say, parsed once.
type request struct {
	timeout   float64 // seconds; axonproto.DefaultTimeout when the header is absent
	dendrite  axonproto.TerminalInfo
	axon      axonproto.TerminalInfo
	bodyHash  string
	hdrSize   *int64
	totalSize *int64
}

// header returns a request header by its lower-case name. Go's server
// canonicalises incoming names, and Get does the same; a map filled by hand
// (a handler called directly) may hold the name as written.
func header(h http.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// parseHeaders builds the call from the headers alone, as the SDK's
// from_headers does. A value that does not parse is an error (the SDK
// answers 500).
func parseHeaders(h http.Header) (*request, error) {
	get := func(k string) string { return header(h, k) }
	r := &request{timeout: axonproto.DefaultTimeout, bodyHash: get(axonproto.HeaderComputedBodyHash)}
	var errs []error
	if s := get(axonproto.HeaderTimeout); s != "" {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(f) {
			errs = append(errs, fmt.Errorf("header timeout: want a number, got %q", s))
		} else {
			r.timeout = f
		}
	}
	for _, k := range []string{axonproto.HeaderHeaderSize, axonproto.HeaderTotalSize} {
		if s := get(k); s != "" {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("header %s: want an integer, got %q", k, s))
				continue
			}
			if k == axonproto.HeaderHeaderSize {
				r.hdrSize = &n
			} else {
				r.totalSize = &n
			}
		}
	}
	var err error
	if r.dendrite, err = axonproto.ParseTerminalHeaders(axonproto.PrefixDendrite, get); err != nil {
		errs = append(errs, err)
	}
	if r.axon, err = axonproto.ParseTerminalHeaders(axonproto.PrefixAxon, get); err != nil {
		errs = append(errs, err)
	}
	return r, errors.Join(errs...)
}

// hotkey is the claimed dendrite hotkey, or "".
func (r *request) hotkey() string {
	if r.dendrite.Hotkey == nil {
		return ""
	}
	return *r.dendrite.Hotkey
}

// refusal is an admission failure: its reason label, HTTP status and
// message.
type refusal struct {
	reason string
	status int
	msg    string
}

// Refusal reasons, the values of the reason label of
// taominer_axon_refused_total.
const (
	ReasonUnknownSynapse   = "unknown_synapse"
	ReasonMethod           = "method_not_allowed"
	ReasonBadHeaders       = "bad_headers"
	ReasonMissingHotkey    = "missing_hotkey"
	ReasonDenied           = "denied_hotkey"
	ReasonNotAllowed       = "not_allowed"
	ReasonUnregistered     = "unregistered"
	ReasonNoPermit         = "no_validator_permit"
	ReasonLowStake         = "low_stake"
	ReasonBadHotkey        = "bad_hotkey"
	ReasonMissingSignature = "missing_signature"
	ReasonBadSignature     = "bad_signature"
	ReasonMissingNonce     = "missing_nonce"
	ReasonStaleNonce       = "stale_nonce"
	ReasonReplayedNonce    = "replayed_nonce"
	ReasonRateLimited      = "rate_limited"
	ReasonBodyTooLarge     = "body_too_large"
	ReasonBadBody          = "bad_body"
	ReasonBodyHash         = "body_hash_mismatch"
	// The port's guard (api/guard): the body would take the process over
	// its body budget (503), or did not arrive in time (408).
	ReasonBodyBudget  = guard.ReasonBodyBudget
	ReasonBodyTimeout = guard.ReasonBodyTimeout
)

// Reasons lists every refusal reason, so that their counters exist at 0.
var Reasons = []string{
	ReasonUnknownSynapse, ReasonMethod, ReasonBadHeaders, ReasonMissingHotkey, ReasonDenied, ReasonNotAllowed,
	ReasonUnregistered, ReasonNoPermit, ReasonLowStake, ReasonBadHotkey, ReasonMissingSignature,
	ReasonBadSignature, ReasonMissingNonce, ReasonStaleNonce, ReasonReplayedNonce, ReasonRateLimited,
	ReasonBodyTooLarge, ReasonBadBody, ReasonBodyHash, ReasonBodyBudget, ReasonBodyTimeout,
}

func forbidden(reason, why string) *refusal {
	return &refusal{reason: reason, status: http.StatusForbidden, msg: "Forbidden. Key is blacklisted: " + why + "."}
}

func notVerified(reason, why string) *refusal {
	return &refusal{reason: reason, status: http.StatusUnauthorized, msg: "Not Verified with error: " + why}
}

// blacklist decides on the claimed, not yet verified, hotkey (spec §2.1
// step 2) with the signer policy (see CheckCaller), answering a refusal
// 403 with the SDK's message. It returns the caller's metagraph entry for
// priority.
func (a *Axon) blacklist(hotkey string) (Caller, *refusal) {
	c, reason, why := a.CheckCaller(hotkey)
	if reason != "" {
		return c, forbidden(reason, why)
	}
	return c, nil
}

// CheckCaller applies the axon's signer policy to a claimed hotkey: deny
// list, allow list, then the metagraph (registered, validator permit,
// minimum stake). With no metagraph only allowed hotkeys pass. It returns
// the caller's metagraph entry, and when the hotkey is refused the reason
// (ReasonMissingHotkey, ReasonDenied, ReasonNotAllowed, ReasonUnregistered,
// ReasonNoPermit or ReasonLowStake) and why, in words. The Epistula receiver
// on the same port (api/epistula) shares it with the synapses.
func (a *Axon) CheckCaller(hotkey string) (c Caller, reason, why string) {
	if hotkey == "" {
		return Caller{}, ReasonMissingHotkey, "Received a request without a dendrite or hotkey"
	}
	if _, deny := a.deny[hotkey]; deny {
		return Caller{}, ReasonDenied, "Denied hotkey"
	}
	var registered bool
	if a.opt.Metagraph != nil {
		c, registered = a.opt.Metagraph.Caller(hotkey)
	}
	if _, allow := a.allow[hotkey]; allow {
		return c, "", ""
	}
	switch {
	case a.opt.Metagraph == nil:
		return c, ReasonNotAllowed, "Unrecognized hotkey"
	case !registered:
		return c, ReasonUnregistered, "Unrecognized hotkey"
	case !c.ValidatorPermit:
		return c, ReasonNoPermit, "Non-validator hotkey"
	case c.Stake < a.opt.MinStake:
		return c, ReasonLowStake, fmt.Sprintf("Stake below minimum (%s < %s alpha)",
			formatAlpha(c.Stake), formatAlpha(a.opt.MinStake))
	}
	return c, "", ""
}

// Loader is what a Metagraph may also be: one that can say whether it has
// loaded yet (the chain's first sync).
type Loader interface {
	Loaded() bool
}

// MetagraphLoaded reports whether the axon's metagraph has loaded: false
// only for a Metagraph that is a Loader and says it has not. With no
// metagraph (no chain) it is true: the allow list is all there is.
func (a *Axon) MetagraphLoaded() bool {
	l, ok := a.opt.Metagraph.(Loader)
	return !ok || l.Loaded()
}

// AllowRate takes one request from hotkey's rate budget (--axon-rate-limit),
// shared by the synapses and the Epistula receiver, or reports false when
// the budget is spent. Call it only for verified hotkeys, so that a forged
// caller cannot spend a validator's budget.
func (a *Axon) AllowRate(hotkey string, now time.Time) bool { return a.limit.allow(hotkey, now) }

// RateLimit is the requests per second one hotkey may make (0: no limit).
func (a *Axon) RateLimit() float64 { return a.opt.RateLimit }

// formatAlpha prints rao as alpha.
func formatAlpha(rao uint64) string {
	return strconv.FormatFloat(float64(rao)/1e9, 'f', -1, 64)
}

// verifySignature checks sig (as sent, "0x…") over msg by the SS58 hotkey
// through the axon's Verifier, with the SDK's messages. btwallet's fallback
// to a signature over "<Bytes>"+msg+"</Bytes>" (polkadot.js signRaw) is
// left out: no SDK dendrite signs that way, and it would double what each
// forgery costs. A hotkey that is not an SS58 address is ReasonBadHotkey.
func (a *Axon) verifySignature(hotkey, msg, sig string) (reason string, err error) {
	s, err := axonproto.ParseSignature(sig)
	if err != nil {
		return ReasonBadSignature, err
	}
	ok, err := a.opt.Verifier.Verify(hotkey, msg, s)
	if err != nil {
		//lint:ignore ST1005 the SDK's message, sent to the validator as is
		return ReasonBadHotkey, errors.New("No SS58 formatted address or public key provided.")
	}
	if !ok {
		//lint:ignore ST1005 the SDK's message, sent to the validator as is
		return ReasonBadSignature, fmt.Errorf("Signature mismatch with %s and %s", msg, sig)
	}
	return "", nil
}

// verify is the SDK's default_verify with its bug fixed (an empty signature
// is refused), cheap checks first: nonce present, signature present and
// well formed, a read-only nonce check (so replays cost no sr25519
// verification), the signature, then the atomic nonce check-and-store.
func (a *Axon) verify(r *request, now time.Time) *refusal {
	d := &r.dendrite
	hotkey := r.hotkey()
	if d.Nonce == nil {
		return notVerified(ReasonMissingNonce, "Missing Nonce")
	}
	if d.Signature == nil || *d.Signature == "" {
		return notVerified(ReasonMissingSignature, "Missing signature")
	}
	if _, err := axonproto.ParseSignature(*d.Signature); err != nil {
		return notVerified(ReasonBadSignature, err.Error())
	}
	uuid := ""
	if d.UUID != nil {
		uuid = *d.UUID
	}
	key := hotkey + ":" + uuid
	windowed := d.Version != nil && *d.Version >= NonceWindowVersion
	if ref := a.nonces.check(key, *d.Nonce, windowed, r.timeout, now); ref != nil {
		return ref
	}
	msg := axonproto.Message(*d.Nonce, hotkey, a.hotkey, uuid, r.bodyHash)
	if reason, err := a.verifySignature(hotkey, msg, *d.Signature); err != nil {
		return notVerified(reason, err.Error())
	}
	return a.nonces.store(key, *d.Nonce, windowed, r.timeout, now)
}

// nonceStore keeps the last accepted nonce per hotkey:uuid, at most size
// keys, evicting the least recently used. Only verified requests store, so
// forgeries cannot evict. An evicted key's next request is checked against
// the freshness window again, as after an SDK axon restart.
type nonceStore struct {
	mu   sync.Mutex
	size int
	ll   *list.List // front = most recent; values *nonceEntry
	m    map[string]*list.Element
}

type nonceEntry struct {
	key   string
	nonce int64
}

func newNonceStore(size int) *nonceStore {
	return &nonceStore{size: max(size, 1), ll: list.New(), m: map[string]*list.Element{}}
}

// check applies the rules without storing (spec §1.6).
func (s *nonceStore) check(key string, nonce int64, windowed bool, timeout float64, now time.Time) *refusal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkLocked(key, nonce, windowed, timeout, now)
}

func (s *nonceStore) checkLocked(key string, nonce int64, windowed bool, timeout float64, now time.Time) *refusal {
	e, stored := s.m[key]
	if stored {
		if nonce <= e.Value.(*nonceEntry).nonce {
			return notVerified(ReasonReplayedNonce, "Nonce is too old, a newer one was last processed")
		}
		return nil
	}
	if windowed {
		nowNS := now.UnixNano()
		allowed := float64(AllowedDelta) + max(timeout, 0)*1e9
		if float64(nonce) <= float64(nowNS)-allowed {
			return notVerified(ReasonStaleNonce, fmt.Sprintf(
				"Nonce is too old: acceptable delta is %.2f seconds but request was %.2f seconds old",
				allowed/1e9, float64(nowNS-nonce)/1e9))
		}
	}
	return nil
}

// store checks again and records the nonce, atomically.
func (s *nonceStore) store(key string, nonce int64, windowed bool, timeout float64, now time.Time) *refusal {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ref := s.checkLocked(key, nonce, windowed, timeout, now); ref != nil {
		return ref
	}
	if e, ok := s.m[key]; ok {
		e.Value.(*nonceEntry).nonce = nonce
		s.ll.MoveToFront(e)
		return nil
	}
	s.m[key] = s.ll.PushFront(&nonceEntry{key: key, nonce: nonce})
	for s.ll.Len() > s.size {
		old := s.ll.Back()
		s.ll.Remove(old)
		delete(s.m, old.Value.(*nonceEntry).key)
	}
	return nil
}

// len is the number of keys held.
func (s *nonceStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ll.Len()
}

// limiter is a token bucket per hotkey: rate tokens a second, up to burst.
// Only verified hotkeys reach it, so its map holds validators; it is reset
// if it ever exceeds maxLimiterKeys.
type limiter struct {
	mu      sync.Mutex
	rate    float64
	burst   float64
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

const maxLimiterKeys = 100_000

func newLimiter(rate, burst float64) *limiter {
	if burst < 1 {
		burst = max(1, math.Ceil(2*rate))
	}
	return &limiter{rate: rate, burst: burst, buckets: map[string]*bucket{}}
}

// allow takes a token for key, or reports false.
func (l *limiter) allow(key string, now time.Time) bool {
	if l == nil || l.rate <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxLimiterKeys {
			clear(l.buckets)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
