// Package wordpiece is a BERT-family WordPiece tokenizer in pure Go.
//
// It reproduces Hugging Face's BertTokenizerFast, that is the Rust tokenizers crate with a
// BertNormalizer, a BertPreTokenizer, a WordPiece model and BertProcessing:
//
//  1. Special tokens ([CLS], [SEP], [PAD], [UNK], [MASK]) written literally in the text are kept
//     as single tokens, matched before any normalisation (so "[mask]" in uncased mode is not one).
//  2. Clean text: NUL, U+FFFD and control/format characters (categories Cc and Cf, except tab,
//     newline and carriage return) are dropped, every white-space character becomes a space.
//  3. Each CJK ideograph is surrounded by spaces (Options.TokenizeChineseChars).
//  4. Accents are stripped (NFD, then category Mn dropped) and text is lowercased rune by rune
//     (full case mapping, no final-sigma rule), as Options asks.
//  5. Words are split on white space, and every punctuation rune (category P, or an ASCII symbol
//     such as $ + < = > ^ ` | ~) is a word on its own.
//  6. Each word becomes the greedy longest-match-first sequence of vocabulary pieces, pieces after
//     the first prefixed with "##"; a word with no such split, or longer than
//     Options.MaxInputCharsPerWord runes, becomes [UNK].
//
// A Tokenizer is immutable after construction and safe for concurrent use.
package wordpiece

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Default values used by DefaultOptions and filled in by New for empty Options fields.
const (
	DefaultMaxInputCharsPerWord = 100
	DefaultUnkToken             = "[UNK]"
	DefaultClsToken             = "[CLS]"
	DefaultSepToken             = "[SEP]"
	DefaultPadToken             = "[PAD]"
	DefaultMaskToken            = "[MASK]"
)

// continuationPrefix marks a word piece that continues a word.
const continuationPrefix = "##"

// Options configures a Tokenizer.
//
// The zero value is usable and means a cased tokenizer that does not split CJK ideographs: empty
// token strings and a zero MaxInputCharsPerWord take their defaults, but the two booleans keep
// their zero value. Start from DefaultOptions for BERT uncased (bert-base-uncased, MiniLM, BGE, E5).
type Options struct {
	// Lowercase lowercases the text; with StripAccents nil it also strips accents.
	Lowercase bool
	// StripAccents overrides accent stripping; nil follows Lowercase (Hugging Face semantics).
	StripAccents *bool
	// TokenizeChineseChars makes every CJK ideograph its own word (true in Hugging Face).
	TokenizeChineseChars bool
	// MaxInputCharsPerWord is the longest word, in runes, that is split into pieces; longer
	// words become UnkToken. Zero means DefaultMaxInputCharsPerWord.
	MaxInputCharsPerWord int
	// UnkToken, ClsToken, SepToken and PadToken name the special tokens; each must be in the
	// vocabulary. Empty means the BERT default ([UNK], [CLS], [SEP], [PAD]).
	UnkToken, ClsToken, SepToken, PadToken string
	// MaskToken names the mask token. Empty means [MASK]; it is matched in the text only if it
	// is in the vocabulary.
	MaskToken string
}

// DefaultOptions returns the options of Hugging Face's BertTokenizer for an uncased model.
func DefaultOptions() Options {
	return Options{
		Lowercase:            true,
		TokenizeChineseChars: true,
		MaxInputCharsPerWord: DefaultMaxInputCharsPerWord,
		UnkToken:             DefaultUnkToken,
		ClsToken:             DefaultClsToken,
		SepToken:             DefaultSepToken,
		PadToken:             DefaultPadToken,
		MaskToken:            DefaultMaskToken,
	}
}

// Encoding is one encoded text: token ids, token type (segment) ids and attention mask, all of
// the same length.
type Encoding struct{ IDs, TypeIDs, Mask []int64 }

