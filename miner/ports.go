package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/taominer/taominer/api/guard"
)

// livePort is a public port (KServe HTTP, axon) that the node binds before
// it loads models or attaches the chain, so that a busy port fails the
// start at once. It serves from then on, behind its guard: first the
// starting handler, then, once the node is built, the real one, swapped in
// atomically.
type livePort struct {
	name string       // the guard's port label: http, axon
	ln   net.Listener // guarded
	srv  *http.Server
	h    atomic.Pointer[http.Handler]
	done chan struct{} // closed when Serve returns
	err  error         // Serve's error, once done is closed
}

// openPort binds addr, the value of flag, under the guard of port name
// (its refusals labelled protocol), and serves starting on it until set
// is called. The node's closers close it.
func (n *node) openPort(name, protocol, flag, addr string, starting http.Handler) (*livePort, error) {
	ln, err := bindFlag(flag, addr)
	if err != nil {
		return nil, err
	}
	g := n.guards.port(name)
	p := &livePort{name: name, ln: g.Listen(ln), done: make(chan struct{})}
	p.set(starting)
	p.srv = g.Server(g.Handler(protocol, p))
	go func() {
		p.err = p.srv.Serve(p.ln)
		close(p.done)
	}()
	n.closers = append(n.closers, p.close)
	return p, nil
}

// startingRefused counts a request that port's starting handler answered
// 503 "starting" in the refusal family (reason starting, labelled
// protocol).
func (n *node) startingRefused(port, protocol string) func(*http.Request) {
	return func(r *http.Request) {
		n.guards.met.RefusedRequest(port, protocol, guard.ReasonStarting, http.StatusServiceUnavailable, r)
	}
}

// bindFlag listens on addr, the value of flag. A busy port or a privileged
// one says so in words, with what to do.
func bindFlag(flag, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	switch {
	case err == nil:
		return ln, nil
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("listen on %s %s: %w; another miner or program holds it: stop it or pick another port",
			flag, addr, syscall.EADDRINUSE)
	case errors.Is(err, syscall.EACCES):
		return nil, fmt.Errorf("listen on %s %s: %w; ports below 1024 need root or the CAP_NET_BIND_SERVICE capability: "+
			"pick a port above 1023", flag, addr, syscall.EACCES)
	}
	return nil, fmt.Errorf("listen on %s %s: %w", flag, addr, err)
}

func (p *livePort) ServeHTTP(w http.ResponseWriter, r *http.Request) { (*p.h.Load()).ServeHTTP(w, r) }

// set makes h answer the port's requests from now on.
func (p *livePort) set(h http.Handler) { p.h.Store(&h) }

// Addr is the bound address.
func (p *livePort) Addr() string { return p.ln.Addr().String() }

// wait returns when the server stops: nil after a shutdown, or the error
// that ended it.
func (p *livePort) wait() error {
	<-p.done
	if errors.Is(p.err, http.ErrServerClosed) {
		return nil
	}
	return p.err
}

// run serves until ctx ends, then shuts down within timeout; a server
// that fails before ends it with its error.
func (p *livePort) run(timeout time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		select {
		case <-p.done:
			if err := p.wait(); err != nil {
				return fmt.Errorf("%s server: %w", p.name, err)
			}
			return nil
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return p.shutdown(sctx)
	}
}

// shutdown stops taking connections and lets the requests in flight finish
// until ctx ends.
func (p *livePort) shutdown(ctx context.Context) error {
	err := p.srv.Shutdown(ctx)
	<-p.done
	return err
}

// close stops the server at once (a start that failed; after a shutdown
// it does nothing more).
func (p *livePort) close() {
	_ = p.srv.Close()
	<-p.done
}
