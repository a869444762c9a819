// Package receiver admits Epistula v2 requests (api/epistula) on the axon
// port and hands them to their routes.
//
// It checks, cheapest first, and refuses with {"error": ...} bodies counted
// in taominer_refusals_total{port="axon",protocol="epistula"}:
// the route (404, 405); the version, exactly "2" (400); the required headers,
// present once and well formed (400); Epistula-Signed-For, our own hotkey
// (400); the timestamp, within the window of now in either direction (401);
// the signer policy shared with the axon (403; 503 while the metagraph has
// not loaded); a read-only look in the replay store, so that replays cost no
// verification (401 replay, 503 full); the body, read under the port's
// limits (413, 408, 503, counted by api/guard); the sr25519 signature (401);
// the replay store of (signer, uuid), insert-if-absent, refusing when full
// rather than evicting; and last the per-hotkey rate limit shared with the
// axon (429), so that neither a forged Signed-By nor a replayed request
// spends a validator's budget. Only then does the route run, with the same
// body bytes that were hashed. Epistula-Secret-Signature-* headers are
// ignored. Operators' reference: docs/epistula.md.
package receiver
