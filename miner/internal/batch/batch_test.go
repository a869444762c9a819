package batch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taominer/taominer/models/tensor"
)

// fakeRunner is a deterministic model. Every INT32 input comes back doubled
// as "<name>_out", every BYTES input with "!" appended to each element as
// "<name>_out", and the INT64 output "n" of shape [N] holds N, the first
// dimension of the first input, in every row: each request sees the size of
// the batch it ran in. Every call is recorded.
type fakeRunner struct {
	// block makes each Run wait until its call is released.
	block bool
	// delay is how long each Run takes (synctest time).
	delay time.Duration
	// hook runs inside Run once the call is recorded; it may fail or panic.
	hook func(call int, inputs []tensor.Tensor) error
	// mangle, if set, may change a call's outputs before they are returned.
	mangle func(call int, outputs []tensor.Tensor)

	mu        sync.Mutex
	calls     []*fakeCall
	active    int
	maxActive int
}

// fakeCall is one Run as the runner saw it.
type fakeCall struct {
	at       time.Time
	ctx      context.Context //nolint:containedctx // recorded to check what the batcher passes
	inputs   []view
	release  chan struct{}
	released bool
}

// items is the batch size of the call: the first dimension of input 0.
func (c *fakeCall) items() int64 { return c.inputs[0].Shape[0] }

func (r *fakeRunner) Run(ctx context.Context, inputs []tensor.Tensor) ([]tensor.Tensor, error) {
	c := &fakeCall{at: time.Now(), ctx: ctx, inputs: views(inputs), release: make(chan struct{})}
	r.mu.Lock()
	idx := len(r.calls)
	r.calls = append(r.calls, c)
	r.active++
	r.maxActive = max(r.maxActive, r.active)
	block := r.block
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.active--
		r.mu.Unlock()
	}()
	if block {
		<-c.release
	}
	if r.delay > 0 {
		time.Sleep(r.delay)
	}
	if r.hook != nil {
		if err := r.hook(idx, inputs); err != nil {
			return nil, err
		}
	}
	outs := fakeOutputs(inputs)
	if r.mangle != nil {
		r.mangle(idx, outs)
	}
	return outs, nil
}

func fakeOutputs(inputs []tensor.Tensor) []tensor.Tensor {
	var outs []tensor.Tensor
	for _, in := range inputs {
		out := tensor.Tensor{Name: in.Name + "_out", DataType: in.DataType, Shape: slices.Clone(in.Shape)}
		switch in.DataType {
		case tensor.Bytes:
			for _, s := range in.Strings {
				out.Strings = append(out.Strings, append(slices.Clone(s), '!'))
			}
		case tensor.Int32:
			out.Data = make([]byte, len(in.Data))
			for i := 0; i < len(in.Data); i += 4 {
				binary.LittleEndian.PutUint32(out.Data[i:], 2*binary.LittleEndian.Uint32(in.Data[i:]))
			}
		default:
			out.Data = slices.Clone(in.Data)
		}
		outs = append(outs, out)
	}
	n := int64(1)
	if len(inputs) > 0 && len(inputs[0].Shape) > 0 {
		n = inputs[0].Shape[0]
	}
	vals := make([]int64, n)
	for i := range vals {
		vals[i] = n
	}
	return append(outs, i64("n", []int64{n}, vals...))
}

// release lets call i return.
func (r *fakeRunner) release(t *testing.T, i int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if i >= len(r.calls) {
		t.Fatalf("release call %d: the runner has seen only %d calls", i, len(r.calls))
	}
	if c := r.calls[i]; !c.released {
		c.released = true
		close(c.release)
	}
}

// unblock releases every call and lets future calls run at once.
func (r *fakeRunner) unblock() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.block = false
	for _, c := range r.calls {
		if !c.released {
			c.released = true
			close(c.release)
		}
	}
}

// batchSizes returns each call's batch size, in call order.
func (r *fakeRunner) batchSizes() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int64
	for _, c := range r.calls {
		out = append(out, c.items())
	}
	return out
}

func (r *fakeRunner) call(t *testing.T, i int) *fakeCall {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if i >= len(r.calls) {
		t.Fatalf("call %d: the runner has seen only %d calls", i, len(r.calls))
	}
	return r.calls[i]
}

