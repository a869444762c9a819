package yuma

import (
	"errors"
	"fmt"
	"testing"
)

// TestRulesFor pins the spec version at which each rule changed.
func TestRulesFor(t *testing.T) {
	for _, tc := range []struct {
		spec uint32
		want string
	}{
		{218, "{SpecVersion:218 MockEpoch:false TopKWithZeros:true NoStakeThreshold:true NoOwnerSelfWeight:true NoOwnerValidator:true ClippedBonds:true BondsMaskByUpdate:true OriginalYumaOnly:true BondsPermitRowsOnly:true LastTempoByTempo:true StoresRankTrust:true TaoInheritance:2 SignedInheritance:true}"},
		{223, "{SpecVersion:223 MockEpoch:false TopKWithZeros:true NoStakeThreshold:true NoOwnerSelfWeight:true NoOwnerValidator:true ClippedBonds:false BondsMaskByUpdate:true OriginalYumaOnly:true BondsPermitRowsOnly:true LastTempoByTempo:true StoresRankTrust:true TaoInheritance:1 SignedInheritance:true}"},
		{253, "{SpecVersion:253 MockEpoch:false TopKWithZeros:true NoStakeThreshold:true NoOwnerSelfWeight:false NoOwnerValidator:true ClippedBonds:false BondsMaskByUpdate:false OriginalYumaOnly:true BondsPermitRowsOnly:true LastTempoByTempo:true StoresRankTrust:true TaoInheritance:0 SignedInheritance:true}"},
		{268, "{SpecVersion:268 MockEpoch:false TopKWithZeros:false NoStakeThreshold:false NoOwnerSelfWeight:false NoOwnerValidator:true ClippedBonds:false BondsMaskByUpdate:false OriginalYumaOnly:false BondsPermitRowsOnly:true LastTempoByTempo:true StoresRankTrust:true TaoInheritance:0 SignedInheritance:false}"},
		{343, "{SpecVersion:343 MockEpoch:false TopKWithZeros:false NoStakeThreshold:false NoOwnerSelfWeight:false NoOwnerValidator:true ClippedBonds:false BondsMaskByUpdate:false OriginalYumaOnly:false BondsPermitRowsOnly:false LastTempoByTempo:true StoresRankTrust:false TaoInheritance:0 SignedInheritance:false}"},
		{HeadSpec, "{SpecVersion:425 MockEpoch:false TopKWithZeros:false NoStakeThreshold:false NoOwnerSelfWeight:false NoOwnerValidator:false ClippedBonds:false BondsMaskByUpdate:false OriginalYumaOnly:false BondsPermitRowsOnly:false LastTempoByTempo:false StoresRankTrust:false TaoInheritance:0 SignedInheritance:false}"},
	} {
		if got := fmt.Sprintf("%+v", RulesFor(tc.spec)); got != tc.want {
			t.Errorf("RulesFor(%d) = %s\nwant %s", tc.spec, got, tc.want)
		}
	}
	// Childkey inheritance of root stake: through netuid 0's keys (raonet, c39109d32), none
	// (13e24f2c8), through the subnet's keys (f2caf7ddc); I96F32 sums until d4f341359.
	for _, tc := range []struct {
		spec   uint32
		mode   TaoInheritance
		signed bool
	}{
		{220, TaoInheritRoot, true}, {221, TaoInheritAmbiguous, true}, {222, TaoInheritNone, true},
		{227, TaoInheritNone, true}, {228, TaoInheritSubnet, true}, {233, TaoInheritSubnet, true},
		{258, TaoInheritSubnet, true}, {261, TaoInheritSubnet, false},
	} {
		if r := RulesFor(tc.spec); r.TaoInheritance != tc.mode || r.SignedInheritance != tc.signed {
			t.Errorf("RulesFor(%d): TaoInheritance %d SignedInheritance %v, want %d %v",
				tc.spec, r.TaoInheritance, r.SignedInheritance, tc.mode, tc.signed)
		}
	}
	if r := RulesFor(HeadSpec); r != (Rules{SpecVersion: HeadSpec}) {
		t.Errorf("HEAD rules %+v are not the zero value", r)
	}
}

