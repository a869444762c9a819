package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// kinds has one option of every supported kind, to test the table
// machinery beyond the kinds Serve uses today.
type kinds struct {
	S   string        `flag:"s" env:"T_S" yaml:"s" default:"def" help:"string"`
	I   int           `flag:"i" env:"T_I" yaml:"i" default:"1" help:"int"`
	I64 int64         `flag:"i64" env:"T_I64" yaml:"i64" default:"1" help:"int64"`
	B   bool          `flag:"b" env:"T_B" yaml:"b" help:"bool"`
	D   time.Duration `flag:"d" env:"T_D" yaml:"d" default:"1s" help:"duration"`
	L   []string      `flag:"l" env:"T_L" yaml:"l" default:"x" check:"oneof=x|a|b|c|d|e|f|g" help:"list"`
	P   string        `flag:"p" env:"T_P" yaml:"p" secret:"true" help:"secret"`
	F   float64       `flag:"f" env:"T_F" yaml:"f" default:"0.5" check:"min=0" help:"float"`
}

var kindsOptions = mustOptionSet(reflect.TypeFor[kinds]())

func loadKinds(args []string, getenv func(string) (string, bool)) (kinds, error) {
	v, err := kindsOptions.load(args, getenv)
	if err != nil {
		return kinds{}, err
	}
	return v.Interface().(kinds), nil
}

// TestPrecedencePerKind loads each kind from every combination of file,
// env and flag, and wants the value of the strongest source present.
func TestPrecedencePerKind(t *testing.T) {
	tests := []struct {
		kind  string
		field string
		def   any
		file  string // YAML line
		fileV any
		env   []string
		envV  any
		args  []string
		flagV any
	}{
		{"string", "S", "def", "s: from-file", "from-file", []string{"T_S", "from-env"}, "from-env", []string{"--s", "from-flag"}, "from-flag"},
		{"int", "I", 1, "i: 2", 2, []string{"T_I", "3"}, 3, []string{"--i=-4"}, -4},
		{"int64", "I64", int64(1), "i64: 2", int64(2), []string{"T_I64", "3"}, int64(3), []string{"--i64", "1099511627776"}, int64(1 << 40)},
		{"bool", "B", false, "b: true", true, []string{"T_B", "false"}, false, []string{"--b"}, true},
		{"duration", "D", time.Second, "d: 250ms", 250 * time.Millisecond, []string{"T_D", "1m30s"}, 90 * time.Second, []string{"--d=2h"}, 2 * time.Hour},
		{"float", "F", 0.5, "f: 2.25", 2.25, []string{"T_F", "1e3"}, 1000.0, []string{"--f=0"}, 0.0},
		{"list", "L", []string{"x"}, "l: [a, b]", []string{"a", "b"}, []string{"T_L", "c, d"}, []string{"c", "d"}, []string{"--l", "e", "--l=f,g"}, []string{"e", "f", "g"}},
	}
	for _, tt := range tests {
		for mask := range 8 {
			file, env, flags := mask&1 != 0, mask&2 != 0, mask&4 != 0
			name := tt.kind + "/" + map[bool]string{true: "file", false: "-"}[file] +
				"+" + map[bool]string{true: "env", false: "-"}[env] + "+" + map[bool]string{true: "flag", false: "-"}[flags]
			t.Run(name, func(t *testing.T) {
				var args, envKV []string
				want := tt.def
				if file {
					envKV = append(envKV, "TAOMINER_CONFIG", writeFile(t, tt.file+"\n"))
					want = tt.fileV
				}
				if env {
					envKV = append(envKV, tt.env...)
					want = tt.envV
				}
				if flags {
					args = tt.args
					want = tt.flagV
				}
				got, err := loadKinds(args, fakeEnv(envKV...))
				if err != nil {
					t.Fatalf("load: %v", err)
				}
				if g := reflect.ValueOf(got).FieldByName(tt.field).Interface(); !reflect.DeepEqual(g, want) {
					t.Errorf("%s = %#v, want %#v", tt.field, g, want)
				}
			})
		}
	}
}

func TestKindErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  []string
		file string
		want string
	}{
		{"bad bool flag", []string{"--b=maybe"}, nil, "", "-b"},
		{"bad bool env", nil, []string{"T_B", "yes"}, "", `env T_B: invalid value "yes": want true or false`},
		{"yaml 1.1 bool", nil, nil, "b: yes", `line 1: b: invalid value "yes": want true or false`},
		{"null bool", nil, nil, "b:", "line 1: b: missing value"},
		{"list of mappings", nil, nil, "l: [{a: 1}]", "line 1: l: want a list of strings, got a mapping item"},
		{"list item not allowed", []string{"--l", "a,zzz"}, nil, "", `flag --l: invalid item "zzz"`},
		{"float not a number", nil, []string{"T_F", "lots"}, "", `env T_F: invalid value "lots": want a finite number`},
		{"float NaN", []string{"--f=NaN"}, nil, "", "want a finite number"},
		{"float below min", []string{"--f=-0.5"}, nil, "", "flag --f: must be at least 0, got -0.5"},
		{"float list", nil, nil, "f: [1, 2]", "line 1: f: want a single value, got a list"},
		{"int64 float", nil, []string{"T_I64", "1e3"}, "", `env T_I64: invalid value "1e3": want an integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env
			if tt.file != "" {
				env = append(env, "TAOMINER_CONFIG", writeFile(t, tt.file+"\n"))
			}
			_, err := loadKinds(tt.args, fakeEnv(env...))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("load = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestYAMLListFormsAndAliases(t *testing.T) {
	for _, text := range []string{"l: a, b", "l: [a, b]", "l:\n  - a\n  - b", "s: &x a\nl: [*x, b]"} {
		v := kindsOptions.defaults()
		err := kindsOptions.applyYAML(v, []byte(text), "", nil)
		if got := v.Interface().(kinds).L; err != nil || !reflect.DeepEqual(got, []string{"a", "b"}) {
			t.Errorf("%q: L = %q, %v; want [a b]", text, got, err)
		}
	}
}

func TestSecretRedacted(t *testing.T) {
	k := kinds{S: "plain", P: "hunter2"}
	got := kindsOptions.describe(reflect.ValueOf(k))
	if strings.Contains(got, "hunter2") || !strings.Contains(got, "p=<redacted>") || !strings.Contains(got, `s="plain"`) {
		t.Errorf("describe = %s, want p redacted and s shown", got)
	}
	if got := kindsOptions.describe(reflect.ValueOf(kinds{})); !strings.Contains(got, `p=""`) {
		t.Errorf("describe of unset secret = %s, want p=\"\"", got)
	}
}

func TestBadTables(t *testing.T) {
	tests := []struct {
		name string
		typ  reflect.Type
		want string
	}{
		{"not a struct", reflect.TypeFor[int](), "not a struct"},
		{"missing tags", reflect.TypeFor[struct {
			A string `flag:"a"`
		}](), "needs flag, env, yaml and help tags"},
		{"unsupported type", reflect.TypeFor[struct {
			F complex128 `flag:"f" env:"F" yaml:"f" help:"f"`
		}](), "unsupported type complex128"},
		{"bad default", reflect.TypeFor[struct {
			N int `flag:"n" env:"N" yaml:"n" default:"many" help:"n"`
		}](), `default "many": want an integer`},
		{"unknown check", reflect.TypeFor[struct {
			N int `flag:"n" env:"N" yaml:"n" check:"max=3" help:"n"`
		}](), `check "max=3" is unknown`},
		{"check misfit", reflect.TypeFor[struct {
			N int `flag:"n" env:"N" yaml:"n" check:"nonempty" help:"n"`
		}](), `check "nonempty"`},
		{"default fails check", reflect.TypeFor[struct {
			N int `flag:"n" env:"N" yaml:"n" check:"min=1" help:"n"`
		}](), "default of n: must be at least 1, got 0"},
		{"duplicate env", reflect.TypeFor[struct {
			A string `flag:"a" env:"X" yaml:"a" help:"a"`
			B string `flag:"b" env:"X" yaml:"b" help:"b"`
		}](), "env X already used by A"},
		{"clash with --config", reflect.TypeFor[struct {
			C string `flag:"config" env:"C" yaml:"c" help:"c"`
		}](), "flag config already used by built-in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newOptionSet(tt.typ)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("newOptionSet = %v, want error containing %q", err, tt.want)
			}
		})
	}
}
