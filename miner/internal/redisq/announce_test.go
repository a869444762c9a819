package redisq_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/taominer/taominer/miner/internal/redisq"
	"github.com/taominer/taominer/miner/internal/redistest"
)

const (
	testTTL     = 300 * time.Millisecond
	testRefresh = 50 * time.Millisecond
	testAway    = 2 * time.Second
)

// runAnnouncer runs a's Run until the returned stop is called (or the test
// ends); stop returns Run's error.
func runAnnouncer(t *testing.T, a *redisq.Announcer) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var err error
	stopped := false
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			err = <-done
		}
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func runDirectory(t *testing.T, rdb *redis.Client) *redisq.Directory {
	t.Helper()
	d := redisq.NewDirectory(rdb, redisq.DirectoryOptions{Refresh: testRefresh, AwayGrace: testAway})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return d
}

func workerIDs(d *redisq.Directory) []string {
	var ids []string
	for _, a := range d.Workers() {
		ids = append(ids, a.Worker)
	}
	return ids
}

func hasWorker(d *redisq.Directory, id string) bool {
	for _, a := range d.Workers() {
		if a.Worker == id {
			return true
		}
	}
	return false
}

func meta(name, version string) json.RawMessage {
	return json.RawMessage(`{"name":"` + name + `","versions":["` + version + `"],"platform":"onnx"}`)
}

func checkModel(t *testing.T, d *redisq.Directory, name, version string, want redisq.ModelStatus) {
	t.Helper()
	got := d.Model(name, version)
	if got.State != want.State || got.Version != want.Version || got.Ready != want.Ready ||
		got.Workers != want.Workers || string(got.Metadata) != string(want.Metadata) || got.Stale != want.Stale {
		t.Errorf("Model(%q, %q) = %+v (metadata %s), want %+v (metadata %s)",
			name, version, got, got.Metadata, want, want.Metadata)
	}
}

