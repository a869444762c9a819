package models

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/taominer/taominer/models/tensor"
)

func ptr[T any](v T) *T { return &v }

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name string
		text string
		want Config
	}{
		{"empty", "", Config{}},
		{"blank", " \n\t\n", Config{}},
		{"only comments", "# max_batch_size: 8\n# instance_group: {count: 2}\n", Config{}},
		{"empty document", "---\n", Config{}},
		{"null max_batch_size keeps the model's", "max_batch_size:\n", Config{}},
		{"explicit zero max_batch_size", "max_batch_size: 0\n", Config{MaxBatchSize: ptr(0)}},
		{"every field", `
max_batch_size: 16
dynamic_batching:
  preferred_batch_size: [4, 8]
  max_queue_delay_microseconds: 500
  priority_levels: 3
  default_priority_level: 2
  default_queue_policy:
    timeout_action: REJECT
    default_timeout_microseconds: 250000
    allow_timeout_override: false
    max_queue_size: 64
instance_group:
  count: 2
  kind: KIND_CPU
execution_provider: cuda
device_id: 1
fallback: cpu
intra_op_threads: 4
version_policy:
  latest:
    num_versions: 2
`, Config{
			MaxBatchSize: ptr(16),
			DynamicBatching: &DynamicBatching{
				PreferredBatchSize:        []int{4, 8},
				MaxQueueDelayMicroseconds: ptr(uint64(500)),
				PriorityLevels:            3,
				DefaultPriorityLevel:      2,
				DefaultQueuePolicy: &QueuePolicy{
					TimeoutAction:              "REJECT",
					DefaultTimeoutMicroseconds: 250000,
					AllowTimeoutOverride:       ptr(false),
					MaxQueueSize:               64,
				},
			},
			InstanceGroup:     &InstanceGroup{Count: 2},
			ExecutionProvider: "cuda",
			DeviceID:          1,
			Fallback:          "cpu",
			IntraOpThreads:    4,
			VersionPolicy: &VersionPolicy{Latest: &struct {
				NumVersions int `yaml:"num_versions"`
			}{NumVersions: 2}},
		}},
		{"zero queue delay is set, not absent", "dynamic_batching:\n  max_queue_delay_microseconds: 0\n",
			Config{DynamicBatching: &DynamicBatching{MaxQueueDelayMicroseconds: ptr(uint64(0))}}},
		{"instance_group list adds counts", `
instance_group:
  - count: 2
    kind: KIND_GPU
  - count: 3
  - {count: 1, kind: KIND_AUTO}
`, Config{InstanceGroup: &InstanceGroup{Count: 6}}},
		{"instances", "instances: 3\n", Config{Instances: ptr(3)}},
		{"gpus auto", "gpus: auto\ngpu_min_free_mib: 1024\n", Config{GPUs: &GPUs{Auto: true}, GPUMinFreeMiB: 1024}},
		{"gpus list", "execution_provider: tensorrt\ninstances: 4\ngpus: [1, 0]\n",
			Config{ExecutionProvider: "tensorrt", Instances: ptr(4), GPUs: &GPUs{IDs: []int{1, 0}}}},
		{"gpus block list", "gpus:\n  - 2\n", Config{GPUs: &GPUs{IDs: []int{2}}}},
		{"execution providers", "execution_provider: tensorrt\n", Config{ExecutionProvider: "tensorrt"}},
		{"device and fallback", "execution_provider: cuda\ndevice_id: 3\nfallback: cpu\n",
			Config{ExecutionProvider: "cuda", DeviceID: 3, Fallback: "cpu"}},
		{"one priority level", "dynamic_batching: {priority_levels: 1, default_priority_level: 1}\n",
			Config{DynamicBatching: &DynamicBatching{PriorityLevels: 1, DefaultPriorityLevel: 1}}},
		{"empty queue policy", "dynamic_batching: {default_queue_policy: {}}\n",
			Config{DynamicBatching: &DynamicBatching{DefaultQueuePolicy: &QueuePolicy{}}}},
		{"a number as a name is not an integer check", "input: [{name: 1.5, data_type: FP32}]\n",
			Config{Input: []TensorOverride{{Name: "1.5", DataType: "FP32"}}}},
		{"version_policy all", "version_policy: {all: {}}\n", Config{VersionPolicy: &VersionPolicy{All: &struct{}{}}}},
		{"version_policy specific", "version_policy:\n  specific:\n    versions: [1, 3]\n",
			Config{VersionPolicy: &VersionPolicy{Specific: &struct {
				Versions []int64 `yaml:"versions"`
			}{Versions: []int64{1, 3}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig([]byte(tt.text))
			if err != nil {
				t.Fatalf("ParseConfig(%q): %v", tt.text, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseConfig(%q) differs (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}

// badConfigs maps each testdata/*.bad.yaml fixture to the substrings its
// error must contain (besides the file name).
var badConfigs = map[string][]string{
	"unknown_key":                        {"line 2: unknown key max_queue_delay (the model config keys are max_batch_size, dynamic_batching,"},
	"unknown_nested_key":                 {"line 3: unknown key max_queue_delay in dynamic_batching (its keys are preferred_batch_size, max_queue_delay_microseconds,"},
	"negative_max_batch_size":            {"max_batch_size must not be negative, got -1"},
	"max_batch_size_string":              {`line 1: max_batch_size: "four" is not an integer`},
	"unknown_execution_provider":         {`execution_provider "tpu" is not cpu, cuda or tensorrt`},
	"execution_provider_list":            {"line 1: execution_provider must be a single value, not a list"},
	"negative_intra_op_threads":          {"intra_op_threads must not be negative, got -2"},
	"negative_device_id":                 {"device_id must not be negative, got -1"},
	"device_id_float":                    {"line 2: device_id: 0.5 is not an integer"},
	"device_id_string":                   {`line 2: device_id: "gpu0" is not an integer`},
	"unknown_fallback":                   {`fallback "cuda" is not cpu (or absent)`},
	"preferred_batch_size_zero":          {"dynamic_batching.preferred_batch_size: 0 is not positive"},
	"preferred_batch_size_scalar":        {"line 2: dynamic_batching.preferred_batch_size must be a list ([a, b]), not 4"},
	"negative_queue_delay":               {"line 2: dynamic_batching.max_queue_delay_microseconds: -5 must not be negative"},
	"instance_group_count_zero":          {"line 3: instance_group count must be at least 1, got 0"},
	"instance_group_count_missing":       {"line 2: instance_group count must be at least 1, got 0"},
	"instance_group_count_string":        {`line 2: instance_group.count: "two" is not an integer`},
	"instance_group_list_count_zero":     {"line 4: instance_group count must be at least 1, got 0"},
	"instance_group_list_unknown_key":    {"line 4: unknown key gpus in instance_group (its keys are count, kind)"},
	"instance_group_mapping_unknown_key": {"line 3: unknown key name in instance_group (its keys are count, kind)"},
	"instance_group_unknown_kind":        {`line 2: instance_group kind "KIND_TPU" is not KIND_AUTO, KIND_CPU or KIND_GPU`},
	"instance_group_list_unknown_kind":   {`line 3: instance_group kind "KIND_MODEL"`},
	"instance_group_scalar":              {"line 1: instance_group must be a mapping or a list"},
	"instance_group_list_of_scalars":     {"line 1: instance_group entry must be a mapping"},
	"version_policy_two_choices":         {"version_policy needs exactly one of latest, all, specific"},
	"version_policy_none":                {"version_policy needs exactly one of latest, all, specific"},
	"version_policy_specific_empty":      {"version_policy.specific.versions is empty"},
	"version_policy_latest_zero":         {"version_policy.latest.num_versions must be at least 1"},
	"version_policy_versions_string":     {`line 3: version_policy.specific.versions: "two" is not an integer`},
	"several_errors":                     {"max_batch_size must not be negative", `execution_provider "tpu"`},
	"not_a_mapping":                      {"line 1: the model config must be a mapping of keys (key: value), not a list"},
	"syntax":                             {"not valid YAML: line 1: did not find expected ',' or ']'"},
	"max_batch_size_float":               {"line 1: max_batch_size: 16.0 is not an integer"},
	"instance_group_count_float":         {"line 1: instance_group.count: 1.5 is not an integer"},
	"preferred_batch_size_float":         {"line 2: dynamic_batching.preferred_batch_size: 8.5 is not an integer"},
	"priority_levels_float":              {"line 2: dynamic_batching.priority_levels: 1.5 is not an integer"},
	"priority_levels_negative":           {"line 2: dynamic_batching.priority_levels: -1 must not be negative"},
	"priority_levels_too_many":           {"dynamic_batching.priority_levels must be at most 1048576, got 2000000"},
	"priority_default_missing":           {"dynamic_batching.default_priority_level must be in 1..2 (priority_levels), got 0"},
	"priority_default_out_of_range":      {"dynamic_batching.default_priority_level must be in 1..2 (priority_levels), got 3"},
	"priority_default_without_levels":    {"dynamic_batching.default_priority_level 1 needs priority_levels"},
	"priority_queue_policy":              {"line 2: unknown key priority_queue_policy in dynamic_batching"},
	"queue_policy_unknown_key":           {"line 3: unknown key default_timeout in dynamic_batching.default_queue_policy"},
	"timeout_action_delay":               {"dynamic_batching.default_queue_policy.timeout_action DELAY is not supported; use REJECT"},
	"timeout_action_unknown":             {`dynamic_batching.default_queue_policy.timeout_action "reject" is not REJECT or DELAY`},
	"max_queue_size_negative":            {"line 3: dynamic_batching.default_queue_policy.max_queue_size: -1 must not be negative"},
	"default_timeout_too_large":          {"default_timeout_microseconds must be at most 9223372036854775, got 18446744073709551615"},
	"allow_timeout_override_string":      {`line 3: dynamic_batching.default_queue_policy.allow_timeout_override: "maybe" is not true or false`},
	"instances_zero":                     {"instances must be at least 1, got 0"},
	"instances_float":                    {"line 2: instances: 1.5 is not an integer"},
	"instances_and_instance_group":       {"instances and instance_group both set"},
	"gpus_unknown_word":                  {`line 1: gpus must be auto or a list of device ids, got "all"`},
	"gpus_empty":                         {"line 1: gpus is an empty list"},
	"gpus_negative":                      {`line 3: gpus: "-1" is not a device id`},
	"gpus_float":                         {`line 1: gpus: "1.5" is not a device id`},
	"gpus_duplicate":                     {"line 1: gpus: device 1 is listed twice"},
	"gpus_mapping":                       {"line 1: gpus must be auto or a list of device ids"},
	"gpus_with_cpu_provider":             {"gpus auto needs a GPU execution_provider"},
	"gpus_with_device_id":                {"device_id 1 and gpus both set: keep gpus (device_id: 1 is gpus: [1])"},
	"gpu_min_free_without_auto":          {"gpu_min_free_mib applies only with gpus: auto"},
	"max_queue_size_too_large":           {"line 3: dynamic_batching.default_queue_policy.max_queue_size: 5000000000 is too large (at most 4294967295)"},
	"several_type_errors":                {`line 1: max_batch_size: "four" is not an integer`, "line 3: dynamic_batching.priority_levels: -2 must not be negative"},
}

// goWords are words of Go, not of the config file, that no config error
// may show (yaml.v3's own errors do: "into uint64", "in type models.Config").
var goWords = []string{"models.", "uint", "int64", "int32", "[]int", "!!", "unmarshal", "type "}

func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.bad.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".bad.yaml")
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			want, ok := badConfigs[name]
			if !ok {
				t.Fatalf("fixture %s has no expected error in badConfigs", path)
			}
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if c, err := ParseConfig(text); err == nil {
				t.Errorf("ParseConfig(%q) = %+v, want an error", text, c)
			}
			_, err = LoadConfigFile(path)
			if err == nil {
				t.Fatalf("LoadConfigFile(%s): no error, want one containing %q", path, want)
			}
			for _, w := range append([]string{path}, want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("LoadConfigFile(%s) error:\n%v\nwant it to contain %q (file:\n%s)", path, err, w, text)
				}
			}
			for _, w := range goWords {
				if strings.Contains(err.Error(), w) {
					t.Errorf("LoadConfigFile(%s) error:\n%v\nnames Go's %q, not the file's words", path, err, w)
				}
			}
		})
	}
	for name := range badConfigs {
		if !seen[name] {
			t.Errorf("badConfigs lists %q but testdata/%s.bad.yaml does not exist", name, name)
		}
	}
}

func TestInstanceCount(t *testing.T) {
	tests := []struct {
		text string
		want int
	}{
		{"", 1},
		{"instances: 3\n", 3},
		{"instance_group: {count: 2}\n", 2},
		{"instance_group: [{count: 2}, {count: 1}]\n", 3},
	}
	for _, tt := range tests {
		c, err := ParseConfig([]byte(tt.text))
		if err != nil {
			t.Fatalf("ParseConfig(%q): %v", tt.text, err)
		}
		if got := c.InstanceCount(); got != tt.want {
			t.Errorf("InstanceCount() of %q = %d, want %d", tt.text, got, tt.want)
		}
	}
}

func TestTimeoutOverride(t *testing.T) {
	tests := []struct {
		p    *QueuePolicy
		want bool
	}{
		{nil, true},
		{&QueuePolicy{}, true},
		{&QueuePolicy{AllowTimeoutOverride: ptr(true)}, true},
		{&QueuePolicy{AllowTimeoutOverride: ptr(false)}, false},
	}
	for _, tt := range tests {
		if got := tt.p.TimeoutOverride(); got != tt.want {
			t.Errorf("%+v.TimeoutOverride() = %v, want %v", tt.p, got, tt.want)
		}
	}
}

func TestLoadConfigFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	_, err := LoadConfigFile(path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "read model config") {
		t.Errorf("LoadConfigFile(%s) error %v, want a read model config error wrapping fs.ErrNotExist", path, err)
	}
}