func (r *fakeRunner) numCalls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// start creates a batcher that the test closes when it ends, after letting
// any call still blocked in the runner return.
func start(t *testing.T, r *fakeRunner, opt Options) *Batcher {
	t.Helper()
	b := New(r, opt)
	t.Cleanup(func() {
		r.unblock()
		if err := b.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// answer is what Submit returned.
type answer struct {
	out []tensor.Tensor
	err error
}

// submit calls Submit at priority 0 on its own goroutine and waits until
// the request is queued, running or answered, so that requests queue in
// call order.
func submit(ctx context.Context, b *Batcher, in []tensor.Tensor) <-chan answer {
	return submitAt(ctx, b, in, 0)
}

// submitAt is submit at priority p.
func submitAt(ctx context.Context, b *Batcher, in []tensor.Tensor, p Priority) <-chan answer {
	ch := make(chan answer, 1)
	go func() {
		out, err := b.Submit(ctx, in, p)
		ch <- answer{out, err}
	}()
	synctest.Wait()
	return ch
}

// answered returns the answer on ch, failing if there is none yet.
func answered(t *testing.T, ch <-chan answer) answer {
	t.Helper()
	synctest.Wait()
	select {
	case a := <-ch:
		return a
	default:
		t.Fatal("Submit has not returned")
		return answer{}
	}
}

// pending fails if ch already holds an answer.
func pending(t *testing.T, ch <-chan answer) {
	t.Helper()
	synctest.Wait()
	select {
	case a := <-ch:
		t.Fatalf("Submit returned %v, %v; want it still waiting", views(a.out), a.err)
	default:
	}
}

// view is a tensor in a form that diffs readably.
type view struct {
	Name  string
	Type  string
	Shape []int64
	Ints  []int64
	Strs  []string
}

func views(ts []tensor.Tensor) []view {
	var out []view
	for _, t := range ts {
		v := view{Name: t.Name, Type: t.DataType.String(), Shape: slices.Clone(t.Shape)}
		switch t.DataType {
		case tensor.Bytes:
			for _, s := range t.Strings {
				v.Strs = append(v.Strs, string(s))
			}
		case tensor.Int32:
			for i := 0; i+4 <= len(t.Data); i += 4 {
				v.Ints = append(v.Ints, int64(int32(binary.LittleEndian.Uint32(t.Data[i:]))))
			}
		case tensor.Int64:
			for i := 0; i+8 <= len(t.Data); i += 8 {
				v.Ints = append(v.Ints, int64(binary.LittleEndian.Uint64(t.Data[i:])))
			}
		}
		out = append(out, v)
	}
	return out
}

func i32(name string, shape []int64, vals ...int32) tensor.Tensor {
	t := tensor.Tensor{Name: name, DataType: tensor.Int32, Shape: shape, Data: make([]byte, 4*len(vals))}
	for i, v := range vals {
		binary.LittleEndian.PutUint32(t.Data[4*i:], uint32(v))
	}
	return t
}

func i64(name string, shape []int64, vals ...int64) tensor.Tensor {
	t := tensor.Tensor{Name: name, DataType: tensor.Int64, Shape: shape, Data: make([]byte, 8*len(vals))}
	for i, v := range vals {
		binary.LittleEndian.PutUint64(t.Data[8*i:], uint64(v))
	}
	return t
}

// req is request id with items rows: x is INT32 [items, width] holding
// id*100 + k, s is BYTES [items, 1] holding "r<id>.<row>".
type req struct{ id, items, width int }

func (q req) inputs() []tensor.Tensor {
	var xs []int32
	var ss [][]byte
	for row := range q.items {
		for col := range q.width {
			xs = append(xs, int32(q.id*100+row*q.width+col))
		}
		ss = append(ss, fmt.Appendf(nil, "r%d.%d", q.id, row))
	}
	return []tensor.Tensor{
		i32("x", []int64{int64(q.items), int64(q.width)}, xs...),
		{Name: "s", DataType: tensor.Bytes, Shape: []int64{int64(q.items), 1}, Strings: ss},
	}
}

// want is what the fake runner answers to request q run in a batch of n items.
func (q req) want(n int) []view {
	x := view{Name: "x_out", Type: "INT32", Shape: []int64{int64(q.items), int64(q.width)}}
	s := view{Name: "s_out", Type: "BYTES", Shape: []int64{int64(q.items), 1}}
	nv := view{Name: "n", Type: "INT64", Shape: []int64{int64(q.items)}}
	for row := range q.items {
		for col := range q.width {
			x.Ints = append(x.Ints, int64(2*(q.id*100+row*q.width+col)))
		}
		s.Strs = append(s.Strs, fmt.Sprintf("r%d.%d!", q.id, row))
		nv.Ints = append(nv.Ints, int64(n))
	}
	return []view{x, s, nv}
}

// checkAnswer compares a request's answer with what it should get from a
// batch of n items.
func checkAnswer(t *testing.T, q req, a answer, n int) {
	t.Helper()
	if a.err != nil {
		t.Errorf("request %+v: Submit error %v, want outputs", q, a.err)
		return
	}
	if diff := cmp.Diff(q.want(n), views(a.out)); diff != "" {
		t.Errorf("request %+v in a batch of %d: outputs differ (-want +got):\n%s", q, n, diff)
	}
}

func TestLoneRequestRunsAtOnce(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
	}{
		{"batching", Options{MaxBatchSize: 8}},
		{"batching with preferred sizes", Options{MaxBatchSize: 8, PreferredBatchSizes: []int{4}}},
		{"no batch axis", Options{MaxBatchSize: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := &fakeRunner{}
				b := start(t, r, tt.opt)
				t0 := time.Now()
				q := req{id: 1, items: 1, width: 2}
				out, err := b.Submit(context.Background(), q.inputs(), 0)
				checkAnswer(t, q, answer{out, err}, 1)
				// No synctest.Wait: the answer already counts in Stats.
				if st := b.Stats(); st.ExecutionCount != 1 || st.InferenceCount != 1 || st.Success.Count != 1 || st.Batches[1].ComputeInfer.Count != 1 {
					t.Errorf("Stats right after Submit: ExecutionCount %d, InferenceCount %d, Success %d, Batches %v; want 1, 1, 1, one of size 1",
						st.ExecutionCount, st.InferenceCount, st.Success.Count, st.Batches)
				}
				if got := time.Since(t0); got != 0 {
					t.Errorf("Submit took %v, want 0 (no waiting)", got)
				}
				if got, want := r.batchSizes(), []int64{1}; !slices.Equal(got, want) {
					t.Errorf("runner saw batch sizes %v, want %v", got, want)
				}
			})
		})
	}
}

