package kernels

import (
	"math/rand/v2"
	"testing"
)

// Benchmarks pair each Gorgonia kernel (impl=gorgonia) with its plain-Go
// reference (impl=plain) at sizes a miner sees: a 16-image 224×224 batch, 64
// BERT-base embeddings, 16 rows of ImageNet logits.

func benchFloats(n int) []float32 {
	r := rand.New(rand.NewPCG(7, 8))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 3)
	}
	return x
}

func BenchmarkNormalize(b *testing.B) {
	const n, h, w, c = 16, 224, 224, 3
	pix := make([]uint8, n*h*w*c)
	for i := range pix {
		pix[i] = uint8(i * 7)
	}
	p := NormParams{Scale: 1.0 / 255, Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}}
	b.Run("shape=16x224x224x3/impl=gorgonia", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := Normalize(pix, []int{n, h, w, c}, p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("shape=16x224x224x3/impl=plain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			refNormalize(pix, n, h, w, c, p)
		}
	})
}

func benchRows(b *testing.B, name string, rows, cols int, gorgonia func(x []float32, s []int) error, plain func(x []float32)) {
	x := benchFloats(rows * cols)
	shape := []int{rows, cols}
	b.Run(name+"/impl=gorgonia", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := gorgonia(x, shape); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(name+"/impl=plain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			plain(x)
		}
	})
}

func BenchmarkSoftmax(b *testing.B) {
	benchRows(b, "shape=16x1000", 16, 1000,
		func(x []float32, s []int) error { _, err := Softmax(x, s); return err },
		func(x []float32) { refSoftmax(x, 1000) })
}

func BenchmarkSigmoid(b *testing.B) {
	benchRows(b, "shape=16x1000", 16, 1000,
		func(x []float32, s []int) error { _, err := Sigmoid(x, s); return err },
		func(x []float32) { refSigmoid(x) })
}

func BenchmarkArgmax(b *testing.B) {
	benchRows(b, "shape=16x1000", 16, 1000,
		func(x []float32, s []int) error { _, _, err := Argmax(x, s); return err },
		func(x []float32) { refArgmax(x, 1000) })
}

func BenchmarkTopK(b *testing.B) {
	benchRows(b, "shape=16x1000/k=5", 16, 1000,
		func(x []float32, s []int) error { _, _, _, err := TopK(x, s, 5); return err },
		func(x []float32) { refTopK(x, 1000, 5) })
}

func BenchmarkL2Normalize(b *testing.B) {
	benchRows(b, "shape=64x768", 64, 768,
		func(x []float32, s []int) error { _, err := L2Normalize(x, s, DefaultL2Epsilon); return err },
		func(x []float32) { refL2(x, 768, DefaultL2Epsilon) })
}

func BenchmarkClamp(b *testing.B) {
	benchRows(b, "shape=64x768", 64, 768,
		func(x []float32, s []int) error { _, err := Clamp(x, s, -1, 1); return err },
		func(x []float32) { refClamp(x, -1, 1) })
}

func BenchmarkTruncate(b *testing.B) {
	benchRows(b, "shape=64x768/n=256", 64, 768,
		func(x []float32, s []int) error { _, _, err := Truncate(x, s, 256); return err },
		func(x []float32) { refTruncate(x, 768, 256) })
}
