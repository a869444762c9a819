package main

import (
	"context"
	"fmt"
	"io"

	"github.com/taominer/taominer/chain/client"
	"github.com/taominer/taominer/chain/metagraph"
	"github.com/taominer/taominer/chain/yuma"
)

// maxWeighers bounds the validators listed in a projection.
const maxWeighers = 16

// projectionStatus is what the hotkey would get if the subnet's epoch ran at the snapshot's block,
// shared by GET /v1/chain and `miner status`.
type projectionStatus struct {
	Block     uint64  `json:"block"`
	Incentive float64 `json:"incentive"`
	Consensus float64 `json:"consensus"`
	Dividends float64 `json:"dividends"`
	// EmissionAlpha is the hotkey's part of BasisAlpha, the alpha the last epoch distributed (the
	// sum of the metagraph's emissions), taken as what the next one distributes.
	EmissionAlpha float64 `json:"emission_alpha"`
	BasisAlpha    float64 `json:"basis_alpha"`
	// Weighers are the validators whose weight on the hotkey counts, largest share of its rank
	// first (at most 16).
	Weighers []projectionWeigher `json:"weighers"`
	// Assumptions names what the projection does not read from the chain.
	Assumptions string `json:"assumptions"`
}

type projectionWeigher struct {
	UID       uint16  `json:"uid"`
	Hotkey    string  `json:"hotkey"`
	Stake     float64 `json:"stake"`
	Weight    float64 `json:"weight"`
	Clipped   float64 `json:"clipped"`
	RankShare float64 `json:"rank_share"`
}

const projectionAssumptions = "subtensor default hyperparameters (kappa 0.5, Yuma 3, liquid alpha off), alpha stake only, emission as last epoch's"

// project reads the subnet's Weights and Bonds at the snapshot's block and runs the Yuma epoch
// (chain/yuma.Project) for uid.
func project(ctx context.Context, c *client.Client, s *metagraph.Snapshot, uid uint16) (*projectionStatus, error) {
	at := s.BlockHash
	st, err := yuma.ReadState(ctx, c, s.NetUID, uint16(len(s.Neurons)), &at)
	if err != nil {
		return nil, fmt.Errorf("projection: %w", err)
	}
	var basis uint64
	for _, nr := range s.Neurons {
		basis += nr.Emission
	}
	pr, err := yuma.Project(s, uid, st, yuma.DefaultParams(), yuma.ProjectOptions{RaoEmission: basis})
	if err != nil {
		return nil, fmt.Errorf("projection: %w", err)
	}
	out := &projectionStatus{Block: s.Block, Incentive: pr.Incentive, Consensus: pr.Consensus, Dividends: pr.Dividends,
		EmissionAlpha: float64(pr.Emission) / raoPerTAO, BasisAlpha: float64(basis) / raoPerTAO,
		Weighers: []projectionWeigher{}, Assumptions: projectionAssumptions}
	for _, w := range pr.Weighers[:min(len(pr.Weighers), maxWeighers)] {
		out.Weighers = append(out.Weighers, projectionWeigher{UID: w.UID, Hotkey: w.Hotkey, Stake: w.Stake,
			Weight: w.Weight, Clipped: w.Clipped, RankShare: w.RankShare})
	}
	return out, nil
}

// printProjection writes the projection lines of `miner status`.
func printProjection(w io.Writer, p *projectionStatus, errText string) {
	if p == nil {
		if errText != "" {
			fmt.Fprintf(w, "projected   unavailable: %s\n", errText)
		}
		return
	}
	fmt.Fprintf(w, "projected   incentive %.6f, consensus %.6f, emission %.9f α if the epoch ran at block %d\n",
		p.Incentive, p.Consensus, p.EmissionAlpha, p.Block)
	if len(p.Weighers) == 0 {
		fmt.Fprintln(w, "            no validator weighs this hotkey")
		return
	}
	fmt.Fprintf(w, "            %5s  %8s  %8s  %8s  %10s  %s\n", "uid", "stake", "weight", "clipped", "rank share", "validator")
	for _, v := range p.Weighers {
		fmt.Fprintf(w, "            %5d  %8.4f  %8.4f  %8.4f  %10.4f  %s\n", v.UID, v.Stake, v.Weight, v.Clipped, v.RankShare, v.Hotkey)
	}
}
