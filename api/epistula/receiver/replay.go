package receiver

import (
	"sync"
	"time"
)

// replayStore remembers the (signer, uuid) pairs of verified requests for
// a fixed time (twice the window: long enough that a request is stale
// before it is forgotten). Insertion is atomic insert-if-absent. It holds
// at most size pairs; when they are all unexpired it refuses new ones
// rather than evicting any, since forgetting an unexpired pair would let
// its request be replayed.
type replayStore struct {
	mu   sync.Mutex
	size int
	ttl  time.Duration
	m    map[replayKey]time.Time // pair → expiry
	// fifo holds the pairs in insertion order; with one ttl that is
	// expiry order, so expired pairs are always at its head.
	fifo []replayEntry
	head int
}

type replayKey struct{ signer, uuid string }

type replayEntry struct {
	key    replayKey
	expiry time.Time
}

// Insert outcomes.
const (
	inserted = iota
	replayed
	full
)

func newReplayStore(size int, ttl time.Duration) *replayStore {
	return &replayStore{size: max(size, 1), ttl: ttl, m: make(map[replayKey]time.Time)}
}

// check reports, without recording, what insert would say now (inserted
// meaning "absent and there is room"), so that replays and a full store
// are refused before the signature is verified.
func (s *replayStore) check(signer, uuid string, now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	if exp, ok := s.m[replayKey{signer, uuid}]; ok && now.Before(exp) {
		return replayed
	}
	if len(s.m) >= s.size {
		return full
	}
	return inserted
}

// insert records (signer, uuid) at now unless it is there and unexpired
// (replayed) or the store is full of unexpired pairs (full).
func (s *replayStore) insert(signer, uuid string, now time.Time) int {
	k := replayKey{signer, uuid}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	if exp, ok := s.m[k]; ok && now.Before(exp) {
		return replayed
	}
	if len(s.m) >= s.size {
		return full
	}
	exp := now.Add(s.ttl)
	s.m[k] = exp
	s.fifo = append(s.fifo, replayEntry{k, exp})
	return inserted
}

// expire drops the pairs whose time is up, oldest first. A clock stepping
// back leaves them a little longer, never less.
func (s *replayStore) expire(now time.Time) {
	for s.head < len(s.fifo) && !now.Before(s.fifo[s.head].expiry) {
		e := s.fifo[s.head]
		if exp, ok := s.m[e.key]; ok && exp.Equal(e.expiry) {
			delete(s.m, e.key)
		}
		s.fifo[s.head] = replayEntry{}
		s.head++
	}
	// Reuse the slice once its dead head outweighs the live tail.
	if s.head > 0 && s.head >= len(s.fifo)-s.head {
		n := copy(s.fifo, s.fifo[s.head:])
		clear(s.fifo[n:])
		s.fifo = s.fifo[:n]
		s.head = 0
	}
}

// len is the number of pairs held (expired ones included until the next
// insert).
func (s *replayStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
