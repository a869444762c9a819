package imageproc

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode: it must never panic, must
// return either an image that fills its size or an ErrFormat/ErrTooLarge
// error, and must respect the pixel limit.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(refDir, "images", "*"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil && len(b) < 8<<10 {
			f.Add(b)
		}
	}
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Add([]byte{0xff, 0xd8, 0xff})
	const limit = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Decode(data, limit)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if img.Width*img.Height > limit || img.check() != nil {
			t.Fatalf("bad image %d×%d, %d bytes", img.Width, img.Height, len(img.Pix))
		}
	})
}
