package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/server"
	"github.com/taominer/taominer/miner/internal/chainnode"
)

// chainNode is serve's chain node (miner/internal/chainnode) as the node's wiring holds it.
type chainNode struct{ *chainnode.Node }

// attachChain is serve's chain wiring: offline without --network (said once, and it returns
// nil); otherwise it starts the chain node and adds its loop, closer, /v1/chain source and gauges
// to the node. The returned node's Snapshot is the metagraph for whoever needs stakes and permits
// (the axon).
func (n *node) attachChain(ctx context.Context, reg prometheus.Registerer, opts *server.Options) (*chainNode, error) {
	if n.cfg.Network == "" && n.cfg.CommitEndpoint != "" {
		return nil, errors.New("--commit-endpoint needs --network (and --netuid, --wallet): the commitment is published on chain")
	}
	if n.cfg.Network == "" {
		n.log.Info("offline: no --network given; serving without the chain (no registration check, no axon publishing, no metagraph)")
		return nil, nil
	}
	if n.cfg.Wallet == "" {
		return nil, errors.New("--network needs --wallet (and --hotkey): the hotkey registered on the subnet")
	}
	hot, err := loadServeHotkey(n.cfg)
	if err != nil {
		return nil, err
	}
	cn, err := chainnode.Start(ctx, n.cfg, hot, n.log, n.chainOpts)
	if err != nil {
		return nil, fmt.Errorf("chain: %w", err)
	}
	for _, c := range cn.Collectors() {
		if err := reg.Register(c); err != nil {
			cn.Close()
			return nil, fmt.Errorf("register chain metrics: %w", err)
		}
	}
	opts.Chain = cn
	n.loops = append(n.loops, cn.Run)
	n.closers = append(n.closers, cn.Close)
	return &chainNode{cn}, nil
}

// AxonStatus reports the axon's recent callers (server.AxonSource).
func (a *axonNode) AxonStatus(context.Context) (*api.AxonReport, error) {
	return &api.AxonReport{Hotkey: a.ax.Hotkey(), Addr: a.port.Addr(), Validators: a.ax.Validators()}, nil
}

// wireValidators shows the axon's recent callers, when it runs, in GET /v1/axon and in the
// validators section of GET /v1/chain (cn nil: offline). Call it after startAxon, before the HTTP
// server is built.
func (n *node) wireValidators(opts *server.Options, cn *chainNode) {
	if n.axon == nil {
		return
	}
	opts.Axon = n.axon
	if cn != nil {
		cn.SetValidators(n.axon.ax)
	}
}
