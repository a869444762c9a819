package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/taominer/taominer/chain/metadata"
	"github.com/taominer/taominer/chain/scale"
	"github.com/taominer/taominer/chain/storage"
)

// Query batches storage reads of one block into StorageMulti requests: each Add names an item
// and how to decode its value, and Run reads them all and decodes each in the order added. An
// item the runtime's metadata lacks is skipped (Add reports false), so callers read what a
// runtime has and pick their behaviour from what is missing. Get one with State.Query.
type Query struct {
	s    State
	keys [][]byte
	reqs []request
}

type request struct {
	name string
	ent  *metadata.StorageEntry
	// dec decodes the value (or the default); present says whether the key held a value.
	dec func(d *scale.Decoder, present bool)
}

// Query returns an empty batch of reads at s's block.
func (s State) Query() *Query { return &Query{s: s} }

// Has reports whether the runtime's metadata has pallet.item.
func (q *Query) Has(pallet, item string) bool {
	_, err := q.s.c.Runtime().Metadata.StorageEntry(pallet, item)
	return err == nil
}

// Add queues a read of pallet.item under keys, decoded by dec when Run reads it. It reports
// false, and queues nothing, when the runtime has no such item. At Run, a key holding no value
// decodes the item's metadata default (present false), or for an optional item (no default)
// calls dec(nil, false).
func (q *Query) Add(pallet, item string, dec func(d *scale.Decoder, present bool), keys ...[]byte) (bool, error) {
	md := q.s.c.Runtime().Metadata
	ent, err := md.StorageEntry(pallet, item)
	if errors.Is(err, metadata.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("storage %s: %w", item, err)
	}
	k, err := storage.Key(md, pallet, item, keys...)
	if err != nil {
		return false, fmt.Errorf("storage key %s: %w", item, err)
	}
	q.keys = append(q.keys, k)
	q.reqs = append(q.reqs, request{item, ent, dec})
	return true, nil
}

// Run reads every queued key in one StorageMulti and decodes each value; a value with bytes
// left over or too few is an error naming its item. The batch is then empty, ready for the
// next round of Adds.
func (q *Query) Run(ctx context.Context) error {
	if len(q.keys) == 0 {
		return nil
	}
	vals, err := q.s.c.StorageMulti(ctx, q.keys, q.s.at)
	if err != nil {
		return fmt.Errorf("read %d storage keys: %w", len(q.keys), err)
	}
	if len(vals) != len(q.keys) {
		return fmt.Errorf("read storage: %d values for %d keys", len(vals), len(q.keys))
	}
	var errs []error
	for i, r := range q.reqs {
		v, present := vals[i], vals[i] != nil
		if !present {
			if r.ent.Modifier != metadata.Default {
				r.dec(nil, false)
				continue
			}
			v = r.ent.Default
		}
		d := scale.NewDecoder(v)
		r.dec(d, present)
		if err := d.Finish(); err != nil {
			errs = append(errs, fmt.Errorf("decode %s: %w", r.name, err))
		}
	}
	q.keys, q.reqs = nil, nil
	return errors.Join(errs...)
}
