package engine

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/kernels"
	"github.com/taominer/taominer/miner/internal/batch"
	"github.com/taominer/taominer/miner/internal/front"
	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/tensor"
)

var _ batch.Runner = (*pool)(nil)

// gateSession blocks each Run until its test releases it, and reports
// which instance ran.
type gateSession struct {
	id      int
	started chan int
	release chan struct{}
}

func (s *gateSession) Run(_ context.Context, in []tensor.Tensor) ([]tensor.Tensor, error) {
	s.started <- s.id
	<-s.release
	return in, nil
}

func (s *gateSession) Close() error { return nil }

// TestPoolLeastLoaded dispatches runs to a pool of blocking sessions: each
// goes to the instance with the fewest runs in flight, ties to the lowest
// index.
func TestPoolLeastLoaded(t *testing.T) {
	started := make(chan int)
	sessions := make([]*gateSession, 3)
	p := &pool{}
	for i := range sessions {
		sessions[i] = &gateSession{id: i, started: started, release: make(chan struct{})}
		p.instances = append(p.instances, &instance{session: sessions[i], device: "cpu"})
	}
	var wg sync.WaitGroup
	run := func() int {
		wg.Go(func() {
			if _, err := p.Run(context.Background(), nil); err != nil {
				t.Error(err)
			}
		})
		return <-started
	}
	finish := func(i int) {
		before := p.stats()[i].Executing
		sessions[i].release <- struct{}{}
		for p.stats()[i].Executing != before-1 { // until Run has returned
			runtime.Gosched()
		}
	}
	// Idle pool: ties to the lowest index, then the next idle one.
	want := []int{0, 1, 2, 0, 1}
	var got []int
	for range 3 {
		got = append(got, run())
	}
	// All at one in flight: ties to the lowest index again.
	got = append(got, run(), run())
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("instances chosen differ (-want +got):\n%s", diff)
	}
	// In flight now: 0:2 1:2 2:1 → instance 2.
	if i := run(); i != 2 {
		t.Errorf("run went to instance %d, want 2 (least loaded)", i)
	}
	// Finish one run on instance 1 (1:1, others 2): the next goes to 1.
	finish(1)
	if i := run(); i != 1 {
		t.Errorf("run went to instance %d, want 1 (least loaded after a finish)", i)
	}
	if got, want := []int{p.stats()[0].Executing, p.stats()[1].Executing, p.stats()[2].Executing}, []int{2, 2, 2}; !cmp.Equal(got, want) {
		t.Errorf("executing = %v, want %v", got, want)
	}
	for _, s := range sessions {
		close(s.release)
	}
	wg.Wait()
	var execs []uint64
	for _, st := range p.stats() {
		execs = append(execs, st.Executions)
		if st.Executing != 0 {
			t.Errorf("instance still executing after all runs returned: %+v", st)
		}
	}
	if diff := cmp.Diff([]uint64{2, 3, 2}, execs); diff != "" {
		t.Errorf("execution counts differ (-want +got):\n%s", diff)
	}
}

// TestInstancesRunInParallel loads a model with instances: 2 and holds
// both sessions: two requests run at once, one on each instance, fed by
// the version's one batcher.
func TestInstancesRunInParallel(t *testing.T) {
	e, o, _ := startEngine(t, map[string]string{"m.onnx": "ok 7", "m.yaml": "instances: 2\n"}, "")
	if n := len(o.opened); n != 2 {
		t.Fatalf("opened %d sessions, want 2", n)
	}
	hold := make(chan struct{})
	for i := range 2 {
		s := o.session(i)
		s.mu.Lock()
		s.hold = hold
		s.mu.Unlock()
	}
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			if v, _, err := infer(e, "m"); err != nil || v != 7 {
				t.Errorf("infer = %v, %v; want 7", v, err)
			}
		})
		// The first request holds instance 0; the second, sent after,
		// goes to the idle instance 1 while the first still runs.
		<-o.session(i).running
	}
	st, err := e.Instances("m", "")
	if err != nil {
		t.Fatal(err)
	}
	want := []InstanceStats{{Device: "cpu", Executions: 1, Executing: 1}, {Device: "cpu", Executions: 1, Executing: 1}}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("instances while both run differ (-want +got):\n%s", diff)
	}
	close(hold)
	wg.Wait()
	if s := e.Serving(); len(s) != 1 || s[0].Instances != 2 {
		t.Errorf("Serving = %+v, want one version with 2 instances", s)
	}
}

