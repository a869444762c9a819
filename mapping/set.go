package mapping

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/taominer/taominer/api/axon"
)

// FileName is the mapping file inside a Triton-style model folder
// (<repo>/<model>/synapse.yaml); a dropped-in <repo>/<model>.onnx takes
// <repo>/<model>.synapse.yaml.
const FileName = "synapse.yaml"

// flatSuffix ends a dropped-in model's mapping file name.
const flatSuffix = ".synapse.yaml"

// SetOptions configure a Set.
type SetOptions struct {
	// Dir is the model repository folder.
	Dir string
	// Inferer runs the models (the engine, or the Redis front).
	Inferer axon.Inferer
	// Load holds what mappings need to load (the tokenizer hook).
	Load   Options
	Logger *slog.Logger
	// OnFallback, when set, is told about every synapse answered with fallback values.
	OnFallback FallbackObserver
}

// Set holds the mappings of a model folder and answers the axon's kind
// lookups (it is an axon.KindSource). It is safe for concurrent use.
type Set struct {
	opt   SetOptions
	log   *slog.Logger
	mu    sync.Mutex // serialises Sync
	files map[string]*loaded
	kinds atomic.Pointer[table]
}

// loaded is one mapping file's state: the fingerprint last read, the
// mapping serving (nil if none ever loaded) and the last error.
type loaded struct {
	print string
	m     *Mapping
	err   error
}

type table struct {
	byName map[string]*axon.Kind
	owner  map[string]string // route → mapping file
	names  []string
	// epistula holds the Epistula routes by "METHOD /path"; methods the
	// methods of each path.
	epistula map[string]http.Handler
	methods  map[string][]string
}

// NewSet returns an empty set; call Sync to read the folder.
func NewSet(opt SetOptions) *Set {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Set{opt: opt, log: opt.Logger, files: map[string]*loaded{}}
	s.kinds.Store(&table{byName: map[string]*axon.Kind{}})
	return s
}

// Route returns the handler of an Epistula route declared by a mapping
// file (key epistula), or nil and the methods the path has routes for (it
// is an epistula.Router).
func (s *Set) Route(method, path string) (http.Handler, []string) {
	t := s.kinds.Load()
	if h, ok := t.epistula[method+" "+path]; ok {
		return h, nil
	}
	return nil, t.methods[path]
}

// EpistulaRoutes lists the Epistula routes served ("METHOD /path"), sorted.
func (s *Set) EpistulaRoutes() []string {
	t := s.kinds.Load()
	out := make([]string, 0, len(t.epistula))
	for k := range t.epistula {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Kind returns the kind serving route name.
func (s *Set) Kind(name string) (*axon.Kind, bool) {
	k, ok := s.kinds.Load().byName[name]
	return k, ok
}

// KindNames lists the routes served, sorted.
func (s *Set) KindNames() []string { return s.kinds.Load().names }

// Errors returns the last load error of each mapping file that has one.
func (s *Set) Errors() map[string]error {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]error{}
	for p, l := range s.files {
		if l.err != nil {
			out[p] = l.err
		}
	}
	return out
}

// Run syncs the folder every interval until ctx ends.
func (s *Set) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.Sync()
		}
	}
}

// Sync reads the mapping files of the folder: new and changed files are
// (re)loaded, removed ones dropped. A file that fails to load is logged and
// its error kept; the mapping it had before keeps serving. A route claimed
// by two models stays with the one that served it first (at startup: the
// model whose name sorts first); the other mapping's error says so. It returns the errors of this pass.
func (s *Set) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	found := s.find()
	var errs []error
	for path := range s.files {
		if _, ok := found[path]; !ok {
			s.log.Info("synapse mapping removed", "file", path)
			delete(s.files, path)
		}
	}
	for path, model := range found {
		print := s.fingerprint(path, s.files[path])
		l := s.files[path]
		if l != nil && l.print == print {
			continue
		}
		if l == nil {
			l = &loaded{}
			s.files[path] = l
		}
		m, err := LoadFile(path, model, s.opt.Load)
		if err == nil {
			l.print = s.fingerprint(path, &loaded{m: m})
		} else {
			l.print = print
		}
		if err != nil {
			l.err = err
			errs = append(errs, err)
			if l.m != nil {
				s.log.Error("synapse mapping reload failed; the previous mapping keeps serving", "file", path, "error", err)
			} else {
				s.log.Error("synapse mapping failed to load", "file", path, "error", err)
			}
			continue
		}
		l.m, l.err = m, nil
		names := make([]string, 0, len(m.Routes)+len(m.Epistula))
		for _, r := range m.Routes {
			names = append(names, r.Name)
		}
		for _, r := range m.Epistula {
			names = append(names, "epistula "+r.String())
		}
		s.log.Info("synapse mapping loaded", "file", path, "model", model, "synapses", names)
	}
	errs = append(errs, s.publish()...)
	return errors.Join(errs...)
}

