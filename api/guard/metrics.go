package guard

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Refusal reasons: the reason label of taominer_refusals_total.
const (
	// ReasonConnLimit: a connection past the port's --max-connections.
	ReasonConnLimit = "conn_limit"
	// ReasonConnLimitIP: a connection past --max-connections-per-ip from
	// one client address.
	ReasonConnLimitIP = "conn_limit_ip"
	// ReasonBodyBudget: a body that would take the bytes held past
	// --max-inflight-body-bytes (503, connection closed).
	ReasonBodyBudget = "body_budget"
	// ReasonBodyTimeout: a body not complete within --body-read-timeout
	// (408, connection closed).
	ReasonBodyTimeout = "body_timeout"
	// ReasonBodyTooLarge: a body over --max-body-bytes (413).
	ReasonBodyTooLarge = "body_too_large"
	// ReasonClientClosed: the client went away (closed or half-closed its
	// connection) before its answer; logged as 499.
	ReasonClientClosed = "client_closed"
	// ReasonStarting: a request answered 503 "starting: ..." because the
	// port is bound but the node is still loading its models or attaching
	// to the chain (counted by the port's starting handler through
	// RefusedRequest; readiness probes are not counted).
	ReasonStarting = "starting"
)

// Reasons lists every reason, so that their series exist at 0.
var Reasons = []string{ReasonConnLimit, ReasonConnLimitIP, ReasonBodyBudget, ReasonBodyTimeout,
	ReasonBodyTooLarge, ReasonClientClosed, ReasonStarting}

// ProtocolTCP is the protocol label of refusals made before any protocol
// is read (connection caps).
const ProtocolTCP = "tcp"

// Metrics are the guard's Prometheus series, shared by every port of a
// process.
type Metrics struct {
	refusals *prometheus.CounterVec
	open     *prometheus.GaugeVec
	log      *slog.Logger
	logs     sync.Map // port/protocol/reason → *logLimiter
}

// NewMetrics registers the guard's series with reg (nil registers nowhere)
// and logs refusals to log (nil: nowhere): the first of each kind at once,
// then at most one line per LogEvery with the count since. budget, when
// set, is exported as taominer_inflight_body_bytes and its limit.
func NewMetrics(reg prometheus.Registerer, budget *Budget, log *slog.Logger) (*Metrics, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "taominer_refusals_total",
			Help: "Connections and requests refused by the public ports' guards, by port (http, axon), protocol " +
				"(tcp before any protocol, kserve, axon, epistula) and reason (conn_limit, conn_limit_ip, body_budget, " +
				"body_timeout, body_too_large, client_closed, starting, and each protocol's own admission reasons)."}, []string{"port", "protocol", "reason"}),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "taominer_open_connections",
			Help: "Open connections, by port."}, []string{"port"}),
		log: log,
	}
	cs := []prometheus.Collector{m.refusals, m.open}
	if budget != nil {
		cs = append(cs,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "taominer_inflight_body_bytes",
				Help: "Request body bytes held in memory now (charged as they arrive)."},
				func() float64 { return float64(budget.Held()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "taominer_inflight_body_bytes_limit",
				Help: "The budget of request body bytes held at once (--max-inflight-body-bytes)."},
				func() float64 { return float64(budget.Limit()) }))
	}
	if reg != nil {
		for _, c := range cs {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("guard metrics: %w", err)
			}
		}
	}
	return m, nil
}

// initPort creates the port's series at 0.
func (m *Metrics) initPort(port, protocol string) {
	m.open.WithLabelValues(port)
	for _, r := range []string{ReasonConnLimit, ReasonConnLimitIP} {
		m.refusals.WithLabelValues(port, ProtocolTCP, r)
	}
	if protocol != "" {
		for _, r := range Reasons[2:] {
			m.refusals.WithLabelValues(port, protocol, r)
		}
	}
}

// Declare creates the series of port and protocol at 0: the guard's body
// reasons and the reasons given (a protocol's own admission refusals).
func (m *Metrics) Declare(port, protocol string, reasons ...string) {
	m.initPort(port, protocol)
	for _, r := range reasons {
		m.refusals.WithLabelValues(port, protocol, r)
	}
}

// Refused counts one refusal and logs it (rate-limited).
func (m *Metrics) Refused(port, protocol, reason string, attrs ...any) {
	m.refusals.WithLabelValues(port, protocol, reason).Inc()
	key := port + "/" + protocol + "/" + reason
	l, ok := m.logs.Load(key)
	if !ok {
		l, _ = m.logs.LoadOrStore(key, &logLimiter{})
	}
	if n, ok := l.(*logLimiter).allow(time.Now()); ok {
		args := append([]any{"port", port, "protocol", protocol, "reason", reason, "count", n}, attrs...)
		m.log.Info("refused", args...)
	}
}

// RefusedRequest counts one refused request of r, answered status, and
// logs it (rate-limited) with the status, the path (cut at 80 bytes) and
// the client's address.
func (m *Metrics) RefusedRequest(port, protocol, reason string, status int, r *http.Request) {
	path := r.URL.Path
	if len(path) > 80 {
		path = path[:80] + "…"
	}
	m.Refused(port, protocol, reason, "status", status, "path", path, "client", r.RemoteAddr)
}

// count returns the refusals counted for port, protocol and reason (any
// when empty), for tests and status output.
func (m *Metrics) count(port, protocol, reason string) float64 {
	ch := make(chan prometheus.Metric, 64)
	go func() { m.refusals.Collect(ch); close(ch) }()
	var total float64
	for c := range ch {
		var d dto.Metric
		if c.Write(&d) != nil {
			continue
		}
		labels := map[string]string{}
		for _, l := range d.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if (port == "" || labels["port"] == port) && (protocol == "" || labels["protocol"] == protocol) &&
			(reason == "" || labels["reason"] == reason) {
			total += d.GetCounter().GetValue()
		}
	}
	return total
}

// LogEvery is the shortest interval between two log lines of one kind of
// refusal.
const LogEvery = 10 * time.Second

// logLimiter lets one line through per LogEvery and counts the rest.
type logLimiter struct {
	mu    sync.Mutex
	last  time.Time
	count int
}

// allow counts one event and reports whether to log it, with the events
// since the last line (this one included).
func (l *logLimiter) allow(now time.Time) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count++
	if !l.last.IsZero() && now.Sub(l.last) < LogEvery {
		return 0, false
	}
	n := l.count
	l.last, l.count = now, 0
	return n, true
}
