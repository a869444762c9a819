package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taominer/taominer/api/axonproto"
	"github.com/taominer/taominer/api/dendrite"
	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/models/modeltest"
)

// startBundledNode serves the bundled PaddleOCR classifier with its
// mapping (model-repo/ppocr_cls) and an axon for //Bob answering //Alice.
func startBundledNode(t *testing.T) (*testNode, *dendrite.Client, dendrite.Target, string) {
	t.Helper()
	repo := t.TempDir()
	root := modeltest.RepoRoot()
	copyFile(t, modeltest.PaddleOCRClsPath(t), filepath.Join(repo, "ppocr_cls", "1", "model.onnx"))
	for _, f := range []string{"config.yaml", "synapse.yaml"} {
		copyFile(t, filepath.Join(root, "model-repo", "ppocr_cls", f), filepath.Join(repo, "ppocr_cls", f))
	}
	var wallets string
	tn, c, target := startMappedNode(t, repo, func(cfg *config.Serve) { wallets = cfg.WalletPath })
	return tn, c, target, wallets
}

// ppocrBody is a KServe v2 JSON request for ppocr_cls with a fixed input.
func ppocrBody() []byte {
	var b bytes.Buffer
	b.WriteString(`{"inputs":[{"name":"x","shape":[1,3,48,192],"datatype":"FP32","data":[`)
	for i := range 3 * 48 * 192 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%g", float32(i%97)/48-1)
	}
	b.WriteString(`]}]}`)
	return b.Bytes()
}

// queryEpistulaRun runs `miner query --epistula` as //Alice and decodes
// its output.
func queryEpistulaRun(t *testing.T, wallets, wallet, url, signedFor, body string) (int, int, json.RawMessage) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run([]string{"query", "--epistula", "--wallet-path", wallets, "--wallet", wallet, "--hotkey", "default",
		"--url", url, "--axon-hotkey", signedFor, "--body", body}, &out, &errOut)
	var got struct {
		Status int             `json:"status"`
		Body   json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("miner query --epistula: exit %d, output %q, stderr %q", code, out.String(), errOut.String())
	}
	return code, got.Status, got.Body
}

// TestEpistulaServesModel: a real miner (real HTTP, the bundled model on
// ONNX Runtime, dev keys in btcli wallets) answers `miner query --epistula`
// on its axon port: the KServe v2 route gives exactly port 8000's answer
// (JSON and binary), the bundled mapping's /text-orientation route gives
// the TextOrientation synapse's answer, a replayed request and a stranger
// are refused with their counters, and neither reaches the model.
func TestEpistulaServesModel(t *testing.T) {
	tn, c, target, wallets := startBundledNode(t)
	axonURL := "http://" + target.Addr
	bob := target.Hotkey
	body := ppocrBody()

	code, status, got := queryEpistulaRun(t, wallets, "validator", axonURL+"/v2/models/ppocr_cls/infer", bob, string(body))
	if code != 0 || status != 200 {
		t.Fatalf("KServe over Epistula: exit %d, status %d, %s", code, status, got)
	}
	direct := tn.do(t, http.MethodPost, "/v2/models/ppocr_cls/infer", body, nil)
	if direct.status != 200 {
		t.Fatalf("port 8000: %d %s", direct.status, direct.body)
	}
	var a, b bytes.Buffer
	_ = json.Compact(&a, got)
	_ = json.Compact(&b, direct.body)
	if a.String() != b.String() {
		t.Errorf("Epistula answer\n%s\nport 8000 answer\n%s", a.String(), b.String())
	}

	// Binary: a raw binary request (the whole body is the input's bytes).
	raw := make([]byte, 4*3*48*192)
	for i := range raw {
		raw[i] = byte(i % 61)
	}
	hdr := http.Header{"Inference-Header-Content-Length": {"0"}}
	resp, err := c.CallEpistula(context.Background(), dendrite.EpistulaRequest{URL: axonURL + "/v2/models/ppocr_cls/infer",
		SignedFor: bob, Body: raw, Header: hdr})
	if err != nil || resp.Status != 200 {
		t.Fatalf("binary over Epistula: %v %+v", err, resp)
	}
	directBin := tn.do(t, http.MethodPost, "/v2/models/ppocr_cls/infer", raw, map[string]string{"Inference-Header-Content-Length": "0"})
	if !bytes.Equal(resp.Body, directBin.body) || resp.Header.Get("Inference-Header-Content-Length") != directBin.header.Get("Inference-Header-Content-Length") {
		t.Errorf("binary answers differ: %d bytes vs %d bytes on port 8000", len(resp.Body), len(directBin.body))
	}

	// The mapping's route and the synapse agree.
	img := testImage(t, "png_rgb_300x200.png")
	code, status, got = queryEpistulaRun(t, wallets, "validator", axonURL+"/text-orientation", bob, `{"image":"`+img+`"}`)
	if code != 0 || status != 200 {
		t.Fatalf("mapped route: exit %d, status %d, %s", code, status, got)
	}
	syn := axonproto.NewSynapse()
	_ = syn.SetValue("image", img)
	r, err := c.Call(context.Background(), target, dendrite.Request{Name: "TextOrientation", Synapse: syn,
		Required: []axonproto.Field{{Name: "image", Empty: `""`}}})
	if err != nil || r.Status != 200 {
		t.Fatalf("synapse: %v %d %q", err, r.Status, r.Message)
	}
	angle, _ := r.Synapse.Field("angle")
	conf, _ := r.Synapse.Field("confidence")
	var compact bytes.Buffer
	_ = json.Compact(&compact, got)
	if want := `{"angle":` + string(angle) + `,"confidence":` + string(conf) + `}`; compact.String() != want {
		t.Errorf("mapped route answered %s, the synapse %s", compact.String(), want)
	}
	runs := tn.inferenceCount(t, "ppocr_cls")

	// A replay of a signed request: 401, no model run.
	req, err := c.SignEpistula(context.Background(), dendrite.EpistulaRequest{URL: axonURL + "/v2/models/ppocr_cls/infer", SignedFor: bob, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{200, 401} {
		again := req.Clone(context.Background())
		again.Body, again.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		resp, err := http.DefaultClient.Do(again)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("send %d: %d, want %d", i, resp.StatusCode, want)
		}
	}
	// A stranger: 403, and miner query exits 1.
	code, status, got = queryEpistulaRun(t, wallets, "stranger", axonURL+"/v2/models/ppocr_cls/infer", bob, string(body))
	if code != 1 || status != 403 || !strings.Contains(string(got), "Unrecognized hotkey") {
		t.Errorf("stranger: exit %d, status %d, %s", code, status, got)
	}
	if n := tn.inferenceCount(t, "ppocr_cls"); n != runs+1 {
		t.Errorf("inference_count %d, want %d (the replay and the stranger must not run the model)", n, runs+1)
	}
	m := tn.do(t, http.MethodGet, "/metrics", nil, nil)
	for _, line := range []string{
		`taominer_refusals_total{port="axon",protocol="epistula",reason="replayed"} 1`,
		`taominer_refusals_total{port="axon",protocol="epistula",reason="not_allowed"} 1`,
		`taominer_refusals_total{port="axon",protocol="epistula",reason="bad_signature"} 0`,
	} {
		if !bytes.Contains(m.body, []byte(line)) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}

// TestQueryEpistulaUsage: --epistula without --url or --axon-hotkey is a
// usage error (exit 2) naming them.
func TestQueryEpistulaUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"query", "--epistula", "--axon-hotkey", "x"}, &out, &errOut); code != 2 ||
		!strings.Contains(errOut.String(), "--epistula needs --url and --axon-hotkey") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}
