package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
)

// The config file option is built in: it picks the file, so it cannot live
// in the file.
const (
	configFlag = "config"
	configEnv  = "TAOMINER_CONFIG"
)

// load builds a struct value from defaults, the YAML file named by --config
// or TAOMINER_CONFIG, the environment, and the flags in args, each source
// overriding the ones before it, then validates it. getenv may be nil for
// an empty environment.
func (set *optionSet) load(args []string, getenv func(string) (string, bool)) (reflect.Value, error) {
	if getenv == nil {
		getenv = func(string) (string, bool) { return "", false }
	}
	flags, configPath, err := set.parseFlags(args)
	if err != nil {
		return reflect.Value{}, err
	}

	out := set.defaults()
	origin := map[*option]string{} // where each non-default value came from
	var errs []error

	path, from := "", ""
	if p, ok := getenv(configEnv); ok {
		path, from = p, "env "+configEnv
	}
	if configPath != nil {
		path, from = *configPath, "flag --"+configFlag
	}
	if path != "" {
		text, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("config file from %s: %w", from, err))
		} else if err := set.applyYAML(out, text, "file "+path+": ", origin); err != nil {
			errs = append(errs, err)
		}
	}

	for _, o := range set.opts {
		s, ok := getenv(o.env)
		if !ok {
			continue
		}
		v, err := o.parse(s, set.typ.Field(o.field).Type)
		if err != nil {
			errs = append(errs, fmt.Errorf("env %s: invalid value %q: %w", o.env, s, err))
			continue
		}
		out.Field(o.field).Set(v)
		origin[o] = "env " + o.env
	}
	if len(errs) > 0 {
		return reflect.Value{}, fmt.Errorf("load config: %w", errors.Join(errs...))
	}

	for o, v := range flags {
		out.Field(o.field).Set(v)
		origin[o] = "flag --" + o.flag
	}

	err = set.validate(out, func(o *option) string {
		if where, ok := origin[o]; ok {
			return where
		}
		return o.yaml
	})
	if err != nil {
		return reflect.Value{}, fmt.Errorf("load config: %w", err)
	}
	return out, nil
}

// parseFlags parses args and returns the value of each option flag given,
// and the --config path if given. -h and --help return flag.ErrHelp.
func (set *optionSet) parseFlags(args []string) (map[*option]reflect.Value, *string, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned; ServeUsage prints help
	fs.Usage = func() {}
	configPath := fs.String(configFlag, "", "")
	layer := reflect.New(set.typ).Elem()
	for _, o := range set.opts {
		fs.Var(&flagValue{opt: o, dst: layer.Field(o.field)}, o.flag, o.help)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil, err
		}
		var unknown *UnknownFlagError
		if errors.As(FlagError(fs, "miner serve", err), &unknown) {
			return nil, nil, unknown
		}
		return nil, nil, fmt.Errorf("load config: command line: %w", err)
	}
	if fs.NArg() > 0 {
		return nil, nil, fmt.Errorf("load config: command line: unexpected argument %q", fs.Arg(0))
	}

	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	values := map[*option]reflect.Value{}
	for _, o := range set.opts {
		if given[o.flag] {
			values[o] = layer.Field(o.field)
		}
	}
	if !given[configFlag] {
		configPath = nil
	}
	return values, configPath, nil
}

// flagValue is the flag.Value of one option. A list flag appends on every
// use, so it can be repeated as well as given commas.
type flagValue struct {
	opt *option
	dst reflect.Value
}

// String implements flag.Value.
func (f *flagValue) String() string {
	if f == nil || f.opt == nil {
		return ""
	}
	return f.opt.format(f.dst)
}

// Set implements flag.Value.
func (f *flagValue) Set(s string) error {
	v, err := f.opt.parse(s, f.dst.Type())
	if err != nil {
		return err
	}
	if f.opt.kind == kindList {
		v = reflect.AppendSlice(f.dst, v)
	}
	f.dst.Set(v)
	return nil
}

// IsBoolFlag lets a bool option be given as a bare --flag.
func (f *flagValue) IsBoolFlag() bool { return f.opt.kind == kindBool }
