package main

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taominer/taominer/api/guard"
)

// guards are what the node's public ports share: their limits, the body
// budget and the refusal metrics (api/guard).
type guards struct {
	limits guard.Limits
	budget *guard.Budget
	met    *guard.Metrics
	n      *node
}

// setupGuards builds the ports' guards from the config, registers their
// metrics with reg, and adds the budget's memory-return loop to the node.
func (n *node) setupGuards(reg prometheus.Registerer) error {
	cfg := n.cfg
	trusted, err := guard.ParsePrefixes(cfg.TrustedNetworks)
	if err != nil {
		return fmt.Errorf("--trusted-network: %w", err)
	}
	if len(trusted) == 0 {
		trusted = nil // loopback
	}
	limit, source := cfg.MaxInflightBodyBytes, "--max-inflight-body-bytes"
	if limit == 0 {
		limit, source = guard.AutoLimit(cfg.MaxBodyBytes)
	}
	budget := guard.NewBudget(limit)
	met, err := guard.NewMetrics(reg, budget, n.log.With("component", "guard"))
	if err != nil {
		return err
	}
	g := &guards{budget: budget, met: met, n: n, limits: guard.Limits{
		MaxConns:      cfg.MaxConnections,
		MaxConnsPerIP: cfg.MaxConnectionsPerIP,
		Trusted:       trusted,
		MaxBodyBytes:  cfg.MaxBodyBytes,
		BodyTimeout:   cfg.BodyReadTimeout,
		WriteTimeout:  cfg.WriteTimeout,
		IdleTimeout:   cfg.IdleTimeout,
	}}
	n.guards = g
	n.loops = append(n.loops, budget.Run)
	lim := g.limits.WithDefaults()
	n.log.Info("public port limits", "max_connections", lim.MaxConns, "max_connections_per_ip", lim.MaxConnsPerIP,
		"trusted_networks", fmt.Sprint(lim.Trusted), "max_body_bytes", lim.MaxBodyBytes,
		"max_inflight_body_bytes", limit, "budget_from", source, "header_timeout", lim.HeaderTimeout,
		"body_read_timeout", lim.BodyTimeout, "write_timeout", lim.WriteTimeout, "idle_timeout", lim.IdleTimeout)
	return nil
}

// port returns the guard of the port called name ("http", "axon").
func (g *guards) port(name string) *guard.Port {
	return guard.NewPort(name, g.limits, g.budget, g.met, g.n.log.With("port", name))
}
