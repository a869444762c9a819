// Package onnx is the ONNX Runtime backend: it finds and initialises the
// runtime's shared library, reads a model's inputs and outputs, and runs
// merged batches through github.com/yalue/onnxruntime_go.
package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// LibraryNames are the file names tried for the runtime library, newest
// convention first.
var LibraryNames = []string{"libonnxruntime.so.1", "libonnxruntime.so"}

// CacheDir is where `make onnxruntime` puts the library, relative to the
// repository root.
const CacheDir = ".cache/onnxruntime"

// ErrLibraryNotFound is returned by FindLibrary when no candidate exists.
var ErrLibraryNotFound = errors.New("ONNX Runtime library not found: run `make onnxruntime` (it unpacks libonnxruntime.so.1 from the npm package onnxruntime-node@1.30.0 into .cache/onnxruntime/) or pass --onnxruntime-lib / TAOMINER_ONNXRUNTIME_LIB")

// FindLibrary returns the path of the ONNX Runtime library to load, in this
// order: the explicit path; beside the running binary; .cache/onnxruntime/ in
// the working directory or its parents up to the one holding go.mod; then a
// bare file name, which the dynamic loader resolves through the system's
// library paths (when one of LibraryNames is found there).
func FindLibrary(explicit string) (string, error) {
	if explicit != "" {
		if _, err := os.Stat(explicit); err != nil {
			return "", fmt.Errorf("onnxruntime library %s: %w", explicit, err)
		}
		return explicit, nil
	}
	var dirs []string
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(exe))
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			dirs = append(dirs, filepath.Join(d, CacheDir))
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, d := range dirs {
		for _, n := range LibraryNames {
			p := filepath.Join(d, n)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				return p, nil
			}
		}
	}
	for _, d := range systemLibraryDirs() {
		for _, n := range LibraryNames {
			if _, err := os.Stat(filepath.Join(d, n)); err == nil {
				return n, nil
			}
		}
	}
	return "", ErrLibraryNotFound
}

// systemLibraryDirs lists LD_LIBRARY_PATH and the usual loader directories.
func systemLibraryDirs() []string {
	dirs := filepath.SplitList(os.Getenv("LD_LIBRARY_PATH"))
	return append(dirs, "/usr/local/lib", "/usr/lib", "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64")
}
