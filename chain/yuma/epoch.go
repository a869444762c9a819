package yuma

import (
	"errors"
	"fmt"
	"math"
	"math/big"
)

// ErrInput reports epoch inputs whose vectors disagree in length with N.
var ErrInput = errors.New("yuma: inconsistent epoch input")

// Params are a subnet's hyperparameters as stored on chain (raw integers).
type Params struct {
	// Kappa is the consensus majority (u16; κ = Kappa/65535). Chain default 32_767.
	Kappa uint16
	// BondsPenalty (u16; β = BondsPenalty/65535) interpolates bond weights between W and W̄.
	BondsPenalty uint16
	// BondsMovingAverage in millionths; α = 1 − BMA/1e6. Chain default 900_000.
	BondsMovingAverage uint64
	// MaxAllowedValidators is k in the top-k validator permit election.
	MaxAllowedValidators uint16
	// Tempo is the epoch length in blocks.
	Tempo uint64
	// ActivityCutoff is the cutoff in blocks (at spec ≥ 423: max(1, factor·tempo/1000), see
	// ActivityCutoffBlocks).
	ActivityCutoff uint64
	// StakeThreshold is the minimum stake (rao) a non-owner needs for its stake to count.
	StakeThreshold uint64
	// OwnerUID is the subnet owner hotkey's uid, or −1 when there is none.
	OwnerUID int
	// Yuma3 selects Yuma 3 bonds (Yuma3On); false is the original bonds_moving_average EMA.
	Yuma3 bool
	// LiquidAlpha enables per-bond alphas (LiquidAlphaOn), Yuma 3 only.
	LiquidAlpha bool
	// AlphaLow and AlphaHigh are AlphaValues (u16 proportions of 65535).
	AlphaLow, AlphaHigh uint16
	// AlphaSigmoidSteepness (AlphaSigmoidSteepness, default 1000).
	AlphaSigmoidSteepness int16
	// Rules select the epoch behaviour of older runtimes; the zero value is subtensor HEAD.
	Rules Rules
}

// ActivityCutoffBlocks is the spec ≥ 423 activity cutoff: max(1, factorMilli·tempo/1000).
func ActivityCutoffBlocks(factorMilli uint32, tempo uint64) uint64 {
	return max(1, uint64(factorMilli)*tempo/1000)
}

// Entry is one stored (uid, u16) pair of a Weights or Bonds row.
type Entry struct {
	UID   uint16
	Value uint16
}

// Input is the on-chain state one epoch reads. Every per-uid slice has length N.
type Input struct {
	N uint16
	// CurrentBlock is the block the epoch runs in.
	CurrentBlock uint64
	// LastMechanismStepBlock is LastMechansimStepBlock (0 when epochs were never stepped).
	LastMechanismStepBlock uint64
	LastUpdate             []uint64
	BlockAtRegistration    []uint64
	// AlphaStake is each hotkey's inherited alpha on the subnet (rao).
	AlphaStake []uint64
	// TaoStake is each hotkey's inherited root TAO (rao); nil means all zero.
	TaoStake []uint64
	// TaoWeight is the raw TaoWeight storage value (a proportion of 2^64−1).
	TaoWeight uint64
	// ValidatorPermit is the permit vector of the previous epoch.
	ValidatorPermit []bool
	// Weights and Bonds are the stored rows, indexed by uid (missing rows are empty).
	Weights [][]Entry
	Bonds   [][]Entry
	// CommitBlocks, when non-nil (commit-reveal on), is each uid's earliest live commit block
	// (math.MaxUint64 for none); weights are dropped where it is < BlockAtRegistration[j].
	CommitBlocks []uint64
	// RaoEmission is the alpha (rao) distributed by this epoch.
	RaoEmission uint64
	// Hotkeys are the uids' hotkeys (Keys; nil where absent). The epoch does not read them.
	Hotkeys []*[32]byte
}

// Result is what the epoch persists, plus the fixed-point terms behind it.
type Result struct {
	Active             []bool
	NewValidatorPermit []bool
	// u16 proportions as stored (floor(x·65535)).
	StakeWeight, Consensus, Incentive, Dividends, ValidatorTrust []uint16
	// Emissions in rao: the server (incentive) and validator (dividend) parts and the combined
	// value stored in Emission.
	ServerEmission, ValidatorEmission, Emission []uint64
	// Rank (normalized ranks, equal to Incentive) and Trust (ranks after clipping over ranks
	// before, vecdiv) as runtimes before spec 331 stored them.
	Rank, Trust []uint16
	// Bonds is the Bonds storage after the epoch: the new rows of validators holding a new
	// permit; every other row is written empty (persist_mechanism_epoch_terms), except under
	// Rules.BondsPermitRowsOnly, where rows of neurons that had no permit either are nil (not
	// written: the stored row stays) — and under Rules.MockEpoch, where every row is nil.
	Bonds [][]Entry
	// Fixed-point intermediate terms.
	Stake, ActiveStake, ConsensusF, IncentiveF, DividendsF, ValidatorTrustF []I32F32
	// Weights is the masked, row-normalized weight matrix and Clipped its clip at consensus.
	Weights, Clipped Sparse
}

