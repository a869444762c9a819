package imageproc

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The reference data in ../testdata was made by gen_reference.py with
// Debian's python3-pil and python3-numpy; index.json records the versions.

type refIndex struct {
	Pillow string `json:"pillow"`
	Numpy  string `json:"numpy"`
	Images []struct {
		Name        string `json:"name"`
		File        string `json:"file"`
		Format      string `json:"format"`
		PILMode     string `json:"pil_mode"`
		Width       int    `json:"width"`
		Height      int    `json:"height"`
		RGB         string `json:"rgb"`
		Subsampling int    `json:"subsampling"`
		Progressive bool   `json:"progressive"`
	} `json:"images"`
	Resizes []struct {
		Src    string `json:"src"`
		Filter string `json:"filter"`
		Width  int    `json:"width"`
		Height int    `json:"height"`
		RGB    string `json:"rgb"`
	} `json:"resizes"`
	Normalized []struct {
		Name     string   `json:"name"`
		Src      string   `json:"src"`
		Steps    []string `json:"steps"`
		InputRGB string   `json:"input_rgb"`
		InputHWC []int    `json:"input_hwc"`
	} `json:"normalized"`
}

const refDir = "../testdata"

func loadIndex(t *testing.T) *refIndex {
	t.Helper()
	var idx refIndex
	if err := json.Unmarshal(readRef(t, "index.json"), &idx); err != nil {
		t.Fatal(err)
	}
	t.Logf("reference data from Pillow %s, numpy %s", idx.Pillow, idx.Numpy)
	return &idx
}

func readRef(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(refDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pilDecoded returns the PIL-decoded RGB of the named source image.
func pilDecoded(t *testing.T, idx *refIndex, name string) *RGB {
	t.Helper()
	for _, im := range idx.Images {
		if im.Name == name {
			return &RGB{Width: im.Width, Height: im.Height, Pix: readRef(t, im.RGB)}
		}
	}
	t.Fatalf("no reference image %q", name)
	return nil
}

// diffStats returns the largest absolute byte difference, how many bytes
// differ, and the first differing index (-1 if none).
func diffStats(got, want []uint8) (maxDiff, n, first int) {
	first = -1
	for i := range got {
		d := int(got[i]) - int(want[i])
		if d < 0 {
			d = -d
		}
		if d != 0 {
			n++
			if first < 0 {
				first = i
			}
		}
		maxDiff = max(maxDiff, d)
	}
	return maxDiff, n, first
}

func TestDecodePNGMatchesPillow(t *testing.T) {
	idx := loadIndex(t)
	for _, im := range idx.Images {
		if im.Format != "PNG" {
			continue
		}
		t.Run(im.Name, func(t *testing.T) {
			got, err := Decode(readRef(t, im.File), 0)
			if err != nil {
				t.Fatal(err)
			}
			want := readRef(t, im.RGB)
			if got.Width != im.Width || got.Height != im.Height || len(got.Pix) != len(want) {
				t.Fatalf("got %d×%d, want %d×%d", got.Width, got.Height, im.Width, im.Height)
			}
			if m, n, first := diffStats(got.Pix, want); n > 0 {
				t.Fatalf("PIL mode %s: %d bytes differ (max %d), first at pixel %d: got %v, want %v",
					im.PILMode, n, m, first/3, got.Pix[first/3*3:first/3*3+3], want[first/3*3:first/3*3+3])
			}
		})
	}
}

// jpegMaxDiff bounds |Go − Pillow| per channel byte for JPEG decoding. The
// two inverse DCTs (Go's image/jpeg and libjpeg-turbo's islow) round
// differently; chroma upsampling and colour conversion follow libjpeg-turbo
// (jpeg.go). Measured on the reference images: see the test log.
const jpegMaxDiff = 3

func TestDecodeJPEGVsPillow(t *testing.T) {
	idx := loadIndex(t)
	for _, im := range idx.Images {
		if im.Format != "JPEG" {
			continue
		}
		t.Run(im.Name, func(t *testing.T) {
			got, err := Decode(readRef(t, im.File), 0)
			if err != nil {
				t.Fatal(err)
			}
			want := readRef(t, im.RGB)
			if got.Width != im.Width || got.Height != im.Height {
				t.Fatalf("got %d×%d, want %d×%d", got.Width, got.Height, im.Width, im.Height)
			}
			m, n, _ := diffStats(got.Pix, want)
			t.Logf("%s (subsampling %d, progressive %v): max |Go - PIL| = %d, %.2f%% of bytes differ",
				im.Name, im.Subsampling, im.Progressive, m, 100*float64(n)/float64(len(want)))
			if m > jpegMaxDiff {
				t.Fatalf("max difference %d > %d", m, jpegMaxDiff)
			}
		})
	}
}

func TestResizeMatchesPillow(t *testing.T) {
	idx := loadIndex(t)
	filters := map[string]Filter{"BILINEAR": Bilinear, "BICUBIC": Bicubic}
	for _, r := range idx.Resizes {
		name := strings.TrimSuffix(filepath.Base(r.RGB), ".rgb")
		t.Run(name, func(t *testing.T) {
			src := pilDecoded(t, idx, r.Src)
			got, err := Resize(src, r.Width, r.Height, filters[r.Filter])
			if err != nil {
				t.Fatal(err)
			}
			want := readRef(t, r.RGB)
			if len(got.Pix) != len(want) {
				t.Fatalf("got %d bytes, want %d", len(got.Pix), len(want))
			}
			if m, n, first := diffStats(got.Pix, want); n > 0 {
				p := first / 3
				t.Fatalf("%d×%d→%d×%d %s: %d bytes differ (max %d), first at (%d,%d) channel %d: got %d, want %d",
					src.Width, src.Height, r.Width, r.Height, r.Filter, n, m, p%r.Width, p/r.Width, first%3, got.Pix[first], want[first])
			}
		})
	}
}

// TestProcessorPipelines redoes the resize (and crop) steps recorded for the
// normalised references: the uint8 input numpy normalised must come out of
// the Go pipeline byte for byte.
func TestProcessorPipelines(t *testing.T) {
	idx := loadIndex(t)
	pipelines := map[string]func(*RGB) (*RGB, error){
		"vit_64x64": func(m *RGB) (*RGB, error) { return Resize(m, 64, 64, Bilinear) },
		"clip_48": func(m *RGB) (*RGB, error) {
			r, err := ResizeShortestEdge(m, 48, Bicubic)
			if err != nil {
				return nil, err
			}
			return CenterCrop(r, 48, 48)
		},
		"raw_37x23": func(m *RGB) (*RGB, error) { return m, nil },
	}
	for _, n := range idx.Normalized {
		t.Run(n.Name, func(t *testing.T) {
			f, ok := pipelines[n.Name]
			if !ok {
				t.Fatalf("no Go pipeline for %q (%v)", n.Name, n.Steps)
			}
			got, err := f(pilDecoded(t, idx, n.Src))
			if err != nil {
				t.Fatal(err)
			}
			want := readRef(t, n.InputRGB)
			if got.Height != n.InputHWC[0] || got.Width != n.InputHWC[1] {
				t.Fatalf("got %d×%d, want %v", got.Width, got.Height, n.InputHWC)
			}
			if m, c, _ := diffStats(got.Pix, want); c > 0 {
				t.Fatalf("%v: %d bytes differ, max %d", n.Steps, c, m)
			}
		})
	}
}
