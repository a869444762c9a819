package storage_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/taominer/taominer/chain/internal/fixtures"
	"github.com/taominer/taominer/chain/metadata"
	"github.com/taominer/taominer/chain/storage"
)

var hasherByName = map[string]metadata.Hasher{
	"Blake2_128": metadata.Blake2_128, "Blake2_256": metadata.Blake2_256, "Blake2_128Concat": metadata.Blake2_128Concat,
	"Twox128": metadata.Twox128, "Twox256": metadata.Twox256, "Twox64Concat": metadata.Twox64Concat, "Identity": metadata.Identity,
}

type vectorFile struct {
	Prefixes map[string]string `json:"prefixes"`
	Vectors  []struct {
		Seed   string `json:"seed"`
		Key    string `json:"key"`
		Pallet string `json:"pallet"`
		Item   string `json:"item"`
		Args   []struct {
			Hasher string `json:"hasher"`
			Raw    string `json:"raw"`
		} `json:"args"`
	} `json:"vectors"`
}

func TestTwoxKnown(t *testing.T) {
	// Spec §3.1.
	tests := map[string]string{
		"SubtensorModule": "658faa385070e074c85bf6b568cf0555",
		"System":          "26aa394eea5630e07c48ae0c9558cef7",
		"Account":         "b99d880ec681799c0cf30e8886371da9",
		"Uids":            "aab1b4e78e1ea8305462ee53b3686dc8",
	}
	for in, want := range tests {
		if got := hex.EncodeToString(storage.Twox128([]byte(in))); got != want {
			t.Errorf("Twox128(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestRecordedKeys rebuilds every recorded state_getStorageAt key of ws_recorded.json (decomposed
// in storage_key_vectors.json) from pallet, item, hashers and raw key parts, and checks the item
// hash table.
func TestRecordedKeys(t *testing.T) {
	var vf vectorFile
	if err := json.Unmarshal(fixtures.Read(t, "storage_key_vectors.json"), &vf); err != nil {
		t.Fatal(err)
	}
	if len(vf.Vectors) < 20 {
		t.Fatalf("only %d vectors", len(vf.Vectors))
	}
	for name, want := range vf.Prefixes {
		if got := "0x" + hex.EncodeToString(storage.Twox128([]byte(name))); got != want {
			t.Errorf("Twox128(%q) = %s, want %s", name, got, want)
		}
	}
	m, err := metadata.DecodeOpaque(fixtures.MetadataBlob(t, "metadata_at_version15_spec343.hex"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vf.Vectors {
		var hashers []metadata.Hasher
		var keys [][]byte
		for _, a := range v.Args {
			h, ok := hasherByName[a.Hasher]
			if !ok {
				t.Fatalf("%s.%s: unknown hasher %q", v.Pallet, v.Item, a.Hasher)
			}
			hashers = append(hashers, h)
			keys = append(keys, fixtures.Hex(t, a.Raw))
		}
		want := fixtures.Hex(t, v.Key)
		if len(v.Args) == 0 && len(want) > 48 {
			// System.Account is recorded without its args: Blake2_128Concat(AccountId32).
			hashers = []metadata.Hasher{metadata.Blake2_128Concat}
			keys = [][]byte{want[48:]}
		}
		got, err := storage.RawKey(v.Pallet, v.Item, hashers, keys...)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s %s.%s: key %x, %v\nwant %x", v.Seed, v.Pallet, v.Item, got, err, want)
		}
		// Where the spec-343 metadata has the item, its hashers give the same key.
		if _, err := m.StorageEntry(v.Pallet, v.Item); err == nil {
			got, err := storage.Key(m, v.Pallet, v.Item, keys...)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("Key(%s.%s) via metadata = %x, %v\nwant %x", v.Pallet, v.Item, got, err, want)
			}
		}
	}
}

func TestWorkedExample(t *testing.T) {
	// Spec §3.1: Uids(14, 0x1a33…093e).
	m, err := metadata.Decode(fixtures.MetadataBlob(t, "metadata_v14_spec343.hex"))
	if err != nil {
		t.Fatal(err)
	}
	hk := fixtures.Hex(t, "1a33474e4a857009da52aaa4080f176465f99c09763e03b9cd5ee038cec4093e")
	got, err := storage.Key(m, "SubtensorModule", "Uids", []byte{14, 0}, hk)
	if err != nil {
		t.Fatal(err)
	}
	want := "658faa385070e074c85bf6b568cf0555" + "aab1b4e78e1ea8305462ee53b3686dc8" + "0e00" +
		"5d3e588dc49748e3395ac2bc5a234374" + "1a33474e4a857009da52aaa4080f176465f99c09763e03b9cd5ee038cec4093e"
	if hex.EncodeToString(got) != want {
		t.Errorf("Uids key = %x\nwant %s", got, want)
	}
	// Partial key (prefix for paging) and argument-count errors.
	p, err := storage.Key(m, "SubtensorModule", "Uids", []byte{14, 0})
	if err != nil || hex.EncodeToString(p) != want[:68] {
		t.Errorf("partial key = %x, %v", p, err)
	}
	if _, err := storage.Key(m, "SubtensorModule", "Uids", []byte{14, 0}, hk, hk); err == nil {
		t.Error("three keys for a double map accepted")
	}
	if _, err := storage.Key(m, "SubtensorModule", "TotalNetworks", []byte{1}); err == nil {
		t.Error("key for a plain item accepted")
	}
	// MechanismCountCurrent uses Twox64Concat (spec §3.2).
	mc, err := storage.Key(m, "SubtensorModule", "MechanismCountCurrent", []byte{1, 0})
	if err != nil || !bytes.Equal(mc[32:40], storage.Twox64([]byte{1, 0})) || !bytes.Equal(mc[40:], []byte{1, 0}) {
		t.Errorf("MechanismCountCurrent key = %x, %v", mc, err)
	}
}
