package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/taominer/taominer/api/kservegrpc"
	"github.com/taominer/taominer/api/kservepb"
	"github.com/taominer/taominer/miner/internal/config"
)

// The gRPC port under hostile clients: connection caps, the body budget,
// and a request message that never arrives.

// TestGRPCConnectionCaps: with loopback untrusted and one connection per
// address, a second client connection is refused and counted, while the
// first keeps being served.
func TestGRPCConnectionCaps(t *testing.T) {
	tn := startNode(t, rowSumRepo(t), func(c *config.Serve) {
		withGRPC(c)
		c.TrustedNetworks = []string{"10.0.0.0/8"}
		c.MaxConnectionsPerIP = 1
	})
	first, _ := dialGRPC(t, tn.n)
	if _, err := first.ModelInfer(grpcCtx(t), kservegrpc.EncodeInferRequest("row_sum", "", rowSumInfer())); err != nil {
		t.Fatalf("first connection: %v", err)
	}
	second, _ := dialGRPC(t, tn.n)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := second.ServerLive(ctx, &kservepb.ServerLiveRequest{})
	if code := codeOf(err); code != codes.Unavailable && code != codes.DeadlineExceeded {
		t.Errorf("second connection from the same address: %v, want it refused", err)
	}
	if n := sample(scrape(t, tn), "taominer_refusals_total", map[string]string{"port": "grpc", "protocol": "tcp", "reason": "conn_limit_ip"}).GetCounter().GetValue(); n < 1 {
		t.Errorf("refusals{port=grpc,reason=conn_limit_ip} = %v, want at least 1", n)
	}
	if _, err := first.ModelInfer(grpcCtx(t), kservegrpc.EncodeInferRequest("row_sum", "", rowSumInfer())); err != nil {
		t.Errorf("first connection after the refusal: %v", err)
	}
}

// TestGRPCBodyBudget: a message within the size limit but over what the
// process may hold at once is refused UNAVAILABLE and counted, never run.
func TestGRPCBodyBudget(t *testing.T) {
	tn := startNode(t, rowSumRepo(t), func(c *config.Serve) {
		withGRPC(c)
		c.MaxBodyBytes, c.MaxInflightBodyBytes, c.GRPCMaxMessageBytes = 1<<20, 1<<20, 4<<20
	})
	c, _ := dialGRPC(t, tn.n)
	m := kservegrpc.EncodeInferRequest("row_sum", "", rowSumInfer())
	m.Id = string(make([]byte, 2<<20)) // 2 MiB: under the message limit, over the budget
	_, err := c.ModelInfer(grpcCtx(t), m)
	wantCode(t, err, codes.Unavailable, "--max-inflight-body-bytes")
	waitCount(t, tn, "taominer_refusals_total", map[string]string{"port": "grpc", "protocol": "kserve_grpc", "reason": "body_budget"}, 1)
	waitCount(t, tn, "taominer_grpc_errors_total", map[string]string{"method": "ModelInfer", "code": "Unavailable", "reason": "body_budget"}, 1)
	if n := tn.inferenceCount(t, "row_sum"); n != 0 {
		t.Errorf("row_sum ran %d times", n)
	}
}

// TestGRPCStalledMessage: a call whose request message stops arriving is
// ended at --body-read-timeout and counted as body_timeout; the port goes
// on serving.
func TestGRPCStalledMessage(t *testing.T) {
	tn := startNode(t, rowSumRepo(t), func(c *config.Serve) {
		withGRPC(c)
		c.BodyReadTimeout = 300 * time.Millisecond
	})
	// A raw HTTP/2 client: the message header declares 1000 bytes, then 10
	// arrive and nothing more.
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &protocols}
	defer tr.CloseIdleConnections()
	pr, pw := io.Pipe()
	defer pw.Close()
	req, err := http.NewRequest(http.MethodPost, "http://"+tn.n.GRPCAddr()+"/inference.GRPCInferenceService/ModelInfer", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	go func() {
		var hdr [5]byte
		binary.BigEndian.PutUint32(hdr[1:], 1000)
		_, _ = pw.Write(append(hdr[:], bytes.Repeat([]byte{0x0a}, 10)...))
	}()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if st := resp.Trailer.Get("Grpc-Status") + resp.Header.Get("Grpc-Status"); st == "" || st == "0" {
		t.Errorf("stalled call ended with grpc-status %q, want an error", st)
	}
	waitCount(t, tn, "taominer_refusals_total", map[string]string{"port": "grpc", "protocol": "kserve_grpc", "reason": "body_timeout"}, 1)
	c, _ := dialGRPC(t, tn.n)
	if _, err := c.ModelInfer(grpcCtx(t), kservegrpc.EncodeInferRequest("row_sum", "", rowSumInfer())); err != nil {
		t.Errorf("a call after the stalled one: %v", err)
	}
}
