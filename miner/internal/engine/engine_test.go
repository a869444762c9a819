package engine

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/front"
	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/tensor"
)

// fakeOpener opens model files holding "ok <value>": a model with input x
// FP32 [batch,1] whose output y is value for every row. Other content fails
// to open. "ok <value> gate" blocks in Open, after sending the path on
// opening, until gate is closed.
type fakeOpener struct {
	gate    chan struct{}
	opening chan string
	mu      sync.Mutex
	opened  []*fakeSession
}

func (o *fakeOpener) Open(_ context.Context, path string, _ models.Config) (models.IO, models.Session, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return models.IO{}, nil, err
	}
	f := strings.Fields(string(data))
	if len(f) < 2 || f[0] != "ok" {
		return models.IO{}, nil, errors.New("protobuf parsing failed")
	}
	value, err := strconv.ParseFloat(f[1], 32)
	if err != nil {
		return models.IO{}, nil, err
	}
	if len(f) > 2 && f[2] == "gate" {
		o.opening <- path
		<-o.gate
	}
	io := models.IO{
		Inputs:  []models.TensorSpec{{Name: "x", DataType: tensor.FP32, Shape: []int64{-1, 1}}},
		Outputs: []models.TensorSpec{{Name: "y", DataType: tensor.FP32, Shape: []int64{-1, 1}}},
	}
	s := &fakeSession{value: float32(value), running: make(chan struct{}, 1)}
	o.mu.Lock()
	o.opened = append(o.opened, s)
	o.mu.Unlock()
	return io, s, nil
}

func (o *fakeOpener) session(i int) *fakeSession {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.opened[i]
}

// fakeSession answers y = value for every row. With hold set, Run signals
// running and waits for hold to be closed.
type fakeSession struct {
	value   float32
	running chan struct{}
	mu      sync.Mutex
	hold    chan struct{}
	closed  bool
}

func (s *fakeSession) Run(_ context.Context, in []tensor.Tensor) ([]tensor.Tensor, error) {
	s.mu.Lock()
	closed, hold := s.closed, s.hold
	s.mu.Unlock()
	if closed {
		return nil, errors.New("run on a closed session")
	}
	if hold != nil {
		s.running <- struct{}{}
		<-hold
	}
	n := in[0].Shape[0]
	out := make([]float32, n)
	for i := range out {
		out[i] = s.value
	}
	return []tensor.Tensor{{Name: "y", DataType: tensor.FP32, Shape: []int64{n, 1}, Data: modeltest.F32Bytes(out...)}}, nil
}

