package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/models/modeltest"
)

// BenchmarkFrontVsBare measures the miner's front against the limit of a
// bare Go HTTP server, in the same run: the miner serves a tiny model
// (row_sum, 8 rows of 2 floats) in process, with the public-port limits as
// shipped; the bare server is a plain net/http handler that reads the body
// and writes the miner's own answer to that request, running nothing. Each
// pair reports requests/s, the ratio miner/bare, p50 and p99, and for the
// miner the requests per model execution (how many requests merged into a
// batch). On a GPU the model's cost falls to microseconds, so this ratio is
// what bounds a GPU miner's throughput.
//
// Run: go test ./miner -run '^$' -bench FrontVsBare -benchtime 3s
func BenchmarkFrontVsBare(b *testing.B) {
	dir := b.TempDir()
	copyFile(b, modeltest.Path(b, "row_sum.onnx"), filepath.Join(dir, "row_sum.onnx"))
	tn := startNode(b, dir, nil)
	url := tn.url + "/v2/models/row_sum/infer"
	const rows = 8
	for _, enc := range []string{"json", "binary"} {
		body, hl := api.AppendInferRequest(nil, rowSumRows(rows), enc == "binary")
		answer, header := cannedAnswer(b, url, body, hl)
		bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := io.Copy(io.Discard, r.Body); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			for k, v := range header {
				w.Header()[k] = v
			}
			_, _ = w.Write(answer)
		}))
		for _, conc := range []int{1, 4, 16} {
			var bareIPS float64
			var bareP99 int64
			b.Run(fmt.Sprintf("bare/body=%s/conc=%d", enc, conc), func(b *testing.B) {
				lat := loadRun(b, bare.URL, body, hl, conc)
				bareIPS = float64(b.N) / b.Elapsed().Seconds()
				bareP99 = percentile(lat, 99).Microseconds()
				b.ReportMetric(bareIPS, "req/s")
				b.ReportMetric(float64(percentile(lat, 50).Microseconds()), "p50-µs")
				b.ReportMetric(float64(bareP99), "p99-µs")
			})
			b.Run(fmt.Sprintf("miner/body=%s/conc=%d", enc, conc), func(b *testing.B) {
				before, err := tn.n.engine.QueueStats("row_sum", "")
				if err != nil {
					b.Fatal(err)
				}
				lat := loadRun(b, url, body, hl, conc)
				after, err := tn.n.engine.QueueStats("row_sum", "")
				if err != nil {
					b.Fatal(err)
				}
				ips := float64(b.N) / b.Elapsed().Seconds()
				b.ReportMetric(ips, "req/s")
				if bareIPS > 0 {
					b.ReportMetric(ips/bareIPS, "ratio")
				}
				p99 := percentile(lat, 99).Microseconds()
				b.ReportMetric(float64(percentile(lat, 50).Microseconds()), "p50-µs")
				b.ReportMetric(float64(p99), "p99-µs")
				if bareP99 > 0 {
					b.ReportMetric(float64(p99)/float64(bareP99), "p99-ratio")
				}
				if execs := after.ExecutionCount - before.ExecutionCount; execs > 0 {
					b.ReportMetric(float64(after.InferenceCount-before.InferenceCount)/rows/float64(execs), "req/exec")
				}
				b.ReportMetric(float64(after.BatchLimit), "cap-items") // batch size tuning's cap at the end
			})
		}
		bare.Close()
	}
}

// cannedAnswer is the miner's answer to one request: its body and the
// headers that describe it.
func cannedAnswer(b *testing.B, url string, body []byte, headerLen int) ([]byte, http.Header) {
	b.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	if headerLen < len(body) {
		req.Header.Set("Inference-Header-Content-Length", strconv.Itoa(headerLen))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("the miner's answer: %d %s (%v)", resp.StatusCode, answer, err)
	}
	h := http.Header{}
	for _, k := range []string{"Content-Type", "Inference-Header-Content-Length"} {
		if v := resp.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	return answer, h
}
