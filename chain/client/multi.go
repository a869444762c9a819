package client

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
)

// maxKeysPerQuery bounds the keys of one state_queryStorageAt request.
const maxKeysPerQuery = 256

// StorageMulti reads many storage values at one block (at, nil = best block) with
// state_queryStorageAt, in batches. values[i] is nil when keys[i] holds no value.
func (c *Client) StorageMulti(ctx context.Context, keys [][]byte, at *Hash) ([][]byte, error) {
	values := make([][]byte, len(keys))
	index := make(map[string]int, len(keys))
	for i, k := range keys {
		index[hex.EncodeToString(k)] = i
	}
	for start := 0; start < len(keys); start += maxKeysPerQuery {
		batch := keys[start:min(start+maxKeysPerQuery, len(keys))]
		hexKeys := make([]Bytes, len(batch))
		for i, k := range batch {
			hexKeys[i] = Bytes(k)
		}
		var sets []struct {
			Block   Hash        `json:"block"`
			Changes [][2]*Bytes `json:"changes"`
		}
		if err := c.t.Call(ctx, "state_queryStorageAt", &sets, atParams([]any{hexKeys}, at)...); err != nil {
			return nil, fmt.Errorf("chain: query %d storage keys: %w", len(batch), err)
		}
		for _, set := range sets {
			for _, ch := range set.Changes {
				if ch[0] == nil {
					continue
				}
				i, ok := index[strings.ToLower(hex.EncodeToString(*ch[0]))]
				if !ok || ch[1] == nil {
					continue
				}
				values[i] = *ch[1]
			}
		}
	}
	return values, nil
}
