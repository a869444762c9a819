// Package watch follows a model repository folder and keeps the served
// models in step with it: Triton's poll model control mode, driven by file
// events with a periodic rescan as the safety net.
//
// Each scan fingerprints every model (see Fingerprints) and compares it with
// the fingerprint last handed to the repository. A model whose fingerprint
// differs is acted on only once the same fingerprint has been seen twice at
// least Options.Debounce apart, so a file that is still being written (its
// size and modification time keep changing) is not loaded half-written. A
// new or changed model is loaded, a model gone from the folder is unloaded.
// Each fingerprint is tried once: a load that fails is retried only when
// the model's files change again, never in a loop. A folder that cannot be
// read at all changes nothing.
package watch

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// DefaultDebounce is the quiet time after a burst of file events and the
// time a changed model must keep its fingerprint before it is loaded.
const DefaultDebounce = 150 * time.Millisecond

// Repository is what the watcher drives: loading and removing one model of
// the folder. engine.Engine implements it.
type Repository interface {
	// Load (re)loads a model from the folder. A failure must leave the
	// serving copy in place; the watcher does not retry it.
	Load(ctx context.Context, name string) error
	// Remove drains a model whose files left the folder, stops serving it
	// and forgets it.
	Remove(ctx context.Context, name string) error
}

// Options configure a Watcher.
type Options struct {
	// Dir is the model repository folder.
	Dir string
	// Interval is the period of the rescan on top of file events; 0 rescans
	// on file events only.
	Interval time.Duration
	// Debounce is how long file events must be quiet before a scan, and how
	// long a changed model must keep the same fingerprint before it is
	// acted on (default DefaultDebounce).
	Debounce time.Duration
	Logger   *slog.Logger
}

// Watcher keeps a Repository in step with its folder. Use it from one
// goroutine: Run.
type Watcher struct {
	repo Repository
	opt  Options
	log  *slog.Logger
	scan func() (Snapshot, error)
	// applied holds the fingerprint last handed to the repository, per
	// model; pending the changes waiting to be seen stable.
	applied Snapshot
	pending map[string]candidate
}

// candidate is a changed fingerprint and when it was first seen.
type candidate struct {
	fp    string // "" = the model is gone
	since time.Time
}

// New returns a watcher over repo. loaded is the snapshot the repository's
// models were loaded from (taken before the startup load, so that a change
// made during it is seen as one); models in it are not reloaded unless
// their files change.
func New(repo Repository, loaded Snapshot, opt Options) *Watcher {
	if opt.Debounce <= 0 {
		opt.Debounce = DefaultDebounce
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{repo: repo, opt: opt, log: opt.Logger, applied: maps.Clone(loaded), pending: map[string]candidate{}}
	if w.applied == nil {
		w.applied = Snapshot{}
	}
	w.scan = func() (Snapshot, error) { return Fingerprints(opt.Dir) }
	return w
}

// Run follows the folder until ctx ends, then returns nil. Without file
// events (the system refused a watch) it relies on the periodic rescan.
func (w *Watcher) Run(ctx context.Context) error {
	n, err := newNotifier(w.opt.Dir)
	if err != nil {
		w.log.Warn("model repository: file events unavailable; rescanning only", "dir", w.opt.Dir,
			"interval", w.opt.Interval, "err", err)
		n = &notifier{}
	}
	defer n.close()
	w.loop(ctx, n)
	return nil
}

// loop scans at once, then on quiet after file events, on every tick, and
// when a pending change is due for its second look.
func (w *Watcher) loop(ctx context.Context, n *notifier) {
	var tick <-chan time.Time
	if w.opt.Interval > 0 {
		t := time.NewTicker(w.opt.Interval)
		defer t.Stop()
		tick = t.C
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-n.events:
			if !ok {
				n.events = nil
				continue
			}
			if relevant(ev) {
				timer.Reset(w.opt.Debounce)
			}
		case err, ok := <-n.errs:
			if !ok {
				n.errs = nil
				continue
			}
			w.log.Warn("model repository: file events", "err", err)
		case <-tick:
			w.sync(ctx, n, timer)
		case <-timer.C:
			w.sync(ctx, n, timer)
		}
	}
}

// sync scans the folder, applies the changes that are due and sets timer
// for the next look at those that are not.
func (w *Watcher) sync(ctx context.Context, n *notifier, timer *time.Timer) {
	n.track(w.opt.Dir)
	snap, err := w.scan()
	if err != nil {
		w.log.Warn("model repository: scan failed; nothing changes", "dir", w.opt.Dir, "err", err)
		timer.Stop()
		return
	}
	due, next := w.step(snap, time.Now())
	if next > 0 {
		timer.Reset(next)
	} else {
		timer.Stop()
	}
	for _, a := range due {
		if ctx.Err() != nil {
			return
		}
		w.apply(ctx, a)
	}
}

// action is a change to hand to the repository.
type action struct {
	name string
	load bool // false: unload
}

// step compares a scan taken at now with what was applied. It returns the
// changes that are due, in name order, and when to look again for those
// that must still prove stable (0: nothing pending).
func (w *Watcher) step(snap Snapshot, now time.Time) ([]action, time.Duration) {
	var due []action
	var next time.Duration
	later := func(d time.Duration) {
		if next == 0 || d < next {
			next = d
		}
	}
	// Models in the folder, models served, and changes that vanished
	// before they proved stable (their candidate is dropped below).
	names := map[string]bool{}
	for name := range snap {
		names[name] = true
	}
	for name := range w.applied {
		names[name] = true
	}
	for name := range w.pending {
		names[name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		fp := snap[name]
		if fp == w.applied[name] {
			delete(w.pending, name)
			continue
		}
		c, ok := w.pending[name]
		if !ok || c.fp != fp {
			w.pending[name] = candidate{fp: fp, since: now}
			later(w.opt.Debounce)
			continue
		}
		if wait := w.opt.Debounce - now.Sub(c.since); wait > 0 {
			later(wait)
			continue
		}
		delete(w.pending, name)
		if fp == "" {
			delete(w.applied, name)
			due = append(due, action{name: name})
		} else {
			w.applied[name] = fp
			due = append(due, action{name: name, load: true})
		}
	}
	return due, next
}

func (w *Watcher) apply(ctx context.Context, a action) {
	log := w.log.With("model", a.name)
	if a.load {
		log.Info("model repository: model new or changed; loading")
		if err := w.repo.Load(ctx, a.name); err != nil {
			// The repository logs the cause and keeps any serving copy.
			log.Warn("model repository: load failed; retried when the model's files change", "err", err)
		}
		return
	}
	log.Info("model repository: model removed; unloading")
	if err := w.repo.Remove(ctx, a.name); err != nil {
		log.Warn("model repository: removal failed", "err", err)
	}
}
