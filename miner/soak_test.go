package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/redisq"
	"github.com/taominer/taominer/miner/internal/redistest"
	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/tensor"
)

// soakEnv switches TestFaultSoak on (`make soak`; .ci/run runs it after
// `make test`, without the race detector, so that its faults come at the
// speed a deployment sees).
const soakEnv = "TAOMINER_SOAK"

// soakOutcome is one client request's fate.
type soakOutcome struct {
	phase  int
	status int    // 0: no HTTP answer
	msg    string // the error message of a non-200 answer, or the client error
	hung   bool   // no answer within the client deadline
	wrong  bool   // a 200 whose outputs differ from the in-process answer
}

// TestFaultSoak runs a real redis-server, one --role api front and two
// --role worker processes under a client at concurrency 8 (JSON and binary
// requests, random inputs, a 30 s client deadline) while it SIGKILLs a
// worker and starts another, SIGKILLs redis-server and restarts it 5 s
// later, and replaces the model with a corrupt file and then a good one by
// atomic rename. Every request must get exactly one HTTP answer: a 200 equal
// (within 1e-5) to an in-process miner's answer, or a 503/429 with a
// message; none may hang; at the end the stream and its pending list are
// empty. It prints a table per phase.
func TestFaultSoak(t *testing.T) {
	if os.Getenv(soakEnv) == "" {
		t.Skipf("the fault soak runs with %s=1 (make soak; .ci/run runs it)", soakEnv)
	}
	srv := redistest.StartServer(t)
	url := "redis://" + srv.Addr
	dir := clsRepo(t)
	model := filepath.Join(dir, "ppocr_cls", "1", "model.onnx")
	workerArgs := []string{"serve", "--role", "worker", "--redis", url, "--models", dir, "--http-addr", "127.0.0.1:0",
		"--log-level", "warn", "--redis-claim-idle", "2s", "--repository-poll-interval", "500ms"}
	victim, victimOut := startChild(t, workerArgs...)
	_, _ = startChild(t, workerArgs...)
	front := startChildNode(t, "--role", "api", "--redis", url, "--models", t.TempDir(), "--default-timeout", "20s")
	deadline := time.Now().Add(60 * time.Second)
	for front.tn.do(t, http.MethodGet, "/v2/models/ppocr_cls/ready", nil, nil).status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("no worker announced ppocr_cls; a worker's output:\n%s\nthe front's:\n%s", victimOut, front.out)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Inputs and the in-process miner's answers to them.
	ref := startNode(t, clsRepo(t), nil)
	rng := rand.New(rand.NewPCG(11, 11))
	type input struct {
		req  *api.InferRequest
		want []tensor.Tensor
	}
	inputs := make([]input, 24)
	for i := range inputs {
		req := &api.InferRequest{Inputs: []tensor.Tensor{clsInput(rng, 1+i%2)}}
		resp := ref.infer(t, "/v2/models/ppocr_cls/infer", req, true)
		for _, o := range resp.Outputs {
			inputs[i].want = append(inputs[i].want, o.Tensor)
		}
		inputs[i].req = req
	}

	phases := []struct {
		name  string
		last  time.Duration
		enter func()
	}{
		{"steady", 8 * time.Second, nil},
		{"worker SIGKILLed, another started", 10 * time.Second, func() {
			_ = victim.Process.Kill()
			_, _ = startChild(t, workerArgs...)
		}},
		{"redis-server SIGKILLed, restarted 5 s later", 12 * time.Second, func() {
			srv.Kill()
			time.Sleep(5 * time.Second)
			srv.Restart()
		}},
		{"model replaced by a corrupt file", 6 * time.Second, func() {
			replaceFile(t, model, []byte("this is not an ONNX model"))
		}},
		{"good model back", 8 * time.Second, func() {
			replaceFile(t, model, must(os.ReadFile(modeltest.PaddleOCRClsPath(t))))
		}},
	}

	var phase atomic.Int32
	var mu sync.Mutex
	var outcomes []soakOutcome
	client := &http.Client{Timeout: 30 * time.Second}
	ctx, stop := context.WithCancel(context.Background())
	var clients sync.WaitGroup
	for c := range 8 {
		clients.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 99))
			for ctx.Err() == nil {
				in := inputs[rng.IntN(len(inputs))]
				o := soakRequest(client, front.tn.url, in.req, in.want, rng.IntN(2) == 0)
				o.phase = int(phase.Load())
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
			}
		})
	}
	for i, p := range phases {
		phase.Store(int32(i))
		start := time.Now()
		if p.enter != nil {
			p.enter()
		}
		time.Sleep(p.last - time.Since(start))
	}
	stop()
	clients.Wait()

	// The table, then the checks.
	perPhase := make([]map[string]int, len(phases))
	for i := range perPhase {
		perPhase[i] = map[string]int{}
	}
	for _, o := range outcomes {
		m := perPhase[o.phase]
		m["sent"]++
		switch {
		case o.hung:
			m["hung"]++
		case o.status == 0:
			m["no answer: "+o.msg]++
		case o.wrong:
			m["wrong"]++
		case o.status == http.StatusOK:
			m["200"]++
		default:
			m[strconv.Itoa(o.status)+" "+soakMessageClass(o.msg)]++
		}
	}
	var table strings.Builder
	fmt.Fprintf(&table, "%-46s %6s %6s  %s\n", "phase", "sent", "200", "others (hung, wrong, no answer, code + message)")
	for i, p := range phases {
		m := perPhase[i]
		var others []string
		for k, v := range m {
			if k != "sent" && k != "200" {
				others = append(others, fmt.Sprintf("%d × %s", v, k))
			}
		}
		sort.Strings(others)
		fmt.Fprintf(&table, "%-46s %6d %6d  %s\n", p.name, m["sent"], m["200"], strings.Join(others, "; "))
	}
	dropped := sample(scrape(t, front.tn), "taominer_redis_front_dropped_replies_total", nil).GetCounter().GetValue()
	failed := sample(scrape(t, front.tn), "taominer_redis_front_failed_total", nil).GetCounter().GetValue()
	t.Logf("fault soak, %d requests:\n%sreplies dropped at the front (duplicates or late): %v; waiting requests failed when Redis went away: %v",
		len(outcomes), table.String(), dropped, failed)

	for i, m := range perPhase {
		for k, v := range m {
			switch {
			case k == "sent" || k == "200":
			case k == "hung" || k == "wrong" || strings.HasPrefix(k, "no answer"):
				t.Errorf("phase %q: %d × %s", phases[i].name, v, k)
			case !strings.HasPrefix(k, "503 ") && !strings.HasPrefix(k, "429 "):
				t.Errorf("phase %q: %d × %s (only 200, and 503 or 429 with a message, are right)", phases[i].name, v, k)
			}
		}
		if m["200"] == 0 && (i == 0 || i == len(phases)-1) {
			t.Errorf("phase %q answered nothing", phases[i].name)
		}
	}
	for _, o := range outcomes {
		if o.status != 0 && o.status != http.StatusOK && o.msg == "" {
			t.Errorf("a %d answer without a message", o.status)
		}
	}

	// Nothing is left queued or pending.
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	stream := redisq.StreamKey("ppocr_cls", "1")
	deadline = time.Now().Add(15 * time.Second)
	for {
		n := rdb.XLen(context.Background(), stream).Val()
		p, err := rdb.XPending(context.Background(), stream, redisq.DefaultGroup).Result()
		pending := int64(0)
		if err == nil {
			pending = p.Count
		}
		if n == 0 && pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("after the soak the stream holds %d entries, %d pending (%v)", n, pending, err)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// soakRequest sends one request (binary or JSON) and judges the answer
// against want.
func soakRequest(client *http.Client, url string, req *api.InferRequest, want []tensor.Tensor, binary bool) soakOutcome {
	body, hl := api.AppendInferRequest(nil, req, binary)
	hreq, _ := http.NewRequest(http.MethodPost, url+"/v2/models/ppocr_cls/infer", bytes.NewReader(body))
	if hl < len(body) {
		hreq.Header.Set("Inference-Header-Content-Length", strconv.Itoa(hl))
	}
	resp, err := client.Do(hreq)
	if err != nil {
		var ne interface{ Timeout() bool }
		return soakOutcome{hung: errors.As(err, &ne) && ne.Timeout(), msg: err.Error()}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return soakOutcome{msg: err.Error()}
	}
	if resp.StatusCode != http.StatusOK {
		var e api.ErrorBody
		_ = json.Unmarshal(b, &e)
		return soakOutcome{status: resp.StatusCode, msg: e.Error}
	}
	hlen := -1
	if v := resp.Header.Get("Inference-Header-Content-Length"); v != "" {
		hlen, _ = strconv.Atoi(v)
	}
	got, err := api.DecodeInferResponse(b, hlen)
	o := soakOutcome{status: http.StatusOK}
	if err != nil || len(got.Outputs) != len(want) {
		o.wrong, o.msg = true, fmt.Sprintf("undecodable or wrong outputs: %v", err)
		return o
	}
	for i, w := range want {
		g := got.Outputs[i].Tensor
		if g.Name != w.Name || tensor.FormatShape(g.Shape) != tensor.FormatShape(w.Shape) {
			o.wrong = true
			return o
		}
		gv, wv := modeltest.F32s(g.Data), modeltest.F32s(w.Data)
		for k := range wv {
			if math.Abs(float64(gv[k]-wv[k])) > 1e-5 {
				o.wrong = true
				return o
			}
		}
	}
	return o
}

// soakMessageClass shortens a refusal message for the table: without the
// model name, numbers (ports, durations) as N, at most 90 characters.
func soakMessageClass(msg string) string {
	msg = strings.TrimPrefix(msg, "model 'ppocr_cls': ")
	msg = digits.ReplaceAllString(msg, "N")
	if len(msg) > 90 {
		msg = msg[:90] + "…"
	}
	return `"` + msg + `"`
}

var digits = regexp.MustCompile(`[0-9]+`)

// replaceFile replaces path atomically: a new file beside it renamed over
// it.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".replace.tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
