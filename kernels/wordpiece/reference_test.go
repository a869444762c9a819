package wordpiece

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// referenceFile is written by testdata/gen_reference.mjs (see its header for the packages used).
type referenceFile struct {
	Reference struct{ Name, Version, Native string } `json:"reference"`
	Cases     []referenceCase                        `json:"cases"`
}

type referenceCase struct {
	Config  string   `json:"config"`
	Text    string   `json:"text"`
	MaxLen  int      `json:"max_len"`
	IDs     []int64  `json:"ids"`
	Tokens  []string `json:"tokens"`
	TypeIDs []int64  `json:"type_ids"`
	Mask    []int64  `json:"mask"`
}

func readReference(t testing.TB) referenceFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref referenceFile
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Cases) == 0 {
		t.Fatal("reference.json has no cases")
	}
	return ref
}

func loadTestTokenizer(t testing.TB, config string) *Tokenizer {
	t.Helper()
	opts := DefaultOptions()
	if config == "cased" {
		opts.Lowercase = false
	}
	tok, err := Load(filepath.Join("testdata", "vocab.txt"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestReference compares Encode with the ids of Hugging Face's Rust tokenizers for every
// sentence of testdata/reference.json, uncased and cased, with and without truncation.
func TestReference(t *testing.T) {
	ref := readReference(t)
	t.Logf("reference: %s@%s (%s)", ref.Reference.Name, ref.Reference.Version, ref.Reference.Native)
	toks := map[string]*Tokenizer{"uncased": loadTestTokenizer(t, "uncased"), "cased": loadTestTokenizer(t, "cased")}
	hf, err := LoadHF(filepath.Join("testdata", "tokenizer-uncased.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ref.Cases {
		got := toks[c.Config].Encode(c.Text, c.MaxLen)
		if !slices.Equal(got.IDs, c.IDs) || !slices.Equal(got.TypeIDs, c.TypeIDs) || !slices.Equal(got.Mask, c.Mask) {
			t.Errorf("%s maxLen=%d Encode(%q):\n got ids %v\nwant ids %v (%q)\n got type %v mask %v",
				c.Config, c.MaxLen, c.Text, got.IDs, c.IDs, c.Tokens, got.TypeIDs, got.Mask)
		}
		if c.MaxLen == 0 {
			want := c.Tokens[1 : len(c.Tokens)-1]
			if got := toks[c.Config].Tokens(c.Text); !slices.Equal(got, want) {
				t.Errorf("%s Tokens(%q):\n got %q\nwant %q", c.Config, c.Text, got, want)
			}
		}
		if c.Config == "uncased" {
			if got := hf.Encode(c.Text, c.MaxLen); !slices.Equal(got.IDs, c.IDs) {
				t.Errorf("LoadHF maxLen=%d Encode(%q):\n got %v\nwant %v", c.MaxLen, c.Text, got.IDs, c.IDs)
			}
		}
	}
}
