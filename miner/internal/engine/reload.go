package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/models"
)

// Reload protocol. A load opens and warms up the new copy of each selected
// version beside the serving one while holding only loadMu, which inference
// never takes. It then switches the version map under mu (a map update, no
// I/O), so new requests find the new copy, and only after that drains the
// old copy's batcher and closes its session, outside both locks. A request
// that looked up the old copy just before the switch either got into its
// queue (and is answered by the drain) or finds the queue closed and, in
// Infer, looks up again and lands on the new copy.

// reasonReloading marks a serving version while a new copy of it loads.
const reasonReloading = "reloading"

// ErrClosed is returned by Load after Close.
var ErrClosed = errors.New("engine is closed")

// Load (re)loads one model from the repository: the versions its policy
// selects are opened beside the serving ones and switched in when ready;
// versions no longer selected are drained and closed. A version that fails
// to load leaves the serving copy of that version in place. With the model
// control mode none, Load is refused.
func (e *Engine) Load(ctx context.Context, name string) error {
	if err := e.controlAllowed("load", name); err != nil {
		return err
	}
	entries, err := models.Scan(e.opt.Dir)
	if err != nil {
		return err
	}
	for i := range entries {
		if entries[i].Name == name {
			return e.load(ctx, &entries[i])
		}
	}
	return api.BadRequest("failed to load '%s': no such model in the repository %s", name, e.opt.Dir)
}

// Unload stops serving a model: new requests get 404 (after the index shows
// it UNAVAILABLE), queued ones are answered first. With the model control
// mode none, Unload is refused.
func (e *Engine) Unload(ctx context.Context, name string) error {
	if err := e.controlAllowed("unload", name); err != nil {
		return err
	}
	if !e.takeOut(name, false) {
		return api.BadRequest("failed to unload '%s': model is not known", name)
	}
	return nil
}

// Remove forgets a model whose files left the repository folder: it is
// drained as Unload drains it, and its rows leave the index (and so GET
// /v1/stats and the dashboard) instead of staying as UNAVAILABLE
// "unloaded". Its load failures stay counted (LoadFailures only grows). A
// model the engine does not know is no error.
func (e *Engine) Remove(_ context.Context, name string) error {
	e.takeOut(name, true)
	return nil
}

// takeOut stops serving a model and drains its versions; forget drops
// the model's rows, otherwise every row becomes UNAVAILABLE "unloaded"
// (so that lookups answer 404). It reports whether the model was known.
func (e *Engine) takeOut(name string, forget bool) bool {
	e.loadMu.Lock()
	e.mu.Lock()
	m, ok := e.models[name]
	if !ok {
		e.mu.Unlock()
		e.loadMu.Unlock()
		return false
	}
	retired := slices.Collect(maps.Values(m.ready))
	if forget {
		delete(e.models, name)
	} else {
		// Every row, including failed versions and a failed model-level
		// load, becomes "unloaded".
		for n := range m.status {
			m.status[n] = status{api.StateUnavailable, reasonUnloaded}
		}
		clear(m.ready)
	}
	e.mu.Unlock()
	e.loadMu.Unlock()
	e.retire(retired)
	msg := "model unloaded"
	if forget {
		msg = "model removed from the folder; unloaded and forgotten"
	}
	e.log.Info(msg, "model", name, "versions", len(retired))
	return true
}

// LoadFailures returns, per model name, how many loads of a version (or of
// the model as a whole, for a bad config) have failed since the engine
// started: at startup, through the API or after a change in the folder. The
// counts only grow; they are what taominer_model_load_failures_total exports.
func (e *Engine) LoadFailures() map[string]uint64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return maps.Clone(e.failures)
}

// Close unloads everything, draining queued requests until ctx ends. It
// waits for a load in progress; later loads fail with ErrClosed.
func (e *Engine) Close(ctx context.Context) error {
	e.loadMu.Lock()
	e.closed = true
	e.loadMu.Unlock()
	e.mu.Lock()
	var all []*version
	for _, m := range e.models {
		all = append(all, slices.Collect(maps.Values(m.ready))...)
		clear(m.ready)
	}
	e.mu.Unlock()
	var errs []error
	for _, v := range all {
		errs = append(errs, v.close(ctx))
	}
	return errors.Join(errs...)
}

func (e *Engine) controlAllowed(op, name string) error {
	if e.opt.ModelControl == ControlNone {
		return api.Fail(api.KindBadInput, "failed to %s '%s': model control mode is none (models are loaded at startup only; start the miner with --model-control=explicit or poll)", op, name)
	}
	return nil
}

