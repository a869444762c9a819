package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/miner/internal/watch"
	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/tensor"
)

// pollFast makes the node rescan its folder every 100ms.
func pollFast(c *config.Serve) { c.RepositoryPollInterval = 100 * time.Millisecond }

// reloadRepo holds the classifier in Triton's layout (version 1) and
// row_sum.onnx dropped in.
func reloadRepo(t testing.TB) string {
	dir := t.TempDir()
	copyFile(t, modeltest.PaddleOCRClsPath(t), filepath.Join(dir, "ppocr_cls", "1", "model.onnx"))
	copyFile(t, filepath.Join(modeltest.RepoRoot(), "model-repo", "ppocr_cls", "config.yaml"), filepath.Join(dir, "ppocr_cls", "config.yaml"))
	copyFile(t, modeltest.Path(t, "row_sum.onnx"), filepath.Join(dir, "row_sum.onnx"))
	return dir
}

// rowSumVariant returns row_sum.onnx with one byte sequence replaced: the
// model the same inputs and outputs, or a broken one.
func rowSumVariant(t testing.TB, old, new string) []byte {
	data := must(os.ReadFile(modeltest.Path(t, "row_sum.onnx")))
	if n := bytes.Count(data, []byte(old)); n != 1 {
		t.Fatalf("row_sum.onnx holds %q %d times, want once", old, n)
	}
	return bytes.Replace(data, []byte(old), []byte(new), 1)
}

// rowSumTimes4 is row_sum.onnx computing y = 4x (its initializer "three"
// holds 4.0).
func rowSumTimes4(t testing.TB) []byte {
	return rowSumVariant(t, "J\x04\x00\x00\x40\x40", "J\x04\x00\x00\x80\x40")
}

// placeAtomically writes data under a dot-name beside path and renames it
// into place: the supported way to update a model.
func placeAtomically(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// addVersion installs a Triton version folder atomically: filled under a
// dot-name, then renamed.
func addVersion(t testing.TB, dir, model string, version int, data []byte) {
	t.Helper()
	tmp := filepath.Join(dir, model, ".new-version")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "model.onnx"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, model, strconv.Itoa(version))); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 10s waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// request is one kind of request the traffic sends, with the check of
// its answer.
type request struct {
	path  string
	body  []byte
	hl    int
	check func(*api.InferResponse) error
}

// rowSumInfer asks row_sum about x = [[1, 2]].
func rowSumInfer() *api.InferRequest {
	x := tensor.Tensor{Name: "x", DataType: tensor.FP32, Shape: []int64{1, 2}, Data: modeltest.F32Bytes(1, 2)}
	return &api.InferRequest{Inputs: []tensor.Tensor{x}}
}

func rowSumRequest() request {
	body, hl := api.AppendInferRequest(nil, rowSumInfer(), false)
	return request{"/v2/models/row_sum/infer", body, hl, func(r *api.InferResponse) error {
		s, y := modeltest.F32s(r.Outputs[0].Data), modeltest.F32s(r.Outputs[1].Data)
		if !slices.Equal(s, []float32{3}) || !(slices.Equal(y, []float32{3, 6}) || slices.Equal(y, []float32{4, 8})) {
			return fmt.Errorf("row_sum answered s=%v y=%v, want s=[3] and y=[3 6] or [4 8]", s, y)
		}
		return nil
	}}
}

func clsRequest() request {
	in := clsInput(rand.New(rand.NewPCG(3, 4)), 1)
	body, hl := api.AppendInferRequest(nil, &api.InferRequest{Inputs: []tensor.Tensor{in}}, true)
	return request{"/v2/models/ppocr_cls/infer", body, hl, func(r *api.InferResponse) error {
		p := modeltest.F32s(r.Outputs[0].Data)
		if len(p) != 2 || p[0]+p[1] < 0.999 || p[0]+p[1] > 1.001 {
			return fmt.Errorf("ppocr_cls version %s answered %v, want a softmax over 2 classes", r.ModelVersion, p)
		}
		return nil
	}}
}

