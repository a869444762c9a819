package models

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/taominer/taominer/models/tensor"
)

// Config holds a model's optional overrides, with Triton's field names in
// snake_case. A nil or zero field keeps the value read from the ONNX file or
// the server default.
type Config struct {
	// MaxBatchSize caps the batch the dynamic batcher forms. 0 with a model
	// that has a batch axis turns batching off (one request at a time);
	// without a batch axis it must be 0.
	MaxBatchSize    *int             `yaml:"max_batch_size"`
	DynamicBatching *DynamicBatching `yaml:"dynamic_batching"`
	InstanceGroup   *InstanceGroup   `yaml:"instance_group"`
	// Instances is how many sessions (instances) of each version are
	// opened, fed by the version's one batcher queue; the short form of
	// instance_group's count, with which it is exclusive. Default 1.
	Instances *int `yaml:"instances"`
	// GPUs places the instances on GPUs: a list of device ids the instances
	// go to in turn, or "auto" (by free memory, see docs/gpus.md
	// "Placement"). It implies execution_provider cuda when none is set,
	// refuses cpu, and replaces device_id (device_id: 1 is gpus: [1]).
	GPUs *GPUs `yaml:"gpus"`
	// GPUMinFreeMiB is the free memory, in MiB, a GPU must have for
	// gpus: auto to place an instance on it; 0 keeps the server default.
	GPUMinFreeMiB uint64 `yaml:"gpu_min_free_mib"`
	// ExecutionProvider is "cpu" (default); "cuda" and "tensorrt" need a GPU
	// build of ONNX Runtime and its provider libraries at run time.
	ExecutionProvider string `yaml:"execution_provider"`
	// DeviceID is the GPU (CUDA device ordinal) a cuda or tensorrt provider
	// runs on; default 0, ignored on cpu.
	DeviceID int `yaml:"device_id"`
	// Fallback "cpu" runs the model on the CPU, with one warning, when its
	// GPU provider cannot load; empty (the default) fails the load instead.
	Fallback string `yaml:"fallback"`
	// IntraOpThreads overrides the server's ONNX Runtime intra-op threads.
	IntraOpThreads int            `yaml:"intra_op_threads"`
	VersionPolicy  *VersionPolicy `yaml:"version_policy"`
	// Input and Output narrow what the ONNX file declares: fixing variable
	// dimensions (so requests are checked, raw binary requests have one
	// shape, and warm-up can run) and confirming data types.
	Input  []TensorOverride `yaml:"input"`
	Output []TensorOverride `yaml:"output"`
}

// TensorOverride narrows one input or output, with Triton's field names.
// Dims exclude the batch dimension when the model batches (max_batch_size >
// 0), as in Triton; -1 keeps a dimension variable.
type TensorOverride struct {
	Name string `yaml:"name"`
	// DataType is the protocol name (FP32) or Triton's (TYPE_FP32); it must
	// match the model file.
	DataType string  `yaml:"data_type"`
	Dims     []int64 `yaml:"dims"`
}

// InstanceGroup sets how many executions of the model may run at once.
// Both Triton's list form ([{count: 2}]) and a single mapping ({count: 2})
// are accepted; with several groups the counts add up.
type InstanceGroup struct {
	Count int
}

type instanceGroupEntry struct {
	Count int    `yaml:"count"`
	Kind  string `yaml:"kind"`
}

// UnmarshalYAML accepts a mapping or a sequence of mappings.
func (g *InstanceGroup) UnmarshalYAML(n *yaml.Node) error {
	var nodes []*yaml.Node
	switch n.Kind {
	case yaml.MappingNode:
		nodes = []*yaml.Node{n}
	case yaml.SequenceNode:
		nodes = n.Content
	default:
		return fmt.Errorf("line %d: instance_group must be a mapping or a list", n.Line)
	}
	for _, en := range nodes {
		if en.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: instance_group entry must be a mapping", en.Line)
		}
		var e instanceGroupEntry
		if err := decodeNodeStrict(en, &e, "instance_group", "count", "kind"); err != nil {
			return err
		}
		if e.Count < 1 {
			return fmt.Errorf("line %d: instance_group count must be at least 1, got %d", en.Line, e.Count)
		}
		switch e.Kind {
		case "", "KIND_AUTO", "KIND_CPU", "KIND_GPU":
		default:
			return fmt.Errorf("line %d: instance_group kind %q is not KIND_AUTO, KIND_CPU or KIND_GPU", en.Line, e.Kind)
		}
		g.Count += e.Count
	}
	return nil
}