func TestApply(t *testing.T) {
	batchable := IO{
		Inputs:  []TensorSpec{{Name: "x", Shape: []int64{-1, 3}}},
		Outputs: []TensorSpec{{Name: "y", Shape: []int64{-1}}},
	}
	fixed := IO{
		Inputs:  []TensorSpec{{Name: "x", Shape: []int64{1, 3}}},
		Outputs: []TensorSpec{{Name: "y", Shape: []int64{1}}},
	}
	const def = 8
	tests := []struct {
		name    string
		io      IO
		max     *int
		want    int
		wantErr string
	}{
		{"batch axis, no config: server default", batchable, nil, def, ""},
		{"batch axis, explicit max", batchable, ptr(32), 32, ""},
		{"batch axis, explicit 0 turns batching off", batchable, ptr(0), 0, ""},
		{"no batch axis, no config", fixed, nil, 0, ""},
		{"no batch axis, explicit 0", fixed, ptr(0), 0, ""},
		{"no batch axis, max > 0", fixed, ptr(4), 0, "max_batch_size 4 needs a dynamic first dimension"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{MaxBatchSize: tt.max}
			got, err := c.Apply(tt.io, def)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Apply(%+v, %d) with max_batch_size %v = %d, %v; want an error containing %q", tt.io, def, tt.max, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Apply(%+v, %d) with max_batch_size %v = %d, %v; want %d, nil", tt.io, def, tt.max, got, err, tt.want)
			}
		})
	}
}

