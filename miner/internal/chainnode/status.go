package chainnode

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/chain/client"
	"github.com/taominer/taominer/chain/metagraph"
	"github.com/taominer/taominer/chain/yuma"
)

// DescribeNeuron computes a neuron's figures from a snapshot (GET /v1/chain, miner status).
func DescribeNeuron(s *metagraph.Snapshot, nr *metagraph.Neuron) *api.NeuronStatus {
	rank, miners := s.MinerRank(nr.UID)
	perTempo := float64(nr.Emission) / RaoPerTAO
	out := &api.NeuronStatus{
		UID: nr.UID, StakeAlpha: float64(nr.Stake) / RaoPerTAO, Incentive: nr.Incentive, Dividends: nr.Dividends,
		ValidatorPermit: nr.ValidatorPermit, Active: nr.Active,
		EmissionAlphaTempo: perTempo, EmissionAlphaDay: perTempo * s.EpochsPerDay(),
		Rank: rank, Miners: miners, LastUpdate: nr.LastUpdate,
	}
	if s.PriceKnown {
		tao := out.EmissionAlphaDay * s.MovingPrice
		out.EmissionTAODay = &tao
	}
	return out
}

// ChainStatus reports the node's chain state (server.ChainSource).
func (n *Node) ChainStatus(context.Context) (*api.ChainStatus, error) {
	n.mu.Lock()
	st := api.ChainStatus{
		Network: n.network, Endpoint: n.endpoint, Netuid: n.netuid, Hotkey: n.hotSS58, Registered: n.uid >= 0,
		Axon:   api.AxonPublication{Ours: n.wantAddr, Version: n.want.Version, OnChain: AxonAddr(n.onChain), OnChainBlock: n.onChain.Block, Published: n.published},
		Errors: map[string]api.StatusError{},
	}
	if n.uid >= 0 {
		uid := n.uid
		st.UID = &uid
	}
	if n.lastServeErr != "" {
		st.Errors["axon"] = api.StatusError{Error: n.lastServeErr, At: n.lastServeAt}
	}
	st.Projection = n.projection
	if n.projectErr != "" {
		st.Errors["projection"] = api.StatusError{Error: n.projectErr, At: n.projectAt}
	}
	n.mu.Unlock()
	if at, err := n.syncer.LastError(); err != nil {
		st.Errors["metagraph"] = api.StatusError{Error: err.Error(), At: at}
	}
	if n.ax != nil {
		v := n.ax.Validators()
		st.Validators = &v
	}
	if n.commit != nil {
		cs := n.commit.Status()
		st.Commitment = &api.CommitmentStatus{Ours: cs.Ours, OnChain: cs.OnChain, OnChainBlock: cs.OnChainBlock,
			Published: cs.Published, Error: cs.Error, ErrorAt: cs.ErrorAt}
	}
	if s := n.Snapshot(); s != nil {
		st.Metagraph = &api.MetagraphInfo{Block: s.Block, SyncedAt: s.SyncedAt, Source: s.Source, Neurons: len(s.Neurons), Tempo: s.Tempo}
		if s.PriceKnown {
			p := s.MovingPrice
			st.Metagraph.MovingPrice = &p
		}
		if nr, ok := s.ByHotkey(n.hotSS58); ok {
			st.Neuron = DescribeNeuron(s, nr)
		}
	}
	return &st, nil
}