// traffic sends requests from one goroutine per request kind until
// stopped, recording every failure and latency.
type traffic struct {
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.Mutex
	lat      []time.Duration
	failures []string
}

func startTraffic(url string, reqs ...request) *traffic {
	ctx, cancel := context.WithCancel(context.Background())
	tr := &traffic{cancel: cancel}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: len(reqs)}}
	for _, rq := range reqs {
		tr.wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				err := send(ctx, client, url, rq)
				if ctx.Err() != nil {
					return
				}
				tr.mu.Lock()
				if err != nil {
					tr.failures = append(tr.failures, err.Error())
				} else {
					tr.lat = append(tr.lat, time.Since(t0))
				}
				tr.mu.Unlock()
			}
		})
	}
	return tr
}

func send(ctx context.Context, client *http.Client, url string, rq request) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+rq.path, bytes.NewReader(rq.body))
	if err != nil {
		return err
	}
	if rq.hl < len(rq.body) {
		req.Header.Set("Inference-Header-Content-Length", strconv.Itoa(rq.hl))
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: status %d: %s", rq.path, resp.StatusCode, body)
	}
	hl := -1
	if v := resp.Header.Get("Inference-Header-Content-Length"); v != "" {
		hl, _ = strconv.Atoi(v)
	}
	r, err := api.DecodeInferResponse(body, hl)
	if err != nil {
		return err
	}
	return rq.check(r)
}

// snapshot returns the latencies recorded so far and the failures.
func (tr *traffic) snapshot() ([]time.Duration, []string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.lat), slices.Clone(tr.failures)
}

func (tr *traffic) stop() {
	tr.cancel()
	tr.wg.Wait()
}

