package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// promtoolExceptions are the metric names `promtool check metrics` flags
// that the miner keeps on purpose: each is Triton's nv_inference_* name
// under the taominer_ prefix (counters with _total added), so that a
// Triton dashboard ports by renaming its prefix, in the same units.
// docs/metrics.md lists the same names, between its promtool-exceptions
// markers.
var promtoolExceptions = []string{
	"taominer_inference_compute_infer_duration_us_total",
	"taominer_inference_compute_input_duration_us_total",
	"taominer_inference_compute_output_duration_us_total",
	"taominer_inference_pending_request_count",
}

// promBinary finds name (prometheus, promtool: Debian's prometheus package
// ships both). Without it the test is skipped, except under CI=true, where
// .ci/run installs it and its absence is a failure.
func promBinary(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found under CI=true (.ci/run installs Debian's prometheus package): %v", name, err)
	}
	t.Skipf("%s not found (install Debian's prometheus package: apt-get install prometheus): %v", name, err)
	return ""
}

var promtoolLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$`)

// TestPromtoolCheckMetrics runs Prometheus' own linter on the /metrics of a
// running miner that has served KServe requests and signed synapses and
// refused some: it finds nothing but the deliberate exceptions, each of
// them, and docs/metrics.md names the same exceptions.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := promBinary(t, "promtool")
	// With Redis (role all: a front and a worker in one process), so that
	// the Redis front's families are there too.
	m := startMiner(t, "--max-body-bytes", refusalMaxBody, "--redis", "redis://"+startRedis(t))
	m.traffic(t)
	m.fallback(t)
	m.refusals(t)
	text := m.metrics(t)
	for _, family := range []string{"taominer_redis_front_submitted_total", "taominer_axon_fallback_total",
		"taominer_model_load_failures_total", "taominer_axon_request_duration_seconds"} {
		if !bytes.Contains(text, []byte("\n"+family)) {
			t.Errorf("/metrics has no %s series: the lint does not cover it", family)
		}
	}

	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	out, err := cmd.CombinedOutput()
	// 0: clean; 3: lint problems (listed); anything else: it could not read
	// the exposition.
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 3) {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	flagged := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		mm := promtoolLine.FindStringSubmatch(line)
		if mm == nil {
			t.Errorf("promtool check metrics: unexpected line %q", line)
			continue
		}
		flagged[mm[1]] += mm[2] + "; "
	}
	for name, why := range flagged {
		if !slices.Contains(promtoolExceptions, name) {
			t.Errorf("promtool check metrics flags %s: %s(rename it, or name it as a deliberate exception in "+
				"docs/metrics.md and promtoolExceptions)", name, why)
		}
	}
	for _, name := range promtoolExceptions {
		if _, ok := flagged[name]; !ok {
			t.Errorf("exception %s is no longer flagged by promtool (or no longer exported): remove it from "+
				"promtoolExceptions and docs/metrics.md", name)
		}
	}
	if docs := docExceptions(t); !slices.Equal(docs, promtoolExceptions) {
		t.Errorf("docs/metrics.md names the exceptions %v, the test %v", docs, promtoolExceptions)
	}
}

// startRedis starts a private redis-server (no persistence) on a free
// loopback port, stopped when the test ends, and returns its address once
// it accepts connections (at most 10 s).
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found (apt-get install redis-server): %v", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	_, port, _ := strings.Cut(addr, ":")
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s not up after 10 s:\n%s", addr, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// docExceptions returns the metric names of the table between
// docs/metrics.md's promtool-exceptions markers (the first column), sorted.
func docExceptions(t *testing.T) []string {
	t.Helper()
	doc := string(readFile(t, filepath.Join(root, "docs", "metrics.md")))
	_, rest, ok1 := strings.Cut(doc, "<!-- promtool-exceptions:start -->")
	block, _, ok2 := strings.Cut(rest, "<!-- promtool-exceptions:end -->")
	if !ok1 || !ok2 {
		t.Fatal("docs/metrics.md: no <!-- promtool-exceptions:start --> … <!-- promtool-exceptions:end --> block")
	}
	var names []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-zA-Z0-9_:]+)`").FindAllStringSubmatch(block, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return names
}

