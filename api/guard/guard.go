package guard

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Limits are one port's limits; zero values take the defaults below.
type Limits struct {
	// MaxConns caps open connections from untrusted addresses (0: none).
	MaxConns int
	// MaxConnsPerIP caps open connections from one client address, an IPv4
	// address or an IPv6 /64 (0: none).
	MaxConnsPerIP int
	// Trusted networks are exempt from both caps (nil: DefaultTrusted; an
	// empty non-nil slice trusts nobody).
	Trusted []netip.Prefix
	// MaxBodyBytes is the largest body accepted (0: 64 MiB).
	MaxBodyBytes int64
	// HeaderTimeout bounds the arrival of a request's headers (0: 10 s).
	HeaderTimeout time.Duration
	// BodyTimeout bounds the arrival of a body, from the end of its
	// headers to its last byte (0: DefaultBodyTimeout).
	BodyTimeout time.Duration
	// WriteTimeout bounds the writing of an answer, counted from when it
	// starts being written (0: DefaultWriteTimeout).
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle that long (0: 2 min).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers (0: DefaultMaxHeaderBytes).
	MaxHeaderBytes int
}

// Defaults of Limits.
const (
	DefaultMaxBodyBytes   = 64 << 20
	DefaultHeaderTimeout  = 10 * time.Second
	DefaultBodyTimeout    = 30 * time.Second
	DefaultWriteTimeout   = 30 * time.Second
	DefaultIdleTimeout    = 2 * time.Minute
	DefaultMaxHeaderBytes = 64 << 10
)

// WithDefaults returns l with every zero limit set to its default.
func (l Limits) WithDefaults() Limits {
	if l.Trusted == nil {
		l.Trusted = DefaultTrusted
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if l.HeaderTimeout <= 0 {
		l.HeaderTimeout = DefaultHeaderTimeout
	}
	if l.BodyTimeout <= 0 {
		l.BodyTimeout = DefaultBodyTimeout
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = DefaultWriteTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return l
}

// Port guards one listening port.
type Port struct {
	name           string
	limits         Limits
	budget         *Budget
	met            *Metrics
	log            *slog.Logger
	conns          *connLimiter
	openGauge      prometheus.Gauge
	refusedAnswers map[string][]byte
}

// NewPort returns the guard of the port called name (the port label of the
// metrics: "http", "axon", ...). budget and met are shared by the process's
// ports; a nil budget means no budget, nil met counts nowhere.
func NewPort(name string, limits Limits, budget *Budget, met *Metrics, log *slog.Logger) *Port {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if met == nil {
		met, _ = NewMetrics(nil, nil, nil)
	}
	p := &Port{name: name, limits: limits.WithDefaults(), budget: budget, met: met, log: log,
		refusedAnswers: map[string][]byte{}}
	for _, r := range []string{ReasonConnLimit, ReasonConnLimitIP} {
		p.refusedAnswers[r] = connRefusedAnswer(r)
	}
	p.conns = &connLimiter{port: p, byClient: map[netip.Prefix]int{}}
	p.openGauge = met.open.WithLabelValues(name)
	met.initPort(name, "")
	return p
}

// Name returns the port's label.
func (p *Port) Name() string { return p.name }

// Limits returns the port's limits, defaults applied.
func (p *Port) Limits() Limits { return p.limits }

// openConns returns the port's open connections.
func (p *Port) openConns() int64 { return p.conns.open.Load() }

// Metrics returns the metrics the port counts into.
func (p *Port) Metrics() *Metrics { return p.met }

func (p *Port) trusted(a netip.Addr) bool {
	for _, t := range p.limits.Trusted {
		if t.Contains(a) {
			return true
		}
	}
	return false
}

// Listen wraps ln so that Accept applies the connection caps.
func (p *Port) Listen(ln net.Listener) net.Listener {
	return &listener{Listener: ln, lim: p.conns}
}

// Server returns an http.Server for h (normally Handler's result) with the
// port's header, idle and header-size limits. It sets no WriteTimeout or
// ReadTimeout: those would cut queueing and inference short; Handler sets
// the body and answer deadlines per request instead.
func (p *Port) Server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: p.limits.HeaderTimeout,
		IdleTimeout:       p.limits.IdleTimeout,
		MaxHeaderBytes:    p.limits.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
	}
}

// RefusalError is the error a guarded body's Read returns when the body
// breaks a limit: answer Status with Message (the guard has already asked
// for the connection to be closed, and set Retry-After where it applies).
type RefusalError struct {
	Status  int
	Reason  string // one of the Reason constants
	Message string
}

func (e *RefusalError) Error() string { return e.Message }

// AsRefusal returns the *RefusalError in err's chain, if any.
func AsRefusal(err error) (*RefusalError, bool) {
	return errors.AsType[*RefusalError](err)
}