func (in *Input) validate() error {
	n := int(in.N)
	check := func(name string, l int, optional bool) error {
		if optional && l == 0 {
			return nil
		}
		if l != n {
			return fmt.Errorf("%w: %s has %d entries, want %d", ErrInput, name, l, n)
		}
		return nil
	}
	return errors.Join(
		check("LastUpdate", len(in.LastUpdate), false),
		check("BlockAtRegistration", len(in.BlockAtRegistration), false),
		check("AlphaStake", len(in.AlphaStake), false),
		check("TaoStake", len(in.TaoStake), true),
		check("ValidatorPermit", len(in.ValidatorPermit), false),
		check("CommitBlocks", len(in.CommitBlocks), true),
	)
}

// stakeVector computes total_stake = alpha + tao·TaoWeight (I64F64), zeroes non-owner stakes
// below the threshold, normalizes and casts to I32F32.
func stakeVector(in *Input, p *Params) []I32F32 {
	n := int(in.N)
	// tao_weight = U96F32(TaoWeight) / U96F32(u64::MAX) (32 fractional bits, truncated), then
	// widened to I64F64.
	twBits := new(big.Int).Lsh(new(big.Int).SetUint64(in.TaoWeight), 32)
	twBits.Quo(twBits, new(big.Int).SetUint64(math.MaxUint64))
	tw := I64F64FromBits(twBits.Lsh(twBits, 32))
	total := make([]*I64F64, n)
	sum := new(I64F64)
	for i := range total {
		t := I64F64FromU64(in.AlphaStake[i])
		if len(in.TaoStake) == n && in.TaoStake[i] != 0 {
			t = t.Add(I64F64FromU64(in.TaoStake[i]).Mul(tw))
		}
		exempt := i == p.OwnerUID && !p.Rules.NoOwnerValidator
		if !p.Rules.NoStakeThreshold && !exempt && t.ToU64() < p.StakeThreshold {
			t = new(I64F64)
		}
		total[i] = t
		sum = sum.Add(t)
	}
	out := make([]I32F32, n)
	for i, t := range total {
		if !sum.IsZero() {
			t = t.Div(sum)
		}
		out[i] = t.ToI32F32()
	}
	return out
}

func toSparse(rows [][]Entry, n int, raw bool, filterCols bool) Sparse {
	m := make(Sparse, n)
	for i := 0; i < n && i < len(rows); i++ {
		for _, e := range rows[i] {
			if filterCols && int(e.UID) >= n {
				continue
			}
			v := U16ToFixed(e.Value)
			if !raw {
				v = U16ProportionToFixed(e.Value)
			}
			m[i] = append(m[i], Cell{e.UID, v})
		}
	}
	return m
}

