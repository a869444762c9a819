package mapping

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/axon"
	"github.com/taominer/taominer/api/axonproto"
	"github.com/taominer/taominer/kernels/wordpiece"
	"github.com/taominer/taominer/models/tensor"
)

// Compile-time check: a Set is what the axon asks for mapped kinds.
var _ axon.KindSource = (*Set)(nil)

// fakeInferer runs f on every request and records the requests.
type fakeInferer struct {
	mu   sync.Mutex
	reqs []*api.InferRequest
	f    func(req *api.InferRequest) (*api.InferResponse, error)
}

func (fi *fakeInferer) Infer(_ context.Context, model, _ string, req *api.InferRequest) (*api.InferResponse, error) {
	fi.mu.Lock()
	fi.reqs = append(fi.reqs, req)
	fi.mu.Unlock()
	return fi.f(req)
}

func leF32s(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[i*4:]))
	}
	return out
}

func f32bytes(v []float32) []byte { return appendF32(nil, v) }

// standIn computes the stand-in StreetVision model (testdata/streetvision/
// gen.py) in Go: per-channel mean, then logits = mean·W + B.
func standIn(req *api.InferRequest) (*api.InferResponse, error) {
	x := req.Inputs[0]
	n := int(x.Shape[0])
	px := leF32s(x.Data)
	W := [3][2]float64{{2, -2}, {0.5, 1.5}, {-1, 3}}
	B := [2]float64{0.1, -0.2}
	logits := make([]float32, 0, 2*n)
	plane := 224 * 224
	for i := range n {
		var mean [3]float64
		for c := range 3 {
			for _, v := range px[(i*3+c)*plane : (i*3+c+1)*plane] {
				mean[c] += float64(v)
			}
			mean[c] /= float64(plane)
		}
		for k := range 2 {
			logits = append(logits, float32(mean[0]*W[0][k]+mean[1]*W[1][k]+mean[2]*W[2][k]+B[k]))
		}
	}
	return &api.InferResponse{Outputs: []api.ResponseOutput{{Tensor: tensor.Tensor{Name: "logits", DataType: tensor.FP32, Shape: []int64{int64(n), 2}, Data: f32bytes(logits)}}}}, nil
}

type reference struct {
	Pillow, Numpy string
	Images        map[string]struct {
		Tensor    string
		PRoadwork float64 `json:"p_roadwork"`
	}
}