// TestMerge queues requests while the model is busy with request 0 (one
// item, width 2) and checks how they are batched and that each gets back
// exactly its own rows.
func TestMerge(t *testing.T) {
	type queued struct {
		items, width int
		batch        int // the size of the batch it should run in
	}
	tests := []struct {
		name     string
		max      int
		queued   []queued
		wantRuns []int64
	}{
		{"all fit", 4, []queued{{1, 2, 4}, {2, 2, 4}, {1, 2, 4}}, []int64{1, 4}},
		{"fewer than max", 8, []queued{{1, 2, 3}, {2, 2, 3}}, []int64{1, 3}},
		{"multi-item requests count by first dimension", 5, []queued{{3, 2, 5}, {2, 2, 5}, {1, 2, 1}}, []int64{1, 5, 1}},
		{"overflow starts the next batch", 4, []queued{{2, 2, 2}, {3, 2, 4}, {1, 2, 4}}, []int64{1, 2, 4}},
		{"exact fill leaves the rest queued", 4, []queued{{2, 2, 4}, {2, 2, 4}, {1, 2, 2}, {1, 2, 2}}, []int64{1, 4, 2}},
		{"full-size requests run alone", 2, []queued{{2, 2, 2}, {2, 2, 2}}, []int64{1, 2, 2}},
		{"different widths never merge", 8, []queued{{1, 2, 1}, {1, 3, 1}, {1, 2, 1}}, []int64{1, 1, 1, 1}},
		{"runs of equal widths merge", 8, []queued{{1, 3, 2}, {1, 3, 2}, {2, 2, 3}, {1, 2, 3}}, []int64{1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := &fakeRunner{block: true}
				b := start(t, r, Options{MaxBatchSize: tt.max})
				ctx := context.Background()
				busy := req{id: 0, items: 1, width: 2}
				busyCh := submit(ctx, b, busy.inputs())
				reqs := make([]req, len(tt.queued))
				chans := make([]<-chan answer, len(tt.queued))
				for i, qd := range tt.queued {
					reqs[i] = req{id: i + 1, items: qd.items, width: qd.width}
					chans[i] = submit(ctx, b, reqs[i].inputs())
				}
				if got := b.QueueLength(); got != len(tt.queued) {
					t.Errorf("QueueLength() = %d while the model is busy, want %d", got, len(tt.queued))
				}
				r.unblock()
				checkAnswer(t, busy, answered(t, busyCh), 1)
				for i, ch := range chans {
					checkAnswer(t, reqs[i], answered(t, ch), tt.queued[i].batch)
				}
				if got := r.batchSizes(); !slices.Equal(got, tt.wantRuns) {
					t.Errorf("runner saw batch sizes %v, want %v", got, tt.wantRuns)
				}
			})
		})
	}
}

// TestMergedInputs checks the merged tensors the runner sees: rows in queue
// order, BYTES elements concatenated, the batch dimension summed.
func TestMergedInputs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{block: true}
		b := start(t, r, Options{MaxBatchSize: 4})
		ctx := context.Background()
		submit(ctx, b, req{id: 0, items: 1, width: 2}.inputs())
		submit(ctx, b, req{id: 1, items: 2, width: 2}.inputs())
		submit(ctx, b, req{id: 2, items: 1, width: 2}.inputs())
		r.unblock()
		synctest.Wait()
		want := []view{
			{Name: "x", Type: "INT32", Shape: []int64{3, 2}, Ints: []int64{100, 101, 102, 103, 200, 201}},
			{Name: "s", Type: "BYTES", Shape: []int64{3, 1}, Strs: []string{"r1.0", "r1.1", "r2.0"}},
		}
		if diff := cmp.Diff(want, r.call(t, 1).inputs); diff != "" {
			t.Errorf("merged inputs differ (-want +got):\n%s", diff)
		}
	})
}

