package api

import (
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// maxDepth bounds the nesting of JSON arrays and objects, so that hostile
// input cannot exhaust the stack or build deep structures.
const maxDepth = 128

// scanner is a minimal JSON tokenizer over a byte slice. It never copies the
// input except to unescape strings, and reports errors as *Error with the
// byte offset.
type scanner struct {
	buf  []byte
	pos  int
	slow bool // decode "data" without the fast path, for tests
}

// ws skips JSON whitespace.
func (s *scanner) ws() {
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.pos < len(s.buf) {
		return s.buf[s.pos]
	}
	return 0
}

// syntaxErr reports malformed JSON at the current offset: "expected X, got Y".
func (s *scanner) syntaxErr(expected string) error {
	return BadRequest("invalid JSON at offset %d: expected %s, got %s", s.pos, expected, s.near())
}

// near describes the input at the current offset for error messages.
func (s *scanner) near() string {
	if s.pos >= len(s.buf) {
		return "end of input"
	}
	end := min(s.pos+16, len(s.buf))
	for i := s.pos; i < end; i++ {
		if c := s.buf[i]; (c == ',' || c == ']' || c == '}' || c <= ' ') && i > s.pos {
			end = i
			break
		}
	}
	return strconv.Quote(string(s.buf[s.pos:end]))
}

// kind describes the type of the JSON value at the current offset, with a
// short excerpt, for type errors ("a string \"abc\"").
func (s *scanner) kind() string {
	switch c := s.peek(); {
	case c == '"':
		return "a string " + s.near()
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '-' || c >= '0' && c <= '9':
		return "the number " + s.near()
	}
	return s.near() // true, false, null or not JSON
}

// beginObject consumes the '{' of an object.
func (s *scanner) beginObject() error {
	if s.peek() != '{' {
		return s.syntaxErr("'{'")
	}
	s.pos++
	return nil
}

// nextKey moves to the next member of an object and consumes its key and
// colon, leaving the scanner at the value. first is true for the first call
// after beginObject. ok is false at the closing brace, which is consumed.
func (s *scanner) nextKey(first bool) (key []byte, ok bool, err error) {
	c := s.peek()
	if c == '}' {
		s.pos++
		return nil, false, nil
	}
	if !first {
		if c != ',' {
			return nil, false, s.syntaxErr("',' or '}' after object member")
		}
		s.pos++
		c = s.peek()
	}
	if c != '"' {
		return nil, false, s.syntaxErr("object key string")
	}
	if key, err = s.str(); err != nil {
		return nil, false, err
	}
	if s.peek() != ':' {
		return nil, false, s.syntaxErr("':' after object key")
	}
	s.pos++
	return key, true, nil
}

// nextElem moves to the next element of an array, leaving the scanner at the
// value. first is true for the first call after the '['. ok is false at
// the closing bracket, which is consumed.
func (s *scanner) nextElem(first bool) (ok bool, err error) {
	c := s.peek()
	if c == ']' && first {
		s.pos++
		return false, nil
	}
	if !first {
		switch c {
		case ']':
			s.pos++
			return false, nil
		case ',':
			s.pos++
			if s.peek() == ']' {
				return false, s.syntaxErr("a value after ','")
			}
		default:
			return false, s.syntaxErr("',' or ']' after array element")
		}
	}
	return true, nil
}

// null consumes a JSON null if one is next and reports whether it did.
func (s *scanner) null() bool {
	if s.peek() == 'n' && s.hasLiteral("null") {
		s.pos += 4
		return true
	}
	return false
}

// hasLiteral reports whether w (true, false or null) is at the current
// offset, not followed by more letters.
func (s *scanner) hasLiteral(w string) bool {
	end := s.pos + len(w)
	if end > len(s.buf) || string(s.buf[s.pos:end]) != w {
		return false
	}
	return end == len(s.buf) || !isLetter(s.buf[end])
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' || c >= '0' && c <= '9' || c == '_' }

// bool consumes true or false; ok is false (and nothing is consumed) when
// neither is next.
func (s *scanner) bool() (v, ok bool) {
	switch s.peek() {
	case 't':
		if s.hasLiteral("true") {
			s.pos += 4
			return true, true
		}
	case 'f':
		if s.hasLiteral("false") {
			s.pos += 5
			return false, true
		}
	}
	return false, false
}

// unsafeString views b as a string without copying. The string must not
// outlive or observe changes to b; strconv does not retain its argument.
func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// str consumes a JSON string (the scanner must be at its opening quote) and
// returns its contents, unescaped. Without escapes or invalid UTF-8 the result
// aliases the input; otherwise it is a new slice, with invalid UTF-8 and lone
// surrogates replaced by U+FFFD.
func (s *scanner) str() ([]byte, error) {
	b := s.buf
	start := s.pos + 1
	for i := start; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			s.pos = i + 1
			return b[start:i], nil
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return s.strSlow(start, i)
		}
	}
	s.pos = len(b)
	return nil, s.syntaxErr("'\"' to end the string")
}

