package mapping

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodHead = "version: 1\nsynapses: [{name: S}]\n"
const goodIn = "inputs:\n  - field: x\n    tensor: {name: x, datatype: FP32, shape: [-1]}\n"
const goodOut = "outputs:\n  - field: y\n    tensor: y\n"

// TestParseErrors: each bad mapping file is refused with the file, the
// line and what was expected.
func TestParseErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"id2label":{"0":"a","1":"b"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad_pre.json"), []byte(`{"size":{"height":8,"width":8},"resample":0}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, text, want string
	}{
		{"not yaml", "version: 1\n  synapses: [\n", `bad.yaml:2: not YAML`},
		{"empty", "", `bad.yaml: empty mapping file`},
		{"top not a mapping", "- 1\n", `bad.yaml:1: the mapping: expected a mapping, got a list`},
		{"unknown top key", goodHead + goodIn + goodOut + "extra: 1\n", `bad.yaml:9: unknown key "extra" in the mapping (expected one of batch_size, epistula, inputs, labels, labels_file, outputs, set, synapses, version)`},
		{"repeated key", goodHead + "version: 1\n" + goodIn + goodOut, `bad.yaml:3: key "version" repeated in the mapping`},
		{"missing version", "synapses: [{name: S}]\n" + goodIn + goodOut, `bad.yaml:1: missing key "version" (expected version: 1)`},
		{"wrong version", "version: 2\nsynapses: [{name: S}]\n" + goodIn + goodOut, `bad.yaml:1: version: expected 1, got "2"`},
		{"missing synapses", "version: 1\n" + goodIn + goodOut, `bad.yaml:1: missing key "synapses" (expected a list of {name, required_hash_fields, required}) or "epistula" (a list of {method, path})`},
		{"epistula not a list", "version: 1\nepistula: /detect\n" + goodIn + goodOut, `bad.yaml:2: epistula: expected a list, got "/detect"`},
		{"epistula empty", "version: 1\nepistula: []\n" + goodIn + goodOut, `bad.yaml:2: epistula: expected at least one route {method, path}`},
		{"epistula no path", "version: 1\nepistula: [{method: POST}]\n" + goodIn + goodOut, `bad.yaml:2: epistula route: missing key "path"`},
		{"epistula unknown key", "version: 1\nepistula: [{path: /a, verb: POST}]\n" + goodIn + goodOut, `bad.yaml:2: unknown key "verb" in an epistula route (expected one of method, path)`},
		{"epistula method", "version: 1\nepistula: [{method: post, path: /a}]\n" + goodIn + goodOut, `bad.yaml:2: epistula method "post": expected one of GET, POST, PUT, PATCH, DELETE (upper case)`},
		{"epistula relative path", "version: 1\nepistula: [{path: detect}]\n" + goodIn + goodOut, `bad.yaml:2: epistula path "detect": expected an absolute path starting with /`},
		{"epistula kserve path", "version: 1\nepistula: [{path: /v2/models/m/infer}]\n" + goodIn + goodOut, `bad.yaml:2: epistula path "/v2/models/m/infer": paths under /v2/ are the KServe v2 routes`},
		{"epistula odd character", "version: 1\nepistula: [{path: \"/a b\"}]\n" + goodIn + goodOut, `bad.yaml:2: epistula path "/a b": expected letters, digits and / - _ . ~ only`},
		{"epistula twice", "version: 1\nepistula:\n  - {path: /a}\n  - {method: POST, path: /a}\n" + goodIn + goodOut, `bad.yaml:4: epistula route POST /a listed twice`},
		{"synapse unknown key", "version: 1\nsynapses:\n  - name: S\n    hash: [a]\n" + goodIn + goodOut, `bad.yaml:4: unknown key "hash" in a synapse (expected one of name, required, required_hash_fields)`},
		{"reserved route", "version: 1\nsynapses: [{name: Infer}]\n" + goodIn + goodOut, `bad.yaml:2: synapse name "Infer": reserved`},
		{"bad route", "version: 1\nsynapses: [{name: a/b}]\n" + goodIn + goodOut, `bad.yaml:2: synapse name "a/b": expected a Python class name`},
		{"hash fields not a list", "version: 1\nsynapses: [{name: S, required_hash_fields: image}]\n" + goodIn + goodOut, `bad.yaml:2: required_hash_fields: expected a list, got "image"`},
		{"input two kinds", goodHead + "inputs:\n  - field: x\n    tensor: {name: x, datatype: FP32, shape: [1]}\n    image: {tensor: y, size: {width: 2, height: 2}, filter: bilinear}\n" + goodOut, `bad.yaml:4: input "x": expected exactly one of image, text, tensor`},
		{"bad datatype", goodHead + "inputs:\n  - field: x\n    tensor: {name: x, datatype: STRING, shape: [1]}\n" + goodOut, `bad.yaml:5: datatype: expected one of BOOL, UINT8, INT8, INT32, INT64, FP32, FP64, got "STRING"`},
		{"two free dims", goodHead + "inputs:\n  - field: x\n    tensor: {name: x, datatype: FP32, shape: [-1, -1]}\n" + goodOut, `bad.yaml:5: shape: at most one dimension may be -1`},
		{"image filter", goodHead + "inputs:\n  - field: x\n    image:\n      tensor: p\n      size: {width: 4, height: 4}\n      filter: lanczos\n" + goodOut, `bad.yaml:8: filter: expected bilinear or bicubic, got "lanczos"`},
		{"image no size", goodHead + "inputs:\n  - field: x\n    image: {tensor: p, filter: bilinear}\n" + goodOut, `bad.yaml:5: image size: expected exactly one of {width, height}, {shortest_edge} or {height, max_width}`},
		{"image size key", goodHead + "inputs:\n  - field: x\n    image:\n      tensor: p\n      size: {w: 4}\n      filter: bilinear\n" + goodOut, `bad.yaml:7: unknown key "w" in size (expected one of height, max_width, shortest_edge, width)`},
		{"image std", goodHead + "inputs:\n  - field: x\n    image: {tensor: p, size: {width: 4, height: 4}, filter: bilinear, std: [1, 0, 1]}\n" + goodOut, `bad.yaml:5: image: std values must not be 0`},
		{"preprocessor resample", goodHead + "inputs:\n  - field: x\n    image: {tensor: p, preprocessor_config: bad_pre.json}\n" + goodOut, `bad.yaml:5: preprocessor_config bad_pre.json: resample 0: only 2 (BILINEAR) and 3 (BICUBIC) are supported`},
		{"preprocessor missing", goodHead + "inputs:\n  - field: x\n    image: {tensor: p, preprocessor_config: nope.json}\n" + goodOut, `bad.yaml:5: preprocessor_config nope.json: open`},
		{"text without tokenizer", goodHead + "inputs:\n  - field: t\n    list: true\n    text: {vocab: vocab.txt}\n" + goodOut, `bad.yaml:6: text input: no tokenizer is available in this build`},
		{"mixed list", goodHead + "inputs:\n  - field: x\n    list: true\n    tensor: {name: x, datatype: FP32, shape: [1]}\n  - field: z\n    tensor: {name: z, datatype: FP32, shape: [1]}\n" + goodOut, `bad.yaml:4: inputs: either every input is a list field`},
		{"output missing tensor", goodHead + goodIn + "outputs:\n  - field: y\n", `bad.yaml:7: output: expected keys field (the answer's field) and tensor (the model output)`},
		{"unknown step", goodHead + goodIn + "outputs:\n  - field: y\n    tensor: y\n    steps: [softmax, logsoftmax]\n", `bad.yaml:9: unknown step "logsoftmax" (expected one of argmax, clamp, cls_pool, item, l2_normalize, label, max, mean_pool, pick, sigmoid, softmax, to_float, to_int, top_k, truncate)`},
		{"step order", goodHead + goodIn + "outputs:\n  - field: y\n    tensor: y\n    steps: [argmax, softmax]\n", `bad.yaml:9: step softmax of output "y": expected a vector before it, got an integer`},
		{"pick unknown label", goodHead + "labels: [None, Roadwork]\n" + goodIn + "outputs:\n  - field: y\n    tensor: y\n    steps: [softmax, {pick: roadwork}]\n", `bad.yaml:10: pick "roadwork": expected one of the labels ["None" "Roadwork"]`},
		{"pick without labels", goodHead + goodIn + "outputs:\n  - field: y\n    tensor: y\n    steps: [{pick: Roadwork}]\n", `bad.yaml:9: pick "Roadwork": expected labels or labels_file`},
		{"pick label from file", goodHead + "labels_file: config.json\n" + goodIn + "outputs:\n  - field: y\n    tensor: y\n    steps: [{pick: c}]\n", `bad.yaml:10: pick "c": expected one of the labels ["a" "b"]`},
		{"clamp args", goodHead + goodIn + "outputs:\n  - field: y\n    tensor: y\n    steps: [{clamp: [1, 0]}]\n", `bad.yaml:9: clamp: expected [min, max] with min <= max`},
		{"top_k arg", goodHead + goodIn + "outputs:\n  - field: y\n    tensor: y\n    steps: [top_k]\n", `bad.yaml:9: step top_k: expected an argument (top_k: k)`},
		{"truncate field", goodHead + goodIn + "outputs:\n  - field: y\n    tensor: y\n    steps: [{truncate: {field: dimensions}}]\n", `bad.yaml:9: step truncate: expected keys field and default`},
		{"argless step with arg", goodHead + goodIn + "outputs:\n  - field: y\n    tensor: y\n    steps: [{softmax: 1}]\n", `bad.yaml:9: step softmax takes no argument`},
		{"label without labels", goodHead + goodIn + "outputs:\n  - field: y\n    tensor: y\n    steps: [argmax, label]\n", `bad.yaml:9: step label: expected labels or labels_file`},
		{"batch size", goodHead + "batch_size: 0\n" + goodIn + goodOut, `bad.yaml:3: batch_size: expected an integer in [1, 65536], got "0"`},
		{"set not mapping", goodHead + goodIn + goodOut + "set: [image]\n", `bad.yaml:9: set: expected a mapping field: value`},
		{"labels gap", goodHead + "labels: {0: a, 2: b}\n" + goodIn + goodOut, `bad.yaml:3: labels: class indices must be 0..1 without gaps, got 2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(filepath.Join(dir, "bad.yaml"), "m", []byte(tt.text), Options{})
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), filepath.Join(dir, tt.want)) {
				t.Errorf("error:\n  %v\nwant it to contain\n  %s", err, filepath.Join(dir, tt.want))
			}
			if _, ok := errors.AsType[*FileError](err); !ok {
				t.Errorf("error %T is not a *FileError", err)
			}
		})
	}
}

// TestParseShipped: the mappings the project ships load (the
// StreetVision one through its copy beside the stand-in's config files).
func TestParseShipped(t *testing.T) {
	a, errA := os.ReadFile("../examples/mappings/streetvision/synapse.yaml")
	b, errB := os.ReadFile("testdata/streetvision/synapse.yaml")
	if errA != nil || errB != nil || string(a) != string(b) {
		t.Errorf("testdata/streetvision/synapse.yaml is not a copy of examples/mappings/streetvision/synapse.yaml (%v, %v)", errA, errB)
	}
	for _, tt := range []struct{ path, model string }{
		{"../model-repo/ppocr_cls/synapse.yaml", "ppocr_cls"},
		{"testdata/streetvision/synapse.yaml", "streetvision"},
	} {
		text, err := os.ReadFile(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(tt.path, tt.model, text, Options{}); err != nil {
			t.Errorf("%s: %v", tt.path, err)
		}
	}
}

// TestEpistulaPaths: the paths an epistula route may and may not have.
func TestEpistulaPaths(t *testing.T) {
	for path, want := range map[string]string{
		"/detect": "", "/v1/chat/completions": "", "/gen_image": "", "/a.b~c-d": "", "/v2x": "",
		"detect": "absolute", "/v2": "KServe", "/v2/models/m/infer": "KServe", "/a//b": "clean", "/a/./b": "clean",
		"/a/../b": "clean", "/a/..": "clean", "/a?b": "letters", "/a%20b": "letters", "/é": "letters",
		"/" + strings.Repeat("a", MaxEpistulaPath): "longer than",
	} {
		got := checkEpistulaPath(path)
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("checkEpistulaPath(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestParseEpistula: the epistula key alone (no synapses) gives routes,
// POST by default.
func TestParseEpistula(t *testing.T) {
	m, err := Parse("m.yaml", "m", []byte("version: 1\nepistula:\n  - {path: /detect}\n  - {method: GET, path: /detect}\n"+goodIn+goodOut), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []EpistulaRoute{{"POST", "/detect"}, {"GET", "/detect"}}
	if len(m.Routes) != 0 || len(m.Epistula) != 2 || m.Epistula[0] != want[0] || m.Epistula[1] != want[1] {
		t.Errorf("routes %v, epistula %v; want none and %v", m.Routes, m.Epistula, want)
	}
}
