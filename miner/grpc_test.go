package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/kservegrpc"
	"github.com/taominer/taominer/api/kservepb"
	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/miner/internal/redistest"
	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/tensor"
)

// withGRPC serves gRPC on a free loopback port.
func withGRPC(c *config.Serve) { c.GRPCAddr = "127.0.0.1:0" }

// dialGRPC is a real gRPC client of the node's gRPC port.
func dialGRPC(t testing.TB, n *node) (kservepb.GRPCInferenceServiceClient, *grpc.ClientConn) {
	t.Helper()
	cc, err := grpc.NewClient(n.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30), grpc.MaxCallSendMsgSize(1<<30)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return kservepb.NewGRPCInferenceServiceClient(cc), cc
}

func grpcCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantCode checks a call's status code and that its message contains want.
func wantCode(t *testing.T, err error, code codes.Code, want string) {
	t.Helper()
	st := grpcstatus.Convert(err)
	if st.Code() != code || !strings.Contains(st.Message(), want) {
		t.Errorf("got %v %q, want %v containing %q", st.Code(), st.Message(), code, want)
	}
}

// TestGRPCAnswersLikeHTTP runs the bundled model and row_sum through the
// gRPC port and the HTTP port of one node: same outputs, byte for byte;
// metadata, config, readiness, index, statistics and health answered.
func TestGRPCAnswersLikeHTTP(t *testing.T) {
	tn := startNode(t, standardRepo(t), withGRPC)
	c, cc := dialGRPC(t, tn.n)
	ctx := grpcCtx(t)

	if r, err := c.ServerLive(ctx, &kservepb.ServerLiveRequest{}); err != nil || !r.Live {
		t.Errorf("ServerLive = %v, %v", r, err)
	}
	if r, err := c.ServerReady(ctx, &kservepb.ServerReadyRequest{}); err != nil || !r.Ready {
		t.Errorf("ServerReady = %v, %v", r, err)
	}
	if r, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health Check = %v, %v", r, err)
	}
	_, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"})
	wantCode(t, err, codes.NotFound, `unknown service "nope"`)
	md, err := c.ServerMetadata(ctx, &kservepb.ServerMetadataRequest{})
	if err != nil || md.Name != "taominer" || !strings.Contains(strings.Join(md.Extensions, ","), "statistics") {
		t.Errorf("ServerMetadata = %v, %v", md, err)
	}
	mm, err := c.ModelMetadata(ctx, &kservepb.ModelMetadataRequest{Name: "ppocr_cls"})
	if err != nil || mm.Platform != "onnxruntime_onnx" || len(mm.Inputs) != 1 || mm.Inputs[0].Datatype != "FP32" ||
		!equalShape(mm.Inputs[0].Shape, []int64{-1, 3, 48, 192}) {
		t.Errorf("ModelMetadata = %v, %v", mm, err)
	}
	cfg, err := c.ModelConfig(ctx, &kservepb.ModelConfigRequest{Name: "ppocr_cls"})
	if err != nil || cfg.Config.MaxBatchSize < 1 || cfg.Config.Input[0].DataType != kservepb.DataType_TYPE_FP32 ||
		!equalShape(cfg.Config.Input[0].Dims, []int64{3, 48, 192}) {
		t.Errorf("ModelConfig = %v, %v", cfg, err)
	}
	if r, err := c.ModelReady(ctx, &kservepb.ModelReadyRequest{Name: "row_sum"}); err != nil || !r.Ready {
		t.Errorf("ModelReady(row_sum) = %v, %v", r, err)
	}
	if r, err := c.ModelReady(ctx, &kservepb.ModelReadyRequest{Name: "nope"}); err != nil || r.Ready {
		t.Errorf("ModelReady(nope) = %v, %v; want ready false, no error", r, err)
	}
	idx, err := c.RepositoryIndex(ctx, &kservepb.RepositoryIndexRequest{Ready: true})
	if err != nil || len(idx.Models) < 3 {
		t.Errorf("RepositoryIndex = %v, %v", idx, err)
	}

	rng := rand.New(rand.NewPCG(7, 7))
	for _, tc := range []struct {
		model string
		req   *api.InferRequest
	}{
		{"ppocr_cls", &api.InferRequest{ID: "cls-2", Inputs: []tensor.Tensor{clsInput(rng, 2)}}},
		{"row_sum", rowSumInfer()},
	} {
		want := tn.infer(t, "/v2/models/"+tc.model+"/infer", tc.req, true)
		r, err := c.ModelInfer(ctx, kservegrpc.EncodeInferRequest(tc.model, "", tc.req))
		if err != nil {
			t.Fatalf("ModelInfer(%s): %v", tc.model, err)
		}
		if r.Id != tc.req.ID || r.ModelName != tc.model || len(r.RawOutputContents) != len(want.Outputs) {
			t.Fatalf("ModelInfer(%s) = id %q model %q, %d raw outputs; want %q %q %d", tc.model, r.Id, r.ModelName,
				len(r.RawOutputContents), tc.req.ID, tc.model, len(want.Outputs))
		}
		for i, o := range want.Outputs {
			if r.Outputs[i].Name != o.Name || !bytes.Equal(r.RawOutputContents[i], o.Data) || !equalShape(r.Outputs[i].Shape, o.Shape) {
				t.Errorf("%s output %d: gRPC %s %v %x, HTTP %s %v %x", tc.model, i, r.Outputs[i].Name, r.Outputs[i].Shape,
					r.RawOutputContents[i], o.Name, o.Shape, o.Data)
			}
		}
	}

	// The same row_sum request in typed contents.
	typed := &kservepb.ModelInferRequest{ModelName: "row_sum", Inputs: []*kservepb.ModelInferRequest_InferInputTensor{{
		Name: "x", Datatype: "FP32", Shape: []int64{1, 2}, Contents: &kservepb.InferTensorContents{Fp32Contents: []float32{1, 2}}}},
		Outputs: []*kservepb.ModelInferRequest_InferRequestedOutputTensor{{Name: "s"}}}
	r, err := c.ModelInfer(ctx, typed)
	if err != nil || len(r.Outputs) != 1 || r.Outputs[0].Name != "s" || !equalF32(modeltest.F32s(r.RawOutputContents[0]), []float32{3}) {
		t.Errorf("typed ModelInfer(row_sum) = %v, %v; want s = [3] in raw_output_contents", r, err)
	}

	// Two requests on one stream, the second marked final.
	s, err := c.ModelStreamInfer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second := kservegrpc.EncodeInferRequest("row_sum", "", rowSumInfer())
	second.Parameters = map[string]*kservepb.InferParameter{"triton_enable_empty_final_response": {ParameterChoice: &kservepb.InferParameter_BoolParam{BoolParam: true}}}
	for i, m := range []*kservepb.ModelInferRequest{kservegrpc.EncodeInferRequest("nope", "", rowSumInfer()), second} {
		if err := s.Send(m); err != nil {
			t.Fatal(err)
		}
		got, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		switch i {
		case 0:
			if !strings.Contains(got.ErrorMessage, "unknown model") {
				t.Errorf("stream answer to an unknown model: %v", got)
			}
		case 1:
			if got.ErrorMessage != "" || !got.InferResponse.Parameters["triton_final_response"].GetBoolParam() {
				t.Errorf("stream answer: %v; want a result marked triton_final_response", got)
			}
		}
	}
	_ = s.CloseSend()
	if _, err := s.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("stream end: %v, want EOF", err)
	}

	st, err := c.ModelStatistics(ctx, &kservepb.ModelStatisticsRequest{Name: "row_sum"})
	if err != nil || len(st.ModelStats) != 1 || st.ModelStats[0].InferenceCount < 3 {
		t.Errorf("ModelStatistics(row_sum) = %v, %v; want inference_count >= 3", st, err)
	}
	_, err = c.ModelInfer(ctx, kservegrpc.EncodeInferRequest("nope", "", rowSumInfer()))
	wantCode(t, err, codes.NotFound, "unknown model: 'nope'")
	// An RPC of Triton's that taominer does not serve.
	err = cc.Invoke(ctx, "/inference.GRPCInferenceService/SystemSharedMemoryStatus", &kservepb.ServerLiveRequest{}, &kservepb.ServerLiveResponse{})
	wantCode(t, err, codes.Unimplemented, "")
	// The server counts a call once it has answered it: wait for the count.
	waitCount(t, tn, "taominer_grpc_errors_total", map[string]string{"method": "ModelInfer", "code": "NotFound", "reason": "not_found"}, 1)
	waitCount(t, tn, "taominer_grpc_errors_total", map[string]string{"method": "ModelStreamInfer", "code": "NotFound", "reason": "not_found"}, 1)
	waitCount(t, tn, "taominer_grpc_errors_total", map[string]string{"method": "other", "code": "Unimplemented", "reason": "unimplemented"}, 1)
}

