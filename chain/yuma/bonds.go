package yuma

// movingAverageAlpha is α = 1 − BondsMovingAverage/1e6, computed in I64F64 and truncated to
// I32F32 as compute_ema_bonds_normal_sparse and compute_disabled_liquid_alpha do.
func movingAverageAlpha(bma uint64) I32F32 {
	a := I64F64FromU64(bma).Div(I64F64FromU64(1_000_000))
	return One.Sub(a.ToI32F32())
}

// maskBonds drops the bonds the runtime's rules drop: columns of neurons registered at or after
// lastTempo, or under Rules.BondsMaskByUpdate the entries (i, j) with LastUpdate[i] ≤
// BlockAtRegistration[j].
func maskBonds(b Sparse, in *Input, p *Params, lastTempo uint64) Sparse {
	if p.Rules.BondsMaskByUpdate {
		return maskByRowCol(b, in.LastUpdate, in.BlockAtRegistration, func(upd, reg uint64) bool { return upd <= reg })
	}
	return maskByRowCol(b, nil, in.BlockAtRegistration, func(_, reg uint64) bool { return lastTempo <= reg })
}

// bondsOriginal is the original Yuma bonds path (Yuma3On = false). It returns the EMA bonds,
// column-max-upscaled for storage, and the normalized dividends.
func bondsOriginal(in *Input, p *Params, wb Sparse, incentive, active []I32F32, lastTempo uint64) (Sparse, []I32F32) {
	n := int(in.N)
	b := toSparse(in.Bonds, n, true, true)
	b = maskBonds(b, in, p, lastTempo)
	colNormalize(b, n)
	delta := rowHadamard(wb, active)
	colNormalize(delta, n)
	ema := matEMA(delta, b, movingAverageAlpha(p.BondsMovingAverage))
	colNormalize(ema, n)
	div := matmulTranspose(ema, incentive)
	Normalize(div)
	colMaxUpscale(ema, n)
	return ema, div
}

// bondsYuma3 is the Yuma 3 bonds path (Yuma3On = true), with liquid alpha when enabled. It
// returns the EMA bonds (stored as floor(x·65535), no upscale) and the normalized dividends.
func bondsYuma3(in *Input, p *Params, wb Sparse, consensus, incentive, active []I32F32, lastTempo uint64) (Sparse, []I32F32) {
	n := int(in.N)
	b := toSparse(in.Bonds, n, false, true)
	b = maskBonds(b, in, p, lastTempo)
	var ema Sparse
	if p.LiquidAlpha && !allZero(consensus) {
		ema = matEMAAlpha(wb, b, liquidAlphas(p, wb, b, consensus))
	} else {
		ema = matEMA(wb, b, movingAverageAlpha(p.BondsMovingAverage))
	}
	norm := ema.clone()
	colNormalize(norm, n)
	perValidator := rowSum(matVecMul(norm, incentive))
	div := vecMul(perValidator, active)
	Normalize(div)
	return ema, div
}

func allZero(x []I32F32) bool {
	for _, v := range x {
		if v != 0 {
			return false
		}
	}
	return true
}

// liquidAlphas builds the per-bond alpha matrix (compute_liquid_alpha_values_sparse). Rows are
// walked with the chain's forward-only cursor, which assumes column-sorted rows. Only alphas of
// columns present in the validator's weight row are ever read (matEMAAlpha), so only those are
// computed; the others stay 0 — the result is identical to the chain's dense matrix.
func liquidAlphas(p *Params, w, b Sparse, consensus []I32F32) [][]I32F32 {
	lo := U16ProportionToFixed(p.AlphaLow)
	hi := U16ProportionToFixed(p.AlphaHigh)
	steep := FromInt(int64(p.AlphaSigmoidSteepness))
	out := make([][]I32F32, len(w))
	need := make([]bool, len(consensus))
	for i := range w {
		if len(w[i]) == 0 {
			continue
		}
		for _, c := range w[i] {
			if int(c.Col) < len(need) {
				need[c.Col] = true
			}
		}
		row := make([]I32F32, len(consensus))
		wi, bi := 0, 0
		for j, c := range consensus {
			weight := cursor(w[i], &wi, uint16(j))
			bond := cursor(b[i], &bi, uint16(j))
			if need[j] {
				row[j] = AlphaSigmoid(c, weight, bond, lo, hi, steep)
			}
		}
		for _, c := range w[i] {
			if int(c.Col) < len(need) {
				need[c.Col] = false
			}
		}
		out[i] = row
	}
	return out
}

// cursor advances *k past columns < j and returns the value at column j, or 0.
func cursor(r []Cell, k *int, j uint16) I32F32 {
	for *k < len(r) {
		c := r[*k]
		if c.Col < j {
			*k++
			continue
		}
		if c.Col == j {
			return c.Val
		}
		break
	}
	return 0
}

// AlphaSigmoid is the liquid-alpha EMA rate of one bond: lo + σ·(hi − lo) clamped to [lo, hi],
// σ = 1/(1 + exp(−steepness/100 · (d − 1/2))), where d is how far the weight is above consensus
// (buying, w ≥ b) or how far the bond is above the weight (selling).
func AlphaSigmoid(consensus, weight, bond, lo, hi, steepness I32F32) I32F32 {
	buy := Clamp(weight.Sub(consensus), 0, One)
	sell := Clamp(bond.Sub(weight), 0, One)
	d := sell
	if weight >= bond {
		d = buy
	}
	e := ExpSafe(steepness.Div(FromInt(-100)).Mul(d.Sub(half)))
	sigmoid := One.Div(One.Add(e))
	return Clamp(lo.Add(sigmoid.Mul(hi.Sub(lo))), lo, hi)
}
