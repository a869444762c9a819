package placement

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/taominer/taominer/kernels"
	"github.com/taominer/taominer/models"
)

var _ kernels.GPUSource = (*fakeGPUs)(nil)

const mib = 1 << 20

// fakeGPUs stands in for NVML (no GPU exists where these tests run): it
// reports each GPU's free memory, which a fake load lowers by what the
// instance takes. reads counts the readings.
type fakeGPUs struct {
	free  map[int]uint64
	order []int
	reads int
	err   error
}

func newFake(freeMiB ...uint64) *fakeGPUs {
	f := &fakeGPUs{free: map[int]uint64{}}
	for i, m := range freeMiB {
		f.free[i] = m * mib
		f.order = append(f.order, i)
	}
	return f
}

func (f *fakeGPUs) GPUs(context.Context) ([]kernels.Device, error) {
	f.reads++
	if f.err != nil {
		return nil, f.err
	}
	var out []kernels.Device
	for _, i := range f.order {
		out = append(out, kernels.Device{Kind: kernels.KindGPU, Index: i, Name: "Fake", MemoryTotal: 16384 * mib, MemoryFree: f.free[i]})
	}
	return out, nil
}

// loader is a fake Open: each instance takes takeMiB on the GPU it loads
// on, and fails with oom where a GPU's free memory is below need.
type loader struct {
	gpus    *fakeGPUs
	takeMiB uint64
	needMiB uint64
	fail    error // returned by every open, when set
	oom     []int // GPUs whose opens run out of memory
	opened  []Target
}

func (l *loader) open(_ context.Context, i int, t Target) error {
	if l.fail != nil {
		return l.fail
	}
	if t.Provider != "cpu" && t.Provider != "" && l.gpus != nil {
		if l.gpus.free[t.DeviceID] < l.needMiB*mib || slices.Contains(l.oom, t.DeviceID) {
			return fmt.Errorf("create session: %w", errors.New("CUDA failure 2: out of memory"))
		}
		l.gpus.free[t.DeviceID] -= min(l.takeMiB*mib, l.gpus.free[t.DeviceID])
	}
	if i != len(l.opened) {
		return fmt.Errorf("instance %d opened out of order", i)
	}
	l.opened = append(l.opened, t)
	return nil
}

func cuda(ids ...int) []Target {
	var out []Target
	for _, id := range ids {
		out = append(out, Target{Provider: "cuda", DeviceID: id})
	}
	return out
}

