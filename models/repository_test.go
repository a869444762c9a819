package models

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// makeRepo builds a model repository in a new temporary folder. Each key is
// a slash-separated path in it; a key ending in "/" is an empty folder, any
// other is a file with the value as its contents (model files are never
// opened by Scan, so any bytes do).
func makeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// entryView is an Entry with paths relative to the repository and the
// error left out (it is checked by substring).
type entryView struct {
	Name       string
	Versions   []string // "<version> <path>"
	ConfigPath string
	Config     Config
}

func viewEntries(t *testing.T, dir string, entries []Entry) ([]entryView, map[string]string) {
	t.Helper()
	rel := func(p string) string {
		if p == "" {
			return ""
		}
		r, err := filepath.Rel(dir, p)
		if err != nil {
			t.Fatalf("path %s is not under the repository %s", p, dir)
		}
		return filepath.ToSlash(r)
	}
	var views []entryView
	errs := map[string]string{}
	for _, e := range entries {
		v := entryView{Name: e.Name, ConfigPath: rel(e.ConfigPath), Config: e.Config}
		for _, vf := range e.Versions {
			v.Versions = append(v.Versions, fmt.Sprintf("%d %s", vf.Version, rel(vf.Path)))
		}
		views = append(views, v)
		if e.Err != nil {
			errs[e.Name] = strings.ReplaceAll(e.Err.Error(), dir, "<repo>")
		}
	}
	return views, errs
}

