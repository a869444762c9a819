package engine

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/front"
	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/tensor"
)

// orderOpener opens a model whose session records the input value of each
// run; the first run waits for gate.
type orderOpener struct {
	started chan struct{}
	gate    chan struct{}
	mu      sync.Mutex
	armed   bool // hold the next run whose input is 0
	order   []float32
}

func (o *orderOpener) Open(context.Context, string, models.Config) (models.IO, models.Session, error) {
	io := models.IO{
		Inputs:  []models.TensorSpec{{Name: "x", DataType: tensor.FP32, Shape: []int64{-1, 1}}},
		Outputs: []models.TensorSpec{{Name: "y", DataType: tensor.FP32, Shape: []int64{-1, 1}}},
	}
	return io, o, nil
}

func (o *orderOpener) Run(_ context.Context, in []tensor.Tensor) ([]tensor.Tensor, error) {
	v := modeltest.F32s(in[0].Data)[0]
	o.mu.Lock()
	o.order = append(o.order, v)
	hold := o.armed && v == 0
	o.armed = o.armed && !hold
	o.mu.Unlock()
	if hold {
		o.started <- struct{}{}
		<-o.gate
	}
	return []tensor.Tensor{{Name: "y", DataType: tensor.FP32, Shape: in[0].Shape, Data: in[0].Data}}, nil
}

func (o *orderOpener) Close() error { return nil }

// TestExplicitPriority: while the model is busy, queued requests run in
// the order of the priority an edge set on them, above those without one.
func TestExplicitPriority(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/m.onnx", "model")
	writeFile(t, dir+"/m.yaml", "max_batch_size: 1\n")
	o := &orderOpener{started: make(chan struct{}), gate: make(chan struct{})}
	e := New(o, Options{Dir: dir, DefaultMaxBatchSize: 1, ModelControl: ControlNone})
	if err := e.LoadAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	o.mu.Lock()
	o.order = nil // forget the warm-up runs
	o.armed = true
	o.mu.Unlock()

	f := front.New(e, front.Options{})
	run := func(v float32, prio float64) error {
		x := tensor.Tensor{Name: "x", DataType: tensor.FP32, Shape: []int64{1, 1}, Data: modeltest.F32Bytes(v)}
		_, err := f.Infer(t.Context(), "m", "", &api.InferRequest{Inputs: []tensor.Tensor{x}, Priority: prio})
		return err
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = run(0, 0) })
	<-o.started
	queued := []struct {
		v    float32
		prio float64
	}{{1, 0}, {2, 9}, {3, 5}, {4, 1.5}}
	for i, q := range queued {
		wg.Go(func() {
			if err := run(q.v, q.prio); err != nil {
				t.Error(err)
			}
		})
		for deadline := time.Now().Add(5 * time.Second); ; {
			st, err := e.QueueStats("m", "")
			if err != nil {
				t.Fatal(err)
			}
			if st.QueueLength == i+1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("request %d never queued", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	close(o.gate)
	wg.Wait()
	if want := []float32{0, 2, 3, 4, 1}; !slices.Equal(o.order, want) {
		t.Errorf("run order %v, want %v", o.order, want)
	}
}
