package axonproto

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Message is the string a dendrite signs and an axon verifies:
// "nonce.dendriteHotkey.axonHotkey.uuid.bodyHash" (spec §1.5).
func Message(nonce int64, dendriteHotkey, axonHotkey, uuid, bodyHash string) string {
	return strconv.FormatInt(nonce, 10) + "." + dendriteHotkey + "." + axonHotkey + "." + uuid + "." + bodyHash
}

// FormatSignature writes a 64-byte signature as the bt_header_dendrite_signature
// value: "0x" + 128 lower-case hex digits.
func FormatSignature(sig [64]byte) string { return "0x" + hex.EncodeToString(sig[:]) }

// ParseSignature reads "0x" + 128 hex digits (either case). Its errors are
// the SDK's messages, sent to the caller as they are.
func ParseSignature(s string) ([64]byte, error) {
	var sig [64]byte
	if !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
		//lint:ignore ST1005 the SDK's message, sent to the validator as is
		return sig, errors.New("Invalid signature format")
	}
	if len(s) != 2+128 {
		//lint:ignore ST1005 the SDK's message, sent to the validator as is
		return sig, errors.New("Invalid signature")
	}
	if _, err := hex.Decode(sig[:], []byte(s[2:])); err != nil {
		//lint:ignore ST1005 the SDK's message, sent to the validator as is
		return sig, errors.New("Invalid signature format")
	}
	return sig, nil
}

// NewUUID returns a random (version 4) UUID, as the axon and the dendrite
// send in their terminal infos.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
