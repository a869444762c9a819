package kservegrpc

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
	"google.golang.org/protobuf/proto"

	"github.com/taominer/taominer/api/kservepb"
)

// Guard is what the port's guard (api/guard.Port) offers the server: the
// process's body budget and the refusal counter.
type Guard interface {
	// Reserve charges n received bytes to the budget, or reports false.
	Reserve(n int64) (release func(), ok bool)
	// Refused counts one refusal of protocol with reason.
	Refused(protocol, reason string, attrs ...any)
}

// Protocol is the protocol label of the port's refusals.
const Protocol = "kserve_grpc"

// Refusal reasons this server detects itself (the others, conn_limit and
// conn_limit_ip, are the listener's); they match api/guard's names.
const (
	reasonTooLarge     = "body_too_large"
	reasonBudget       = "body_budget"
	reasonTimeout      = "body_timeout"
	reasonClientClosed = "client_closed"
	reasonStarting     = "starting"
)

// Defaults of ServerOptions.
const (
	DefaultMaxMessageBytes      = 64 << 20
	DefaultMaxConcurrentStreams = 64
	DefaultHandshakeTimeout     = 10 * time.Second
	DefaultBodyTimeout          = 30 * time.Second
	DefaultIdleTimeout          = 2 * time.Minute
)

// ServerOptions are the port's limits and what it reports to.
type ServerOptions struct {
	// MaxMessageBytes bounds a received and a sent message (0:
	// DefaultMaxMessageBytes); a larger request fails RESOURCE_EXHAUSTED
	// before its bytes are read.
	MaxMessageBytes int
	// MaxConcurrentStreams bounds the calls in flight on one connection
	// (0: DefaultMaxConcurrentStreams).
	MaxConcurrentStreams uint32
	// HandshakeTimeout bounds the HTTP/2 connection preface (0:
	// DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// BodyTimeout bounds the arrival of a unary call's request message
	// from the call's start (0: DefaultBodyTimeout).
	BodyTimeout time.Duration
	// IdleTimeout closes a connection without calls for that long; a
	// connection with calls is pinged after half of it without traffic
	// (0: DefaultIdleTimeout).
	IdleTimeout time.Duration
	// Guard charges received messages and counts refusals (nil: none).
	Guard Guard
	// Registerer takes the answer counter (nil: none).
	Registerer prometheus.Registerer
	// Phase says what the node is doing while it starts.
	Phase  func() string
	Logger *slog.Logger
}

// Server is the gRPC port: inference.GRPCInferenceService and
// grpc.health.v1.Health. Until Ready it answers as a starting node:
// ServerLive true, ServerReady false, health NOT_SERVING, every other call
// UNAVAILABLE "starting: <phase>".
type Server struct {
	grpc     *grpc.Server
	svc      atomic.Pointer[Options]
	stopping atomic.Bool
	opt      ServerOptions
	answers  *prometheus.CounterVec
}

// NewServer returns the port's server, starting.
func NewServer(opt ServerOptions) (*Server, error) {
	if opt.MaxMessageBytes <= 0 {
		opt.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if opt.MaxConcurrentStreams == 0 {
		opt.MaxConcurrentStreams = DefaultMaxConcurrentStreams
	}
	if opt.HandshakeTimeout <= 0 {
		opt.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if opt.BodyTimeout <= 0 {
		opt.BodyTimeout = DefaultBodyTimeout
	}
	if opt.IdleTimeout <= 0 {
		opt.IdleTimeout = DefaultIdleTimeout
	}
	if opt.Phase == nil {
		opt.Phase = func() string { return "starting" }
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opt: opt,
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "taominer_grpc_errors_total",
			Help: "Non-OK answers of the gRPC port (one per call, and one per failed request of a stream), by method, " +
				"status code and reason (the failure's kind, or what the gRPC library refused)."},
			[]string{"method", "code", "reason"})}
	if opt.Registerer != nil {
		if err := opt.Registerer.Register(s.answers); err != nil {
			return nil, err
		}
	}
	s.grpc = grpc.NewServer(
		grpc.MaxRecvMsgSize(opt.MaxMessageBytes),
		grpc.MaxSendMsgSize(opt.MaxMessageBytes),
		grpc.MaxConcurrentStreams(opt.MaxConcurrentStreams),
		grpc.ConnectionTimeout(opt.HandshakeTimeout),
		grpc.MaxHeaderListSize(64<<10),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: opt.IdleTimeout,
			Time: opt.IdleTimeout / 2, Timeout: 20 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.InTapHandle(s.tap),
		grpc.StatsHandler(statsHandler{s}),
		grpc.UnaryInterceptor(s.unary),
		grpc.StreamInterceptor(s.stream),
		grpc.UnknownServiceHandler(s.unknown),
	)
	kservepb.RegisterGRPCInferenceServiceServer(s.grpc, &handler{s: s})
	healthpb.RegisterHealthServer(s.grpc, healthServer{s: s})
	return s, nil
}