// Tokenizer turns text into BERT token ids. Build one with New, Load or LoadHF.
type Tokenizer struct {
	pieces  []string         // id -> piece as written in the vocabulary
	initial map[string]int32 // every piece, looked up for the start of a word
	cont    map[string]int32 // pieces that continue a word, keyed without the "##" prefix

	unk, cls, sep, pad int64
	specials           []string // special tokens matched literally in the text, longest first
	specialIDs         map[string]int64

	cleanText, chinese, stripAccents, lowercase bool
	maxChars                                    int
}

// ErrEmptyVocab is returned by New and Load for a vocabulary without tokens.
var ErrEmptyVocab = errors.New("wordpiece: empty vocabulary")

// Load reads a vocab.txt (one token per line; a token's id is its zero-based line number) and
// returns a Tokenizer with opts.
func Load(vocabPath string, opts Options) (*Tokenizer, error) {
	f, err := os.Open(vocabPath)
	if err != nil {
		return nil, fmt.Errorf("wordpiece: %w", err)
	}
	defer f.Close()
	var vocab []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		vocab = append(vocab, strings.TrimSuffix(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("wordpiece: read %s: %w", vocabPath, err)
	}
	t, err := New(vocab, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", vocabPath, err)
	}
	return t, nil
}

// New returns a Tokenizer over vocab, where a token's id is its index. Tokens starting with "##"
// continue a word. The special tokens named by opts must be in vocab. A token listed twice maps
// to its last id, as Hugging Face's vocab.txt loaders do.
func New(vocab []string, opts Options) (*Tokenizer, error) {
	ids := make(map[string]int64, len(vocab))
	for i, tok := range vocab {
		ids[tok] = int64(i)
	}
	return newTokenizer(vocab, ids, opts)
}

// newTokenizer builds a Tokenizer from an id-ordered vocabulary and its inverse.
func newTokenizer(vocab []string, ids map[string]int64, opts Options) (*Tokenizer, error) {
	if len(vocab) == 0 {
		return nil, ErrEmptyVocab
	}
	if opts.MaxInputCharsPerWord < 0 {
		return nil, fmt.Errorf("wordpiece: MaxInputCharsPerWord %d is negative", opts.MaxInputCharsPerWord)
	}
	def := DefaultOptions()
	orDefault := func(s, d string) string {
		if s == "" {
			return d
		}
		return s
	}
	opts.UnkToken = orDefault(opts.UnkToken, def.UnkToken)
	opts.ClsToken = orDefault(opts.ClsToken, def.ClsToken)
	opts.SepToken = orDefault(opts.SepToken, def.SepToken)
	opts.PadToken = orDefault(opts.PadToken, def.PadToken)
	opts.MaskToken = orDefault(opts.MaskToken, def.MaskToken)
	if opts.MaxInputCharsPerWord == 0 {
		opts.MaxInputCharsPerWord = def.MaxInputCharsPerWord
	}

	t := &Tokenizer{
		pieces:     vocab,
		initial:    make(map[string]int32, len(vocab)),
		cont:       make(map[string]int32, len(vocab)/4),
		specialIDs: make(map[string]int64, 5),
		cleanText:  true,
		chinese:    opts.TokenizeChineseChars,
		lowercase:  opts.Lowercase,
		maxChars:   opts.MaxInputCharsPerWord,
	}
	t.stripAccents = opts.Lowercase
	if opts.StripAccents != nil {
		t.stripAccents = *opts.StripAccents
	}
	for tok, id := range ids {
		if id < 0 || id >= int64(len(vocab)) || id > 1<<31-1 {
			return nil, fmt.Errorf("wordpiece: token %q has id %d outside [0,%d)", tok, id, len(vocab))
		}
		t.initial[tok] = int32(id)
		if rest, ok := strings.CutPrefix(tok, continuationPrefix); ok && rest != "" {
			t.cont[rest] = int32(id)
		}
	}
	for _, s := range []struct {
		name string
		dst  *int64
	}{
		{opts.UnkToken, &t.unk}, {opts.ClsToken, &t.cls}, {opts.SepToken, &t.sep}, {opts.PadToken, &t.pad},
	} {
		id, ok := ids[s.name]
		if !ok {
			return nil, fmt.Errorf("wordpiece: special token %q is not in the vocabulary", s.name)
		}
		*s.dst = id
		t.addSpecial(s.name, id)
	}
	if id, ok := ids[opts.MaskToken]; ok {
		t.addSpecial(opts.MaskToken, id)
	}
	return t, nil
}

// addSpecial registers tok as matched literally in the text, keeping t.specials longest first.
func (t *Tokenizer) addSpecial(tok string, id int64) {
	if _, ok := t.specialIDs[tok]; ok || tok == "" {
		return
	}
	t.specialIDs[tok] = id
	i := 0
	for i < len(t.specials) && len(t.specials[i]) >= len(tok) {
		i++
	}
	t.specials = append(t.specials, "")
	copy(t.specials[i+1:], t.specials[i:])
	t.specials[i] = tok
}

// VocabSize returns the number of tokens in the vocabulary; every id is below it.
func (t *Tokenizer) VocabSize() int { return len(t.pieces) }

// PadID returns the id of the padding token.
func (t *Tokenizer) PadID() int64 { return t.pad }

// Encode tokenizes text as [CLS] pieces… [SEP]. With maxLen > 0 the pieces are cut so that the
// result has at most maxLen tokens and still ends with [SEP] (maxLen below 2 counts as 2). The
// result is not padded: TypeIDs are all 0 and Mask all 1.
func (t *Tokenizer) Encode(text string, maxLen int) Encoding {
	ids := t.encodeIDs(make([]int64, 0, len(text)/3+2), text, maxLen)
	enc := Encoding{IDs: ids, TypeIDs: make([]int64, len(ids)), Mask: make([]int64, len(ids))}
	for i := range enc.Mask {
		enc.Mask[i] = 1
	}
	return enc
}

// encodeIDs appends [CLS] pieces… [SEP] for text to dst, truncated to maxLen when maxLen > 0.
func (t *Tokenizer) encodeIDs(dst []int64, text string, maxLen int) []int64 {
	start := len(dst)
	dst = append(dst, t.cls)
	dst = t.appendPieceIDs(dst, text)
	if maxLen > 0 {
		maxLen = max(maxLen, 2)
		if len(dst)-start > maxLen-1 {
			dst = dst[:start+maxLen-1]
		}
	}
	return append(dst, t.sep)
}

// EncodeBatch encodes every text as Encode does and lays the results out row-major as
// [len(texts), seqLen], where seqLen is the longest encoding. Shorter rows are padded with the
// [PAD] id and mask 0; type ids are all 0. A row does not depend on the other texts except
// through the amount of padding after it. No texts give nil slices and seqLen 0.
func (t *Tokenizer) EncodeBatch(texts []string, maxLen int) (ids, typeIDs, mask []int64, seqLen int) {
	if len(texts) == 0 {
		return nil, nil, nil, 0
	}
	rows := make([][]int64, len(texts))
	for i, text := range texts {
		rows[i] = t.encodeIDs(nil, text, maxLen)
		seqLen = max(seqLen, len(rows[i]))
	}
	ids = make([]int64, len(texts)*seqLen)
	typeIDs = make([]int64, len(texts)*seqLen)
	mask = make([]int64, len(texts)*seqLen)
	for i, row := range rows {
		off := i * seqLen
		copy(ids[off:], row)
		for j := len(row); j < seqLen; j++ {
			ids[off+j] = t.pad
		}
		for j := range row {
			mask[off+j] = 1
		}
	}
	return ids, typeIDs, mask, seqLen
}

// Tokens returns the word pieces of text as the vocabulary spells them, without [CLS] and [SEP].
// Words that cannot be split are given as the unknown token.
func (t *Tokenizer) Tokens(text string) []string {
	ids := t.appendPieceIDs(nil, text)
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = t.pieces[id]
	}
	return out
}