// net3 is a small subnet at block 1000 (tempo 100): uids 0 and 2 validate with stakes 3 and 1,
// uid 1 mines; every neuron registered at block 5 and updated at 990.
func net3() (Input, Params) {
	p := mockParams()
	p.Tempo, p.ActivityCutoff, p.MaxAllowedValidators = 100, 5000, 8
	return Input{
		N: 3, CurrentBlock: 1000,
		LastUpdate:          []uint64{990, 990, 990},
		BlockAtRegistration: []uint64{5, 5, 5},
		AlphaStake:          []uint64{3_000, 0, 1_000},
		ValidatorPermit:     []bool{true, false, true},
		Weights:             [][]Entry{{{1, 65535}}, nil, {{1, 65535}}},
		Bonds:               make([][]Entry, 3),
		RaoEmission:         1_000_000,
	}, p
}

func epochOf(t *testing.T, in Input, p Params) *Result {
	t.Helper()
	r, err := Epoch(in, p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRulesEpoch runs each rule on a case where the old and the new behaviour differ.
func TestRulesEpoch(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(in *Input, p *Params)
		rules Rules
		check func(t *testing.T, r *Result)
		old   func(t *testing.T, r *Result)
	}{{
		// Stakes [3000 0 1000], k = 2: is_topk drops the first of the sorted zeros (uid 1) only
		// because n > k; is_topk_nonzero never permits a zero stake.
		name:  "topk k<n",
		setup: func(in *Input, p *Params) { p.MaxAllowedValidators = 2; in.AlphaStake = []uint64{3_000, 0, 0} },
		rules: Rules{TopKWithZeros: true},
		check: func(t *testing.T, r *Result) { want(t, "permits", r.NewValidatorPermit, "[true false false]") },
		old:   func(t *testing.T, r *Result) { want(t, "permits", r.NewValidatorPermit, "[true false true]") },
	}, {
		name:  "topk n<=k",
		rules: Rules{TopKWithZeros: true},
		check: func(t *testing.T, r *Result) { want(t, "permits", r.NewValidatorPermit, "[true false true]") },
		old:   func(t *testing.T, r *Result) { want(t, "permits", r.NewValidatorPermit, "[true true true]") },
	}, {
		// StakeThreshold 2000 zeroes uid 2's stake (1000) from spec 268 on.
		name:  "stake threshold",
		setup: func(in *Input, p *Params) { p.StakeThreshold = 2_000 },
		rules: Rules{NoStakeThreshold: true},
		check: func(t *testing.T, r *Result) { want(t, "stake weight", r.StakeWeight, "[65535 0 0]") },
		old:   func(t *testing.T, r *Result) { want(t, "stake weight", r.StakeWeight, "[49151 0 16383]") },
	}, {
		// uids 0 and 2 hold bonds on uid 1, which registered at 890: before the last tempo (900),
		// so HEAD keeps both (equal, decayed by 0.9: nobody's weight survives clipping), but after
		// uid 0's last update (880), so the spec < 253 rule drops uid 0's. Original Yuma.
		name: "bond mask",
		setup: func(in *Input, p *Params) {
			in.Weights[0] = nil
			in.Bonds[0] = []Entry{{1, 65535}}
			in.Bonds[2] = []Entry{{1, 65535}}
			in.BlockAtRegistration[1] = 890
			in.LastUpdate[0] = 880
		},
		rules: Rules{BondsMaskByUpdate: true},
		check: func(t *testing.T, r *Result) { want(t, "bonds", r.Bonds, "[[{1 65535}] [] [{1 65535}]]") },
		old:   func(t *testing.T, r *Result) { want(t, "bonds", r.Bonds, "[[] [] [{1 65535}]]") },
	}, {
		// Dynamic tempo: LastMechansimStepBlock 850 makes the last tempo 851 ≥ the registration
		// at 860, so HEAD masks uid 1's bond column; before spec 404 the last tempo is 900.
		name: "last tempo",
		setup: func(in *Input, p *Params) {
			in.LastMechanismStepBlock = 850
			in.BlockAtRegistration[1] = 860
			in.Bonds[0] = []Entry{{1, 65535}}
		},
		rules: Rules{LastTempoByTempo: true},
		// HEAD: ΔB col-normalized [0.75 0.25], old bond masked: EMA 0.1·ΔB → [65535 21844].
		// Before: B = [1 0] kept: [0.975 0.025] → [65535 1680].
		check: func(t *testing.T, r *Result) { want(t, "bonds", r.Bonds, "[[{1 65535}] [] [{1 21844}]]") },
		old:   func(t *testing.T, r *Result) { want(t, "bonds", r.Bonds, "[[{1 65535}] [] [{1 1680}]]") },
	}, {
		// Bonds from W̄ (BondsPenalty 0 = unclipped W) versus the clipped weights: uid 2's lone
		// weight on uid 0 is clipped to 0 by consensus.
		name: "clipped bonds",
		setup: func(in *Input, p *Params) {
			p.BondsPenalty = 0
			in.Weights[2] = []Entry{{1, 65535}, {0, 65535}}
		},
		rules: Rules{ClippedBonds: true},
		check: func(t *testing.T, r *Result) { want(t, "bond of uid 2 on 0", bond(r, 2, 0), "65535") },
		old:   func(t *testing.T, r *Result) { want(t, "bond of uid 2 on 0", bond(r, 2, 0), "0") },
	}, {
		// uid 1 never had a permit: HEAD writes its row empty, older runtimes leave it.
		name:  "bond rows",
		setup: func(in *Input, p *Params) { in.Bonds[1] = []Entry{{0, 5}} },
		rules: Rules{BondsPermitRowsOnly: true},
		check: func(t *testing.T, r *Result) { want(t, "row 1 written", r.Bonds[1] != nil, "true") },
		old:   func(t *testing.T, r *Result) { want(t, "row 1 written", r.Bonds[1] != nil, "false") },
	}, {
		// The owner (uid 1, no stake) validates and keeps its self-weight on HEAD.
		name: "owner",
		setup: func(in *Input, p *Params) {
			p.OwnerUID = 1
			in.Weights[1] = []Entry{{1, 65535}}
		},
		rules: Rules{NoOwnerValidator: true, NoOwnerSelfWeight: true},
		check: func(t *testing.T, r *Result) {
			want(t, "permits", r.NewValidatorPermit, "[true true true]")
			want(t, "weights of 1", r.Weights[1], "[{1 1.0000000000}]")
		},
		old: func(t *testing.T, r *Result) {
			want(t, "permits", r.NewValidatorPermit, "[true false true]")
			want(t, "weights of 1", r.Weights[1], "[]")
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			in, p := net3()
			if tc.setup != nil {
				tc.setup(&in, &p)
			}
			tc.check(t, epochOf(t, in, p))
			in, p = net3()
			if tc.setup != nil {
				tc.setup(&in, &p)
			}
			p.Rules = tc.rules
			tc.old(t, epochOf(t, in, p))
		})
	}
}

func want(t *testing.T, what string, got any, w string) {
	t.Helper()
	if s := fmt.Sprint(got); s != w {
		t.Errorf("%s = %s, want %s", what, s, w)
	}
}

// TestRankTrust: Rank equals Incentive; Trust is rank after clipping over rank before — 1 for
// the miner every validator weighs, 0 for the one only the smaller validator weighs.
func TestRankTrust(t *testing.T) {
	in, p := net3()
	in.N = 4
	in.LastUpdate = append(in.LastUpdate, 990)
	in.BlockAtRegistration = append(in.BlockAtRegistration, 5)
	in.AlphaStake = append(in.AlphaStake, 0)
	in.ValidatorPermit = append(in.ValidatorPermit, false)
	in.Weights = append(in.Weights, nil)
	in.Bonds = append(in.Bonds, nil)
	in.Weights[2] = []Entry{{1, 65535}, {3, 65535}}
	r := epochOf(t, in, p)
	want(t, "rank", r.Rank, fmt.Sprint(r.Incentive))
	want(t, "trust", r.Trust, "[0 65535 0 0]")
	if r.Incentive[1] != 65535 {
		t.Errorf("incentive %v", r.Incentive)
	}
}

// TestOldLiquidAlphaUnsupported: liquid alpha before spec 261 used a formula Epoch does not
// implement; with consensus all zero that formula is not reached.
func TestOldLiquidAlphaUnsupported(t *testing.T) {
	in, p := net3()
	p.LiquidAlpha, p.Rules = true, RulesFor(218)
	if _, err := Epoch(in, p); !errors.Is(err, ErrUnsupported) {
		t.Errorf("err = %v", err)
	}
	in.Weights = make([][]Entry, 3)
	if _, err := Epoch(in, p); err != nil {
		t.Errorf("zero consensus: %v", err)
	}
}
