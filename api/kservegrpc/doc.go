// Package kservegrpc is the miner's gRPC port: the KServe v2 / Open
// Inference Protocol service inference.GRPCInferenceService (Triton's
// superset of the core RPCs, wire-compatible with tritonclient and
// perf_analyzer) and grpc.health.v1.Health, on the messages of
// api/kservepb.
//
// Requests are decoded (DecodeInferRequest: raw_input_contents or typed
// contents, sizes checked against shapes) and handed to the same
// interfaces the HTTP port uses (the miner's one front, its catalog,
// repository and statistics); answers always carry their data in
// raw_output_contents. Failures are api.Kind values mapped to status
// codes once, in Code.
//
// The port faces the internet: the listener applies the guard's
// connection caps and per-read/write deadlines (api/guard.ListenStream);
// the server bounds message sizes, streams per connection, the HTTP/2
// handshake, the arrival of a request message, idle connections
// (keepalive), and charges each received message to the process's body
// budget while its call runs. Every non-OK answer is counted once in
// taominer_grpc_errors_total{method,code,reason}; refusals also in the
// guard's taominer_refusals_total{port="grpc",protocol="kserve_grpc"}.
//
// The package knows nothing of models, runtimes, queues or chains.
package kservegrpc
