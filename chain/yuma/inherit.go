package yuma

import (
	"math"
	"math/big"
	"math/bits"

	"github.com/taominer/taominer/chain/scale"
)

// Link is one ChildKeys or ParentKeys entry: a proportion of u64::MAX and the other hotkey.
type Link struct {
	Proportion uint64
	Hotkey     [32]byte
}

// decodeLinks decodes a ChildKeys or ParentKeys value: SCALE Vec<(u64, AccountId32)>.
func decodeLinks(d *scale.Decoder) []Link {
	n := d.Len(40)
	if n == 0 {
		return nil
	}
	out := make([]Link, n)
	for i := range out {
		out[i] = Link{d.U64(), d.Array32()}
	}
	return out
}

// proportionBits is U96F32(p).safe_div(U96F32(u64::MAX)) as raw bits (32 fractional bits):
// floor(p·2^32 / (2^64−1)), at most 2^32.
func proportionBits(p uint64) uint64 {
	q, _ := bits.Div64(p>>32, p<<32, math.MaxUint64)
	return q
}

var (
	u96f32Max = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
	i96f32Max = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 127), big.NewInt(1))
	i96f32Min = new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 127))
)

// share is one parent's stake and the proportion it gives.
type share struct {
	stake, proportion uint64
}

// inherit is get_inherited_for_hotkey_on_subnet (and get_tao_inherited_for_hotkey_on_subnet)
// in 96.32 fixed point: initial − Σ_c initial·p_c + Σ_p stake_p·p_p with p = proportion/u64::MAX
// (proportionBits). Each product of an integer and a proportion is exact in 32 fractional bits,
// so only the proportions are truncated. Unsigned (U96F32, spec ≥ 261): every sum saturates
// in [0, 2^96), the difference clamped at 0 before the parents are added. Signed (I96F32): the
// difference may go negative. The result is saturating_to_num::<u64>() (floor); negative says
// the signed sum ended below 0 (then 0 is returned).
func inherit(initial uint64, children []uint64, parents []share, signed bool) (v uint64, negative bool) {
	hi, lo := u96f32Max, new(big.Int)
	if signed {
		hi, lo = i96f32Max, i96f32Min
	}
	sat := func(x *big.Int) *big.Int {
		if x.Cmp(hi) > 0 {
			return x.Set(hi)
		}
		if x.Cmp(lo) < 0 {
			return x.Set(lo)
		}
		return x
	}
	term := func(stake, p uint64) *big.Int {
		t := new(big.Int).SetUint64(stake)
		return t.Mul(t, new(big.Int).SetUint64(proportionBits(p)))
	}
	toChildren := new(big.Int)
	for _, p := range children {
		sat(toChildren.Add(toChildren, term(initial, p)))
	}
	fromParents := new(big.Int)
	for _, p := range parents {
		sat(fromParents.Add(fromParents, term(p.stake, p.proportion)))
	}
	r := new(big.Int).Lsh(new(big.Int).SetUint64(initial), 32)
	sat(r.Sub(r, toChildren))
	sat(r.Add(r, fromParents))
	if r.Sign() < 0 {
		return 0, true
	}
	r.Rsh(r, 32)
	if !r.IsUint64() {
		return math.MaxUint64, false
	}
	return r.Uint64(), false
}

// proportions returns the proportions of links.
func proportions(ls []Link) []uint64 {
	out := make([]uint64, len(ls))
	for i, l := range ls {
		out[i] = l.Proportion
	}
	return out
}