func TestMaxQueueDelay(t *testing.T) {
	type arrival struct {
		at    time.Duration
		items int
	}
	type run struct {
		at    time.Duration
		items int64
	}
	tests := []struct {
		name     string
		opt      Options
		arrivals []arrival
		want     []run
	}{
		{"no delay runs at once", Options{MaxBatchSize: 4},
			[]arrival{{0, 1}, {time.Millisecond, 1}},
			[]run{{0, 1}, {time.Millisecond, 1}}},
		{"lone request waits out the delay", Options{MaxBatchSize: 4, MaxQueueDelay: 10 * time.Millisecond},
			[]arrival{{0, 1}},
			[]run{{10 * time.Millisecond, 1}}},
		{"arrivals within the delay join", Options{MaxBatchSize: 4, MaxQueueDelay: 10 * time.Millisecond},
			[]arrival{{0, 1}, {4 * time.Millisecond, 1}, {9 * time.Millisecond, 1}},
			[]run{{10 * time.Millisecond, 3}}},
		{"a full batch does not wait", Options{MaxBatchSize: 4, MaxQueueDelay: 10 * time.Millisecond},
			[]arrival{{0, 2}, {3 * time.Millisecond, 2}, {4 * time.Millisecond, 1}},
			[]run{{3 * time.Millisecond, 4}, {14 * time.Millisecond, 1}}},
		{"a late arrival starts its own wait", Options{MaxBatchSize: 4, MaxQueueDelay: 10 * time.Millisecond},
			[]arrival{{0, 1}, {12 * time.Millisecond, 1}},
			[]run{{10 * time.Millisecond, 1}, {22 * time.Millisecond, 1}}},
		{"an overflowing arrival releases the batch", Options{MaxBatchSize: 4, MaxQueueDelay: 10 * time.Millisecond},
			[]arrival{{0, 3}, {2 * time.Millisecond, 2}},
			[]run{{2 * time.Millisecond, 3}, {12 * time.Millisecond, 2}}},
		{"preferred size releases early", Options{MaxBatchSize: 8, MaxQueueDelay: 10 * time.Millisecond, PreferredBatchSizes: []int{2}},
			[]arrival{{0, 1}, {3 * time.Millisecond, 1}, {5 * time.Millisecond, 1}},
			[]run{{3 * time.Millisecond, 2}, {15 * time.Millisecond, 1}}},
		{"preferred size not reached waits", Options{MaxBatchSize: 8, MaxQueueDelay: 10 * time.Millisecond, PreferredBatchSizes: []int{3}},
			[]arrival{{0, 1}, {3 * time.Millisecond, 1}},
			[]run{{10 * time.Millisecond, 2}}},
		{"preferred size skipped over waits", Options{MaxBatchSize: 8, MaxQueueDelay: 10 * time.Millisecond, PreferredBatchSizes: []int{2}},
			[]arrival{{0, 1}, {3 * time.Millisecond, 2}},
			[]run{{10 * time.Millisecond, 3}}},
		{"no batch axis ignores the delay", Options{MaxQueueDelay: 10 * time.Millisecond},
			[]arrival{{0, 1}, {time.Millisecond, 1}},
			[]run{{0, 1}, {time.Millisecond, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := &fakeRunner{}
				b := start(t, r, tt.opt)
				t0 := time.Now()
				var chans []<-chan answer
				for i, a := range tt.arrivals {
					time.Sleep(time.Until(t0.Add(a.at)))
					chans = append(chans, submit(context.Background(), b, req{id: i, items: a.items, width: 2}.inputs()))
				}
				time.Sleep(time.Second)
				for i, ch := range chans {
					if a := answered(t, ch); a.err != nil {
						t.Errorf("request %d: %v", i, a.err)
					}
				}
				var got []run
				r.mu.Lock()
				for _, c := range r.calls {
					got = append(got, run{c.at.Sub(t0), c.items()})
				}
				r.mu.Unlock()
				if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(run{})); diff != "" {
					t.Errorf("arrivals %v: runs differ (-want +got):\n%s", tt.arrivals, diff)
				}
			})
		})
	}
}

// TestNoBatchAxis checks that with MaxBatchSize 0 queued requests run one at
// a time with their full shape, even when they would fit together.
func TestNoBatchAxis(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{block: true}
		b := start(t, r, Options{})
		ctx := context.Background()
		reqs := []req{{0, 2, 3}, {1, 2, 3}, {2, 2, 3}}
		var chans []<-chan answer
		for _, q := range reqs {
			chans = append(chans, submit(ctx, b, q.inputs()))
		}
		r.unblock()
		for i, ch := range chans {
			checkAnswer(t, reqs[i], answered(t, ch), 2) // "n" echoes the first dimension
		}
		if got := r.numCalls(); got != len(reqs) {
			t.Fatalf("runner saw %d calls, want %d", got, len(reqs))
		}
		for i, q := range reqs {
			if diff := cmp.Diff(views(q.inputs()), r.call(t, i).inputs); diff != "" {
				t.Errorf("call %d: inputs differ from request %d's (-want +got):\n%s", i, i, diff)
			}
		}
		st := b.Stats()
		if st.InferenceCount != 3 || st.ExecutionCount != 3 || st.Batches[1].ComputeInfer.Count != 3 {
			t.Errorf("Stats: InferenceCount %d, ExecutionCount %d, Batches %v; want 3, 3 and 3 executions of size 1",
				st.InferenceCount, st.ExecutionCount, st.Batches)
		}
	})
}

func TestQueueFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{block: true}
		b := start(t, r, Options{MaxBatchSize: 4, MaxQueueSize: 2})
		ctx := context.Background()
		var chans []<-chan answer
		for i := range 3 { // one running, two queued
			chans = append(chans, submit(ctx, b, req{id: i, items: 1, width: 2}.inputs()))
		}
		_, err := b.Submit(ctx, req{id: 3, items: 1, width: 2}.inputs(), 0)
		if !errors.Is(err, ErrQueueFull) {
			t.Errorf("Submit on a full queue: error %v, want %v", err, ErrQueueFull)
		}
		if st := b.Stats(); st.Rejected != 1 || st.QueueLength != 2 {
			t.Errorf("Stats: Rejected %d, QueueLength %d; want 1, 2", st.Rejected, st.QueueLength)
		}
		r.unblock()
		for i, ch := range chans {
			if a := answered(t, ch); a.err != nil {
				t.Errorf("request %d: %v", i, a.err)
			}
		}
		if got, want := r.batchSizes(), []int64{1, 2}; !slices.Equal(got, want) {
			t.Errorf("runner saw batch sizes %v, want %v", got, want)
		}
		if st := b.Stats(); st.Success.Count != 3 || st.Fail.Count != 1 || st.Rejected != 1 {
			t.Errorf("Stats: Success %d, Fail %d, Rejected %d; want 3, 1, 1 (a rejected request is a failure of reason rejected)",
				st.Success.Count, st.Fail.Count, st.Rejected)
		}
	})
}

func TestTooLarge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{}
		b := start(t, r, Options{MaxBatchSize: 4})
		_, err := b.Submit(context.Background(), req{id: 1, items: 5, width: 2}.inputs(), 0)
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("Submit of 5 items with max 4: error %v, want %v", err, ErrTooLarge)
		}
		if n := r.numCalls(); n != 0 {
			t.Errorf("runner saw %d calls, want 0", n)
		}
	})
}

// TestCancelledWhileQueued checks that a request whose caller leaves, or
// whose deadline passes, while it is queued never reaches the runner, and
// is counted as Cancelled or Expired.
func TestCancelledWhileQueued(t *testing.T) {
	cancelled := func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }
	deadline := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 5*time.Millisecond)
	}
	tests := []struct {
		name                       string
		opt                        Options
		ctx                        func() (context.Context, context.CancelFunc)
		leave                      func(cancel context.CancelFunc) // makes the request's context end
		wantErr                    error
		wantCancelled, wantExpired uint64
	}{
		{"cancelled", Options{MaxBatchSize: 4}, cancelled,
			func(cancel context.CancelFunc) { cancel() }, context.Canceled, 1, 0},
		{"deadline", Options{MaxBatchSize: 4}, deadline,
			func(context.CancelFunc) { time.Sleep(10 * time.Millisecond) }, ErrExpired, 0, 1},
		{"no batch axis", Options{}, cancelled,
			func(cancel context.CancelFunc) { cancel() }, context.Canceled, 1, 0},
		{"no batch axis, deadline", Options{}, deadline,
			func(context.CancelFunc) { time.Sleep(10 * time.Millisecond) }, ErrExpired, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := &fakeRunner{block: true}
				b := start(t, r, tt.opt)
				busy := submit(context.Background(), b, req{id: 0, items: 1, width: 2}.inputs())
				ctx, cancel := tt.ctx()
				defer cancel()
				gone := submit(ctx, b, req{id: 1, items: 1, width: 2}.inputs())
				stay := req{id: 2, items: 1, width: 2}
				stayCh := submit(context.Background(), b, stay.inputs())
				tt.leave(cancel)
				if a := answered(t, gone); !errors.Is(a.err, tt.wantErr) {
					t.Errorf("Submit of the request that left: error %v, want %v", a.err, tt.wantErr)
				}
				r.unblock()
				answered(t, busy)
				checkAnswer(t, stay, answered(t, stayCh), 1)
				if got := r.numCalls(); got != 2 {
					t.Fatalf("runner saw %d calls, want 2", got)
				}
				if diff := cmp.Diff(views(stay.inputs()), r.call(t, 1).inputs); diff != "" {
					t.Errorf("second call: inputs differ from the request that stayed (-want +got):\n%s", diff)
				}
				st := b.Stats()
				if st.Cancelled != tt.wantCancelled || st.Expired != tt.wantExpired || st.Fail.Count != 1 ||
					st.Success.Count != 2 || st.ExecutionCount != 2 || st.QueueLength != 0 {
					t.Errorf("Stats: Cancelled %d, Expired %d, Fail %d, Success %d, ExecutionCount %d, QueueLength %d; want %d, %d, 1, 2, 2, 0",
						st.Cancelled, st.Expired, st.Fail.Count, st.Success.Count, st.ExecutionCount, st.QueueLength,
						tt.wantCancelled, tt.wantExpired)
				}
			})
		})
	}
}

