package client

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Hash is a 32-byte block or extrinsic hash; it marshals as 0x-prefixed hex.
type Hash [32]byte

// String returns h as 0x-prefixed hex.
func (h Hash) String() string { return "0x" + hex.EncodeToString(h[:]) }

// MarshalJSON encodes h as a hex string.
func (h Hash) MarshalJSON() ([]byte, error) { return json.Marshal(h.String()) }

// UnmarshalJSON decodes a 0x-prefixed hex string of 32 bytes.
func (h *Hash) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("hash: %w", err)
	}
	v, err := ParseHash(s)
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// ParseHash parses a 0x-prefixed hex hash.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil || len(b) != 32 {
		return h, fmt.Errorf("hash: %.70q is not 32 bytes of hex", s)
	}
	copy(h[:], b)
	return h, nil
}

// Bytes is a byte string that marshals as 0x-prefixed hex (SCALE values, keys, extrinsics).
type Bytes []byte

// MarshalJSON encodes b as a hex string.
func (b Bytes) MarshalJSON() ([]byte, error) { return json.Marshal("0x" + hex.EncodeToString(b)) }

// UnmarshalJSON decodes a hex string (with or without 0x).
func (b *Bytes) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("bytes: %w", err)
	}
	v, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		return fmt.Errorf("bytes: %w", err)
	}
	*b = v
	return nil
}

// RuntimeVersion is the result of state_getRuntimeVersion.
type RuntimeVersion struct {
	SpecName           string `json:"specName"`
	ImplName           string `json:"implName"`
	AuthoringVersion   uint32 `json:"authoringVersion"`
	SpecVersion        uint32 `json:"specVersion"`
	ImplVersion        uint32 `json:"implVersion"`
	TransactionVersion uint32 `json:"transactionVersion"`
	StateVersion       uint8  `json:"stateVersion"`
}

// Header is a block header (digest omitted).
type Header struct {
	ParentHash     Hash
	Number         uint64
	StateRoot      Hash
	ExtrinsicsRoot Hash
}

// UnmarshalJSON decodes a header whose number is a hex string.
func (h *Header) UnmarshalJSON(b []byte) error {
	var raw struct {
		ParentHash     Hash   `json:"parentHash"`
		Number         string `json:"number"`
		StateRoot      Hash   `json:"stateRoot"`
		ExtrinsicsRoot Hash   `json:"extrinsicsRoot"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(raw.Number, "0x"), 16, 64)
	if err != nil {
		return fmt.Errorf("header: number %q: %w", raw.Number, err)
	}
	*h = Header{ParentHash: raw.ParentHash, Number: n, StateRoot: raw.StateRoot, ExtrinsicsRoot: raw.ExtrinsicsRoot}
	return nil
}
