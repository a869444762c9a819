package yuma

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// randomNet builds a subnet of v validators and m miners with random stakes and random weights
// from every validator to every miner; all neurons are active and permitted.
func randomNet(rng *rand.Rand, v, m int) (Input, Params) {
	n := v + m
	p := mockParams()
	p.MaxAllowedValidators = uint16(v)
	p.Tempo = 360
	p.ActivityCutoff = 5000
	in := Input{
		N: uint16(n), CurrentBlock: 1000,
		LastUpdate: make([]uint64, n), BlockAtRegistration: make([]uint64, n),
		AlphaStake: make([]uint64, n), ValidatorPermit: make([]bool, n),
		Weights: make([][]Entry, n), Bonds: make([][]Entry, n), RaoEmission: 1_000_000_000,
	}
	for i := range v {
		in.AlphaStake[i] = 1 + rng.Uint64N(1_000_000_000_000)
		in.ValidatorPermit[i] = true
		in.LastUpdate[i] = 999
		vals := make([]uint16, m)
		uids := make([]uint16, m)
		for j := range m {
			uids[j] = uint16(v + j)
			vals[j] = uint16(rng.UintN(65536))
		}
		up := U16MaxUpscaleToU16(vals)
		for j := range m {
			in.Weights[i] = append(in.Weights[i], Entry{uids[j], up[j]})
		}
	}
	return in, p
}

func mustEpoch(t *testing.T, in Input, p Params) *Result {
	t.Helper()
	r, err := Epoch(in, p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Incentive is normalized: the stored u16 values add up to 65535 minus at most one unit of
// flooring per neuron, and the fixed-point sum is within n ulps of 1.
func TestPropertyIncentiveSumsToOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		in, p := randomNet(rng, 1+rng.IntN(16), 1+rng.IntN(64))
		p.Yuma3 = rng.IntN(2) == 0
		p.LiquidAlpha = p.Yuma3
		r := mustEpoch(t, in, p)
		var sum int
		for _, x := range r.Incentive {
			sum += int(x)
		}
		n := int(in.N)
		if sum > 65535 || sum < 65535-n {
			t.Fatalf("Σ incentive = %d, want within [%d, 65535]", sum, 65535-n)
		}
		if d := One - Sum(r.IncentiveF); d < 0 || d > I32F32(n) {
			t.Fatalf("Σ incentive (fixed) = %s, off by %d ulps", Sum(r.IncentiveF), d)
		}
	}
}

// A validator with zero stake has no influence on consensus and incentive, whatever it sets.
// Under original Yuma its bonds (ΔB = W∘A) are zero too, so nothing changes at all; under
// Yuma 3 a zero-stake validator that still holds last epoch's permit gets bonds (Yuma 3 bonds
// are not stake-weighted) which dilute the column-normalized bonds for one epoch, exactly as on
// chain — so dividends are compared only when it holds no permit.
func TestPropertyZeroStakeNoInfluence(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for k := range 200 {
		in, p := randomNet(rng, 2+rng.IntN(8), 2+rng.IntN(32))
		p.Yuma3 = rng.IntN(2) == 0
		p.LiquidAlpha = p.Yuma3
		z := rng.IntN(int(p.MaxAllowedValidators))
		in.AlphaStake[z] = 0
		permitted := k%2 == 0
		in.ValidatorPermit[z] = permitted
		base := mustEpoch(t, in, p)
		in.Weights[z] = []Entry{{uint16(in.N - 1), 65535}} // all-in on the last miner
		got := mustEpoch(t, in, p)
		if !slices.Equal(base.Consensus, got.Consensus) || !slices.Equal(base.Incentive, got.Incentive) {
			t.Fatalf("zero-stake validator %d changed consensus or incentive:\nconsensus %v → %v\nincentive %v → %v",
				z, base.Consensus, got.Consensus, base.Incentive, got.Incentive)
		}
		if (!p.Yuma3 || !permitted) && (!slices.Equal(base.Dividends, got.Dividends) || !slices.Equal(base.Emission, got.Emission)) {
			t.Fatalf("zero-stake validator %d (yuma3 %v, permit %v) changed dividends or emission:\n%v → %v",
				z, p.Yuma3, permitted, base.Dividends, got.Dividends)
		}
	}
}

// Clipping: validators holding less than kappa of the stake cannot lift a miner's consensus
// weight above what the honest majority gives it, however much they weigh it.
func TestPropertyMinorityCannotLiftConsensus(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 200 {
		v, m := 3+rng.IntN(10), 2+rng.IntN(20)
		in, p := randomNet(rng, v, m)
		target := uint16(v + rng.IntN(m))
		// Colluders: a random subset whose stake stays below 45% (κ ≈ 0.5).
		var total uint64
		for i := range v {
			total += in.AlphaStake[i]
		}
		var colluders []int
		var cs uint64
		for _, i := range rng.Perm(v) {
			if float64(cs+in.AlphaStake[i]) < 0.45*float64(total) {
				colluders = append(colluders, i)
				cs += in.AlphaStake[i]
			}
		}
		if len(colluders) == 0 {
			continue
		}
		honest := mustEpoch(t, in, p)
		var maxHonest I32F32
		for i := range v {
			if !slices.Contains(colluders, i) {
				for _, c := range honest.Weights[i] {
					if c.Col == target {
						maxHonest = max(maxHonest, c.Val)
					}
				}
			}
		}
		for _, i := range colluders {
			in.Weights[i] = []Entry{{target, 65535}}
		}
		got := mustEpoch(t, in, p)
		if got.ConsensusF[target] > maxHonest {
			t.Fatalf("colluders (%d of %d validators) lifted consensus of %d to %s above the honest max %s",
				len(colluders), v, target, got.ConsensusF[target], maxHonest)
		}
	}
}

// The whitepaper scenario: honest validators with 60% stake give a bad miner nothing, a 40%
// cartel gives it everything; its consensus and incentive stay 0.
func TestCollusionScenario(t *testing.T) {
	p := mockParams()
	p.MaxAllowedValidators = 4
	s := newSubnet(p, []uint64{300, 300, 200, 200, 0, 0, 0}, 0, 1)
	s.epoch(t)
	s.block = 2
	for uid := range 2 {
		s.setWeights(uid, []uint16{4, 5, 6}, []uint16{40000, 65535, 0})
	}
	for uid := 2; uid < 4; uid++ {
		s.setWeights(uid, []uint16{6}, []uint16{65535})
	}
	r := s.epoch(t)
	if r.Consensus[6] != 0 || r.Incentive[6] != 0 || r.ServerEmission[6] != 0 {
		t.Errorf("bad miner: consensus %d incentive %d emission %d, want 0", r.Consensus[6], r.Incentive[6], r.ServerEmission[6])
	}
	if r.Incentive[4] == 0 || r.Incentive[5] <= r.Incentive[4] {
		t.Errorf("honest miners: incentive %v", r.Incentive[4:6])
	}
	// The cartel's clipped weights are empty, so its validator trust is 0.
	if r.ValidatorTrust[2] != 0 || r.ValidatorTrust[0] == 0 {
		t.Errorf("validator trust %v", r.ValidatorTrust[:4])
	}
}

func newBenchRand() *rand.Rand { return rand.New(rand.NewPCG(7, 8)) }
