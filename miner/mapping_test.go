package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/taominer/taominer/api/axonproto"
	"github.com/taominer/taominer/api/dendrite"
	"github.com/taominer/taominer/mapping"
	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/models/modeltest"
)

// mappedRepo lays out the StreetVision stand-in as an operator would: the
// ONNX export's files and the shipped mapping in one model folder.
func mappedRepo(t *testing.T, withMapping bool) string {
	t.Helper()
	repo := t.TempDir()
	sv := filepath.Join(repo, "streetvision")
	td := filepath.Join(modeltest.RepoRoot(), "mapping", "testdata", "streetvision")
	copyFile(t, filepath.Join(td, "model.onnx"), filepath.Join(sv, "1", "model.onnx"))
	copyFile(t, filepath.Join(td, "config.json"), filepath.Join(sv, "config.json"))
	copyFile(t, filepath.Join(td, "preprocessor_config.json"), filepath.Join(sv, "preprocessor_config.json"))
	if withMapping {
		copyFile(t, filepath.Join(modeltest.RepoRoot(), "examples", "mappings", "streetvision", "synapse.yaml"), filepath.Join(sv, mapping.FileName))
	}
	return repo
}

// startMappedNode serves repo with an axon for //Bob answering //Alice and
// returns the node, a dendrite of //Alice and the axon target.
func startMappedNode(t *testing.T, repo string, tweaks ...func(*config.Serve)) (*testNode, *dendrite.Client, dendrite.Target) {
	t.Helper()
	wallets := axonWallets(t)
	tn := startNode(t, repo, func(c *config.Serve) {
		c.WalletPath, c.Wallet, c.AxonPort = wallets, "miner", 0
		c.AllowHotkeys = []string{axonDevKey(t, "//Alice").SS58()}
		for _, f := range tweaks {
			f(c)
		}
	})
	addr := tn.n.AxonAddr()
	_, port, _ := strings.Cut(addr, "]:")
	if port == "" {
		_, port, _ = strings.Cut(addr, ":")
	}
	c, err := dendrite.New(axonDevKey(t, "//Alice"))
	if err != nil {
		t.Fatal(err)
	}
	return tn, c, dendrite.Target{Addr: "127.0.0.1:" + port, Hotkey: axonDevKey(t, "//Bob").SS58()}
}

func testImage(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(modeltest.RepoRoot(), "kernels", "testdata", "images", name))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func imageSynapse(image string) *axonproto.Synapse {
	syn := axonproto.NewSynapse()
	_ = syn.SetValue("image", image)
	_ = syn.SetValue("testnet_label", -1)
	_ = syn.SetValue("prediction", -1.0)
	return syn
}

