package imageproc

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestDecodeBase64(t *testing.T) {
	raw := []byte{0xfb, 0xff, 0xfe, 0x00, 0x01, 0x3e, 0x3f}
	std := base64.StdEncoding.EncodeToString(raw)
	url := base64.URLEncoding.EncodeToString(raw)
	tests := []struct {
		name, in string
		want     []byte
		err      error
	}{
		{"std padded", std, raw, nil},
		{"std raw", base64.RawStdEncoding.EncodeToString(raw), raw, nil},
		{"url padded", url, raw, nil},
		{"url raw", base64.RawURLEncoding.EncodeToString(raw), raw, nil},
		{"data uri", "data:image/jpeg;base64," + std, raw, nil},
		{"data uri url", "data:image/png;base64," + url, raw, nil},
		{"line breaks", std[:4] + "\r\n" + std[4:] + "\n", raw, nil},
		{"empty", "", []byte{}, nil},
		{"mixed alphabets", "+/-_", nil, ErrBase64},
		{"bad char", "ab*d", nil, ErrBase64},
		{"truncated", std[:5], nil, ErrBase64},
		{"data uri not base64", "data:text/plain,hello", nil, ErrBase64},
		{"data uri no comma", "data:image/png;base64", nil, ErrBase64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeBase64(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("DecodeBase64(%q) error %v, want %v", tt.in, err, tt.err)
			}
			if err == nil && !bytes.Equal(got, tt.want) {
				t.Fatalf("DecodeBase64(%q) = %x, want %x", tt.in, got, tt.want)
			}
		})
	}
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeErrors(t *testing.T) {
	small := encodePNG(t, image.NewNRGBA(image.Rect(0, 0, 40, 30)))
	jpeg := readRef(t, "images/jpeg_420_300x200.jpg")
	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, image.NewPaletted(image.Rect(0, 0, 2, 2), color.Palette{color.Black, color.White}), nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		data      []byte
		maxPixels int
		err       error
	}{
		{"empty", nil, 0, ErrFormat},
		{"text", []byte("hello, this is not an image"), 0, ErrFormat},
		{"gif", gifBuf.Bytes(), 0, ErrFormat},
		{"png truncated", small[:len(small)/2], 0, ErrFormat},
		{"png header only", small[:33], 0, ErrFormat},
		{"jpeg truncated", jpeg[:len(jpeg)/3], 0, ErrFormat},
		{"jpeg corrupt", corrupt(jpeg), 0, ErrFormat},
		{"png too large", small, 40*30 - 1, ErrTooLarge},
		{"jpeg too large", jpeg, 300*200 - 1, ErrTooLarge},
		{"png at limit", small, 40 * 30, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.data, tt.maxPixels)
			if !errors.Is(err, tt.err) {
				t.Fatalf("got error %v, want %v", err, tt.err)
			}
			if err != nil {
				t.Logf("%v", err)
			}
		})
	}
}

// corrupt damages the entropy-coded data after the JPEG headers.
func corrupt(b []byte) []byte {
	c := append([]byte(nil), b...)
	sos := bytes.Index(c, []byte{0xff, 0xda})
	for i := sos + 20; i < len(c)-2; i += 7 {
		c[i] = 0xff
	}
	return c
}

// TestDecodeHugeHeader checks that the pixel limit is applied from the
// header alone: a PNG that declares 100000×100000 pixels is refused without
// trying to allocate them.
func TestDecodeHugeHeader(t *testing.T) {
	b := encodePNG(t, image.NewGray(image.Rect(0, 0, 1, 1)))
	// IHDR width and height live at bytes 16..23, its CRC at 29..32.
	for _, off := range []int{16, 20} {
		b[off], b[off+1], b[off+2], b[off+3] = 0, 1, 0x86, 0xa0
	}
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	_, err := Decode(b, 0)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
}

func TestDecodeBase64Image(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	img.Set(0, 0, color.NRGBA{10, 20, 30, 0}) // alpha dropped, colour kept
	img.Set(1, 0, color.NRGBA{200, 100, 50, 255})
	s := "data:image/png;base64," + base64.URLEncoding.EncodeToString(encodePNG(t, img))
	got, err := DecodeBase64Image(s, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint8{10, 20, 30, 200, 100, 50}; !bytes.Equal(got.Pix, want) {
		t.Fatalf("got %v, want %v", got.Pix, want)
	}
	if _, err := DecodeBase64Image("!!", 0); !errors.Is(err, ErrBase64) {
		t.Fatalf("got %v, want ErrBase64", err)
	}
}

func TestShortestEdgeSize(t *testing.T) {
	tests := []struct{ w, h, s, wantW, wantH int }{
		{300, 200, 224, 336, 224},
		{200, 300, 224, 224, 336},
		{640, 480, 224, 298, 224}, // 298.67 truncated
		{480, 640, 256, 256, 341}, // 341.33 truncated
		{37, 23, 48, 77, 48},      // 77.2
		{100, 100, 224, 224, 224},
		{1, 1000, 10, 10, 10000},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%dx%d/%d", tt.w, tt.h, tt.s), func(t *testing.T) {
			w, h, err := ShortestEdgeSize(tt.w, tt.h, tt.s)
			if err != nil || w != tt.wantW || h != tt.wantH {
				t.Fatalf("got %d×%d (%v), want %d×%d", w, h, err, tt.wantW, tt.wantH)
			}
		})
	}
	if _, _, err := ShortestEdgeSize(0, 10, 5); !errors.Is(err, ErrSize) {
		t.Fatalf("got %v, want ErrSize", err)
	}
}