// TestPromtoolCheckConfig: the shipped compose Prometheus config passes
// promtool.
func TestPromtoolCheckConfig(t *testing.T) {
	promtool := promBinary(t, "promtool")
	// Not prometheus-k8s.yml: Debian's build leaves Kubernetes discovery
	// out, so its promtool refuses kubernetes_sd_configs.
	if out, err := exec.Command(promtool, "check", "config", "--syntax-only", "prometheus.yml").CombinedOutput(); err != nil {
		t.Errorf("promtool check config prometheus.yml: %v\n%s", err, out)
	}
}

// refusalMaxBody is the --max-body-bytes of a miner that refusals is used
// on: above a request of the bundled model (110 KB), below what it sends
// for a 413.
const refusalMaxBody = "262144"

// refusals makes the miner refuse a few requests: an unknown model (404,
// answered by the front), a body over --max-body-bytes (413; the miner runs
// with refusalMaxBody) and a synapse from a hotkey the axon does not know
// (wallet "stranger", //Charlie).
func (m *runningMiner) refusals(t *testing.T) {
	t.Helper()
	if code, b := m.post(t, "/v2/models/no_such_model/infer", inferBody()); code != http.StatusNotFound {
		t.Errorf("unknown model: %d %s, want 404", code, b)
	}
	if code, b := m.post(t, "/v2/models/ppocr_cls/infer", strings.Repeat(" ", 300<<10)+inferBody()); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d %s, want 413", code, b)
	}
	runOK(t, m.bin, "wallet", "regen", "--hot", "--uri", "//Charlie", "--wallet-path", m.wallets, "--wallet", "stranger", "--hotkey", "default")
	synapse := `{"model":"ppocr_cls",` + strings.TrimPrefix(inferBody(), "{")
	out, err := exec.Command(m.bin, "query", "--wallet-path", m.wallets, "--wallet", "stranger", "--hotkey", "default",
		"--axon", m.axon, "--axon-hotkey", m.minerSS58, "--synapse", "Infer", "--body", synapse).CombinedOutput()
	if err == nil {
		t.Errorf("a stranger's synapse was answered:\n%s", out)
	}
}

// fallback sends the bundled model's mapped synapse, TextOrientation, with
// an image that does not decode: the axon answers the mapping's fallback
// values (200), counted in taominer_axon_fallback_total.
func (m *runningMiner) fallback(t *testing.T) {
	t.Helper()
	runOK(t, m.bin, "query", "--wallet-path", m.wallets, "--wallet", "validator", "--hotkey", "default",
		"--axon", m.axon, "--axon-hotkey", m.minerSS58, "--synapse", "TextOrientation",
		"--body", `{"image":"bm90IGFuIGltYWdl"}`)
}

// promServer is a Prometheus server the test started.
type promServer struct {
	base string // http://127.0.0.1:port
	logs *bytes.Buffer
}