// TestMappingStreetVision: signed ImageSynapse and ExtendedImageSynapse
// calls carrying a real JPEG are answered by the real ONNX model with
// P(Roadwork) as the Pillow reference computes it; a corrupt image gets
// the fallback in a 200 (counted in taominer_axon_fallback_total); the model
// stays reachable over KServe v2.
func TestMappingStreetVision(t *testing.T) {
	tn, c, target := startMappedNode(t, mappedRepo(t, true))
	var ref struct {
		Images map[string]struct {
			PRoadwork float64 `json:"p_roadwork"`
		}
	}
	raw, err := os.ReadFile(filepath.Join(modeltest.RepoRoot(), "mapping", "testdata", "streetvision", "reference.json"))
	if err != nil || json.Unmarshal(raw, &ref) != nil {
		t.Fatal(err)
	}
	want := ref.Images["jpeg_420_300x200.jpg"].PRoadwork
	for _, route := range []string{"ImageSynapse", "ExtendedImageSynapse"} {
		r, err := c.Call(context.Background(), target, dendrite.Request{Name: route, Synapse: imageSynapse(testImage(t, "jpeg_420_300x200.jpg")), Timeout: 9})
		if err != nil || r.Status != 200 {
			t.Fatalf("%s: %v %d %q", route, err, r.Status, r.Message)
		}
		p, ok, err := r.Synapse.Float("prediction")
		if err != nil || !ok || p < 0 || p > 1 || math.Abs(p-want) > 1e-3 {
			t.Errorf("%s: prediction %v, Pillow reference %v", route, p, want)
		}
		if img, _ := r.Synapse.String("image"); img != "" {
			t.Errorf("%s: the image came back", route)
		}
		if l, _ := r.Synapse.Field("testnet_label"); string(l) != "-1" {
			t.Errorf("%s: testnet_label %s", route, l)
		}
	}
	// A corrupt image: the fallback, answered 200, never -1.
	r, err := c.Call(context.Background(), target, dendrite.Request{Name: "ImageSynapse", Synapse: imageSynapse(base64.StdEncoding.EncodeToString([]byte("\xff\xd8\xff garbage")))})
	if err != nil || r.Status != 200 {
		t.Fatalf("corrupt image: %v %d %q", err, r.Status, r.Message)
	}
	if p, _, _ := r.Synapse.Float("prediction"); p != 0.5 {
		t.Errorf("corrupt image: prediction %v, want the fallback 0.5", p)
	}
	// … counted by cause for operators.
	labels := map[string]string{"synapse": "ImageSynapse", "model": "streetvision", "reason": "bad_input"}
	if m := sample(scrape(t, tn), "taominer_axon_fallback_total", labels); m == nil || m.GetCounter().GetValue() != 1 {
		t.Errorf("taominer_axon_fallback_total%v = %v, want 1", labels, m)
	}
	// KServe v2 still serves the model.
	body := []byte(`{"inputs":[{"name":"pixel_values","shape":[1,3,224,224],"datatype":"FP32","data":[` +
		strings.Repeat("0.25,", 3*224*224-1) + `0.25]}]}`)
	k := tn.do(t, http.MethodPost, "/v2/models/streetvision/infer", body, nil)
	if k.status != 200 || !bytes.Contains(k.body, []byte(`"name":"logits"`)) {
		t.Errorf("KServe v2: %d %s", k.status, k.body)
	}
	// An unknown route lists the mapped synapses.
	r, _ = c.Call(context.Background(), target, dendrite.Request{Name: "Nope", Synapse: axonproto.NewSynapse()})
	if r.Status != 404 || !strings.Contains(r.Message, "'ExtendedImageSynapse', 'ImageSynapse'") {
		t.Errorf("unknown route: %d %q", r.Status, r.Message)
	}
}

// TestMappingBundledModel: the bundled PaddleOCR classifier answers its
// TextOrientation synapse, and its confidence equals what KServe v2 gives
// for the same pre-processed tensor.
func TestMappingBundledModel(t *testing.T) {
	repo := t.TempDir()
	root := modeltest.RepoRoot()
	copyFile(t, modeltest.PaddleOCRClsPath(t), filepath.Join(repo, "ppocr_cls", "1", "model.onnx"))
	copyFile(t, filepath.Join(root, "model-repo", "ppocr_cls", "config.yaml"), filepath.Join(repo, "ppocr_cls", "config.yaml"))
	copyFile(t, filepath.Join(root, "model-repo", "ppocr_cls", "synapse.yaml"), filepath.Join(repo, "ppocr_cls", "synapse.yaml"))
	tn, c, target := startMappedNode(t, repo)
	img := testImage(t, "png_rgb_300x200.png")
	syn := axonproto.NewSynapse()
	_ = syn.SetValue("image", img)
	syn.Set("angle", json.RawMessage("null"))
	syn.Set("confidence", json.RawMessage("null"))
	r, err := c.Call(context.Background(), target, dendrite.Request{Name: "TextOrientation", Synapse: syn, Required: []axonproto.Field{{Name: "image", Empty: `""`}}})
	if err != nil || r.Status != 200 {
		t.Fatalf("%v %d %q", err, r.Status, r.Message)
	}
	angle, _ := r.Synapse.Field("angle")
	conf, ok, err := r.Synapse.Float("confidence")
	if (string(angle) != "0" && string(angle) != "180") || !ok || err != nil || conf < 0.5 || conf > 1 {
		t.Fatalf("angle %s confidence %v", angle, conf)
	}
	m, err := mapping.LoadFile(filepath.Join(repo, "ppocr_cls", "synapse.yaml"), "ppocr_cls", mapping.Options{})
	if err != nil {
		t.Fatal(err)
	}
	px, err := m.Inputs[0].Image.Preprocess(img)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(px)
	k := tn.do(t, http.MethodPost, "/v2/models/ppocr_cls/infer", []byte(`{"inputs":[{"name":"x","shape":[1,3,48,192],"datatype":"FP32","data":`+string(data)+`}]}`), nil)
	var out struct {
		Outputs []struct{ Data []float64 }
	}
	if k.status != 200 || json.Unmarshal(k.body, &out) != nil {
		t.Fatalf("KServe v2: %d %s", k.status, k.body)
	}
	if best := slices.Max(out.Outputs[0].Data); math.Abs(best-conf) > 1e-6 {
		t.Errorf("confidence %v over the axon, %v over KServe v2", conf, best)
	}
}

