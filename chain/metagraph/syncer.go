package metagraph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	"github.com/taominer/taominer/chain/client"
	"github.com/taominer/taominer/chain/metadata"
	"github.com/taominer/taominer/chain/neuron"
	"github.com/taominer/taominer/chain/rpc"
	"github.com/taominer/taominer/chain/scale"
	"github.com/taominer/taominer/chain/ss58"
)

// defaultTempo is the runtime's default tempo, used when the chain reports none.
const defaultTempo = 360

// Options tune a Syncer.
type Options struct {
	NetUID uint16
	// Every is how many blocks apart syncs are; 0 means once per tempo (read from the chain).
	Every uint64
	// Poll is how often Run looks at the best block (default 12s, one block).
	Poll time.Duration
	// Logger receives sync results and failures; nil discards them.
	Logger *slog.Logger
	// OnSync, if set, is called with each published snapshot (from Run's goroutine).
	OnSync func(*Snapshot)
	// Now returns the time stamped on snapshots (default time.Now).
	Now func() time.Time
}

// Syncer keeps the current Snapshot of one subnet.
type Syncer struct {
	c    *client.Client
	opts Options
	log  *slog.Logger
	cur  atomic.Pointer[Snapshot]

	mu          sync.Mutex
	lastErr     error
	lastAttempt time.Time
}