// waitCount waits up to 5 s for the counter with labels to read want.
func waitCount(t *testing.T, tn *testNode, name string, labels map[string]string, want float64) {
	t.Helper()
	var got float64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = sample(scrape(t, tn), name, labels).GetCounter().GetValue(); got == want {
			return
		}
	}
	t.Errorf("%s%v = %v, want %v; all: %v", name, labels, got, want, scrape(t, tn)[name])
}

func equalShape(a, b []int64) bool {
	return len(a) == len(b) && tensor.FormatShape(a) == tensor.FormatShape(b)
}

func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestGRPCBadInput sends malformed requests: each is answered with its
// code and a message naming the field, counted once with its reason, and
// never runs the model.
func TestGRPCBadInput(t *testing.T) {
	tn := startNode(t, standardRepo(t), func(c *config.Serve) {
		withGRPC(c)
		c.GRPCMaxMessageBytes = 1 << 20
	})
	c, _ := dialGRPC(t, tn.n)
	ctx := grpcCtx(t)
	raw := func(m *kservepb.ModelInferRequest) *kservepb.ModelInferRequest { return m }
	ok := func() *kservepb.ModelInferRequest { return kservegrpc.EncodeInferRequest("row_sum", "", rowSumInfer()) }
	fp32 := func(v ...float32) *kservepb.InferTensorContents {
		return &kservepb.InferTensorContents{Fp32Contents: v}
	}
	u64 := func(n uint64) *kservepb.InferParameter {
		return &kservepb.InferParameter{ParameterChoice: &kservepb.InferParameter_Uint64Param{Uint64Param: n}}
	}
	tests := []struct {
		name   string
		m      *kservepb.ModelInferRequest
		code   codes.Code
		want   string
		reason string
	}{
		{"wrong shape", func() *kservepb.ModelInferRequest {
			m := ok()
			m.Inputs[0].Shape = []int64{1, 2, 1}
			return m
		}(), codes.InvalidArgument, "does not match", "bad_input"},
		{"wrong datatype", func() *kservepb.ModelInferRequest {
			m := ok()
			m.Inputs[0].Datatype = "INT32"
			return m
		}(), codes.InvalidArgument, "INT32", "bad_input"},
		{"unknown datatype", func() *kservepb.ModelInferRequest {
			m := ok()
			m.Inputs[0].Datatype = "FLOAT"
			return m
		}(), codes.InvalidArgument, `datatype "FLOAT"`, "bad_input"},
		{"raw size not the shape's", func() *kservepb.ModelInferRequest {
			m := ok()
			m.RawInputContents[0] = m.RawInputContents[0][:4]
			return m
		}(), codes.InvalidArgument, "needs 8 bytes of raw_input_contents, got 4", "bad_input"},
		{"raw and typed mixed", func() *kservepb.ModelInferRequest {
			m := ok()
			m.Inputs[0].Contents = fp32(1, 2)
			return m
		}(), codes.InvalidArgument, "contents must not be given when raw_input_contents is used", "bad_input"},
		{"raw entries not one per input", func() *kservepb.ModelInferRequest {
			m := ok()
			m.RawInputContents = append(m.RawInputContents, []byte{0})
			return m
		}(), codes.InvalidArgument, "raw_input_contents has 2 entries for 1 inputs", "bad_input"},
		{"typed count not the shape's", raw(&kservepb.ModelInferRequest{ModelName: "row_sum",
			Inputs: []*kservepb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "FP32", Shape: []int64{1, 2}, Contents: fp32(1)}}}),
			codes.InvalidArgument, "contents.fp32_contents has 1", "bad_input"},
		{"typed in the wrong field", raw(&kservepb.ModelInferRequest{ModelName: "row_sum",
			Inputs: []*kservepb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "FP32", Shape: []int64{1, 2},
				Contents: &kservepb.InferTensorContents{IntContents: []int32{1, 2}}}}}),
			codes.InvalidArgument, "contents.fp32_contents only", "bad_input"},
		{"no data", raw(&kservepb.ModelInferRequest{ModelName: "row_sum",
			Inputs: []*kservepb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "FP32", Shape: []int64{1, 2}}}}),
			codes.InvalidArgument, "no data", "bad_input"},
		{"negative dimension", func() *kservepb.ModelInferRequest {
			m := ok()
			m.Inputs[0].Shape = []int64{-1, 2}
			return m
		}(), codes.InvalidArgument, "non-negative", "bad_input"},
		{"priority without levels", func() *kservepb.ModelInferRequest {
			m := ok()
			m.Parameters = map[string]*kservepb.InferParameter{"priority": u64(2)}
			return m
		}(), codes.InvalidArgument, "has no priority levels", "bad_input"},
		{"unknown model", kservegrpc.EncodeInferRequest("nope", "", rowSumInfer()), codes.NotFound, "unknown model", "not_found"},
		{"too large", func() *kservepb.ModelInferRequest {
			m := ok()
			m.RawInputContents[0] = make([]byte, 2<<20)
			return m
		}(), codes.ResourceExhausted, "larger than max", "body_too_large"},
	}
	before := tn.inferenceCount(t, "row_sum")
	counts := map[string]float64{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.ModelInfer(ctx, tt.m)
			wantCode(t, err, tt.code, tt.want)
		})
		counts[tt.code.String()+"/"+tt.reason]++
	}
	for k, n := range counts {
		code, reason, _ := strings.Cut(k, "/")
		waitCount(t, tn, "taominer_grpc_errors_total", map[string]string{"method": "ModelInfer", "code": code, "reason": reason}, n)
	}
	waitCount(t, tn, "taominer_refusals_total", map[string]string{"port": "grpc", "protocol": "kserve_grpc", "reason": "body_too_large"}, 1)
	if after := tn.inferenceCount(t, "row_sum"); after != before {
		t.Errorf("row_sum ran %d times for bad requests", after-before)
	}
	// A good request still runs, on the same connection.
	if _, err := c.ModelInfer(ctx, ok()); err != nil {
		t.Errorf("a good request after the bad ones: %v", err)
	}
}

