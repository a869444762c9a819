package axon

import (
	"testing"
	"time"
)

// TestRecentLogAllocs: recording a call allocates nothing, for a known
// caller and for a new one replacing the least busy.
func TestRecentLogAllocs(t *testing.T) {
	l := newRecentLog(8, 2, time.Now())
	hot := []string{"a", "b", "c", "d"}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		l.add(entry{at: time.Now(), hotkey: hot[i%len(hot)], synapse: "Infer", status: 403, uid: -1}, true)
		i++
	})
	if allocs != 0 {
		t.Errorf("add allocates %v times per call, want 0", allocs)
	}
	if n := len(l.snapshot().Callers); n != 2 {
		t.Errorf("%d callers kept, want 2", n)
	}
}
