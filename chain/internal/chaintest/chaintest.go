// Package chaintest gives the chain packages' tests access to the shared fixtures in
// chain/testdata/subtensor (recorded finney traffic, runtime metadata and signing vectors).
package chaintest

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Dir returns the absolute path of chain/testdata/subtensor.
func Dir(tb testing.TB) string {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("chaintest: cannot locate source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "subtensor")
}

// Read returns the content of a fixture file.
func Read(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(tb), name))
	if err != nil {
		tb.Fatalf("chaintest: %v", err)
	}
	return b
}

// Hex decodes a 0x-prefixed (or bare) hex string, failing the test on bad input.
func Hex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(s), "0x"))
	if err != nil {
		tb.Fatalf("chaintest: bad hex %.40q: %v", s, err)
	}
	return b
}

// MetadataBlob returns the raw "meta"-prefixed metadata bytes of a fixture: .scale files are
// returned as is, .hex files are hex-decoded, and the v15 at-version file is unwrapped from its
// Option<OpaqueMetadata> envelope.
func MetadataBlob(tb testing.TB, name string) []byte {
	tb.Helper()
	b := Read(tb, name)
	if strings.HasSuffix(name, ".hex") {
		b = Hex(tb, string(b))
	}
	return b
}

// MetadataFiles lists the metadata fixtures with the spec and metadata version each holds.
var MetadataFiles = []struct {
	Name    string
	Spec    uint32
	Version uint8
	Opaque  bool // wrapped as Option<OpaqueMetadata> (Metadata_metadata_at_version result)
}{
	{"metadata-spec218-v14.scale", 218, 14, false},
	{"metadata-spec300-v14.scale", 300, 14, false},
	{"metadata_v14_spec343.hex", 343, 14, false},
	{"metadata_at_version15_spec343.hex", 343, 15, true},
	{"metadata-spec346-v16.scale", 346, 16, false},
	{"metadata-spec381-v16.scale", 381, 16, false},
}