// TestCancelledWhileHeld checks that a request whose caller leaves while the
// batcher holds it to fill a batch (MaxQueueDelay) does not cost a run.
func TestCancelledWhileHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{}
		b := start(t, r, Options{MaxBatchSize: 4, MaxQueueDelay: 10 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		gone := submit(ctx, b, req{id: 1, items: 1, width: 2}.inputs())
		time.Sleep(2 * time.Millisecond)
		cancel()
		if a := answered(t, gone); !errors.Is(a.err, context.Canceled) {
			t.Errorf("Submit: error %v, want %v", a.err, context.Canceled)
		}
		time.Sleep(time.Second)
		if n := r.numCalls(); n != 0 {
			t.Errorf("runner saw %d calls (batch sizes %v), want 0", n, r.batchSizes())
		}
		if st := b.Stats(); st.Cancelled != 1 {
			t.Errorf("Stats: Cancelled %d, want 1", st.Cancelled)
		}
		// The worker still serves.
		q := req{id: 2, items: 1, width: 2}
		ch := submit(context.Background(), b, q.inputs())
		time.Sleep(time.Second)
		checkAnswer(t, q, answered(t, ch), 1)
	})
}

// TestMergedRunContext checks that a lone request's run sees its context and
// that a merged run does not end when one of its callers leaves.
func TestMergedRunContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{block: true}
		b := start(t, r, Options{MaxBatchSize: 4})
		ctx0, cancel0 := context.WithCancel(context.Background())
		defer cancel0()
		submit(ctx0, b, req{id: 0, items: 1, width: 2}.inputs())
		ctx1, cancel1 := context.WithCancel(context.Background())
		defer cancel1()
		gone := submit(ctx1, b, req{id: 1, items: 1, width: 2}.inputs())
		stay := req{id: 2, items: 1, width: 2}
		stayCh := submit(context.Background(), b, stay.inputs())
		cancel0()
		synctest.Wait()
		if err := r.call(t, 0).ctx.Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("lone run's context: Err() = %v, want %v", err, context.Canceled)
		}
		r.release(t, 0)
		synctest.Wait()
		cancel1() // request 1 leaves while its merged batch runs
		if a := answered(t, gone); !errors.Is(a.err, context.Canceled) {
			t.Errorf("Submit of the request that left: error %v, want %v", a.err, context.Canceled)
		}
		if err := r.call(t, 1).ctx.Err(); err != nil {
			t.Errorf("merged run's context: Err() = %v after one caller left, want nil", err)
		}
		r.unblock()
		checkAnswer(t, stay, answered(t, stayCh), 2)
	})
}

var errFake = errors.New("fake model failure")

