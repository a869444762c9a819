package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// kind is the type of value an option holds; it picks the parser and printer.
type kind int

const (
	kindString kind = iota
	kindInt
	kindInt64
	kindBool
	kindDuration
	kindList
	kindFloat
)

var durationType = reflect.TypeFor[time.Duration]()

// option is one row of an option table, read once from a struct field's tags.
type option struct {
	field  int    // index of the struct field
	kind   kind   // value type
	flag   string // flag name without dashes, e.g. "http-addr"
	env    string // environment variable, e.g. "TAOMINER_HTTP_ADDR"
	yaml   string // YAML key, e.g. "http_addr"
	meta   string // value placeholder in the help text, e.g. "ADDR"
	help   string // one-line description
	secret bool   // redact the value in String

	def reflect.Value // parsed default

	// Checks run by validate.
	nonempty bool
	min      *int64
	minFloat *float64
	oneof    []string
}

// optionSet is the option table of one struct type.
type optionSet struct {
	typ    reflect.Type
	opts   []*option
	byYAML map[string]*option
}

// mustOptionSet is newOptionSet for package-level tables: a bad tag is a
// programming error, so it panics when the package loads.
func mustOptionSet(t reflect.Type) *optionSet {
	set, err := newOptionSet(t)
	if err != nil {
		panic(err)
	}
	return set
}

// newOptionSet reads the option table from the tags of struct type t. Every
// exported field must carry flag, env, yaml and help tags; default, check,
// meta and secret are optional.
func newOptionSet(t reflect.Type) (*optionSet, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("config: %s is not a struct", t)
	}
	set := &optionSet{typ: t, byYAML: map[string]*option{}}
	seen := map[string]string{"flag " + configFlag: "built-in", "env " + configEnv: "built-in"}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		o, err := newOption(i, f)
		if err != nil {
			return nil, fmt.Errorf("config: %s.%s: %w", t.Name(), f.Name, err)
		}
		for _, name := range []string{"flag " + o.flag, "env " + o.env, "yaml " + o.yaml} {
			if prev, dup := seen[name]; dup {
				return nil, fmt.Errorf("config: %s.%s: %s already used by %s", t.Name(), f.Name, name, prev)
			}
			seen[name] = f.Name
		}
		set.opts = append(set.opts, o)
		set.byYAML[o.yaml] = o
	}
	if err := set.validate(set.defaults(), func(o *option) string { return "default of " + o.yaml }); err != nil {
		return nil, fmt.Errorf("config: %s: %w", t.Name(), err)
	}
	return set, nil
}

// newOption reads one option from the tags of field f, the i-th field.
func newOption(i int, f reflect.StructField) (*option, error) {
	o := &option{
		field:  i,
		flag:   f.Tag.Get("flag"),
		env:    f.Tag.Get("env"),
		yaml:   f.Tag.Get("yaml"),
		meta:   f.Tag.Get("meta"),
		help:   f.Tag.Get("help"),
		secret: f.Tag.Get("secret") == "true",
	}
	if o.flag == "" || o.env == "" || o.yaml == "" || o.help == "" {
		return nil, errors.New(`needs flag, env, yaml and help tags`)
	}
	switch {
	case f.Type == durationType:
		o.kind, o.meta = kindDuration, orDefault(o.meta, "DURATION")
	case f.Type.Kind() == reflect.String:
		o.kind, o.meta = kindString, orDefault(o.meta, "STRING")
	case f.Type.Kind() == reflect.Int:
		o.kind, o.meta = kindInt, orDefault(o.meta, "N")
	case f.Type.Kind() == reflect.Int64:
		o.kind, o.meta = kindInt64, orDefault(o.meta, "N")
	case f.Type.Kind() == reflect.Float64:
		o.kind, o.meta = kindFloat, orDefault(o.meta, "X")
	case f.Type.Kind() == reflect.Bool:
		o.kind = kindBool
	case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String:
		o.kind, o.meta = kindList, orDefault(o.meta, "LIST")
	default:
		return nil, fmt.Errorf("unsupported type %s", f.Type)
	}
	o.def = reflect.Zero(f.Type)
	if text, ok := f.Tag.Lookup("default"); ok {
		v, err := o.parse(text, f.Type)
		if err != nil {
			return nil, fmt.Errorf("default %q: %w", text, err)
		}
		o.def = v
	}
	if err := o.parseChecks(f.Tag.Get("check"), f.Type); err != nil {
		return nil, err
	}
	return o, nil
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// parseChecks reads a check tag: comma-separated "nonempty", "min=N" or
// "oneof=a|b|c".
func (o *option) parseChecks(tag string, t reflect.Type) error {
	for c := range strings.SplitSeq(tag, ",") {
		name, arg, _ := strings.Cut(c, "=")
		text := o.kind == kindString || o.kind == kindList
		number := o.kind == kindInt || o.kind == kindInt64 || o.kind == kindDuration
		switch {
		case c == "":
		case name == "nonempty" && text:
			o.nonempty = true
		case name == "oneof" && text && arg != "":
			o.oneof = strings.Split(arg, "|")
		case name == "min" && o.kind == kindFloat:
			v, err := o.parse(arg, t)
			if err != nil {
				return fmt.Errorf("check %q: %w", c, err)
			}
			f := v.Float()
			o.minFloat = &f
		case name == "min" && number:
			v, err := o.parse(arg, t)
			if err != nil {
				return fmt.Errorf("check %q: %w", c, err)
			}
			n := v.Int()
			o.min = &n
		default:
			return fmt.Errorf("check %q is unknown or does not fit the field type", c)
		}
	}
	return nil
}

// parse reads s, a flag, environment or YAML scalar value, as a value of
// type t. Errors say what was wanted; the caller names the value and source.
func (o *option) parse(s string, t reflect.Type) (reflect.Value, error) {
	var v any
	switch o.kind {
	case kindString:
		v = s
	case kindInt, kindInt64:
		bits := 64
		if o.kind == kindInt {
			bits = strconv.IntSize
		}
		n, err := strconv.ParseInt(s, 10, bits)
		if errors.Is(err, strconv.ErrRange) {
			return reflect.Value{}, fmt.Errorf("out of range for a %d-bit integer", bits)
		} else if err != nil {
			return reflect.Value{}, errors.New("want an integer")
		}
		v = n
	case kindBool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return reflect.Value{}, errors.New("want true or false")
		}
		v = b
	case kindDuration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return reflect.Value{}, errors.New(`want a duration such as "250ms" or "10s"`)
		}
		v = d
	case kindList:
		v = splitList(s)
	case kindFloat:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return reflect.Value{}, errors.New("want a finite number")
		}
		v = f
	}
	return reflect.ValueOf(v).Convert(t), nil
}