// ramp returns a w×h image whose pixel (x, y) is (x, y, 7).
func ramp(w, h int) *RGB {
	m := NewRGB(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			copy(m.Pix[(y*w+x)*3:], []uint8{uint8(x), uint8(y), 7})
		}
	}
	return m
}

func TestCenterCrop(t *testing.T) {
	tests := []struct {
		name            string
		w, h, cw, ch    int
		firstX, firstY  int  // source pixel at output (0,0), or -1 for padding
		padLeft, padTop int  // black columns/rows at the top-left
		wantBlackCorner bool // output (0,0) is padding
	}{
		{"inside even", 10, 8, 4, 4, 3, 2, 0, 0, false},
		{"inside odd margin", 11, 9, 4, 4, 3, 2, 0, 0, false}, // (11-4)//2 = 3
		{"same", 5, 5, 5, 5, 0, 0, 0, 0, false},
		{"pad both", 3, 2, 6, 5, 0, 0, 2, 2, true}, // ceil(3/2)=2 left, ceil(3/2)=2 top
		{"pad width crop height", 3, 9, 4, 4, 0, 2, 1, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CenterCrop(ramp(tt.w, tt.h), tt.cw, tt.ch)
			if err != nil {
				t.Fatal(err)
			}
			if got.Width != tt.cw || got.Height != tt.ch {
				t.Fatalf("got %d×%d", got.Width, got.Height)
			}
			at := func(x, y int) []uint8 { return got.Pix[(y*tt.cw+x)*3 : (y*tt.cw+x)*3+3] }
			if tt.wantBlackCorner != bytes.Equal(at(0, 0), []uint8{0, 0, 0}) {
				t.Fatalf("corner %v, padding expected %v", at(0, 0), tt.wantBlackCorner)
			}
			if want := []uint8{uint8(tt.firstX), uint8(tt.firstY), 7}; !bytes.Equal(at(tt.padLeft, tt.padTop), want) {
				t.Fatalf("pixel (%d,%d) = %v, want %v", tt.padLeft, tt.padTop, at(tt.padLeft, tt.padTop), want)
			}
		})
	}
}

func TestResizeBasics(t *testing.T) {
	src := ramp(9, 4)
	same, err := Resize(src, 9, 4, Bicubic)
	if err != nil || !bytes.Equal(same.Pix, src.Pix) || &same.Pix[0] == &src.Pix[0] {
		t.Fatalf("same-size resize must return an equal copy (err %v)", err)
	}
	// A constant image stays constant under both filters, any size.
	flat := NewRGB(7, 5)
	for i := range flat.Pix {
		flat.Pix[i] = 200
	}
	for _, f := range []Filter{Bilinear, Bicubic} {
		for _, s := range [][2]int{{1, 1}, {3, 2}, {14, 10}, {50, 3}} {
			out, err := Resize(flat, s[0], s[1], f)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range out.Pix {
				if v != 200 {
					t.Fatalf("%v %v: byte %d = %d", f, s, i, v)
				}
			}
		}
	}
	for _, tt := range []struct {
		name string
		img  *RGB
		w, h int
		f    Filter
	}{
		{"zero width", src, 0, 3, Bilinear},
		{"negative height", src, 3, -1, Bicubic},
		{"nil image", nil, 3, 3, Bilinear},
		{"short pixels", &RGB{Width: 3, Height: 3, Pix: make([]uint8, 26)}, 3, 3, Bilinear},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Resize(tt.img, tt.w, tt.h, tt.f); !errors.Is(err, ErrSize) {
				t.Fatalf("got %v, want ErrSize", err)
			}
		})
	}
	if _, err := Resize(src, 3, 3, Filter(9)); err == nil {
		t.Fatal("unknown filter accepted")
	}
}

func BenchmarkResize(b *testing.B) {
	src := ramp(640, 480)
	for _, f := range []Filter{Bilinear, Bicubic} {
		b.Run(fmt.Sprintf("640x480to224x224/filter=%v", f), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Resize(src, 224, 224, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeJPEG(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(refDir, "images/jpeg_420_300x200.jpg"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data, 0); err != nil {
			b.Fatal(err)
		}
	}
}