// TestInstanceOpenFailureClosesOpened: when the second instance fails,
// the first is closed and the model is not served.
func TestInstanceOpenFailureClosesOpened(t *testing.T) {
	o := &failingOpener{fakeOpener: fakeOpener{gate: make(chan struct{}), opening: make(chan string, 1)}, failAt: 1}
	e := New(o, Options{Dir: t.TempDir()})
	writeFile(t, e.opt.Dir+"/m.onnx", "ok 1")
	writeFile(t, e.opt.Dir+"/m.yaml", "instances: 3\n")
	if err := e.LoadAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	if _, _, err := infer(e, "m"); err == nil || !strings.Contains(err.Error(), "instance 2 of 3 on cpu: device lost") {
		t.Errorf("infer = %v, want the model unavailable with the instance's error", err)
	}
	if len(o.opened) != 1 || !o.session(0).isClosed() {
		t.Errorf("the first instance was not closed (opened %d)", len(o.opened))
	}
}

type failingOpener struct {
	fakeOpener
	calls  int
	failAt int
}

func (o *failingOpener) Open(ctx context.Context, path string, cfg models.Config) (models.IO, models.Session, error) {
	o.calls++
	if o.calls-1 == o.failAt {
		return models.IO{}, nil, errors.New("device lost")
	}
	return o.fakeOpener.Open(ctx, path, cfg)
}

// deviceOpener records the provider and device of each open.
type deviceOpener struct {
	fakeOpener
	mu      sync.Mutex
	devices []string
	gpus    *fakeMemory
}

func (o *deviceOpener) Open(ctx context.Context, path string, cfg models.Config) (models.IO, models.Session, error) {
	o.mu.Lock()
	o.devices = append(o.devices, cfg.ExecutionProvider+":"+strconv.Itoa(cfg.DeviceID))
	if o.gpus != nil && cfg.ExecutionProvider == "cuda" {
		o.gpus.take(cfg.DeviceID, 3000<<20)
	}
	o.mu.Unlock()
	return o.fakeOpener.Open(ctx, path, cfg)
}

// fakeMemory is a fake NVML: no GPU exists where these tests run.
type fakeMemory struct {
	mu   sync.Mutex
	free []uint64
}

var _ kernels.GPUSource = (*fakeMemory)(nil)

func (f *fakeMemory) GPUs(context.Context) ([]kernels.Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []kernels.Device
	for i, m := range f.free {
		out = append(out, kernels.Device{Kind: kernels.KindGPU, Index: i, MemoryFree: m, MemoryTotal: 16 << 30})
	}
	return out, nil
}

func (f *fakeMemory) take(i int, n uint64) {
	f.mu.Lock()
	f.free[i] -= min(n, f.free[i])
	f.mu.Unlock()
}

