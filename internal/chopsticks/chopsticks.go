// Package chopsticks runs a real subtensor runtime on this machine for tests: Acala's
// chopsticks (npm @acala-network/chopsticks) executes the runtime wasm of a raw chain spec in
// genesis mode, serves the node's JSON-RPC over a websocket on loopback, builds a block when
// extrinsics arrive, and adds the dev RPCs a test needs to force state and blocks
// (dev_setStorage, dev_newBlock).
//
// It is test support, not an API: it lives under the module's internal/ so that any of its
// tests (today the miner command's end-to-end chain test) may start a local chain, while nothing
// outside the module can import it. It imports chain/rpc only.
package chopsticks

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/taominer/taominer/chain/rpc"
)

// Package is the npm package and version the tests pin.
const Package = "@acala-network/chopsticks@1.5.1"

// Install makes sure chopsticks is installed under dir (npm install --ignore-scripts, so no
// install script of any dependency runs) and returns the path of its executable.
func Install(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "node_modules", ".bin", "chopsticks")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("chopsticks: %w", err)
	}
	cmd := exec.CommandContext(ctx, "npm", "install", "--prefix", dir, "--ignore-scripts", "--no-audit", "--no-fund",
		"--loglevel=error", Package)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("chopsticks: npm install %s: %w\n%s", Package, err, out)
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("chopsticks: npm installed %s but %s is missing: %w", Package, bin, err)
	}
	return bin, nil
}

// Options configure Start.
type Options struct {
	// Bin is the chopsticks executable (see Install).
	Bin string
	// ChainSpec is the raw chain spec file (genesis.raw.top with :code).
	ChainSpec string
	// WasmOverride, when set, is a runtime wasm run instead of the spec's :code (the runtime
	// upgrade's migrations run at the first block, as on a real chain).
	WasmOverride string
	// Port is the RPC port on 127.0.0.1 (0: a free one).
	Port int
	// RuntimeLogLevel passes the runtime's own log output up to this level (0 off … 5 trace) to
	// the node's log.
	RuntimeLogLevel int
	// StartTimeout bounds the wait for the RPC server (default 3 minutes: the wasm is compiled
	// at start).
	StartTimeout time.Duration
}

// Node is a running chopsticks process.
type Node struct {
	url string
	cmd *exec.Cmd
	rpc *rpc.Client
	log *syncBuffer

	done    chan struct{}
	waitErr error
}

// Start launches chopsticks on the chain spec in genesis mode and returns once its RPC server
// answers. Stop it with Close.
func Start(ctx context.Context, o Options) (*Node, error) {
	if o.StartTimeout <= 0 {
		o.StartTimeout = 3 * time.Minute
	}
	if _, err := os.Stat(o.ChainSpec); err != nil {
		return nil, fmt.Errorf("chopsticks: chain spec: %w", err)
	}
	port := o.Port
	if port == 0 {
		p, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("chopsticks: %w", err)
		}
		port = p
	}
	n := &Node{url: "ws://127.0.0.1:" + strconv.Itoa(port), log: &syncBuffer{}, done: make(chan struct{})}
	args := []string{"--genesis", o.ChainSpec, "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--build-block-mode", "Batch", "--runtime-log-level", strconv.Itoa(o.RuntimeLogLevel)}
	if o.WasmOverride != "" {
		// Newer runtimes import host functions chopsticks 1.5.1 lacks (BLS12-381 for drand);
		// they fail only if called.
		args = append(args, "--wasm-override", o.WasmOverride, "--allow-unresolved-imports")
	}
	n.cmd = exec.Command(o.Bin, args...)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		return nil, fmt.Errorf("chopsticks: start %s: %w", o.Bin, err)
	}
	go func() {
		n.waitErr = n.cmd.Wait()
		close(n.done)
	}()
	wctx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()
	for {
		c, err := rpc.Dial(wctx, n.url, rpc.Options{ReconnectMin: 200 * time.Millisecond, ReconnectMax: time.Second})
		if err == nil {
			var chain string
			if err = c.Call(wctx, "system_chain", &chain); err == nil {
				n.rpc = c
				return n, nil
			}
			c.Close()
		}
		select {
		case <-n.done:
			return nil, fmt.Errorf("chopsticks exited before serving (%v):\n%s", n.waitErr, n.Log())
		case <-wctx.Done():
			n.Close()
			return nil, fmt.Errorf("chopsticks: no RPC on %s within %s: %w\n%s", n.url, o.StartTimeout, err, n.Log())
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// URL is the websocket RPC endpoint (ws://127.0.0.1:port).
func (n *Node) URL() string { return n.url }

// Log is what chopsticks printed so far.
func (n *Node) Log() string { return n.log.String() }

// Close stops chopsticks (its whole process group) and waits for it.
func (n *Node) Close() error {
	if n.rpc != nil {
		n.rpc.Close()
	}
	select {
	case <-n.done:
		return nil
	default:
	}
	_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
		<-n.done
	}
	return nil
}

// KV is one raw storage entry for SetStorage; a nil Value deletes the key.
type KV struct {
	Key, Value []byte
}

// SetStorage writes raw storage entries into the best block (dev_setStorage).
func (n *Node) SetStorage(ctx context.Context, kvs ...KV) error {
	pairs := make([][2]*string, len(kvs))
	for i, kv := range kvs {
		k := "0x" + hex.EncodeToString(kv.Key)
		pairs[i][0] = &k
		if kv.Value != nil {
			v := "0x" + hex.EncodeToString(kv.Value)
			pairs[i][1] = &v
		}
	}
	var hash string
	if err := n.rpc.Call(ctx, "dev_setStorage", &hash, pairs); err != nil {
		return fmt.Errorf("chopsticks: dev_setStorage: %w", err)
	}
	return nil
}

// NewBlocks builds count blocks (dev_newBlock), including any pending extrinsics, and returns
// the hash of the last.
func (n *Node) NewBlocks(ctx context.Context, count int) (string, error) {
	if count <= 0 {
		return "", errors.New("chopsticks: NewBlocks needs count > 0")
	}
	var hash string
	if err := n.rpc.Call(ctx, "dev_newBlock", &hash, map[string]int{"count": count}); err != nil {
		return "", fmt.Errorf("chopsticks: dev_newBlock: %w", err)
	}
	return hash, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer collects the process output for error messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 { // long runs: keep the last half
		tail := append([]byte("…(earlier output dropped)\n"), s.b.Bytes()[s.b.Len()/2:]...)
		s.b.Reset()
		s.b.Write(tail)
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
