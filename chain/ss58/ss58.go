// Package ss58 encodes and decodes Substrate SS58 addresses.
//
// An address is base58(prefix ‖ public key ‖ checksum), where the checksum is
// the first two bytes of blake2b-512("SS58PRE" ‖ prefix ‖ public key).
// Bittensor uses prefix 42 ([BittensorPrefix]); every address this project
// displays is encoded with it.
package ss58

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/blake2b"
)

// BittensorPrefix is the SS58 address format of the Bittensor chains
// (subtensor's SS58Prefix and btwallet's SS58_FORMAT).
const BittensorPrefix = 42

// maxPrefix is the largest prefix the two-byte SS58 form can carry.
const maxPrefix = 16383

// ErrInvalid is returned (wrapped) for any string that is not a valid SS58
// address for a 32-byte public key.
var ErrInvalid = errors.New("invalid ss58 address")

// Encode returns the SS58 address of a 32-byte public key with the given
// prefix. It panics if prefix is above 16383, which no chain uses; callers
// pass a constant.
func Encode(pub [32]byte, prefix uint16) string {
	if prefix > maxPrefix {
		panic(fmt.Sprintf("ss58: prefix %d out of range", prefix))
	}
	var raw []byte
	if prefix < 64 {
		raw = append(raw, byte(prefix))
	} else {
		raw = append(raw,
			byte((prefix&0b1111_1100)>>2)|0b0100_0000,
			byte(prefix>>8)|byte(prefix&0b11)<<6)
	}
	raw = append(raw, pub[:]...)
	sum := checksum(raw)
	raw = append(raw, sum[0], sum[1])
	return base58Encode(raw)
}

// EncodeBittensor returns the address of pub with [BittensorPrefix].
func EncodeBittensor(pub [32]byte) string { return Encode(pub, BittensorPrefix) }

// Decode parses an SS58 address of a 32-byte public key and returns the key
// and the address prefix. The checksum is verified.
func Decode(addr string) (pub [32]byte, prefix uint16, err error) {
	raw, err := base58Decode(addr)
	if err != nil {
		return pub, 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if len(raw) == 0 {
		return pub, 0, fmt.Errorf("%w: empty", ErrInvalid)
	}
	head := 1
	switch b := raw[0]; {
	case b < 64:
		prefix = uint16(b)
	case b < 128:
		if len(raw) < 2 {
			return pub, 0, fmt.Errorf("%w: too short", ErrInvalid)
		}
		lower := (b << 2) | (raw[1] >> 6)
		upper := raw[1] & 0b0011_1111
		prefix = uint16(lower) | uint16(upper)<<8
		head = 2
	default:
		return pub, 0, fmt.Errorf("%w: reserved prefix byte %#x", ErrInvalid, b)
	}
	if len(raw) != head+32+2 {
		return pub, 0, fmt.Errorf("%w: %d bytes, want %d for a 32-byte key", ErrInvalid, len(raw), head+32+2)
	}
	sum := checksum(raw[:head+32])
	if sum[0] != raw[head+32] || sum[1] != raw[head+33] {
		return pub, 0, fmt.Errorf("%w: bad checksum", ErrInvalid)
	}
	copy(pub[:], raw[head:head+32])
	return pub, prefix, nil
}

// DecodeBittensor parses addr and requires [BittensorPrefix].
func DecodeBittensor(addr string) ([32]byte, error) {
	pub, prefix, err := Decode(addr)
	if err != nil {
		return pub, err
	}
	if prefix != BittensorPrefix {
		return [32]byte{}, fmt.Errorf("%w: prefix %d, want %d", ErrInvalid, prefix, BittensorPrefix)
	}
	return pub, nil
}

func checksum(data []byte) [64]byte {
	h, _ := blake2b.New512(nil) // cannot fail without a key
	h.Write([]byte("SS58PRE"))
	h.Write(data)
	var out [64]byte
	h.Sum(out[:0])
	return out
}