func TestRunFailure(t *testing.T) {
	tests := []struct {
		name    string
		hook    func(call int, inputs []tensor.Tensor) error
		mangle  func(call int, outputs []tensor.Tensor)
		wantErr string
	}{
		{"error", func(call int, _ []tensor.Tensor) error {
			if call == 1 {
				return errFake
			}
			return nil
		}, nil, errFake.Error()},
		{"panic", func(call int, _ []tensor.Tensor) error {
			if call == 1 {
				panic("boom")
			}
			return nil
		}, nil, "model run panicked: boom"},
		{"output without the batch", nil, func(call int, outs []tensor.Tensor) {
			if call == 1 {
				outs[2] = i64("n", []int64{1}, 3)
			}
		}, `output "n" has shape [1], want first dimension 3 (the batch)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := &fakeRunner{block: true, hook: tt.hook, mangle: tt.mangle}
				b := start(t, r, Options{MaxBatchSize: 4})
				ctx := context.Background()
				first := req{id: 0, items: 1, width: 2}
				firstCh := submit(ctx, b, first.inputs())
				ch1 := submit(ctx, b, req{id: 1, items: 1, width: 2}.inputs())
				ch2 := submit(ctx, b, req{id: 2, items: 2, width: 2}.inputs())
				r.unblock()
				checkAnswer(t, first, answered(t, firstCh), 1)
				for i, ch := range []<-chan answer{ch1, ch2} {
					if a := answered(t, ch); a.err == nil || !strings.Contains(a.err.Error(), tt.wantErr) {
						t.Errorf("request %d of the failed batch: error %v, want one containing %q", i+1, a.err, tt.wantErr)
					}
				}
				// The worker keeps serving.
				after := req{id: 3, items: 1, width: 2}
				out, err := b.Submit(ctx, after.inputs(), 0)
				checkAnswer(t, after, answer{out, err}, 1)
				st := b.Stats()
				if st.Success.Count != 2 || st.Fail.Count != 2 || st.ExecutionCount != 2 || st.InferenceCount != 2 {
					t.Errorf("Stats: Success %d, Fail %d, ExecutionCount %d, InferenceCount %d; want 2, 2, 2, 2",
						st.Success.Count, st.Fail.Count, st.ExecutionCount, st.InferenceCount)
				}
			})
		})
	}
}

func TestClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{block: true}
		b := New(r, Options{MaxBatchSize: 4})
		ctx := context.Background()
		reqs := []req{{0, 1, 2}, {1, 1, 2}, {2, 2, 2}}
		var chans []<-chan answer
		for _, q := range reqs {
			chans = append(chans, submit(ctx, b, q.inputs()))
		}
		closed := make(chan error, 1)
		go func() { closed <- b.Close(ctx) }()
		synctest.Wait()
		if _, err := b.Submit(ctx, req{id: 3, items: 1, width: 2}.inputs(), 0); !errors.Is(err, ErrClosed) {
			t.Errorf("Submit after Close: error %v, want %v", err, ErrClosed)
		}
		select {
		case err := <-closed:
			t.Fatalf("Close returned %v before the queue drained", err)
		default:
		}
		r.unblock()
		checkAnswer(t, reqs[0], answered(t, chans[0]), 1)
		checkAnswer(t, reqs[1], answered(t, chans[1]), 3)
		checkAnswer(t, reqs[2], answered(t, chans[2]), 3)
		if err := <-closed; err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := b.Close(ctx); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

func TestCloseDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{block: true}
		b := New(r, Options{MaxBatchSize: 4})
		ch := submit(context.Background(), b, req{id: 0, items: 1, width: 2}.inputs())
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		t0 := time.Now()
		if err := b.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close with a stuck run: error %v, want %v", err, context.DeadlineExceeded)
		}
		if got := time.Since(t0); got != time.Second {
			t.Errorf("Close returned after %v, want 1s", got)
		}
		r.unblock()
		if err := b.Close(context.Background()); err != nil {
			t.Errorf("Close after the run returned: %v", err)
		}
		if a := answered(t, ch); a.err != nil {
			t.Errorf("request running during Close: %v", a.err)
		}
	})
}

func TestInstances(t *testing.T) {
	for _, instances := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("instances=%d", instances), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := &fakeRunner{block: true}
				b := start(t, r, Options{MaxBatchSize: 4, Instances: instances})
				var chans []<-chan answer
				for i := range 4 {
					chans = append(chans, submit(context.Background(), b, req{id: i, items: 1, width: 2}.inputs()))
				}
				r.mu.Lock()
				running := r.active
				r.mu.Unlock()
				if want := min(instances, 4); running != want {
					t.Errorf("%d requests on %d instances: %d runs at once, want %d", 4, instances, running, want)
				}
				if st := b.Stats(); st.Executing != running || st.QueueLength != 4-running {
					t.Errorf("Stats: Executing %d, QueueLength %d; want %d, %d", st.Executing, st.QueueLength, running, 4-running)
				}
				r.unblock()
				for i, ch := range chans {
					if a := answered(t, ch); a.err != nil {
						t.Errorf("request %d: %v", i, a.err)
					}
				}
				if st := b.Stats(); st.Executing != 0 || st.QueueLength != 0 {
					t.Errorf("Stats once all answered: Executing %d, QueueLength %d; want 0, 0", st.Executing, st.QueueLength)
				}
			})
		})
	}
}

// TestHeldRequestGoesToFreeInstance checks that a request taken from the
// queue that did not fit its batch does not wait for that batch's run when
// another instance is free, and is not overtaken by later requests.
func TestHeldRequestGoesToFreeInstance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{block: true}
		b := start(t, r, Options{MaxBatchSize: 4, Instances: 2})
		ctx := context.Background()
		submit(ctx, b, req{id: 0, items: 1, width: 2}.inputs()) // call 0, instance A
		submit(ctx, b, req{id: 1, items: 1, width: 2}.inputs()) // call 1, instance B
		big := req{id: 2, items: 3, width: 2}
		next := req{id: 3, items: 2, width: 2}
		last := req{id: 4, items: 1, width: 2}
		bigCh := submit(ctx, b, big.inputs())
		nextCh := submit(ctx, b, next.inputs())
		lastCh := submit(ctx, b, last.inputs())
		r.release(t, 0) // A runs [big] (call 2); next does not fit
		synctest.Wait()
		r.release(t, 1) // B is free: it should run [next, last] (call 3)
		synctest.Wait()
		if got, want := r.batchSizes(), []int64{1, 1, 3, 3}; !slices.Equal(got, want) {
			t.Errorf("runner saw batch sizes %v, want %v", got, want)
		}
		r.release(t, 3)
		checkAnswer(t, next, answered(t, nextCh), 3)
		checkAnswer(t, last, answered(t, lastCh), 3)
		pending(t, bigCh)
		r.unblock()
		checkAnswer(t, big, answered(t, bigCh), 3)
	})
}

// TestQueueLengthCountsHeld checks that a request taken from the queue that
// did not fit the running batch still counts as waiting.
func TestQueueLengthCountsHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{block: true}
		b := start(t, r, Options{MaxBatchSize: 4})
		ctx := context.Background()
		submit(ctx, b, req{id: 0, items: 1, width: 2}.inputs())
		submit(ctx, b, req{id: 1, items: 3, width: 2}.inputs())
		submit(ctx, b, req{id: 2, items: 2, width: 2}.inputs())
		r.release(t, 0) // runs [1]; 2 does not fit and waits
		synctest.Wait()
		if got := b.QueueLength(); got != 1 {
			t.Errorf("QueueLength() = %d with one request waiting for the next batch, want 1", got)
		}
		if got := b.Stats().QueueLength; got != 1 {
			t.Errorf("Stats().QueueLength = %d, want 1", got)
		}
	})
}

func TestStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const run = 3 * time.Millisecond
		r := &fakeRunner{delay: run, hook: func(call int, _ []tensor.Tensor) error {
			if call == 2 {
				return errFake
			}
			return nil
		}}
		b := start(t, r, Options{MaxBatchSize: 4})
		ctx := context.Background()
		t0 := time.Now()
		var chans []<-chan answer
		for i, items := range []int{1, 1, 2} { // 0 runs at once, 1 and 2 queue behind it
			chans = append(chans, submit(ctx, b, req{id: i, items: items, width: 2}.inputs()))
		}
		time.Sleep(time.Second)
		failed := submit(ctx, b, req{id: 3, items: 1, width: 2}.inputs()) // call 2 fails
		time.Sleep(time.Second)
		for i, ch := range chans {
			if a := answered(t, ch); a.err != nil {
				t.Errorf("request %d: %v", i, a.err)
			}
		}
		if a := answered(t, failed); !errors.Is(a.err, errFake) {
			t.Errorf("request 3: error %v, want %v", a.err, errFake)
		}
		ms := func(n int) uint64 { return uint64(time.Duration(n) * time.Millisecond) }
		want := Snapshot{
			InferenceCount: 4, // items
			ExecutionCount: 2,
			Success:        Duration{Count: 3, Ns: ms(3 + 6 + 6)},
			Fail:           Duration{Count: 1, Ns: ms(3)},
			Failed:         1,
			Queue:          Duration{Count: 4, Ns: ms(0 + 3 + 3 + 0)},
			ComputeInput:   Duration{Count: 4},
			ComputeInfer:   Duration{Count: 4, Ns: ms(3 + 3 + 3 + 3)},
			ComputeOutput:  Duration{Count: 4},
			Batches: map[int]BatchStat{
				1: {ComputeInput: Duration{Count: 2}, ComputeInfer: Duration{Count: 2, Ns: ms(6)}, ComputeOutput: Duration{Count: 2}},
				3: {ComputeInput: Duration{Count: 1}, ComputeInfer: Duration{Count: 1, Ns: ms(3)}, ComputeOutput: Duration{Count: 1}},
			},
			LastInference: t0.Add(6 * time.Millisecond),
			BatchLimit:    4, // max_batch_size: no tuning
		}
		if diff := cmp.Diff(want, b.Stats()); diff != "" {
			t.Errorf("Stats differ (-want +got):\n%s", diff)
		}
	})
}

// BenchmarkBatcherOverhead measures Submit to reply through the batcher with
// a runner that does nothing, alone and with 16 concurrent callers.
func BenchmarkBatcherOverhead(b *testing.B) {
	noop := runnerFunc(func(_ context.Context, in []tensor.Tensor) ([]tensor.Tensor, error) { return in, nil })
	in := req{id: 1, items: 1, width: 4}.inputs()
	report := func(b *testing.B, bt *Batcher) {
		st := bt.Stats()
		if st.ExecutionCount > 0 {
			b.ReportMetric(float64(st.InferenceCount)/float64(st.ExecutionCount), "items/exec")
		}
		if err := bt.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("conc=1", func(b *testing.B) {
		bt := New(noop, Options{MaxBatchSize: 16})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := bt.Submit(context.Background(), in, 0); err != nil {
				b.Fatal(err)
			}
		}
		report(b, bt)
	})
	b.Run("conc=16", func(b *testing.B) {
		bt := New(noop, Options{MaxBatchSize: 16})
		b.SetParallelism((16 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := bt.Submit(context.Background(), in, 0); err != nil {
					b.Error(err)
					return
				}
			}
		})
		report(b, bt)
	})
}

type runnerFunc func(ctx context.Context, inputs []tensor.Tensor) ([]tensor.Tensor, error)

func (f runnerFunc) Run(ctx context.Context, inputs []tensor.Tensor) ([]tensor.Tensor, error) {
	return f(ctx, inputs)
}
