// Package guard holds a public HTTP port against hostile clients. It owns
// what every port of the miner needs whatever protocol it speaks (the KServe
// port, the axon port, and the ports to come):
//
//   - connection caps: open connections per port and per client address
//     (an IPv4 address, or an IPv6 /64), excess connections closed at once
//     with a short 503; trusted networks (loopback by default: probes and
//     scrapers on the host) are exempt (conns.go);
//   - deadlines on every read and write: headers, the body (from the end of
//     the headers to its last byte), idle keep-alive connections, and the
//     answer (set once the answer starts being written, never during
//     queueing or inference) (guard.go, handler.go);
//   - memory that follows bytes received: a process-wide Budget charged as
//     body bytes arrive, never as a client declares them, and ReadAll,
//     which reserves at most a small fixed amount ahead of what arrived
//     (budget.go, body.go);
//   - one refusal metric for every port, taominer_refusals_total{port,
//     protocol,reason}, with bounded labels, and rate-limited log lines
//     (metrics.go).
//
// Handlers read the request body as usual; a read that breaks a limit fails
// with a *RefusalError naming the status to answer (413, 408, 503). The
// handler writes the answer in its own protocol's shape; the guard counts
// it once, from the status the handler wrote, and asks the server to close
// the connection. A handler that answers 499
// (api.StatusClientClosedRequest) reports a client that went away; it is
// counted as client_closed.
//
// The package knows nothing of models, chains or the protocols it guards.
package guard