// Epoch runs one Yuma consensus epoch exactly as subtensor's sparse epoch_mechanism does.
func Epoch(in Input, p Params) (*Result, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	n := int(in.N)
	if p.Rules.MockEpoch {
		return mockEpoch(&in, &p), nil
	}
	r := &Result{}
	owner := -1 // the owner uid where the runtime's rules know one
	if p.OwnerUID >= 0 && p.OwnerUID < n && !p.Rules.NoOwnerValidator {
		owner = p.OwnerUID
	}
	selfWeightOwner := -1
	if !p.Rules.NoOwnerSelfWeight {
		selfWeightOwner = p.OwnerUID
	}

	// Active.
	r.Active = make([]bool, n)
	inactive := make([]bool, n)
	for i, u := range in.LastUpdate {
		inactive[i] = satAdd(u, p.ActivityCutoff) < in.CurrentBlock
		r.Active[i] = !inactive[i]
	}

	// Stake and permits.
	stake := stakeVector(&in, &p)
	permits := append([]bool(nil), in.ValidatorPermit...)
	if owner >= 0 {
		permits[owner] = true
	}
	forbids := make([]bool, n)
	for i, ok := range permits {
		forbids[i] = !ok
	}
	if p.Rules.TopKWithZeros {
		r.NewValidatorPermit = IsTopK(stake, int(p.MaxAllowedValidators))
	} else {
		r.NewValidatorPermit = IsTopKNonzero(stake, int(p.MaxAllowedValidators))
	}
	if owner >= 0 {
		r.NewValidatorPermit[owner] = true
	}

	active := append([]I32F32(nil), stake...)
	maskVector(inactive, active)
	maskVector(forbids, active)
	Normalize(active)

	// Weights.
	w := toSparse(in.Weights, n, true, true)
	w = maskRows(forbids, w)
	w = maskDiag(w, selfWeightOwner)
	w = maskByRowCol(w, in.LastUpdate, in.BlockAtRegistration, func(upd, reg uint64) bool { return upd <= reg })
	if in.CommitBlocks != nil {
		w = maskByRowCol(w, in.CommitBlocks, in.BlockAtRegistration, func(cb, reg uint64) bool { return cb < reg })
	}
	rowNormalize(w)

	// Consensus, clipping, validator trust, incentive.
	kappa := FromU64(uint64(p.Kappa)).Div(maxU16)
	preranks := matmul(w, active, n)
	consensus := WeightedMedianColSparse(active, w, n, kappa)
	clipped := colClip(w, consensus)
	vtrust := rowSum(clipped)
	incentive := matmul(clipped, active, n)
	trust := vecDiv(incentive, preranks)
	Normalize(incentive)

	// Bonds and dividends.
	wb := clipped
	if !p.Rules.ClippedBonds {
		beta := FromU64(uint64(p.BondsPenalty)).Div(maxU16)
		wb = interpolate(w, clipped, n, beta)
	}
	lastTempo := satSub(in.CurrentBlock, p.Tempo)
	if in.LastMechanismStepBlock != 0 && !p.Rules.LastTempoByTempo {
		lastTempo = satAdd(in.LastMechanismStepBlock, 1)
	}
	var dividends []I32F32
	var ema Sparse
	yuma3 := p.Yuma3 && !p.Rules.OriginalYumaOnly
	if p.LiquidAlpha && p.Rules.OriginalYumaOnly && !allZero(consensus) {
		return nil, fmt.Errorf("%w: liquid alpha of spec %d (consensus-quantile logistic alphas)", ErrUnsupported, p.Rules.SpecVersion)
	}
	if yuma3 {
		ema, dividends = bondsYuma3(&in, &p, wb, consensus, incentive, active, lastTempo)
	} else {
		ema, dividends = bondsOriginal(&in, &p, wb, incentive, active, lastTempo)
	}

	// Emission.
	combined := make([]I32F32, n)
	for i := range combined {
		combined[i] = incentive[i].Add(dividends[i])
	}
	esum := Sum(combined)
	server := append([]I32F32(nil), incentive...)
	validator := append([]I32F32(nil), dividends...)
	NormalizeUsingSum(server, esum)
	NormalizeUsingSum(validator, esum)
	Normalize(combined)
	if esum == 0 {
		src := active
		if isZero(active) {
			src = stake
		}
		validator = append([]I32F32(nil), src...)
		combined = append([]I32F32(nil), src...)
	}
	r.ServerEmission = make([]uint64, n)
	r.ValidatorEmission = make([]uint64, n)
	r.Emission = make([]uint64, n)
	for i := 0; i < n; i++ {
		r.ServerEmission[i] = MulRao(server[i], in.RaoEmission)
		r.ValidatorEmission[i] = MulRao(validator[i], in.RaoEmission)
		r.Emission[i] = MulRao(combined[i], in.RaoEmission)
	}

	r.StakeWeight = toU16s(stake)
	r.Consensus = toU16s(consensus)
	r.Incentive = toU16s(incentive)
	r.Dividends = toU16s(dividends)
	r.ValidatorTrust = toU16s(vtrust)
	r.Rank = r.Incentive
	r.Trust = toU16s(trust)
	r.Bonds = make([][]Entry, n)
	for i := 0; i < n; i++ {
		switch {
		case r.NewValidatorPermit[i]:
			row := make([]Entry, 0, len(ema[i]))
			for _, c := range ema[i] {
				row = append(row, Entry{c.Col, ProportionToU16(c.Val)})
			}
			r.Bonds[i] = row
		case p.Rules.BondsPermitRowsOnly && !permits[i]:
			// Not written: the stored row stays.
		default:
			// Rows of validators that lost (or never had) a permit are written empty.
			r.Bonds[i] = []Entry{}
		}
	}
	r.Stake, r.ActiveStake, r.ConsensusF, r.IncentiveF, r.DividendsF, r.ValidatorTrustF =
		stake, active, consensus, incentive, dividends, vtrust
	r.Weights, r.Clipped = w, clipped
	return r, nil
}

func toU16s(x []I32F32) []uint16 {
	out := make([]uint16, len(x))
	for i, v := range x {
		out[i] = ProportionToU16(v)
	}
	return out
}

func satAdd(a, b uint64) uint64 {
	if a+b < a {
		return ^uint64(0)
	}
	return a + b
}

func satSub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}
