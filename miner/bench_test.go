package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/onnx"
	"github.com/taominer/taominer/models/tensor"
)

// BenchmarkServe measures, in one run, the raw ONNX Runtime limit of the
// bundled PaddleOCR classifier (in-process, the session options the miner
// uses, batch sizes 1..16) and the miner's served throughput over real HTTP
// with JSON and binary bodies at concurrency 1, 4 and 16, each reported as a
// ratio to that limit, plus p50/p99 latency and the p50 added over a raw
// batch-1 run.
//
// Two setups:
//   - pinned: the miner runs as its own process on the last CPU (taskset);
//     the raw limit is measured on a thread pinned to that same CPU; the load
//     comes from this process. This is the fair "one core serves" ratio of
//     the method in shared/spec/serving.md §6.
//   - inproc: miner and load share this process and every CPU; the raw limit
//     is a plain loop, so the ratio counts the load generator's CPU as the
//     server's cost.
//
// Run: go test ./miner -run '^$' -bench Serve -benchtime 3s
func BenchmarkServe(b *testing.B) {
	path := modeltest.PaddleOCRClsPath(b)
	modeltest.InitRuntime(b)
	rng := rand.New(rand.NewPCG(9, 9))
	one := clsInput(rng, 1)
	bodies := map[string][]byte{}
	headerLens := map[string]int{}
	for _, enc := range []string{"json", "binary"} {
		bodies[enc], headerLens[enc] = api.AppendInferRequest(nil, &api.InferRequest{Inputs: []tensor.Tensor{one}, BinaryOutput: enc == "binary"}, enc == "binary")
	}
	dir := b.TempDir()
	copyFile(b, path, filepath.Join(dir, "ppocr_cls", "1", "model.onnx"))

	setups := []struct {
		name string
		cpu  int // -1: not pinned
	}{{"pinned", runtime.NumCPU() - 1}, {"inproc", -1}}
	for _, setup := range setups {
		if setup.cpu == 0 {
			continue // one CPU: no room for a separate load generator
		}
		b.Run(setup.name, func(b *testing.B) {
			var limit float64
			var batch1 time.Duration
			for _, n := range []int{1, 4, 8, 16} {
				in := []tensor.Tensor{clsInput(rng, n)}
				b.Run(fmt.Sprintf("raw/batch=%d", n), func(b *testing.B) {
					ips, per := rawRun(b, path, in, setup.cpu)
					b.ReportMetric(ips, "items/s")
					limit = max(limit, ips)
					if n == 1 {
						batch1 = per
					}
				})
			}
			url, pid := "", 0
			if setup.cpu >= 0 {
				url, pid = startMinerProcess(b, dir, setup.cpu)
			} else {
				url = startNode(b, dir, nil).url
			}
			for _, enc := range []string{"json", "binary"} {
				for _, conc := range []int{1, 4, 16} {
					b.Run(fmt.Sprintf("served/body=%s/conc=%d", enc, conc), func(b *testing.B) {
						lat := loadRun(b, url+"/v2/models/ppocr_cls/infer", bodies[enc], headerLens[enc], conc)
						ips := float64(b.N) / b.Elapsed().Seconds()
						p50 := percentile(lat, 50)
						b.ReportMetric(ips, "items/s")
						b.ReportMetric(ips/limit, "ratio")
						b.ReportMetric(float64(p50.Microseconds()), "p50-µs")
						b.ReportMetric(float64(percentile(lat, 99).Microseconds()), "p99-µs")
						if conc == 1 {
							b.ReportMetric(float64((p50 - batch1).Microseconds()), "added-p50-µs")
						}
						if pid > 0 {
							b.ReportMetric(residentMB(b, pid), "server-rss-MB")
						}
					})
				}
			}
		})
	}
}

// BenchmarkIntraOpThreads compares ONNX Runtime intra-op thread counts on the
// classifier, alone and with the other CPUs kept busy (as a serving process
// keeps them with HTTP and decoding).
func BenchmarkIntraOpThreads(b *testing.B) {
	path := modeltest.PaddleOCRClsPath(b)
	modeltest.InitRuntime(b)
	rng := rand.New(rand.NewPCG(1, 1))
	for _, busy := range []bool{false, true} {
		for _, threads := range []int{1, 2} {
			for _, n := range []int{1, 16} {
				in := []tensor.Tensor{clsInput(rng, n)}
				b.Run(fmt.Sprintf("neighbour-busy=%v/threads=%d/batch=%d", busy, threads, n), func(b *testing.B) {
					if busy {
						stop := burnOtherCPUs()
						defer stop()
					}
					sess := openSession(b, path, threads)
					for b.Loop() {
						if _, err := sess.Run(context.Background(), in); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "items/s")
				})
			}
		}
	}
}

// burnOtherCPUs keeps NumCPU-1 goroutines spinning until stop is called.
func burnOtherCPUs() (stop func()) {
	var done atomic.Bool
	var wg sync.WaitGroup
	for range runtime.NumCPU() - 1 {
		wg.Go(func() {
			x := 0
			for !done.Load() {
				x++
			}
			_ = x
		})
	}
	return func() { done.Store(true); wg.Wait() }
}

func openSession(b *testing.B, path string, threads int) *onnx.Session {
	opts := onnx.Options{IntraOpThreads: threads}
	io_, err := onnx.ReadIO(path, opts)
	if err != nil {
		b.Fatal(err)
	}
	sess, err := onnx.Open(path, io_, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sess.Close() })
	return sess
}

// rawRun runs the model in a tight loop, on a thread pinned to cpu when
// cpu >= 0, and returns items/s and the time per run.
func rawRun(b *testing.B, path string, in []tensor.Tensor, cpu int) (float64, time.Duration) {
	sess := openSession(b, path, 1)
	if cpu >= 0 {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var all, one unix.CPUSet
		if err := unix.SchedGetaffinity(0, &all); err != nil {
			b.Fatal(err)
		}
		one.Set(cpu)
		if err := unix.SchedSetaffinity(0, &one); err != nil {
			b.Fatal(err)
		}
		defer unix.SchedSetaffinity(0, &all)
	}
	for b.Loop() {
		if _, err := sess.Run(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
	per := b.Elapsed() / time.Duration(b.N)
	return float64(int64(b.N)*in[0].Shape[0]) / b.Elapsed().Seconds(), per
}

// startMinerProcess builds the miner and runs `miner serve` on dir as a
// separate process pinned to cpu, returning its base URL once ready.
func startMinerProcess(b *testing.B, dir string, cpu int) (string, int) {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "miner")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build miner: %v\n%s", err, out)
	}
	lib, err := onnx.FindLibrary("")
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command("taskset", "-c", strconv.Itoa(cpu), bin, "serve", "--models", dir, "--http-addr", addr, "--grpc-addr", "",
		"--onnxruntime-lib", lib, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("start miner (needs taskset from util-linux): %v", err)
	}
	b.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	url := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(url + "/v2/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url, cmd.Process.Pid
			}
		}
	}
	b.Fatal("miner process did not become ready within 30s")
	return "", 0
}

// residentMB reads a process's resident set size from /proc.
func residentMB(b *testing.B, pid int) float64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				b.Fatal(err)
			}
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmRSS in /proc status")
	return 0
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