func readReference(t *testing.T) reference {
	t.Helper()
	raw, err := os.ReadFile("testdata/streetvision/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

func readGz(t *testing.T, path string) []float32 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return leF32s(b)
}

func imageB64(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "kernels", "testdata", "images", name))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func loadStreetVision(t *testing.T) *Mapping {
	t.Helper()
	m, err := LoadFile("testdata/streetvision/synapse.yaml", "streetvision", Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func kindOf(t *testing.T, m *Mapping, inf axon.Inferer, name string) *axon.Kind {
	t.Helper()
	for _, k := range m.Kinds(inf, nil, nil) {
		if k.Name == name {
			return k
		}
	}
	t.Fatalf("no kind %s", name)
	return nil
}

// TestStreetVisionMatchesPillow: the ImageSynapse forward feeds the model
// the tensor Pillow + numpy make (HF ViTImageProcessor's steps), within
// 1e-5 for a PNG (exact decode) and within JPEG decoding's 3 levels for a
// JPEG, and answers P(Roadwork) as the reference computes it.
func TestStreetVisionMatchesPillow(t *testing.T) {
	ref := readReference(t)
	t.Logf("reference made with Pillow %s, numpy %s", ref.Pillow, ref.Numpy)
	m := loadStreetVision(t)
	for _, tt := range []struct {
		image string
		tol   float64
	}{
		{"png_rgb_300x200.png", 1e-5},
		{"jpeg_420_300x200.jpg", 3.0/255/0.5 + 1e-5},
	} {
		t.Run(tt.image, func(t *testing.T) {
			fi := &fakeInferer{f: standIn}
			syn := axonproto.NewSynapse()
			_ = syn.SetValue("image", imageB64(t, tt.image))
			_ = syn.SetValue("testnet_label", -1)
			_ = syn.SetValue("prediction", -1.0)
			if err := kindOf(t, m, fi, "ImageSynapse").Forward(context.Background(), &axon.Call{Synapse: syn}); err != nil {
				t.Fatal(err)
			}
			want := readGz(t, filepath.Join("testdata/streetvision", ref.Images[tt.image].Tensor))
			in := fi.reqs[0].Inputs[0]
			if in.Name != "pixel_values" || tensor.FormatShape(in.Shape) != "[1,3,224,224]" || in.DataType != tensor.FP32 {
				t.Fatalf("input %s %s %s", in.Name, in.DataType, tensor.FormatShape(in.Shape))
			}
			got := leF32s(in.Data)
			worst := 0.0
			for i := range want {
				worst = max(worst, math.Abs(float64(got[i]-want[i])))
			}
			if worst > tt.tol {
				t.Errorf("tensor differs from Pillow's by %g (bound %g)", worst, tt.tol)
			}
			t.Logf("largest difference from the Pillow tensor: %g", worst)
			p, ok, err := syn.Float("prediction")
			if err != nil || !ok || p < 0 || p > 1 || math.Abs(p-ref.Images[tt.image].PRoadwork) > 1e-3 {
				t.Errorf("prediction %v (%v %v), reference %v", p, ok, err, ref.Images[tt.image].PRoadwork)
			}
			if img, _ := syn.String("image"); img != "" {
				t.Errorf("image not blanked in the answer")
			}
			if lab, _ := syn.Field("testnet_label"); string(lab) != "-1" {
				t.Errorf("testnet_label echoed as %s", lab)
			}
		})
	}
}

// TestFallbacks: when the miner cannot answer, the mapping's fallback is
// sent with no error (a 200), never the class's "no answer" default, and the
// observer is told the synapse, model and cause class; a mapping without
// fallbacks returns the error.
func TestFallbacks(t *testing.T) {
	m := loadStreetVision(t)
	nan := func(req *api.InferRequest) (*api.InferResponse, error) {
		r, _ := standIn(req)
		binary.LittleEndian.PutUint32(r.Outputs[0].Data, math.Float32bits(float32(math.NaN())))
		return r, nil
	}
	failing := func(status int) func(*api.InferRequest) (*api.InferResponse, error) {
		return func(*api.InferRequest) (*api.InferResponse, error) {
			return nil, api.Errorf(status, "model streetvision failed with %d", status)
		}
	}
	tests := []struct {
		name   string
		image  string
		f      func(*api.InferRequest) (*api.InferResponse, error)
		reason string
	}{
		{"corrupt image", base64.StdEncoding.EncodeToString([]byte("\xff\xd8\xff\xe0 not a jpeg")), standIn, FallbackBadInput},
		{"not base64", "%%%", standIn, FallbackBadInput},
		{"non-finite output", imageB64(t, "png_rgb_37x23.png"), nan, FallbackNotFinite},
		{"model not ready", imageB64(t, "png_rgb_37x23.png"), failing(503), FallbackUnavailable},
		{"queue full", imageB64(t, "png_rgb_37x23.png"), failing(429), FallbackBusy},
		{"model gone", imageB64(t, "png_rgb_37x23.png"), failing(404), FallbackNoModel},
		{"runtime error", imageB64(t, "png_rgb_37x23.png"), failing(500), FallbackModelError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			syn := axonproto.NewSynapse()
			_ = syn.SetValue("image", tt.image)
			_ = syn.SetValue("prediction", -1.0)
			var seen []string
			obs := func(synapse, model, reason string) { seen = append(seen, synapse+"/"+model+"/"+reason) }
			var kind *axon.Kind
			for _, k := range m.Kinds(&fakeInferer{f: tt.f}, nil, obs) {
				if k.Name == "ExtendedImageSynapse" {
					kind = k
				}
			}
			err := kind.Forward(context.Background(), &axon.Call{Synapse: syn})
			if err != nil {
				t.Fatalf("error %v, want the fallback", err)
			}
			if p, _, _ := syn.Float("prediction"); p != 0.5 {
				t.Errorf("prediction %v, want the fallback 0.5", p)
			}
			if want := "ExtendedImageSynapse/streetvision/" + tt.reason; len(seen) != 1 || seen[0] != want {
				t.Errorf("observed %v, want [%s]", seen, want)
			}
		})
	}
	// Without fallbacks the error goes out (the axon maps it to a status).
	m.Outputs[0].Fallback = nil
	syn := axonproto.NewSynapse()
	_ = syn.SetValue("image", "%%%")
	err := kindOf(t, m, &fakeInferer{f: standIn}, "ImageSynapse").Forward(context.Background(), &axon.Call{Synapse: syn})
	if api.StatusOf(err) != 400 {
		t.Errorf("error %v (status %d), want 400", err, api.StatusOf(err))
	}
}

// rowModel doubles x [N,3] into y and returns its row sums as s [N,1].
func rowModel(req *api.InferRequest) (*api.InferResponse, error) {
	x := leF32s(req.Inputs[0].Data)
	n := req.Inputs[0].Shape[0]
	y := make([]float32, len(x))
	s := make([]float32, n)
	for i, v := range x {
		y[i] = 2 * v
		s[i/3] += v
	}
	return &api.InferResponse{Outputs: []api.ResponseOutput{
		{Tensor: tensor.Tensor{Name: "y", DataType: tensor.FP32, Shape: []int64{n, 3}, Data: f32bytes(y)}},
		{Tensor: tensor.Tensor{Name: "s", DataType: tensor.FP32, Shape: []int64{n, 1}, Data: f32bytes(s)}},
	}}, nil
}

const listMapping = `version: 1
synapses: [{name: Rows, required: [rows]}]
batch_size: 3
labels: [a, b, c]
inputs:
  - field: rows
    list: true
    tensor: {name: x, datatype: FP32, shape: [3]}
outputs:
  - field: doubled
    tensor: y
    steps: [{truncate: {field: dims, default: 3}}]
  - field: sums
    tensor: s
    steps: [item]
  - field: best
    tensor: y
    steps: [argmax, label]
  - field: top
    tensor: y
    steps: [{top_k: 2}]
`

// TestListSplitGather: a list field is split onto the batch axis in
// chunks of batch_size and gathered back in order; each item's answer is
// the same alone and in a batch.
func TestListSplitGather(t *testing.T) {
	m, err := Parse("rows.yaml", "rows", []byte(listMapping), Options{})
	if err != nil {
		t.Fatal(err)
	}
	rows := make([][]float32, 7)
	for i := range rows {
		rows[i] = []float32{float32(i), float32(10 * i), float32(-i)}
	}
	fi := &fakeInferer{f: rowModel}
	syn := axonproto.NewSynapse()
	_ = syn.SetValue("rows", rows)
	_ = syn.SetValue("dims", 2)
	if err := kindOf(t, m, fi, "Rows").Forward(context.Background(), &axon.Call{Synapse: syn}); err != nil {
		t.Fatal(err)
	}
	if len(fi.reqs) != 3 || fi.reqs[0].Inputs[0].Shape[0] != 3 || fi.reqs[2].Inputs[0].Shape[0] != 1 {
		t.Errorf("%d runs, want 3 of 3, 3, 1 rows", len(fi.reqs))
	}
	var got struct {
		Doubled [][]float64
		Sums    []float64
		Best    []string
		Top     [][]int
	}
	body := syn.AppendJSON(nil, "Rows")
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if got.Doubled[i][0] != float64(2*i) || got.Doubled[i][1] != float64(20*i) || len(got.Doubled[i]) != 2 {
			t.Errorf("item %d: doubled %v", i, got.Doubled[i])
		}
		if got.Sums[i] != float64(10*i) {
			t.Errorf("item %d: sum %v", i, got.Sums[i])
		}
		if i > 0 && (got.Best[i] != "b" || got.Top[i][0] != 1 || got.Top[i][1] != 0) {
			t.Errorf("item %d: best %v top %v", i, got.Best[i], got.Top[i])
		}
	}
	// Each row alone gives the same answer.
	for i := range rows {
		one := axonproto.NewSynapse()
		_ = one.SetValue("rows", rows[i:i+1])
		_ = one.SetValue("dims", 2)
		if err := kindOf(t, m, &fakeInferer{f: rowModel}, "Rows").Forward(context.Background(), &axon.Call{Synapse: one}); err != nil {
			t.Fatal(err)
		}
		d, _ := one.Field("doubled")
		want, _ := json.Marshal(got.Doubled[i : i+1])
		if !bytes.Equal(d, want) {
			t.Errorf("item %d alone: %s, in the batch %s", i, d, want)
		}
	}
	// An empty list answers empty lists without running the model.
	empty := axonproto.NewSynapse()
	_ = empty.SetValue("rows", []int{})
	fi = &fakeInferer{f: rowModel}
	if err := kindOf(t, m, fi, "Rows").Forward(context.Background(), &axon.Call{Synapse: empty}); err != nil || len(fi.reqs) != 0 {
		t.Fatalf("empty list: %v, %d runs", err, len(fi.reqs))
	}
	if d, _ := empty.Field("sums"); string(d) != "[]" {
		t.Errorf("empty list: sums %s", d)
	}
	// A width above the model's is a 400.
	wide := axonproto.NewSynapse()
	_ = wide.SetValue("rows", rows[:1])
	_ = wide.SetValue("dims", 9)
	if err := kindOf(t, m, &fakeInferer{f: rowModel}, "Rows").Forward(context.Background(), &axon.Call{Synapse: wide}); api.StatusOf(err) != 400 {
		t.Errorf("dims 9: %v", err)
	}
}

