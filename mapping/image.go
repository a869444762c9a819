package mapping

import (
	"encoding/json"
	"fmt"
	"math"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/taominer/taominer/kernels"
	"github.com/taominer/taominer/kernels/imageproc"
)

// image decodes an image input; a preprocessor_config (Hugging Face's
// preprocessor_config.json) gives defaults the other keys override.
func (p *parser) image(n *yaml.Node) *ImageSpec {
	s := &ImageSpec{Scale: 1, MaxPixels: imageproc.DefaultMaxPixels}
	var set = map[string]*yaml.Node{}
	keep := func(k string) func(*yaml.Node) { return func(v *yaml.Node) { set[k] = v } }
	p.fields(n, "an image input", map[string]func(*yaml.Node){
		"tensor": keep("tensor"), "preprocessor_config": keep("preprocessor_config"), "size": keep("size"),
		"center_crop": keep("center_crop"), "filter": keep("filter"), "scale": keep("scale"), "mean": keep("mean"),
		"std": keep("std"), "channels": keep("channels"), "pad_value": keep("pad_value"), "max_pixels": keep("max_pixels"),
	})
	if n.Kind != yaml.MappingNode {
		return s
	}
	if v := set["preprocessor_config"]; v != nil {
		rel := p.str(v, "preprocessor_config")
		path := p.path(rel)
		p.m.deps = append(p.m.deps, path)
		if err := hfDefaults(path, s); err != nil {
			p.failf(v, "preprocessor_config %s: %v", rel, err)
		}
	}
	if v := set["tensor"]; v != nil {
		s.Tensor = p.str(v, "image tensor")
	} else {
		p.failf(n, "image input: missing key \"tensor\" (the model input, e.g. pixel_values)")
	}
	if v := set["size"]; v != nil {
		s.Width, s.Height, s.ShortestEdge, s.MaxWidth = 0, 0, 0, 0
		p.fields(v, "size", map[string]func(*yaml.Node){
			"width":         func(x *yaml.Node) { s.Width = p.integer(x, "size width", 1, 1<<14) },
			"height":        func(x *yaml.Node) { s.Height = p.integer(x, "size height", 1, 1<<14) },
			"shortest_edge": func(x *yaml.Node) { s.ShortestEdge = p.integer(x, "size shortest_edge", 1, 1<<14) },
			"max_width":     func(x *yaml.Node) { s.MaxWidth = p.integer(x, "size max_width", 1, 1<<14) },
		})
	}
	if v := set["center_crop"]; v != nil {
		p.fields(v, "center_crop", map[string]func(*yaml.Node){
			"width":  func(x *yaml.Node) { s.CropWidth = p.integer(x, "center_crop width", 1, 1<<14) },
			"height": func(x *yaml.Node) { s.CropHeight = p.integer(x, "center_crop height", 1, 1<<14) },
		})
		if s.CropWidth == 0 || s.CropHeight == 0 {
			p.failf(v, "center_crop: expected width and height")
		}
	}
	if v := set["filter"]; v != nil {
		switch f := p.str(v, "filter"); f {
		case "bilinear":
			s.Filter = imageproc.Bilinear
		case "bicubic":
			s.Filter = imageproc.Bicubic
		default:
			s.Filter = imageproc.Bilinear // reported once, here
			p.failf(v, "filter: expected bilinear or bicubic, got %q", f)
		}
	}
	if v := set["scale"]; v != nil {
		s.Scale = float32(p.number(v, "scale"))
	}
	if v := set["mean"]; v != nil {
		s.Mean = f32s(p.numbers(v, "mean"))
	}
	if v := set["std"]; v != nil {
		s.Std = f32s(p.numbers(v, "std"))
	}
	if v := set["channels"]; v != nil {
		switch c := p.str(v, "channels"); c {
		case "rgb":
			s.BGR = false
		case "bgr":
			s.BGR = true
		default:
			p.failf(v, "channels: expected rgb or bgr, got %q", c)
		}
	}
	if v := set["pad_value"]; v != nil {
		s.PadValue = float32(p.number(v, "pad_value"))
	}
	if v := set["max_pixels"]; v != nil {
		s.MaxPixels = p.integer(v, "max_pixels", 1, 1<<30)
	}
	// Whole-spec checks.
	forms := 0
	if s.Width > 0 || s.Height > 0 && s.MaxWidth == 0 {
		forms++
		if s.Width == 0 || s.Height == 0 {
			p.failf(n, "image size: expected both width and height")
		}
	}
	if s.ShortestEdge > 0 {
		forms++
	}
	if s.MaxWidth > 0 {
		forms++
		if s.Height == 0 || s.Width > 0 {
			p.failf(n, "image size: max_width goes with height only (keep the aspect ratio, pad the width)")
		}
	}
	if forms != 1 {
		p.failf(n, "image size: expected exactly one of {width, height}, {shortest_edge} or {height, max_width} (or a preprocessor_config)")
	}
	if s.ShortestEdge > 0 && s.CropWidth == 0 {
		p.failf(n, "image size shortest_edge: expected a center_crop too, so every image has one shape")
	}
	if s.MaxWidth > 0 && s.CropWidth > 0 {
		p.failf(n, "image: center_crop does not go with max_width")
	}
	if s.Filter == 0 {
		p.failf(n, "image: missing key \"filter\" (bilinear or bicubic)")
	}
	if len(s.Mean) == 0 {
		s.Mean = []float32{0, 0, 0}
	}
	if len(s.Std) == 0 {
		s.Std = []float32{1, 1, 1}
	}
	if len(s.Mean) != 3 || len(s.Std) != 3 {
		p.failf(n, "image: mean and std need 3 values (one per channel)")
	}
	for _, v := range s.Std {
		if v == 0 {
			p.failf(n, "image: std values must not be 0")
		}
	}
	return s
}