func (s *fakeSession) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *fakeSession) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startEngine loads a repository of the given files (path relative to the
// folder → content) under a model control mode.
func startEngine(t *testing.T, files map[string]string, mode string) (*Engine, *fakeOpener, string) {
	t.Helper()
	dir := t.TempDir()
	for p, text := range files {
		writeFile(t, filepath.Join(dir, p), text)
	}
	o := &fakeOpener{gate: make(chan struct{}), opening: make(chan string, 1)}
	e := New(o, Options{Dir: dir, DefaultMaxBatchSize: 4, ModelControl: mode})
	if err := e.LoadAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e, o, dir
}

// infer returns the value model answers with, and the version that did.
func infer(e *Engine, model string) (float32, string, error) {
	x := tensor.Tensor{Name: "x", DataType: tensor.FP32, Shape: []int64{1, 1}, Data: modeltest.F32Bytes(0)}
	resp, err := front.New(e, front.Options{}).Infer(context.Background(), model, "", &api.InferRequest{Inputs: []tensor.Tensor{x}})
	if err != nil {
		return 0, "", err
	}
	return modeltest.F32s(resp.Outputs[0].Data)[0], resp.ModelVersion, nil
}

func indexRow(t *testing.T, e *Engine, model, version string) api.RepositoryIndexEntry {
	t.Helper()
	rows, err := e.Index(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Name == model && r.Version == version {
			return r
		}
	}
	t.Fatalf("index has no row %s/%s: %+v", model, version, rows)
	return api.RepositoryIndexEntry{}
}

func TestModelControlMode(t *testing.T) {
	tests := []struct {
		mode    string
		allowed bool
	}{
		{ControlPoll, true},
		{ControlExplicit, true},
		{"", true},
		{ControlNone, false},
	}
	for _, tt := range tests {
		t.Run("mode="+tt.mode, func(t *testing.T) {
			e, _, _ := startEngine(t, map[string]string{"a.onnx": "ok 1"}, tt.mode)
			for op, f := range map[string]func(context.Context, string) error{"load": e.Load, "unload": e.Unload} {
				err := f(t.Context(), "a")
				if tt.allowed && err != nil {
					t.Errorf("%s: %v", op, err)
				}
				if !tt.allowed && (api.StatusOf(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "model control mode is none")) {
					t.Errorf("%s: error %v (status %d), want 400 model control mode is none", op, err, api.StatusOf(err))
				}
			}
		})
	}
}

// TestFailedReloadKeepsServing: a file that fails to load never replaces
// the serving copy; the index and the failure count show it.
func TestFailedReloadKeepsServing(t *testing.T) {
	tests := []struct {
		name       string
		edit       map[string]string
		row        string // the index row that shows the failure
		state, why string
		want       []string // the model's index rows
	}{
		{"corrupt file", map[string]string{"a.onnx": "garbage"}, "a/1", api.StateReady, "reload failed: protobuf parsing failed", []string{"a/1"}},
		{"empty file", map[string]string{"a.onnx": ""}, "a/1", api.StateReady, "reload failed: protobuf parsing failed", []string{"a/1"}},
		{"broken new version", map[string]string{"m/2/model.onnx": "garbage"}, "m/2", api.StateUnavailable, "protobuf parsing failed", []string{"m/1", "m/2"}},
		{"bad config", map[string]string{"a.yaml": "bogus_key: 1\n"}, "a/1", api.StateReady, "reload failed: model config ", []string{"a/1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, dir := startEngine(t, map[string]string{"a.onnx": "ok 1", "m/1/model.onnx": "ok 1", "bad.onnx": "x"}, ControlPoll)
			if got := e.LoadFailures(); len(got) != 1 || got["bad"] != 1 {
				t.Fatalf("failures after startup = %v, want bad: 1", got)
			}
			name, ver, _ := strings.Cut(tt.row, "/")
			for p, text := range tt.edit {
				writeFile(t, filepath.Join(dir, p), text)
			}
			if err := e.Load(t.Context(), name); api.StatusOf(err) != http.StatusBadRequest {
				t.Errorf("Load: error %v, want a 400 load failure", err)
			}
			if v, version, err := infer(e, name); err != nil || v != 1 || version != "1" {
				t.Errorf("after the failed reload: %v from version %q (%v), want 1 from the serving version 1", v, version, err)
			}
			if r := indexRow(t, e, name, ver); r.State != tt.state || !strings.Contains(r.Reason, tt.why) {
				t.Errorf("index row %s = %+v, want %s with %q", tt.row, r, tt.state, tt.why)
			}
			if got := e.LoadFailures()[name]; got != 1 {
				t.Errorf("load failures of %s = %d, want 1", name, got)
			}
			if rows := modelRows(t, e, name); len(rows) != len(tt.want) {
				t.Errorf("index rows of %s = %+v, want %d", name, rows, len(tt.want))
			}
		})
	}
}

// modelRows returns the index rows of one model.
func modelRows(t *testing.T, e *Engine, model string) []api.RepositoryIndexEntry {
	t.Helper()
	rows, err := e.Index(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(rows, func(r api.RepositoryIndexEntry) bool { return r.Name != model })
}

// TestBadConfigOneRow: a model whose config breaks is one index row: READY
// with "reload failed: " and the error while an older version serves,
// UNAVAILABLE with the error when none does. Mending the config brings
// back the plain READY row.
func TestBadConfigOneRow(t *testing.T) {
	e, _, dir := startEngine(t, map[string]string{"a.onnx": "ok 1", "never.onnx": "ok 1", "never.yaml": "max_batch_size: four\n"}, ControlPoll)
	wantErr := dir + "/never.yaml: line 1: max_batch_size: \"four\" is not an integer"
	if diff := cmp.Diff([]api.RepositoryIndexEntry{{Name: "never", State: api.StateUnavailable, Reason: "model config " + wantErr}},
		modelRows(t, e, "never")); diff != "" {
		t.Errorf("rows of a model that never loaded (-want +got):\n%s", diff)
	}
	writeFile(t, filepath.Join(dir, "a.yaml"), "dynamic_batching:\n  max_queue_delay_microseconds: -5\n")
	if err := e.Load(t.Context(), "a"); err == nil {
		t.Fatal("Load with a broken config: no error")
	}
	want := []api.RepositoryIndexEntry{{Name: "a", Version: "1", State: api.StateReady,
		Reason: "reload failed: model config " + dir + "/a.yaml: line 2: dynamic_batching.max_queue_delay_microseconds: -5 must not be negative"}}
	if diff := cmp.Diff(want, modelRows(t, e, "a")); diff != "" {
		t.Errorf("rows of a serving model with a broken config (-want +got):\n%s", diff)
	}
	writeFile(t, filepath.Join(dir, "a.yaml"), "")
	if err := e.Load(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	want = []api.RepositoryIndexEntry{{Name: "a", Version: "1", State: api.StateReady}}
	if diff := cmp.Diff(want, modelRows(t, e, "a")); diff != "" {
		t.Errorf("rows after the config is mended (-want +got):\n%s", diff)
	}
}

// TestRemoveForgets: a model removed from the folder leaves the index
// (unlike an unload, which keeps UNAVAILABLE "unloaded" rows), lookups
// answer 404, and its load failures stay counted.
func TestRemoveForgets(t *testing.T) {
	e, _, dir := startEngine(t, map[string]string{"a.onnx": "ok 1", "m/1/model.onnx": "ok 1", "m/2/model.onnx": "garbage",
		"m/config.yaml": "version_policy: {all: {}}\n"}, ControlPoll)
	if err := os.RemoveAll(filepath.Join(dir, "m")); err != nil {
		t.Fatal(err)
	}
	if err := e.Remove(t.Context(), "m"); err != nil {
		t.Fatal(err)
	}
	if rows := modelRows(t, e, "m"); len(rows) != 0 {
		t.Errorf("index rows of the removed model = %+v, want none", rows)
	}
	if err := e.ModelReady("m", ""); api.StatusOf(err) != http.StatusNotFound {
		t.Errorf("ready m after removal: %v, want 404", err)
	}
	if s, err := e.Stats("", ""); err != nil || len(s.ModelStats) != 1 || s.ModelStats[0].Name != "a" {
		t.Errorf("stats after removal = %+v (%v), want a only", s, err)
	}
	if got := e.LoadFailures()["m"]; got != 1 {
		t.Errorf("load failures of the removed model = %d, want 1 (counts never drop)", got)
	}
	if err := e.Remove(t.Context(), "nope"); err != nil {
		t.Errorf("Remove of an unknown model: %v, want nil", err)
	}
}

// TestUnloadAnswers404: after an unload (or a removal from the folder),
// every lookup is 404, even with failed rows in the index.
func TestUnloadAnswers404(t *testing.T) {
	e, _, dir := startEngine(t, map[string]string{"m/1/model.onnx": "ok 1", "m/config.yaml": "version_policy: {all: {}}\n",
		"m/2/model.onnx": "garbage"}, ControlPoll)
	if _, _, err := infer(e, "m"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "m/config.yaml"), "bogus: 1\n")
	_ = e.Load(t.Context(), "m") // a model-level failure row too
	if err := e.Unload(t.Context(), "m"); err != nil {
		t.Fatal(err)
	}
	for _, ver := range []string{"", "1", "2"} {
		if err := e.ModelReady("m", ver); api.StatusOf(err) != http.StatusNotFound {
			t.Errorf("ready m %q after unload: %v, want 404", ver, err)
		}
	}
	if _, _, err := infer(e, "m"); api.StatusOf(err) != http.StatusNotFound {
		t.Errorf("infer after unload: %v, want 404", err)
	}
}

// TestReloadHoldsNoLock: while a new copy opens, the serving copy answers,
// and the index shows it READY.
func TestReloadHoldsNoLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, o, dir := startEngine(t, map[string]string{"a.onnx": "ok 1"}, ControlPoll)
		writeFile(t, filepath.Join(dir, "a.onnx"), "ok 2 gate")
		loaded := make(chan error, 1)
		go func() { loaded <- e.Load(context.Background(), "a") }()
		<-o.opening
		if v, _, err := infer(e, "a"); err != nil || v != 1 {
			t.Errorf("during the reload: %v (%v), want 1 from the serving copy", v, err)
		}
		if r := indexRow(t, e, "a", "1"); r.State != api.StateReady {
			t.Errorf("index during the reload: %+v, want READY", r)
		}
		close(o.gate)
		if err := <-loaded; err != nil {
			t.Fatal(err)
		}
		if v, _, err := infer(e, "a"); err != nil || v != 2 {
			t.Errorf("after the reload: %v (%v), want 2", v, err)
		}
	})
}

