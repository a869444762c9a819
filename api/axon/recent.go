package axon

import (
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

// Query is one call the axon answered or refused, as the recent-queries
// log keeps it.
type Query struct {
	Time time.Time `json:"time"`
	// Hotkey is the caller's claimed hotkey (verified only when Reason is
	// empty or a refusal after the signature check); "" when none came.
	Hotkey string `json:"hotkey"`
	// UID is the hotkey's UID in the metagraph; nil when not known.
	UID     *int   `json:"uid"`
	Synapse string `json:"synapse"`
	Status  int    `json:"status"`
	// Reason is the refusal reason (a taominer_axon_refused_total label);
	// "" for calls that passed admission.
	Reason string `json:"reason,omitempty"`
	// Message is the status message sent back.
	Message string `json:"message,omitempty"`
	// ProcessMS is the time from arrival to answer, in milliseconds.
	ProcessMS float64 `json:"process_ms"`
}

// CallerStats are one hotkey's counters.
type CallerStats struct {
	Hotkey string `json:"hotkey"`
	UID    *int   `json:"uid"`
	// Answered counts calls that passed admission (whatever the forward
	// answered); Errors those of them not answered 200; Refused calls
	// refused by admission.
	Answered   uint64    `json:"answered"`
	Errors     uint64    `json:"errors"`
	Refused    uint64    `json:"refused"`
	LastSeen   time.Time `json:"last_seen"`
	LastStatus int       `json:"last_status"`
}

// Validators is what the axon saw of its callers: the recent calls,
// newest first, the busiest callers, and totals since start.
type Validators struct {
	Since    time.Time     `json:"since"`
	Answered uint64        `json:"answered"`
	Refused  uint64        `json:"refused"`
	Recent   []Query       `json:"recent"`
	Callers  []CallerStats `json:"callers"`
}

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
func (l *recentLog) snapshot() Validators {
	l.mu.Lock()
	v := Validators{Since: l.since, Answered: l.answered, Refused: l.refused,
		Recent: make([]Query, 0, l.n), Callers: make([]CallerStats, 0, len(l.callers))}
	for k := 1; k <= l.n; k++ {
		e := &l.ring[(l.next-k+len(l.ring))%len(l.ring)]
		v.Recent = append(v.Recent, Query{Time: e.at, Hotkey: e.hotkey, UID: uidPtr(e.uid), Synapse: e.synapse,
			Status: int(e.status), Reason: e.reason, Message: e.msg, ProcessMS: e.ms})
	}
	for _, c := range l.callers {
		v.Callers = append(v.Callers, CallerStats{Hotkey: c.hotkey, UID: uidPtr(c.uid), Answered: c.answered,
			Errors: c.errors, Refused: c.refused, LastSeen: c.last, LastStatus: int(c.lastStatus)})
	}
	l.mu.Unlock()
	slices.SortStableFunc(v.Callers, func(a, b CallerStats) int {
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
func (a *Axon) Recent() []Query { return a.recent.snapshot().Recent }

// Callers returns the per-hotkey counters of the busiest callers (at most
// Options.TopCallers), most calls first.
func (a *Axon) Callers() []CallerStats { return a.recent.snapshot().Callers }

// Validators returns the recent calls, the busiest callers and the totals
// in one consistent copy, for GET /v1/chain and GET /v1/axon.
func (a *Axon) Validators() Validators { return a.recent.snapshot() }

// Hotkey is the axon's own hotkey, SS58.
func (a *Axon) Hotkey() string { return a.hotkey }