func f32s(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// hfDefaults reads the fields of a Hugging Face image processor config
// that matter here (ViTImageProcessor, ConvNextImageProcessor,
// CLIPImageProcessor and the like); unknown fields are ignored, since the
// file is the model's, but values this package cannot reproduce are
// errors.
func hfDefaults(path string, s *ImageSpec) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var c struct {
		DoResize      *bool           `json:"do_resize"`
		Size          json.RawMessage `json:"size"`
		Resample      *int            `json:"resample"`
		DoRescale     *bool           `json:"do_rescale"`
		RescaleFactor *float64        `json:"rescale_factor"`
		DoNormalize   *bool           `json:"do_normalize"`
		Mean          []float64       `json:"image_mean"`
		Std           []float64       `json:"image_std"`
		DoCenterCrop  *bool           `json:"do_center_crop"`
		CropSize      json.RawMessage `json:"crop_size"`
		CropPct       *float64        `json:"crop_pct"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("expected a JSON object: %w", err)
	}
	if c.DoResize != nil && !*c.DoResize {
		return fmt.Errorf("do_resize false: every image must be resized to one shape")
	}
	var size struct {
		Height, Width, ShortestEdge int
	}
	if err := readHFSize(c.Size, &size.Height, &size.Width, &size.ShortestEdge); err != nil {
		return fmt.Errorf("size: %w", err)
	}
	s.Width, s.Height, s.ShortestEdge = size.Width, size.Height, size.ShortestEdge
	s.Filter = imageproc.Bilinear
	if c.Resample != nil {
		switch *c.Resample {
		case 2:
			s.Filter = imageproc.Bilinear
		case 3:
			s.Filter = imageproc.Bicubic
		default:
			return fmt.Errorf("resample %d: only 2 (BILINEAR) and 3 (BICUBIC) are supported", *c.Resample)
		}
	}
	if c.DoRescale == nil || *c.DoRescale {
		s.Scale = 1.0 / 255
		if c.RescaleFactor != nil {
			s.Scale = float32(*c.RescaleFactor)
		}
	}
	if c.DoNormalize == nil || *c.DoNormalize {
		if len(c.Mean) == 3 && len(c.Std) == 3 {
			s.Mean, s.Std = f32s(c.Mean), f32s(c.Std)
		} else if len(c.Mean) != 0 || len(c.Std) != 0 {
			return fmt.Errorf("image_mean and image_std need 3 values each")
		}
	}
	if c.DoCenterCrop != nil && *c.DoCenterCrop {
		var h, w, se int
		if err := readHFSize(c.CropSize, &h, &w, &se); err != nil {
			return fmt.Errorf("crop_size: %w", err)
		}
		if se > 0 {
			h, w = se, se
		}
		s.CropWidth, s.CropHeight = w, h
	}
	// ConvNeXt: below 384 the shortest edge is resized to
	// shortest_edge/crop_pct and center-cropped to shortest_edge; from 384
	// the image is warped to a square.
	if c.CropPct != nil && s.ShortestEdge > 0 {
		se := s.ShortestEdge
		if se < 384 {
			s.ShortestEdge = int(float64(se) / *c.CropPct)
			s.CropWidth, s.CropHeight = se, se
		} else {
			s.ShortestEdge, s.Width, s.Height = 0, se, se
		}
	}
	return nil
}

// readHFSize reads a size that is an int (square), {"height","width"} or
// {"shortest_edge"}.
func readHFSize(raw json.RawMessage, h, w, se *int) error {
	if len(raw) == 0 {
		return fmt.Errorf("missing")
	}
	var n int
	if json.Unmarshal(raw, &n) == nil {
		*h, *w = n, n
		return nil
	}
	var m struct {
		Height       *int `json:"height"`
		Width        *int `json:"width"`
		ShortestEdge *int `json:"shortest_edge"`
		LongestEdge  *int `json:"longest_edge"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	switch {
	case m.LongestEdge != nil:
		return fmt.Errorf("longest_edge is not supported")
	case m.ShortestEdge != nil:
		*se = *m.ShortestEdge
	case m.Height != nil && m.Width != nil:
		*h, *w = *m.Height, *m.Width
	default:
		return fmt.Errorf("expected an integer, {height, width} or {shortest_edge}")
	}
	return nil
}

// outShape is the [C, H, W] of one pre-processed image.
func (s *ImageSpec) outShape() []int64 {
	switch {
	case s.CropWidth > 0:
		return []int64{3, int64(s.CropHeight), int64(s.CropWidth)}
	case s.MaxWidth > 0:
		return []int64{3, int64(s.Height), int64(s.MaxWidth)}
	}
	return []int64{3, int64(s.Height), int64(s.Width)}
}

// Preprocess turns one encoded image (base64 JPEG or PNG) into its
// normalised [3, H, W] float32 planes.
func (s *ImageSpec) Preprocess(b64 string) ([]float32, error) {
	img, err := imageproc.DecodeBase64Image(b64, s.MaxPixels)
	if err != nil {
		return nil, err
	}
	switch {
	case s.ShortestEdge > 0:
		img, err = imageproc.ResizeShortestEdge(img, s.ShortestEdge, s.Filter)
	case s.MaxWidth > 0:
		ratio := float64(img.Width) / float64(img.Height)
		w := int(math.Ceil(float64(s.Height) * ratio))
		w = max(1, min(w, s.MaxWidth))
		img, err = imageproc.Resize(img, w, s.Height, s.Filter)
	default:
		img, err = imageproc.Resize(img, s.Width, s.Height, s.Filter)
	}
	if err != nil {
		return nil, err
	}
	if s.CropWidth > 0 {
		if img, err = imageproc.CenterCrop(img, s.CropWidth, s.CropHeight); err != nil {
			return nil, err
		}
	}
	if s.BGR {
		for i := 0; i+2 < len(img.Pix); i += 3 {
			img.Pix[i], img.Pix[i+2] = img.Pix[i+2], img.Pix[i]
		}
	}
	planes, _, err := kernels.NormalizePreferred(img.Pix, []int{1, img.Height, img.Width, 3},
		kernels.NormParams{Scale: s.Scale, Mean: s.Mean, Std: s.Std})
	if err != nil {
		return nil, err
	}
	if s.MaxWidth == 0 || img.Width == s.MaxWidth {
		return planes, nil
	}
	// Pad on the right to MaxWidth.
	W, H := s.MaxWidth, s.Height
	out := make([]float32, 3*H*W)
	for i := range out {
		out[i] = s.PadValue
	}
	for c := range 3 {
		for y := range H {
			copy(out[(c*H+y)*W:], planes[(c*H+y)*img.Width:(c*H+y+1)*img.Width])
		}
	}
	return out, nil
}