// TestTensorInputs: nested lists and base64 raw bytes become tensors of
// the declared type.
func TestTensorInputs(t *testing.T) {
	spec := &TensorSpec{Name: "x", DataType: tensor.FP32, Shape: []int64{-1, 2}}
	ts, err := spec.encode([]json.RawMessage{json.RawMessage(`[[1,2],[3,4.5]]`)})
	if err != nil || tensor.FormatShape(ts[0].Shape) != "[1,2,2]" || leF32s(ts[0].Data)[3] != 4.5 {
		t.Fatalf("%v %v", err, ts)
	}
	raw := base64.StdEncoding.EncodeToString(f32bytes([]float32{1, 2, 3, 4}))
	spec.Base64 = true
	ts, err = spec.encode([]json.RawMessage{json.RawMessage(`"` + raw + `"`)})
	if err != nil || tensor.FormatShape(ts[0].Shape) != "[1,2,2]" {
		t.Fatalf("%v %v", err, ts)
	}
	ispec := &TensorSpec{Name: "i", DataType: tensor.Int64, Shape: []int64{3}}
	if _, err := ispec.encode([]json.RawMessage{json.RawMessage(`[1, 2.5, 3]`)}); err == nil || !strings.Contains(err.Error(), "2.5 is not an integer") {
		t.Errorf("INT64 2.5: %v", err)
	}
	if _, err := ispec.encode([]json.RawMessage{json.RawMessage(`[1, 2]`)}); err == nil || !strings.Contains(err.Error(), "do not fit the shape [3]") {
		t.Errorf("2 values for [3]: %v", err)
	}
}

