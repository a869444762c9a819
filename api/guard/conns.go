package guard

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTrusted are the networks exempt from the connection caps unless
// configured otherwise: the host itself (Docker's HEALTHCHECK, `miner
// healthcheck` in a Kubernetes exec probe, a local Prometheus).
var DefaultTrusted = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// ParsePrefixes parses CIDRs (a bare address is a one-address network).
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a network (CIDR such as 10.0.0.0/8) or an address", s)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// clientKey is what the per-client cap counts by: the IPv4 address, or the
// IPv6 /64 (one subscriber's allocation: counting single IPv6 addresses
// would give an attacker 2^64 of them).
func clientKey(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

// connLimiter counts a port's open connections.
type connLimiter struct {
	port     *Port
	mu       sync.Mutex
	untrust  int                  // guarded by mu: open connections from untrusted addresses
	byClient map[netip.Prefix]int // guarded by mu
	open     atomic.Int64         // every open connection, trusted ones too
}

// admit reserves a slot for a connection from addr, or returns the reason
// to refuse it. release undoes a successful admit.
func (l *connLimiter) admit(addr netip.Addr) (release func(), reason string) {
	lim := l.port.limits
	if l.port.trusted(addr) {
		l.open.Add(1)
		l.port.openGauge.Inc()
		return l.closeTrusted, ""
	}
	key := clientKey(addr)
	l.mu.Lock()
	switch {
	case lim.MaxConns > 0 && l.untrust >= lim.MaxConns:
		l.mu.Unlock()
		return nil, ReasonConnLimit
	case lim.MaxConnsPerIP > 0 && l.byClient[key] >= lim.MaxConnsPerIP:
		l.mu.Unlock()
		return nil, ReasonConnLimitIP
	}
	l.untrust++
	l.byClient[key]++
	l.mu.Unlock()
	l.open.Add(1)
	l.port.openGauge.Inc()
	return func() {
		l.mu.Lock()
		l.untrust--
		if l.byClient[key]--; l.byClient[key] <= 0 {
			delete(l.byClient, key)
		}
		l.mu.Unlock()
		l.open.Add(-1)
		l.port.openGauge.Dec()
	}, ""
}

func (l *connLimiter) closeTrusted() {
	l.open.Add(-1)
	l.port.openGauge.Dec()
}

// listener applies the caps at Accept.
type listener struct {
	net.Listener
	lim *connLimiter
}

// Accept returns the next connection within the caps; connections past
// them get a short 503 and are closed here, and counted.
func (ln *listener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := remoteAddr(c)
		release, reason := ln.lim.admit(addr)
		if reason != "" {
			ln.lim.port.refuseConn(c, addr, reason)
			continue
		}
		return &conn{Conn: c, release: release}, nil
	}
}

// remoteAddr is the connection's peer address (the zero Addr when it is
// not an IP, e.g. a Unix socket: such peers count as one client).
func remoteAddr(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// connRefusedAnswer is written to a refused connection before it is
// closed: a client that reads it learns why; one that has already sent a
// request may instead see a reset (the kernel resets a connection closed
// with unread data), which is as cheap for us.
func connRefusedAnswer(reason string) []byte {
	msg := `{"error":"too many open connections to this port; close idle connections and retry"}`
	if reason == ReasonConnLimitIP {
		msg = `{"error":"too many open connections from your address; close idle connections and retry"}`
	}
	return []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n" +
		"Connection: close\r\nContent-Length: " + strconv.Itoa(len(msg)) + "\r\n\r\n" + msg)
}

// refuseConn answers and closes a connection past the caps without ever
// blocking the accept loop: the write gets a one-millisecond deadline (a
// new socket's send buffer takes it at once).
func (p *Port) refuseConn(c net.Conn, addr netip.Addr, reason string) {
	_ = c.SetWriteDeadline(time.Now().Add(time.Millisecond))
	_, _ = c.Write(p.refusedAnswers[reason])
	_ = c.Close()
	p.met.Refused(p.name, ProtocolTCP, reason, "client", addr.String())
}

// conn gives its slot back once, when closed.
type conn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite half-closes a TCP connection, as net/http does before closing
// one whose request it did not read to the end.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