func TestScan(t *testing.T) {
	const model = "not really onnx"
	tests := []struct {
		name  string
		files map[string]string
		setup func(t *testing.T, dir string) // more than plain files
		want  []entryView
		// wantErr has, per model, the substrings its Err must contain
		// ("<repo>" stands for the repository folder); others have no Err.
		wantErr map[string][]string
	}{
		{
			name: "triton layout with several versions",
			files: map[string]string{
				"m/config.yaml":    "max_batch_size: 4\n",
				"m/1/model.onnx":   model,
				"m/3/model.onnx":   model,
				"m/10/model.onnx":  model,
				"m/10/extra.bin":   "",
				"m/labels.txt":     "",
				"m/.3.tmp/":        "",
				"m/2/model.onnx~/": "",
			},
			want: []entryView{{Name: "m", ConfigPath: "m/config.yaml", Config: Config{MaxBatchSize: ptr(4)},
				Versions: []string{"1 m/1/model.onnx", "3 m/3/model.onnx", "10 m/10/model.onnx"}}},
		},
		{
			name: "only canonical positive version folders with a model file count",
			files: map[string]string{
				"m/0/model.onnx":                   model,
				"m/01/model.onnx":                  model,
				"m/+4/model.onnx":                  model,
				"m/-1/model.onnx":                  model,
				"m/v5/model.onnx":                  model,
				"m/1.5/model.onnx":                 model,
				"m/9223372036854775808/model.onnx": model, // overflows int64
				"m/.6/model.onnx":                  model,
				"m/2/model.onnx":                   model,
				"m/3/":                             "",
				"m/4/other.onnx":                   model,
				"m/5/model.onnx/":                  "",
				"m/7/Model.onnx":                   model,
			},
			want: []entryView{{Name: "m", Versions: []string{"2 m/2/model.onnx"}}},
		},
		{
			name: "versions sort by number",
			files: map[string]string{
				"m/9223372036854775807/model.onnx": model,
				"m/4294967297/model.onnx":          model,
				"m/5/model.onnx":                   model,
				"m/20/model.onnx":                  model,
			},
			want: []entryView{{Name: "m", Versions: []string{
				"5 m/5/model.onnx", "20 m/20/model.onnx", "4294967297 m/4294967297/model.onnx",
				"9223372036854775807 m/9223372036854775807/model.onnx"}}},
		},
		{
			name: "dropped-in files with and without a config",
			files: map[string]string{
				"a.onnx": model,
				"a.yaml": "max_batch_size: 2\n",
				"b.onnx": model,
			},
			want: []entryView{
				{Name: "a", Versions: []string{"1 a.onnx"}, ConfigPath: "a.yaml", Config: Config{MaxBatchSize: ptr(2)}},
				{Name: "b", Versions: []string{"1 b.onnx"}},
			},
		},
		{
			name: "both layouts side by side, sorted by name",
			files: map[string]string{
				"c/2/model.onnx": model,
				"b.onnx":         model,
				"a/1/model.onnx": model,
				"a/config.yaml":  "instance_group: {count: 2}\n",
			},
			want: []entryView{
				{Name: "a", Versions: []string{"1 a/1/model.onnx"}, ConfigPath: "a/config.yaml", Config: Config{InstanceGroup: &InstanceGroup{Count: 2}}},
				{Name: "b", Versions: []string{"1 b.onnx"}},
				{Name: "c", Versions: []string{"2 c/2/model.onnx"}},
			},
		},
		{
			name: "hidden, temporary and unrelated names are ignored",
			files: map[string]string{
				".hidden.onnx":              model,
				".onnx":                     model,
				".m/1/model.onnx":           model,
				".x.onnx.tmp":               model,
				"x.onnx.tmp":                model,
				"x.onnx.part":               model,
				"X.ONNX":                    model,
				"notes.txt":                 "",
				"README.md":                 "",
				"orphan.yaml":               "max_batch_size: -1\n",
				"empty/":                    "",
				"config-only/config.yaml":   "max_batch_size: 4\n",
				"no-model/1/":               "",
				"partial/1/model.onnx.part": model,
			},
			want: nil,
		},
		{
			name:    "stray model.onnx without a version folder",
			files:   map[string]string{"m/model.onnx": model},
			want:    []entryView{{Name: "m"}},
			wantErr: map[string][]string{"m": {"no m/<version>/model.onnx found"}},
		},
		{
			name:    "stray .onnx of another name without a version folder",
			files:   map[string]string{"m/resnet.onnx": model, "m/config.yaml": "max_batch_size: 4\n"},
			want:    []entryView{{Name: "m", ConfigPath: "m/config.yaml", Config: Config{MaxBatchSize: ptr(4)}}},
			wantErr: map[string][]string{"m": {"no m/<version>/model.onnx found"}},
		},
		{
			name:  "stray model.onnx next to a version folder is ignored",
			files: map[string]string{"m/model.onnx": model, "m/1/model.onnx": model},
			want:  []entryView{{Name: "m", Versions: []string{"1 m/1/model.onnx"}}},
		},
		{
			name:    "stray model.onnx and a bad config report both",
			files:   map[string]string{"m/model.onnx": model, "m/config.yaml": "max_batch_size: -1\n"},
			want:    []entryView{{Name: "m", ConfigPath: "m/config.yaml"}},
			wantErr: map[string][]string{"m": {"no m/<version>/model.onnx found", "model config <repo>/m/config.yaml", "max_batch_size must not be negative"}},
		},
		{
			name:    "name used by a folder and a file",
			files:   map[string]string{"m/1/model.onnx": model, "m.onnx": model, "n.onnx": model},
			want:    []entryView{{Name: "m", Versions: []string{"1 m/1/model.onnx"}}, {Name: "n", Versions: []string{"1 n.onnx"}}},
			wantErr: map[string][]string{"m": {`model name "m" is used by both a folder and a .onnx file`}},
		},
		{
			name:    "bad folder config",
			files:   map[string]string{"m/1/model.onnx": model, "m/config.yaml": "max_batch_size: 4\nmax_batch_sise: 8\n", "ok.onnx": model},
			want:    []entryView{{Name: "m", Versions: []string{"1 m/1/model.onnx"}, ConfigPath: "m/config.yaml"}, {Name: "ok", Versions: []string{"1 ok.onnx"}}},
			wantErr: map[string][]string{"m": {"model config <repo>/m/config.yaml", "line 2: unknown key max_batch_sise (the model config keys are max_batch_size,"}},
		},
		{
			name:    "bad dropped-in config",
			files:   map[string]string{"a.onnx": model, "a.yaml": "execution_provider: tpu\n"},
			want:    []entryView{{Name: "a", Versions: []string{"1 a.onnx"}, ConfigPath: "a.yaml"}},
			wantErr: map[string][]string{"a": {"model config <repo>/a.yaml", `execution_provider "tpu"`}},
		},
		{
			name:  "config with only comments",
			files: map[string]string{"m/1/model.onnx": model, "m/config.yaml": "# max_batch_size: 8\n"},
			want:  []entryView{{Name: "m", Versions: []string{"1 m/1/model.onnx"}, ConfigPath: "m/config.yaml"}},
		},
		{
			name:  "symlinks are followed, dangling ones ignored",
			files: map[string]string{"real/1/model.onnx": model},
			setup: func(t *testing.T, dir string) {
				outside := makeRepo(t, map[string]string{"file.onnx": model, "folder/2/model.onnx": model})
				for link, target := range map[string]string{
					"linked.onnx":   filepath.Join(outside, "file.onnx"),
					"linkedfolder":  filepath.Join(outside, "folder"),
					"dangling.onnx": filepath.Join(outside, "missing.onnx"),
				} {
					if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
						t.Skipf("symlink: %v", err)
					}
				}
			},
			want: []entryView{
				{Name: "linked", Versions: []string{"1 linked.onnx"}},
				{Name: "linkedfolder", Versions: []string{"2 linkedfolder/2/model.onnx"}},
				{Name: "real", Versions: []string{"1 real/1/model.onnx"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := makeRepo(t, tt.files)
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			entries, err := Scan(dir)
			if err != nil {
				t.Fatalf("Scan(%v): %v", tt.files, err)
			}
			got, errs := viewEntries(t, dir, entries)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Scan(%v) entries differ (-want +got):\n%s", tt.files, diff)
			}
			for name, msg := range errs {
				if tt.wantErr[name] == nil {
					t.Errorf("Scan(%v): entry %s has Err %q, want none", tt.files, name, msg)
				}
			}
			for name, want := range tt.wantErr {
				msg, ok := errs[name]
				if !ok {
					t.Errorf("Scan(%v): entry %s has no Err, want one containing %q", tt.files, name, want)
					continue
				}
				for _, w := range want {
					if !strings.Contains(msg, w) {
						t.Errorf("Scan(%v): entry %s Err\n%s\nwant it to contain %q", tt.files, name, msg, w)
					}
				}
			}
		})
	}
}