func TestPlace(t *testing.T) {
	tests := []struct {
		name     string
		cfg      string
		gpus     *fakeGPUs // nil: no GPU source
		take     uint64    // MiB each instance takes
		need     uint64    // MiB an open needs free, or it runs out of memory
		minFree  uint64    // Options.MinFree in MiB (0: default)
		oom      []int     // GPUs whose opens run out of memory, whatever they read
		want     []Target
		wantErr  []string // substrings; nil: success
		wantIsOf error
	}{
		{name: "no gpus: the config's device, as before",
			cfg: "instances: 2\nexecution_provider: cuda\ndevice_id: 1\n", gpus: newFake(8000, 8000),
			want: []Target{{"cuda", 1}, {"cuda", 1}}},
		{name: "no gpus, cpu default", cfg: "", want: []Target{{"", 0}}},
		{name: "instance_group count", cfg: "instance_group: [{count: 2}, {count: 1}]\n", want: []Target{{}, {}, {}}},
		{name: "explicit list round-robins", cfg: "instances: 5\ngpus: [1, 0]\n", gpus: newFake(100, 100),
			want: cuda(1, 0, 1, 0, 1)},
		{name: "explicit list keeps tensorrt", cfg: "instances: 2\nexecution_provider: tensorrt\ngpus: [0]\n",
			want: []Target{{"tensorrt", 0}, {"tensorrt", 0}}},
		{name: "explicit list names a missing GPU", cfg: "gpus: [0, 3]\n", gpus: newFake(100, 100),
			wantErr: []string{"gpus: GPU 3 not found", "cuda:0 (Fake) 100 MiB free", "cuda:1 (Fake) 100 MiB free"}},
		{name: "explicit list without a GPU source leaves it to the provider", cfg: "gpus: [2]\n", want: cuda(2)},
		{name: "auto picks the most free", cfg: "gpus: auto\n", gpus: newFake(4000, 9000, 6000), take: 1000,
			want: cuda(1)},
		{name: "auto re-reads after each load", cfg: "instances: 4\ngpus: auto\n", gpus: newFake(4000, 9000, 6000), take: 3000,
			// 4000/9000/6000 → 1 (6000 left) → tie 1 and 2 at 6000, lowest index → 1 (3000) → 2 (3000) → 0 (4000).
			want: cuda(1, 1, 2, 0)},
		{name: "auto ties go to the lowest index", cfg: "instances: 2\ngpus: auto\n", gpus: newFake(5000, 5000), take: 10,
			want: cuda(0, 1)},
		{name: "auto spreads equal GPUs", cfg: "instances: 4\ngpus: auto\n", gpus: newFake(8000, 8000), take: 1000,
			want: cuda(0, 1, 0, 1)},
		{name: "auto keeps tensorrt", cfg: "execution_provider: tensorrt\ngpus: auto\n", gpus: newFake(10, 8000),
			want: []Target{{"tensorrt", 1}}},
		{name: "auto skips a GPU below the minimum", cfg: "instances: 3\ngpus: auto\n", gpus: newFake(700, 300), take: 200,
			minFree: 256,
			// 700 → 0 (500) → 0 (300) → 0 and 1 both 300, tie → 0 (100).
			want: cuda(0, 0, 0)},
		{name: "auto fails when nothing has the minimum", cfg: "instances: 3\ngpus: auto\n", gpus: newFake(600, 300), take: 250,
			minFree: 256,
			// 600 → 0 (350) → 0 (100) → 1 has 300 ≥ 256 → 1 (50): fits. Four would not.
			want: cuda(0, 0, 1)},
		{name: "auto: a model that does not fit names the GPUs", cfg: "instances: 4\ngpus: auto\n", gpus: newFake(600, 300), take: 250,
			minFree: 256, wantIsOf: ErrNoFit,
			wantErr: []string{"instance 4 of 4", "model does not fit on any GPU: need 256 MiB free",
				"cuda:0 (Fake) 100 MiB free of 16384 MiB", "cuda:1 (Fake) 50 MiB free of 16384 MiB"}},
		{name: "auto: gpu_min_free_mib overrides the default", cfg: "gpus: auto\ngpu_min_free_mib: 2048\n", gpus: newFake(1000, 2000),
			wantIsOf: ErrNoFit, wantErr: []string{"need 2048 MiB free", "cuda:1 (Fake) 2000 MiB free"}},
		{name: "auto: out of memory tries the next GPU", cfg: "instances: 2\ngpus: auto\n", gpus: newFake(3000, 2000),
			oom: []int{0}, take: 100, minFree: 1000,
			// GPU 0 reads most free but its opens run out of memory (fragmented, or another process).
			want: cuda(1, 1)},
		{name: "auto: out of memory everywhere fails clearly", cfg: "gpus: auto\n", gpus: newFake(3000, 2000), need: 4000,
			minFree: 1000, wantIsOf: ErrNoFit,
			wantErr: []string{"and a successful load", "cuda:0 ran out of memory", "cuda:1 ran out of memory", "CUDA failure 2: out of memory"}},
		{name: "auto without a GPU runs on the CPU", cfg: "instances: 2\ngpus: auto\n", want: []Target{{"cpu", 0}, {"cpu", 0}}},
		{name: "auto with zero GPUs runs on the CPU", cfg: "gpus: auto\n", gpus: newFake(), want: []Target{{"cpu", 0}}},
		{name: "auto with cuda and fallback runs on the CPU", cfg: "execution_provider: cuda\nfallback: cpu\ngpus: auto\n",
			want: []Target{{"cpu", 0}}},
		{name: "auto with cuda and no GPU fails", cfg: "execution_provider: cuda\ngpus: auto\n", wantIsOf: ErrNoGPU,
			wantErr: []string{"gpus: auto with execution_provider cuda: no GPU found (set fallback: cpu"}},
		{name: "auto with tensorrt and an unreadable NVML fails", cfg: "execution_provider: tensorrt\ngpus: auto\n",
			gpus:    &fakeGPUs{err: errors.New("nvml: driver not loaded")},
			wantErr: []string{"execution_provider tensorrt: read GPUs: nvml: driver not loaded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := models.ParseConfig([]byte(tt.cfg))
			if err != nil {
				t.Fatal(err)
			}
			opt := Options{MinFree: tt.minFree * mib}
			if tt.gpus != nil {
				opt.GPUs = tt.gpus
			}
			l := &loader{gpus: tt.gpus, takeMiB: tt.take, needMiB: tt.need, oom: tt.oom}
			got, err := New(opt).Place(context.Background(), "m", cfg, l.open)
			if tt.wantErr == nil && tt.wantIsOf == nil {
				if err != nil {
					t.Fatalf("Place: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("Place targets differ (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.want, l.opened); diff != "" {
					t.Errorf("opened differ from targets (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil {
				t.Fatalf("Place = %v, want an error", got)
			}
			if tt.wantIsOf != nil && !errors.Is(err, tt.wantIsOf) {
				t.Errorf("Place error %v is not %v", err, tt.wantIsOf)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Place error:\n%v\nwant it to contain %q", err, w)
				}
			}
			if len(got) != len(l.opened) {
				t.Errorf("Place returned %d targets, but %d instances opened (the caller must close them)", len(got), len(l.opened))
			}
		})
	}
}

// TestPlaceMeasuresAfterEachLoad checks the readings: one before the first
// instance and one after each.
func TestPlaceMeasuresAfterEachLoad(t *testing.T) {
	g := newFake(8000, 8000)
	l := &loader{gpus: g, takeMiB: 100}
	cfg := models.Config{Instances: new(3), GPUs: &models.GPUs{Auto: true}}
	if _, err := New(Options{GPUs: g}).Place(context.Background(), "m", cfg, l.open); err != nil {
		t.Fatal(err)
	}
	if g.reads != 4 {
		t.Errorf("GPU readings = %d, want 4 (one before, one after each of 3 loads)", g.reads)
	}
}

func TestPlaceOpenErrorStops(t *testing.T) {
	g := newFake(8000)
	l := &loader{gpus: g, fail: errors.New("protobuf parsing failed")}
	cfg := models.Config{GPUs: &models.GPUs{Auto: true}}
	_, err := New(Options{GPUs: g}).Place(context.Background(), "m", cfg, l.open)
	if err == nil || !strings.Contains(err.Error(), "instance 1 of 1: open on cuda:0: protobuf parsing failed") || errors.Is(err, ErrNoFit) {
		t.Errorf("Place error = %v, want the open error, not ErrNoFit", err)
	}
}

func TestIsOutOfMemory(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("protobuf parsing failed"), false},
		{fmt.Errorf("load: %w", ErrOutOfMemory), true},
		{errors.New("CUDA failure 2: out of memory ; GPU=0"), true},
		{errors.New("Failed to allocate memory for requested buffer of size 1048576"), true},
		{errors.New("cudaErrorMemoryAllocation"), true},
		{errors.New("std::bad_alloc"), true},
	}
	for _, tt := range tests {
		if got := IsOutOfMemory(tt.err); got != tt.want {
			t.Errorf("IsOutOfMemory(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
