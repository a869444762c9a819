// Package axonproto is the Bittensor axon wire protocol that both ends
// speak (spec wallet-and-axon.md §1–3): the synapse body (an ordered set of
// JSON fields echoed as they came), its bt_header_* header names and
// terminal info, the body hash over required_hash_fields, the message a
// dendrite signs and an axon verifies, the signature's text form, and the
// UUIDs the terminals send. Python's str() and repr() of values are here
// too, since the hash and the headers are defined through them.
//
// The server (api/axon) and the client (api/dendrite) import it; it imports
// neither, nor anything of the chain: signing and verifying are done by the
// ends, through interfaces that the miner command wires to the wallet.
package axonproto