// TestGRPCDeadlines: the request's deadline is the earlier of the gRPC
// deadline and its timeout parameter (microseconds), on a model that holds
// requests 300 ms to fill a batch.
func TestGRPCDeadlines(t *testing.T) {
	tn := startNode(t, standardRepo(t), withGRPC)
	c, _ := dialGRPC(t, tn.n)
	rng := rand.New(rand.NewPCG(1, 2))
	req := kservegrpc.EncodeInferRequest("ppocr_wait", "", &api.InferRequest{Inputs: []tensor.Tensor{clsInput(rng, 1)}})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.ModelInfer(ctx, req) // the gRPC deadline is the earlier
	if code := grpcstatus.Code(err); code != codes.DeadlineExceeded {
		t.Errorf("gRPC deadline 50ms on a 300ms batching window: %v, want DeadlineExceeded", err)
	}

	req.Parameters = map[string]*kservepb.InferParameter{"timeout": {ParameterChoice: &kservepb.InferParameter_Int64Param{Int64Param: 50_000}}}
	start := time.Now()
	_, err = c.ModelInfer(grpcCtx(t), req) // the parameter is the earlier
	wantCode(t, err, codes.DeadlineExceeded, "timeout 50ms")
	if took := time.Since(start); took > 250*time.Millisecond {
		t.Logf("answered after %v", took) // informative only: no timed assertions
	}
	// The parameter's deadline is the server's own: expired. The gRPC
	// deadline is the client's: it cancels the call when it passes, which
	// the server may see as expired or, a moment before its own copy of the
	// deadline passes, as cancelled.
	l := map[string]string{"method": "ModelInfer", "code": "DeadlineExceeded", "reason": "expired"}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mfs := scrape(t, tn)
		expired := sample(mfs, "taominer_grpc_errors_total", l).GetCounter().GetValue()
		cancelled := sample(mfs, "taominer_grpc_errors_total", map[string]string{"method": "ModelInfer", "code": "Canceled", "reason": "cancelled"})
		if n := expired + cancelled.GetCounter().GetValue(); n == 2 && expired >= 1 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("expired %v + cancelled = %v, want 2 with at least 1 expired", expired, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkGRPCStarting checks the gRPC port of a node still loading its
// models: live, not ready, health NOT_SERVING, other calls UNAVAILABLE
// "starting: loading models".
func checkGRPCStarting(t *testing.T, c kservepb.GRPCInferenceServiceClient, cc *grpc.ClientConn) {
	t.Helper()
	ctx := grpcCtx(t)
	if r, err := c.ServerLive(ctx, &kservepb.ServerLiveRequest{}); err != nil || !r.Live {
		t.Errorf("gRPC ServerLive while loading: %v, %v; want live", r, err)
	}
	if r, err := c.ServerReady(ctx, &kservepb.ServerReadyRequest{}); err != nil || r.Ready {
		t.Errorf("gRPC ServerReady while loading: %v, %v; want not ready", r, err)
	}
	if r, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health Check while loading: %v, %v; want NOT_SERVING", r, err)
	}
	_, err := c.ModelInfer(ctx, kservegrpc.EncodeInferRequest("row_sum", "", rowSumInfer()))
	wantCode(t, err, codes.Unavailable, "starting: loading models")
	_, err = c.ModelMetadata(ctx, &kservepb.ModelMetadataRequest{Name: "row_sum"})
	wantCode(t, err, codes.Unavailable, "starting: loading models")
}

func codeOf(err error) codes.Code { return grpcstatus.Code(err) }

// TestGRPCThroughRedis: an api-role node serves gRPC from the workers
// behind Redis; answers match the in-process node's, byte for byte.
func TestGRPCThroughRedis(t *testing.T) {
	rs := redistest.StartServer(t)
	url := "redis://" + rs.Addr
	dir := standardRepo(t)
	local := startNode(t, dir, withGRPC)
	worker := startNode(t, dir, func(c *config.Serve) { c.Redis, c.Role = url, "worker"; c.GRPCAddr = "127.0.0.1:0" })
	if worker.n.GRPCAddr() != "" {
		t.Errorf("a worker serves gRPC on %s; workers never do", worker.n.GRPCAddr())
	}
	front := startNode(t, t.TempDir(), func(c *config.Serve) { c.Redis, c.Role = url, "api"; withGRPC(c) })
	waitStatus(t, front, "/v2/models/ppocr_cls/ready", http.StatusOK, 10*time.Second)

	lc, _ := dialGRPC(t, local.n)
	fc, _ := dialGRPC(t, front.n)
	ctx := grpcCtx(t)
	rng := rand.New(rand.NewPCG(5, 5))
	m := kservegrpc.EncodeInferRequest("ppocr_cls", "", &api.InferRequest{Inputs: []tensor.Tensor{clsInput(rng, 3)}})
	want, err := lc.ModelInfer(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fc.ModelInfer(ctx, m)
	if err != nil {
		t.Fatalf("ModelInfer through Redis: %v", err)
	}
	if !proto.Equal(got, want) {
		t.Errorf("through Redis:\n%v\nin-process:\n%v", got, want)
	}
	cfg, err := fc.ModelConfig(ctx, &kservepb.ModelConfigRequest{Name: "ppocr_cls"})
	if err != nil || !equalShape(cfg.Config.Input[0].Dims, []int64{3, 48, 192}) {
		t.Errorf("ModelConfig through Redis: %v, %v", cfg, err)
	}
	_, err = fc.ModelInfer(ctx, kservegrpc.EncodeInferRequest("nope", "", rowSumInfer()))
	wantCode(t, err, codes.NotFound, "unknown model: 'nope'")
	if front.n.GRPCAddr() == "" {
		t.Error("the api role serves no gRPC")
	}
}

// TestGRPCIndependentClient runs testdata/grpc_client.py, a client built on
// Debian's python3-grpcio (gRPC's C core) that encodes and decodes the
// messages by hand from the spec's field numbers, against a real node.
// Without python3-grpcio it skips, except under CI=true, where .ci/run
// installs it and its absence fails.
func TestGRPCIndependentClient(t *testing.T) {
	const python = "/usr/bin/python3" // Debian's, where python3-grpcio installs
	if err := exec.Command(python, "-c", "import grpc").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s cannot import grpc (%v): install Debian's python3-grpcio (.ci/run does)", python, err)
		}
		t.Skipf("%s cannot import grpc (%v): apt-get install python3-grpcio", python, err)
	}
	tn := startNode(t, rowSumRepo(t), withGRPC)
	out, err := exec.Command(python, "testdata/grpc_client.py", tn.n.GRPCAddr()).CombinedOutput()
	t.Logf("grpc_client.py:\n%s", out)
	if err != nil {
		t.Fatalf("the independent client failed: %v", err)
	}
	waitCount(t, tn, "taominer_grpc_errors_total", map[string]string{"method": "ModelInfer", "code": "InvalidArgument", "reason": "bad_input"}, 2)
}

