package server_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/gin-gonic/gin"

	"github.com/taominer/taominer/api/server"
)

func TestDashboardRoutes(t *testing.T) {
	srv := newServer(&fakeBackend{})
	defer srv.Close()
	get := func(method, path string, header map[string]string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(body)
	}
	for _, tt := range []struct{ path, contentType, contains string }{
		{"/", "text/html; charset=utf-8", `<script src="dashboard/app.js"`},
		{"/dashboard", "text/html; charset=utf-8", `<script src="dashboard/app.js"`},
		{"/dashboard/app.js", "text/javascript; charset=utf-8", `"v1/stats"`},
		{"/dashboard/app.css", "text/css; charset=utf-8", ".model-card"},
	} {
		resp, body := get("GET", tt.path, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tt.contentType || !strings.Contains(body, tt.contains) {
			t.Errorf("GET %s = %d %q, want 200 %q containing %q", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), tt.contentType, tt.contains)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control = %q, want no-cache", tt.path, cc)
		}
		etag := resp.Header.Get("ETag")
		if resp, _ := get("GET", tt.path, map[string]string{"If-None-Match": etag}); etag == "" || resp.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match %s = %d, want 304", tt.path, etag, resp.StatusCode)
		}
		if resp, body := get("HEAD", tt.path, nil); resp.StatusCode != 200 || body != "" || resp.Header.Get("Content-Type") != tt.contentType {
			t.Errorf("HEAD %s = %d %q (%d body bytes)", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
	}
	if resp, _ := get("GET", "/", nil); !strings.Contains(resp.Header.Get("Content-Security-Policy"), "connect-src 'self'") {
		t.Errorf("GET / has no self-only Content-Security-Policy: %q", resp.Header.Get("Content-Security-Policy"))
	}
	// The page does not shadow the API or the JSON 404s.
	if resp, body := get("GET", "/v2", nil); resp.StatusCode != 200 || !strings.Contains(body, `"name":"taominer"`) {
		t.Errorf("GET /v2 = %d %s", resp.StatusCode, body)
	}
	for _, p := range []string{"/nope", "/dashboard/nope.js", "/index.html"} {
		if resp, body := get("GET", p, nil); resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("GET %s = %d %q %s, want a JSON 404", p, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}

// The /v1/stats document, as the dashboard reads it.
type statsDoc struct {
	Time          string      `json:"time"`
	UptimeSeconds float64     `json:"uptime_seconds"`
	Models        []modelDoc  `json:"models"`
	Workers       []workerDoc `json:"workers,omitempty"`
	GPUs          []gpuDoc    `json:"gpus,omitempty"`
}

type gpuDoc struct {
	Index              int     `json:"index"`
	Name               string  `json:"name"`
	UUID               string  `json:"uuid"`
	MemoryTotalBytes   uint64  `json:"memory_total_bytes"`
	MemoryFreeBytes    uint64  `json:"memory_free_bytes"`
	MemoryUsedBytes    uint64  `json:"memory_used_bytes"`
	UtilizationRatio   float64 `json:"utilization_ratio"`
	TemperatureCelsius float64 `json:"temperature_celsius"`
	PowerWatts         float64 `json:"power_watts"`
}

type workerDoc struct {
	ID        string     `json:"id"`
	Host      string     `json:"host"`
	Started   string     `json:"started"`
	Published string     `json:"published"`
	Models    []modelDoc `json:"models"`
}

type modelDoc struct {
	Name       string               `json:"name"`
	Version    string               `json:"version"`
	Ready      bool                 `json:"ready"`
	QueueDepth int                  `json:"queue_depth"`
	Executing  int                  `json:"executing"`
	Windows    map[string]windowDoc `json:"windows"`
	Totals     map[string]int64     `json:"totals"`
}

type windowDoc struct {
	InferPerS    float64 `json:"infer_per_s"`
	RequestsPerS float64 `json:"requests_per_s"`
	P50Ms        float64 `json:"p50_ms"`
	P95Ms        float64 `json:"p95_ms"`
	P99Ms        float64 `json:"p99_ms"`
	AvgBatch     float64 `json:"avg_batch"`
}

// fields flattens a model into the dashboard's data-field names.
func (m modelDoc) fields() map[string]string {
	f := map[string]string{
		"name": m.Name, "version": m.Version, "ready": strconv.FormatBool(m.Ready),
		"queue_depth": strconv.Itoa(m.QueueDepth), "executing": strconv.Itoa(m.Executing),
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for name, w := range m.Windows {
		f[name+".infer_per_s"] = num(w.InferPerS)
		f[name+".requests_per_s"] = num(w.RequestsPerS)
		f[name+".p50_ms"] = num(w.P50Ms)
		f[name+".p95_ms"] = num(w.P95Ms)
		f[name+".p99_ms"] = num(w.P99Ms)
		f[name+".avg_batch"] = num(w.AvgBatch)
	}
	for k, v := range m.Totals {
		f["totals."+k] = strconv.FormatInt(v, 10)
	}
	return f
}

// tableFields are the data-field cells the dashboard's table has per model.
var tableFields = []string{
	"name", "version", "ready", "queue_depth", "executing",
	"1s.infer_per_s", "10s.infer_per_s", "60s.infer_per_s",
	"1s.requests_per_s", "10s.requests_per_s", "60s.requests_per_s",
	"10s.p50_ms", "10s.p95_ms", "10s.p99_ms", "10s.avg_batch",
	"totals.inference_count", "totals.execution_count", "totals.success", "totals.failure",
	"totals.rejected", "totals.cancelled", "totals.expired", "totals.failed",
}

// fakeStats serves /v1/stats: the n-th request (from 1) gets statsFor(n),
// so every poll shows different numbers. While fail is set it answers 500.
type fakeStats struct {
	mu     sync.Mutex
	n      int
	fail   bool
	frozen bool // serve poll n again and again
}

var statsEpoch = time.Date(2026, 11, 22, 1, 40, 0, 123456789, time.UTC) // nanoseconds, as time.Time marshals

// statsStep is how far the fake's clock moves per poll: more than the real
// second between polls, so the charts' 60 s fill up (and trim) quickly.
const statsStep = 5 * time.Second

// statsFor is the document the n-th poll gets: a busy ready model whose
// numbers move with n, and an idle model that is not ready.
func statsFor(n int) statsDoc {
	f := float64(n)
	wave := []float64{0, 3, 5, 2, 6, 1, 4}[n%7]
	win := func(scale float64) windowDoc {
		return windowDoc{
			InferPerS:    (40 + 10*wave + 0.5) * scale,
			RequestsPerS: (10 + 2.5*wave + 0.25) * scale,
			P50Ms:        3.25 + f/8,
			P95Ms:        7.5 + wave,
			P99Ms:        11.125 + 2*wave + f/4,
			AvgBatch:     4 + wave/8,
		}
	}
	now := statsEpoch.Add(time.Duration(n) * statsStep)
	var workers []workerDoc
	if n%2 == 0 { // a Redis front on even polls: two workers
		for i, share := range []float64{0.75, 0.25} {
			m := modelDoc{Name: "ppocr_cls", Version: "1", Ready: true, QueueDepth: i + n%3, Executing: 1 - i,
				Windows: map[string]windowDoc{"10s": win(0.9 * share)}}
			workers = append(workers, workerDoc{
				ID: fmt.Sprintf("gpu-box-%d", i), Host: "gpu-box",
				Started:   now.Add(-time.Duration(3600+i) * time.Second).Format(time.RFC3339Nano),
				Published: now.Add(-time.Duration(250+500*i) * time.Millisecond).Format(time.RFC3339Nano),
				Models:    []modelDoc{m, {Name: "resnet50", Version: "2", Windows: map[string]windowDoc{"10s": {}}}},
			})
		}
	}
	var gpus []gpuDoc
	if n%3 != 1 { // a node with two GPUs, except on every third poll
		for i := range 2 {
			gpus = append(gpus, gpuDoc{Index: i, Name: "NVIDIA A100-SXM4-40GB", UUID: fmt.Sprintf("GPU-%d-fake", i),
				MemoryTotalBytes: 40 << 30, MemoryUsedBytes: uint64(10+n%5+i) << 30, MemoryFreeBytes: uint64(30-n%5-i) << 30,
				UtilizationRatio: float64((n*7+i*30)%101) / 100, TemperatureCelsius: float64(55 + n%10), PowerWatts: 120.5 + float64(n%20)})
		}
	}
	return statsDoc{
		GPUs:          gpus,
		Workers:       workers,
		Time:          now.Format(time.RFC3339Nano),
		UptimeSeconds: 100 + f + 0.5,
		Models: []modelDoc{
			{
				Name: "ppocr_cls", Version: "1", Ready: true, QueueDepth: n % 4, Executing: 1,
				Windows: map[string]windowDoc{"1s": win(1), "10s": win(0.9), "60s": win(0.75)},
				Totals: map[string]int64{
					"inference_count": 123400 + 50*int64(n), "execution_count": 30850 + 12*int64(n),
					"success": 30800 + 12*int64(n), "failure": 3 + int64(n), "rejected": int64(n), "cancelled": 0, "expired": 1, "failed": 2,
				},
			},
			{
				Name: "resnet50", Version: "2", Ready: false,
				Windows: map[string]windowDoc{"1s": {}, "10s": {}, "60s": {}},
				Totals:  map[string]int64{"inference_count": 0, "execution_count": 0, "success": 0, "failure": 0, "rejected": 0, "cancelled": 0, "expired": 0, "failed": 0},
			},
		},
	}
}

func (s *fakeStats) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	fail := s.fail
	if !fail && !s.frozen {
		s.n++
	}
	n := s.n
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if fail {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"error":"stats unavailable"}`)
		return
	}
	json.NewEncoder(w).Encode(statsFor(n))
}

// freeze makes every later poll get the document of the next poll that has
// both workers and GPUs, and returns its number.
func (s *fakeStats) freeze() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	for s.n%2 != 0 || s.n%3 == 1 {
		s.n++
	}
	s.frozen = true
	return s.n
}

func (s *fakeStats) setFail(fail bool) {
	s.mu.Lock()
	s.fail = fail
	s.mu.Unlock()
}

// pageSnapshot is everything the dashboard shows, read from its DOM in one
// script run (so within one poll).
type pageSnapshot struct {
	Polls        int                            `json:"polls"`
	Errors       int                            `json:"errors"`
	Time         string                         `json:"time"`
	Uptime       string                         `json:"uptime"`
	BannerHidden bool                           `json:"bannerHidden"`
	BannerText   string                         `json:"bannerText"`
	Rows         []string                       `json:"rows"`
	TotalRows    []string                       `json:"totalRows"`
	Cells        map[string]map[string]cellDOM  `json:"cells"` // model -> field -> cell
	WorkersShown bool                           `json:"workersShown"`
	Workers      map[string]map[string]cellDOM  `json:"workers"` // worker -> field -> cell
	GPUsShown    bool                           `json:"gpusShown"`
	GPUs         map[string]map[string]cellDOM  `json:"gpus"`   // gpu index -> field -> cell
	Charts       map[string]map[string]chartDOM `json:"charts"` // model -> chart -> series
}

type cellDOM struct {
	Value string `json:"value"`
	Text  string `json:"text"`
}

type chartDOM struct {
	Field  string `json:"field"`
	Series string `json:"series"`
	Times  string `json:"times"`
	D      string `json:"d"`
	Now    string `json:"now"`
}

const snapshotJS = `(() => {
  const out = {
    polls: Number(document.body.dataset.polls), errors: Number(document.body.dataset.errors),
    time: document.getElementById("last-update").dataset.value,
    uptime: document.getElementById("uptime").dataset.value,
    bannerHidden: document.getElementById("error-banner").hidden,
    bannerText: document.getElementById("error-banner").textContent,
    rows: [...document.querySelectorAll("#model-rows tr[data-model]")].map(tr => tr.dataset.model),
    totalRows: [...document.querySelectorAll("#total-rows tr[data-model]")].map(tr => tr.dataset.model),
    cells: {}, charts: {}, workers: {},
    workersShown: !document.getElementById("workers-section").hidden,
    gpus: {}, gpusShown: !document.getElementById("gpus-section").hidden,
  };
  for (const td of document.querySelectorAll("td[data-gpu][data-field]")) {
    (out.gpus[td.dataset.gpu] ||= {})[td.dataset.field] = {value: td.dataset.value || "", text: td.textContent};
  }
  for (const td of document.querySelectorAll("td[data-worker][data-field]")) {
    (out.workers[td.dataset.worker] ||= {})[td.dataset.field] = {value: td.dataset.value || "", text: td.textContent};
  }
  for (const td of document.querySelectorAll("td[data-model][data-field]")) {
    (out.cells[td.dataset.model] ||= {})[td.dataset.field] = {value: td.dataset.value, text: td.textContent};
  }
  for (const svg of document.querySelectorAll("svg[data-model][data-chart]")) {
    const line = svg.querySelector("path.line");
    const now = document.querySelector('.now[data-model="' + svg.dataset.model + '"][data-chart="' + svg.dataset.chart + '"]');
    (out.charts[svg.dataset.model] ||= {})[svg.dataset.chart] = {
      field: svg.dataset.field, series: line.dataset.series, times: line.dataset.times,
      d: line.getAttribute("d"), now: now.dataset.value,
    };
  }
  return out;
})()`

// browserPath finds Chromium, or explains how to get it.
func browserPath(t *testing.T) string {
	t.Helper()
	if os.Getenv("TAOMINER_SKIP_BROWSER_TESTS") == "1" {
		t.Skip("TAOMINER_SKIP_BROWSER_TESTS=1: skipping the headless Chromium test")
	}
	if p := os.Getenv("TAOMINER_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "/usr/bin/chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("the dashboard test needs Chromium and none was found: install it with `apt-get install -y chromium` " +
		"(.ci/run does), point TAOMINER_CHROMIUM at a Chrome/Chromium binary, or set TAOMINER_SKIP_BROWSER_TESTS=1 to skip")
	return ""
}

// artifactPath is where a test output file goes: the test's artifact
// directory under `go test -artifacts`, else the system temp directory.
func artifactPath(t *testing.T, name string) string {
	if f := flag.Lookup("test.artifacts"); f != nil && f.Value.String() == "true" {
		return filepath.Join(t.ArtifactDir(), name)
	}
	return filepath.Join(os.TempDir(), name)
}

// TestDashboardBrowser loads the dashboard in headless Chromium against a
// fake /v1/stats whose numbers change on every poll, and checks that every
// number the page shows or plots is the one served, that a failing poll
// raises the error banner, and saves screenshots (see artifactPath).
//
// It needs Chromium (`apt-get install -y chromium`; .ci/run installs it) and
// fails without it. TAOMINER_CHROMIUM names another binary;
// TAOMINER_SKIP_BROWSER_TESTS=1 skips the test.
func TestDashboardBrowser(t *testing.T) {
	chromium := browserPath(t)
	start := time.Now()

	gin.SetMode(gin.ReleaseMode)
	stats := &fakeStats{}
	f := &fakeBackend{}
	mux := http.NewServeMux()
	mux.Handle("/v1/stats", stats) // the fake wins over whatever server.New has at /v1/stats
	mux.Handle("/", server.New(server.Options{Inferer: f, Catalog: f, Repository: f, Stats: f}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// Chromium's helper processes can still be writing to the profile when
	// the browser itself has exited, which makes t.TempDir's strict cleanup
	// fail; this folder is removed best-effort instead.
	profile, err := os.MkdirTemp("", "taominer-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("could not remove the Chromium profile %s", profile)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.WindowSize(1280, 800),
	)
	defer cancelAlloc() // waits for Chromium to exit, before TempDir cleanup
	// cdproto lags Chromium, so chromedp logs events it cannot decode (new
	// enum values); those are noise. Anything else goes to the test log.
	var logMu sync.Mutex
	logDone := false
	logf := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		logMu.Lock()
		defer logMu.Unlock()
		if !logDone && !strings.Contains(msg, "could not unmarshal event") {
			t.Log("chromedp: " + msg)
		}
	}
	defer func() { logMu.Lock(); logDone = true; logMu.Unlock() }()
	ctx, cancelTab := chromedp.NewContext(ctx, chromedp.WithLogf(logf), chromedp.WithErrorf(logf))
	defer cancelTab()

	// Page errors: script exceptions, console errors, CSP violations. Failed
	// fetches are logged as "network" errors; those are expected while the
	// fake fails.
	var mu sync.Mutex
	var pageErrors []string
	chromedp.ListenTarget(ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Error()
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError || ev.Type == runtime.APITypeAssert {
				msg = "console." + string(ev.Type) + ": " + consoleArgs(ev.Args)
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.LevelError && ev.Entry.Source != cdplog.SourceNetwork {
				msg = string(ev.Entry.Source) + ": " + ev.Entry.Text
			}
		}
		if msg != "" {
			mu.Lock()
			pageErrors = append(pageErrors, msg)
			mu.Unlock()
		}
	})

	snapshot := func() pageSnapshot {
		t.Helper()
		var s pageSnapshot
		if err := chromedp.Run(ctx, chromedp.Evaluate(snapshotJS, &s)); err != nil {
			t.Fatalf("reading the page: %v", err)
		}
		return s
	}
	waitFor := func(what, expr string) {
		t.Helper()
		if err := chromedp.Run(ctx, chromedp.Poll(expr, nil, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second))); err != nil {
			t.Fatalf("waiting for %s (%s): %v", what, expr, err)
		}
	}

	if err := chromedp.Run(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatalf("loading the dashboard in %s: %v", chromium, err)
	}
	waitFor("three polls", `Number(document.body.dataset.polls) >= 3`)
	s := snapshot()
	n := checkSnapshot(t, s)
	t.Logf("page after %d polls matches the served stats", n)

	// A failing poll shows the banner and keeps the last good numbers.
	stats.setFail(true)
	waitFor("the error banner", `!document.getElementById("error-banner").hidden`)
	s = snapshot()
	if !strings.Contains(s.BannerText, "HTTP 500") || !strings.Contains(s.BannerText, "stats unavailable") {
		t.Errorf("error banner = %q, want the HTTP status and the server's message", s.BannerText)
	}
	if s.Errors < 1 {
		t.Errorf("data-errors = %d during failures", s.Errors)
	}
	if got := checkSnapshot(t, s); got < n {
		t.Errorf("after a failed poll the page shows poll %d, before it showed %d", got, n)
	}

	// Recovery hides the banner and resumes the series.
	stats.setFail(false)
	waitFor("recovery", fmt.Sprintf(`document.getElementById("error-banner").hidden && Number(document.body.dataset.polls) >= %d`, s.Polls+2))
	s = snapshot()
	n = checkSnapshot(t, s)
	// Polls with and without Redis workers (even ones have them) and GPUs
	// (all but every third); end on one with both, for the screenshots.
	for seen, gpuSeen := map[bool]bool{n%2 == 0: true}, map[bool]bool{n%3 != 1: true}; len(seen) < 2 || len(gpuSeen) < 2 || n%2 != 0 || n%3 == 1; seen[n%2 == 0], gpuSeen[n%3 != 1] = true, true {
		waitFor("the next poll", fmt.Sprintf(`Number(document.body.dataset.polls) >= %d`, s.Polls+1))
		s = snapshot()
		n = checkSnapshot(t, s)
	}

	// At phone widths nothing sticks out of the viewport, and every table
	// scrolls inside its card far enough to show each of its columns. The
	// fake serves one document with all four tables from here on.
	frozen := stats.freeze()
	waitFor("a poll with workers and GPUs", fmt.Sprintf(`Number(document.body.dataset.polls) >= %d && !document.getElementById("workers-section").hidden && !document.getElementById("gpus-section").hidden`, s.Polls+2))
	for _, width := range []int64{375, 320} {
		var layout phoneLayout
		if err := chromedp.Run(ctx,
			chromedp.EmulateViewport(width, 800),
			chromedp.Sleep(200*time.Millisecond), // relayout
			chromedp.Evaluate(phoneLayoutJS, &layout, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
		); err != nil {
			t.Fatalf("phone layout at %dpx: %v", width, err)
		}
		checkPhoneLayout(t, width, layout)
	}
	n = frozen // what the screenshots show

	// Screenshots, desktop then phone width.
	for _, shot := range []struct {
		name          string
		width, height int64
	}{{"taominer-dashboard.png", 1280, 800}, {"taominer-dashboard-phone.png", 390, 844}} {
		var png []byte
		if err := chromedp.Run(ctx,
			chromedp.EmulateViewport(shot.width, shot.height),
			chromedp.Sleep(200*time.Millisecond), // relayout
			chromedp.FullScreenshot(&png, 100),
		); err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		p := artifactPath(t, shot.name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot (%dpx wide, poll %d): %s", shot.width, n, p)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, e := range pageErrors {
		t.Errorf("page error: %s", e)
	}
	t.Logf("browser test took %v", time.Since(start).Round(time.Millisecond))
}

// phoneLayout is what phoneLayoutJS measures of the page at one width.
type phoneLayout struct {
	Viewport  float64 `json:"viewport"`
	PageWidth float64 `json:"pageWidth"` // the document's scroll width
	// Outside lists elements (not inside a table's scrolling card) whose
	// box reaches past the viewport.
	Outside []string     `json:"outside"`
	Tables  []phoneTable `json:"tables"`
}

// phoneTable is one shown table in its card, measured before and after
// scrolling the card to its end.
type phoneTable struct {
	ID          string  `json:"id"`
	Columns     int     `json:"columns"`
	OverflowX   string  `json:"overflowX"`
	ScrollWidth float64 `json:"scrollWidth"`
	ClientWidth float64 `json:"clientWidth"`
	CardLeft    float64 `json:"cardLeft"`
	CardRight   float64 `json:"cardRight"`
	// Reachable is how many of the first row's cells lay wholly in sight
	// at some point while the card scrolled from start to end.
	Reachable int `json:"reachable"`
	// LastLeft and LastRight bound the first row's last cell once scrolled
	// to the end.
	LastLeft  float64 `json:"lastLeft"`
	LastRight float64 `json:"lastRight"`
	// Cue says the card shows that more columns lie to the right
	// (data-more on the card).
	CueAtStart bool `json:"cueAtStart"`
	CueAtEnd   bool `json:"cueAtEnd"`
}

const phoneLayoutJS = `(() => {
  const vw = document.documentElement.clientWidth;
  const out = {viewport: vw, pageWidth: document.documentElement.scrollWidth, outside: [], tables: []};
  const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (typeof el.className === "string" && el.className.trim() ? "." + el.className.trim().split(/\s+/).join(".") : "");
  for (const el of document.querySelectorAll("body *")) {
    const card = el.closest(".table-wrap");
    if (card && card !== el) continue; // clipped by its scrolling card
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.left < -0.5 || r.right > vw + 0.5) out.outside.push(name(el) + " " + r.left.toFixed(1) + ".." + r.right.toFixed(1));
  }
  const frame = () => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  return (async () => {
    for (const card of document.querySelectorAll(".table-wrap")) {
      if (card.offsetParent === null) continue; // its section is hidden
      const table = card.querySelector("table");
      // The GPU and worker rows are rebuilt on every poll: find the row
      // each time.
      const rowCells = () => [...[...table.querySelectorAll("tbody tr")].find(tr => tr.offsetParent !== null && tr.children.length > 1).children];
      let cells = rowCells();
      const cr = card.getBoundingClientRect();
      // A cell is seen when it lies wholly inside the card, right of the
      // sticky first column.
      const seen = new Set();
      const look = () => {
        cells = rowCells();
        const edge = cells[0].getBoundingClientRect().right;
        cells.forEach((c, i) => {
          const r = c.getBoundingClientRect();
          if ((i === 0 || r.left >= edge - 0.5) && r.left >= cr.left - 0.5 && r.right <= cr.right + 0.5) seen.add(i);
        });
      };
      // Layout follows scrollLeft at once; the cue follows the scroll
      // event, so reading it waits for frames.
      const to = x => { card.scrollLeft = x; look(); };
      to(0); await frame();
      const t = {id: table.id, columns: cells.length, overflowX: getComputedStyle(card).overflowX,
        scrollWidth: card.scrollWidth, clientWidth: card.clientWidth, cardLeft: cr.left, cardRight: cr.right,
        cueAtStart: card.dataset.more === "true"};
      for (let x = 0; x < card.scrollWidth; x += 8) to(x);
      to(card.scrollWidth); await frame();
      cells = rowCells();
      const last = cells[cells.length - 1].getBoundingClientRect();
      Object.assign(t, {reachable: seen.size, lastLeft: last.left, lastRight: last.right, cueAtEnd: card.dataset.more === "true"});
      to(0); await frame();
      out.tables.push(t);
    }
    return out;
  })();
})()`

// checkPhoneLayout checks the page at a phone width: the page is no wider
// than the viewport, and each table scrolls inside its card (which fits the
// viewport) to show its last column, with a cue while more lies to the
// right.
func checkPhoneLayout(t *testing.T, width int64, l phoneLayout) {
	t.Helper()
	if l.PageWidth > l.Viewport {
		t.Errorf("%dpx: page is %.0fpx wide, wider than the %.0fpx viewport", width, l.PageWidth, l.Viewport)
	}
	for _, el := range l.Outside {
		t.Errorf("%dpx: %s reaches past the viewport", width, el)
	}
	shown := map[string]bool{}
	for _, tb := range l.Tables {
		shown[tb.ID] = true
		if tb.CardLeft < 0 || tb.CardRight > l.Viewport+0.5 {
			t.Errorf("%dpx: table %s's card spans %.1f..%.1f, outside the viewport", width, tb.ID, tb.CardLeft, tb.CardRight)
		}
		if tb.ScrollWidth <= tb.ClientWidth {
			continue // it fits
		}
		if tb.OverflowX != "auto" && tb.OverflowX != "scroll" {
			t.Errorf("%dpx: table %s is %.0fpx wide in a %.0fpx card that does not scroll (overflow-x %s)", width, tb.ID, tb.ScrollWidth, tb.ClientWidth, tb.OverflowX)
		}
		if tb.LastLeft < tb.CardLeft-0.5 || tb.LastRight > tb.CardRight+0.5 {
			t.Errorf("%dpx: table %s scrolled to its end shows its last column at %.1f..%.1f, outside its card %.1f..%.1f",
				width, tb.ID, tb.LastLeft, tb.LastRight, tb.CardLeft, tb.CardRight)
		}
		if tb.Reachable != tb.Columns {
			t.Errorf("%dpx: table %s: scrolling its card brings %d of its %d columns into sight", width, tb.ID, tb.Reachable, tb.Columns)
		}
		if !tb.CueAtStart || tb.CueAtEnd {
			t.Errorf("%dpx: table %s: more-to-the-right cue %v at the start and %v at the end, want true then false", width, tb.ID, tb.CueAtStart, tb.CueAtEnd)
		}
	}
	for _, id := range []string{"models", "totals", "gpus", "workers"} {
		if !shown[id] {
			t.Errorf("%dpx: table %s not measured (hidden?)", width, id)
		}
	}
	t.Logf("%dpx: page %.0fpx wide; tables %v", width, l.PageWidth, l.Tables)
}

// checkSnapshot checks the page against the fake's documents and returns
// the poll number it shows.
func checkSnapshot(t *testing.T, s pageSnapshot) int {
	t.Helper()
	// Which document is shown: uptime_seconds is 100.5 + n.
	up, err := strconv.ParseFloat(s.Uptime, 64)
	if err != nil {
		t.Fatalf("#uptime data-value = %q: %v", s.Uptime, err)
	}
	n := int(math.Round(up - 100.5))
	if n < 1 {
		t.Fatalf("page shows uptime %v, which no poll served", up)
	}
	want := statsFor(n)
	if s.Polls != n {
		t.Errorf("data-polls = %d, but the page shows poll %d", s.Polls, n)
	}
	if s.Time != want.Time {
		t.Errorf("#last-update data-value = %q, want %q", s.Time, want.Time)
	}
	var keys []string
	for _, m := range want.Models {
		keys = append(keys, m.Name+"/"+m.Version)
	}
	if strings.Join(s.Rows, " ") != strings.Join(keys, " ") || strings.Join(s.TotalRows, " ") != strings.Join(keys, " ") {
		t.Errorf("table rows = %v and totals rows = %v, want %v", s.Rows, s.TotalRows, keys)
	}

	checkWorkers(t, s, want)
	checkGPUs(t, s, want)
	for _, m := range want.Models {
		key := m.Name + "/" + m.Version
		fields := m.fields()
		cells := s.Cells[key]
		if len(cells) != len(tableFields) {
			t.Errorf("%s: %d cells, want %d", key, len(cells), len(tableFields))
		}
		for _, field := range tableFields {
			c, ok := cells[field]
			if !ok {
				t.Errorf("%s: no cell for %s", key, field)
				continue
			}
			if !sameValue(c.Value, fields[field]) {
				t.Errorf("%s %s: data-value = %q, served %q", key, field, c.Value, fields[field])
			}
			if strings.TrimSpace(c.Text) == "" {
				t.Errorf("%s %s: cell shows no text", key, field)
			}
		}
		if got, want := cells["ready"].Text, map[bool]string{true: "ready", false: "not ready"}[m.Ready]; got != want {
			t.Errorf("%s: ready cell says %q, want %q", key, got, want)
		}

		// Charts: one point per poll of the last 60 s (by the served time),
		// oldest first.
		for chart, field := range map[string]string{"infer_per_s": "1s.infer_per_s", "p99_ms": "10s.p99_ms"} {
			c, ok := s.Charts[key][chart]
			if !ok {
				t.Errorf("%s: no %s chart", key, chart)
				continue
			}
			if c.Field != field {
				t.Errorf("%s %s chart plots %q, want %q", key, chart, c.Field, field)
			}
			var wantSeries, wantTimes []string
			for i := 1; i <= n; i++ {
				if time.Duration(n-i)*statsStep > time.Minute {
					continue
				}
				doc := statsFor(i)
				for _, mm := range doc.Models {
					if mm.Name == m.Name && mm.Version == m.Version {
						wantSeries = append(wantSeries, mm.fields()[field])
					}
				}
				ts, _ := time.Parse(time.RFC3339Nano, doc.Time)
				wantTimes = append(wantTimes, strconv.FormatInt(ts.UnixMilli(), 10))
			}
			if !sameSeries(c.Series, wantSeries) {
				t.Errorf("%s %s chart data-series = %q, want %q", key, chart, c.Series, strings.Join(wantSeries, ","))
			}
			if c.Times != strings.Join(wantTimes, ",") {
				t.Errorf("%s %s chart data-times = %q, want %q", key, chart, c.Times, strings.Join(wantTimes, ","))
			}
			if pts := strings.Count(c.D, "M") + strings.Count(c.D, "L"); pts != len(wantSeries) {
				t.Errorf("%s %s chart path has %d points, want %d: %q", key, chart, pts, len(wantSeries), c.D)
			}
			if !sameValue(c.Now, fields[field]) {
				t.Errorf("%s %s chart headline = %q, want %q", key, chart, c.Now, fields[field])
			}
		}
	}
	return n
}

// sameValue compares a data-value with a served value: numbers numerically
// (JavaScript and Go may spell a float differently), the rest as text.
func sameValue(got, want string) bool {
	g, err1 := strconv.ParseFloat(got, 64)
	w, err2 := strconv.ParseFloat(want, 64)
	if err1 == nil && err2 == nil {
		return g == w
	}
	return got == want
}

func sameSeries(got string, want []string) bool {
	g := strings.Split(got, ",")
	if got == "" {
		g = nil
	}
	if len(g) != len(want) {
		return false
	}
	for i := range g {
		if !sameValue(g[i], want[i]) {
			return false
		}
	}
	return true
}

func consoleArgs(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		if a.Value != nil {
			parts = append(parts, string(a.Value))
		} else {
			parts = append(parts, a.Description)
		}
	}
	return strings.Join(parts, " ")
}

// checkGPUs checks the GPUs table against the served document: shown only
// with GPUs, one row each, every reading in its cell (scaled for display).
func checkGPUs(t *testing.T, s pageSnapshot, want statsDoc) {
	t.Helper()
	if s.GPUsShown != (len(want.GPUs) > 0) || len(s.GPUs) != len(want.GPUs) {
		t.Errorf("GPUs table shown %v with %d rows; served %d GPUs", s.GPUsShown, len(s.GPUs), len(want.GPUs))
		return
	}
	for _, g := range want.GPUs {
		id := strconv.Itoa(g.Index)
		cells := s.GPUs[id]
		f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
		for field, served := range map[string]string{
			"index": id, "name": g.Name, "uuid": g.UUID,
			"utilization_ratio":   f(g.UtilizationRatio),
			"memory_used_bytes":   f(float64(g.MemoryUsedBytes)),
			"memory_total_bytes":  f(float64(g.MemoryTotalBytes)),
			"temperature_celsius": f(g.TemperatureCelsius),
			"power_watts":         f(g.PowerWatts),
		} {
			if c, ok := cells[field]; !ok || !sameValue(c.Value, served) {
				t.Errorf("GPU %s %s: cell %+v, served %q", id, field, c, served)
			}
		}
		if got, want := cells["utilization_ratio"].Text, strconv.FormatFloat(100*g.UtilizationRatio, 'f', 0, 64); got != want {
			t.Errorf("GPU %s utilisation shows %q, want %q", id, got, want)
		}
		if got, want := cells["memory_total_bytes"].Text, "40.0"; got != want {
			t.Errorf("GPU %s memory total shows %q GiB, want %q", id, got, want)
		}
	}
}

// checkWorkers checks the workers table against the served document: shown
// only with workers, one row each, sums over each worker's models.
func checkWorkers(t *testing.T, s pageSnapshot, want statsDoc) {
	t.Helper()
	if s.WorkersShown != (len(want.Workers) > 0) || len(s.Workers) != len(want.Workers) {
		t.Errorf("workers table shown %v with %d rows; served %d workers", s.WorkersShown, len(s.Workers), len(want.Workers))
		return
	}
	now, _ := time.Parse(time.RFC3339Nano, want.Time)
	for _, w := range want.Workers {
		cells := s.Workers[w.ID]
		var infer float64
		var queue, exec int
		var keys []string
		for _, m := range w.Models {
			infer += m.Windows["10s"].InferPerS
			queue += m.QueueDepth
			exec += m.Executing
			keys = append(keys, m.Name+"/"+m.Version)
		}
		published, _ := time.Parse(time.RFC3339Nano, w.Published)
		for field, served := range map[string]string{
			"id": w.ID, "host": w.Host, "models": strings.Join(keys, ", "),
			"10s.infer_per_s": strconv.FormatFloat(infer, 'g', -1, 64),
			"queue_depth":     strconv.Itoa(queue), "executing": strconv.Itoa(exec),
			"heard": strconv.FormatFloat(now.Sub(published).Seconds(), 'g', -1, 64),
		} {
			if c, ok := cells[field]; !ok || !sameValue(c.Value, served) {
				t.Errorf("worker %s %s: cell %+v, served %q", w.ID, field, c, served)
			}
		}
		if up := cells["up"].Text; up != "1h 0m" {
			t.Errorf("worker %s: up %q, want 1h 0m", w.ID, up)
		}
	}
}