// startPrometheus starts bin on a free loopback port with its own data
// folder, scraping target (host:port) every second as job (the shipped
// config's job name, which the dashboard's job=~"taominer.*" filters
// match). It is stopped (interrupted, then killed after 5 s; killed too if
// the test process dies) when the test ends, and startPrometheus returns
// once it is ready, failing after 60 s or when it exits first.
func startPrometheus(t *testing.T, bin, target, job string) *promServer {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: %s
    metrics_path: /metrics
    static_configs: [{targets: [%q]}]
`, job, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		p, exited := tryPrometheus(t, bin, dir)
		err := p.waitReady(exited, 60*time.Second)
		if err == nil {
			return p
		}
		// Another process may have taken the free port first: try again.
		if attempt < 3 && strings.Contains(p.logs.String(), "address already in use") {
			continue
		}
		t.Fatalf("prometheus: %v\n%s", err, p.logs.String())
	}
}

// tryPrometheus starts bin with the config in dir on a free port; exited
// is closed when it exits.
func tryPrometheus(t *testing.T, bin, dir string) (*promServer, <-chan struct{}) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := &promServer{base: "http://" + addr, logs: new(bytes.Buffer)}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=info")
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("prometheus log:\n%s", p.logs.String())
		}
	})
	return p, exited
}

// waitReady polls /-/ready until it answers 200, the process exits or
// timeout passes.
func (p *promServer) waitReady(exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-exited:
			return errors.New("exited before it was ready")
		default:
		}
		if resp, err := client.Get(p.base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// promResult is an answer of /api/v1/query.
type promResult struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// empty reports whether the result holds no series (a scalar or string is
// never empty).
func (r promResult) empty() bool {
	if r.Data.ResultType != "vector" && r.Data.ResultType != "matrix" {
		return false
	}
	var series []json.RawMessage
	return json.Unmarshal(r.Data.Result, &series) != nil || len(series) == 0
}

// query evaluates expr at time at through the HTTP API. An answer that is
// not Prometheus' JSON fails the test; a query error is in the result.
func (p *promServer) query(t *testing.T, expr string, at time.Time) promResult {
	t.Helper()
	v := url.Values{"query": {expr}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1e3, 'f', 3, 64)}}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(p.base + "/api/v1/query?" + v.Encode())
	if err != nil {
		t.Fatalf("query %s: %v", expr, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r promResult
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("query %s: %d %s", expr, resp.StatusCode, b)
	}
	return r
}

// labelValues asks what Grafana asks for label_values(metric, label):
// the values of label among metric's series.
func (p *promServer) labelValues(t *testing.T, metric, label string) []string {
	t.Helper()
	v := url.Values{"match[]": {metric}}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(p.base + "/api/v1/label/" + label + "/values?" + v.Encode())
	if err != nil {
		t.Fatalf("label_values(%s, %s): %v", metric, label, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r struct {
		Status string   `json:"status"`
		Data   []string `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil || r.Status != "success" {
		t.Fatalf("label_values(%s, %s): %d %s", metric, label, resp.StatusCode, b)
	}
	return r.Data
}

