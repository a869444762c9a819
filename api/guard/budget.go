package guard

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Budget is the allowance of request body bytes held in memory at once,
// shared by every port of a process. Bytes are charged as they arrive and
// released when their request ends; a read that would take the total over
// the limit is refused.
type Budget struct {
	limit int64
	held  atomic.Int64
	peak  atomic.Int64 // highest held since the last return of memory to the OS
}

// NewBudget returns a budget of limit bytes (at least 1).
func NewBudget(limit int64) *Budget {
	return &Budget{limit: max(limit, 1)}
}

// Limit returns the budget's size in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// Held returns the body bytes charged now.
func (b *Budget) Held() int64 { return b.held.Load() }

// charge takes n bytes from the budget, or reports false (and takes
// nothing) when that would exceed it.
func (b *Budget) charge(n int64) bool {
	var v int64
	for {
		held := b.held.Load()
		if v = held + n; v > b.limit {
			return false
		}
		if b.held.CompareAndSwap(held, v) {
			break
		}
	}
	for {
		p := b.peak.Load()
		if v <= p || b.peak.CompareAndSwap(p, v) {
			return true
		}
	}
}

// release gives n bytes back.
func (b *Budget) release(n int64) {
	if n != 0 {
		b.held.Add(-n)
	}
}

// Memory return after bursts: when at least releaseMin bytes were held at
// once and the held total has fallen to a quarter of that peak, Run returns
// the freed memory to the operating system (debug.FreeOSMemory) at most
// once per releaseEvery. Without it the Go runtime keeps a burst's pages
// for minutes (its scavenger is paced, and no collection runs while the
// process is idle).
const (
	releaseMin   = 32 << 20
	releaseEvery = 5 * time.Second
)

// Run returns memory to the operating system after bursts of bodies (see
// releaseMin) until ctx ends.
func (b *Budget) Run(ctx context.Context) error {
	t := time.NewTicker(releaseEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			b.maybeRelease()
		}
	}
}

// maybeRelease frees memory when a burst has passed; it reports whether it
// did.
func (b *Budget) maybeRelease() bool {
	peak, held := b.peak.Load(), b.held.Load()
	if peak < releaseMin || held > peak/4 {
		return false
	}
	b.peak.Store(held)
	debug.FreeOSMemory()
	return true
}

// AutoFraction is the share of the memory limit an automatic budget takes
// (AutoLimit).
const AutoFraction = 8

// AutoLimit is the budget size for --max-inflight-body-bytes 0: an eighth
// of the memory this process may use (the cgroup memory limit when one is
// set, else the machine's RAM), and never less than maxBody, so that a body
// of the largest accepted size can be admitted. source says which memory
// figure it used, for the startup log.
func AutoLimit(maxBody int64) (limit int64, source string) {
	mem, source := memoryLimit()
	if mem <= 0 {
		return max(maxBody, 1<<30), "default 1 GiB (no cgroup limit or /proc/meminfo found)"
	}
	return max(mem/AutoFraction, maxBody), source
}

// memoryLimit is the cgroup v2 or v1 memory limit of this process, or the
// machine's RAM.
func memoryLimit() (int64, string) {
	if n, ok := readLimit("/sys/fs/cgroup/memory.max"); ok {
		return n, fmt.Sprintf("1/%d of the cgroup memory limit (%d bytes)", AutoFraction, n)
	}
	if n, ok := readLimit("/sys/fs/cgroup/memory/memory.limit_in_bytes"); ok {
		return n, fmt.Sprintf("1/%d of the cgroup memory limit (%d bytes)", AutoFraction, n)
	}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err == nil && kb > 0 {
				return kb << 10, fmt.Sprintf("1/%d of RAM (%d bytes)", AutoFraction, kb<<10)
			}
		}
	}
	return 0, ""
}

// readLimit reads a cgroup memory limit file; "max" and the v1 "no limit"
// value (close to 2^63) count as no limit.
func readLimit(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 || n >= 1<<62 {
		return 0, false
	}
	return n, true
}
