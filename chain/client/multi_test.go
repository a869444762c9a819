package client_test

import (
	"context"
	"encoding/hex"
	"testing"

	"github.com/taominer/taominer/chain/chaintest"
	"github.com/taominer/taominer/chain/internal/fixtures"
)

// TestStorageMulti reads a recorded state_queryStorageAt exchange (seed "neurons", spec 208):
// one key, its value at that block.
func TestStorageMulti(t *testing.T) {
	n := chaintest.NewMetagraph(t)
	n.AddSeeds("neurons")
	c, _ := connect(t, n)
	key := fixtures.Hex(t, "0x658faa385070e074c85bf6b568cf0555a1e7036061f484bc3048a64b64e35ec417000a00")
	at := mustHash(t, "0x67adc1cae2bb149f9cd5042966bb0ee02978dd600fcb64edca67c4cfa2650cc7")
	vals, err := c.StorageMulti(context.Background(), [][]byte{key}, &at)
	if err != nil || len(vals) != 1 || hex.EncodeToString(vals[0]) != "040a00ffff" {
		t.Fatalf("StorageMulti = %x, %v", vals, err)
	}
}
