package redistest_test

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/taominer/taominer/miner/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func roundTrip(t *testing.T, addr, cmd string) (string, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func TestStartStopRestart(t *testing.T) {
	s := redistest.StartServer(t)
	if !strings.HasPrefix(s.Addr, "127.0.0.1:") || strings.HasSuffix(s.Addr, ":6379") {
		t.Fatalf("addr %q: want a private loopback port", s.Addr)
	}
	if got, err := roundTrip(t, s.Addr, "SET k v"); err != nil || got != "+OK" {
		t.Fatalf("SET: %q, %v", got, err)
	}
	s.Stop()
	if _, err := roundTrip(t, s.Addr, "PING"); err == nil {
		t.Fatal("PING answered after Stop")
	}
	s.Stop() // idempotent
	addr := s.Addr
	s.Restart()
	if s.Addr != addr {
		t.Fatalf("restart moved %s to %s", addr, s.Addr)
	}
	// No persistence: the restarted server is empty.
	if got, err := roundTrip(t, s.Addr, "GET k"); err != nil || got != "_" && got != "$-1" {
		t.Fatalf("GET after restart: %q, %v", got, err)
	}
	s.Kill()
	s.Restart()
	if got, err := roundTrip(t, s.Addr, "PING"); err != nil || got != "+PONG" {
		t.Fatalf("PING after kill+restart: %q, %v", got, err)
	}
}

func TestTwoServers(t *testing.T) {
	a, b := redistest.Start(t), redistest.Start(t)
	if a == b {
		t.Fatalf("both servers on %s", a)
	}
	for _, addr := range []string{a, b} {
		if got, err := roundTrip(t, addr, "PING"); err != nil || got != "+PONG" {
			t.Fatalf("%s: %q, %v", addr, got, err)
		}
	}
}