// Ready makes the server answer from opt from now on.
func (s *Server) Ready(opt Options) {
	if opt.Logger == nil {
		opt.Logger = s.opt.Logger
	}
	s.svc.Store(&opt)
}

// Serve serves ln until Stop or Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.grpc.Serve(ln)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Shutdown stops taking calls and lets those in flight finish until ctx
// ends, then closes every connection.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopping.Store(true)
	done := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.grpc.Stop()
		<-done
		return ctx.Err()
	}
}

// healthServer is grpc.health.v1.Health: Check answers SERVING while the
// server is ready (the catalog's readiness, as GET /v2/health/ready) and
// not shutting down, for the whole server ("") and for
// inference.GRPCInferenceService. Watch is not served.
type healthServer struct {
	healthpb.UnimplementedHealthServer
	s *Server
}

func (h healthServer) Check(_ context.Context, r *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if svc := r.GetService(); svc != "" && svc != kservepb.GRPCInferenceService_ServiceDesc.ServiceName {
		return nil, status.Errorf(codes.NotFound, "unknown service %q: ask \"\" or %q", svc, kservepb.GRPCInferenceService_ServiceDesc.ServiceName)
	}
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if o := h.s.svc.Load(); o != nil && !h.s.stopping.Load() && o.Catalog.Ready() {
		st = healthpb.HealthCheckResponse_SERVING
	}
	return &healthpb.HealthCheckResponse{Status: st}, nil
}

// Stop closes every connection at once.
func (s *Server) Stop() { s.grpc.Stop() }

// call is one call's state, from its start (the tap) to its end (the
// stats handler).
type call struct {
	mu      sync.Mutex
	method  string      // the full method name
	reason  string      // why it failed, when the server knows
	timer   *time.Timer // the request message's deadline; nil once stopped
	timeout bool        // the timer fired
}

type callKey struct{}

func callOf(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

// fullMethod is the call's full method name ("" without a call).
func (c *call) fullMethod() string {
	if c == nil {
		return ""
	}
	return c.method
}

// setReason records why the call failed (the first reason wins).
func (c *call) setReason(r string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if c.reason == "" {
		c.reason = r
	}
	c.mu.Unlock()
}

// received stops the request message's deadline; false when it had
// already passed.
func (c *call) received() bool {
	if c == nil {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	return !c.timeout
}

// tap starts each call: its state, and a timer that cancels the call when
// its request message has not arrived within BodyTimeout.
func (s *Server) tap(ctx context.Context, info *tap.Info) (context.Context, error) {
	c := &call{method: info.FullMethodName}
	ctx, cancel := context.WithCancel(context.WithValue(ctx, callKey{}, c))
	c.mu.Lock()
	c.timer = time.AfterFunc(s.opt.BodyTimeout, func() {
		if ctx.Err() != nil {
			return // the call ended without reaching a handler (gRPC cancels it then)
		}
		c.mu.Lock()
		fired := c.timer != nil
		c.timeout, c.timer = fired, nil
		if fired && c.reason == "" {
			c.reason = reasonTimeout
		}
		c.mu.Unlock()
		if fired {
			s.refused(reasonTimeout, "method", method(info.FullMethodName))
			cancel()
		}
	})
	c.mu.Unlock()
	return ctx, nil
}

// unary charges each unary call's request to the body budget while the
// call runs.
func (s *Server) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	c := callOf(ctx)
	if !c.received() {
		return nil, status.Errorf(codes.DeadlineExceeded, "request message not received within %v (--body-read-timeout)", s.opt.BodyTimeout)
	}
	release, err := s.charge(ctx, req)
	if err != nil {
		return nil, err
	}
	defer release()
	return h(ctx, req)
}

// stream stops the request deadline of streaming calls, which charge
// each message they receive themselves.
func (s *Server) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if !callOf(ss.Context()).received() {
		return status.Errorf(codes.DeadlineExceeded, "stream not started within %v (--body-read-timeout)", s.opt.BodyTimeout)
	}
	return h(srv, ss)
}