func TestScanUnreadableRepository(t *testing.T) {
	file := filepath.Join(t.TempDir(), "models.onnx")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  string
		is   error
	}{
		{"missing", filepath.Join(t.TempDir(), "nope"), fs.ErrNotExist},
		{"a file", file, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Scan(tt.dir)
			if err == nil || !strings.Contains(err.Error(), "scan model repository") {
				t.Fatalf("Scan(%s) = %v, %v; want a scan model repository error", tt.dir, got, err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Scan(%s) error %v, want it to wrap %v", tt.dir, err, tt.is)
			}
		})
	}
}

func TestScanUnreadableModelFolder(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads folders whatever their mode")
	}
	dir := makeRepo(t, map[string]string{"locked/1/model.onnx": "x", "ok.onnx": "x"})
	locked := filepath.Join(dir, "locked")
	if err := os.Chmod(locked, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(locked, 0o755) })
	entries, err := Scan(dir)
	if err != nil {
		t.Fatalf("Scan: %v, want the unreadable folder reported in its entry", err)
	}
	if len(entries) != 2 || entries[0].Name != "locked" || entries[1].Name != "ok" {
		t.Fatalf("Scan = %+v, want entries locked and ok", entries)
	}
	if e := entries[0].Err; e == nil || !strings.Contains(e.Error(), "read model folder") || !errors.Is(e, fs.ErrPermission) {
		t.Errorf("locked entry Err = %v, want a read model folder error wrapping fs.ErrPermission", e)
	}
	if entries[1].Err != nil {
		t.Errorf("ok entry Err = %v, want nil", entries[1].Err)
	}
}

func TestSelected(t *testing.T) {
	versions := func(vs ...int64) []VersionFile {
		var out []VersionFile
		for _, v := range vs {
			out = append(out, VersionFile{Version: v, Path: fmt.Sprintf("m/%d/model.onnx", v)})
		}
		return out
	}
	latest := func(n int) *VersionPolicy {
		return &VersionPolicy{Latest: &struct {
			NumVersions int `yaml:"num_versions"`
		}{NumVersions: n}}
	}
	specific := func(vs ...int64) *VersionPolicy {
		return &VersionPolicy{Specific: &struct {
			Versions []int64 `yaml:"versions"`
		}{Versions: vs}}
	}
	all := &VersionPolicy{All: &struct{}{}}
	tests := []struct {
		name     string
		versions []VersionFile
		policy   *VersionPolicy
		want     []VersionFile
	}{
		{"default: the latest", versions(1, 2, 5), nil, versions(5)},
		{"default with one version", versions(3), nil, versions(3)},
		{"default with none", nil, nil, nil},
		{"latest 1", versions(1, 2, 5), latest(1), versions(5)},
		{"latest 2", versions(1, 2, 5), latest(2), versions(2, 5)},
		{"latest more than there are", versions(1, 2), latest(5), versions(1, 2)},
		{"all", versions(1, 2, 5), all, versions(1, 2, 5)},
		{"all of none", nil, all, nil},
		{"specific", versions(1, 2, 5), specific(5, 1), versions(1, 5)},
		{"specific missing versions are skipped", versions(1, 2, 5), specific(2, 7), versions(2)},
		{"specific none present", versions(1, 2), specific(9), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Entry{Name: "m", Versions: tt.versions, Config: Config{VersionPolicy: tt.policy}}
			if diff := cmp.Diff(tt.want, e.Selected()); diff != "" {
				t.Errorf("Selected() of versions %v with policy %+v differs (-want +got):\n%s", tt.versions, tt.policy, diff)
			}
		})
	}
}
