package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taominer/taominer/api/axonproto"
	"github.com/taominer/taominer/api/dendrite"
	"github.com/taominer/taominer/chain/wallet"
	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/miner/internal/redistest"
	"github.com/taominer/taominer/models/modeltest"
)

// axonWallets writes btcli wallets of dev keys into a new folder: "miner"
// (//Bob, the axon's hotkey), "validator" (//Alice) and "stranger"
// (//Charlie), each with hotkey "default".
func axonWallets(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, uri := range map[string]string{"miner": "//Bob", "validator": "//Alice", "stranger": "//Charlie"} {
		kp, err := wallet.FromURI(uri)
		if err != nil {
			t.Fatal(err)
		}
		w, err := wallet.Open(dir, name, "default")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.SetHotkey(kp, false); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func axonDevKey(t *testing.T, uri string) *wallet.Keypair {
	t.Helper()
	kp, err := wallet.FromURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// startAxonNode serves row_sum (real ONNX Runtime) with an axon for //Bob
// that answers //Alice (allowed; no chain).
func startAxonNode(t *testing.T, tweak func(*config.Serve)) (*testNode, string, string) {
	t.Helper()
	repo := t.TempDir()
	copyFile(t, modeltest.Path(t, "row_sum.onnx"), filepath.Join(repo, "row_sum.onnx"))
	wallets := axonWallets(t)
	tn := startNode(t, repo, func(c *config.Serve) {
		c.WalletPath, c.Wallet, c.AxonPort = wallets, "miner", 0
		c.AllowHotkeys = []string{axonDevKey(t, "//Alice").SS58()}
		if tweak != nil {
			tweak(c)
		}
	})
	addr := tn.n.AxonAddr()
	if addr == "" {
		t.Fatal("no axon")
	}
	_, port, _ := strings.Cut(addr, "]:")
	if port == "" {
		_, port, _ = strings.Cut(addr, ":")
	}
	return tn, "127.0.0.1:" + port, wallets
}

// inferenceCount reads the model's inference_count from the statistics.
func (tn *testNode) inferenceCount(t *testing.T, model string) int {
	t.Helper()
	r := tn.do(t, "GET", "/v2/models/"+model+"/stats", nil, nil)
	var st struct {
		ModelStats []struct {
			InferenceCount int `json:"inference_count"`
		} `json:"model_stats"`
	}
	if err := json.Unmarshal(r.body, &st); err != nil || len(st.ModelStats) == 0 {
		t.Fatalf("stats: %v %s", err, r.body)
	}
	return st.ModelStats[0].InferenceCount
}

func rowSumSynapse() dendrite.Request {
	syn := axonproto.NewSynapse()
	_ = syn.SetValue("model", "row_sum")
	syn.Set("inputs", json.RawMessage(`[{"name":"x","shape":[1,3],"datatype":"FP32","data":[[1,2,3]]}]`))
	syn.Set("outputs", json.RawMessage(`null`))
	return dendrite.Request{Name: "Infer", Synapse: syn, Required: []axonproto.Field{{Name: "model", Empty: `""`}, {Name: "inputs", Empty: `[]`}}}
}

// TestAxonServesModel: a request signed by the Go dendrite is answered 200
// with the real model's output over real HTTP; the same request replayed is
// refused and does not reach the model.
func TestAxonServesModel(t *testing.T) {
	tn, addr, _ := startAxonNode(t, nil)
	c, err := dendrite.New(axonDevKey(t, "//Alice"))
	if err != nil {
		t.Fatal(err)
	}
	target := dendrite.Target{Addr: addr, Hotkey: axonDevKey(t, "//Bob").SS58()}
	s, err := c.Sign(target, rowSumSynapse())
	if err != nil {
		t.Fatal(err)
	}
	r := c.Send(context.Background(), s)
	if r.Status != 200 {
		t.Fatalf("status %d %q: %s", r.Status, r.Message, r.Body)
	}
	outs, _ := r.Synapse.Field("outputs")
	want := `[{"name":"s","datatype":"FP32","shape":[1,1],"data":[6]},{"name":"y","datatype":"FP32","shape":[1,3],"data":[3,6,9]}]`
	if string(outs) != want {
		t.Errorf("outputs %s\nwant %s", outs, want)
	}
	if n := tn.inferenceCount(t, "row_sum"); n != 1 {
		t.Errorf("inference_count %d after one call", n)
	}
	r = c.Send(context.Background(), s)
	if r.Status != 401 || r.Message != "Not Verified with error: Nonce is too old, a newer one was last processed" {
		t.Errorf("replay: %d %q", r.Status, r.Message)
	}
	if n := tn.inferenceCount(t, "row_sum"); n != 1 {
		t.Errorf("the replay reached the model: inference_count %d", n)
	}
	// The axon's metrics are on the node's /metrics.
	m := tn.do(t, "GET", "/metrics", nil, nil)
	for _, line := range []string{`taominer_axon_refused_total{reason="replayed_nonce"} 1`, `taominer_axon_accepted_total{synapse="Infer"} 1`} {
		if !bytes.Contains(m.body, []byte(line)) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}

// TestAxonRefusalsNeverReachModel: forged and unwelcome calls get the
// spec's status and message, and the model never runs.
func TestAxonRefusalsNeverReachModel(t *testing.T) {
	tn, addr, _ := startAxonNode(t, nil)
	bob := axonDevKey(t, "//Bob").SS58()
	tests := []struct {
		name   string
		signer string
		target string
		edit   func(*dendrite.Signed)
		status int
		msg    string
	}{
		{"wrong axon hotkey", "//Alice", axonDevKey(t, "//Charlie").SS58(), nil, 401, "Not Verified with error: Signature mismatch with "},
		{"empty signature", "//Alice", bob, func(s *dendrite.Signed) { s.Header["bt_header_dendrite_signature"] = []string{""} }, 401, "Not Verified with error: Missing signature"},
		{"unregistered hotkey", "//Charlie", bob, nil, 403, "Forbidden. Key is blacklisted: Unrecognized hotkey."},
		{"stale first nonce", "//Alice", bob, nil, 401, "Not Verified with error: Nonce is too old: acceptable delta is 16.00 seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := dendrite.New(axonDevKey(t, tt.signer))
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(tt.name, "stale") {
				c.Now = func() time.Time { return time.Now().Add(-time.Minute) }
			}
			s, err := c.Sign(dendrite.Target{Addr: addr, Hotkey: tt.target}, rowSumSynapse())
			if err != nil {
				t.Fatal(err)
			}
			if tt.edit != nil {
				tt.edit(s)
			}
			r := c.Send(context.Background(), s)
			if r.Status != tt.status || !strings.HasPrefix(r.Message, tt.msg) {
				t.Errorf("got %d %q, want %d %q", r.Status, r.Message, tt.status, tt.msg)
			}
		})
	}
	if n := tn.inferenceCount(t, "row_sum"); n != 0 {
		t.Errorf("refused calls reached the model: inference_count %d", n)
	}
}

// TestAxonQueryCommand runs `miner query` against the node.
func TestAxonQueryCommand(t *testing.T) {
	_, addr, wallets := startAxonNode(t, nil)
	var out, errOut bytes.Buffer
	code := run([]string{"query", "--wallet-path", wallets, "--wallet", "validator", "--hotkey", "default",
		"--axon", addr, "--axon-hotkey", axonDevKey(t, "//Bob").SS58(), "--synapse", "Infer",
		"--body", `{"model":"row_sum","inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[2,5]}]}`}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errOut.String())
	}
	var got struct {
		Status  int
		Message string
		Synapse struct {
			Outputs []struct {
				Name string
				Data []float64
			}
		}
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if got.Status != 200 || got.Message != "Success" || len(got.Synapse.Outputs) != 2 || got.Synapse.Outputs[0].Data[0] != 7 {
		t.Errorf("answer %s", out.String())
	}
	// A stranger's query is refused: exit 1, status 403.
	out.Reset()
	code = run([]string{"query", "--wallet-path", wallets, "--wallet", "stranger", "--axon", addr,
		"--axon-hotkey", axonDevKey(t, "//Bob").SS58(), "--body", `{"model":"row_sum","inputs":[]}`}, &out, &errOut)
	if code != 1 || !strings.Contains(out.String(), `"status": 403`) {
		t.Errorf("stranger: exit %d, %s", code, out.String())
	}
	if code := run([]string{"query", "--axon", addr}, &out, &errOut); code != 2 {
		t.Errorf("without --axon-hotkey: exit %d, want 2", code)
	}
}

// TestAxonOffWithoutWallet: no wallet, no axon.
func TestAxonOffWithoutWallet(t *testing.T) {
	repo := t.TempDir()
	copyFile(t, modeltest.Path(t, "row_sum.onnx"), filepath.Join(repo, "row_sum.onnx"))
	if tn := startNode(t, repo, nil); tn.n.AxonAddr() != "" {
		t.Errorf("axon at %s without --wallet", tn.n.AxonAddr())
	}
}

// TestAxonRedisRoles: an api-role node's axon forwards through the Redis
// front to a worker, and a worker runs no axon even with a wallet.
func TestAxonRedisRoles(t *testing.T) {
	rs := redistest.StartServer(t)
	url := "redis://" + rs.Addr
	repo := t.TempDir()
	copyFile(t, modeltest.Path(t, "row_sum.onnx"), filepath.Join(repo, "row_sum.onnx"))
	wallets := axonWallets(t)
	withWallet := func(c *config.Serve) {
		c.WalletPath, c.Wallet, c.AxonPort = wallets, "miner", 0
		c.AllowHotkeys = []string{axonDevKey(t, "//Alice").SS58()}
	}
	worker := startNode(t, repo, func(c *config.Serve) { withWallet(c); c.Redis, c.Role = url, "worker" })
	if worker.n.AxonAddr() != "" {
		t.Errorf("a worker runs an axon at %s", worker.n.AxonAddr())
	}
	front := startNode(t, t.TempDir(), func(c *config.Serve) { withWallet(c); c.Redis, c.Role = url, "api" })
	waitStatus(t, front, "/v2/models/row_sum/ready", http.StatusOK, 10*time.Second)
	_, port, _ := net.SplitHostPort(front.n.AxonAddr())
	c, err := dendrite.New(axonDevKey(t, "//Alice"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Call(context.Background(), dendrite.Target{Addr: "127.0.0.1:" + port, Hotkey: axonDevKey(t, "//Bob").SS58()}, rowSumSynapse())
	if err != nil || r.Status != 200 {
		t.Fatalf("%v %d %s", err, r.Status, r.Message)
	}
	if outs, _ := r.Synapse.Field("outputs"); !strings.Contains(string(outs), `"data":[3,6,9]`) {
		t.Errorf("outputs %s", outs)
	}
}
