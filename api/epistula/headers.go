package epistula

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
)

// Header names, as senders write them (Go canonicalises to these).
const (
	HeaderVersion   = "Epistula-Version"
	HeaderTimestamp = "Epistula-Timestamp"
	HeaderUUID      = "Epistula-Uuid"
	HeaderSignedBy  = "Epistula-Signed-By"
	HeaderSignedFor = "Epistula-Signed-For"
	HeaderSignature = "Epistula-Request-Signature"
)

// Version is the protocol version this package speaks.
const Version = "2"

// Headers are the Epistula headers of one request, parsed and checked for
// form (not for truth).
type Headers struct {
	// Timestamp is the header's text, used verbatim in the message;
	// TimestampMs its value, Unix milliseconds.
	Timestamp   string
	TimestampMs int64
	UUID        string
	SignedBy    string
	// SignedFor is "" when the header is absent.
	SignedFor string
	Signature [64]byte
}

// HeaderError is a header that is missing, repeated or malformed.
type HeaderError struct {
	// Missing is true when a required header is absent (or empty).
	Missing bool
	// Header names the header; Msg says what is wrong and what to send.
	Header, Msg string
}

func (e *HeaderError) Error() string { return e.Header + ": " + e.Msg }

// one returns the single value of header name: "" when absent, an error
// when sent more than once.
func one(h http.Header, name string) (string, error) {
	v := h.Values(name)
	switch len(v) {
	case 0:
		return "", nil
	case 1:
		return v[0], nil
	}
	return "", &HeaderError{Header: name, Msg: fmt.Sprintf("sent %d times; send it once", len(v))}
}

// ParseHeaders reads the v2 headers other than the version (see
// CheckVersion): Timestamp (canonical decimal milliseconds, 1 to 19 digits,
// within int64), Uuid (36 characters, 8-4-4-4-12 hex digits in either
// case), Signed-By (1 to 64 characters; whether it is an address is the
// verifier's business), Signed-For (optional, at most 64 characters) and
// Request-Signature ("0x" or "0X" and exactly 128 hex digits, either case).
// Errors are *HeaderError.
func ParseHeaders(h http.Header) (Headers, error) {
	var out Headers
	var err error
	get := func(name string, required bool, maxLen int) string {
		if err != nil {
			return ""
		}
		var v string
		if v, err = one(h, name); err != nil {
			return ""
		}
		switch {
		case v == "" && required:
			err = &HeaderError{Missing: true, Header: name, Msg: "missing; every Epistula v2 request carries it"}
		case len(v) > maxLen:
			err = &HeaderError{Header: name, Msg: fmt.Sprintf("%d characters, at most %d are accepted", len(v), maxLen)}
		}
		return v
	}
	out.Timestamp = get(HeaderTimestamp, true, 19)
	out.UUID = get(HeaderUUID, true, 36)
	out.SignedBy = get(HeaderSignedBy, true, 64)
	out.SignedFor = get(HeaderSignedFor, false, 64)
	sig := get(HeaderSignature, true, 130)
	if err != nil {
		return out, err
	}
	if out.TimestampMs, err = parseTimestamp(out.Timestamp); err != nil {
		return out, err
	}
	if !isUUID(out.UUID) {
		return out, &HeaderError{Header: HeaderUUID, Msg: fmt.Sprintf("%q is not a uuid (8-4-4-4-12 hex digits, as str(uuid4()))", out.UUID)}
	}
	if out.Signature, err = ParseSignature(sig); err != nil {
		return out, err
	}
	return out, nil
}

// CheckVersion checks Epistula-Version: present once and exactly "2".
func CheckVersion(h http.Header) error {
	v, err := one(h, HeaderVersion)
	if err != nil {
		return err
	}
	if v != Version {
		return &HeaderError{Header: HeaderVersion, Msg: fmt.Sprintf("unknown Epistula version %q; only version 2 is accepted", v)}
	}
	return nil
}

// parseTimestamp reads canonical decimal milliseconds: digits only, no
// sign, no spaces, within int64.
func parseTimestamp(s string) (int64, error) {
	bad := &HeaderError{Header: HeaderTimestamp, Msg: fmt.Sprintf("%q is not Unix time in milliseconds as plain decimal digits", s)}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, bad
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, bad
	}
	return n, nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// ParseSignature reads Epistula-Request-Signature: "0x" (or "0X") and
// exactly 128 hex digits in either case, a 64-byte sr25519 signature.
func ParseSignature(s string) ([64]byte, error) {
	var sig [64]byte
	if len(s) != 130 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') {
		return sig, &HeaderError{Header: HeaderSignature, Msg: fmt.Sprintf("%d characters; expected 0x and 128 hex digits (a 64-byte sr25519 signature)", len(s))}
	}
	if _, err := hex.Decode(sig[:], []byte(s[2:])); err != nil {
		return sig, &HeaderError{Header: HeaderSignature, Msg: "not hex; expected 0x and 128 hex digits (a 64-byte sr25519 signature)"}
	}
	return sig, nil
}

// FormatSignature is the header text of sig: "0x" and lower-case hex.
func FormatSignature(sig [64]byte) string { return "0x" + hex.EncodeToString(sig[:]) }

// BodyHash is the lower-case hex SHA-256 of the raw body bytes, no "0x".
func BodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// Message is the signed text: body hash, uuid, timestamp text and the
// Signed-For value ("" when absent: the message then ends with ".").
func Message(bodyHash, uuid, timestamp, signedFor string) string {
	return bodyHash + "." + uuid + "." + timestamp + "." + signedFor
}
