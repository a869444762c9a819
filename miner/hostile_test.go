package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/dendrite"
	"github.com/taominer/taominer/api/guard"
	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/tensor"
)

// The public ports under hostile clients, with real processes and sockets:
// memory follows bytes received, stalled bodies are closed at their
// deadline, connections past the caps are refused while probes are still
// answered, and a client that goes away is a cancellation, never a 400.

// childNode is a miner serving in a child process (startChild).
type childNode struct {
	cmd *exec.Cmd
	out *syncBuffer
	tn  *testNode
}

var servingAddr = regexp.MustCompile(`msg=serving addr=(\S+)`)

// startChildNode runs `miner serve args...` on a free loopback port and
// waits until it serves.
func startChildNode(t *testing.T, args ...string) *childNode {
	t.Helper()
	cmd, out := startChild(t, append([]string{"serve", "--http-addr", "127.0.0.1:0", "--grpc-addr", "", "--log-level", "info"}, args...)...)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := servingAddr.FindStringSubmatch(out.String()); m != nil {
			return &childNode{cmd: cmd, out: out, tn: &testNode{url: "http://" + m[1]}}
		}
		if time.Now().After(deadline) || zombie(cmd.Process.Pid) {
			t.Fatalf("the miner did not start serving; its output:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// zombie reports whether process pid has exited (and awaits its reaping).
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// rss is the child's resident set size in bytes.
func (c *childNode) rss(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/pid/status")
	return 0
}

// heapHeld is the Go heap memory the child holds from the operating system
// (heap_sys − heap_released): what RSS follows, without the race
// detector's shadow memory when the tests run with -race.
func heapHeld(t *testing.T, tn *testNode) int64 {
	t.Helper()
	mfs := scrape(t, tn)
	v := func(name string) int64 {
		m := sample(mfs, name, nil)
		if m == nil {
			t.Fatalf("/metrics has no %s", name)
		}
		return int64(m.GetGauge().GetValue())
	}
	return v("go_memstats_heap_sys_bytes") - v("go_memstats_heap_released_bytes")
}

// refusals reads taominer_refusals_total for port, protocol and reason.
func refusals(t *testing.T, tn *testNode, port, protocol, reason string) float64 {
	t.Helper()
	m := sample(scrape(t, tn), "taominer_refusals_total", map[string]string{"port": port, "protocol": protocol, "reason": reason})
	if m == nil {
		t.Fatalf("/metrics has no taominer_refusals_total{port=%q,protocol=%q,reason=%q}", port, protocol, reason)
	}
	return m.GetCounter().GetValue()
}

// dialFrom connects to the node from a loopback source address (127.0.0.x
// other than 127.0.0.1 is outside the trusted network these tests set).
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func hostPort(tn *testNode) string { return strings.TrimPrefix(tn.url, "http://") }

// oneCls is a valid binary request of one PaddleOCR image.
func oneCls(seed uint64) *api.InferRequest {
	return &api.InferRequest{Inputs: []tensor.Tensor{clsInput(rand.New(rand.NewPCG(seed, seed)), 1)}}
}

func clsRepo(t *testing.T) string {
	dir := t.TempDir()
	copyFile(t, modeltest.PaddleOCRClsPath(t), filepath.Join(dir, "ppocr_cls", "1", "model.onnx"))
	copyFile(t, filepath.Join(modeltest.RepoRoot(), "model-repo", "ppocr_cls", "config.yaml"), filepath.Join(dir, "ppocr_cls", "config.yaml"))
	return dir
}

// TestStalledUploads: 30, then 300, connections declaring 60 MB bodies and
// sending 11 bytes grow the miner's memory by a bounded amount (the bytes
// received, not declared), each is answered 408 and closed at the body
// deadline, and valid requests are answered meanwhile.
func TestStalledUploads(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a miner process")
	}
	const bodyTimeout = 3 * time.Second
	c := startChildNode(t, "--models", clsRepo(t), "--body-read-timeout", bodyTimeout.String(),
		"--trusted-network", "127.0.0.1/32")
	tn := c.tn
	tn.infer(t, "/v2/models/ppocr_cls/infer", oneCls(1), true) // warm up
	baseHeap, baseRSS := heapHeld(t, tn), c.rss(t)
	for _, n := range []int{30, 300} {
		start := time.Now()
		conns := make([]net.Conn, n)
		for i := range conns {
			// 60 per source address, within --max-connections-per-ip.
			conns[i] = dialFrom(t, fmt.Sprintf("127.0.0.%d", 2+i/60), hostPort(tn))
			fmt.Fprintf(conns[i], "POST /v2/models/ppocr_cls/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
				"Content-Length: 60000000\r\n\r\nhello world")
		}
		time.Sleep(bodyTimeout / 3) // every header is in, every body stalled
		peakHeap, peakRSS := heapHeld(t, tn), c.rss(t)
		// Valid requests are answered meanwhile, trusted or not.
		tn.infer(t, "/v2/models/ppocr_cls/infer", oneCls(2), true)
		other := dialFrom(t, "127.0.0.250", hostPort(tn))
		body, hl := api.AppendInferRequest(nil, oneCls(3), true)
		fmt.Fprintf(other, "POST /v2/models/ppocr_cls/infer HTTP/1.1\r\nHost: x\r\nInference-Header-Content-Length: %d\r\nContent-Length: %d\r\n\r\n", hl, len(body))
		_, _ = other.Write(body)
		if resp := readResponse(t, other); resp.StatusCode != http.StatusOK {
			t.Errorf("a valid request during the stall: %d", resp.StatusCode)
		}
		// Each stalled upload is answered 408 and closed at its deadline.
		var wg sync.WaitGroup
		var mu sync.Mutex
		statuses := map[int]int{}
		for _, conn := range conns {
			wg.Go(func() {
				_ = conn.SetReadDeadline(time.Now().Add(bodyTimeout + 30*time.Second))
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				code := -1
				if err == nil {
					code = resp.StatusCode
					_, err = io.Copy(io.Discard, conn) // then the close
				}
				mu.Lock()
				defer mu.Unlock()
				statuses[code]++
				if err != nil {
					statuses[-2]++ // not closed by the server
				}
			})
		}
		wg.Wait()
		closedAfter := time.Since(start)
		if statuses[http.StatusRequestTimeout] != n {
			t.Errorf("%d stalled uploads: answers %v, want %d × 408 then a close", n, statuses, n)
		}
		t.Logf("%d stalled 60 MB uploads: RSS %d → %d MiB, Go heap held %d → %d MiB; all closed %.1fs after they started (--body-read-timeout %s)",
			n, baseRSS>>20, peakRSS>>20, baseHeap>>20, peakHeap>>20, closedAfter.Seconds(), bodyTimeout)
		if grew := peakHeap - baseHeap; grew > 64<<20 {
			t.Errorf("%d stalled uploads declaring 60 MB grew the heap by %d MiB, want at most 64 MiB", n, grew>>20)
		}
	}
	if got := refusals(t, tn, "http", "kserve", guard.ReasonBodyTimeout); got != 330 {
		t.Errorf("taominer_refusals_total{reason=body_timeout} = %v, want 330", got)
	}
}

// readResponse reads one answer from a raw connection.
func readResponse(t *testing.T, c net.Conn) *http.Response {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

// TestBurstOfLargeBodies: a burst of large valid JSON bodies over the body
// budget gets 200s and clear 503s, and afterwards the memory goes back to
// the operating system within 60 s.
func TestBurstOfLargeBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a miner process")
	}
	c := startChildNode(t, "--models", clsRepo(t), "--max-body-bytes", strconv.Itoa(8<<20),
		"--max-inflight-body-bytes", strconv.Itoa(48<<20))
	tn := c.tn
	rng := rand.New(rand.NewPCG(4, 4))
	req := &api.InferRequest{Inputs: []tensor.Tensor{clsInput(rng, 16)}}
	body, _ := api.AppendInferRequest(nil, req, false) // JSON: about 4 MB
	tn.infer(t, "/v2/models/ppocr_cls/infer", oneCls(1), true)
	baseHeap, baseRSS := heapHeld(t, tn), c.rss(t)

	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 16 {
		wg.Go(func() {
			for range 3 {
				resp, err := http.Post(tn.url+"/v2/models/ppocr_cls/infer", "application/json", bytes.NewReader(body))
				if err != nil {
					// A refused body's connection is closed while the client
					// still sends: it may see the close before the 503.
					mu.Lock()
					codes[-1]++
					mu.Unlock()
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				mu.Lock()
				codes[resp.StatusCode]++
				mu.Unlock()
				if resp.StatusCode == http.StatusServiceUnavailable {
					var e api.ErrorBody
					if json.Unmarshal(b, &e) != nil || !strings.Contains(e.Error, "--max-inflight-body-bytes") || !resp.Close {
						t.Errorf("over-budget answer: %s (close %v)", b, resp.Close)
					}
				} else if resp.StatusCode != http.StatusOK {
					t.Errorf("burst answer %d: %s", resp.StatusCode, b)
				}
			}
		})
	}
	wg.Wait()
	peakHeap, peakRSS := heapHeld(t, tn), c.rss(t)
	if codes[http.StatusOK] == 0 {
		t.Fatalf("no request of the burst was answered: %v", codes)
	}
	start := time.Now()
	var heap, rss int64
	for {
		heap, rss = heapHeld(t, tn), c.rss(t)
		if heap <= baseHeap+64<<20 || time.Since(start) > 60*time.Second {
			break
		}
		time.Sleep(time.Second)
	}
	t.Logf("burst of 48 × %d-byte JSON bodies (budget 48 MiB): answers %v; RSS %d → %d → %d MiB, Go heap held %d → %d → %d MiB after %.0fs",
		len(body), codes, baseRSS>>20, peakRSS>>20, rss>>20, baseHeap>>20, peakHeap>>20, heap>>20, time.Since(start).Seconds())
	if heap > baseHeap+64<<20 {
		t.Errorf("60 s after the burst the Go heap holds %d MiB from the OS, baseline %d MiB", heap>>20, baseHeap>>20)
	}
	if codes[http.StatusServiceUnavailable]+codes[-1] > 0 && refusals(t, tn, "http", "kserve", guard.ReasonBodyBudget) == 0 {
		t.Error("over-budget refusals were not counted")
	}
}

// TestConnectionCapsKeepProbes: connections past the caps are refused and
// counted while health probes and /metrics from a trusted address keep
// answering.
func TestConnectionCapsKeepProbes(t *testing.T) {
	tn := startNode(t, clsRepo(t), func(c *config.Serve) {
		c.MaxConnections, c.MaxConnectionsPerIP, c.TrustedNetworks = 6, 3, []string{"127.0.0.1/32"}
	})
	hold := func(src string) {
		c := dialFrom(t, src, hostPort(tn))
		fmt.Fprintf(c, "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp := readResponse(t, c); resp.StatusCode != http.StatusOK {
			t.Fatalf("admitted connection from %s: %d", src, resp.StatusCode)
		}
	}
	refused := func(src string) string {
		c := dialFrom(t, src, hostPort(tn))
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(c)
		return string(b)
	}
	for range 3 {
		hold("127.0.0.2")
	}
	if got := refused("127.0.0.2"); !strings.Contains(got, "503") || !strings.Contains(got, "from your address") {
		t.Errorf("a 4th connection from one address: %q", got)
	}
	for range 3 {
		hold("127.0.0.3")
	}
	if got := refused("127.0.0.4"); !strings.Contains(got, "503") || !strings.Contains(got, "to this port") {
		t.Errorf("a 7th connection: %q", got)
	}
	for _, path := range []string{"/v2/health/ready", "/v2/health/live", "/metrics"} {
		if r := tn.do(t, http.MethodGet, path, nil, nil); r.status != http.StatusOK {
			t.Errorf("probe %s while the caps are hit: %d", path, r.status)
		}
	}
	if got := refusals(t, tn, "http", "tcp", guard.ReasonConnLimitIP); got != 1 {
		t.Errorf("conn_limit_ip refusals %v, want 1", got)
	}
	if got := refusals(t, tn, "http", "tcp", guard.ReasonConnLimit); got != 1 {
		t.Errorf("conn_limit refusals %v, want 1", got)
	}
}

// TestHalfClosedClient: a client that half-closes its side after a
// complete request has gone away as far as HTTP can tell: its request is
// cancelled, answered 499 (never 400), and counted as client_closed.
func TestHalfClosedClient(t *testing.T) {
	dir := clsRepo(t)
	// A batching window makes the request wait long enough for the
	// half-close to be seen first.
	copyFile(t, modeltest.PaddleOCRClsPath(t), filepath.Join(dir, "ppocr_wait.onnx"))
	writeFile(t, filepath.Join(dir, "ppocr_wait.yaml"), "dynamic_batching:\n  max_queue_delay_microseconds: 500000\n")
	tn := startNode(t, dir, nil)
	body, hl := api.AppendInferRequest(nil, oneCls(5), true)
	for _, path := range []string{"/v2/models/ppocr_wait/infer", "/v2/models/ppocr_cls/infer"} {
		c := dialFrom(t, "127.0.0.1", hostPort(tn))
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nInference-Header-Content-Length: %d\r\nContent-Length: %d\r\n\r\n", path, hl, len(body))
		_, _ = c.Write(body)
		if err := c.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		resp := readResponse(t, c)
		b, _ := io.ReadAll(resp.Body)
		switch {
		case path == "/v2/models/ppocr_wait/infer" && resp.StatusCode != api.StatusClientClosedRequest:
			t.Errorf("%s, half-closed during the batching window: %d %s, want 499", path, resp.StatusCode, b)
		case resp.StatusCode != http.StatusOK && resp.StatusCode != api.StatusClientClosedRequest:
			t.Errorf("%s, half-closed: %d %s, want its answer or 499", path, resp.StatusCode, b)
		}
	}
	if got := refusals(t, tn, "http", "kserve", guard.ReasonClientClosed); got < 1 {
		t.Errorf("client_closed refusals %v, want at least 1", got)
	}
}

// TestAxonPortGuarded: the axon port has the same guard: a signed call
// whose body stalls is answered 408 and closed at the body deadline
// (counted in both the ports' and the axon's refusal metrics), and
// connections past the per-address cap are refused.
func TestAxonPortGuarded(t *testing.T) {
	tn, addr, _ := startAxonNode(t, func(c *config.Serve) {
		c.BodyReadTimeout, c.MaxConnectionsPerIP, c.TrustedNetworks = time.Second, 2, []string{"127.0.0.1/32"}
	})
	c, err := dendrite.New(axonDevKey(t, "//Alice"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Sign(dendrite.Target{Addr: addr, Hotkey: axonDevKey(t, "//Bob").SS58()}, rowSumSynapse())
	if err != nil {
		t.Fatal(err)
	}
	conn := dialFrom(t, "127.0.0.2", addr)
	var head strings.Builder
	fmt.Fprintf(&head, "POST /%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n", s.Name, len(s.Body)+1000)
	for k, vs := range s.Header {
		if !strings.EqualFold(k, "Content-Length") {
			fmt.Fprintf(&head, "%s: %s\r\n", k, vs[0])
		}
	}
	head.WriteString("\r\n")
	_, _ = conn.Write(append([]byte(head.String()), s.Body...)) // 1000 bytes short
	start := time.Now()
	resp := readResponse(t, conn)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), "--body-read-timeout") {
		t.Errorf("stalled axon body: %d %s", resp.StatusCode, b)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, conn); err != nil {
		t.Errorf("the stalled connection was not closed: %v", err)
	}
	t.Logf("stalled axon body answered and closed after %v", time.Since(start).Round(time.Millisecond))
	if got := refusals(t, tn, "axon", "axon", guard.ReasonBodyTimeout); got != 1 {
		t.Errorf("taominer_refusals_total{port=axon,reason=body_timeout} = %v, want 1", got)
	}
	if m := sample(scrape(t, tn), "taominer_axon_refused_total", map[string]string{"reason": "body_timeout"}); m.GetCounter().GetValue() != 1 {
		t.Errorf("taominer_axon_refused_total{reason=body_timeout} = %v, want 1", m.GetCounter().GetValue())
	}

	for range 2 {
		dialFrom(t, "127.0.0.3", addr)
	}
	extra := dialFrom(t, "127.0.0.3", addr)
	_ = extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, _ := io.ReadAll(extra); !strings.Contains(string(got), "503") {
		t.Errorf("a 3rd axon connection from one address read %q", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for refusals(t, tn, "axon", "tcp", guard.ReasonConnLimitIP) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the refused axon connection was not counted")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
