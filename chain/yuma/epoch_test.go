package yuma

import (
	"math"
	"testing"
)

// subnet replays the chain's pallet tests: it holds the storage the epoch reads and writes,
// and mimics set_weights (max-upscaled u16 rows, LastUpdate = current block) and the epoch's
// persistence (ValidatorPermit, Bonds).
type subnet struct {
	p          Params
	block      uint64
	stake      []uint64
	reg        []uint64
	lastUpdate []uint64
	permits    []bool
	weights    [][]Entry
	bonds      [][]Entry
}

// mockParams are subtensor's mock.rs defaults (§7.4).
func mockParams() Params {
	return Params{
		Kappa:                 32_767,
		BondsPenalty:          65_535,
		BondsMovingAverage:    900_000,
		AlphaSigmoidSteepness: 1000,
		Tempo:                 1,
		ActivityCutoff:        ActivityCutoffBlocks(13_889, 1),
		OwnerUID:              -1,
		AlphaLow:              45_875, // chain default AlphaValues, unused unless LiquidAlpha
		AlphaHigh:             58_982,
	}
}

func newSubnet(p Params, stakes []uint64, regBlock, block uint64) *subnet {
	n := len(stakes)
	s := &subnet{p: p, block: block, stake: stakes,
		reg: make([]uint64, n), lastUpdate: make([]uint64, n), permits: make([]bool, n),
		weights: make([][]Entry, n), bonds: make([][]Entry, n)}
	for i := range s.reg {
		s.reg[i] = regBlock
	}
	return s
}

func (s *subnet) setWeights(uid int, uids []uint16, vals []uint16) {
	up := U16MaxUpscaleToU16(vals)
	row := make([]Entry, len(uids))
	for k := range uids {
		row[k] = Entry{uids[k], up[k]}
	}
	s.weights[uid] = row
	s.lastUpdate[uid] = s.block
}

func (s *subnet) epoch(t *testing.T) *Result {
	t.Helper()
	r, err := Epoch(Input{
		N:                   uint16(len(s.stake)),
		CurrentBlock:        s.block,
		LastUpdate:          s.lastUpdate,
		BlockAtRegistration: s.reg,
		AlphaStake:          s.stake,
		ValidatorPermit:     s.permits,
		Weights:             s.weights,
		Bonds:               s.bonds,
		RaoEmission:         1_000_000_000,
	}, s.p)
	if err != nil {
		t.Fatalf("epoch: %v", err)
	}
	s.permits = r.NewValidatorPermit
	s.bonds = r.Bonds
	return r
}

func bond(r *Result, i int, j uint16) uint16 {
	for _, e := range r.Bonds[i] {
		if e.UID == j {
			return e.Value
		}
	}
	return 0
}

// TestBonds re-runs subtensor tests/epoch.rs test_bonds (§7.4 A): exact u16 bonds.
func TestBonds(t *testing.T) {
	p := mockParams()
	p.MaxAllowedValidators = 8
	s := newSubnet(p, []uint64{1, 2, 3, 4, 0, 0, 0, 0}, 1, 1)
	s.epoch(t) // warm-up: permits for uids 0–3
	s.block = 2
	for uid := range 4 {
		s.setWeights(uid, []uint16{4, 5, 6, 7}, []uint16{math.MaxUint16 / 4, math.MaxUint16 / 2, (math.MaxUint16 / 4) * 3, math.MaxUint16})
	}
	self := func(uid int) func() {
		return func() { s.setWeights(uid, []uint16{uint16(uid)}, []uint16{math.MaxUint16}) }
	}
	steps := []struct {
		change func()
		col    uint16
		want   [4]uint16
	}{
		{nil, 4, [4]uint16{16383, 32767, 49151, 65535}},
		{self(0), 4, [4]uint16{14582, 32767, 49151, 65535}},
		{self(1), 4, [4]uint16{12603, 28321, 49151, 65535}},
		{self(2), 7, [4]uint16{12602, 28320, 49150, 65535}},
		{func() { s.setWeights(2, []uint16{7}, []uint16{math.MaxUint16}) }, 7, [4]uint16{10951, 24609, 49150, 65535}},
		{nil, 7, [4]uint16{9559, 21482, 49150, 65535}},
		{nil, 7, [4]uint16{8376, 18824, 49150, 65535}},
	}
	for k, st := range steps {
		if k > 0 {
			if st.change != nil {
				st.change()
			}
			s.block++
		}
		r := s.epoch(t)
		for i, w := range st.want {
			if got := bond(r, i, st.col); got != w {
				t.Errorf("step %d (block %d): Bonds[%d][%d] = %d, want %d", k+1, s.block, i, st.col, got, w)
			}
		}
	}
}

