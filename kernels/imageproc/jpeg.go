package imageproc

import (
	"image"
	"image/color"
)

// ycbcrToRGB converts a decoded JPEG's planes to RGB the way libjpeg-turbo
// (Pillow's decoder) does by default: subsampled chroma is upsampled with
// its "fancy" triangle filter (4:2:2, 4:2:0 and 4:4:0; plain replication when
// the chroma plane is at most 2 samples wide, as libjpeg-turbo does), then
// each pixel goes through libjpeg's fixed-point YCbCr→RGB tables. 4:1:1 and
// 4:1:0 fall back to Go's nearest-neighbour upsampling and conversion.
func ycbcrToRGB(m *image.YCbCr) *RGB {
	b := m.Rect
	w, h := b.Dx(), b.Dy()
	out := NewRGB(w, h)
	var hs, vs int // chroma subsampling factors
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio422:
		hs, vs = 2, 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 2, 2
	case image.YCbCrSubsampleRatio440:
		hs, vs = 1, 2
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := m.YCbCrAt(b.Min.X+x, b.Min.Y+y)
				r, g, bb := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
				i := (y*w + x) * 3
				out.Pix[i], out.Pix[i+1], out.Pix[i+2] = r, g, bb
			}
		}
		return out
	}
	cw, ch := (w+hs-1)/hs, (h+vs-1)/vs
	plane := func(p []uint8) func(x, y int) int {
		return func(x, y int) int {
			return int(p[m.COffset(b.Min.X+x*hs, b.Min.Y+y*vs)])
		}
	}
	cb := upsample(plane(m.Cb), cw, ch, w, h, hs, vs)
	cr := upsample(plane(m.Cr), cw, ch, w, h, hs, vs)
	for y := 0; y < h; y++ {
		yrow := m.Y[m.YOffset(b.Min.X, b.Min.Y+y):]
		for x := 0; x < w; x++ {
			i := y*w + x
			r, g, bb := jpegYCCToRGB(int32(yrow[x]), int32(cb[i]), int32(cr[i]))
			out.Pix[i*3], out.Pix[i*3+1], out.Pix[i*3+2] = r, g, bb
		}
	}
	return out
}

// upsample returns a w×h plane from the cw×ch chroma samples at(x, y).
func upsample(at func(x, y int) int, cw, ch, w, h, hs, vs int) []uint8 {
	out := make([]uint8, w*h)
	clampRow := func(y int) int { return max(0, min(y, ch-1)) }
	// colsum(x) is the vertically filtered chroma column for output row y
	// (3·near + far, far being the row above or below), or the sample itself.
	for y := 0; y < h; y++ {
		cy := y / vs
		near := func(x int) int { return at(x, cy) }
		colsum := near // 1 vertical factor: the sample itself
		vscale := 1
		if vs == 2 {
			far := clampRow(cy - 1)
			if y%2 == 1 {
				far = clampRow(cy + 1)
			}
			colsum = func(x int) int { return at(x, cy)*3 + at(x, far) }
			vscale = 4
		}
		row := out[y*w : (y+1)*w]
		switch {
		case hs == 1 && vs == 1:
			for x := range row {
				row[x] = uint8(near(x))
			}
		case hs == 1: // h1v2: (3·near + far + bias) / 4, bias 1 above, 2 below
			bias := 1
			if y%2 == 1 {
				bias = 2
			}
			for x := range row {
				row[x] = uint8((colsum(x) + bias) >> 2)
			}
		case cw <= 2: // libjpeg-turbo replicates when the plane is this narrow
			for x := range row {
				row[x] = uint8(near(x / 2))
			}
		default: // h2v1 / h2v2 triangle filter across columns
			upsampleRow(row, colsum, cw, vscale)
		}
	}
	return out
}

// upsampleRow fills row (output width) from cw column values c(x) that are
// already scaled by vscale (1 for h2v1, 4 for h2v2), with libjpeg's
// 3:1 weights and its alternating rounding biases.
func upsampleRow(row []uint8, c func(x int) int, cw, vscale int) {
	shift, biasLo, biasHi := 2, 1, 2 // h2v1: (3·this + other + 1|2) >> 2
	if vscale == 4 {
		shift, biasLo, biasHi = 4, 8, 7 // h2v2: (3·this + other + 8|7) >> 4
	}
	set := func(i int, v int) {
		if i < len(row) {
			row[i] = uint8(v >> shift)
		}
	}
	last, this := c(0), c(0)
	for x := 0; x < cw; x++ {
		next := this
		if x+1 < cw {
			next = c(x + 1)
		}
		if x == 0 {
			set(0, this*4+edgeBias(vscale, true))
		} else {
			set(2*x, this*3+last+biasLo)
		}
		if x == cw-1 {
			set(2*x+1, this*4+edgeBias(vscale, false))
		} else {
			set(2*x+1, this*3+next+biasHi)
		}
		last, this = this, next
	}
}

// edgeBias is the rounding libjpeg uses at the first and last column, where
// the sample is simply repeated: for h2v1 the value is copied (×4 then >>2,
// bias 0); for h2v2 it is (4·colsum + 8 or 7) >> 4.
func edgeBias(vscale int, first bool) int {
	if vscale == 1 {
		return 0
	}
	if first {
		return 8
	}
	return 7
}

// jpegYCCToRGB is libjpeg's ycc_rgb_convert: 16-bit fixed point, the
// rounding half folded into the per-channel tables, results clamped.
func jpegYCCToRGB(y, cb, cr int32) (uint8, uint8, uint8) {
	const (
		half   = 1 << 15
		crR    = 91881  // FIX(1.40200)
		cbB    = 116130 // FIX(1.77200)
		crG    = 46802  // FIX(0.71414)
		cbG    = 22554  // FIX(0.34414)
		center = 128
	)
	cb -= center
	cr -= center
	r := y + (crR*cr+half)>>16
	g := y + (-cbG*cb+half-crG*cr)>>16
	b := y + (cbB*cb+half)>>16
	return clampByte(r), clampByte(g), clampByte(b)
}

func clampByte(v int32) uint8 {
	return uint8(max(0, min(v, 255)))
}
