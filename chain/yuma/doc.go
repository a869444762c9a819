// Package yuma is subtensor's Yuma consensus epoch in Go, bit for bit: the stake-weighted
// median consensus with kappa, weight clipping, validator trust, incentive, bonds (the original
// bonds_moving_average EMA and Yuma 3 with liquid alpha), dividends and the emission split, as
// pallets/subtensor/src/epoch/run_epoch.rs epoch_mechanism (sparse path) computes them.
//
// All arithmetic uses the chain's fixed-point types with substrate-fixed v0.6.0 semantics:
// I32F32 (multiplication floors, division truncates, safe_div by zero gives 0, saturation
// everywhere), I64F64 for stake normalization and I96F32 for the emission amounts. Stored u16
// proportions are floor(x·65535).
//
// Epoch takes the raw storage values (Input) and hyperparameters (Params) and returns what
// the chain would persist (Result). Params.Rules select the behaviour of older runtimes
// (RulesFor a spec version; the zero value is HEAD), and ReadEpoch reads Input and Params at a
// block as that block's runtime would for its next epoch. Project answers the miner's question — what this hotkey
// would earn if the epoch ran now, and who weighs it.
//
// Layering: yuma is a chain-domain library and stays importable (not internal/) although only
// the miner command imports it today (its chain node's projection, miner status, miner
// simulate): it ports subtensor's epoch bit for bit and reads its input through the typed client
// (chain/client), which is chain knowledge that belongs under chain/, and it is what a validator
// or analysis tool outside this module would reuse. It imports chain/ packages only.
package yuma