// TestSwapDrainsInFlight: a request running on the old copy when the new
// one is switched in is answered by the old copy, which closes only then.
func TestSwapDrainsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, o, dir := startEngine(t, map[string]string{"a.onnx": "ok 1"}, ControlPoll)
		old := o.session(0)
		hold := make(chan struct{})
		old.mu.Lock()
		old.hold = hold
		old.mu.Unlock()
		type answer struct {
			v   float32
			err error
		}
		inflight := make(chan answer, 1)
		go func() {
			v, _, err := infer(e, "a")
			inflight <- answer{v, err}
		}()
		<-old.running
		writeFile(t, filepath.Join(dir, "a.onnx"), "ok 2")
		loaded := make(chan error, 1)
		go func() { loaded <- e.Load(context.Background(), "a") }()
		synctest.Wait() // the new copy is in; Load waits for the old one to drain
		if v, _, err := infer(e, "a"); err != nil || v != 2 {
			t.Errorf("new request during the drain: %v (%v), want 2 from the new copy", v, err)
		}
		if old.isClosed() {
			t.Errorf("old session closed while a request runs on it")
		}
		close(hold)
		if a := <-inflight; a.err != nil || a.v != 1 {
			t.Errorf("in-flight request: %v (%v), want 1 from the old copy", a.v, a.err)
		}
		if err := <-loaded; err != nil {
			t.Fatal(err)
		}
		if !old.isClosed() {
			t.Errorf("old session not closed after the drain")
		}
	})
}