// InstanceCount is the number of instances to open: instances, else the
// instance_group count, else 1.
func (c Config) InstanceCount() int {
	switch {
	case c.Instances != nil:
		return *c.Instances
	case c.InstanceGroup != nil && c.InstanceGroup.Count > 0:
		return c.InstanceGroup.Count
	}
	return 1
}

// GPUs is the gpus setting: Auto, or the listed device ids.
type GPUs struct {
	Auto bool
	IDs  []int
}

// UnmarshalYAML accepts the scalar auto or a non-empty list of distinct,
// non-negative integers.
func (g *GPUs) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value != "auto" {
			return fmt.Errorf("line %d: gpus must be auto or a list of device ids, got %q", n.Line, n.Value)
		}
		*g = GPUs{Auto: true}
		return nil
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return fmt.Errorf("line %d: gpus is an empty list (leave it out, or write auto)", n.Line)
		}
		var ids []int
		for _, c := range n.Content {
			id, err := strconv.Atoi(c.Value)
			if c.Kind != yaml.ScalarNode || c.ShortTag() != "!!int" || err != nil || id < 0 {
				return fmt.Errorf("line %d: gpus: %q is not a device id (a non-negative integer)", c.Line, c.Value)
			}
			if slices.Contains(ids, id) {
				return fmt.Errorf("line %d: gpus: device %d is listed twice", c.Line, id)
			}
			ids = append(ids, id)
		}
		*g = GPUs{IDs: ids}
		return nil
	}
	return fmt.Errorf("line %d: gpus must be auto or a list of device ids", n.Line)
}

// String writes the setting as in the config: auto or [0 1].
func (g GPUs) String() string {
	if g.Auto {
		return "auto"
	}
	return fmt.Sprint(g.IDs)
}

// VersionPolicy selects which versions of a model are served, as Triton's
// version_policy does. Exactly one field may be set; the default is the
// latest version only.
type VersionPolicy struct {
	Latest *struct {
		NumVersions int `yaml:"num_versions"`
	} `yaml:"latest"`
	All      *struct{} `yaml:"all"`
	Specific *struct {
		Versions []int64 `yaml:"versions"`
	} `yaml:"specific"`
}

// decodeNodeStrict decodes a mapping node, rejecting keys other than known
// (Node.Decode does not, unlike a Decoder with KnownFields). Errors carry
// the node's own line numbers in the config file.
func decodeNodeStrict(n *yaml.Node, v any, what string, known ...string) error {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !slices.Contains(known, k.Value) {
			return unknownKey(k, what, known)
		}
	}
	if err := checkNode(n, reflect.TypeOf(v), what); err != nil {
		return err
	}
	return n.Decode(v)
}

