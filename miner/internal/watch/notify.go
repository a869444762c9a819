package watch

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fsnotify/fsnotify"
)

// notifier delivers file events for the repository folder, its model
// folders and their version folders (file events are not recursive, so
// each folder is watched on its own and folders are added as they appear).
// The zero notifier delivers nothing.
type notifier struct {
	fsw    *fsnotify.Watcher
	events <-chan fsnotify.Event
	errs   <-chan error
}

func newNotifier(dir string) (*notifier, error) {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("start file events: %w", err)
	}
	if err := fsw.Add(dir); err != nil {
		fsw.Close()
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	return &notifier{fsw: fsw, events: fsw.Events, errs: fsw.Errors}, nil
}

func (n *notifier) close() {
	if n.fsw != nil {
		n.fsw.Close()
	}
}

// track watches the folders that exist now and drops those that are gone.
// Errors are ignored: the periodic rescan covers a folder not watched.
func (n *notifier) track(dir string) {
	if n.fsw == nil {
		return
	}
	want := folders(dir)
	have := n.fsw.WatchList()
	for _, d := range want {
		if !slices.Contains(have, d) {
			_ = n.fsw.Add(d)
		}
	}
	for _, d := range have {
		if !slices.Contains(want, d) {
			_ = n.fsw.Remove(d)
		}
	}
}

// folders lists dir and the folders the engine reads in it: model folders
// and their version folders, skipping names that start with a dot.
func folders(dir string) []string {
	out := []string{dir}
	for _, model := range subfolders(dir) {
		out = append(out, model)
		out = append(out, subfolders(model)...)
	}
	return out
}

func subfolders(dir string) []string {
	items, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, it := range items {
		if strings.HasPrefix(it.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, it.Name())
		if st, err := os.Stat(p); err == nil && st.IsDir() { // follows symlinks
			out = append(out, p)
		}
	}
	return out
}

// relevant reports whether an event may change what the folder serves:
// names starting with a dot (temporary files) and permission changes do
// not.
func relevant(ev fsnotify.Event) bool {
	if strings.HasPrefix(filepath.Base(ev.Name), ".") {
		return false
	}
	return ev.Op&^fsnotify.Chmod != 0
}
