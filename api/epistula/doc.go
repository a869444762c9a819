// Package epistula is Epistula v2, the signed-HTTP protocol many subnets use
// between validators and miners instead of the axon's synapses (spec
// epistula.md): the header set, the signed message
// "<sha256 hex of the body>.<uuid>.<timestamp ms>.<signed for>", the signing
// of requests (Sign) and the parsing of their headers (CheckVersion,
// ParseHeaders).
//
// This package is the wire alone (the standard library only), so that
// clients (api/dendrite) sign without the server's dependencies; the
// receiver is api/epistula/receiver, the test vectors api/epistula/epistulatest.
package epistula