// strSlow finishes str from offset i, where the contents b[start:i] are
// plain ASCII.
func (s *scanner) strSlow(start, i int) ([]byte, error) {
	b := s.buf
	var out []byte // nil while the result can alias b[start:i]
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			s.pos = i + 1
			if out == nil {
				return b[start:i], nil
			}
			return out, nil
		case c < 0x20:
			s.pos = i
			return nil, s.syntaxErr("a string without raw control characters")
		case c < utf8.RuneSelf && c != '\\':
			if out != nil {
				out = append(out, c)
			}
			i++
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				if out == nil {
					out = append(make([]byte, 0, len(b[start:i])+16), b[start:i]...)
				}
				out = utf8.AppendRune(out, utf8.RuneError)
			} else if out != nil {
				out = append(out, b[i:i+n]...)
			}
			i += n
		default: // backslash
			if out == nil {
				out = append(make([]byte, 0, len(b[start:i])+16), b[start:i]...)
			}
			if i+1 >= len(b) {
				s.pos = len(b)
				return nil, s.syntaxErr("an escape sequence")
			}
			var ok bool
			out, i, ok = unescape(out, b, i)
			if !ok {
				s.pos = i
				return nil, s.syntaxErr("a valid escape sequence")
			}
		}
	}
	s.pos = len(b)
	return nil, s.syntaxErr("'\"' to end the string")
}

// unescape decodes the escape sequence at b[i] (a backslash), appends it to
// out and returns the offset after it. On failure it returns the offset of
// the bad sequence and false.
func unescape(out, b []byte, i int) ([]byte, int, bool) {
	switch b[i+1] {
	case '"', '\\', '/':
		return append(out, b[i+1]), i + 2, true
	case 'b':
		return append(out, '\b'), i + 2, true
	case 'f':
		return append(out, '\f'), i + 2, true
	case 'n':
		return append(out, '\n'), i + 2, true
	case 'r':
		return append(out, '\r'), i + 2, true
	case 't':
		return append(out, '\t'), i + 2, true
	case 'u':
		r, ok := hex4(b, i+2)
		if !ok {
			return out, i, false
		}
		i += 6
		if r >= 0xd800 && r < 0xdc00 { // high surrogate: a low one must follow
			if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
				if r2, ok := hex4(b, i+2); ok && r2 >= 0xdc00 && r2 < 0xe000 {
					r = 0x10000 + (r-0xd800)<<10 + (r2 - 0xdc00)
					i += 6
				}
			}
		}
		if r >= 0xd800 && r < 0xe000 {
			r = utf8.RuneError
		}
		return utf8.AppendRune(out, r), i, true
	}
	return out, i, false
}

// hex4 decodes the four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c|0x20 >= 'a' && c|0x20 <= 'f':
			c = c | 0x20 - 'a' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// skip consumes one JSON value of any kind, checking its syntax. depth is the
// nesting depth of the value.
func (s *scanner) skip(depth int) error {
	if depth > maxDepth {
		return BadRequest("invalid JSON at offset %d: nested deeper than %d levels", s.pos, maxDepth)
	}
	switch c := s.peek(); {
	case c == '{':
		s.pos++
		for first := true; ; first = false {
			_, ok, err := s.nextKey(first)
			if err != nil || !ok {
				return err
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
		}
	case c == '[':
		s.pos++
		for first := true; ; first = false {
			ok, err := s.nextElem(first)
			if err != nil || !ok {
				return err
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
		}
	case c == '"':
		return s.skipString()
	case c == '-' || c >= '0' && c <= '9':
		_, _, err := s.number()
		return err
	case c == 'n':
		if s.null() {
			return nil
		}
	case c == 't' || c == 'f':
		if _, ok := s.bool(); ok {
			return nil
		}
	}
	return s.syntaxErr("a JSON value")
}

// skipString consumes a string, checking its escapes, without unescaping.
func (s *scanner) skipString() error {
	b := s.buf
	for i := s.pos + 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			s.pos = i + 1
			return nil
		case c < 0x20:
			s.pos = i
			return s.syntaxErr("a string without raw control characters")
		case c == '\\':
			if i+1 >= len(b) {
				s.pos = i
				return s.syntaxErr("a valid escape sequence")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if _, ok := hex4(b, i+2); !ok {
					s.pos = i
					return s.syntaxErr("a valid escape sequence")
				}
				i += 5
			default:
				s.pos = i
				return s.syntaxErr("a valid escape sequence")
			}
		}
	}
	s.pos = len(b)
	return s.syntaxErr("'\"' to end the string")
}
