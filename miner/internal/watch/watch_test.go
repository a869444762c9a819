package watch

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/google/go-cmp/cmp"
)

var _ Repository = (*fakeRepo)(nil)

const debounce = 150 * time.Millisecond

// TestStep checks the scan diff: which changes are due after a sequence of
// scans, and when the watcher looks again.
func TestStep(t *testing.T) {
	type scan struct {
		at   time.Duration // since the first scan
		snap Snapshot
		want []action
		next time.Duration
	}
	load := func(n string) action { return action{name: n, load: true} }
	unload := func(n string) action { return action{name: n} }
	tests := []struct {
		name   string
		loaded Snapshot
		scans  []scan
	}{
		{"unchanged", Snapshot{"a": "1"}, []scan{
			{0, Snapshot{"a": "1"}, nil, 0},
			{time.Second, Snapshot{"a": "1"}, nil, 0},
		}},
		{"new model loads once seen stable", nil, []scan{
			{0, Snapshot{"a": "1"}, nil, debounce},
			{debounce, Snapshot{"a": "1"}, []action{load("a")}, 0},
			{2 * debounce, Snapshot{"a": "1"}, nil, 0},
		}},
		{"second look too early waits the rest", nil, []scan{
			{0, Snapshot{"a": "1"}, nil, debounce},
			{50 * time.Millisecond, Snapshot{"a": "1"}, nil, 100 * time.Millisecond},
			{debounce, Snapshot{"a": "1"}, []action{load("a")}, 0},
		}},
		{"file still growing is not loaded", nil, []scan{
			{0, Snapshot{"a": "10 bytes"}, nil, debounce},
			{debounce, Snapshot{"a": "20 bytes"}, nil, debounce},
			{2 * debounce, Snapshot{"a": "30 bytes"}, nil, debounce},
			{3 * debounce, Snapshot{"a": "30 bytes"}, []action{load("a")}, 0},
		}},
		{"changed model reloads", Snapshot{"a": "1"}, []scan{
			{0, Snapshot{"a": "2"}, nil, debounce},
			{time.Second, Snapshot{"a": "2"}, []action{load("a")}, 0},
		}},
		{"failed load is not retried until the files change", Snapshot{"a": "1"}, []scan{
			{0, Snapshot{"a": "broken"}, nil, debounce},
			{debounce, Snapshot{"a": "broken"}, []action{load("a")}, 0},
			{time.Second, Snapshot{"a": "broken"}, nil, 0},
			{2 * time.Second, Snapshot{"a": "fixed"}, nil, debounce},
			{3 * time.Second, Snapshot{"a": "fixed"}, []action{load("a")}, 0},
		}},
		{"removed model unloads", Snapshot{"a": "1", "b": "1"}, []scan{
			{0, Snapshot{"b": "1"}, nil, debounce},
			{debounce, Snapshot{"b": "1"}, []action{unload("a")}, 0},
			{time.Second, Snapshot{"b": "1"}, nil, 0},
		}},
		{"brief disappearance is no unload", Snapshot{"a": "1"}, []scan{
			{0, Snapshot{}, nil, debounce},
			{debounce, Snapshot{"a": "1"}, nil, 0},
		}},
		{"vanished candidate starts over", nil, []scan{
			{0, Snapshot{"a": "1"}, nil, debounce},
			{debounce, Snapshot{}, nil, 0},
			{2 * debounce, Snapshot{"a": "1"}, nil, debounce},
			{3 * debounce, Snapshot{"a": "1"}, []action{load("a")}, 0},
		}},
		{"due changes in name order", Snapshot{"c": "1"}, []scan{
			{0, Snapshot{"b": "1", "a": "1"}, nil, debounce},
			{debounce, Snapshot{"b": "1", "a": "1"}, []action{load("a"), load("b"), unload("c")}, 0},
		}},
		{"next is the soonest pending", nil, []scan{
			{0, Snapshot{"a": "1"}, nil, debounce},
			{100 * time.Millisecond, Snapshot{"a": "1", "b": "1"}, nil, 50 * time.Millisecond},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := New(&fakeRepo{}, tt.loaded, Options{Debounce: debounce})
			start := time.Now()
			for i, s := range tt.scans {
				due, next := w.step(s.snap, start.Add(s.at))
				if diff := cmp.Diff(s.want, due, cmp.AllowUnexported(action{})); diff != "" || next != s.next {
					t.Fatalf("scan %d at %v of %v: due (-want +got):\n%s next %v, want %v", i, s.at, s.snap, diff, next, s.next)
				}
			}
		})
	}
}