// unknownKey is the error for key k, not one of known, in the mapping
// called what ("" at the top of the file).
func unknownKey(k *yaml.Node, what string, known []string) error {
	if what == "" {
		return fmt.Errorf("line %d: unknown key %s (the model config keys are %s)", k.Line, k.Value, strings.Join(known, ", "))
	}
	return fmt.Errorf("line %d: unknown key %s in %s (its keys are %s)", k.Line, k.Value, what, strings.Join(known, ", "))
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// checkNode checks the shape of n against t, the type it decodes into,
// before yaml.v3 decodes it, so that every error names the line and the
// key as the file writes it (dynamic_batching.priority_levels) and says
// what was expected in the file's words: yaml.v3's own errors name Go types
// ("cannot unmarshal !!int `-5` into uint64", "field x not found in type
// models.Config"). It also rejects numbers with a fraction or exponent
// (4.5, 16.0, 1e3) where an integer is wanted, which yaml.v3 would
// silently truncate. Types with their own UnmarshalYAML check themselves
// (see decodeNodeStrict). All errors are returned, joined.
func checkNode(n *yaml.Node, t reflect.Type, key string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	what := key
	if what == "" {
		what = "the model config"
	}
	switch {
	case n.Kind == yaml.DocumentNode:
		var errs []error
		for _, c := range n.Content {
			errs = append(errs, checkNode(c, t, key))
		}
		return errors.Join(errs...)
	case n.Kind == 0, n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		return nil // empty, or absent: the default
	case reflect.PointerTo(t).Implements(unmarshalerType):
		return nil
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: %s must be a mapping of keys (key: value), not %s", n.Line, what, describe(n))
		}
		return checkMapping(n, t, key)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return fmt.Errorf("line %d: %s must be a list ([a, b]), not %s", n.Line, what, describe(n))
		}
		var errs []error
		for _, c := range n.Content {
			errs = append(errs, checkNode(c, t.Elem(), key))
		}
		return errors.Join(errs...)
	case n.Kind != yaml.ScalarNode:
		return fmt.Errorf("line %d: %s must be a single value, not %s", n.Line, what, describe(n))
	}
	return checkScalar(n, t, what)
}

// checkMapping checks the keys of mapping n against the fields of struct t.
func checkMapping(n *yaml.Node, t reflect.Type, key string) error {
	var known []string
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if name := strings.Split(f.Tag.Get("yaml"), ",")[0]; name != "" && name != "-" {
			known = append(known, name)
			fields[name] = f.Type
		}
	}
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		ft, ok := fields[k.Value]
		if !ok {
			errs = append(errs, unknownKey(k, key, known))
			continue
		}
		sub := k.Value
		if key != "" {
			sub = key + "." + k.Value
		}
		errs = append(errs, checkNode(n.Content[i+1], ft, sub))
	}
	return errors.Join(errs...)
}