// load opens the entry's selected versions and switches them in, then
// drains and closes the copies they replace.
func (e *Engine) load(ctx context.Context, entry *models.Entry) error {
	retired, err := e.switchIn(ctx, entry)
	e.retire(retired)
	return err
}

// switchIn does the part of load that holds loadMu; it returns the
// versions taken out of service.
func (e *Engine) switchIn(ctx context.Context, entry *models.Entry) ([]*version, error) {
	e.loadMu.Lock()
	defer e.loadMu.Unlock()
	if e.closed {
		return nil, fmt.Errorf("load '%s': %w", entry.Name, ErrClosed)
	}
	log := e.log.With("model", entry.Name)
	if entry.Err != nil {
		if e.badConfig(entry.Name, entry.Err) {
			log.Error("reload failed; the serving versions stay", "err", entry.Err)
		}
		return nil, api.BadRequest("failed to load '%s': %v", entry.Name, entry.Err)
	}
	selected := entry.Selected()
	var errs []error
	loaded := map[int64]*version{}
	for _, vf := range selected {
		if e.serving(entry.Name, vf.Version) {
			e.setStatus(entry.Name, vf.Version, status{api.StateReady, reasonReloading})
		} else {
			e.setStatus(entry.Name, vf.Version, status{state: api.StateLoading})
		}
		start := time.Now()
		v, err := e.open(ctx, entry, vf)
		if err != nil {
			errs = append(errs, err)
			if e.serving(entry.Name, vf.Version) {
				log.Error("reload failed; the serving copy stays", "version", vf.Version, "path", vf.Path, "err", err)
				e.failed(entry.Name, vf.Version, status{api.StateReady, "reload failed: " + err.Error()})
			} else {
				log.Error("load failed", "version", vf.Version, "path", vf.Path, "err", err)
				e.failed(entry.Name, vf.Version, status{api.StateUnavailable, err.Error()})
			}
			continue
		}
		log.Info("model loaded", "version", vf.Version, "path", vf.Path, "max_batch_size", v.spec.MaxBatchSize,
			"inputs", len(v.spec.Inputs), "outputs", len(v.spec.Outputs), "devices", v.pool.devices(),
			"took", time.Since(start).Round(time.Millisecond))
		loaded[vf.Version] = v
	}
	// Switch in: new versions become visible before old ones close.
	e.mu.Lock()
	m := e.model(entry.Name)
	delete(m.status, 0)
	var retired []*version
	for n, v := range loaded {
		if old := m.ready[n]; old != nil {
			retired = append(retired, old)
		}
		m.ready[n] = v
		m.status[n] = status{state: api.StateReady}
	}
	keepOld := len(loaded) == 0 // nothing new is ready: never go dark
	for n, v := range m.ready {
		if keepOld {
			break
		}
		if !slices.ContainsFunc(selected, func(s models.VersionFile) bool { return s.Version == n }) {
			retired = append(retired, v)
			delete(m.ready, n)
			m.status[n] = status{api.StateUnavailable, "version no longer selected"}
		}
	}
	e.mu.Unlock()
	if len(errs) > 0 {
		return retired, api.BadRequest("failed to load '%s': %v", entry.Name, errors.Join(errs...))
	}
	return retired, nil
}

// failed records a failed load: the index row and the failure count.
func (e *Engine) failed(name string, v int64, s status) {
	e.mu.Lock()
	e.model(name).status[v] = s
	e.failures[name]++
	e.mu.Unlock()
}

// badConfig records a model whose config does not load, as one failure.
// Its serving versions stay, each one row READY with "reload failed: "
// and the error; without one, the model is one UNAVAILABLE row with the
// error. Rows of versions that are not serving go: the config, not they,
// is what is wrong now. It reports whether versions still serve.
func (e *Engine) badConfig(name string, err error) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failures[name]++
	m := e.model(name)
	clear(m.status)
	if len(m.ready) == 0 {
		m.status[0] = status{api.StateUnavailable, err.Error()}
		return false
	}
	for n := range m.ready {
		m.status[n] = status{api.StateReady, "reload failed: " + err.Error()}
	}
	return true
}

// retire drains and closes versions taken out of service. It runs outside
// the engine's locks: a drain may take as long as the queued requests do.
func (e *Engine) retire(vs []*version) {
	for _, v := range vs {
		ctx, cancel := context.WithTimeout(context.Background(), e.opt.DrainTimeout)
		if err := v.close(ctx); err != nil {
			e.log.Warn("closing model version", "model", v.spec.Name, "version", v.spec.Version, "err", err)
		}
		cancel()
	}
}

func (v *version) close(ctx context.Context) error {
	err := v.batcher.Close(ctx)
	if err != nil {
		return err // in-flight runs still use the session; leave it open
	}
	return v.pool.close()
}
