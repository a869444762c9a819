package watch

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replace writes text under a temporary dot-name and renames it onto path.
func replace(t *testing.T, path, text string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	write(t, tmp, text)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestFingerprints checks which edits of a real folder change a model's
// fingerprint.
func TestFingerprints(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(t *testing.T, dir string)
		changed []string // models whose fingerprint changes
		gone    []string // models no longer in the snapshot
	}{
		{"nothing", func(*testing.T, string) {}, nil, nil},
		{"dot-file and other names ignored", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, ".c.onnx"), "temp")
			write(t, filepath.Join(dir, "notes.txt"), "x")
			write(t, filepath.Join(dir, "m", ".tmp-3", "model.onnx"), "temp")
		}, nil, nil},
		{"file grows", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "a.onnx"), "AAAA-more")
		}, []string{"a"}, nil},
		{"same size and time, renamed into place", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "a.onnx")
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			replace(t, p, "BBBB")
			if err := os.Chtimes(p, st.ModTime(), st.ModTime()); err != nil {
				t.Fatal(err)
			}
		}, []string{"a"}, nil},
		{"dropped-in config", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "a.yaml"), "max_batch_size: 4\n")
		}, []string{"a"}, nil},
		{"folder config", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "m", "config.yaml"), "max_batch_size: 4\n")
		}, []string{"m"}, nil},
		{"new version", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "m", "2", "model.onnx"), "v2")
		}, []string{"m"}, nil},
		{"version the policy does not select", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "m", "config.yaml"), "version_policy: {specific: {versions: [1]}}\n")
			before, err := Fingerprints(dir)
			if err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(dir, "m", "2", "model.onnx"), "v2")
			after, err := Fingerprints(dir)
			if err != nil {
				t.Fatal(err)
			}
			if before["m"] != after["m"] {
				t.Errorf("an unselected version changed the fingerprint:\n%s\n%s", before["m"], after["m"])
			}
		}, []string{"m"}, nil},
		{"removed", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "a.onnx")); err != nil {
				t.Fatal(err)
			}
		}, nil, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "a.onnx"), "AAAA")
			write(t, filepath.Join(dir, "b.onnx"), "BBBB")
			write(t, filepath.Join(dir, "m", "1", "model.onnx"), "v1")
			before, err := Fingerprints(dir)
			if err != nil {
				t.Fatal(err)
			}
			if again, _ := Fingerprints(dir); !mapsEqual(before, again) {
				t.Fatalf("two scans of an unchanged folder differ: %v / %v", before, again)
			}
			tt.edit(t, dir)
			after, err := Fingerprints(dir)
			if err != nil {
				t.Fatal(err)
			}
			var changed, gone []string
			for name, fp := range before {
				switch now, ok := after[name]; {
				case !ok:
					gone = append(gone, name)
				case now != fp:
					changed = append(changed, name)
				}
			}
			slices.Sort(changed)
			slices.Sort(gone)
			if !slices.Equal(changed, tt.changed) || !slices.Equal(gone, tt.gone) {
				t.Errorf("changed %v, gone %v; want %v, %v", changed, gone, tt.changed, tt.gone)
			}
		})
	}
	if _, err := Fingerprints(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Errorf("Fingerprints of a missing folder: no error")
	}
}

func mapsEqual(a, b Snapshot) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestRunFileEvents runs the watcher on a real folder with file events and
// no periodic rescan: a model dropped in, a new model folder, a version
// added inside it (a folder that appeared after the start), and a removal
// are all followed.
func TestRunFileEvents(t *testing.T) {
	dir := t.TempDir()
	repo := &chanRepo{calls: make(chan string, 16)}
	w := New(repo, nil, Options{Dir: dir, Debounce: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := w.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	defer wg.Wait()
	defer cancel()
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-repo.calls:
			if got != want {
				t.Fatalf("call %q, want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no call %q within 10s", want)
		}
	}
	replace(t, filepath.Join(dir, "a.onnx"), "A")
	expect("load a")
	tmp := filepath.Join(dir, ".m")
	write(t, filepath.Join(tmp, "1", "model.onnx"), "v1")
	if err := os.Rename(tmp, filepath.Join(dir, "m")); err != nil {
		t.Fatal(err)
	}
	expect("load m") // the scan that found m watched m and m/1 first
	write(t, filepath.Join(dir, "m", ".2", "model.onnx"), "v2")
	if err := os.Rename(filepath.Join(dir, "m", ".2"), filepath.Join(dir, "m", "2")); err != nil {
		t.Fatal(err)
	}
	expect("load m")
	if err := os.Remove(filepath.Join(dir, "a.onnx")); err != nil {
		t.Fatal(err)
	}
	expect("remove a")
}

// chanRepo sends each call on a channel.
type chanRepo struct{ calls chan string }

func (r *chanRepo) Load(_ context.Context, name string) error {
	r.calls <- "load " + name
	return nil
}

func (r *chanRepo) Remove(_ context.Context, name string) error {
	r.calls <- "remove " + name
	return nil
}
