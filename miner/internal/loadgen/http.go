package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/taominer/taominer/api"
)

// headerContentLength is the binary tensor extension's header giving the
// size of the JSON part of a body.
const headerContentLength = "Inference-Header-Content-Length"

// target is one model (version) of a KServe v2 server.
type target struct {
	client  *http.Client // metadata and statistics
	base    string
	model   string
	version string
}

// path returns /v2/models/{m}[/versions/{v}] followed by suffix.
func (t *target) path(suffix string) string {
	p := t.base + "/v2/models/" + url.PathEscape(t.model)
	if t.version != "" {
		p += "/versions/" + url.PathEscape(t.version)
	}
	return p + suffix
}

// getJSON GETs a URL and decodes a 200 answer into v.
func (t *target) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d: %s", u, resp.StatusCode, errorText(body))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// errorText extracts the message of an {"error": ...} body, or returns the
// body's start.
func errorText(body []byte) string {
	var e api.ErrorBody
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// metadata fetches the model's metadata.
func (t *target) metadata(ctx context.Context) (*api.ModelMetadata, error) {
	var md api.ModelMetadata
	if err := t.getJSON(ctx, t.path(""), &md); err != nil {
		return nil, fmt.Errorf("model metadata: %w", err)
	}
	return &md, nil
}

// stats returns the model's inference (items) and execution counts, summed
// over the versions the statistics list.
func (t *target) stats(ctx context.Context) (inferences, executions uint64, err error) {
	var s api.ModelStatsResponse
	if err := t.getJSON(ctx, t.path("/stats"), &s); err != nil {
		return 0, 0, fmt.Errorf("model statistics: %w", err)
	}
	for _, m := range s.ModelStats {
		inferences += m.InferenceCount
		executions += m.ExecutionCount
	}
	return inferences, executions, nil
}

// recorder collects what the workers of one load level see, window by
// window.
type recorder struct {
	mu    sync.Mutex
	start time.Time
	cur   window
	items int // per successful request
}

func newRecorder(items int) *recorder {
	return &recorder{start: time.Now(), items: items, cur: window{errors: map[string]int{}}}
}

func (r *recorder) success(lat time.Duration) {
	r.mu.Lock()
	r.cur.requests++
	r.cur.items += r.items
	r.cur.lat = append(r.cur.lat, lat)
	r.mu.Unlock()
}

func (r *recorder) failure(kind, msg string) {
	r.mu.Lock()
	r.cur.errors[kind]++
	if r.cur.firstErr == "" {
		r.cur.firstErr = kind + ": " + msg
	}
	r.mu.Unlock()
}

// cut ends the current window and starts the next.
func (r *recorder) cut() window {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	w := r.cur
	w.dur = now.Sub(r.start)
	r.start = now
	r.cur = window{errors: map[string]int{}, lat: make([]time.Duration, 0, len(w.lat))}
	return w
}

// transportBackoff spaces out retries after a connection-level failure, so
// a dead server is not hammered in a hot loop.
const transportBackoff = 10 * time.Millisecond

// worker sends the body in a closed loop until ctx ends: each request waits
// for its whole answer before the next is sent.
func worker(ctx context.Context, client *http.Client, u string, body []byte, headerLen int, rec *recorder) {
	for ctx.Err() == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			rec.failure("transport", err.Error())
			return
		}
		if headerLen < len(body) {
			req.Header.Set("Content-Type", "application/octet-stream")
			req.Header.Set(headerContentLength, strconv.Itoa(headerLen))
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
		t0 := time.Now()
		resp, err := client.Do(req)
		if err == nil {
			var answer []byte
			if resp.StatusCode == http.StatusOK {
				_, err = io.Copy(io.Discard, resp.Body)
			} else {
				answer, err = io.ReadAll(io.LimitReader(resp.Body, 4096))
			}
			resp.Body.Close()
			if err == nil {
				if resp.StatusCode == http.StatusOK {
					rec.success(time.Since(t0))
				} else {
					rec.failure(strconv.Itoa(resp.StatusCode), errorText(answer))
				}
				continue
			}
		}
		if ctx.Err() != nil {
			return // cut off at the end of the measurement: not a failure
		}
		rec.failure("transport", err.Error())
		select {
		case <-ctx.Done():
		case <-time.After(transportBackoff):
		}
	}
}

// load is what a level's workers send: work runs one closed-loop worker
// until ctx ends, close releases the load's connections.
type load interface {
	work(ctx context.Context, rec *recorder)
	close()
}

// httpLoad posts one encoded body, each worker on its own keep-alive
// connection.
type httpLoad struct {
	transport *http.Transport
	client    *http.Client
	u         string
	body      []byte
	headerLen int
}

func (t *target) httpLoad(body []byte, headerLen, conc int) *httpLoad {
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: conc,
		MaxConnsPerHost:     conc,
		DisableCompression:  true,
		IdleConnTimeout:     30 * time.Second,
	}
	return &httpLoad{transport: transport, client: &http.Client{Transport: transport}, u: t.path("/infer"), body: body, headerLen: headerLen}
}

func (l *httpLoad) work(ctx context.Context, rec *recorder) {
	worker(ctx, l.client, l.u, l.body, l.headerLen, rec)
}

func (l *httpLoad) close() { l.transport.CloseIdleConnections() }

// level measures one protocol at one concurrency: conc closed-loop workers
// of ld, windows of m.Window until the last StabilityWindows are stable or
// m.MaxTrials windows ran. A window that only saw failures ends the level
// early. report is called after each window.
func (t *target) level(ctx context.Context, ld load, conc, items int, m Measure, report func(n int, w *window)) ([]window, error) {
	defer ld.close()
	inf0, exec0, statsErr := t.stats(ctx)
	rec := newRecorder(items)
	loadCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() { ld.work(loadCtx, rec) })
	}
	var ws []window
	timer := time.NewTimer(m.Window)
	defer timer.Stop()
	for len(ws) < m.MaxTrials {
		select {
		case <-ctx.Done():
			stop()
			wg.Wait()
			return ws, ctx.Err()
		case <-timer.C:
		}
		w := rec.cut()
		timer.Reset(m.Window)
		if statsErr == nil {
			var inf, exec uint64
			if inf, exec, statsErr = t.stats(ctx); statsErr == nil {
				w.inferences, w.executions, w.statsOK = inf-inf0, exec-exec0, true
				inf0, exec0 = inf, exec
			}
		}
		ws = append(ws, w)
		report(len(ws), &w)
		if stable(ws, m.Stability, m.Percentile) || (w.requests == 0 && len(w.errors) > 0) {
			break
		}
	}
	stop()
	wg.Wait()
	// Failures answered between the last cut and the stop still count.
	if tail := rec.cut(); len(tail.errors) > 0 && len(ws) > 0 {
		last := &ws[len(ws)-1]
		for k, v := range tail.errors {
			last.errors[k] += v
		}
		if last.firstErr == "" {
			last.firstErr = tail.firstErr
		}
	}
	if err := ctx.Err(); err != nil {
		return ws, err
	}
	return ws, nil
}