// TestHotReload changes the folder under steady traffic: (a) a model
// replaced atomically and a new version added, (b) corrupt files, then (c)
// models removed (they leave the index). No request may fail during (a)
// and (b).
func TestHotReload(t *testing.T) {
	dir := reloadRepo(t)
	tn := startNode(t, dir, pollFast)
	eng := tn.n.engine
	rowSum := rowSumRequest()
	tr := startTraffic(tn.url, rowSum, rowSum, clsRequest())
	defer tr.stop()
	waitFor(t, "steady traffic", func() bool { lat, _ := tr.snapshot(); return len(lat) >= 100 })
	steady, _ := tr.snapshot()

	// (a) New outputs from a dropped-in file, a new version in Triton's layout.
	placeAtomically(t, filepath.Join(dir, "row_sum.onnx"), rowSumTimes4(t))
	y := func() []float32 {
		return modeltest.F32s(tn.infer(t, rowSum.path, rowSumInfer(), false).Outputs[1].Data)
	}
	waitFor(t, "row_sum to answer y = 4x", func() bool { return slices.Equal(y(), []float32{4, 8}) })
	addVersion(t, dir, "ppocr_cls", 2, must(os.ReadFile(modeltest.PaddleOCRClsPath(t))))
	cls := &api.InferRequest{Inputs: []tensor.Tensor{clsInput(rand.New(rand.NewPCG(1, 1)), 1)}}
	waitFor(t, "ppocr_cls version 2 to serve", func() bool { return tn.infer(t, "/v2/models/ppocr_cls/infer", cls, true).ModelVersion == "2" })

	// (b) Broken files never replace the serving copy.
	cls3 := must(os.ReadFile(modeltest.PaddleOCRClsPath(t)))
	broken := []struct {
		name, model, row string
		place            func()
		reason           string
	}{
		{"not ONNX", "row_sum", "row_sum/1", func() {
			placeAtomically(t, filepath.Join(dir, "row_sum.onnx"), []byte("this is not an ONNX file"))
		}, "reload failed: "},
		{"wrong opset", "row_sum", "row_sum/1", func() {
			placeAtomically(t, filepath.Join(dir, "row_sum.onnx"), rowSumVariant(t, "B\x04\x0a\x00\x10\x0d", "B\x04\x0a\x00\x10\x01"))
		}, "reload failed: "},
		{"truncated new version", "ppocr_cls", "ppocr_cls/3", func() {
			addVersion(t, dir, "ppocr_cls", 3, cls3[:len(cls3)/2])
		}, ""},
	}
	for _, b := range broken {
		before := eng.LoadFailures()[b.model]
		b.place()
		waitFor(t, b.name+": a load failure of "+b.model, func() bool { return eng.LoadFailures()[b.model] > before })
		row := index(t, tn, "")[b.row]
		t.Logf("%s: index row %s: %s %q", b.name, b.row, row.State, row.Reason)
		wantState := api.StateReady
		if b.reason == "" {
			wantState = api.StateUnavailable
		}
		if row.State != wantState || !strings.HasPrefix(row.Reason, b.reason) || row.Reason == "" {
			t.Errorf("%s: index row %s = %+v, want %s with the load error", b.name, b.row, row, wantState)
		}
		if got := y(); !slices.Equal(got, []float32{4, 8}) {
			t.Errorf("%s: row_sum answers y=%v, want the serving copy's [4 8]", b.name, got)
		}
		if v := tn.infer(t, "/v2/models/ppocr_cls/infer", cls, true).ModelVersion; v != "2" {
			t.Errorf("%s: ppocr_cls served by version %s, want 2", b.name, v)
		}
	}
	if got := eng.LoadFailures(); got["row_sum"] != 2 || got["ppocr_cls"] != 1 {
		t.Errorf("load failures = %v, want row_sum 2 and ppocr_cls 1 (each failed file once, no retries)", got)
	}
	tr.stop()
	lat, failures := tr.snapshot()
	if len(failures) > 0 {
		t.Errorf("%d requests failed during the reloads (of %d), first: %s", len(failures), len(lat)+len(failures), failures[0])
	}
	reload := lat[len(steady):]
	t.Logf("latency steady p50 %v p99 %v (%d requests); during reloads p50 %v p99 %v (%d requests)",
		percentile(steady, 50), percentile(steady, 99), len(steady), percentile(reload, 50), percentile(reload, 99), len(reload))

	// (c) Removed models drain and answer 404.
	if err := os.Remove(filepath.Join(dir, "row_sum.onnx")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "ppocr_cls")); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"row_sum", "ppocr_cls"} {
		waitFor(t, m+" to answer 404", func() bool {
			return tn.do(t, http.MethodGet, "/v2/models/"+m+"/ready", nil, nil).status == http.StatusNotFound
		})
		errorBody(t, tn.send(t, "/v2/models/"+m+"/infer", rowSumInfer(), false), http.StatusNotFound, "unknown model")
	}
	if row, ok := index(t, tn, "")["row_sum/1"]; ok {
		t.Errorf("index row of the removed row_sum = %+v, want none", row)
	}
}