// checkScalar checks a scalar for a string, boolean or integer of type t.
func checkScalar(n *yaml.Node, t reflect.Type, what string) error {
	switch t.Kind() {
	case reflect.Bool:
		if n.ShortTag() != "!!bool" {
			return fmt.Errorf("line %d: %s: %s is not true or false", n.Line, what, quote(n))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var v int64
		if n.ShortTag() != "!!int" || n.Decode(&v) != nil {
			if n.ShortTag() == "!!int" {
				return fmt.Errorf("line %d: %s: %s is too large", n.Line, what, n.Value)
			}
			return fmt.Errorf("line %d: %s: %s is not an integer", n.Line, what, quote(n))
		}
		if reflect.New(t).Elem().OverflowInt(v) {
			return fmt.Errorf("line %d: %s: %s is too large", n.Line, what, n.Value)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.ShortTag() != "!!int" {
			return fmt.Errorf("line %d: %s: %s is not an integer", n.Line, what, quote(n))
		}
		var v uint64
		if err := n.Decode(&v); err != nil {
			var neg int64
			if n.Decode(&neg) == nil && neg < 0 {
				return fmt.Errorf("line %d: %s: %s must not be negative", n.Line, what, n.Value)
			}
			return fmt.Errorf("line %d: %s: %s is too large", n.Line, what, n.Value)
		}
		if reflect.New(t).Elem().OverflowUint(v) {
			return fmt.Errorf("line %d: %s: %s is too large (at most %d)", n.Line, what, n.Value,
				uint64(1)<<(t.Bits())-1)
		}
	}
	return nil
}

// describe names what node n is, in the file's words.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return quote(n)
}

// quote writes a scalar as the file has it: strings in double quotes.
func quote(n *yaml.Node) string {
	if n.ShortTag() == "!!str" {
		return strconv.Quote(n.Value)
	}
	return n.Value
}

// ParseConfig decodes a model config strictly: unknown keys are errors.
// Errors name the line and key and say what was expected.
func ParseConfig(text []byte) (Config, error) {
	var c Config
	if len(bytes.TrimSpace(text)) == 0 {
		return c, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return Config{}, fmt.Errorf("not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := checkNode(&doc, reflect.TypeFor[Config](), ""); err != nil {
		return Config{}, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(&c); errors.Is(err, io.EOF) {
		return Config{}, nil // only comments
	} else if err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// LoadConfigFile reads and parses a model config file.
func LoadConfigFile(path string) (Config, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read model config: %w", err)
	}
	c, err := ParseConfig(text)
	if err != nil {
		return Config{}, fmt.Errorf("model config %s: %w", path, err)
	}
	return c, nil
}

// Validate checks values that cannot be right whatever the model is.
func (c Config) Validate() error {
	var errs []error
	if c.MaxBatchSize != nil && *c.MaxBatchSize < 0 {
		errs = append(errs, fmt.Errorf("max_batch_size must not be negative, got %d", *c.MaxBatchSize))
	}
	if db := c.DynamicBatching; db != nil {
		for _, p := range db.PreferredBatchSize {
			if p < 1 {
				errs = append(errs, fmt.Errorf("dynamic_batching.preferred_batch_size: %d is not positive", p))
			}
		}
		switch {
		case db.PriorityLevels > MaxPriorityLevels:
			errs = append(errs, fmt.Errorf("dynamic_batching.priority_levels must be at most %d, got %d", MaxPriorityLevels, db.PriorityLevels))
		case db.PriorityLevels == 0 && db.DefaultPriorityLevel != 0:
			errs = append(errs, fmt.Errorf("dynamic_batching.default_priority_level %d needs priority_levels", db.DefaultPriorityLevel))
		case db.PriorityLevels > 0 && (db.DefaultPriorityLevel < 1 || db.DefaultPriorityLevel > db.PriorityLevels):
			errs = append(errs, fmt.Errorf("dynamic_batching.default_priority_level must be in 1..%d (priority_levels), got %d",
				db.PriorityLevels, db.DefaultPriorityLevel))
		}
		if q := db.DefaultQueuePolicy; q != nil {
			switch q.TimeoutAction {
			case "", "REJECT":
			case "DELAY":
				errs = append(errs, fmt.Errorf("dynamic_batching.default_queue_policy.timeout_action DELAY is not supported; use REJECT"))
			default:
				errs = append(errs, fmt.Errorf("dynamic_batching.default_queue_policy.timeout_action %q is not REJECT or DELAY", q.TimeoutAction))
			}
			if q.DefaultTimeoutMicroseconds > maxMicroseconds {
				errs = append(errs, fmt.Errorf("dynamic_batching.default_queue_policy.default_timeout_microseconds must be at most %d, got %d",
					uint64(maxMicroseconds), q.DefaultTimeoutMicroseconds))
			}
		}
	}
	switch c.ExecutionProvider {
	case "", "cpu", "cuda", "tensorrt":
	default:
		errs = append(errs, fmt.Errorf("execution_provider %q is not cpu, cuda or tensorrt", c.ExecutionProvider))
	}
	if c.DeviceID < 0 {
		errs = append(errs, fmt.Errorf("device_id must not be negative, got %d", c.DeviceID))
	}
	switch c.Fallback {
	case "", "cpu":
	default:
		errs = append(errs, fmt.Errorf("fallback %q is not cpu (or absent)", c.Fallback))
	}
	if c.Instances != nil && *c.Instances < 1 {
		errs = append(errs, fmt.Errorf("instances must be at least 1, got %d", *c.Instances))
	}
	if c.Instances != nil && c.InstanceGroup != nil {
		errs = append(errs, fmt.Errorf("instances and instance_group both set: keep one (instances: N is instance_group: {count: N})"))
	}
	if c.GPUs != nil {
		if c.ExecutionProvider == "cpu" {
			errs = append(errs, fmt.Errorf("gpus %s needs a GPU execution_provider (cuda or tensorrt, or none for cuda), not cpu", c.GPUs))
		}
		if c.DeviceID != 0 {
			errs = append(errs, fmt.Errorf("device_id %d and gpus both set: keep gpus (device_id: %d is gpus: [%d])", c.DeviceID, c.DeviceID, c.DeviceID))
		}
	}
	if c.GPUMinFreeMiB != 0 && (c.GPUs == nil || !c.GPUs.Auto) {
		errs = append(errs, fmt.Errorf("gpu_min_free_mib applies only with gpus: auto"))
	}
	if c.IntraOpThreads < 0 {
		errs = append(errs, fmt.Errorf("intra_op_threads must not be negative, got %d", c.IntraOpThreads))
	}
	if p := c.VersionPolicy; p != nil {
		set := 0
		if p.Latest != nil {
			set++
			if p.Latest.NumVersions < 1 {
				errs = append(errs, fmt.Errorf("version_policy.latest.num_versions must be at least 1"))
			}
		}
		if p.All != nil {
			set++
		}
		if p.Specific != nil {
			set++
			if len(p.Specific.Versions) == 0 {
				errs = append(errs, fmt.Errorf("version_policy.specific.versions is empty"))
			}
		}
		if set != 1 {
			errs = append(errs, fmt.Errorf("version_policy needs exactly one of latest, all, specific"))
		}
	}
	return errors.Join(errs...)
}

// Narrow applies the input and output overrides to what the model file
// declares. maxBatch is the effective max_batch_size (see Apply).
func (c Config) Narrow(decl IO, maxBatch int) (IO, error) {
	var errs []error
	narrow := func(kind string, specs []TensorSpec, overrides []TensorOverride) []TensorSpec {
		out := slices.Clone(specs)
		for _, o := range overrides {
			k := slices.IndexFunc(out, func(t TensorSpec) bool { return t.Name == o.Name })
			if k < 0 {
				errs = append(errs, fmt.Errorf("config %s %q: the model has no such %s", kind, o.Name, kind))
				continue
			}
			t := out[k]
			if o.DataType != "" {
				if got := strings.TrimPrefix(strings.Replace(o.DataType, "TYPE_STRING", "BYTES", 1), "TYPE_"); got != t.DataType.String() {
					errs = append(errs, fmt.Errorf("config %s %q: data_type %s, but the model declares %s", kind, o.Name, o.DataType, t.DataType))
				}
			}
			if o.Dims == nil {
				continue
			}
			full := o.Dims
			if maxBatch > 0 {
				full = append([]int64{-1}, o.Dims...)
			}
			if len(full) != len(t.Shape) {
				errs = append(errs, fmt.Errorf("config %s %q: dims %v give shape %s, but the model declares rank %d %s",
					kind, o.Name, o.Dims, tensor.FormatShape(full), len(t.Shape), tensor.FormatShape(t.Shape)))
				continue
			}
			shape := slices.Clone(t.Shape)
			for i, d := range full {
				switch {
				case d < -1:
					errs = append(errs, fmt.Errorf("config %s %q: dimension %d is %d", kind, o.Name, i, d))
				case d == -1:
				case shape[i] >= 0 && shape[i] != d:
					errs = append(errs, fmt.Errorf("config %s %q: dimension %d is %d, but the model fixes it at %d", kind, o.Name, i, d, shape[i]))
				default:
					shape[i] = d
				}
			}
			t.Shape = shape
			out[k] = t
		}
		return out
	}
	decl.Inputs = narrow("input", decl.Inputs, c.Input)
	decl.Outputs = narrow("output", decl.Outputs, c.Output)
	return decl, errors.Join(errs...)
}

// Apply resolves the model's effective spec settings from what the ONNX file
// declares, the config and the server defaults.
func (c Config) Apply(io IO, defaultMaxBatch int) (maxBatch int, err error) {
	batchable := io.HasBatchAxis()
	switch {
	case c.MaxBatchSize == nil && batchable:
		return defaultMaxBatch, nil
	case c.MaxBatchSize == nil:
		return 0, nil
	case *c.MaxBatchSize > 0 && !batchable:
		return 0, fmt.Errorf("max_batch_size %d needs a dynamic first dimension on every input and output, and this model has none", *c.MaxBatchSize)
	default:
		return *c.MaxBatchSize, nil
	}
}
