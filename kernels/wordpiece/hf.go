package wordpiece

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// hfTokenizer is the part of a Hugging Face tokenizer.json that LoadHF reads.
type hfTokenizer struct {
	AddedTokens []struct {
		ID      int64  `json:"id"`
		Content string `json:"content"`
		Special bool   `json:"special"`
	} `json:"added_tokens"`
	Normalizer *struct {
		Type               string `json:"type"`
		CleanText          bool   `json:"clean_text"`
		HandleChineseChars bool   `json:"handle_chinese_chars"`
		StripAccents       *bool  `json:"strip_accents"`
		Lowercase          bool   `json:"lowercase"`
	} `json:"normalizer"`
	PreTokenizer *struct {
		Type string `json:"type"`
	} `json:"pre_tokenizer"`
	PostProcessor *struct {
		Type string `json:"type"`
		Sep  [2]any `json:"sep"`
		Cls  [2]any `json:"cls"`
	} `json:"post_processor"`
	Padding *struct {
		PadToken string `json:"pad_token"`
	} `json:"padding"`
	Model struct {
		Type                    string           `json:"type"`
		UnkToken                string           `json:"unk_token"`
		ContinuingSubwordPrefix string           `json:"continuing_subword_prefix"`
		MaxInputCharsPerWord    int              `json:"max_input_chars_per_word"`
		Vocab                   map[string]int64 `json:"vocab"`
	} `json:"model"`
}

// LoadHF reads a Hugging Face tokenizer.json whose model is WordPiece with the "##" prefix,
// whose normalizer is a BertNormalizer (or absent) and whose pre-tokenizer is a BertPreTokenizer.
// The [CLS] and [SEP] tokens come from a BertProcessing post-processor when there is one, the
// [PAD] token from the padding section; otherwise the BERT defaults are used. Other special
// added tokens are matched literally in the text, as Hugging Face does.
func LoadHF(tokenizerJSONPath string) (*Tokenizer, error) {
	b, err := os.ReadFile(tokenizerJSONPath)
	if err != nil {
		return nil, fmt.Errorf("wordpiece: %w", err)
	}
	t, err := parseHF(b)
	if err != nil {
		return nil, fmt.Errorf("wordpiece: %s: %w", tokenizerJSONPath, err)
	}
	return t, nil
}

func parseHF(b []byte) (*Tokenizer, error) {
	var hf hfTokenizer
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&hf); err != nil {
		return nil, err
	}
	m := hf.Model
	if m.Type != "WordPiece" {
		return nil, fmt.Errorf("model type %q, want WordPiece", m.Type)
	}
	if m.ContinuingSubwordPrefix != "" && m.ContinuingSubwordPrefix != continuationPrefix {
		return nil, fmt.Errorf("continuing_subword_prefix %q, want %q", m.ContinuingSubwordPrefix, continuationPrefix)
	}
	opts := Options{UnkToken: m.UnkToken, MaxInputCharsPerWord: m.MaxInputCharsPerWord}
	cleanText := false
	if n := hf.Normalizer; n != nil {
		if n.Type != "BertNormalizer" {
			return nil, fmt.Errorf("normalizer type %q, want BertNormalizer", n.Type)
		}
		cleanText = n.CleanText
		opts.Lowercase = n.Lowercase
		opts.StripAccents = n.StripAccents
		opts.TokenizeChineseChars = n.HandleChineseChars
	}
	if p := hf.PreTokenizer; p == nil || p.Type != "BertPreTokenizer" {
		return nil, fmt.Errorf("pre_tokenizer must be BertPreTokenizer")
	}
	if p := hf.PostProcessor; p != nil {
		if p.Type != "BertProcessing" {
			return nil, fmt.Errorf("post_processor type %q, want BertProcessing", p.Type)
		}
		var ok1, ok2 bool
		opts.SepToken, ok1 = p.Sep[0].(string)
		opts.ClsToken, ok2 = p.Cls[0].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("post_processor: sep and cls must be [token, id] pairs")
		}
	}
	if hf.Padding != nil {
		opts.PadToken = hf.Padding.PadToken
	}

	if len(m.Vocab) == 0 {
		return nil, ErrEmptyVocab
	}
	vocab := make([]string, len(m.Vocab))
	for tok, id := range m.Vocab {
		if id < 0 || id >= int64(len(vocab)) || vocab[id] != "" {
			return nil, fmt.Errorf("model.vocab: ids are not 0..%d each used once (token %q, id %d)", len(vocab)-1, tok, id)
		}
		vocab[id] = tok
	}
	t, err := newTokenizer(vocab, m.Vocab, opts)
	if err != nil {
		return nil, err
	}
	t.cleanText = cleanText
	for _, a := range hf.AddedTokens {
		if !a.Special {
			continue
		}
		if id, ok := m.Vocab[a.Content]; !ok || id != a.ID {
			return nil, fmt.Errorf("added token %q (id %d) is not in model.vocab with that id", a.Content, a.ID)
		}
		t.addSpecial(a.Content, a.ID)
	}
	return t, nil
}
