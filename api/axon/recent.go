package axon

import (
	"github.com/taominer/taominer/api"
	"slices"
	"strings"
	"sync"
	"time"
)

// Sizes of the recent-queries log when Options leave them 0.
const (
	DefaultRecentSize = 50
	DefaultTopCallers = 32
)

// maxHotkeyLen bounds a logged hotkey: SS58 addresses are 48 characters;
// a forged header cannot make the log hold more.
const maxHotkeyLen = 64

// entry is a ring slot; uid -1 is unknown. Strings are shared with the
// request (constants or header values), so recording allocates nothing.
type entry struct {
	at                           time.Time
	hotkey, synapse, reason, msg string
	uid                          int32
	status                       int32
	ms                           float64
}

type callerEntry struct {
	hotkey                    string
	uid                       int32
	answered, errors, refused uint64
	last                      time.Time
	lastStatus                int32
}

// recentLog is a ring buffer of the last calls plus counters for at most
// top hotkeys. When a new hotkey arrives with the table full, the caller
// with the fewest calls (the oldest among equals) makes room, so a flood
// of forged hotkeys churns one slot and the busy validators stay.
type recentLog struct {
	mu       sync.Mutex
	since    time.Time
	ring     []entry
	next     int
	n        int
	callers  []callerEntry
	index    map[string]int
	answered uint64
	refused  uint64
}

func newRecentLog(size, top int, since time.Time) *recentLog {
	if size <= 0 {
		size = DefaultRecentSize
	}
	if top <= 0 {
		top = DefaultTopCallers
	}
	return &recentLog{since: since, ring: make([]entry, size), callers: make([]callerEntry, 0, top),
		index: make(map[string]int, top)}
}

// add records one call.
func (l *recentLog) add(e entry, refused bool) {
	if len(e.hotkey) > maxHotkeyLen {
		e.hotkey = strings.Clone(e.hotkey[:maxHotkeyLen])
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ring[l.next] = e
	l.next = (l.next + 1) % len(l.ring)
	l.n = min(l.n+1, len(l.ring))
	if refused {
		l.refused++
	} else {
		l.answered++
	}
	if e.hotkey == "" {
		return
	}
	i, ok := l.index[e.hotkey]
	if !ok {
		if len(l.callers) < cap(l.callers) {
			l.callers = append(l.callers, callerEntry{})
			i = len(l.callers) - 1
		} else {
			i = 0
			for j := range l.callers {
				if c, m := &l.callers[j], &l.callers[i]; c.total() < m.total() || c.total() == m.total() && c.last.Before(m.last) {
					i = j
				}
			}
			delete(l.index, l.callers[i].hotkey)
		}
		l.callers[i] = callerEntry{hotkey: e.hotkey, uid: -1}
		l.index[e.hotkey] = i
	}
	c := &l.callers[i]
	switch {
	case refused:
		c.refused++
	case e.status != 200:
		c.answered++
		c.errors++
	default:
		c.answered++
	}
	c.last, c.lastStatus = e.at, e.status
	if e.uid >= 0 {
		c.uid = e.uid
	}
}

func (c *callerEntry) total() uint64 { return c.answered + c.refused }

func uidPtr(u int32) *int {
	if u < 0 {
		return nil
	}
	v := int(u)
	return &v
}

// snapshot copies the log: calls newest first, callers by calls made.
func (l *recentLog) snapshot() api.Validators {
	l.mu.Lock()
	v := api.Validators{Since: l.since, Answered: l.answered, Refused: l.refused,
		Recent: make([]api.AxonQuery, 0, l.n), Callers: make([]api.AxonCaller, 0, len(l.callers))}
	for k := 1; k <= l.n; k++ {
		e := &l.ring[(l.next-k+len(l.ring))%len(l.ring)]
		v.Recent = append(v.Recent, api.AxonQuery{Time: e.at, Hotkey: e.hotkey, UID: uidPtr(e.uid), Synapse: e.synapse,
			Status: int(e.status), Reason: e.reason, Message: e.msg, ProcessMS: e.ms})
	}
	for _, c := range l.callers {
		v.Callers = append(v.Callers, api.AxonCaller{Hotkey: c.hotkey, UID: uidPtr(c.uid), Answered: c.answered,
			Errors: c.errors, Refused: c.refused, LastSeen: c.last, LastStatus: int(c.lastStatus)})
	}
	l.mu.Unlock()
	slices.SortStableFunc(v.Callers, func(a, b api.AxonCaller) int {
		if ta, tb := a.Answered+a.Refused, b.Answered+b.Refused; ta != tb {
			if ta > tb {
				return -1
			}
			return 1
		}
		return b.LastSeen.Compare(a.LastSeen)
	})
	return v
}

// record logs a call that ends with status; reason is "" for calls that
// passed admission. The UID comes from the metagraph when there is one.
func (a *Axon) record(hotkey, synapse string, status int, reason, msg string, start time.Time) {
	uid := int32(-1)
	if hotkey != "" && a.opt.Metagraph != nil {
		if c, ok := a.opt.Metagraph.Caller(hotkey); ok {
			uid = int32(c.UID)
		}
	}
	now := a.opt.Now()
	a.recent.add(entry{at: start, hotkey: hotkey, synapse: synapse, reason: reason, msg: msg, uid: uid,
		status: int32(status), ms: float64(now.Sub(start).Microseconds()) / 1e3}, reason != "")
}

// Recent returns the last calls answered or refused, newest first (at
// most Options.RecentSize).
func (a *Axon) Recent() []api.AxonQuery { return a.recent.snapshot().Recent }

// Callers returns the per-hotkey counters of the busiest callers (at most
// Options.TopCallers), most calls first.
func (a *Axon) Callers() []api.AxonCaller { return a.recent.snapshot().Callers }

// Validators returns the recent calls, the busiest callers and the totals
// in one consistent copy, for GET /v1/chain and GET /v1/axon.
func (a *Axon) Validators() api.Validators { return a.recent.snapshot() }

// Hotkey is the axon's own hotkey, SS58.
func (a *Axon) Hotkey() string { return a.hotkey }