func TestNarrow(t *testing.T) {
	decl := IO{
		Inputs:  []TensorSpec{{Name: "x", DataType: tensor.FP32, Shape: []int64{-1, 3, -1, -1}}},
		Outputs: []TensorSpec{{Name: "y", DataType: tensor.FP32, Shape: []int64{-1, 2}}},
	}
	tests := []struct {
		name     string
		yaml     string
		maxBatch int
		want     string // shape of x after narrowing
		err      string
	}{
		{"no overrides", "", 16, "[-1,3,-1,-1]", ""},
		{"fix height and width", "input: [{name: x, dims: [3, 48, 192]}]", 16, "[-1,3,48,192]", ""},
		{"keep one variable", "input: [{name: x, dims: [3, 48, -1]}]", 16, "[-1,3,48,-1]", ""},
		{"triton type name", "input: [{name: x, data_type: TYPE_FP32, dims: [3, 48, 192]}]", 16, "[-1,3,48,192]", ""},
		{"protocol type name", "input: [{name: x, data_type: FP32}]", 16, "[-1,3,-1,-1]", ""},
		{"full shape without batching", "input: [{name: x, dims: [1, 3, 48, 192]}]", 0, "[1,3,48,192]", ""},
		{"wrong type", "input: [{name: x, data_type: TYPE_INT64}]", 16, "", "data_type TYPE_INT64, but the model declares FP32"},
		{"wrong rank", "input: [{name: x, dims: [48, 192]}]", 16, "", "rank 4"},
		{"conflicts with the file", "input: [{name: x, dims: [4, 48, 192]}]", 16, "", "dimension 1 is 4, but the model fixes it at 3"},
		{"unknown input", "input: [{name: z, dims: [1]}]", 16, "", `config input "z": the model has no such input`},
		{"unknown output", "output: [{name: z}]", 16, "", `config output "z": the model has no such output`},
		{"bad dimension", "input: [{name: x, dims: [3, -2, 192]}]", 16, "", "dimension 2 is -2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Narrow(decl, tt.maxBatch)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Narrow(%s) error = %v, want it to contain %q", tt.yaml, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Narrow(%s): %v", tt.yaml, err)
			}
			if s := tensor.FormatShape(got.Inputs[0].Shape); s != tt.want {
				t.Errorf("Narrow(%s) x shape = %s, want %s", tt.yaml, s, tt.want)
			}
			if s := tensor.FormatShape(decl.Inputs[0].Shape); s != "[-1,3,-1,-1]" {
				t.Errorf("Narrow modified its argument: %s", s)
			}
		})
	}
}
