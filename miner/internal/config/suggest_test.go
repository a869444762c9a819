package config

import (
	"errors"
	"flag"
	"testing"
)

func TestSuggest(t *testing.T) {
	names := []string{"models", "model-control", "http-addr", "grpc-addr", "config", "max-batch-size", "url", "uri"}
	tests := []struct{ name, want string }{
		{"modles", "models"},       // swapped letters
		{"--modles", "models"},     // dashes are not part of the name
		{"model", "models"},        // one letter missing
		{"Models", "models"},       // case
		{"http_addr", "http-addr"}, // _ for -
		{"http-adr", "http-addr"},
		{"grpc-adr", "grpc-addr"},
		{"confg", "config"},
		{"max-batchsize", "max-batch-size"},
		{"urk", "uri"},         // a tie between uri and url goes to the first sorted
		{"ur", ""},             // too short for a guess at distance 1
		{"bogus", ""},          // nothing close
		{"model-contrl-x", ""}, // 3 edits away
		{"", ""},
	}
	for _, tt := range tests {
		if got := Suggest(tt.name, names); got != tt.want {
			t.Errorf("Suggest(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "ab", 2}, {"models", "models", 0},
		{"modles", "models", 1}, {"ca", "abc", 3}, {"kitten", "sitting", 3}, {"ab", "ba", 1},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestLoadServeUnknownFlag: serve's flags answer a typo with the closest
// flag and where the list is.
func TestLoadServeUnknownFlag(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--modles", "m"}, "unknown flag --modles; did you mean --models? (miner serve --help lists them)"},
		{[]string{"-modles=m"}, "unknown flag --modles; did you mean --models? (miner serve --help lists them)"},
		{[]string{"--models", "m", "--http-adr", ":1"}, "unknown flag --http-adr; did you mean --http-addr? (miner serve --help lists them)"},
		{[]string{"--confg", "x.yaml"}, "unknown flag --confg; did you mean --config? (miner serve --help lists them)"},
		{[]string{"--bogus"}, "unknown flag --bogus (miner serve --help lists them)"},
	}
	for _, tt := range tests {
		_, err := LoadServe(tt.args, nil)
		var unknown *UnknownFlagError
		if err == nil || err.Error() != tt.want || !errors.As(err, &unknown) {
			t.Errorf("LoadServe(%q) error = %v, want %q", tt.args, err, tt.want)
		}
	}
}

func TestFlagErrorPassesOthers(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	other := errors.New(`invalid value "x" for flag -n: parse error`)
	if got := FlagError(fs, "miner x", other); got != other {
		t.Errorf("FlagError(%v) = %v, want it unchanged", other, got)
	}
}
