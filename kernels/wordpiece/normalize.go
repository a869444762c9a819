package wordpiece

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// appendPieceIDs appends the piece ids of text, without [CLS] and [SEP], to dst.
func (t *Tokenizer) appendPieceIDs(dst []int64, text string) []int64 {
	var buf []byte
	for text != "" {
		at, tok := t.nextSpecial(text)
		buf = t.normalize(buf[:0], text[:at])
		dst = t.appendWords(dst, buf)
		if tok == "" {
			break
		}
		dst = append(dst, t.specialIDs[tok])
		text = text[at+len(tok):]
	}
	return dst
}

// nextSpecial finds the leftmost special token in s, the longest one if several start there. It
// returns its byte offset and spelling, or len(s) and "" when s has none.
func (t *Tokenizer) nextSpecial(s string) (int, string) {
	for i := 0; i < len(s); i++ {
		for _, tok := range t.specials { // longest first
			if s[i] == tok[0] && len(s)-i >= len(tok) && s[i:i+len(tok)] == tok {
				return i, tok
			}
		}
	}
	return len(s), ""
}

// normalize appends the BertNormalizer form of s to buf: cleaned, CJK ideographs spaced, accents
// stripped and lowercased as configured.
func (t *Tokenizer) normalize(buf []byte, s string) []byte {
	ascii := true
	for _, r := range s {
		if t.cleanText {
			if r == 0 || r == utf8.RuneError || isControl(r) {
				continue
			}
			if unicode.IsSpace(r) {
				buf = append(buf, ' ')
				continue
			}
		}
		if r >= utf8.RuneSelf {
			ascii = false
			if t.chinese && isCJK(r) {
				buf = append(buf, ' ')
				buf = utf8.AppendRune(buf, r)
				buf = append(buf, ' ')
				continue
			}
		}
		buf = utf8.AppendRune(buf, r)
	}
	if ascii {
		if t.lowercase {
			for i, c := range buf {
				if 'A' <= c && c <= 'Z' {
					buf[i] = c + 'a' - 'A'
				}
			}
		}
		return buf
	}
	if !t.stripAccents && !t.lowercase {
		return buf
	}
	src := buf
	if t.stripAccents {
		src = norm.NFD.Bytes(buf)
	}
	out := make([]byte, 0, len(src))
	for len(src) > 0 {
		r, n := utf8.DecodeRune(src)
		src = src[n:]
		if t.stripAccents && unicode.Is(unicode.Mn, r) {
			continue
		}
		if t.lowercase {
			if r == 'İ' { // the one rune whose full lowercase mapping is two runes
				out = append(out, "i\u0307"...)
				continue
			}
			r = unicode.ToLower(r)
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}

// appendWords splits normalised text on white space and punctuation (BertPreTokenizer) and
// appends the piece ids of every word to dst.
func (t *Tokenizer) appendWords(dst []int64, s []byte) []int64 {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRune(s[i:])
		switch {
		case unicode.IsSpace(r):
			i += n
		case isPunct(r):
			dst = t.appendWord(dst, s[i:i+n])
			i += n
		default:
			j := i + n
			for j < len(s) {
				r, m := utf8.DecodeRune(s[j:])
				if unicode.IsSpace(r) || isPunct(r) {
					break
				}
				j += m
			}
			dst = t.appendWord(dst, s[i:j])
			i = j
		}
	}
	return dst
}

// appendWord appends the greedy longest-match-first pieces of word to dst, or the unknown token
// if the word is too long or some part of it matches no piece.
func (t *Tokenizer) appendWord(dst []int64, word []byte) []int64 {
	if utf8.RuneCount(word) > t.maxChars {
		return append(dst, t.unk)
	}
	first := len(dst)
	for start := 0; start < len(word); {
		end := len(word)
		for ; end > start; end -= lastRuneLen(word[start:end]) {
			var id int32
			var ok bool
			if start == 0 {
				id, ok = t.initial[string(word[:end])] // no allocation: map index by converted bytes
			} else {
				id, ok = t.cont[string(word[start:end])]
			}
			if ok {
				dst = append(dst, int64(id))
				break
			}
		}
		if end == start {
			return append(dst[:first], t.unk)
		}
		start = end
	}
	return dst
}

func lastRuneLen(b []byte) int {
	_, n := utf8.DecodeLastRune(b)
	return n
}

// isControl reports whether r is dropped when cleaning text: control, format and private-use
// characters (Cc, Cf, Co) other than tab, newline and carriage return. Unassigned code points
// (Cn) are kept, as the Rust tokenizers crate does.
func isControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	if r < utf8.RuneSelf {
		return r < 0x20 || r == 0x7f
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co)
}

// isPunct reports whether r is a word on its own: every ASCII non-alphanumeric printable
// character and every rune of Unicode category P.
func isPunct(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 33 && r <= 47 || r >= 58 && r <= 64 || r >= 91 && r <= 96 || r >= 123 && r <= 126
	}
	return unicode.IsPunct(r)
}

// isCJK reports whether r is in a CJK Unified Ideographs or CJK Compatibility Ideographs block,
// the ranges BERT's tokenize_chinese_chars uses (Hangul, kana and CJK punctuation are not).
func isCJK(r rune) bool {
	return r >= 0x4E00 && r <= 0x9FFF ||
		r >= 0x3400 && r <= 0x4DBF ||
		r >= 0x20000 && r <= 0x2A6DF ||
		r >= 0x2A700 && r <= 0x2B73F ||
		r >= 0x2B740 && r <= 0x2B81F ||
		r >= 0x2B820 && r <= 0x2CEAF ||
		r >= 0xF900 && r <= 0xFAFF ||
		r >= 0x2F800 && r <= 0x2FA1F
}
