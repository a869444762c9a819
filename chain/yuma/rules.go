package yuma

import "errors"

// ErrUnsupported reports an epoch configuration whose runtime behaviour this package does not
// implement (so it refuses rather than return a wrong number).
var ErrUnsupported = errors.New("yuma: epoch behaviour not implemented")

// Rules are the epoch behaviours that changed between subtensor runtimes. The zero value is
// subtensor HEAD (spec 425); each field names the older behaviour and the spec version (and
// commit of opentensor/subtensor) where it was replaced. RulesFor sets them from a runtime's
// spec version.
type Rules struct {
	// SpecVersion is the runtime spec the rules were chosen for (0: HEAD); informational.
	SpecVersion uint32
	// MockEpoch: the rao development runtimes (the raonet spec-218 wasm, built from 1629c559b /
	// c39109d32) ran epoch_mock in every block instead of Yuma (4cff425a4 … 22bbb5c32): stake
	// weights only, Emission = StakeWeight·RaoEmission, all other terms 0, every permit true,
	// Bonds untouched. RulesFor cannot tell them from the mainnet runtime of the same spec;
	// ReadEpoch sets it when the metadata has the LocalStake item those runtimes alone carried.
	MockEpoch bool
	// TopKWithZeros: new permits from is_topk, so zero stakes can win and every neuron is
	// permitted when n ≤ k (spec < 268; is_topk_nonzero since 2ecebb194).
	TopKWithZeros bool
	// NoStakeThreshold: StakeThreshold does not mask the epoch's stake (spec < 268, 2ecebb194).
	NoStakeThreshold bool
	// NoOwnerSelfWeight: the subnet owner's self-weight is masked like any other (spec < 246;
	// mask_diag_sparse_except_index since 05f063150).
	NoOwnerSelfWeight bool
	// NoOwnerValidator: the owner hotkey is neither force-permitted nor exempt from the stake
	// threshold (spec < 393; since 69627c0d5).
	NoOwnerValidator bool
	// ClippedBonds: bonds grow from the clipped weights, no BondsPenalty interpolation
	// (spec < 223; BondsPenalty since b42641f93).
	ClippedBonds bool
	// BondsMaskByUpdate: a bond b_ij is dropped when validator i's LastUpdate ≤
	// BlockAtRegistration[j] (spec < 253); since 2b674c71a columns of neurons registered at or
	// after the last tempo are dropped instead.
	BondsMaskByUpdate bool
	// OriginalYumaOnly: Yuma3On does not exist (spec < 261, be623f009 "revert original yuma");
	// liquid alpha then used the consensus-quantile logistic formula, which is not implemented
	// (Epoch returns ErrUnsupported when LiquidAlpha is on).
	OriginalYumaOnly bool
	// BondsPermitRowsOnly: only rows of validators with a new or an old permit are written
	// (spec < 303; since 2c447fd99 every row is written, empty without a new permit).
	BondsPermitRowsOnly bool
	// LastTempoByTempo: the last tempo block is current_block − tempo (spec < 404); since
	// d30a76f38 (dynamic tempo) it is LastMechansimStepBlock + 1 when that is set.
	LastTempoByTempo bool
	// StoresRankTrust: Rank and Trust are epoch outputs the runtime stores (spec < 331, removed
	// in 8fb5c3688). Epoch computes them either way.
	StoresRankTrust bool
	// TaoInheritance is how a uid's root TAO stake inherits through childkeys (see the type).
	TaoInheritance TaoInheritance
	// SignedInheritance: the childkey inheritance sums are I96F32 rather than U96F32, so
	// stake − Σ to children is not clamped at 0 before the parents' share is added (spec < 261;
	// U96F32 since d4f341359). Only a proportion sum above u64::MAX, which set_children rejects,
	// makes the two differ.
	SignedInheritance bool
}

// TaoInheritance selects the root-stake term of get_stake_weights_for_network.
type TaoInheritance uint8

const (
	// TaoInheritSubnet (HEAD, spec ≥ 228; f2caf7ddc, on mainnet from e2b8367b8):
	// get_tao_inherited_for_hotkey_on_subnet: TotalHotkeyAlpha(hotkey, 0) less its
	// ChildKeys(hotkey, netuid) shares plus ParentKeys(hotkey, netuid) shares of each parent's
	// TotalHotkeyAlpha(parent, 0).
	TaoInheritSubnet TaoInheritance = iota
	// TaoInheritNone (221 < spec < 228; 13e24f2c8): root stake is TotalHotkeyAlpha(hotkey, 0),
	// get_inherited_for_hotkey_on_subnet returning early for netuid 0.
	TaoInheritNone
	// TaoInheritRoot (spec < 221; the raonet spec-218 wasm, c39109d32): root stake is
	// get_inherited_for_hotkey_on_subnet(hotkey, 0), inheriting through ChildKeys/ParentKeys
	// of netuid 0; on netuid 0 the alpha stake inherits too.
	TaoInheritRoot
	// TaoInheritAmbiguous (spec 221): builds of this spec exist both before and after
	// 13e24f2c8; ReadEpoch refuses when a uid has netuid-0 childkeys (where they differ).
	TaoInheritAmbiguous
)

// HeadSpec is the newest runtime spec whose epoch this package follows.
const HeadSpec = 425

// RulesFor returns the epoch rules of a runtime spec version (MockEpoch excepted, see Rules).
// The spec numbers are those in runtime/src/lib.rs at the commits that changed each rule.
func RulesFor(spec uint32) Rules {
	return Rules{
		SpecVersion:         spec,
		TopKWithZeros:       spec < 268,
		NoStakeThreshold:    spec < 268,
		NoOwnerSelfWeight:   spec < 246,
		NoOwnerValidator:    spec < 393,
		ClippedBonds:        spec < 223,
		BondsMaskByUpdate:   spec < 253,
		OriginalYumaOnly:    spec < 261,
		BondsPermitRowsOnly: spec < 303,
		LastTempoByTempo:    spec < 404,
		StoresRankTrust:     spec < 331,
		TaoInheritance:      taoInheritance(spec),
		SignedInheritance:   spec < 261,
	}
}

func taoInheritance(spec uint32) TaoInheritance {
	switch {
	case spec < 221:
		return TaoInheritRoot
	case spec == 221:
		return TaoInheritAmbiguous
	case spec < 228:
		return TaoInheritNone
	}
	return TaoInheritSubnet
}
