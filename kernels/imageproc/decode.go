package imageproc

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
)

// DefaultMaxPixels is the pixel limit Decode applies when given 0: 25
// megapixels (a 5000×5000 photo), about 75 MB as RGB.
const DefaultMaxPixels = 25_000_000

// Decode reads a JPEG or PNG image into 8-bit RGB the way Pillow's
// Image.open(f).convert("RGB") does (see the package documentation for the
// conversions). It reads the header first and refuses, with ErrTooLarge, an
// image of more than maxPixels pixels (0 means DefaultMaxPixels) before
// decoding any pixel data. Other formats, corrupt and truncated data give
// ErrFormat.
func Decode(data []byte, maxPixels int) (*RGB, error) {
	if maxPixels == 0 {
		maxPixels = DefaultMaxPixels
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if format != "jpeg" && format != "png" {
		return nil, fmt.Errorf("%w: format %s is not JPEG or PNG", ErrFormat, format)
	}
	if cfg.Width < 1 || cfg.Height < 1 {
		return nil, fmt.Errorf("%w: %s header declares %d×%d", ErrFormat, format, cfg.Width, cfg.Height)
	}
	if n := int64(cfg.Width) * int64(cfg.Height); n > int64(maxPixels) {
		return nil, fmt.Errorf("%w: %d×%d %s is %d pixels, the limit is %d", ErrTooLarge, cfg.Width, cfg.Height, format, n, maxPixels)
	}
	var img image.Image
	if format == "jpeg" {
		if img, err = jpeg.Decode(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("%w: jpeg: %w", ErrFormat, err)
		}
	} else if img, err = png.Decode(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err) // png errors start with "png:"
	}
	return toRGB(img), nil
}

// DecodeBase64Image is DecodeBase64 followed by Decode.
func DecodeBase64Image(s string, maxPixels int) (*RGB, error) {
	data, err := DecodeBase64(s)
	if err != nil {
		return nil, err
	}
	return Decode(data, maxPixels)
}

// toRGB converts a decoded image to RGB as Pillow's convert("RGB") does.
func toRGB(img image.Image) *RGB {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := NewRGB(w, h)
	p := out.Pix
	switch m := img.(type) {
	case *image.YCbCr:
		return ycbcrToRGB(m)
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				i := (y*w + x) * 3
				p[i], p[i+1], p[i+2] = row[x], row[x], row[x]
			}
		}
	case *image.RGBA:
		// Opaque PNGs decode to premultiplied RGBA with alpha 255.
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				px := row[x*4 : x*4+4]
				if px[3] == 255 {
					copy(p[(y*w+x)*3:], px[:3])
					continue
				}
				n := color.NRGBAModel.Convert(color.RGBA{px[0], px[1], px[2], px[3]}).(color.NRGBA)
				i := (y*w + x) * 3
				p[i], p[i+1], p[i+2] = n.R, n.G, n.B
			}
		}
	case *image.NRGBA:
		// Pillow's RGBA→RGB drops alpha; NRGBA holds the colour unscaled.
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				copy(p[(y*w+x)*3:], row[x*4:x*4+3])
			}
		}
	case *image.Paletted:
		var lut [256][3]uint8 // entries past the palette stay black
		for i, c := range m.Palette {
			if i == len(lut) {
				break
			}
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			lut[i] = [3]uint8{n.R, n.G, n.B}
		}
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				copy(p[(y*w+x)*3:], lut[row[x]][:])
			}
		}
	case *image.Gray16:
		// Pillow opens 16-bit grayscale PNG as mode "I" and clips it to
		// 0..255 when converting to RGB (it does not scale).
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				v := uint16(row[x*2])<<8 | uint16(row[x*2+1])
				g := uint8(min(v, 255))
				i := (y*w + x) * 3
				p[i], p[i+1], p[i+2] = g, g, g
			}
		}
	case *image.NRGBA64:
		// 16-bit colour keeps the high byte, as Pillow's "RGB;16B" unpacker.
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				i := (y*w + x) * 3
				p[i], p[i+1], p[i+2] = row[x*8], row[x*8+2], row[x*8+4]
			}
		}
	default:
		// *image.RGBA (opaque PNG), *image.RGBA64, *image.CMYK and anything
		// else: through Go's colour model, keeping the high byte.
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBA64Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
				i := (y*w + x) * 3
				p[i], p[i+1], p[i+2] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8)
			}
		}
	}
	return out
}
