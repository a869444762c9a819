package yuma

import (
	"errors"
	"fmt"
	"sort"

	"github.com/taominer/taominer/chain/ss58"
)

// ErrUnknownUID reports a projection for a uid the snapshot does not have.
var ErrUnknownUID = errors.New("yuma: uid not in metagraph")

// DefaultParams are subtensor's defaults for a new subnet (HEAD): Kappa 32_767,
// BondsPenalty 65_535, BondsMovingAverage 900_000, MaxAllowedValidators 128, AlphaValues
// (45_875, 58_982), steepness 1000, Yuma 3 on (init_new_network), liquid alpha off, HEAD rules.
// Tempo and ActivityCutoff are left 0.
func DefaultParams() Params {
	return Params{
		Kappa: 32_767, BondsPenalty: 65_535, BondsMovingAverage: 900_000,
		MaxAllowedValidators: 128, OwnerUID: -1, Yuma3: true,
		AlphaLow: 45_875, AlphaHigh: 58_982, AlphaSigmoidSteepness: 1000,
	}
}

// Weigher is one validator whose weight on the projected uid survives masking.
type Weigher struct {
	UID    uint16
	Hotkey string
	// Stake is the validator's share of active stake this epoch (A_i).
	Stake float64
	// Weight is its row-normalized weight on the uid, Clipped the same after clipping at
	// consensus.
	Weight, Clipped float64
	// RankShare is its part of the uid's rank: A_i·W̄_ij / Σ_i A_i·W̄_ij.
	RankShare float64
}

// Projection is what one uid would receive if the epoch ran now.
type Projection struct {
	UID uint16
	// Ratios of 65535 as the chain would store them.
	Incentive, Dividends, Consensus float64
	// Rao amounts of RaoEmission.
	ServerEmission, ValidatorEmission, Emission uint64
	// Weighers are sorted by RankShare, then Weight, descending.
	Weighers []Weigher
	// Result is the whole epoch.
	Result *Result
}

// Project runs the epoch on in and p (as ReadEpoch reads them) and reports uid's outcome and
// the validators whose weight on it survives masking. Weigher.Hotkey is the SS58 address of
// in.Hotkeys (empty where nil).
func Project(in Input, p Params, uid uint16) (*Projection, error) {
	if uid >= in.N {
		return nil, fmt.Errorf("%w: %d of %d", ErrUnknownUID, uid, in.N)
	}
	r, err := Epoch(in, p)
	if err != nil {
		return nil, fmt.Errorf("project uid %d: %w", uid, err)
	}
	hotkey := func(i int) string {
		if i < len(in.Hotkeys) && in.Hotkeys[i] != nil {
			return ss58.EncodeBittensor(*in.Hotkeys[i])
		}
		return ""
	}
	pr := &Projection{
		UID:       uid,
		Incentive: float64(r.Incentive[uid]) / 65535, Dividends: float64(r.Dividends[uid]) / 65535,
		Consensus:      float64(r.Consensus[uid]) / 65535,
		ServerEmission: r.ServerEmission[uid], ValidatorEmission: r.ValidatorEmission[uid], Emission: r.Emission[uid],
		Result: r,
	}
	rank := make(map[int]I32F32)
	var total I32F32
	for i, row := range r.Clipped {
		for _, c := range row {
			if c.Col == uid {
				x := r.ActiveStake[i].Mul(c.Val)
				rank[i] = x
				total = total.Add(x)
			}
		}
	}
	for i, row := range r.Weights {
		for _, c := range row {
			if c.Col != uid || c.Val == 0 {
				continue
			}
			w := Weigher{UID: uint16(i), Hotkey: hotkey(i), Stake: r.ActiveStake[i].Float64(), Weight: c.Val.Float64()}
			for _, cc := range r.Clipped[i] {
				if cc.Col == uid {
					w.Clipped = cc.Val.Float64()
				}
			}
			if total > 0 {
				w.RankShare = rank[i].Div(total).Float64()
			}
			pr.Weighers = append(pr.Weighers, w)
		}
	}
	sort.SliceStable(pr.Weighers, func(a, b int) bool {
		wa, wb := pr.Weighers[a], pr.Weighers[b]
		if wa.RankShare != wb.RankShare {
			return wa.RankShare > wb.RankShare
		}
		return wa.Weight > wb.Weight
	})
	return pr, nil
}
