package guard

import (
	"net"
	"time"
)

// This file serves ports whose protocol multiplexes messages over
// long-lived connections (gRPC over HTTP/2), where the protocol's own
// server reads and writes the connection and Handler cannot sit per
// request: the port's connection caps and deadlines are applied to the
// connection, the budget and the refusal counters are offered to the
// protocol's server.

// Protocol creates the port's refusal series of protocol at 0 (Handler
// does it for the protocols it serves).
func (p *Port) Protocol(protocol string) { p.met.initPort(p.name, protocol) }

// Refused counts one refusal of protocol on the port, for the reasons
// the protocol's server detects itself (a message over the size limit,
// over the budget, or not received in time).
func (p *Port) Refused(protocol, reason string, attrs ...any) {
	p.met.Refused(p.name, protocol, reason, attrs...)
}

// Reserve charges n bytes of a received message to the process's body
// budget; ok is false (and nothing is charged) when that would take the
// bytes held past the budget. release gives them back, once.
func (p *Port) Reserve(n int64) (release func(), ok bool) {
	if p.budget == nil {
		return func() {}, true
	}
	if !p.budget.charge(n) {
		return nil, false
	}
	done := false
	return func() {
		if !done {
			done = true
			p.budget.release(n)
		}
	}, true
}

// ListenStream is Listen for multiplexing protocols: besides the
// connection caps, every Write of an accepted connection must complete
// within WriteTimeout, and a connection on which nothing arrives for
// IdleTimeout is closed (the protocol's own pings keep a connection with
// calls in flight alive within it).
func (p *Port) ListenStream(ln net.Listener) net.Listener {
	return &streamListener{Listener: p.Listen(ln), read: p.limits.IdleTimeout, write: p.limits.WriteTimeout}
}

type streamListener struct {
	net.Listener
	read, write time.Duration
}

func (ln *streamListener) Accept() (net.Conn, error) {
	c, err := ln.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &deadlineConn{Conn: c, read: ln.read, write: ln.write}, nil
}

// deadlineConn sets a deadline before each read and write.
type deadlineConn struct {
	net.Conn
	read, write time.Duration
}

func (c *deadlineConn) Read(b []byte) (int, error) {
	if err := c.SetReadDeadline(time.Now().Add(c.read)); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *deadlineConn) Write(b []byte) (int, error) {
	if err := c.SetWriteDeadline(time.Now().Add(c.write)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}
