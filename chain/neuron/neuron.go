// Package neuron decodes subtensor's neuron records (NeuronInfoLite from the
// NeuronInfoRuntimeApi) and the storage values that describe a neuron's endpoints and account
// (AxonInfo, PrometheusInfo, AccountInfo), by hand from their SCALE layout (spec §3.2, §4.1).
package neuron

import (
	"fmt"
	"net/netip"

	"github.com/taominer/taominer/chain/scale"
)

// AxonInfo is a neuron's published axon endpoint (SubtensorModule.Axons).
type AxonInfo struct {
	Block        uint64
	Version      uint32
	IP           scale.Uint128 // IPv4 in the low 32 bits, IPv6 as 128 bits
	Port         uint16
	IPType       uint8 // 4 or 6; 0 when never served
	Protocol     uint8
	Placeholder1 uint8
	Placeholder2 uint8
}

// Addr returns the axon's IP address, and false when IPType is neither 4 nor 6.
func (a AxonInfo) Addr() (netip.Addr, bool) { return ipAddr(a.IP, a.IPType) }

func ipAddr(ip scale.Uint128, ipType uint8) (netip.Addr, bool) {
	switch ipType {
	case 4:
		v := uint32(ip.Lo)
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
	case 6:
		var b [16]byte
		for i := range 8 {
			b[i] = byte(ip.Hi >> (56 - 8*i))
			b[8+i] = byte(ip.Lo >> (56 - 8*i))
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}

// PrometheusInfo is a neuron's published Prometheus endpoint.
type PrometheusInfo struct {
	Block   uint64
	Version uint32
	IP      scale.Uint128
	Port    uint16
	IPType  uint8
}

// Stake is one (coldkey, amount) entry of a neuron's stake list; the amount is alpha in rao.
type Stake struct {
	Coldkey [32]byte
	Amount  uint64
}

// Lite is a NeuronInfoLite record.
type Lite struct {
	Hotkey          [32]byte
	Coldkey         [32]byte
	UID             uint16
	NetUID          uint16
	Active          bool
	Axon            AxonInfo
	Prometheus      PrometheusInfo
	Stake           []Stake
	Rank            uint16 // always 0 on current runtimes
	Emission        uint64 // alpha rao in the last epoch
	Incentive       uint16
	Consensus       uint16
	Trust           uint16 // always 0 on current runtimes
	ValidatorTrust  uint16
	Dividends       uint16
	LastUpdate      uint64
	ValidatorPermit bool
	PruningScore    uint16
}

// TotalStake sums the stake entries.
func (n *Lite) TotalStake() uint64 {
	var s uint64
	for _, e := range n.Stake {
		s += e.Amount
	}
	return s
}

func readAxon(d *scale.Decoder) AxonInfo {
	return AxonInfo{Block: d.U64(), Version: d.U32(), IP: d.U128(), Port: d.U16(), IPType: d.U8(), Protocol: d.U8(), Placeholder1: d.U8(), Placeholder2: d.U8()}
}

func readPrometheus(d *scale.Decoder) PrometheusInfo {
	return PrometheusInfo{Block: d.U64(), Version: d.U32(), IP: d.U128(), Port: d.U16(), IPType: d.U8()}
}

func compactU16(d *scale.Decoder, field string) uint16 {
	v := d.Compact()
	if v > 0xffff {
		d.Fail(fmt.Errorf("%w: %s = %d does not fit u16", scale.ErrInvalid, field, v))
	}
	return uint16(v)
}

func readLite(d *scale.Decoder) Lite {
	var n Lite
	n.Hotkey = d.Array32()
	n.Coldkey = d.Array32()
	n.UID = compactU16(d, "uid")
	n.NetUID = compactU16(d, "netuid")
	n.Active = d.Bool()
	n.Axon = readAxon(d)
	n.Prometheus = readPrometheus(d)
	k := d.Len(33)
	if k > 0 {
		n.Stake = make([]Stake, k)
		for i := range n.Stake {
			n.Stake[i] = Stake{Coldkey: d.Array32(), Amount: d.Compact()}
		}
	}
	n.Rank = compactU16(d, "rank")
	n.Emission = d.Compact()
	n.Incentive = compactU16(d, "incentive")
	n.Consensus = compactU16(d, "consensus")
	n.Trust = compactU16(d, "trust")
	n.ValidatorTrust = compactU16(d, "validator_trust")
	n.Dividends = compactU16(d, "dividends")
	n.LastUpdate = d.Compact()
	n.ValidatorPermit = d.Bool()
	n.PruningScore = compactU16(d, "pruning_score")
	return n
}

// minLite is the smallest possible encoded NeuronInfoLite.
const minLite = 32 + 32 + 1 + 1 + 1 + 36 + 31 + 1 + 11 + 1

// unwrapLegacy strips the extra Vec<u8> layer old runtimes (spec 208) put around runtime API
// replies: a compact length equal to the rest of the input. A typed Vec<T> of records at least
// minLite bytes long can never look like that, except when empty, where both readings agree.
func unwrapLegacy(b []byte) []byte {
	d := scale.NewDecoder(b)
	n := d.Compact()
	if d.Err() == nil && n > 0 && n == uint64(d.Remaining()) {
		return b[d.Offset():]
	}
	return b
}

// DecodeLiteList decodes the result of NeuronInfoRuntimeApi_get_neurons_lite: Vec<NeuronInfoLite>
// (or, from old runtimes, that wrapped once more as Vec<u8>). Every byte must be consumed.
func DecodeLiteList(b []byte) ([]Lite, error) {
	d := scale.NewDecoder(unwrapLegacy(b))
	n := d.Len(minLite)
	out := make([]Lite, 0, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		out = append(out, readLite(d))
	}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("neuron: decode NeuronInfoLite list (%d records): %w", n, err)
	}
	return out, nil
}

// DecodeLiteOption decodes the result of NeuronInfoRuntimeApi_get_neuron_lite:
// Option<NeuronInfoLite>. ok is false for None (no neuron with that uid).
func DecodeLiteOption(b []byte) (n Lite, ok bool, err error) {
	d := scale.NewDecoder(b)
	if d.Option() {
		n, ok = readLite(d), true
	}
	if err := d.Finish(); err != nil {
		return Lite{}, false, fmt.Errorf("neuron: decode Option<NeuronInfoLite>: %w", err)
	}
	return n, ok, nil
}

// DecodeAxonInfo decodes a SubtensorModule.Axons storage value.
func DecodeAxonInfo(b []byte) (AxonInfo, error) {
	d := scale.NewDecoder(b)
	a := readAxon(d)
	if err := d.Finish(); err != nil {
		return AxonInfo{}, fmt.Errorf("neuron: decode AxonInfo: %w", err)
	}
	return a, nil
}

// AccountInfo is a System.Account value: nonce and reference counts, then the balances in rao.
type AccountInfo struct {
	Nonce, Consumers, Providers, Sufficients uint32
	Free, Reserved, Frozen                   uint64
	Flags                                    scale.Uint128
}

// DecodeAccountInfo decodes a System.Account storage value (56 bytes).
func DecodeAccountInfo(b []byte) (AccountInfo, error) {
	d := scale.NewDecoder(b)
	a := AccountInfo{Nonce: d.U32(), Consumers: d.U32(), Providers: d.U32(), Sufficients: d.U32(),
		Free: d.U64(), Reserved: d.U64(), Frozen: d.U64(), Flags: d.U128()}
	if err := d.Finish(); err != nil {
		return AccountInfo{}, fmt.Errorf("neuron: decode AccountInfo: %w", err)
	}
	return a, nil
}
