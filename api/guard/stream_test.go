package guard

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// TestReserve: a message's bytes are charged while its call runs, a
// charge past the budget is refused and takes nothing, release gives the
// bytes back once.
func TestReserve(t *testing.T) {
	b := NewBudget(100)
	p := NewPort("grpc", Limits{}, b, nil, nil)
	release, ok := p.Reserve(60)
	if !ok || b.Held() != 60 {
		t.Fatalf("Reserve(60) = %v, held %d; want ok, 60", ok, b.Held())
	}
	if _, ok := p.Reserve(50); ok || b.Held() != 60 {
		t.Errorf("Reserve(50) over the budget = %v, held %d; want refused, 60", ok, b.Held())
	}
	release()
	release()
	if b.Held() != 0 {
		t.Errorf("held %d after release (twice), want 0", b.Held())
	}
	if _, ok := p.Reserve(100); !ok {
		t.Error("Reserve(100) on an empty budget of 100 refused")
	}
	if _, ok := NewPort("x", Limits{}, nil, nil, nil).Reserve(1 << 40); !ok {
		t.Error("a port without a budget refused a reservation")
	}
}

// TestListenStreamDeadlines: a connection on which nothing arrives is cut
// at IdleTimeout; writes go through within WriteTimeout.
func TestListenStreamDeadlines(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := NewPort("grpc", Limits{IdleTimeout: 50 * time.Millisecond, WriteTimeout: time.Second}, nil, nil, nil)
	ln := p.ListenStream(raw)
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if n, err := c.Read(buf); n != 1 || err != nil {
		t.Fatalf("first read = %d, %v", n, err)
	}
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read on a silent connection: %v, want the idle deadline", err)
	}
	if _, err := c.Write([]byte("y")); err != nil {
		t.Errorf("write within the write deadline: %v", err)
	}
}