// TestMappingHashFields: a mapped synapse with a string required_hash_fields
// is answered when honest and refused (500, the SDK's answer) when the
// body was changed after signing; the model does not run.
func TestMappingHashFields(t *testing.T) {
	repo := t.TempDir()
	td := filepath.Join(modeltest.RepoRoot(), "mapping", "testdata", "streetvision")
	copyFile(t, filepath.Join(td, "model.onnx"), filepath.Join(repo, "sv.onnx"))
	copyFile(t, filepath.Join(td, "config.json"), filepath.Join(repo, "sv_config.json"))
	text := `version: 1
synapses: [{name: HashedImage, required_hash_fields: [image], required: [image]}]
labels_file: sv_config.json
inputs:
  - field: image
    image: {tensor: pixel_values, size: {width: 224, height: 224}, filter: bilinear, scale: 0.00392156862745098, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]}
outputs:
  - {field: prediction, tensor: logits, steps: [softmax, {pick: Roadwork}], fallback: 0.5}
`
	if err := os.WriteFile(filepath.Join(repo, "sv.synapse.yaml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	tn, c, target := startMappedNode(t, repo)
	req := dendrite.Request{Name: "HashedImage", Synapse: imageSynapse(testImage(t, "png_rgb_37x23.png")),
		Required: []axonproto.Field{{Name: "image", Empty: `""`}}, HashFields: []string{"image"}}
	r, err := c.Call(context.Background(), target, req)
	if err != nil || r.Status != 200 {
		t.Fatalf("honest call: %v %d %q", err, r.Status, r.Message)
	}
	before := tn.inferenceCount(t, "sv")
	s, err := c.Sign(target, dendrite.Request{Name: "HashedImage", Synapse: imageSynapse(testImage(t, "png_rgb_37x23.png")),
		Required: req.Required, HashFields: req.HashFields})
	if err != nil {
		t.Fatal(err)
	}
	s.Body = bytes.Replace(s.Body, []byte(`"image":"`), []byte(`"image":"AAAA`), 1)
	r = c.Send(context.Background(), s)
	if r.Status != 500 || !strings.HasPrefix(r.Message, "Internal Server Error #") {
		t.Errorf("tampered body: %d %q", r.Status, r.Message)
	}
	if n := tn.inferenceCount(t, "sv"); n != before {
		t.Errorf("the tampered call reached the model")
	}
}

// TestMappingHotReload: a mapping file added to a served model's folder is
// picked up while the node runs; a broken edit keeps the old one serving.
func TestMappingHotReload(t *testing.T) {
	repo := mappedRepo(t, false)
	_, c, target := startMappedNode(t, repo)
	call := func() int {
		r, err := c.Call(context.Background(), target, dendrite.Request{Name: "ImageSynapse", Synapse: imageSynapse(testImage(t, "png_rgb_37x23.png"))})
		if err != nil {
			t.Fatal(err)
		}
		return r.Status
	}
	if s := call(); s != 404 {
		t.Fatalf("before the mapping: %d", s)
	}
	dst := filepath.Join(repo, "streetvision", mapping.FileName)
	copyFile(t, filepath.Join(modeltest.RepoRoot(), "examples", "mappings", "streetvision", "synapse.yaml"), dst)
	waitFor(t, "the mapping to serve", func() bool { return call() == 200 })
	if err := os.WriteFile(dst, []byte("version: 1\nsynapses: [{name: ImageSynapse}]\nbogus: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // two polls
	if s := call(); s != 200 {
		t.Errorf("after a broken edit: %d, want the old mapping serving", s)
	}
}

// TestMappingTextEmbedding: a TextEmbeddingSynapse of 64 texts (accents,
// CJK, punctuation, one longer than max_length) is tokenized, split into
// runs of 16, pooled, truncated to the requested width and L2-normalised;
// every text gives the same vector alone as in the batch, in order.
func TestMappingTextEmbedding(t *testing.T) {
	repo := t.TempDir()
	root := modeltest.RepoRoot()
	copyFile(t, filepath.Join(root, "mapping", "testdata", "embedder", "model.onnx"), filepath.Join(repo, "embedder", "1", "model.onnx"))
	copyFile(t, filepath.Join(root, "kernels", "wordpiece", "testdata", "vocab.txt"), filepath.Join(repo, "embedder", "vocab.txt"))
	copyFile(t, filepath.Join(root, "examples", "mappings", "text-embedding", "synapse.yaml"), filepath.Join(repo, "embedder", mapping.FileName))
	_, c, target := startMappedNode(t, repo, func(c *config.Serve) { c.AxonRateLimit = 0 })
	base := []string{"Héllo, wörld!", "北京欢迎你", "don't stop-believing...", "The quick brown fox.", "naïve café résumé",
		"", "a", "Roadwork ahead: 3km (slow)", strings.Repeat("long text ", 400)}
	texts := make([]string, 64)
	for i := range texts {
		texts[i] = base[i%len(base)] + strings.Repeat(" x", i/len(base))
	}
	embed := func(texts []string, dims int, normalized bool) ([][]float64, int, string) {
		t.Helper()
		syn := axonproto.NewSynapse()
		_ = syn.SetValue("texts", texts)
		_ = syn.SetValue("dimensions", dims)
		_ = syn.SetValue("normalized", normalized)
		syn.Set("version", json.RawMessage(`{"major":1,"minor":0,"patch":0}`))
		syn.Set("results", json.RawMessage("null"))
		r, err := c.Call(context.Background(), target, dendrite.Request{Name: "TextEmbeddingSynapse", Synapse: syn,
			Required: []axonproto.Field{{Name: "texts", Empty: "[]"}}, Timeout: 60})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != 200 {
			return nil, r.Status, r.Message
		}
		if v, _ := r.Synapse.Field("version"); string(v) != `{"major":1,"minor":0,"patch":0}` {
			t.Errorf("version echoed as %s", v)
		}
		var res [][]float64
		raw, _ := r.Synapse.Field("results")
		if err := json.Unmarshal(raw, &res); err != nil {
			t.Fatalf("%v: %s", err, raw)
		}
		return res, r.Status, ""
	}
	all, status, msg := embed(texts, 32, true)
	if status != 200 || len(all) != 64 {
		t.Fatalf("%d %q, %d rows", status, msg, len(all))
	}
	for i, row := range all {
		norm := 0.0
		for _, v := range row {
			norm += v * v
		}
		if len(row) != 32 || math.Abs(math.Sqrt(norm)-1) > 1e-5 {
			t.Errorf("row %d: %d values, norm %v", i, len(row), math.Sqrt(norm))
		}
	}
	for i, text := range texts {
		one, status, msg := embed([]string{text}, 32, true)
		if status != 200 {
			t.Fatalf("text %d alone: %d %q", i, status, msg)
		}
		for j := range one[0] {
			if math.Abs(one[0][j]-all[i][j]) > 1e-6 {
				t.Fatalf("text %d: alone %v, in the batch %v", i, one[0][:4], all[i][:4])
			}
		}
	}
	if all[0][0] == all[1][0] {
		t.Errorf("different texts gave the same vector")
	}
	// normalized=false keeps the pooled vector; the width follows dimensions.
	raw, _, _ := embed(texts[:2], 16, false)
	norm := 0.0
	for _, v := range raw[0] {
		norm += v * v
	}
	if len(raw[0]) != 16 || math.Abs(math.Sqrt(norm)-1) < 1e-3 {
		t.Errorf("normalized=false: %d values, norm %v", len(raw[0]), math.Sqrt(norm))
	}
	// Wider than the model: 400, saying why.
	if _, status, msg := embed(texts[:1], 1024, true); status != 400 || !strings.Contains(msg, "dimensions 1024: the model gives 64 values") {
		t.Errorf("dimensions 1024: %d %q", status, msg)
	}
}
