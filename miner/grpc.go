package main

import (
	"context"
	"fmt"
	"net"

	"github.com/taominer/taominer/api/kservegrpc"
	"github.com/taominer/taominer/api/server"
)

// grpcPort is the KServe gRPC port (--grpc-addr), bound with the HTTP port
// and answering as a starting node until the node is built.
type grpcPort struct {
	srv  *kservegrpc.Server
	ln   net.Listener // guarded
	done chan struct{}
	err  error // Serve's error, once done is closed
}

// bindGRPC binds --grpc-addr on the all and api roles (never on a
// worker; an empty address turns it off) under the guard of port "grpc".
func (n *node) bindGRPC() error {
	cfg := n.cfg
	if cfg.GRPCAddr == "" || cfg.Role == roleWorker {
		return nil
	}
	ln, err := bindFlag("--grpc-addr", cfg.GRPCAddr)
	if err != nil {
		return err
	}
	g := n.guards.port("grpc")
	g.Protocol(kservegrpc.Protocol)
	lim := g.Limits()
	srv, err := kservegrpc.NewServer(kservegrpc.ServerOptions{
		MaxMessageBytes:      int(cfg.GRPCMaxMessageBytes),
		MaxConcurrentStreams: uint32(cfg.GRPCMaxStreams),
		HandshakeTimeout:     lim.HeaderTimeout,
		BodyTimeout:          lim.BodyTimeout,
		IdleTimeout:          lim.IdleTimeout,
		Guard:                g,
		Registerer:           n.reg,
		Phase:                n.startPhase,
		Logger:               n.log.With("port", "grpc"),
	})
	if err != nil {
		_ = ln.Close()
		return err
	}
	p := &grpcPort{srv: srv, ln: g.ListenStream(ln), done: make(chan struct{})}
	go func() {
		p.err = srv.Serve(p.ln)
		close(p.done)
	}()
	n.grpc = p
	n.closers = append(n.closers, func() { srv.Stop(); <-p.done })
	return nil
}

// readyGRPC makes the gRPC port answer from the HTTP port's front,
// catalog, repository and statistics.
func (n *node) readyGRPC(opts server.Options) error {
	if n.grpc == nil {
		return nil
	}
	configs, ok := opts.Inferer.(kservegrpc.Configs)
	if !ok {
		return fmt.Errorf("grpc port: the front (%T) reports no model configs", opts.Inferer)
	}
	n.grpc.srv.Ready(kservegrpc.Options{Inferer: opts.Inferer, Catalog: opts.Catalog, Configs: configs,
		Repository: opts.Repository, Stats: opts.Stats, Version: version})
	return nil
}

// GRPCAddr is the bound gRPC address, or "" when the node serves none.
func (n *node) GRPCAddr() string {
	if n.grpc == nil {
		return ""
	}
	return n.grpc.ln.Addr().String()
}

// waitGRPC returns when the gRPC server stops: nil after a shutdown.
func (n *node) waitGRPC() error {
	if n.grpc == nil {
		return nil
	}
	<-n.grpc.done
	if n.grpc.err != nil {
		return fmt.Errorf("grpc server: %w", n.grpc.err)
	}
	return nil
}

// shutdownGRPC lets the gRPC calls in flight finish until ctx ends.
func (n *node) shutdownGRPC(ctx context.Context) error {
	if n.grpc == nil {
		return nil
	}
	return n.grpc.srv.Shutdown(ctx)
}