// TestSetFollowsFolder: mappings load with their model, a bad change
// keeps the old mapping serving and reports file and line, a route
// claimed twice is refused for the second model, removal drops the route.
func TestSetFollowsFolder(t *testing.T) {
	dir := t.TempDir()
	folder := filepath.Join(dir, "rows", FileName)
	writeFile(t, folder, listMapping)
	s := NewSet(SetOptions{Dir: dir, Inferer: &fakeInferer{f: rowModel}})
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Kind("Rows"); !ok || strings.Join(s.KindNames(), ",") != "Rows" {
		t.Fatalf("kinds %v", s.KindNames())
	}
	// A bad edit: the old mapping keeps serving, the error names the line.
	writeFile(t, folder, strings.Replace(listMapping, "batch_size: 3", "batch_size: 3\nbogus: 1", 1))
	bumpMtime(t, folder)
	err := s.Sync()
	if err == nil || !strings.Contains(err.Error(), folder+`:4: unknown key "bogus"`) {
		t.Errorf("bad reload: %v", err)
	}
	if _, ok := s.Kind("Rows"); !ok {
		t.Errorf("the old mapping stopped serving after a bad reload")
	}
	if len(s.Errors()) != 1 {
		t.Errorf("errors %v", s.Errors())
	}
	// A flat model claiming the same route: refused, the first keeps it.
	flat := filepath.Join(dir, "other.synapse.yaml")
	writeFile(t, flat, listMapping)
	if err := s.Sync(); err == nil || !strings.Contains(err.Error(), `synapse "Rows" is already served by model "rows"`) {
		t.Errorf("conflict: %v", err)
	}
	// Fixed and renamed: both serve.
	writeFile(t, flat, strings.Replace(listMapping, "name: Rows", "name: Rows2", 1))
	bumpMtime(t, flat)
	writeFile(t, folder, listMapping)
	bumpMtime(t, folder)
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.KindNames(), ","); got != "Rows,Rows2" {
		t.Errorf("kinds %s", got)
	}
	// Removed with its model folder: gone.
	if err := os.RemoveAll(filepath.Join(dir, "rows")); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Kind("Rows"); ok {
		t.Errorf("Rows still served after its model folder was removed")
	}
}