// publish rebuilds the route table from the loaded mappings, models in
// name order.
func (s *Set) publish() []error {
	paths := make([]string, 0, len(s.files))
	for p, l := range s.files {
		if l.m != nil {
			paths = append(paths, p)
		}
	}
	// Mappings that served a route before keep it; then model name order.
	prev := s.kinds.Load()
	served := func(p string) int {
		m := s.files[p].m
		for _, r := range m.Routes {
			if prev.owner[r.Name] == p {
				return 0
			}
		}
		for _, r := range m.Epistula {
			if prev.owner[r.String()] == p {
				return 0
			}
		}
		return 1
	}
	slices.SortFunc(paths, func(a, b string) int {
		if c := served(a) - served(b); c != 0 {
			return c
		}
		return strings.Compare(s.files[a].m.Model, s.files[b].m.Model)
	})
	t := &table{byName: map[string]*axon.Kind{}, owner: map[string]string{},
		epistula: map[string]http.Handler{}, methods: map[string][]string{}}
	owner := map[string]string{}
	var errs []error
	for _, p := range paths {
		m := s.files[p].m
		for _, k := range m.Kinds(s.opt.Inferer, s.log, s.opt.OnFallback) {
			if prev, dup := owner[k.Name]; dup {
				err := &FileError{File: p, Msg: fmt.Sprintf("synapse %q is already served by model %q", k.Name, prev)}
				s.files[p].err = err
				errs = append(errs, err)
				s.log.Error("synapse mapping route conflict", "file", p, "error", err)
				continue
			}
			owner[k.Name] = m.Model
			t.owner[k.Name] = p
			t.byName[k.Name] = k
			t.names = append(t.names, k.Name)
		}
		for _, r := range m.Epistula {
			key := r.String()
			if prev, dup := owner[key]; dup {
				err := &FileError{File: p, Msg: fmt.Sprintf("epistula route %s is already served by model %q", key, prev)}
				s.files[p].err = err
				errs = append(errs, err)
				s.log.Error("synapse mapping route conflict", "file", p, "error", err)
				continue
			}
			owner[key] = m.Model
			t.owner[key] = p
			t.epistula[key] = m.EpistulaHandler(key, s.opt.Inferer, s.log, s.opt.OnFallback)
			t.methods[r.Path] = append(t.methods[r.Path], r.Method)
		}
	}
	slices.Sort(t.names)
	s.kinds.Store(t)
	return errs
}

// find lists the mapping files of the folder with their model names.
func (s *Set) find() map[string]string {
	out := map[string]string{}
	items, err := os.ReadDir(s.opt.Dir)
	if err != nil {
		return out
	}
	for _, it := range items {
		name := it.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		full := filepath.Join(s.opt.Dir, name)
		if st, err := os.Stat(full); err == nil && st.IsDir() {
			if st, err := os.Stat(filepath.Join(full, FileName)); err == nil && st.Mode().IsRegular() {
				out[filepath.Join(full, FileName)] = name
			}
			continue
		}
		if stem, ok := strings.CutSuffix(name, flatSuffix); ok && stem != "" {
			out[full] = stem
		}
	}
	return out
}

// fingerprint identifies the content of a mapping file and the files it
// read (size and modification time).
func (s *Set) fingerprint(path string, l *loaded) string {
	files := []string{path}
	if l != nil && l.m != nil {
		files = append(files, l.m.deps...)
	}
	var b strings.Builder
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			fmt.Fprintf(&b, "%s:%d:%d;", f, st.Size(), st.ModTime().UnixNano())
		} else {
			fmt.Fprintf(&b, "%s:missing;", f)
		}
	}
	return b.String()
}