// TestHealthcheckGRPC: `miner healthcheck --grpc` asks the gRPC port's
// ServerReady, at --grpc-addr or at the configured grpc_addr.
func TestHealthcheckGRPC(t *testing.T) {
	tn := startNode(t, rowSumRepo(t), withGRPC)
	_, port, _ := net.SplitHostPort(tn.n.GRPCAddr())
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		stdout string
		stderr string
	}{
		{"flag", []string{"--grpc-addr", tn.n.GRPCAddr()}, nil, 0, "grpc " + tn.n.GRPCAddr() + ": ready", ""},
		{"env wildcard host", []string{"--grpc"}, map[string]string{"TAOMINER_GRPC_ADDR": ":" + port}, 0, "grpc 127.0.0.1:" + port + ": ready", ""},
		{"nothing there", []string{"--grpc-addr", "127.0.0.1:1", "--timeout", "300ms"}, nil, 1, "", "ServerReady on 127.0.0.1:1"},
		{"gRPC off", []string{"--grpc"}, map[string]string{"TAOMINER_GRPC_ADDR": ""}, 2, "", "serves no gRPC"},
		{"both ports", []string{"--grpc", "--url", "http://x"}, nil, 2, "", "give one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			var out, errOut bytes.Buffer
			code := healthcheck(context.Background(), tt.args, getenv, &out, &errOut)
			if code != tt.code || !strings.Contains(out.String(), tt.stdout) || !strings.Contains(errOut.String(), tt.stderr) {
				t.Errorf("miner healthcheck %v: exit %d, stdout %q, stderr %q; want %d, %q, %q", tt.args, code, out.String(), errOut.String(),
					tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}
