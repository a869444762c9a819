package yuma

// mockEpoch is epoch_mock of the rao development runtimes (Rules.MockEpoch; subtensor 4cff425a4
// … 22bbb5c32, among them the raonet spec-218 wasm): the normalized stake is the only term,
// Emission = StakeWeight·RaoEmission goes to validators (no server part), Active and every
// ValidatorPermit are true, Rank, Trust, Consensus, Incentive, Dividends and ValidatorTrust are
// 0 and Bonds are not written.
func mockEpoch(in *Input, p *Params) *Result {
	n := int(in.N)
	stake := stakeVector(in, p)
	r := &Result{
		Active: make([]bool, n), NewValidatorPermit: make([]bool, n),
		StakeWeight: toU16s(stake),
		Consensus:   make([]uint16, n), Incentive: make([]uint16, n), Dividends: make([]uint16, n),
		ValidatorTrust: make([]uint16, n), Rank: make([]uint16, n), Trust: make([]uint16, n),
		ServerEmission: make([]uint64, n), ValidatorEmission: make([]uint64, n), Emission: make([]uint64, n),
		Bonds: make([][]Entry, n),
		Stake: stake, ActiveStake: stake,
		ConsensusF: make([]I32F32, n), IncentiveF: make([]I32F32, n), DividendsF: make([]I32F32, n),
		ValidatorTrustF: make([]I32F32, n),
		Weights:         make(Sparse, n), Clipped: make(Sparse, n),
	}
	for i := range n {
		r.Active[i], r.NewValidatorPermit[i] = true, true
		r.Emission[i] = MulRao(stake[i], in.RaoEmission)
		r.ValidatorEmission[i] = r.Emission[i]
	}
	return r
}
