package receiver

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestReplayStore: insert-if-absent, refusing when full rather than
// evicting, expiry after the ttl in insertion order, and the slice reused.
func TestReplayStore(t *testing.T) {
	t0 := time.Unix(1731000000, 0)
	s := newReplayStore(2, 10*time.Second)
	for _, tc := range []struct {
		signer, uuid string
		at           time.Duration
		want         int
	}{
		{"a", "1", 0, inserted},
		{"a", "1", time.Second, replayed},
		{"b", "1", time.Second, inserted},
		{"a", "2", 2 * time.Second, full},
		{"a", "1", 9 * time.Second, replayed},
		{"a", "1", 10 * time.Second, inserted}, // a's first pair expired
		{"a", "2", 10 * time.Second, full},
		{"a", "2", 11 * time.Second, inserted}, // b's expired
		{"b", "1", 11 * time.Second, full},
	} {
		if got := s.insert(tc.signer, tc.uuid, t0.Add(tc.at)); got != tc.want {
			t.Errorf("insert(%s, %s) at +%v = %d, want %d", tc.signer, tc.uuid, tc.at, got, tc.want)
		}
	}
	if s.len() != 2 {
		t.Errorf("len %d, want 2", s.len())
	}
	// Many inserts over time keep the slice bounded.
	s = newReplayStore(100, time.Second)
	for i := range 100_000 {
		if got := s.insert("a", strconv.Itoa(i), t0.Add(time.Duration(i)*100*time.Millisecond)); got != inserted {
			t.Fatalf("insert %d = %d", i, got)
		}
	}
	if len(s.fifo) > 40 || s.len() > 10 {
		t.Errorf("fifo %d, map %d after steady inserts", len(s.fifo), s.len())
	}
}

// TestReplayStoreConcurrent: of many goroutines inserting the same pair at
// once, exactly one succeeds.
func TestReplayStoreConcurrent(t *testing.T) {
	s := newReplayStore(1000, time.Minute)
	now := time.Now()
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			if s.insert("a", "u", now) == inserted {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Errorf("%d inserts succeeded, want 1", ok.Load())
	}
}
