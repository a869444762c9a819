// Package redistest runs a private redis-server for tests: a child process
// on a free loopback port with no persistence, stopped when the test ends.
// It never touches a Redis the machine already runs.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a redis-server may take to answer PING.
const startTimeout = 10 * time.Second

// Server is a redis-server child process owned by one test.
type Server struct {
	// Addr is host:port of the server; it stays the same across Restart.
	Addr string

	t    testing.TB
	bin  string
	port int
	dir  string
	cmd  *exec.Cmd // nil while stopped
	log  *os.File
	runs int
	// password, when set, is required by the server (requirepass).
	password string
	// args are extra redis-server arguments (config directives).
	args []string
}

// Start starts a redis-server for t and returns its address. The server is
// stopped when t ends.
func Start(t testing.TB) (addr string) {
	t.Helper()
	return StartServer(t).Addr
}

// StartServer is Start returning the Server, for tests that stop and
// restart it.
func StartServer(t testing.TB) *Server {
	t.Helper()
	return startServer(t, "")
}

// StartWithPassword starts a server that requires password (AUTH).
func StartWithPassword(t testing.TB, password string) *Server {
	t.Helper()
	return startServer(t, password)
}

// StartWithArgs starts a server with extra redis-server arguments, config
// directives such as "--rename-command", "BLMPOP", "" (a server without a
// command, as an older Redis).
func StartWithArgs(t testing.TB, args ...string) *Server {
	t.Helper()
	return startServer(t, "", args...)
}

func startServer(t testing.TB, password string, args ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redistest: redis-server not found on PATH (%v): apt-get install redis-server", err)
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir(), password: password, args: args}
	t.Cleanup(s.Stop)
	// A free port can be taken between our probe and redis-server's bind;
	// try a few.
	var lastErr error
	for range 3 {
		if s.port, err = freePort(); err != nil {
			t.Fatalf("redistest: %v", err)
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
		if lastErr = s.start(); lastErr == nil {
			return s
		}
	}
	t.Fatalf("redistest: %v", lastErr)
	return nil
}

// Stop stops the server (SIGTERM, then SIGKILL after 5 s) and waits for it to
// exit. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.t.Helper()
	if s.cmd == nil {
		return
	}
	cmd := s.cmd
	s.cmd = nil
	_ = cmd.Process.Signal(syscall.SIGTERM)
	kill := time.AfterFunc(5*time.Second, func() { _ = cmd.Process.Kill() })
	_ = cmd.Wait() // a signal exit status is expected
	kill.Stop()
	_ = s.log.Close()
}

// Kill stops the server with SIGKILL, as a crash would.
func (s *Server) Kill() {
	s.t.Helper()
	if s.cmd == nil {
		return
	}
	cmd := s.cmd
	s.cmd = nil
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	_ = s.log.Close()
}

// Restart stops the server if it runs and starts a fresh one (empty: there
// is no persistence) on the same address.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	var err error
	// The port was ours a moment ago; retry briefly in case a lingering
	// socket still holds it.
	for range 20 {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("redistest: restart on %s: %v", s.Addr, err)
}

// start launches redis-server on s.port and waits for PING to answer.
func (s *Server) start() error {
	s.runs++
	logPath := filepath.Join(s.dir, fmt.Sprintf("redis-%d.log", s.runs))
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
		"--protected-mode", "yes",
	)
	if s.password != "" {
		cmd.Args = append(cmd.Args, "--requirepass", s.password)
	}
	cmd.Args = append(cmd.Args, s.args...)
	// Files, not pipes: exec then starts no copying goroutines.
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	s.cmd, s.log = cmd, log
	deadline := time.Now().Add(startTimeout)
	for {
		err := ping(s.Addr, s.password)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || exited(cmd) {
			s.Kill()
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("redis-server on %s did not answer PING: %v\n%s", s.Addr, err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exited reports whether cmd's process is gone (or a zombie).
func exited(cmd *exec.Cmd) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// state is the field after the ")" that ends the command name.
	if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] == 'Z'
	}
	return false
}

func ping(addr, password string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	r := bufio.NewReader(c)
	if password != "" {
		if _, err := fmt.Fprintf(c, "AUTH %s\r\n", password); err != nil {
			return err
		}
		if line, err := r.ReadString('\n'); err != nil || strings.TrimSpace(line) != "+OK" {
			return fmt.Errorf("AUTH answered %q, %v", line, err)
		}
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
