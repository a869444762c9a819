package main

import (
	"context"
	"fmt"
	"github.com/taominer/taominer/api"
	"io"

	"github.com/taominer/taominer/chain/client"
	"github.com/taominer/taominer/chain/metagraph"
	"github.com/taominer/taominer/chain/yuma"
)

// maxWeighers bounds the validators listed in a projection.
const maxWeighers = 16

const projectionAssumptions = "hyperparameters, epoch rules of the runtime's spec, alpha and root stake with childkey inheritance, " +
	"permits, weights and bonds read at the block; emission as the last epoch's; not modelled: commit-reveal commits (weights are used as stored)"

// project reads at the snapshot's block what the subnet's epoch would read in the next block —
// the runtime's hyperparameters and epoch rules, stakes, weights, bonds and pending emission
// (chain/yuma.ReadEpoch) — and runs the Yuma epoch for uid (chain/yuma.Project).
func project(ctx context.Context, c *client.Client, s *metagraph.Snapshot, uid uint16) (*api.Projection, error) {
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
		EmissionAlpha: float64(pr.Emission) / raoPerTAO, BasisAlpha: float64(in.RaoEmission) / raoPerTAO,
		PendingAlpha: float64(pending) / raoPerTAO,
		SpecVersion:  p.Rules.SpecVersion, Weighers: []api.ProjectionWeigher{}, Assumptions: projectionAssumptions}
	for _, w := range pr.Weighers[:min(len(pr.Weighers), maxWeighers)] {
		out.Weighers = append(out.Weighers, api.ProjectionWeigher{UID: w.UID, Hotkey: w.Hotkey, Stake: w.Stake,
			Weight: w.Weight, Clipped: w.Clipped, RankShare: w.RankShare})
	}
	return out, nil
}

// printProjection writes the projection lines of `miner status`.
func printProjection(w io.Writer, p *api.Projection, errText string) {
	if p == nil {
		if errText != "" {
			fmt.Fprintf(w, "projected   unavailable: %s\n", errText)
		}
		return
	}
	fmt.Fprintf(w, "projected   incentive %.6f, consensus %.6f, emission %.9f α if the epoch ran after block %d\n",
		p.Incentive, p.Consensus, p.EmissionAlpha, p.Block)
	fmt.Fprintf(w, "            (share of %.9f α, what the last epoch paid; pending now %.9f α; spec %d rules)\n",
		p.BasisAlpha, p.PendingAlpha, p.SpecVersion)
	if len(p.Weighers) == 0 {
		fmt.Fprintln(w, "            no validator weighs this hotkey")
		return
	}
	fmt.Fprintf(w, "            %5s  %8s  %8s  %8s  %10s  %s\n", "uid", "stake", "weight", "clipped", "rank share", "validator")
	for _, v := range p.Weighers {
		fmt.Fprintf(w, "            %5d  %8.4f  %8.4f  %8.4f  %10.4f  %s\n", v.UID, v.Stake, v.Weight, v.Clipped, v.RankShare, v.Hotkey)
	}
}