// TestLoop runs the watcher on fake time with a fake folder and fake file
// events: debounce, the periodic rescan, stability, and no retry loops.
func TestLoop(t *testing.T) {
	tests := []struct {
		name    string
		loaded  Snapshot // what the repository loaded at startup
		folder  Snapshot // the folder at the first scan
		changes []change
		want    []string
	}{
		{"new file with event", nil, nil, []change{
			{at: 100 * time.Millisecond, set: Snapshot{"a": "1"}, event: true},
		}, []string{"load a=1 at 400ms"}}, // event + debounce, then a second look a debounce later
		{"missed event, the rescan catches it", nil, nil, []change{
			{at: 100 * time.Millisecond, set: Snapshot{"a": "1"}},
		}, []string{"load a=1 at 1.15s"}},
		{"change during startup load", Snapshot{"a": "1"}, Snapshot{"a": "2"}, nil,
			[]string{"load a=2 at 150ms"}},
		{"file written slowly loads once, complete", nil, nil, growing("a", 110*time.Millisecond, 50*time.Millisecond, 27),
			[]string{"load a=27 at 1.71s"}}, // last write at 1.41s
		{"failed load not retried until the file changes", nil, nil, []change{
			{at: 100 * time.Millisecond, set: Snapshot{"a": "broken"}, event: true},
			{at: 3500 * time.Millisecond, set: Snapshot{"a": "fixed"}, event: true},
		}, []string{"load a=broken at 400ms (failed)", "load a=fixed at 3.8s"}},
		{"removed model unloads", Snapshot{"a": "1"}, Snapshot{"a": "1"}, []change{
			{at: 100 * time.Millisecond, set: Snapshot{"a": ""}, event: true},
		}, []string{"remove a at 400ms"}},
		{"brief disappearance", Snapshot{"a": "1"}, Snapshot{"a": "1"}, []change{
			{at: 100 * time.Millisecond, set: Snapshot{"a": ""}, event: true},
			{at: 300 * time.Millisecond, set: Snapshot{"a": "1"}, event: true},
		}, nil},
		{"unreadable folder unloads nothing", Snapshot{"a": "1"}, Snapshot{"a": "1"}, []change{
			{at: 100 * time.Millisecond, err: errors.New("permission denied"), event: true},
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				folder := &fakeFolder{snap: Snapshot{}}
				maps.Copy(folder.snap, tt.folder)
				repo := &fakeRepo{start: start, folder: folder}
				w := New(repo, tt.loaded, Options{Interval: time.Second, Debounce: debounce})
				w.scan = folder.scan
				events := make(chan fsnotify.Event)
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan struct{})
				go func() {
					w.loop(ctx, &notifier{events: events})
					close(done)
				}()
				for _, c := range tt.changes {
					time.Sleep(time.Until(start.Add(c.at)))
					folder.change(c.set, c.err)
					if c.event {
						events <- fsnotify.Event{Name: "/repo/a.onnx", Op: fsnotify.Write}
					}
				}
				time.Sleep(time.Until(start.Add(5 * time.Second)))
				cancel()
				<-done
				if diff := cmp.Diff(tt.want, repo.log()); diff != "" {
					t.Errorf("repository calls (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// change is one step of a TestLoop script.
type change struct {
	at    time.Duration
	set   Snapshot // models to set (fingerprint "" removes)
	event bool     // send a file event
	err   error    // make scans fail from now on
}

// growing is a file written in n chunks, one every step from first on,
// each with a file event; its fingerprint is the number of chunks.
func growing(name string, first, step time.Duration, n int) []change {
	var out []change
	for i := range n {
		out = append(out, change{at: first + time.Duration(i)*step, set: Snapshot{name: fmt.Sprint(i + 1)}, event: true})
	}
	return out
}

func TestRelevant(t *testing.T) {
	tests := []struct {
		ev   fsnotify.Event
		want bool
	}{
		{fsnotify.Event{Name: "/r/a.onnx", Op: fsnotify.Create}, true},
		{fsnotify.Event{Name: "/r/a.onnx", Op: fsnotify.Write}, true},
		{fsnotify.Event{Name: "/r/a.onnx", Op: fsnotify.Remove}, true},
		{fsnotify.Event{Name: "/r/m/2", Op: fsnotify.Create}, true},
		{fsnotify.Event{Name: "/r/m/config.yaml", Op: fsnotify.Write | fsnotify.Chmod}, true},
		{fsnotify.Event{Name: "/r/a.onnx", Op: fsnotify.Chmod}, false},
		{fsnotify.Event{Name: "/r/.a.onnx.tmp", Op: fsnotify.Write}, false},
		{fsnotify.Event{Name: "/r/m/.tmp-2", Op: fsnotify.Create}, false},
	}
	for _, tt := range tests {
		if got := relevant(tt.ev); got != tt.want {
			t.Errorf("relevant(%v) = %v, want %v", tt.ev, got, tt.want)
		}
	}
}

// fakeFolder is a repository folder whose snapshot the test sets.
type fakeFolder struct {
	mu   sync.Mutex
	snap Snapshot
	err  error
}

func (f *fakeFolder) scan() (Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.snap), f.err
}

func (f *fakeFolder) change(set Snapshot, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for name, fp := range set {
		if fp == "" {
			delete(f.snap, name)
		} else {
			f.snap[name] = fp
		}
	}
	f.err = err
}

// fakeRepo records the calls it gets, what the folder held then, and when
// (on the bubble's clock). Loading the fingerprint "broken" fails.
type fakeRepo struct {
	start  time.Time
	folder *fakeFolder
	mu     sync.Mutex
	calls  []string
}

func (r *fakeRepo) record(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, s)
}

func (r *fakeRepo) log() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

func (r *fakeRepo) Load(_ context.Context, name string) error {
	snap, _ := r.folder.scan()
	call := fmt.Sprintf("load %s=%s at %v", name, snap[name], time.Since(r.start))
	if snap[name] == "broken" {
		r.record(call + " (failed)")
		return errors.New("not an ONNX file")
	}
	r.record(call)
	return nil
}

func (r *fakeRepo) Remove(_ context.Context, name string) error {
	r.record(fmt.Sprintf("remove %s at %v", name, time.Since(r.start)))
	return nil
}
