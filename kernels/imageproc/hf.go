package imageproc

import "fmt"

// ShortestEdgeSize returns the size Hugging Face image processors resize to
// for size={"shortest_edge": s} (get_resize_output_image_size with
// default_to_square=False, no max_size): the shorter side becomes s and the
// longer side int(s·long/short), truncated, so the aspect ratio is kept
// rounding down. A square image becomes s×s.
func ShortestEdgeSize(w, h, s int) (int, int, error) {
	if w < 1 || h < 1 || s < 1 {
		return 0, 0, fmt.Errorf("shortest edge: %w: %d×%d to %d", ErrSize, w, h, s)
	}
	if w <= h {
		return s, int(float64(s*h) / float64(w)), nil
	}
	return int(float64(s*w) / float64(h)), s, nil
}

// ResizeShortestEdge resizes img so its shorter side is s (ShortestEdgeSize)
// with filter f, as a CLIP or ConvNeXt image processor does before its
// center crop.
func ResizeShortestEdge(img *RGB, s int, f Filter) (*RGB, error) {
	if err := img.check(); err != nil {
		return nil, fmt.Errorf("shortest edge: %w", err)
	}
	w, h, err := ShortestEdgeSize(img.Width, img.Height, s)
	if err != nil {
		return nil, err
	}
	return Resize(img, w, h, f)
}

// CenterCrop returns the w×h window at the centre of img as Hugging Face's
// image_transforms.center_crop does: the window starts at ((W-w)//2,
// (H-h)//2) with floor division, so an odd margin leaves the extra pixel on
// the right or bottom. Where the window is larger than the image, the image
// is first padded with black, ceil(margin/2) on the top and left.
func CenterCrop(img *RGB, w, h int) (*RGB, error) {
	if err := img.check(); err != nil {
		return nil, fmt.Errorf("center crop: %w", err)
	}
	if w < 1 || h < 1 {
		return nil, fmt.Errorf("center crop: %w: %d×%d", ErrSize, w, h)
	}
	top, left := floorDiv(img.Height-h, 2), floorDiv(img.Width-w, 2)
	padTop, padLeft := 0, 0
	if img.Height < h {
		padTop = (h - img.Height + 1) / 2
	}
	if img.Width < w {
		padLeft = (w - img.Width + 1) / 2
	}
	top += padTop
	left += padLeft
	out := NewRGB(w, h)
	for y := 0; y < h; y++ {
		sy := top + y - padTop // row in img
		if sy < 0 || sy >= img.Height {
			continue
		}
		for x := 0; x < w; x++ {
			sx := left + x - padLeft
			if sx < 0 || sx >= img.Width {
				continue
			}
			copy(out.Pix[(y*w+x)*3:(y*w+x)*3+3], img.Pix[(sy*img.Width+sx)*3:])
		}
	}
	return out, nil
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