// scrapeAfter waits (at most timeout) for a successful scrape of job that
// started after when and returns its time: a sample at that time holds
// everything the target counted before when. A failed scrape (up 0, e.g.
// past its 1 s timeout on a loaded machine) is passed over.
func (p *promServer) scrapeAfter(t *testing.T, job string, when time.Time, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		// A range selector answers each sample with its own time.
		r := p.query(t, fmt.Sprintf("up{job=%q}[1m]", job), time.Now())
		var res []struct {
			Values [][2]any `json:"values"`
		}
		if r.Status == "success" && json.Unmarshal(r.Data.Result, &res) == nil && len(res) == 1 {
			for _, v := range res[0].Values {
				ts, ok := v[0].(float64)
				at := time.UnixMilli(int64(math.Round(ts * 1e3)))
				if ok && at.After(when) && v[1] == "1" {
					return at
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no successful scrape of %s after %s within %s (last answer %+v)", job, when.Format(time.RFC3339Nano), timeout, r)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// grafanaIntervals are $__interval and $__rate_interval as Grafana sets
// them for the shipped deployment: the data source's scrape interval is
// deploy/prometheus.yml's (15 s), the floor of $__interval;
// $__rate_interval is max($__interval + scrape interval, 4 × scrape
// interval).
func grafanaIntervals(t *testing.T) (interval, rateInterval string) {
	t.Helper()
	c := loadProm(t, "prometheus.yml")
	d, err := model.ParseDuration(c.Global.ScrapeInterval)
	if err != nil {
		t.Fatal(err)
	}
	scrape := time.Duration(d)
	iv := scrape // a 1 h dashboard over ~1000 points asks 3.6 s, below the floor
	return model.Duration(iv).String(), model.Duration(max(iv+scrape, 4*scrape)).String()
}

// TestPrometheusEvaluatesDashboard runs a real Prometheus scraping a real
// miner (the bundled model, KServe requests, signed synapses and a few
// refusals) every second and evaluates every query of the Grafana
// dashboard through its HTTP API, with the template variables set as
// Grafana sets them: each must parse and evaluate, and those over families
// this miner exports must return series.
func TestPrometheusEvaluatesDashboard(t *testing.T) {
	bin := promBinary(t, "prometheus")
	m := startMiner(t, "--max-body-bytes", refusalMaxBody)
	// Traffic before the first scrape creates the series that appear on
	// first use (a synapse's calls, a mapping's fallbacks): rate() cannot
	// see the increase of a series' first sample.
	m.traffic(t)
	m.fallback(t)
	job := loadProm(t, "prometheus.yml").ScrapeConfigs[0].JobName
	p := startPrometheus(t, bin, strings.TrimPrefix(m.base, "http://"), job)

	// Two scrapes before the traffic, then the first scrape after it: every
	// counter's increase shows in a rate at its time.
	first := p.scrapeAfter(t, job, time.Time{}, 60*time.Second)
	p.scrapeAfter(t, job, first, 60*time.Second)
	m.traffic(t)
	m.fallback(t)
	m.refusals(t)
	at := p.scrapeAfter(t, job, time.Now(), 60*time.Second)

	interval, rateInterval := grafanaIntervals(t)
	dash := loadDashboard(t)
	metric, label := dash.modelVariable(t)
	modelNames := p.labelValues(t, metric, label)
	if !slices.Contains(modelNames, "ppocr_cls") {
		t.Errorf("the $model variable offers %v, want ppocr_cls among them", modelNames)
	}
	// $model as Grafana sends "All" (the variable's allValue), then one
	// model: a multi-value variable in a regex is (v1|v2).
	choices := []string{dash.modelAll, "(" + regexp.QuoteMeta("ppocr_cls") + ")"}
	for _, q := range dash.queries {
		for i, choice := range choices {
			expr := strings.NewReplacer("$__rate_interval", rateInterval, "$__interval", interval, "$model", choice).Replace(q.expr)
			if strings.Contains(expr, "$") {
				t.Errorf("panel %q: query %q uses a template variable this test does not set", q.panel, q.expr)
				continue
			}
			r := p.query(t, expr, at)
			if r.Status != "success" {
				t.Errorf("panel %q: %s: %s: %s", q.panel, expr, r.ErrorType, r.Error)
				continue
			}
			if i == 0 && r.empty() && !q.mayBeEmpty() {
				t.Errorf("panel %q: %s: no series at %s", q.panel, expr, at.Format(time.RFC3339Nano))
			}
		}
	}
}

// dashQuery is one query of the dashboard.
type dashQuery struct{ panel, expr string }

// mayBeEmpty reports whether the query is over a family this test's miner
// cannot export: needsFeature's (the chain, GPUs) but the mapped synapses'
// fallbacks, which it sends.
func (q dashQuery) mayBeEmpty() bool {
	for _, n := range metricName.FindAllString(q.expr, -1) {
		if _, ok := needsFeature[n]; ok && n != "taominer_axon_fallback_total" {
			return true
		}
	}
	return false
}

// dashboard is what the test evaluates of grafana/taominer.json.
type dashboard struct {
	queries  []dashQuery
	modelDef string // the $model variable's definition: label_values(metric, label)
	modelAll string // its allValue
}

// modelVariable returns the metric and label of the $model variable's
// definition, label_values(metric, label).
func (d dashboard) modelVariable(t *testing.T) (metric, label string) {
	t.Helper()
	m := regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$`).FindStringSubmatch(d.modelDef)
	if m == nil {
		t.Fatalf("grafana/taominer.json: $model's definition %q is not label_values(metric, label)", d.modelDef)
	}
	return m[1], m[2]
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	var dash struct {
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
				AllValue   string `json:"allValue"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(readFile(t, "grafana/taominer.json"), &dash); err != nil {
		t.Fatalf("grafana/taominer.json: %v", err)
	}
	var d dashboard
	for _, v := range dash.Templating.List {
		if v.Name == "model" {
			d.modelDef, d.modelAll = v.Definition, v.AllValue
		}
	}
	if d.modelDef == "" || d.modelAll == "" {
		t.Fatal("grafana/taominer.json: no $model variable with a definition and an allValue")
	}
	walkPanels(t, dash.Panels, func(p panel) {
		for _, tg := range p.Targets {
			d.queries = append(d.queries, dashQuery{p.Title, tg.Expr})
		}
	})
	if len(d.queries) == 0 {
		t.Fatal("grafana/taominer.json: no queries")
	}
	return d
}