func TestAnnounceDirectory(t *testing.T) {
	rdb := newClient(t, redistest.Start(t))
	ctx := context.Background()
	d := runDirectory(t, rdb)

	a1 := redisq.NewAnnouncer(rdb, redisq.AnnouncerOptions{Worker: "w1", TTL: testTTL})
	a1.Set([]redisq.AnnouncedModel{
		{Name: "m", Version: "9", Ready: true, Metadata: meta("m", "9")},
		{Name: "m", Version: "10", Ready: false},
	})
	stop1 := runAnnouncer(t, a1)
	waitFor(t, func() bool { return hasWorker(d, "w1") })
	if err := d.Healthy(); err != nil {
		t.Fatalf("Healthy: %v", err)
	}
	ws := d.Workers()
	if len(ws) != 1 || len(ws[0].Models) != 2 || ws[0].Started.IsZero() ||
		string(ws[0].Models[0].Metadata) != string(meta("m", "9")) {
		t.Fatalf("Workers = %+v", ws)
	}
	ws[0].Models[0].Name = "changed" // a copy
	if d.Workers()[0].Models[0].Name != "m" {
		t.Error("Workers returned the snapshot itself")
	}

	checkModel(t, d, "nope", "", redisq.ModelStatus{State: redisq.ModelUnknown})
	checkModel(t, d, "m", "11", redisq.ModelStatus{State: redisq.ModelUnknown})
	// Only 9 is ready: "" picks it although 10 is newer.
	checkModel(t, d, "m", "", redisq.ModelStatus{State: redisq.ModelReady, Version: "9", Metadata: meta("m", "9"), Ready: 1, Workers: 1})
	checkModel(t, d, "m", "10", redisq.ModelStatus{State: redisq.ModelNotReady, Version: "10", Workers: 1})

	// A second worker with 10 ready: "" now picks 10 (numerically newest).
	a2 := redisq.NewAnnouncer(rdb, redisq.AnnouncerOptions{Worker: "w0", TTL: testTTL})
	a2.Set([]redisq.AnnouncedModel{
		{Name: "m", Version: "9", Ready: true, Metadata: meta("m", "9-w0")},
		{Name: "m", Version: "10", Ready: true, Metadata: meta("m", "10")},
	})
	runAnnouncer(t, a2)
	waitFor(t, func() bool { return len(d.Workers()) == 2 })
	if ids := workerIDs(d); ids[0] != "w0" || ids[1] != "w1" {
		t.Errorf("workers %v, want sorted [w0 w1]", ids)
	}
	checkModel(t, d, "m", "", redisq.ModelStatus{State: redisq.ModelReady, Version: "10", Metadata: meta("m", "10"), Ready: 1, Workers: 2})
	checkModel(t, d, "m", "9", redisq.ModelStatus{State: redisq.ModelReady, Version: "9", Metadata: meta("m", "9-w0"), Ready: 2, Workers: 2})

	// Set is published at once (well before the next heartbeat) and seen
	// on the next refresh.
	a1.Set([]redisq.AnnouncedModel{{Name: "m", Version: "9", Ready: false}, {Name: "other", Version: "1", Ready: true}})
	waitFor(t, func() bool { return d.Model("m", "9").Ready == 1 })
	checkModel(t, d, "other", "", redisq.ModelStatus{State: redisq.ModelReady, Version: "1", Ready: 1, Workers: 1})
	checkModel(t, d, "m", "10", redisq.ModelStatus{State: redisq.ModelReady, Version: "10", Metadata: meta("m", "10"), Ready: 1, Workers: 1})

	// A worker that stops withdraws its announcement at once.
	if err := stop1(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := rdb.Exists(ctx, redisq.WorkerKey("w1")).Val(); n != 0 {
		t.Error("w1's key is left after Run returned")
	}
	if _, err := rdb.ZScore(ctx, redisq.WorkersKey, "w1").Result(); !errors.Is(err, redis.Nil) {
		t.Errorf("w1 is left in the index: %v", err)
	}
	waitFor(t, func() bool { return !hasWorker(d, "w1") })
	// Away (503) for the grace after its last announcement, then unknown.
	checkModel(t, d, "other", "", redisq.ModelStatus{State: redisq.ModelAway})
	waitFor(t, func() bool { return d.Model("other", "").State == redisq.ModelUnknown })
	if ids := workerIDs(d); len(ids) != 1 || ids[0] != "w0" {
		t.Errorf("workers %v, want [w0]", ids)
	}
}

func TestAnnounceExpiry(t *testing.T) {
	addr := redistest.Start(t)
	d := runDirectory(t, newClient(t, addr))

	// The worker's own connection: closing it stops the heartbeats and the
	// withdrawal, as a crash would.
	wrdb, err := redisq.NewClient("redis://" + addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	a := redisq.NewAnnouncer(wrdb, redisq.AnnouncerOptions{Worker: "crashy", TTL: testTTL})
	a.Set([]redisq.AnnouncedModel{{Name: "m", Version: "1", Ready: true}})
	stop := runAnnouncer(t, a)
	waitFor(t, func() bool { return hasWorker(d, "crashy") })

	_ = wrdb.Close()
	crashed := time.Now()
	if err := stop(); !errors.Is(err, redisq.ErrUnavailable) {
		t.Errorf("Run after losing Redis: %v, want ErrUnavailable", err)
	}
	waitFor(t, func() bool { return !hasWorker(d, "crashy") })
	if gone := time.Since(crashed); gone > testTTL+time.Second {
		t.Errorf("crashed worker listed for %v, TTL %v", gone, testTTL)
	}
	checkModel(t, d, "m", "", redisq.ModelStatus{State: redisq.ModelAway})
	checkModel(t, d, "m", "1", redisq.ModelStatus{State: redisq.ModelAway, Version: "1"})
	checkModel(t, d, "m", "2", redisq.ModelStatus{State: redisq.ModelUnknown})
	waitFor(t, func() bool { return d.Model("m", "").State == redisq.ModelUnknown })
}

func TestAnnounceOutage(t *testing.T) {
	srv := redistest.StartServer(t)
	rdb := newClient(t, srv.Addr)
	d := redisq.NewDirectory(rdb, redisq.DirectoryOptions{Refresh: testRefresh})
	if err := d.Healthy(); !errors.Is(err, redisq.ErrUnavailable) {
		t.Errorf("Healthy before the first refresh: %v, want ErrUnavailable", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	a := redisq.NewAnnouncer(newClient(t, srv.Addr), redisq.AnnouncerOptions{Worker: "w", TTL: testTTL})
	a.Set([]redisq.AnnouncedModel{{Name: "m", Version: "1", Ready: true}})
	runAnnouncer(t, a)
	waitFor(t, func() bool { return hasWorker(d, "w") && d.Healthy() == nil })

	srv.Stop()
	stopped := time.Now()
	waitFor(t, func() bool { return d.Healthy() != nil })
	if err := d.Healthy(); !errors.Is(err, redisq.ErrUnavailable) {
		t.Errorf("Healthy during the outage: %v, want ErrUnavailable", err)
	}
	if dt := time.Since(stopped); dt > 1500*time.Millisecond {
		t.Errorf("outage noticed after %v", dt)
	}
	// The last snapshot is kept, marked stale.
	if !hasWorker(d, "w") {
		t.Error("snapshot dropped during the outage")
	}
	checkModel(t, d, "m", "1", redisq.ModelStatus{State: redisq.ModelReady, Version: "1", Ready: 1, Workers: 1, Stale: true})

	// Redis comes back empty: the announcer republishes on its next tick.
	srv.Restart()
	waitFor(t, func() bool { return d.Healthy() == nil && hasWorker(d, "w") })
	checkModel(t, d, "m", "1", redisq.ModelStatus{State: redisq.ModelReady, Version: "1", Ready: 1, Workers: 1})
}
