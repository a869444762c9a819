// Package storage builds Substrate storage keys: twox128(pallet) ++ twox128(item) followed by
// each map key hashed with the entry's hasher, which comes from the runtime metadata.
package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/cespare/xxhash/v2"
	"golang.org/x/crypto/blake2b"

	"github.com/taominer/taominer/chain/metadata"
)

// Twox64 returns xxhash64 of b with seed 0, little-endian (8 bytes).
func Twox64(b []byte) []byte { return twox(b, 1) }

// Twox128 returns xxhash64 of b with seeds 0 and 1, each little-endian, concatenated (16 bytes).
func Twox128(b []byte) []byte { return twox(b, 2) }

// Twox256 returns xxhash64 of b with seeds 0…3, concatenated (32 bytes).
func Twox256(b []byte) []byte { return twox(b, 4) }

func twox(b []byte, n int) []byte {
	out := make([]byte, 0, 8*n)
	for seed := range n {
		h := xxhash.NewWithSeed(uint64(seed))
		h.Write(b)
		out = binary.LittleEndian.AppendUint64(out, h.Sum64())
	}
	return out
}

// Blake2_128 returns the 16-byte blake2b digest of b.
func Blake2_128(b []byte) []byte {
	h, _ := blake2b.New(16, nil) // only fails for bad sizes or keys
	h.Write(b)
	return h.Sum(nil)
}

// Blake2_256 returns the 32-byte blake2b digest of b.
func Blake2_256(b []byte) []byte {
	s := blake2b.Sum256(b)
	return s[:]
}

// Hash applies hasher h to the SCALE-encoded key part k.
func Hash(h metadata.Hasher, k []byte) ([]byte, error) {
	switch h {
	case metadata.Blake2_128:
		return Blake2_128(k), nil
	case metadata.Blake2_256:
		return Blake2_256(k), nil
	case metadata.Blake2_128Concat:
		return append(Blake2_128(k), k...), nil
	case metadata.Twox128:
		return Twox128(k), nil
	case metadata.Twox256:
		return Twox256(k), nil
	case metadata.Twox64Concat:
		return append(Twox64(k), k...), nil
	case metadata.Identity:
		return append([]byte(nil), k...), nil
	}
	return nil, fmt.Errorf("storage: unknown hasher %v", h)
}

// Prefix returns twox128(pallet) ++ twox128(item), the key of a plain item and the common prefix
// of all keys of a map.
func Prefix(pallet, item string) []byte {
	return append(Twox128([]byte(pallet)), Twox128([]byte(item))...)
}

// RawKey builds a key from explicit hashers; keys[i] is the SCALE encoding of the i-th map key.
// Fewer keys than hashers give a partial key (a prefix for state_getKeysPaged).
func RawKey(pallet, item string, hashers []metadata.Hasher, keys ...[]byte) ([]byte, error) {
	if len(keys) > len(hashers) {
		return nil, fmt.Errorf("storage: %s.%s takes %d keys, got %d", pallet, item, len(hashers), len(keys))
	}
	out := Prefix(pallet, item)
	for i, k := range keys {
		hk, err := Hash(hashers[i], k)
		if err != nil {
			return nil, err
		}
		out = append(out, hk...)
	}
	return out, nil
}

// Key builds the key of storage item pallet.item with the hashers the metadata declares;
// keys[i] is the SCALE encoding of the i-th map key (e.g. netuid as 2 bytes LE, an AccountId32
// as its 32 bytes). Fewer keys than the entry has give a partial key for paging.
func Key(m *metadata.Metadata, pallet, item string, keys ...[]byte) ([]byte, error) {
	e, err := m.StorageEntry(pallet, item)
	if err != nil {
		return nil, err
	}
	if e.Plain && len(keys) > 0 {
		return nil, fmt.Errorf("storage: %s.%s is a plain item and takes no keys", pallet, item)
	}
	p, _ := m.Pallet(pallet)
	prefix := pallet
	if p != nil && p.StoragePrefix != "" {
		prefix = p.StoragePrefix
	}
	return RawKey(prefix, item, e.Hashers, keys...)
}
