//go:build !linux

package batch

import "time"

// threadCPUTime cannot read a thread's CPU time on this system: batch size
// tuning measures elapsed time instead.
func threadCPUTime() (time.Duration, bool) { return 0, false }
