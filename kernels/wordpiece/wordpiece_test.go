package wordpiece

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// tinyVocab is a small vocabulary for behaviour tests; ids are indexes.
var tinyVocab = []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "hello", "world", ",", "!", "a", "##b", "我", "cafe", "ab"}

func newTiny(t testing.TB, opts Options) *Tokenizer {
	t.Helper()
	tok, err := New(tinyVocab, opts)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokensTiny(t *testing.T) {
	tok := newTiny(t, DefaultOptions())
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"unaffable", []string{"un", "##aff", "##able"}},
		{"Hello, WORLD!", []string{"hello", ",", "world", "!"}},
		{"unaffablex", []string{"[UNK]"}},
		{"abb", []string{"ab", "##b"}}, // longest match first
		{"我我", []string{"我", "我"}},
		{"Café", []string{"cafe"}},
		{"hello[MASK]world", []string{"hello", "[MASK]", "world"}},
		{"", []string{}},
	} {
		if got := tok.Tokens(tc.text); !slices.Equal(got, tc.want) {
			t.Errorf("Tokens(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestOptions(t *testing.T) {
	falseV := false
	opts := DefaultOptions()
	opts.StripAccents = &falseV
	if got := newTiny(t, opts).Tokens("Café"); !slices.Equal(got, []string{"[UNK]"}) {
		t.Errorf("StripAccents=false: Tokens(Café) = %q, want [UNK]", got)
	}
	var zero Options // cased, CJK not split
	if got := newTiny(t, zero).Tokens("我我 Hello"); !slices.Equal(got, []string{"[UNK]", "[UNK]"}) {
		t.Errorf("zero Options: got %q", got)
	}
	opts = DefaultOptions()
	opts.MaxInputCharsPerWord = 3
	if got := newTiny(t, opts).Tokens("abb unaffable"); !slices.Equal(got, []string{"ab", "##b", "[UNK]"}) {
		t.Errorf("MaxInputCharsPerWord=3: got %q", got)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(nil, DefaultOptions()); !errors.Is(err, ErrEmptyVocab) {
		t.Errorf("New(nil) error = %v, want ErrEmptyVocab", err)
	}
	if _, err := New([]string{"[UNK]", "[CLS]", "[SEP]"}, DefaultOptions()); err == nil || !strings.Contains(err.Error(), "[PAD]") {
		t.Errorf("missing [PAD]: error = %v", err)
	}
	opts := DefaultOptions()
	opts.MaxInputCharsPerWord = -1
	if _, err := New(tinyVocab, opts); err == nil {
		t.Error("negative MaxInputCharsPerWord: no error")
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.txt"), DefaultOptions()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) error = %v", err)
	}
	bad := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(bad, []byte(`{"model":{"type":"BPE"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadHF(bad); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "WordPiece") {
		t.Errorf("LoadHF(BPE) error = %v, want the path and WordPiece", err)
	}
}

func TestLoadCRLF(t *testing.T) {
	p := filepath.Join(t.TempDir(), "vocab.txt")
	if err := os.WriteFile(p, []byte(strings.Join(tinyVocab, "\r\n")+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := Load(p, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tok.Encode("hello world", 0).IDs, []int64{2, 8, 9, 3}; !slices.Equal(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
}

func TestEncodeTruncation(t *testing.T) {
	tok := loadTestTokenizer(t, "uncased")
	text := strings.Repeat("hello world ", 50)
	full := tok.Encode(text, 0)
	if len(full.IDs) != 102 {
		t.Fatalf("len = %d, want 102", len(full.IDs))
	}
	for _, maxLen := range []int{1, 2, 3, 16, 101, 102, 103, 512} {
		got := tok.Encode(text, maxLen)
		n := min(max(maxLen, 2), len(full.IDs))
		if len(got.IDs) != n || len(got.Mask) != n || len(got.TypeIDs) != n {
			t.Fatalf("maxLen=%d: lengths %d/%d/%d, want %d", maxLen, len(got.IDs), len(got.Mask), len(got.TypeIDs), n)
		}
		if got.IDs[0] != tok.cls || got.IDs[n-1] != tok.sep || !slices.Equal(got.IDs[:n-1], full.IDs[:n-1]) {
			t.Errorf("maxLen=%d: got %v, want a [CLS]…[SEP] prefix of %v", maxLen, got.IDs, full.IDs)
		}
	}
}

func TestEncodeBatch(t *testing.T) {
	tok := loadTestTokenizer(t, "uncased")
	ref := readReference(t)
	var texts []string
	for _, c := range ref.Cases {
		if c.Config == "uncased" && c.MaxLen == 0 {
			texts = append(texts, c.Text)
		}
	}
	for _, maxLen := range []int{0, 16} {
		ids, typeIDs, mask, seqLen := tok.EncodeBatch(texts, maxLen)
		if len(ids) != len(texts)*seqLen || len(typeIDs) != len(ids) || len(mask) != len(ids) {
			t.Fatalf("maxLen=%d: lengths %d/%d/%d for %d×%d", maxLen, len(ids), len(typeIDs), len(mask), len(texts), seqLen)
		}
		longest := 0
		for i, text := range texts {
			single := tok.Encode(text, maxLen)
			longest = max(longest, len(single.IDs))
			row := ids[i*seqLen : (i+1)*seqLen]
			n := len(single.IDs)
			if !slices.Equal(row[:n], single.IDs) {
				t.Errorf("maxLen=%d row %d (%q): %v, want %v", maxLen, i, text, row[:n], single.IDs)
			}
			for j := range seqLen {
				wantMask, wantID := int64(0), tok.PadID()
				if j < n {
					wantMask, wantID = 1, single.IDs[j]
				}
				if mask[i*seqLen+j] != wantMask || row[j] != wantID || typeIDs[i*seqLen+j] != 0 {
					t.Fatalf("maxLen=%d row %d col %d: id %d mask %d type %d, want id %d mask %d type 0",
						maxLen, i, j, row[j], mask[i*seqLen+j], typeIDs[i*seqLen+j], wantID, wantMask)
				}
			}
		}
		if seqLen != longest {
			t.Errorf("maxLen=%d: seqLen = %d, want %d", maxLen, seqLen, longest)
		}
	}
	if ids, typeIDs, mask, seqLen := tok.EncodeBatch(nil, 8); ids != nil || typeIDs != nil || mask != nil || seqLen != 0 {
		t.Errorf("EncodeBatch(nil) = %v %v %v %d", ids, typeIDs, mask, seqLen)
	}
}

func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "Hello, world!", "Café 我爱 🙂", "\x00\xff\xfe[SEP]", "##", "[MASK][MASK", strings.Repeat("a", 101)} {
		f.Add(s, 8)
	}
	tok := loadTestTokenizer(f, "uncased")
	cased := loadTestTokenizer(f, "cased")
	f.Fuzz(func(t *testing.T, text string, maxLen int) {
		maxLen %= 1024
		for _, tk := range []*Tokenizer{tok, cased} {
			enc := tk.Encode(text, maxLen)
			if len(enc.IDs) < 2 || enc.IDs[0] != tk.cls || enc.IDs[len(enc.IDs)-1] != tk.sep {
				t.Fatalf("Encode(%q, %d) = %v: not [CLS]…[SEP]", text, maxLen, enc.IDs)
			}
			if maxLen > 0 && len(enc.IDs) > max(maxLen, 2) {
				t.Fatalf("Encode(%q, %d): %d ids", text, maxLen, len(enc.IDs))
			}
			for _, id := range enc.IDs {
				if id < 0 || id >= int64(tk.VocabSize()) {
					t.Fatalf("Encode(%q): id %d out of range", text, id)
				}
			}
			for _, p := range tk.Tokens(text) {
				if !utf8.ValidString(p) || p == "" {
					t.Fatalf("Tokens(%q): bad piece %q", text, p)
				}
			}
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	tok := loadTestTokenizer(b, "uncased")
	for _, tc := range []struct{ name, text string }{
		{"text=english", strings.Repeat("The quick brown fox jumps over the lazy dog, unaffably. ", 8)},
		{"text=mixed", strings.Repeat("Café naïve résumé 我爱北京天安门 Привет, мир! ", 8)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			tokens := 0
			for b.Loop() {
				tokens += len(tok.Encode(tc.text, 0).IDs)
			}
			b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	tok := loadTestTokenizer(t, "uncased")
	want := tok.Encode("Café naïve 我爱 unaffable", 0).IDs
	done := make(chan []int64)
	for range 4 {
		go func() { done <- tok.Encode("Café naïve 我爱 unaffable", 0).IDs }()
	}
	for range 4 {
		if got := <-done; !slices.Equal(got, want) {
			t.Errorf("concurrent Encode = %v, want %v", got, want)
		}
	}
}
