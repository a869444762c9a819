package models

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ModelFile is the file name of a model inside a Triton-style version folder.
const ModelFile = "model.onnx"

// Entry is one model found in the repository folder.
type Entry struct {
	Name string
	// Versions are sorted by version number, ascending.
	Versions []VersionFile
	// ConfigPath is the config file, if there is one.
	ConfigPath string
	Config     Config
	// Err is set when the entry cannot be served at all (a bad config, a
	// name used twice); Versions may still list what was found.
	Err error
}

// VersionFile is one version of a model and the file that holds it.
type VersionFile struct {
	Version int64
	Path    string
}

// Selected returns the versions the model's version policy serves: by
// default the latest one.
func (e *Entry) Selected() []VersionFile {
	p := e.Config.VersionPolicy
	switch {
	case p != nil && p.All != nil:
		return e.Versions
	case p != nil && p.Specific != nil:
		var out []VersionFile
		for _, v := range e.Versions {
			if slices.Contains(p.Specific.Versions, v.Version) {
				out = append(out, v)
			}
		}
		return out
	}
	n := 1
	if p != nil && p.Latest != nil {
		n = p.Latest.NumVersions
	}
	if len(e.Versions) <= n {
		return e.Versions
	}
	return e.Versions[len(e.Versions)-n:]
}

// Scan lists the models in a repository folder. It reads configs but does not
// open model files. A problem with one model is recorded in its Entry; only a
// folder that cannot be read at all is an error.
func Scan(dir string) ([]Entry, error) {
	items, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("scan model repository: %w", err)
	}
	byName := map[string]*Entry{}
	var order []string
	add := func(e *Entry) {
		if prev, dup := byName[e.Name]; dup {
			prev.Err = errors.Join(fmt.Errorf("model name %q is used by both a folder and a .onnx file", e.Name), prev.Err, e.Err)
			return
		}
		byName[e.Name] = e
		order = append(order, e.Name)
	}
	for _, it := range items {
		name := it.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		full := filepath.Join(dir, name)
		info, err := os.Stat(full) // follows symlinks
		if err != nil {
			continue
		}
		switch {
		case info.IsDir():
			if e := scanFolder(name, full); e != nil {
				add(e)
			}
		case strings.HasSuffix(name, ".onnx") && info.Mode().IsRegular():
			stem := strings.TrimSuffix(name, ".onnx")
			if stem == "" {
				continue
			}
			e := &Entry{Name: stem, Versions: []VersionFile{{Version: 1, Path: full}}}
			loadEntryConfig(e, filepath.Join(dir, stem+".yaml"))
			add(e)
		}
	}
	out := make([]Entry, 0, len(order))
	for _, n := range order {
		out = append(out, *byName[n])
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// scanFolder reads a Triton-style model folder; it returns nil for a folder
// that holds no model at all.
func scanFolder(name, dir string) *Entry {
	items, err := os.ReadDir(dir)
	if err != nil {
		return &Entry{Name: name, Err: fmt.Errorf("read model folder: %w", err)}
	}
	e := &Entry{Name: name}
	strayModel := false
	for _, it := range items {
		n := it.Name()
		if strings.HasPrefix(n, ".") {
			continue
		}
		if strings.HasSuffix(n, ".onnx") {
			strayModel = true
			continue
		}
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil || v < 1 || strconv.FormatInt(v, 10) != n {
			continue
		}
		p := filepath.Join(dir, n, ModelFile)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			e.Versions = append(e.Versions, VersionFile{Version: v, Path: p})
		}
	}
	slices.SortFunc(e.Versions, func(a, b VersionFile) int { return cmp.Compare(a.Version, b.Version) })
	if len(e.Versions) == 0 {
		if !strayModel {
			return nil
		}
		e.Err = fmt.Errorf("no %s/<version>/%s found (a folder model keeps each version in a numbered folder)", name, ModelFile)
	}
	loadEntryConfig(e, filepath.Join(dir, "config.yaml"))
	return e
}

func loadEntryConfig(e *Entry, path string) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return
	}
	e.ConfigPath = path
	c, err := LoadConfigFile(path)
	if err != nil {
		e.Err = errors.Join(e.Err, err)
		return
	}
	e.Config = c
}