// TestEnginePlacement loads models with gpus settings through the engine
// with fake GPU memory readings: the opener receives each instance's
// provider and device id, and the version reports them.
func TestEnginePlacement(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		free    []uint64 // MiB per fake GPU; nil: no GPU source
		devices []string // as the opener saw them
		stats   []string // InstanceStats.Device
		err     string
	}{
		{"auto by free memory", "instances: 3\ngpus: auto\n", []uint64{5000, 7000}, []string{"cuda:1", "cuda:0", "cuda:1"},
			[]string{"cuda:1", "cuda:0", "cuda:1"}, ""},
		{"explicit list", "instances: 3\nexecution_provider: tensorrt\ngpus: [1, 0]\n", []uint64{100, 100},
			[]string{"tensorrt:1", "tensorrt:0", "tensorrt:1"}, []string{"tensorrt:1", "tensorrt:0", "tensorrt:1"}, ""},
		{"auto without GPU", "instances: 2\ngpus: auto\n", nil, []string{"cpu:0", "cpu:0"}, []string{"cpu", "cpu"}, ""},
		{"auto does not fit", "instances: 3\ngpus: auto\ngpu_min_free_mib: 2000\n", []uint64{4000, 4000}, []string{"cuda:0", "cuda:1"}, nil,
			"instance 3 of 3: model does not fit on any GPU: need 2000 MiB free; GPUs cuda:0 1000 MiB free of 16384 MiB, cuda:1 1000 MiB free"},
		{"auto with cuda and no GPU", "execution_provider: cuda\ngpus: auto\n", nil, nil, nil, "no GPU found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &deviceOpener{fakeOpener: fakeOpener{gate: make(chan struct{}), opening: make(chan string, 1)}}
			opt := Options{Dir: t.TempDir(), MinFreeGPUMemory: 256 << 20}
			if tt.free != nil {
				o.gpus = &fakeMemory{}
				for _, m := range tt.free {
					o.gpus.free = append(o.gpus.free, m<<20)
				}
				opt.GPUs = o.gpus
			}
			e := New(o, opt)
			defer e.Close(context.Background())
			writeFile(t, opt.Dir+"/m.onnx", "ok 2")
			writeFile(t, opt.Dir+"/m.yaml", tt.config)
			if err := e.LoadAll(t.Context()); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.devices, o.devices); diff != "" {
				t.Errorf("opened on devices (-want +got):\n%s", diff)
			}
			st, err := e.Instances("m", "")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("Instances error = %v, want the model unavailable with %q", err, tt.err)
				}
				for i := range o.opened {
					if !o.session(i).isClosed() {
						t.Errorf("instance %d left open after the failed placement", i)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range st {
				got = append(got, s.Device)
			}
			if diff := cmp.Diff(tt.stats, got); diff != "" {
				t.Errorf("instance devices (-want +got):\n%s", diff)
			}
			x := tensor.Tensor{Name: "x", DataType: tensor.FP32, Shape: []int64{1, 1}, Data: modeltest.F32Bytes(0)}
			if _, err := front.New(e, front.Options{}).Infer(t.Context(), "m", "", &api.InferRequest{Inputs: []tensor.Tensor{x}}); err != nil {
				t.Errorf("infer: %v", err)
			}
		})
	}
}

// TestSizeClock checks which versions batch size tuning measures by the
// worker thread's CPU time: those that run on the CPU, in one thread, on
// every instance.
func TestSizeClock(t *testing.T) {
	tests := []struct {
		name           string
		serverThreads  int
		modelThreads   int
		devices        []string
		singleThreadCP bool
	}{
		{"defaults on the CPU", 0, 0, []string{"cpu"}, true},
		{"server default 1", 1, 0, []string{"cpu", "cpu"}, true},
		{"server default 4", 4, 0, []string{"cpu"}, false},
		{"the model's 1 over the server's 4", 4, 1, []string{"cpu"}, true},
		{"the model's 2", 1, 2, []string{"cpu"}, false},
		{"a GPU", 1, 0, []string{"cuda:0"}, false},
		{"one instance on a GPU", 1, 0, []string{"cpu", "tensorrt:1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Engine{opt: Options{IntraOpThreads: tt.serverThreads}}
			entry := &models.Entry{Config: models.Config{IntraOpThreads: tt.modelThreads}}
			p := &pool{}
			for _, d := range tt.devices {
				p.instances = append(p.instances, &instance{device: d})
			}
			if got := e.singleThreadCPU(entry, p); got != tt.singleThreadCP {
				t.Errorf("singleThreadCPU = %v, want %v", got, tt.singleThreadCP)
			}
		})
	}
}
