package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/taominer/taominer/api/kservegrpc"
	"github.com/taominer/taominer/api/kservepb"
	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/models"
)

// gateOpener opens models with ONNX Runtime, after counting the call,
// sending the path on opening (when set) and waiting for gate to close
// (when set): a model that takes as long to open as the test wants.
type gateOpener struct {
	calls   atomic.Int32
	opening chan string
	gate    chan struct{}
}

func (o *gateOpener) Open(ctx context.Context, path string, cfg models.Config) (models.IO, models.Session, error) {
	o.calls.Add(1)
	if o.opening != nil {
		o.opening <- path
	}
	if o.gate != nil {
		<-o.gate
	}
	return onnxOpener{threads: 1}.Open(ctx, path, cfg)
}

// TestBusyPortFailsBeforeLoading holds the HTTP port, then the axon port,
// and starts a miner on it: the start fails with the flag, the address
// and what to do, before any model is opened.
func TestBusyPortFailsBeforeLoading(t *testing.T) {
	held, err := net.Listen("tcp", ":0") // all interfaces, as the axon binds
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	port := held.Addr().(*net.TCPAddr).Port
	tests := []struct {
		name  string
		tweak func(*config.Serve)
		want  string
	}{
		{"http", func(c *config.Serve) { c.HTTPAddr = fmt.Sprintf(":%d", port) },
			fmt.Sprintf("listen on --http-addr :%d: address already in use; another miner or program holds it: stop it or pick another port", port)},
		{"grpc", func(c *config.Serve) { c.GRPCAddr = fmt.Sprintf(":%d", port) },
			fmt.Sprintf("listen on --grpc-addr :%d: address already in use; another miner or program holds it: stop it or pick another port", port)},
		{"axon", func(c *config.Serve) {
			c.WalletPath, c.Wallet, c.AxonPort = axonWallets(t), "miner", port
		}, fmt.Sprintf("listen on --axon-port :%d: address already in use; another miner or program holds it: stop it or pick another port", port)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.DefaultServe()
			cfg.HTTPAddr, cfg.ModelsDir, cfg.LogLevel = "127.0.0.1:0", rowSumRepo(t), "info"
			cfg.GRPCAddr = "127.0.0.1:0"
			tt.tweak(&cfg)
			var logs syncBuffer
			o := &gateOpener{}
			n, err := newNodeWith(t.Context(), cfg, newLogger(cfg, &logs), nodeOptions{opener: o})
			if err == nil {
				n.close()
				t.Fatalf("a miner started on the busy port %d", port)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n%v\nwant\n%s", err, tt.want)
			}
			if c := o.calls.Load(); c != 0 {
				t.Errorf("%d models opened before the busy port failed the start, want none", c)
			}
			if strings.Contains(logs.String(), "model loaded") {
				t.Errorf("log shows a model loaded before the busy port failed the start:\n%s", logs.String())
			}
		})
	}
}

// TestAnswersWhileLoading starts a miner whose model takes long to open:
// while it opens, the HTTP port answers liveness 200, readiness 503 and
// every other route 503 "starting: loading models", and the axon port 503
// with the same message, each such 503 counted once in
// taominer_refusals_total{reason="starting"}; once it is loaded, readiness
// answers 200, the model serves and those counts stay.
func TestAnswersWhileLoading(t *testing.T) {
	cfg := config.DefaultServe()
	cfg.HTTPAddr, cfg.ModelsDir, cfg.LogLevel = "127.0.0.1:0", rowSumRepo(t), "warn"
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.WalletPath, cfg.Wallet, cfg.AxonPort = axonWallets(t), "miner", 0
	o := &gateOpener{opening: make(chan string, 1), gate: make(chan struct{})}
	// newNodeWith's first step (bindNode alone leaves ONNX Runtime
	// unloaded when this test runs by itself).
	if err := loadRuntime(cfg, newLogger(cfg, io.Discard)); err != nil {
		t.Fatal(err)
	}
	n, err := bindNode(cfg, newLogger(cfg, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	built := make(chan error, 1)
	go func() { built <- n.build(t.Context(), nodeOptions{opener: o}) }()
	<-o.opening // the model is opening, and stays so until the gate opens
	tn := &testNode{url: "http://" + n.Addr(), n: n}
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/v2/health/live", http.StatusOK},
		{http.MethodGet, "/v2/health/ready", http.StatusServiceUnavailable},
	} {
		if r := tn.do(t, c.method, c.path, nil, nil); r.status != c.status {
			t.Errorf("%s %s while loading: %d %s, want %d", c.method, c.path, r.status, r.body, c.status)
		}
	}
	for _, path := range []string{"/v2/models/row_sum/ready", "/v2/models/row_sum/infer", "/v1/stats"} {
		method := http.MethodGet
		if strings.HasSuffix(path, "/infer") {
			method = http.MethodPost
		}
		errorBody(t, tn.do(t, method, path, nil, nil), http.StatusServiceUnavailable, "starting: loading models")
	}
	if r := tn.do(t, http.MethodGet, "/metrics", nil, nil); r.status != http.StatusOK || !strings.Contains(string(r.body), "taominer_refusals_total") {
		t.Errorf("GET /metrics while loading: %d, want 200 with the metrics registered so far", r.status)
	}
	_, axonPort, _ := net.SplitHostPort(n.AxonAddr())
	resp, err := http.Post("http://127.0.0.1:"+axonPort+"/Infer", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Message string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || body.Message != "starting: loading models" {
		t.Errorf("axon while loading: %d %q, want 503 \"starting: loading models\"", resp.StatusCode, body.Message)
	}
	// Each 503 "starting" counted once, by port; readiness's 503 is not.
	startingRefusals := func(when string) {
		t.Helper()
		mfs := scrape(t, tn)
		for _, c := range []struct {
			port, protocol string
			want           float64
		}{{"http", "kserve", 3}, {"axon", "axon", 1}} {
			m := sample(mfs, "taominer_refusals_total", map[string]string{"port": c.port, "protocol": c.protocol, "reason": "starting"})
			if got := m.GetCounter().GetValue(); m == nil || got != c.want {
				t.Errorf("%s: taominer_refusals_total{port=%q,reason=\"starting\"} = %v, want %v", when, c.port, got, c.want)
			}
		}
	}
	startingRefusals("while loading")

	gc, cc := dialGRPC(t, n)
	checkGRPCStarting(t, gc, cc)
	waitCount(t, tn, "taominer_refusals_total", map[string]string{"port": "grpc", "protocol": "kserve_grpc", "reason": "starting"}, 2)

	close(o.gate)
	if err := <-built; err != nil {
		n.close()
		t.Fatal(err)
	}
	runNode(t, n)
	if r := tn.do(t, http.MethodGet, "/v2/health/ready", nil, nil); r.status != http.StatusOK {
		t.Errorf("readiness once loaded: %d, want 200", r.status)
	}
	if r, err := gc.ServerReady(t.Context(), &kservepb.ServerReadyRequest{}); err != nil || !r.Ready {
		t.Errorf("gRPC ServerReady once loaded: %v, %v; want ready", r, err)
	}
	if _, err := gc.ModelInfer(t.Context(), kservegrpc.EncodeInferRequest("row_sum", "", rowSumInfer())); err != nil {
		t.Errorf("gRPC ModelInfer once loaded: %v", err)
	}
	resp2 := tn.infer(t, "/v2/models/row_sum/infer", rowSumInfer(), false)
	if resp2.ModelName != "row_sum" {
		t.Errorf("infer once loaded: %+v", resp2)
	}
	startingRefusals("once loaded") // kept, and nothing more counted
}