// TestActiveStake re-runs tests/epoch.rs test_active_stake (§7.4 B): exact dividends,
// emissions and bonds.
func TestActiveStake(t *testing.T) {
	p := mockParams()
	p.MaxAllowedValidators = 4
	s := newSubnet(p, []uint64{1, 1, 1, 1}, 0, 0)
	s.epoch(t)
	s.block = 1
	for uid := range 2 {
		s.setWeights(uid, []uint16{2, 3}, []uint16{math.MaxUint16 / 2, math.MaxUint16 / 2})
	}
	r := s.epoch(t)
	for i := range 2 {
		if r.Dividends[i] != 32767 {
			t.Errorf("block 1: Dividends[%d] = %d, want 32767", i, r.Dividends[i])
		}
		for _, j := range []uint16{2, 3} {
			if b := bond(r, i, j); b != 65535 {
				t.Errorf("block 1: Bonds[%d][%d] = %d, want 65535", i, j, b)
			}
		}
	}
	for i, e := range r.Emission {
		if e != 250_000_000 {
			t.Errorf("block 1: Emission[%d] = %d, want 250000000", i, e)
		}
	}

	s.block = 5002
	s.setWeights(0, []uint16{2, 3}, []uint16{math.MaxUint16 / 2, math.MaxUint16 / 2})
	r = s.epoch(t)
	want := []struct {
		uid  int
		div  uint16
		em   uint64
		bond uint16
	}{{0, 36044, 274_999_999, 65535}, {1, 29490, 224_999_999, 53619}}
	for _, w := range want {
		if r.Dividends[w.uid] != w.div || r.Emission[w.uid] != w.em {
			t.Errorf("block 5002: uid %d dividends %d emission %d, want %d %d", w.uid, r.Dividends[w.uid], r.Emission[w.uid], w.div, w.em)
		}
		for _, j := range []uint16{2, 3} {
			if b := bond(r, w.uid, j); b != w.bond {
				t.Errorf("block 5002: Bonds[%d][%d] = %d, want %d", w.uid, j, b, w.bond)
			}
		}
	}
}

// TestSelfWeightGraphs re-runs tests/epoch.rs test_10_graph and test_1_graph (§7.4 C).
func TestSelfWeightGraphs(t *testing.T) {
	tests := []struct {
		name     string
		stakes   []uint64
		emission uint64 // 0: not asserted
	}{
		{"test_10_graph", []uint64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 99_999_999},
		{"test_1_graph", []uint64{1_000_000_000}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mockParams()
			p.Tempo = math.MaxUint16 - 1
			p.ActivityCutoff = ActivityCutoffBlocks(13_889, p.Tempo)
			p.MaxAllowedValidators = uint16(len(tt.stakes))
			s := newSubnet(p, tt.stakes, 0, 1)
			for uid := range tt.stakes {
				s.setWeights(uid, []uint16{uint16(uid)}, []uint16{math.MaxUint16})
			}
			r := s.epoch(t)
			for i := range tt.stakes {
				if r.Consensus[i] != 0 || r.Incentive[i] != 0 || r.Dividends[i] != 0 {
					t.Errorf("uid %d: consensus %d incentive %d dividends %d, want 0", i, r.Consensus[i], r.Incentive[i], r.Dividends[i])
				}
				if tt.emission != 0 && r.Emission[i] != tt.emission {
					t.Errorf("uid %d: emission %d, want %d", i, r.Emission[i], tt.emission)
				}
			}
		})
	}
}