// splitList splits a comma-separated list, trimming spaces and dropping
// empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// format prints v as it would be written in a flag or environment variable.
func (o *option) format(v reflect.Value) string {
	switch o.kind {
	case kindInt, kindInt64:
		return strconv.FormatInt(v.Int(), 10)
	case kindBool:
		return strconv.FormatBool(v.Bool())
	case kindFloat:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case kindDuration:
		return time.Duration(v.Int()).String()
	case kindList:
		items := make([]string, v.Len())
		for i := range items {
			items[i] = v.Index(i).String()
		}
		return strings.Join(items, ",")
	}
	return v.String()
}

// quoted is format with strings and lists in Go quotes, so empty values
// and spaces show.
func (o *option) quoted(v reflect.Value) string {
	s := o.format(v)
	if o.kind == kindString || o.kind == kindList {
		return strconv.Quote(s)
	}
	return s
}

// check reports whether v passes the option's checks.
func (o *option) check(v reflect.Value) error {
	switch {
	case o.nonempty && v.Len() == 0:
		return errors.New("must not be empty")
	case o.minFloat != nil && v.Float() < *o.minFloat:
		return fmt.Errorf("must be at least %s, got %s", strconv.FormatFloat(*o.minFloat, 'g', -1, 64), o.format(v))
	case o.min != nil && v.Int() < *o.min:
		return fmt.Errorf("must be at least %s, got %s", o.format(reflect.ValueOf(*o.min).Convert(v.Type())), o.format(v))
	case o.oneof != nil && o.kind == kindString && !slices.Contains(o.oneof, v.String()):
		return fmt.Errorf("invalid value %q: want one of %s", v.String(), strings.Join(o.oneof, ", "))
	case o.oneof != nil && o.kind == kindList:
		for i := range v.Len() {
			if item := v.Index(i).String(); !slices.Contains(o.oneof, item) {
				return fmt.Errorf("invalid item %q: want one of %s", item, strings.Join(o.oneof, ", "))
			}
		}
	}
	return nil
}

// defaults returns a new struct value holding every option's default.
func (set *optionSet) defaults() reflect.Value {
	v := reflect.New(set.typ).Elem()
	for _, o := range set.opts {
		v.Field(o.field).Set(o.def)
	}
	return v
}

// validate checks every option of struct value v and joins the problems,
// each prefixed by name(option): a YAML key, or where the value came from.
func (set *optionSet) validate(v reflect.Value, name func(*option) string) error {
	var errs []error
	for _, o := range set.opts {
		if err := o.check(v.Field(o.field)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name(o), err))
		}
	}
	return errors.Join(errs...)
}

// describe prints struct value v as space-separated key=value pairs in table
// order, with secret values that are set replaced by <redacted>.
func (set *optionSet) describe(v reflect.Value) string {
	var b strings.Builder
	for i, o := range set.opts {
		if i > 0 {
			b.WriteByte(' ')
		}
		f := v.Field(o.field)
		val := o.quoted(f)
		if o.secret && !f.IsZero() {
			val = "<redacted>"
		}
		b.WriteString(o.yaml + "=" + val)
	}
	return b.String()
}
