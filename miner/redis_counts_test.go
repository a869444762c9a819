package main

import (
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/miner/internal/metrics"
	"github.com/taominer/taominer/miner/internal/redistest"
	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/tensor"
)

// frontCounts reads taominer_front_requests_total by stage and result.
func frontCounts(t *testing.T, tn *testNode) map[[2]string]uint64 {
	t.Helper()
	out := map[[2]string]uint64{}
	mf := scrape(t, tn)["taominer_front_requests_total"]
	if mf == nil {
		t.Fatal("/metrics lacks taominer_front_requests_total")
	}
	for _, m := range mf.GetMetric() {
		var k [2]string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "stage":
				k[0] = l.GetValue()
			case "result":
				k[1] = l.GetValue()
			}
		}
		out[k] = uint64(m.GetCounter().GetValue())
	}
	return out
}

func sum(m map[[2]string]uint64) (n uint64) {
	for _, v := range m {
		n += v
	}
	return n
}

// TestRedisFrontCountsEveryAnswer is issue 20's Redis front: every answer
// of the api node counts once in taominer_front_requests_total (successes
// too; the 503s of a Redis outage were counted nowhere), and the cluster's
// totals keep what a killed worker served (they went back when it died).
func TestRedisFrontCountsEveryAnswer(t *testing.T) {
	rs := redistest.StartServer(t)
	url := "redis://" + rs.Addr
	dir := t.TempDir()
	copyFile(t, modeltest.PaddleOCRClsPath(t), filepath.Join(dir, "cls.onnx"))
	victim, out := startChild(t, "serve", "--role", "worker", "--redis", url, "--models", dir,
		"--http-addr", "127.0.0.1:0", "--log-level", "warn")
	front := startNode(t, t.TempDir(), func(c *config.Serve) { c.Redis, c.Role = url, "api" })
	deadline := time.Now().Add(30 * time.Second)
	for front.do(t, http.MethodGet, "/v2/models/cls/ready", nil, nil).status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("the worker process never announced cls; its output:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	cls := &api.InferRequest{Inputs: []tensor.Tensor{clsInput(rng, 1)}}
	sent := uint64(0)
	send := func(model string, req *api.InferRequest, status int) {
		t.Helper()
		sent++
		if r := front.send(t, "/v2/models/"+model+"/infer", req, true); r.status != status {
			t.Fatalf("POST %s: %d %s, want %d", model, r.status, r.body, status)
		}
	}
	for range 3 {
		send("cls", cls, http.StatusOK)
	}
	send("nope", cls, http.StatusNotFound)
	bad := &api.InferRequest{Inputs: []tensor.Tensor{clsInput(rng, 1)}}
	bad.Inputs[0].Name = "no_such_input"
	send("cls", bad, http.StatusBadRequest)

	// The victim served 3; the front's totals show it once announced.
	totals := func() api.ThroughputTotals {
		s, _ := v1stats(t, front)
		if row := findRow(s.Models, "cls"); row != nil {
			return row.Totals
		}
		return api.ThroughputTotals{}
	}
	waitFor(t, "the front's totals to show 3 successes", func() bool { return totals().Success == 3 })
	survivor := startNode(t, dir, func(c *config.Serve) { c.Redis, c.Role = url, "worker" })
	waitFor(t, "two workers", func() bool { s, _ := v1stats(t, front); return len(s.Workers) == 2 })
	if err := victim.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = victim.Wait()
	deadline = time.Now().Add(20 * time.Second)
	for {
		s, _ := v1stats(t, front)
		if got := totals(); got.Success < 3 {
			t.Fatalf("the front's totals went back to %+v with the victim's death, want 3 successes kept", got)
		}
		if len(s.Workers) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the killed worker never left the directory")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st := modelStats(t, front, "cls"); st.InferenceStats.Success.Count != 3 || st.InferenceCount != 3 {
		t.Errorf("front statistics after the death: success %d, inference_count %d; want 3, 3 (the dead worker's)",
			st.InferenceStats.Success.Count, st.InferenceCount)
	}
	send("cls", cls, http.StatusOK)
	waitFor(t, "the front's totals to show 4 successes", func() bool { return totals().Success == 4 })
	if s := modelStats(t, survivor, "cls"); s.InferenceStats.Success.Count != 1 {
		t.Errorf("the survivor served %d, want 1", s.InferenceStats.Success.Count)
	}

	// One request at a time: each is its own XADD and its reply its own
	// pop, so the round-trip counters equal the requests submitted.
	for _, name := range []string{"taominer_redis_front_submitted_total", "taominer_redis_front_writes_total",
		"taominer_redis_front_reads_total"} {
		if got := sample(scrape(t, front), name, nil).GetCounter().GetValue(); got != 4 {
			t.Errorf("%s = %v, want 4", name, got)
		}
	}

	// A Redis outage: every 503 counts.
	rs.Stop()
	const outage = 4
	for range outage {
		send("cls", cls, http.StatusServiceUnavailable)
	}
	got := frontCounts(t, front)
	unavailable := got[[2]string{metrics.StageFront, "unavailable"}] + got[[2]string{metrics.StageModel, "unavailable"}]
	checks := []struct {
		name      string
		got, want uint64
	}{
		{"success", got[[2]string{metrics.StageModel, metrics.ResultSuccess}], 4},
		{"not_found before submission", got[[2]string{metrics.StageFront, "not_found"}], 1},
		{"bad_input before submission", got[[2]string{metrics.StageFront, "bad_input"}], 1},
		{"unavailable (the outage)", unavailable, outage},
		{"all answers", sum(got), sent},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("front_requests_total %s = %d, want %d (all: %v)", c.name, c.got, c.want, got)
		}
	}
}
