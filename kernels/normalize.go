package kernels

import (
	"fmt"

	"gorgonia.org/tensor"
)

// NormParams describes how Normalize maps a raw 8-bit channel value v of
// channel c to a float: (float32(v)*Scale - Mean[c]) / Std[c], every step in
// float32, in that order (numpy's `(x.astype(float32) * scale - mean) / std`
// with float32 mean and std).
type NormParams struct {
	// Scale multiplies the raw value first, e.g. 1/255 (Hugging Face's
	// rescale_factor); 1 leaves it as is.
	Scale float32
	// Mean holds one value per channel, subtracted after scaling.
	Mean []float32
	// Std holds one non-zero value per channel, dividing last.
	Std []float32
}

// Normalize turns a batch of N images, interleaved HWC uint8 with shape
// [N, H, W, C], into a planar NCHW float32 batch with shape [N, C, H, W],
// applying p per channel. C must equal len(p.Mean) and len(p.Std).
//
// Gorgonia does the arithmetic: a scalar Mul over the batch, then Sub and Div
// on each contiguous H×W plane (a Dense over that part of the batch). The
// uint8→float32 cast is a plain loop, as the tensor package has no
// element-type cast, and it writes the planar layout directly.
func Normalize(pix []uint8, shape []int, p NormParams) ([]float32, []int, error) {
	if err := checkNormalize(pix, shape, p); err != nil {
		return nil, nil, fmt.Errorf("normalize: %w", err)
	}
	n, h, w, c := shape[0], shape[1], shape[2], shape[3]
	// The element-type cast and the HWC→CHW gather share one pass: Gorgonia's
	// Transpose (T then Transpose on StdEng) walks a generic iterator and
	// added about 10 ms at 16×224×224×3 (BenchmarkNormalize).
	f := make([]float32, len(pix))
	hw := h * w
	for i := 0; i < n; i++ {
		img, out := pix[i*hw*c:(i+1)*hw*c], f[i*hw*c:(i+1)*hw*c]
		for ch := 0; ch < c; ch++ {
			plane := out[ch*hw : (ch+1)*hw]
			for j := range plane {
				plane[j] = float32(img[j*c+ch])
			}
		}
	}
	t := tensor.New(tensor.WithShape(n, c, hw), tensor.WithBacking(f))
	if _, err := tensor.Mul(t, p.Scale, tensor.UseUnsafe()); err != nil {
		return nil, nil, fmt.Errorf("normalize: scale: %w", err)
	}
	for i := 0; i < n*c; i++ {
		// A Dense over the plane's part of the backing array, not a Slice
		// view: StdEng treats views as strided and takes its iterator path,
		// which was 3× slower here.
		plane := tensor.New(tensor.WithShape(hw), tensor.WithBacking(f[i*hw:(i+1)*hw]))
		ch := i % c
		if _, err := tensor.Sub(plane, p.Mean[ch], tensor.UseUnsafe()); err != nil {
			return nil, nil, fmt.Errorf("normalize: mean: %w", err)
		}
		if _, err := tensor.Div(plane, p.Std[ch], tensor.UseUnsafe()); err != nil {
			return nil, nil, fmt.Errorf("normalize: std: %w", err)
		}
	}
	return floats(t), []int{n, c, h, w}, nil
}

func checkNormalize(pix []uint8, shape []int, p NormParams) error {
	if len(shape) != 4 {
		return fmt.Errorf("%w: want [N H W C], got %v", ErrShape, shape)
	}
	if _, err := volume(shape, len(pix)); err != nil {
		return err
	}
	c := shape[3]
	if len(p.Mean) != c || len(p.Std) != c {
		return fmt.Errorf("%w: %d channels but %d means and %d stds", ErrArgument, c, len(p.Mean), len(p.Std))
	}
	for ch, s := range p.Std {
		if s == 0 {
			return fmt.Errorf("%w: std of channel %d is 0", ErrArgument, ch)
		}
	}
	return nil
}