// unknown answers the methods this server does not declare.
func (s *Server) unknown(_ any, ss grpc.ServerStream) error {
	c := callOf(ss.Context())
	c.received()
	c.setReason("unimplemented")
	m, _ := grpc.MethodFromServerStream(ss)
	return status.Errorf(codes.Unimplemented, "%s is not served here: taominer serves inference.GRPCInferenceService's "+
		"health, metadata, config, statistics, repository and inference calls, and grpc.health.v1.Health", m)
}

// charge reserves a received message's size in the body budget.
func (s *Server) charge(ctx context.Context, m any) (func(), error) {
	pm, ok := m.(proto.Message)
	if s.opt.Guard == nil || !ok {
		return func() {}, nil
	}
	n := proto.Size(pm)
	release, ok := s.opt.Guard.Reserve(int64(n))
	if !ok {
		callOf(ctx).setReason(reasonBudget)
		s.refused(reasonBudget, "bytes", n)
		return nil, status.Errorf(codes.Unavailable, "the server holds too many request bytes right now (--max-inflight-body-bytes); retry shortly")
	}
	return release, nil
}

func (s *Server) refused(reason string, attrs ...any) {
	if s.opt.Guard != nil {
		s.opt.Guard.Refused(Protocol, reason, attrs...)
	}
}

// methods are the method labels; any other name counts as "other".
var methods = map[string]bool{}

func init() {
	for _, d := range []grpc.ServiceDesc{kservepb.GRPCInferenceService_ServiceDesc, healthpb.Health_ServiceDesc} {
		for _, m := range d.Methods {
			methods[m.MethodName] = true
		}
		for _, m := range d.Streams {
			methods[m.StreamName] = true
		}
	}
}

// method is the label of a full method name.
func method(full string) string {
	m := full[strings.LastIndexByte(full, '/')+1:]
	if !methods[m] {
		return "other"
	}
	return m
}

// count records one non-OK answer: in the answer counter always, and as a
// refusal when the gRPC library refused the request (too large) or the
// client left.
func (s *Server) count(ctx context.Context, full string, err error) {
	code := status.Code(err)
	reason := ""
	if c := callOf(ctx); c != nil {
		c.mu.Lock()
		reason = c.reason
		c.mu.Unlock()
	}
	switch {
	case reason != "":
	case code == codes.ResourceExhausted:
		reason = reasonTooLarge
		s.refused(reason, "method", method(full), "error", err.Error())
	case code == codes.DeadlineExceeded || (code == codes.Canceled && deadlinePassed(ctx)):
		reason = "expired"
	case code == codes.Canceled:
		reason = reasonClientClosed
		s.refused(reason, "method", method(full))
	case code == codes.Unimplemented:
		reason = "unimplemented"
	default:
		reason = "protocol" // a message that did not decode, a stream reset
	}
	s.answers.WithLabelValues(method(full), code.String(), reason).Inc()
}

// statsHandler counts every call that ends non-OK, whoever failed it.
type statsHandler struct{ s *Server }

func (statsHandler) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (statsHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (statsHandler) HandleConn(context.Context, stats.ConnStats)                       {}

func (h statsHandler) HandleRPC(ctx context.Context, st stats.RPCStats) {
	if end, ok := st.(*stats.End); ok && end.Error != nil {
		full := ""
		if c := callOf(ctx); c != nil {
			full = c.method
		}
		h.s.count(ctx, full, end.Error)
	}
}