// Collectors are the taominer_chain_* gauges, read from the current state at each scrape.
func (n *Node) Collectors() []prometheus.Collector {
	labels := prometheus.Labels{"network": n.network, "netuid": fmt.Sprint(n.netuid)}
	mine := func(f func(*metagraph.Snapshot, *metagraph.Neuron) float64) func() float64 {
		return func() float64 {
			s := n.Snapshot()
			if nr, ok := s.ByHotkey(n.hotSS58); ok {
				return f(s, nr)
			}
			return 0
		}
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "taominer_chain_" + name, Help: help, ConstLabels: labels}, f)
	}
	return []prometheus.Collector{
		gauge("uid", "UID of the hotkey on the subnet; -1 when not registered.", func() float64 {
			n.mu.Lock()
			defer n.mu.Unlock()
			return float64(n.uid)
		}),
		gauge("registered", "1 when the hotkey is registered on the subnet.", func() float64 {
			n.mu.Lock()
			defer n.mu.Unlock()
			return b2f(n.uid >= 0)
		}),
		gauge("stake_alpha", "Alpha staked on the hotkey on the subnet (TotalHotkeyAlpha), in alpha.",
			mine(func(_ *metagraph.Snapshot, nr *metagraph.Neuron) float64 { return float64(nr.Stake) / RaoPerTAO })),
		gauge("incentive", "The hotkey's incentive on the subnet, 0 to 1.",
			mine(func(_ *metagraph.Snapshot, nr *metagraph.Neuron) float64 { return nr.Incentive })),
		gauge("emission_alpha", "Alpha the hotkey earned in the subnet's last epoch (per tempo).",
			mine(func(_ *metagraph.Snapshot, nr *metagraph.Neuron) float64 { return float64(nr.Emission) / RaoPerTAO })),
		gauge("projected_incentive", "The hotkey's incentive if the epoch ran at the last metagraph sync (Yuma run locally), 0 to 1.",
			n.projected(func(p *api.Projection) float64 { return p.Incentive })),
		gauge("projected_emission_alpha", "Alpha the hotkey would earn if the epoch ran at the last metagraph sync (Yuma run locally).",
			n.projected(func(p *api.Projection) float64 { return p.EmissionAlpha })),
		gauge("last_sync_block", "Block of the latest metagraph sync; 0 before the first.", func() float64 {
			if s := n.Snapshot(); s != nil {
				return float64(s.Block)
			}
			return 0
		}),
		gauge("axon_published", "1 when the chain's axon equals this node's address, port and version.", func() float64 {
			n.mu.Lock()
			defer n.mu.Unlock()
			return b2f(n.published)
		}),
		gauge("commitment_published", "1 when the chain's commitment of the hotkey is --commit-endpoint (0 without it).", func() float64 {
			return b2f(n.commit != nil && n.commit.Published())
		}),
	}
}

// projected reads a figure of the latest projection (0 without one).
func (n *Node) projected(f func(*api.Projection) float64) func() float64 {
	return func() float64 {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.projection == nil {
			return 0
		}
		return f(n.projection)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// MaxWeighers bounds the validators listed in a projection.
const MaxWeighers = 16

const projectionAssumptions = "hyperparameters, epoch rules of the runtime's spec, alpha and root stake with childkey inheritance, " +
	"permits, weights and bonds read at the block; emission as the last epoch's; not modelled: commit-reveal commits (weights are used as stored)"

// Project reads at the snapshot's block what the subnet's epoch would read in the next block —
// the runtime's hyperparameters and epoch rules, stakes, weights, bonds and pending emission
// (chain/yuma.ReadEpoch) — and runs the Yuma epoch for uid (chain/yuma.Project).
func Project(ctx context.Context, c *client.Client, s *metagraph.Snapshot, uid uint16) (*api.Projection, error) {
	in, p, err := yuma.ReadEpoch(ctx, c, s.NetUID, s.BlockHash)
	if err != nil {
		return nil, fmt.Errorf("projection: %w", err)
	}
	pending := in.RaoEmission
	var last uint64
	for _, nr := range s.Neurons {
		last += nr.Emission
	}
	if last > 0 {
		in.RaoEmission = last
	}
	pr, err := yuma.Project(in, p, uid)
	if err != nil {
		return nil, fmt.Errorf("projection: %w", err)
	}
	out := &api.Projection{Block: s.Block, Incentive: pr.Incentive, Consensus: pr.Consensus, Dividends: pr.Dividends,
		EmissionAlpha: float64(pr.Emission) / RaoPerTAO, BasisAlpha: float64(in.RaoEmission) / RaoPerTAO,
		PendingAlpha: float64(pending) / RaoPerTAO,
		SpecVersion:  p.Rules.SpecVersion, Weighers: []api.ProjectionWeigher{}, Assumptions: projectionAssumptions}
	for _, w := range pr.Weighers[:min(len(pr.Weighers), MaxWeighers)] {
		out.Weighers = append(out.Weighers, api.ProjectionWeigher{UID: w.UID, Hotkey: w.Hotkey, Stake: w.Stake,
			Weight: w.Weight, Clipped: w.Clipped, RankShare: w.RankShare})
	}
	return out, nil
}
