package yuma

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/taominer/taominer/chain/client"
	"github.com/taominer/taominer/chain/scale"
)

const pallet = "SubtensorModule"

// DecodeEntries decodes a Weights or Bonds value: SCALE Vec<(u16, u16)>.
func DecodeEntries(b []byte) ([]Entry, error) {
	d := scale.NewDecoder(b)
	n := d.Len(4)
	out := make([]Entry, 0, n)
	for range n {
		out = append(out, Entry{d.U16(), d.U16()})
	}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("decode weights row: %w", err)
	}
	return out, nil
}

func u16Key(v uint16) []byte { return scale.AppendU16(nil, v) }

// ReadEpoch reads, at block at, everything subnet netuid's epoch (mechanism 0) would read if it
// ran in the next block, and the hyperparameters and rules of the runtime (the client's current
// runtime: its metadata and spec version). Input.CurrentBlock is number(at)+1.
//
// Stake is get_stake_weights_for_network's, childkey inheritance included. A uid's alpha is
// get_inherited_for_hotkey_on_subnet: TotalHotkeyAlpha(hotkey, netuid) less the shares its
// ChildKeys(hotkey, netuid) take, plus the shares ParentKeys(hotkey, netuid) give of each
// parent's TotalHotkeyAlpha(parent, netuid), in 96.32 fixed point (see inherit), floored;
// parents need not be uids. Its root TAO is, per Rules.TaoInheritance, the same sum over
// TotalHotkeyAlpha(·, 0) with the subnet's links (HEAD), TotalHotkeyAlpha(hotkey, 0) alone
// (specs 222–227), or the sum with netuid 0's links (raonet, spec < 221); spec 221 is refused
// (ErrUnsupported) when a uid has netuid-0 links. On netuid 0 the alpha is not inherited
// (except before spec 221). Stakes and links of all uids take one query round and the
// parents' stakes one more. RaoEmission is the alpha the epoch would be
// given: PendingServerEmission + PendingValidatorEmission + PendingRootAlphaDivs where those
// items exist, else PendingEmission + PendingAlphaSwapped, else PendingEmission less the owner
// cut (SubnetOwnerCut) as the spec-218 era drain computed it; the next block's own injection is
// not included. Commit-reveal commits are not read (Input.CommitBlocks stays nil). Items a
// runtime lacks select its behaviour: no BondsPenalty means bonds from clipped weights, no
// Yuma3On the original Yuma, no StakeThreshold no threshold, no ActivityCutoffFactorMilli the
// ActivityCutoff item. Runtimes without TotalHotkeyAlpha (before the rao upgrade) are not
// modelled: their stake reads as 0.
func ReadEpoch(ctx context.Context, c *client.Client, netuid uint16, at client.Hash) (Input, Params, error) {
	rt := c.Runtime()
	md := rt.Metadata
	spec := rt.Version.SpecVersion
	hdr, err := c.Header(ctx, &at)
	if err != nil {
		return Input{}, Params{}, fmt.Errorf("read epoch: header: %w", err)
	}
	in := Input{CurrentBlock: hdr.Number + 1}
	p := Params{OwnerUID: -1, Rules: RulesFor(spec)}
	q := c.At(&at).Query()
	// The rao development runtimes (epoch_mock in every block) alone had LocalStake.
	p.Rules.MockEpoch = q.Has(pallet, "LocalStake") && spec >= 203

	var (
		n, tempo, activity, cut     uint16
		factorMilli                 uint32
		mechanisms                  uint8 = 1
		ownerHotkey                 *[32]byte
		pending, swapped            uint64
		server, validator, rootDivs uint64
		lastUpdate                  []uint64
		permits                     []bool
		errs                        []error
	)
	net := u16Key(netuid)
	add := func(item string, dec func(*scale.Decoder, bool), parts ...[]byte) bool {
		ok, err := q.Add(pallet, item, dec, parts...)
		if err != nil {
			errs = append(errs, err)
		}
		return ok
	}
	u64p := func(dst *uint64) func(*scale.Decoder, bool) { return func(d *scale.Decoder, _ bool) { *dst = d.U64() } }
	u16p := func(dst *uint16) func(*scale.Decoder, bool) { return func(d *scale.Decoder, _ bool) { *dst = d.U16() } }
	boolp := func(dst *bool) func(*scale.Decoder, bool) { return func(d *scale.Decoder, _ bool) { *dst = d.Bool() } }

	add("SubnetworkN", u16p(&n), net)
	add("Tempo", u16p(&tempo), net)
	add("Kappa", u16p(&p.Kappa), net)
	add("MaxAllowedValidators", u16p(&p.MaxAllowedValidators), net)
	add("BondsMovingAverage", u64p(&p.BondsMovingAverage), net)
	add("ActivityCutoff", u16p(&activity), net)
	hasFactor := add("ActivityCutoffFactorMilli", func(d *scale.Decoder, _ bool) { factorMilli = d.U32() }, net)
	if !add("BondsPenalty", u16p(&p.BondsPenalty), net) {
		p.Rules.ClippedBonds = true
	}
	if !add("StakeThreshold", u64p(&p.StakeThreshold)) {
		p.Rules.NoStakeThreshold = true
	}
	if !add("Yuma3On", boolp(&p.Yuma3), net) {
		p.Rules.OriginalYumaOnly = true
	}
	add("LiquidAlphaOn", boolp(&p.LiquidAlpha), net)
	add("AlphaValues", func(d *scale.Decoder, _ bool) { p.AlphaLow, p.AlphaHigh = d.U16(), d.U16() }, net)
	hasSteepness := add("AlphaSigmoidSteepness", func(d *scale.Decoder, _ bool) { p.AlphaSigmoidSteepness = int16(d.U16()) }, net)
	add("LastMechansimStepBlock", u64p(&in.LastMechanismStepBlock), net)
	add("MechanismCountCurrent", func(d *scale.Decoder, _ bool) { mechanisms = d.U8() }, net)
	tw := func(d *scale.Decoder, _ bool) { in.TaoWeight = d.U64() }
	if e, err := md.StorageEntry(pallet, "TaoWeight"); err == nil && !e.Plain {
		add("TaoWeight", tw, net) // spec-218 era: one per subnet
	} else {
		add("TaoWeight", tw)
	}
	add("SubnetOwnerHotkey", func(d *scale.Decoder, present bool) {
		switch {
		case present:
			k := d.Array32()
			ownerHotkey = &k
		case d != nil:
			d.Skip(d.Remaining()) // the default is no owner (try_get)
		}
	}, net)
	add("LastUpdate", func(d *scale.Decoder, _ bool) {
		lastUpdate = make([]uint64, d.Len(8))
		for i := range lastUpdate {
			lastUpdate[i] = d.U64()
		}
	}, net)
	add("ValidatorPermit", func(d *scale.Decoder, _ bool) {
		permits = make([]bool, d.Len(1))
		for i := range permits {
			permits[i] = d.Bool()
		}
	}, net)
	split := add("PendingServerEmission", u64p(&server), net)
	var hasSwapped bool
	if split {
		add("PendingValidatorEmission", u64p(&validator), net)
		add("PendingRootAlphaDivs", u64p(&rootDivs), net)
	} else {
		add("PendingEmission", u64p(&pending), net)
		hasSwapped = add("PendingAlphaSwapped", u64p(&swapped), net)
		add("SubnetOwnerCut", u16p(&cut))
	}
	if err := errors.Join(errs...); err != nil {
		return Input{}, Params{}, fmt.Errorf("read epoch: %w", err)
	}
	if err := q.Run(ctx); err != nil {
		return Input{}, Params{}, fmt.Errorf("read epoch: %w", err)
	}

	p.Tempo = uint64(tempo)
	p.ActivityCutoff = uint64(activity)
	if hasFactor {
		p.ActivityCutoff = ActivityCutoffBlocks(factorMilli, p.Tempo)
	}
	switch {
	case split:
		in.RaoEmission = satAdd(satAdd(server, validator), rootDivs)
	case hasSwapped:
		in.RaoEmission = satAdd(pending, swapped)
	case q.Has(pallet, "PendingOwnerCut"):
		in.RaoEmission = pending
	default:
		in.RaoEmission = pending - ownerCutOf(pending, cut)
	}
	if mechanisms > 1 {
		return Input{}, Params{}, fmt.Errorf("read epoch: %w: subnet %d has %d mechanisms (emission split)", ErrUnsupported, netuid, mechanisms)
	}
	if p.LiquidAlpha && p.Yuma3 && !p.Rules.OriginalYumaOnly && !hasSteepness {
		return Input{}, Params{}, fmt.Errorf("read epoch: %w: Yuma 3 liquid alpha of spec %d (before AlphaSigmoidSteepness)", ErrUnsupported, spec)
	}
	if len(lastUpdate) != int(n) || len(permits) != int(n) {
		return Input{}, Params{}, fmt.Errorf("read epoch: %w: SubnetworkN %d, LastUpdate %d, ValidatorPermit %d entries",
			ErrInput, n, len(lastUpdate), len(permits))
	}
	in.N, in.LastUpdate, in.ValidatorPermit = n, lastUpdate, permits

	// Per uid: hotkey, weights, bonds, registration block.
	in.Hotkeys = make([]*[32]byte, n)
	in.Weights, in.Bonds, in.BlockAtRegistration = make([][]Entry, n), make([][]Entry, n), make([]uint64, n)
	for uid := range n {
		u := u16Key(uid)
		add("Keys", func(d *scale.Decoder, present bool) {
			k := d.Array32()
			if present {
				in.Hotkeys[uid] = &k
			}
		}, net, u)
		entries := func(dst *[]Entry) func(*scale.Decoder, bool) {
			return func(d *scale.Decoder, _ bool) {
				k := d.Len(4)
				row := make([]Entry, 0, k)
				for range k {
					row = append(row, Entry{d.U16(), d.U16()})
				}
				*dst = row
			}
		}
		add("Weights", entries(&in.Weights[uid]), net, u)
		add("Bonds", entries(&in.Bonds[uid]), net, u)
		add("BlockAtRegistration", u64p(&in.BlockAtRegistration[uid]), net, u)
	}
	if err := errors.Join(errs...); err != nil {
		return Input{}, Params{}, fmt.Errorf("read epoch: %w", err)
	}
	if err := q.Run(ctx); err != nil {
		return Input{}, Params{}, fmt.Errorf("read epoch: %w", err)
	}

	// Per hotkey: alpha on the subnet, TAO on root and the childkey links; uids without a
	// hotkey have no stake and registration block 0 (get_block_at_registration).
	mode := p.Rules.TaoInheritance
	rootLinks := netuid != 0 && (mode == TaoInheritRoot || mode == TaoInheritAmbiguous)
	stakes := map[[32]byte]*hotkeyStake{}
	ks := make([]*hotkeyStake, n)
	for uid, hk := range in.Hotkeys {
		if hk == nil {
			in.BlockAtRegistration[uid] = 0
			continue
		}
		if ownerHotkey != nil && *hk == *ownerHotkey && p.OwnerUID < 0 {
			p.OwnerUID = uid
		}
		if st := stakes[*hk]; st != nil {
			ks[uid] = st
			continue
		}
		st := &hotkeyStake{}
		stakes[*hk], ks[uid] = st, st
		st.add(add, hk, netuid)
		links := func(dst *[]Link) func(*scale.Decoder, bool) {
			return func(d *scale.Decoder, _ bool) { *dst = decodeLinks(d) }
		}
		add("ChildKeys", links(&st.children), hk[:], net)
		add("ParentKeys", links(&st.parents), hk[:], net)
		if rootLinks {
			add("ChildKeys", links(&st.rootChildren), hk[:], u16Key(0))
			add("ParentKeys", links(&st.rootParents), hk[:], u16Key(0))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Input{}, Params{}, fmt.Errorf("read epoch: %w", err)
	}
	if err := q.Run(ctx); err != nil {
		return Input{}, Params{}, fmt.Errorf("read epoch: %w", err)
	}
	if netuid == 0 {
		for _, st := range stakes {
			st.rootChildren, st.rootParents = st.children, st.parents
		}
	}

	// Parents that are not uids of the subnet: their stakes.
	for _, st := range ks {
		if st == nil {
			continue
		}
		for _, ls := range [][]Link{st.parents, st.rootParents} {
			for _, l := range ls {
				if stakes[l.Hotkey] == nil {
					ps := &hotkeyStake{}
					stakes[l.Hotkey] = ps
					ps.add(add, &l.Hotkey, netuid)
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Input{}, Params{}, fmt.Errorf("read epoch: %w", err)
	}
	if err := q.Run(ctx); err != nil {
		return Input{}, Params{}, fmt.Errorf("read epoch: %w", err)
	}

	in.AlphaStake, in.TaoStake = make([]uint64, n), make([]uint64, n)
	for uid, st := range ks {
		if st == nil {
			continue
		}
		a, t, err := stakeWeights(st, stakes, netuid, p.Rules)
		if err != nil {
			return Input{}, Params{}, fmt.Errorf("read epoch: uid %d: %w", uid, err)
		}
		in.AlphaStake[uid], in.TaoStake[uid] = a, t
	}
	return in, p, nil
}

// hotkeyStake is what ReadEpoch reads of one hotkey: TotalHotkeyAlpha on the subnet and on
// root, and (for uids) its ChildKeys and ParentKeys on the subnet and, where the rules need
// them, on netuid 0.
type hotkeyStake struct {
	alpha, root               uint64
	children, parents         []Link
	rootChildren, rootParents []Link
}

func (st *hotkeyStake) add(add func(string, func(*scale.Decoder, bool), ...[]byte) bool, hk *[32]byte, netuid uint16) {
	add("TotalHotkeyAlpha", func(d *scale.Decoder, _ bool) { st.alpha = d.U64() }, hk[:], u16Key(netuid))
	add("TotalHotkeyAlpha", func(d *scale.Decoder, _ bool) { st.root = d.U64() }, hk[:], u16Key(0))
}

// stakeWeights is the alpha and root-TAO terms get_stake_weights_for_network computes for a
// uid's hotkey st: get_inherited_for_hotkey_on_subnet and the root term rules.TaoInheritance
// selects. Parents' stakes are looked up in stakes.
func stakeWeights(st *hotkeyStake, stakes map[[32]byte]*hotkeyStake, netuid uint16, rules Rules) (alpha, tao uint64, err error) {
	parentShares := func(ls []Link, root bool) []share {
		out := make([]share, len(ls))
		for i, l := range ls {
			ps := stakes[l.Hotkey]
			out[i] = share{ps.alpha, l.Proportion}
			if root {
				out[i].stake = ps.root
			}
		}
		return out
	}
	var negative bool
	check := func(v uint64, neg bool) uint64 {
		negative = negative || neg
		return v
	}
	mode := rules.TaoInheritance
	if mode == TaoInheritAmbiguous && (len(st.rootChildren) != 0 || len(st.rootParents) != 0) {
		return 0, 0, fmt.Errorf("%w: root childkeys under spec %d (built both with and without root-stake inheritance)",
			ErrUnsupported, rules.SpecVersion)
	}
	switch {
	case netuid == 0 && mode != TaoInheritRoot:
		alpha = st.alpha // get_inherited_for_hotkey_on_subnet returns early on root
	default:
		alpha = check(inherit(st.alpha, proportions(st.children), parentShares(st.parents, netuid == 0), rules.SignedInheritance))
	}
	switch mode {
	case TaoInheritSubnet:
		tao = check(inherit(st.root, proportions(st.children), parentShares(st.parents, true), rules.SignedInheritance))
	case TaoInheritRoot:
		tao = check(inherit(st.root, proportions(st.rootChildren), parentShares(st.rootParents, true), rules.SignedInheritance))
	default:
		tao = st.root
	}
	// Before saturating_to_num (33c6af0ce, spec 233 on mainnet) a negative I96F32 went through
	// to_num::<u64>(), which wraps in a release build; set_children keeps Σ proportions ≤
	// u64::MAX, so only inconsistent storage gets here.
	if negative && rules.SpecVersion != 0 && rules.SpecVersion < 233 {
		return 0, 0, fmt.Errorf("%w: negative inherited stake under spec %d (to_num)", ErrUnsupported, rules.SpecVersion)
	}
	return alpha, tao, nil
}

// ownerCutOf is the spec-218 era drain's owner cut: I96F32(alpha)·(I96F32(cut)/I96F32(65535)),
// floored.
func ownerCutOf(alpha uint64, cut uint16) uint64 {
	frac := new(big.Int).Lsh(big.NewInt(int64(cut)), 32)
	frac.Quo(frac, big.NewInt(65535))
	x := new(big.Int).Mul(new(big.Int).SetUint64(alpha), frac)
	return x.Rsh(x, 32).Uint64()
}