// New returns a Syncer reading through c. Nothing is read until Sync or Run.
func New(c *client.Client, opts Options) *Syncer {
	if opts.Poll <= 0 {
		opts.Poll = 12 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Syncer{c: c, opts: opts, log: log}
}

// Current returns the latest snapshot, or nil before the first successful sync. It takes no
// lock; the snapshot must not be modified.
func (s *Syncer) Current() *Snapshot { return s.cur.Load() }

// LastError returns the error of the latest sync attempt (nil if it succeeded) and when it ran.
func (s *Syncer) LastError() (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastAttempt, s.lastErr
}

// Interval returns the number of blocks between syncs for the current snapshot.
func (s *Syncer) Interval() uint64 {
	if s.opts.Every > 0 {
		return s.opts.Every
	}
	if cur := s.Current(); cur != nil && cur.Tempo > 0 {
		return uint64(cur.Tempo)
	}
	return defaultTempo
}

// Run syncs at once, then whenever the best block is Interval blocks past the last snapshot,
// until ctx ends. Failed syncs are logged and retried at the next poll; Run returns nil when ctx
// ends.
func (s *Syncer) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.Poll)
	defer t.Stop()
	for {
		if err := s.maybeSync(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("metagraph sync failed; retrying", "netuid", s.opts.NetUID, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Syncer) maybeSync(ctx context.Context) error {
	cur := s.Current()
	if cur != nil {
		h, err := s.c.Header(ctx, nil)
		if err != nil {
			s.record(ctx, err)
			return fmt.Errorf("best block: %w", err)
		}
		if h.Number < cur.Block+s.Interval() {
			return nil
		}
	}
	snap, err := s.Sync(ctx)
	if err != nil {
		return err
	}
	if s.opts.OnSync != nil {
		s.opts.OnSync(snap)
	}
	return nil
}

// record notes an attempt's outcome, unless it failed because ctx ended (shutdown).
func (s *Syncer) record(ctx context.Context, err error) {
	if err != nil && ctx.Err() != nil {
		return
	}
	s.mu.Lock()
	s.lastErr, s.lastAttempt = err, s.opts.Now()
	s.mu.Unlock()
}

// Sync reads the metagraph at the best block, publishes it and returns it.
func (s *Syncer) Sync(ctx context.Context) (*Snapshot, error) {
	snap, err := s.read(ctx)
	s.record(ctx, err)
	if err != nil {
		return nil, err
	}
	s.cur.Store(snap)
	s.log.Info("metagraph synced", "netuid", snap.NetUID, "block", snap.Block, "neurons", len(snap.Neurons), "source", snap.Source)
	return snap, nil
}

func (s *Syncer) read(ctx context.Context) (*Snapshot, error) {
	if _, err := s.c.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("metagraph: runtime version: %w", err)
	}
	h, err := s.c.Header(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("metagraph: best block: %w", err)
	}
	hash, err := s.c.BlockHash(ctx, h.Number)
	if err != nil {
		return nil, fmt.Errorf("metagraph: hash of block %d: %w", h.Number, err)
	}
	return Read(ctx, s.c, s.opts.NetUID, h.Number, hash, s.log, s.opts.Now)
}

// Read reads the metagraph of netuid at block number/hash once, without a Syncer: neurons from
// the runtime API (storage when the runtime lacks it), the tempo and the moving price.
func Read(ctx context.Context, c *client.Client, netuid uint16, number uint64, hash client.Hash, log *slog.Logger, now func() time.Time) (*Snapshot, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	r := reader{s: c.At(&hash), md: c.Runtime().Metadata, netuid: netuid}
	snap := &Snapshot{NetUID: netuid, Block: number, BlockHash: hash}
	tempo, err := r.s.Tempo(ctx, netuid)
	if err != nil {
		return nil, fmt.Errorf("metagraph: tempo of subnet %d: %w", netuid, err)
	}
	snap.Tempo = tempo
	lite, err := c.NeuronsLite(ctx, netuid, &hash)
	switch {
	case err == nil:
		snap.Source = SourceRuntimeAPI
		snap.Neurons = fromLite(lite)
	case rpc.IsRuntimeAPIUnavailable(err):
		log.Info("neuron runtime API unavailable; reading storage", "netuid", netuid, "err", err)
		snap.Source = SourceStorage
		if snap.Neurons, err = r.neurons(ctx); err != nil {
			return nil, fmt.Errorf("metagraph: neurons of subnet %d from storage: %w", netuid, err)
		}
	default:
		return nil, fmt.Errorf("metagraph: neurons of subnet %d: %w", netuid, err)
	}
	if p, err := r.movingPrice(ctx); err != nil {
		log.Debug("moving price unavailable", "netuid", netuid, "err", err)
	} else {
		snap.MovingPrice, snap.PriceKnown = p, true
	}
	snap.SyncedAt = now()
	snap.index()
	return snap, nil
}

func fromLite(lite []neuron.Lite) []Neuron {
	out := make([]Neuron, len(lite))
	for i := range lite {
		l := &lite[i]
		out[i] = Neuron{
			UID:             l.UID,
			Hotkey:          ss58.EncodeBittensor(l.Hotkey),
			Coldkey:         ss58.EncodeBittensor(l.Coldkey),
			HotkeyPub:       l.Hotkey,
			ColdkeyPub:      l.Coldkey,
			Stake:           l.TotalStake(),
			ValidatorPermit: l.ValidatorPermit,
			Active:          l.Active,
			Incentive:       ratio(l.Incentive),
			Consensus:       ratio(l.Consensus),
			Trust:           ratio(l.Trust),
			ValidatorTrust:  ratio(l.ValidatorTrust),
			Dividends:       ratio(l.Dividends),
			Emission:        l.Emission,
			LastUpdate:      l.LastUpdate,
			Axon:            l.Axon,
		}
	}
	return out
}

// reader reads the storage of one subnet at one block through the typed client.
type reader struct {
	s      client.State
	md     *metadata.Metadata
	netuid uint16
}

func (r *reader) netuidKey() []byte { return scale.AppendU16(nil, r.netuid) }

// value reads a SubtensorModule item with keys, or its metadata default when absent.
func (r *reader) value(ctx context.Context, item string, keys ...[]byte) ([]byte, error) {
	v, _, err := r.s.Value(ctx, "SubtensorModule", item, keys...)
	return v, err
}

// neurons reads every UID's record from storage items, in two batched rounds (hotkeys by UID,
// then each hotkey's owner, stake and axon) and the per-UID vectors.
func (r *reader) neurons(ctx context.Context) ([]Neuron, error) {
	count, err := r.s.SubnetworkN(ctx, r.netuid)
	if err != nil {
		return nil, err
	}
	n := int(count)
	out := make([]Neuron, n)
	if n == 0 {
		return out, nil
	}
	var errs []error
	q := r.s.Query()
	add := func(item string, dec func(d *scale.Decoder, present bool), keys ...[]byte) error {
		ok, err := q.Add("SubtensorModule", item, dec, keys...)
		if err == nil && !ok {
			err = fmt.Errorf("the runtime has no SubtensorModule.%s", item)
		}
		return err
	}
	// rest takes what is left of a value (nil for an absent optional one).
	rest := func(d *scale.Decoder) []byte {
		if d == nil {
			return nil
		}
		return d.Bytes(d.Remaining())
	}
	// Hotkeys by UID.
	for uid := range n {
		out[uid].UID = uint16(uid)
		err := add("Keys", func(d *scale.Decoder, present bool) {
			v := rest(d)
			if !present {
				v = nil // the default is no account
			}
			if len(v) != 32 {
				errs = append(errs, fmt.Errorf("Keys(%d, %d): got %d bytes, want an account id", r.netuid, uid, len(v)))
				return
			}
			copy(out[uid].HotkeyPub[:], v)
			out[uid].Hotkey = ss58.EncodeBittensor(out[uid].HotkeyPub)
		}, r.netuidKey(), scale.AppendU16(nil, uint16(uid)))
		if err != nil {
			return nil, err
		}
	}
	if err := q.Run(ctx); err != nil {
		return nil, err
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// Per hotkey: owner, stake, axon.
	for i := range out {
		nr := &out[i]
		hk := nr.HotkeyPub[:]
		err1 := add("Owner", func(d *scale.Decoder, present bool) {
			if o := rest(d); present && len(o) == 32 {
				copy(nr.ColdkeyPub[:], o)
			}
		}, hk)
		err2 := add("TotalHotkeyAlpha", func(d *scale.Decoder, present bool) {
			if !present {
				rest(d)
				return
			}
			nr.Stake = d.U64()
		}, hk, r.netuidKey())
		err3 := add("Axons", func(d *scale.Decoder, present bool) {
			ax := rest(d)
			if !present {
				return
			}
			var err error
			if nr.Axon, err = neuron.DecodeAxonInfo(ax); err != nil {
				errs = append(errs, fmt.Errorf("axon of uid %d: %w", i, err))
			}
		}, r.netuidKey(), hk)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, err
		}
	}
	if err := q.Run(ctx); err != nil {
		return nil, err
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Coldkey = ss58.EncodeBittensor(out[i].ColdkeyPub)
	}
	return out, r.vectors(ctx, out)
}

// vectors fills the per-UID vectors (Active, ValidatorPermit, Incentive, …). Items the runtime
// no longer has (Trust at spec ≥ 401) stay zero.
func (r *reader) vectors(ctx context.Context, out []Neuron) error {
	type vec struct {
		item string
		set  func(n *Neuron, v metadata.Value)
	}
	u16 := func(v metadata.Value) float64 { x, _ := v.(uint64); return ratio(uint16(x)) }
	u64 := func(v metadata.Value) uint64 { x, _ := v.(uint64); return x }
	b := func(v metadata.Value) bool { x, _ := v.(bool); return x }
	vecs := []vec{
		{"Active", func(n *Neuron, v metadata.Value) { n.Active = b(v) }},
		{"ValidatorPermit", func(n *Neuron, v metadata.Value) { n.ValidatorPermit = b(v) }},
		{"Incentive", func(n *Neuron, v metadata.Value) { n.Incentive = u16(v) }},
		{"Consensus", func(n *Neuron, v metadata.Value) { n.Consensus = u16(v) }},
		{"Trust", func(n *Neuron, v metadata.Value) { n.Trust = u16(v) }},
		{"ValidatorTrust", func(n *Neuron, v metadata.Value) { n.ValidatorTrust = u16(v) }},
		{"Dividends", func(n *Neuron, v metadata.Value) { n.Dividends = u16(v) }},
		{"Emission", func(n *Neuron, v metadata.Value) { n.Emission = u64(v) }},
		{"LastUpdate", func(n *Neuron, v metadata.Value) { n.LastUpdate = u64(v) }},
	}
	var errs []error
	q := r.s.Query()
	for _, v := range vecs {
		e, err := r.md.StorageEntry("SubtensorModule", v.item)
		if errors.Is(err, metadata.ErrNotFound) {
			continue
		} else if err != nil {
			return err
		}
		// Incentive and LastUpdate are keyed by NetUidStorageIndex, equal to the netuid for the
		// main mechanism (spec §3.1). An absent vector leaves the neurons' zero values.
		_, err = q.Add("SubtensorModule", v.item, func(d *scale.Decoder, present bool) {
			if !present {
				if d != nil {
					d.Skip(d.Remaining())
				}
				return
			}
			val, err := r.md.DecodeValue(d, e.ValueType)
			if err != nil {
				errs = append(errs, fmt.Errorf("decode %s: %w", v.item, err))
				return
			}
			elems, ok := val.([]metadata.Value)
			if !ok {
				errs = append(errs, fmt.Errorf("decode %s: not a vector", v.item))
				return
			}
			for uid, x := range elems {
				if uid < len(out) {
					v.set(&out[uid], x)
				}
			}
		}, r.netuidKey())
		if err != nil {
			return err
		}
	}
	if err := q.Run(ctx); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// movingPriceIndex is MovingPrice's index in SelectiveMetagraph (spec §4.2).
const movingPriceIndex = 21

// movingPrice reads the subnet's moving alpha price (TAO per alpha): from the selective
// mechagraph (or metagraph) runtime API asking for that field only, else from the
// SubnetMovingPrice storage item.
func (r *reader) movingPrice(ctx context.Context) (float64, error) {
	indexes := scale.AppendCompact(nil, 1)
	indexes = scale.AppendU16(indexes, movingPriceIndex)
	calls := []struct {
		method string
		args   []byte
	}{
		{"get_selective_mechagraph", append(scale.AppendU8(r.netuidKey(), 0), indexes...)},
		{"get_selective_metagraph", append(r.netuidKey(), indexes...)},
	}
	var errs []error
	for _, call := range calls {
		m, err := r.md.RuntimeAPIMethod("SubnetInfoRuntimeApi", call.method)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		raw, err := r.s.Client().StateCall(ctx, "SubnetInfoRuntimeApi_"+call.method, call.args, r.s.Block())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d := scale.NewDecoder(raw)
		v, err := r.md.DecodeValue(d, m.Output)
		if err == nil {
			err = d.Finish()
		}
		if err != nil {
			return 0, fmt.Errorf("decode %s: %w", call.method, err)
		}
		mg, ok := some(v).(map[string]metadata.Value)
		if !ok {
			return 0, fmt.Errorf("%s: subnet %d has no metagraph", call.method, r.netuid)
		}
		return fixedI96F32(some(mg["moving_price"]))
	}
	e, err := r.md.StorageEntry("SubtensorModule", "SubnetMovingPrice")
	if err != nil {
		return 0, errors.Join(append(errs, err)...)
	}
	raw, err := r.value(ctx, "SubnetMovingPrice", r.netuidKey())
	if err != nil {
		return 0, err
	}
	d := scale.NewDecoder(raw)
	v, err := r.md.DecodeValue(d, e.ValueType)
	if err != nil {
		return 0, fmt.Errorf("decode SubnetMovingPrice: %w", err)
	}
	return fixedI96F32(v)
}

// some unwraps Option's Some (and a one-field tuple around it); None gives nil.
func some(v metadata.Value) metadata.Value {
	vv, ok := v.(metadata.VariantValue)
	if !ok {
		return v
	}
	if vv.Name != "Some" {
		return nil
	}
	if f, ok := vv.Fields.([]metadata.Value); ok && len(f) == 1 {
		return f[0]
	}
	return vv.Fields
}

// fixedI96F32 converts a decoded substrate_fixed I96F32 ({bits: i128}) to a float.
func fixedI96F32(v metadata.Value) (float64, error) {
	m, ok := v.(map[string]metadata.Value)
	if !ok {
		return 0, fmt.Errorf("moving price: unexpected value %T", v)
	}
	var bits *big.Int
	switch b := m["bits"].(type) {
	case *big.Int:
		bits = b
	case int64:
		bits = big.NewInt(b)
	case uint64:
		bits = new(big.Int).SetUint64(b)
	default:
		return 0, fmt.Errorf("moving price: unexpected bits %T", m["bits"])
	}
	f, _ := new(big.Float).Quo(new(big.Float).SetInt(bits), new(big.Float).SetInt64(1<<32)).Float64()
	return f, nil
}
