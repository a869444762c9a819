package imageproc

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// DecodeBase64 decodes s in the standard or the URL-safe alphabet, padded or
// not. It ignores ASCII whitespace (MIME line breaks) and an optional data
// URI prefix ("data:image/jpeg;base64,"). Mixing '+' or '/' with '-' or '_'
// is an error.
func DecodeBase64(s string) ([]byte, error) {
	if strings.HasPrefix(s, "data:") {
		i := strings.IndexByte(s, ',')
		if i < 0 {
			return nil, fmt.Errorf("%w: data URI without a comma", ErrBase64)
		}
		if !strings.HasSuffix(s[:i], ";base64") {
			return nil, fmt.Errorf("%w: data URI is not base64 (%q)", ErrBase64, s[:i])
		}
		s = s[i+1:]
	}
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			return -1
		}
		return r
	}, s)
	s = strings.TrimRight(s, "=")
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		if strings.ContainsAny(s, "+/") {
			return nil, fmt.Errorf("%w: mixes the standard and URL-safe alphabets", ErrBase64)
		}
		enc = base64.RawURLEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBase64, err)
	}
	return b, nil
}
