package imageproc

import "fmt"

// RGB is an 8-bit RGB image stored interleaved, row by row (HWC): the pixel
// at (x, y) is Pix[(y*Width+x)*3 : (y*Width+x)*3+3].
type RGB struct {
	Width, Height int
	Pix           []uint8
}

// NewRGB returns a black w×h image.
func NewRGB(w, h int) *RGB {
	return &RGB{Width: w, Height: h, Pix: make([]uint8, w*h*3)}
}

// Shape returns the image's HWC shape, [Height, Width, 3].
func (m *RGB) Shape() []int { return []int{m.Height, m.Width, 3} }

func (m *RGB) check() error {
	if m == nil || m.Width < 1 || m.Height < 1 || len(m.Pix) != m.Width*m.Height*3 {
		if m == nil {
			return fmt.Errorf("%w: nil image", ErrSize)
		}
		return fmt.Errorf("%w: %d×%d image with %d bytes", ErrSize, m.Width, m.Height, len(m.Pix))
	}
	return nil
}
