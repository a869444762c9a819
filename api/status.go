package api

import "time"

// The bodies of GET /v1/chain (the node's view of the chain) and GET /v1/axon
// (what the axon saw of validators), shared by the server, the miner that
// fills them, and `miner status`, which reads them back.

// ChainStatus is the body of GET /v1/chain.
type ChainStatus struct {
	Network    string                 `json:"network"`
	Endpoint   string                 `json:"endpoint"`
	Netuid     uint16                 `json:"netuid"`
	Hotkey     string                 `json:"hotkey"`
	Registered bool                   `json:"registered"`
	UID        *int                   `json:"uid"`
	Axon       AxonPublication        `json:"axon"`
	Neuron     *NeuronStatus          `json:"neuron,omitempty"`
	Metagraph  *MetagraphInfo         `json:"metagraph"`
	Errors     map[string]StatusError `json:"errors"`
	// Validators is what the axon saw of its callers; null when no axon runs.
	Validators *Validators `json:"validators"`
	// Projection is the Yuma epoch run locally on the latest metagraph and the on-chain weights
	// and bonds; null before the first one (or when not registered).
	Projection *Projection `json:"projection"`
	// Commitment is what --commit-endpoint publishes and what the chain holds; null without it.
	Commitment *CommitmentStatus `json:"commitment"`
}

// StatusError is the last failure of one of the node's chain loops.
type StatusError struct {
	Error string    `json:"error"`
	At    time.Time `json:"at"`
}

// AxonPublication is the axon address the node publishes (serve_axon) and
// what the chain holds.
type AxonPublication struct {
	Ours         string `json:"ours"`
	Version      uint32 `json:"version"`
	OnChain      string `json:"on_chain"`
	OnChainBlock uint64 `json:"on_chain_block"`
	Published    bool   `json:"published"`
}

// MetagraphInfo describes the node's latest metagraph sync.
type MetagraphInfo struct {
	Block       uint64    `json:"block"`
	SyncedAt    time.Time `json:"synced_at"`
	Source      string    `json:"source"`
	Neurons     int       `json:"neurons"`
	Tempo       uint16    `json:"tempo"`
	MovingPrice *float64  `json:"moving_price_tao_per_alpha"`
}

// NeuronStatus is one neuron's figures, shared by GET /v1/chain and `miner status`.
type NeuronStatus struct {
	UID                uint16   `json:"uid"`
	StakeAlpha         float64  `json:"stake_alpha"`
	Incentive          float64  `json:"incentive"`
	Dividends          float64  `json:"dividends"`
	ValidatorPermit    bool     `json:"validator_permit"`
	Active             bool     `json:"active"`
	EmissionAlphaTempo float64  `json:"emission_alpha_per_tempo"`
	EmissionAlphaDay   float64  `json:"emission_alpha_per_day"`
	EmissionTAODay     *float64 `json:"emission_tao_per_day"`
	Rank               int      `json:"rank"`
	Miners             int      `json:"miners"`
	LastUpdate         uint64   `json:"last_update"`
}

// Projection is what the hotkey would get if the subnet's epoch ran at the snapshot's block,
// shared by GET /v1/chain and `miner status`.
type Projection struct {
	Block     uint64  `json:"block"`
	Incentive float64 `json:"incentive"`
	Consensus float64 `json:"consensus"`
	Dividends float64 `json:"dividends"`
	// EmissionAlpha is the hotkey's part of BasisAlpha, what the next epoch is expected to
	// distribute: what the last one did (the sum of the metagraph's emissions), or, before any
	// epoch paid anything, the pending emission. PendingAlpha is the subnet's pending emission at
	// the block, what an epoch in the next block would distribute.
	EmissionAlpha float64 `json:"emission_alpha"`
	BasisAlpha    float64 `json:"basis_alpha"`
	PendingAlpha  float64 `json:"pending_alpha"`
	// SpecVersion is the runtime whose epoch rules and hyperparameters were used.
	SpecVersion uint32 `json:"spec_version"`
	// Weighers are the validators whose weight on the hotkey counts, largest share of its rank
	// first (at most 16).
	Weighers []ProjectionWeigher `json:"weighers"`
	// Assumptions names what the projection does not read from the chain.
	Assumptions string `json:"assumptions"`
}

// ProjectionWeigher is one validator weighing the hotkey in a Projection.
type ProjectionWeigher struct {
	UID       uint16  `json:"uid"`
	Hotkey    string  `json:"hotkey"`
	Stake     float64 `json:"stake"`
	Weight    float64 `json:"weight"`
	Clipped   float64 `json:"clipped"`
	RankShare float64 `json:"rank_share"`
}

// CommitmentStatus is what --commit-endpoint publishes and what the chain
// holds.
type CommitmentStatus struct {
	Ours         string    `json:"ours"`
	OnChain      *string   `json:"on_chain"` // the stored commitment, rendered; null when none
	OnChainBlock uint32    `json:"on_chain_block"`
	Published    bool      `json:"published"`
	Error        string    `json:"error,omitempty"`
	ErrorAt      time.Time `json:"error_at,omitzero"`
}

// AxonReport is the body of GET /v1/axon: the axon's address and hotkey and what it saw of its
// callers, the same validators section as GET /v1/chain, online or offline.
type AxonReport struct {
	Hotkey     string     `json:"hotkey"`
	Addr       string     `json:"addr"`
	Validators Validators `json:"validators"`
}

// Validators is what the axon saw of its callers: the recent calls,
// newest first, the busiest callers, and totals since start.
type Validators struct {
	Since    time.Time    `json:"since"`
	Answered uint64       `json:"answered"`
	Refused  uint64       `json:"refused"`
	Recent   []AxonQuery  `json:"recent"`
	Callers  []AxonCaller `json:"callers"`
}

// AxonQuery is one call the axon answered or refused, as the recent-queries
// log keeps it.
type AxonQuery struct {
	Time time.Time `json:"time"`
	// Hotkey is the caller's claimed hotkey (verified only when Reason is
	// empty or a refusal after the signature check); "" when none came.
	Hotkey string `json:"hotkey"`
	// UID is the hotkey's UID in the metagraph; nil when not known.
	UID     *int   `json:"uid"`
	Synapse string `json:"synapse"`
	Status  int    `json:"status"`
	// Reason is the refusal reason (a taominer_axon_refused_total label);
	// "" for calls that passed admission.
	Reason string `json:"reason,omitempty"`
	// Message is the status message sent back.
	Message string `json:"message,omitempty"`
	// ProcessMS is the time from arrival to answer, in milliseconds.
	ProcessMS float64 `json:"process_ms"`
}

// AxonCaller is one hotkey's counters at the axon.
type AxonCaller struct {
	Hotkey string `json:"hotkey"`
	UID    *int   `json:"uid"`
	// Answered counts calls that passed admission (whatever the forward
	// answered); Errors those of them not answered 200; Refused calls
	// refused by admission.
	Answered   uint64    `json:"answered"`
	Errors     uint64    `json:"errors"`
	Refused    uint64    `json:"refused"`
	LastSeen   time.Time `json:"last_seen"`
	LastStatus int       `json:"last_status"`
}
