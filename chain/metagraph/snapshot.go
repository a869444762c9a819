// Package metagraph follows one subnet's metagraph: a Syncer reads the subnet's neurons every
// few blocks (the NeuronInfoRuntimeApi, or storage when the runtime lacks it) and publishes an
// immutable Snapshot that readers take without locks.
package metagraph

import (
	"time"

	"github.com/taominer/taominer/chain/client"
	"github.com/taominer/taominer/chain/neuron"
)

// Sources of a snapshot's neurons.
const (
	SourceRuntimeAPI = "runtime_api" // NeuronInfoRuntimeApi_get_neurons_lite
	SourceStorage    = "storage"     // SubtensorModule storage items, when the runtime API is missing
)

// Neuron is one UID of the subnet. Ratios are the chain's u16 values divided by 65535.
type Neuron struct {
	UID        uint16
	Hotkey     string   // SS58
	Coldkey    string   // SS58 of the hotkey's owner
	HotkeyPub  [32]byte // public key of Hotkey
	ColdkeyPub [32]byte
	// Stake is the hotkey's alpha on the subnet in rao (TotalHotkeyAlpha).
	Stake           uint64
	ValidatorPermit bool
	Active          bool
	Incentive       float64
	Consensus       float64
	Trust           float64 // always 0 on current runtimes
	ValidatorTrust  float64
	Dividends       float64
	// Emission is the alpha (rao) the neuron earned in the subnet's last epoch.
	Emission   uint64
	LastUpdate uint64 // block of the neuron's last weights update
	Axon       neuron.AxonInfo
}

// Snapshot is the metagraph at one block. It is never modified after it is published.
type Snapshot struct {
	NetUID    uint16
	Block     uint64
	BlockHash client.Hash
	// Tempo is the subnet's epoch length in blocks (SubtensorModule.Tempo).
	Tempo uint16
	// Source says where the neurons came from: SourceRuntimeAPI or SourceStorage.
	Source string
	// MovingPrice is the subnet's moving alpha price in TAO per alpha (I96F32 on chain);
	// PriceKnown is false when neither the metagraph runtime API nor storage gave it.
	MovingPrice float64
	PriceKnown  bool
	SyncedAt    time.Time
	// Neurons are ordered by UID (Neurons[i].UID == i on a consistent chain).
	Neurons []Neuron

	byHotkey map[string]int
	byUID    map[uint16]int
}

// index builds the lookup tables; called once before publishing.
func (s *Snapshot) index() {
	s.byHotkey = make(map[string]int, len(s.Neurons))
	s.byUID = make(map[uint16]int, len(s.Neurons))
	for i := range s.Neurons {
		s.byHotkey[s.Neurons[i].Hotkey] = i
		s.byUID[s.Neurons[i].UID] = i
	}
}

// ByHotkey returns the neuron registered with the hotkey (SS58).
func (s *Snapshot) ByHotkey(ss58 string) (*Neuron, bool) {
	if s == nil {
		return nil, false
	}
	i, ok := s.byHotkey[ss58]
	if !ok {
		return nil, false
	}
	return &s.Neurons[i], true
}

// ByUID returns the neuron with the UID.
func (s *Snapshot) ByUID(uid uint16) (*Neuron, bool) {
	if s == nil {
		return nil, false
	}
	i, ok := s.byUID[uid]
	if !ok {
		return nil, false
	}
	return &s.Neurons[i], true
}

// IsMiner reports whether n counts as a miner: it earns incentive, or it has no validator
// permit. (Validators hold permits and earn dividends, not incentive; a permit holder that earns
// incentive, such as a subnet owner's hotkey, is also a miner.)
func (n *Neuron) IsMiner() bool { return n.Incentive > 0 || !n.ValidatorPermit }

// MinerRank returns the neuron's 1-based rank by incentive among the subnet's miners (see
// IsMiner; ties share the better rank) and how many miners there are. A neuron that is not a
// miner is ranked as if it were one. rank is 0 when uid is not in the snapshot.
func (s *Snapshot) MinerRank(uid uint16) (rank, miners int) {
	me, ok := s.ByUID(uid)
	if !ok {
		return 0, 0
	}
	rank = 1
	for i := range s.Neurons {
		n := &s.Neurons[i]
		if !n.IsMiner() && n.UID != uid {
			continue
		}
		miners++
		if n.UID != uid && n.Incentive > me.Incentive {
			rank++
		}
	}
	return rank, miners
}

// EpochsPerDay is how many epochs of the snapshot's tempo fit in a day of 12-second blocks. An
// epoch runs every tempo+1 blocks.
func (s *Snapshot) EpochsPerDay() float64 {
	return BlocksPerDay / float64(int(s.Tempo)+1)
}

// BlocksPerDay is a day of 12-second blocks.
const BlocksPerDay = 24 * 60 * 60 / 12

// ratio converts a u16 proportion to [0, 1].
func ratio(v uint16) float64 { return float64(v) / 65535 }