// TestYuma3 re-runs the tests/epoch.rs test_yuma_3_* scenarios (§7.4 D): dividends/65535
// within the chain's 1e-3.
func TestYuma3(t *testing.T) {
	const M = math.MaxUint16
	all := func(w ...uint16) [][]uint16 { return [][]uint16{w, w, w} }
	type sched map[int][][]uint16
	tests := []struct {
		name    string
		stakes  []uint64
		servers []uint16
		liquid  bool
		weights sched
		every   []uint16 // weights all validators set at epochs missing from the schedule; nil: keep
		want    [6][3]float64
	}{
		{"test_yuma_3_kappa_moves_first", []uint64{8, 1, 1, 0, 0}, []uint16{3, 4}, true,
			sched{0: all(M, 0), 1: {{0, M}, {M, 0}, {M, 0}}, 2: {{0, M}, {0, M}, {M, 0}}, 3: all(0, M)}, nil,
			[6][3]float64{{.8, .1, .1}, {1, 0, 0}, {.9382, .0618, 0}, {.8819, .0773, .0407}, {.8564, .0844, .0592}, {.8418, .0884, .0697}}},
		{"test_yuma_3_kappa_moves_second", []uint64{8, 1, 1, 0, 0}, []uint16{3, 4}, true,
			sched{0: all(M, 0), 1: {{M, 0}, {0, M}, {M, 0}}, 2: {{0, M}, {0, M}, {M, 0}}, 3: all(0, M)}, nil,
			[6][3]float64{{.8, .1, .1}, {.8446, .0498, .1056}, {.6868, .3132, 0}, {.7421, .2090, .0489}, {.7625, .1706, .0669}, {.7730, .1508, .0762}}},
		{"test_yuma_3_one_epoch_switch", []uint64{33, 33, 34, 0, 0}, []uint16{3, 4}, true,
			sched{2: {{M, 0}, {M, 0}, {0, M}}}, []uint16{M, 0},
			[6][3]float64{{.33, .33, .34}, {.33, .33, .34}, {.3782, .3782, .2436}, {.3628, .3628, .2745}, {.3541, .3541, .2917}, {.3487, .3487, .3026}}},
		{"test_yuma_3_liquid_alpha_disabled", []uint64{33, 33, 34, 0, 0}, []uint16{3, 4}, false,
			sched{2: {{M, 0}, {M, 0}, {0, M}}}, []uint16{M, 0},
			[6][3]float64{{.33, .33, .34}, {.33, .33, .34}, {.3734, .3734, .2532}, {.3611, .3611, .2779}, {.3541, .3541, .2919}, {.3495, .3495, .3009}}},
		{"test_yuma_3_stable_miner", []uint64{8, 1, 1, 0, 0, 0}, []uint16{3, 4, 5}, true,
			sched{0: all(M/2, 0, M/2), 1: {{M / 2, 0, M / 2}, {0, M / 2, M / 2}, {M / 2, 0, M / 2}}, 2: {{0, M / 2, M / 2}, {0, M / 2, M / 2}, {M / 2, 0, M / 2}}, 3: all(0, M/2, M/2)}, nil,
			[6][3]float64{{.8, .1, .1}, {.8226, .0745, .1028}, {.7750, .1685, .0565}, {.7864, .1372, .0764}, {.7912, .1241, .0847}, {.7937, .1173, .0890}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mockParams()
			p.BondsPenalty = 0
			p.BondsMovingAverage = 975_000
			p.Kappa = M / 2
			p.LiquidAlpha = tt.liquid
			p.AlphaLow, p.AlphaHigh = 6553, 19660 // set_alpha_values_32(0.1, 0.3)
			p.Yuma3 = true
			p.MaxAllowedValidators = 3
			s := newSubnet(p, tt.stakes, 1, 1)
			s.block++
			s.epoch(t) // warm-up
			eps := FromF32(1e-3)
			for e, want := range tt.want {
				w, ok := tt.weights[e]
				if !ok && tt.every != nil {
					w = all(tt.every...)
				}
				for uid, row := range w {
					s.setWeights(uid, tt.servers, row)
				}
				s.block++
				r := s.epoch(t)
				for i, d := range want {
					got := U16ProportionToFixed(r.Dividends[i])
					if diff := got.Sub(FromF32(float32(d))); diff > eps || -diff > eps {
						t.Errorf("epoch %d: dividend[%d] = %.4f, want %.4f", e, i, got.Float64(), d)
					}
				}
				for _, j := range tt.servers {
					if r.Dividends[j] != 0 {
						t.Errorf("epoch %d: server %d dividends %d, want 0", e, j, r.Dividends[j])
					}
				}
			}
		})
	}
}