// TestPartialWriteNotLoaded copies a model slowly under its final name:
// it is loaded once complete, never half-written.
func TestPartialWriteNotLoaded(t *testing.T) {
	dir := reloadRepo(t)
	tn := startNode(t, dir, pollFast)
	data := must(os.ReadFile(modeltest.PaddleOCRClsPath(t)))
	f, err := os.Create(filepath.Join(dir, "slow.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	const chunks = 50
	var maxGap time.Duration
	last := time.Now()
	for i := range chunks {
		if _, err := f.Write(data[i*len(data)/chunks : (i+1)*len(data)/chunks]); err != nil {
			t.Fatal(err)
		}
		maxGap = max(maxGap, time.Since(last))
		last = time.Now()
		if n := tn.n.engine.LoadFailures()["slow"]; n > 0 && maxGap < watch.DefaultDebounce {
			t.Fatalf("after %d of %d chunks: %d load failures of the half-written file", i+1, chunks, n)
		}
		time.Sleep(10 * time.Millisecond) // a slow copy: the file keeps changing
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "slow to be ready", func() bool {
		return tn.do(t, http.MethodGet, "/v2/models/slow/ready", nil, nil).status == http.StatusOK
	})
	if n := tn.n.engine.LoadFailures()["slow"]; n > 0 {
		if maxGap >= watch.DefaultDebounce {
			t.Skipf("the writer stalled %v (more than the %v debounce), so a half-written load was allowed", maxGap, watch.DefaultDebounce)
		}
		t.Errorf("%d load failures of slow.onnx while it was written (longest pause between chunks %v)", n, maxGap)
	}
}

// TestModelControlModes: explicit and none ignore the folder; explicit
// loads and unloads through the API, none refuses it.
func TestModelControlModes(t *testing.T) {
	for _, mode := range []string{"explicit", "none"} {
		t.Run(mode, func(t *testing.T) {
			dir := reloadRepo(t)
			tn := startNode(t, dir, func(c *config.Serve) { pollFast(c); c.ModelControl = mode })
			placeAtomically(t, filepath.Join(dir, "late.onnx"), must(os.ReadFile(modeltest.Path(t, "row_sum.onnx"))))
			if err := os.Remove(filepath.Join(dir, "row_sum.onnx")); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * 100 * time.Millisecond) // five poll intervals: nothing may happen
			errorBody(t, tn.send(t, "/v2/models/late/infer", rowSumInfer(), false), http.StatusNotFound, "unknown model")
			tn.infer(t, "/v2/models/row_sum/infer", rowSumInfer(), false) // still served
			load := tn.do(t, http.MethodPost, "/v2/repository/models/late/load", nil, nil)
			unload := tn.do(t, http.MethodPost, "/v2/repository/models/ppocr_cls/unload", nil, nil)
			if mode == "none" {
				errorBody(t, load, http.StatusBadRequest, "model control mode is none")
				errorBody(t, unload, http.StatusBadRequest, "model control mode is none")
				return
			}
			if load.status != http.StatusOK || unload.status != http.StatusOK {
				t.Fatalf("load %d %s, unload %d %s; want 200", load.status, load.body, unload.status, unload.body)
			}
			if got := modeltest.F32s(tn.infer(t, "/v2/models/late/infer", rowSumInfer(), false).Outputs[0].Data); !slices.Equal(got, []float32{3}) {
				t.Errorf("late answered s=%v, want [3]", got)
			}
			errorBody(t, tn.do(t, http.MethodGet, "/v2/models/ppocr_cls/ready", nil, nil), http.StatusNotFound, "unknown model")
		})
	}
}

// BenchmarkHotReload measures the latency of four closed-loop clients of
// the classifier while each iteration installs a new version of it
// (Triton's layout, renamed into place) and waits until it serves, against
// the same clients over 3s with the folder unchanged. No request may fail.
//
//	go test -run '^$' -bench HotReload -benchtime 5x -count 3 ./miner
func BenchmarkHotReload(b *testing.B) {
	dir := reloadRepo(b)
	tn := startNode(b, dir, pollFast)
	data := must(os.ReadFile(modeltest.PaddleOCRClsPath(b)))
	cls := clsRequest()
	tr := startTraffic(tn.url, cls, cls, cls, cls)
	defer tr.stop()
	time.Sleep(3 * time.Second) // the steady phase
	steady, _ := tr.snapshot()
	version := 1
	for b.Loop() {
		version++
		addVersion(b, dir, "ppocr_cls", version, data)
		path := "/v2/models/ppocr_cls/versions/" + strconv.Itoa(version) + "/ready"
		waitFor(b, "version "+strconv.Itoa(version), func() bool {
			resp, err := http.Get(tn.url + path)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}
	b.StopTimer()
	tr.stop()
	lat, failures := tr.snapshot()
	reload := lat[len(steady):]
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
	b.ReportMetric(ms(percentile(steady, 50)), "steady-p50-ms")
	b.ReportMetric(ms(percentile(steady, 99)), "steady-p99-ms")
	b.ReportMetric(ms(percentile(reload, 50)), "reload-p50-ms")
	b.ReportMetric(ms(percentile(reload, 99)), "reload-p99-ms")
	b.ReportMetric(float64(len(failures)), "failed")
	if len(failures) > 0 {
		b.Errorf("%d requests failed, first: %s", len(failures), failures[0])
	}
}