// bumpMtime moves a file's modification time forward, so a rewrite within
// the clock's resolution is still seen as a change.
func bumpMtime(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	mt := st.ModTime().Add(1e9)
	if err := os.Chtimes(path, mt, mt); err != nil {
		t.Fatal(err)
	}
}

// TestTextInput: texts become input_ids, attention_mask and token_type_ids
// rows from the tokenizer hook; pad_to_max pads every row to max_length
// with the pad id and mask 0.
func TestTextInput(t *testing.T) {
	opt := Options{Tokenizer: func(vocab string, lower bool) (Tokenizer, error) {
		o := wordpiece.DefaultOptions()
		o.Lowercase = lower
		return wordpiece.Load(vocab, o)
	}}
	text := `version: 1
synapses: [{name: Embed}]
inputs:
  - field: texts
    list: true
    text: {vocab: ../kernels/wordpiece/testdata/vocab.txt, lower_case: true, max_length: 8, pad_to_max: true}
outputs:
  - field: results
    tensor: h
    steps: [{mean_pool: attention_mask}]
`
	m, err := Parse("embed.yaml", "embed", []byte(text), opt)
	if err != nil {
		t.Fatal(err)
	}
	fi := &fakeInferer{f: func(req *api.InferRequest) (*api.InferResponse, error) {
		ids := req.Inputs[0]
		n, T := ids.Shape[0], ids.Shape[1]
		h := make([]float32, 0, n*T*2)
		for i := range n * T {
			id := float32(int64(binary.LittleEndian.Uint64(ids.Data[i*8:])))
			h = append(h, id, 1)
		}
		return &api.InferResponse{Outputs: []api.ResponseOutput{{Tensor: tensor.Tensor{Name: "h", DataType: tensor.FP32, Shape: []int64{n, T, 2}, Data: f32bytes(h)}}}}, nil
	}}
	syn := axonproto.NewSynapse()
	_ = syn.SetValue("texts", []string{"Hello world", "a much longer sentence than eight tokens allows"})
	if err := kindOf(t, m, fi, "Embed").Forward(context.Background(), &axon.Call{Synapse: syn}); err != nil {
		t.Fatal(err)
	}
	in := fi.reqs[0].Inputs
	if len(in) != 3 || in[0].Name != "input_ids" || in[1].Name != "attention_mask" || in[2].Name != "token_type_ids" ||
		tensor.FormatShape(in[0].Shape) != "[2,8]" {
		t.Fatalf("inputs %v", in)
	}
	// [CLS] hello world [SEP] then 4 × [PAD] (id 0), mask 1 1 1 1 0 0 0 0.
	ids := make([]int64, 8)
	mask := make([]int64, 8)
	for i := range 8 {
		ids[i] = int64(binary.LittleEndian.Uint64(in[0].Data[i*8:]))
		mask[i] = int64(binary.LittleEndian.Uint64(in[1].Data[i*8:]))
	}
	if ids[0] != 101 || ids[3] != 102 || ids[4] != 0 || mask[3] != 1 || mask[4] != 0 {
		t.Errorf("row 0: ids %v mask %v", ids, mask)
	}
	var got struct{ Results [][]float64 }
	if err := json.Unmarshal(syn.AppendJSON(nil, "Embed"), &got); err != nil {
		t.Fatal(err)
	}
	// The mean of the kept tokens' ids; padding does not count.
	if want := float64(ids[0]+ids[1]+ids[2]+ids[3]) / 4; math.Abs(got.Results[0][0]-want) > 1e-3 || got.Results[0][1] != 1 {
		t.Errorf("pooled %v, want [%v 1]", got.Results[0], want)
	}
}

// writeFile writes text to path, making its folder.
func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
