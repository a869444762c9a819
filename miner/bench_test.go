package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/onnx"
	"github.com/taominer/taominer/models/tensor"
)

// rawLimit is the best in-process items/s of the PaddleOCR classifier seen
// by BenchmarkServe/raw in this run; the served benchmarks report their
// throughput as a ratio to it.
var (
	rawLimit  float64
	rawBatch1 time.Duration
)

// BenchmarkServe measures, in one run, the raw ONNX Runtime limit of the
// bundled classifier (in-process, session options as served, each batch
// size) and the served throughput over real HTTP with JSON and binary bodies
// at several concurrencies, as ratios to that limit. Run it with
//
//	go test ./miner -run '^$' -bench Serve -benchtime 3s
func BenchmarkServe(b *testing.B) {
	path := modeltest.PaddleOCRClsPath(b)
	modeltest.InitRuntime(b)
	rng := rand.New(rand.NewPCG(9, 9))
	for _, threads := range []int{1, 2} {
		opts := onnx.Options{IntraOpThreads: threads}
		io_, err := onnx.ReadIO(path, opts)
		if err != nil {
			b.Fatal(err)
		}
		sess, err := onnx.Open(path, io_, opts)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range []int{1, 4, 8, 16} {
			in := []tensor.Tensor{clsInput(rng, n)}
			b.Run(fmt.Sprintf("raw/threads=%d/batch=%d", threads, n), func(b *testing.B) {
				for b.Loop() {
					if _, err := sess.Run(context.Background(), in); err != nil {
						b.Fatal(err)
					}
				}
				perItem := b.Elapsed().Seconds() / float64(b.N*n)
				ips := 1 / perItem
				b.ReportMetric(ips, "items/s")
				if threads == 1 && ips > rawLimit {
					rawLimit = ips
				}
				if threads == 1 && n == 1 {
					rawBatch1 = b.Elapsed() / time.Duration(b.N)
				}
			})
		}
		sess.Close()
	}

	dir := b.TempDir()
	copyFile(b, path, filepath.Join(dir, "ppocr_cls", "1", "model.onnx"))
	tn := startNode(b, dir, nil)
	one := clsInput(rng, 1)
	for _, enc := range []string{"json", "binary"} {
		body, hl := api.AppendInferRequest(nil, &api.InferRequest{Inputs: []tensor.Tensor{one}, BinaryOutput: enc == "binary"}, enc == "binary")
		for _, conc := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("served/body=%s/conc=%d", enc, conc), func(b *testing.B) {
				lat := loadRun(b, tn.url+"/v2/models/ppocr_cls/infer", body, hl, conc)
				ips := float64(b.N) / b.Elapsed().Seconds()
				b.ReportMetric(ips, "items/s")
				if rawLimit > 0 {
					b.ReportMetric(ips/rawLimit, "ratio")
				}
				b.ReportMetric(float64(percentile(lat, 50).Microseconds()), "p50-µs")
				b.ReportMetric(float64(percentile(lat, 99).Microseconds()), "p99-µs")
				if conc == 1 && rawBatch1 > 0 {
					b.ReportMetric(float64((percentile(lat, 50) - rawBatch1).Microseconds()), "added-p50-µs")
				}
			})
		}
	}
}

// loadRun sends b.N requests from conc goroutines, each waiting for its
// answer before the next (closed loop), and returns every latency.
func loadRun(b *testing.B, url string, body []byte, headerLen, conc int) []time.Duration {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	lats := make([][]time.Duration, conc)
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				if headerLen < len(body) {
					req.Header.Set("Inference-Header-Content-Length", strconv.Itoa(headerLen))
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
				lats[w] = append(lats[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	return slices.Concat(lats...)
}

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}