func TestLoadAfterClose(t *testing.T) {
	e, _, _ := startEngine(t, map[string]string{"a.onnx": "ok 1"}, ControlPoll)
	if err := e.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := e.Load(t.Context(), "a"); !errors.Is(err, ErrClosed) {
		t.Errorf("Load after Close: %v, want ErrClosed", err)
	}
}

func TestWarmupSizes(t *testing.T) {
	tests := []struct {
		max       int
		preferred []int
		want      []int64
	}{
		{0, nil, []int64{1}},
		{1, nil, []int64{1}},
		{16, nil, []int64{1, 2, 4, 8, 16}},
		{12, []int{6, 12}, []int64{1, 2, 4, 6, 8, 12}},
		{3, []int{4}, []int64{1, 2, 3}},
	}
	for _, tt := range tests {
		spec := &models.Spec{MaxBatchSize: tt.max}
		if tt.preferred != nil {
			spec.Config.DynamicBatching = &models.DynamicBatching{PreferredBatchSize: tt.preferred}
		}
		if got := warmupSizes(spec); !slices.Equal(got, tt.want) {
			t.Errorf("warmupSizes(max %d, preferred %v) = %v, want %v", tt.max, tt.preferred, got, tt.want)
		}
	}
}

// TestCountersSurviveReload: a reload replaces the version's batcher, an
// unload removes it; neither takes back what the version counted (issue
// 20: success and inference counts went 2 → 0 at a reload).
func TestCountersSurviveReload(t *testing.T) {
	e, _, dir := startEngine(t, map[string]string{"a.onnx": "ok 1"}, ControlPoll)
	counted := func() api.ModelStatistics {
		t.Helper()
		all := e.Counted().ModelStats
		if len(all) != 1 || all[0].Name != "a" || all[0].Version != "1" {
			t.Fatalf("Counted = %+v, want a/1 only", all)
		}
		return all[0]
	}
	for range 2 {
		if _, _, err := infer(e, "a"); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(dir, "a.onnx"), "ok 2")
	if err := e.Load(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	if y, _, err := infer(e, "a"); err != nil || y != 2 {
		t.Fatalf("after the reload: %v %v, want 2 from the new copy", y, err)
	}
	st, err := e.Stats("a", "1")
	if err != nil {
		t.Fatal(err)
	}
	if s := st.ModelStats[0]; s.InferenceStats.Success.Count != 3 || s.InferenceCount != 3 || s.ExecutionCount != 3 {
		t.Errorf("stats after a reload: success %d, inference_count %d, execution_count %d; want 3 each (2 before, 1 after)",
			s.InferenceStats.Success.Count, s.InferenceCount, s.ExecutionCount)
	}
	if diff := cmp.Diff(st.ModelStats[0], counted()); diff != "" {
		t.Errorf("Counted differs from Stats (-stats +counted):\n%s", diff)
	}
	if err := e.Unload(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	if s := counted(); s.InferenceStats.Success.Count != 3 || s.InferenceCount != 3 || s.QueueLength != 0 {
		t.Errorf("Counted after the unload: success %d, inference_count %d, queue %d; want 3, 3, 0",
			s.InferenceStats.Success.Count, s.InferenceCount, s.QueueLength)
	}
	if all, err := e.Stats("", ""); err != nil || len(all.ModelStats) != 0 {
		t.Errorf("Stats of every serving version after the unload = %+v, %v; want none", all, err)
	}
	if err := e.Load(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := infer(e, "a"); err != nil {
		t.Fatal(err)
	}
	if s := counted(); s.InferenceStats.Success.Count != 4 {
		t.Errorf("success after a load following the unload = %d, want 4", s.InferenceStats.Success.Count)
	}
}
