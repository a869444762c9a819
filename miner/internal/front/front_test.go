package front

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/batch"
	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/tensor"
)

// Compile-time checks: what the transports must satisfy is declared here.
var (
	_ Backend  = backendFunc(nil)
	_ Target   = (*target)(nil)
	_ Recorder = (*recorder)(nil)
)

// recorder keeps what a Recorder is told.
type recorder struct{ answers []answer }

type answer struct {
	kind      api.Kind
	ok        bool
	submitted bool
}

func (r *recorder) Answered(err error, submitted bool) {
	r.answers = append(r.answers, answer{api.KindOf(err), err == nil, submitted})
}

// backendFunc is a Backend from a function.
type backendFunc func(name, ver string) (Target, error)

func (f backendFunc) Target(name, ver string) (Target, error) { return f(name, ver) }

// target is a model version that echoes its input as output "y", or fails
// with err; it records what it was submitted.
type target struct {
	spec     models.Spec
	err      error
	prio     batch.Priority
	deadline time.Time
	calls    int
}

func (t *target) Spec() *models.Spec { return &t.spec }

func (t *target) Submit(ctx context.Context, in []tensor.Tensor, prio batch.Priority) ([]tensor.Tensor, error) {
	t.calls++
	t.prio = prio
	t.deadline, _ = ctx.Deadline()
	if t.err != nil {
		return nil, t.err
	}
	out := in[0]
	out.Name = "y"
	return []tensor.Tensor{out}, nil
}

func newTarget(levels uint64) *target {
	spec := models.Spec{Name: "m", Version: "3", MaxBatchSize: 8,
		IO: models.IO{Inputs: []models.TensorSpec{{Name: "x", DataType: tensor.FP32, Shape: []int64{-1, 2}}},
			Outputs: []models.TensorSpec{{Name: "y", DataType: tensor.FP32, Shape: []int64{-1, 2}}}}}
	if levels > 0 {
		spec.Config.DynamicBatching = &models.DynamicBatching{PriorityLevels: levels, DefaultPriorityLevel: levels}
	}
	return &target{spec: spec}
}

func request(params api.Parameters) *api.InferRequest {
	x := tensor.Tensor{Name: "x", DataType: tensor.FP32, Shape: []int64{1, 2}, Data: make([]byte, 8)}
	return &api.InferRequest{Inputs: []tensor.Tensor{x}, Parameters: params}
}

func TestInferKinds(t *testing.T) {
	expired := api.Fail(api.KindExpired, "model 'm': deadline passed before the request ran")
	for _, tc := range []struct {
		name    string
		req     *api.InferRequest
		lookup  error
		submit  error
		timeout time.Duration
		kind    api.Kind
		msg     string
	}{
		{name: "unsupported parameter", req: request(api.Parameters{"sequence_id": int64(1)}), kind: api.KindBadInput, msg: "sequence extension"},
		{name: "unknown model", req: request(nil), lookup: api.NotFound("unknown model: 'm'"), kind: api.KindNotFound, msg: "unknown model"},
		{name: "unknown input", req: &api.InferRequest{Inputs: []tensor.Tensor{{Name: "z", DataType: tensor.FP32, Shape: []int64{1, 2}, Data: make([]byte, 8)}}},
			kind: api.KindBadInput, msg: "unexpected inference input 'z'"},
		{name: "unknown output", req: func() *api.InferRequest { r := request(nil); r.Outputs = []api.RequestedOutput{{Name: "q"}}; return r }(),
			kind: api.KindBadInput, msg: "unexpected inference output 'q'"},
		{name: "bad priority", req: request(api.Parameters{"priority": int64(3)}), kind: api.KindBadInput, msg: "no priority levels"},
		{name: "busy", req: request(nil), submit: api.Fail(api.KindBusy, "queue full"), kind: api.KindBusy, msg: "queue full"},
		{name: "expired with a timeout", req: request(nil), submit: expired, timeout: time.Second, kind: api.KindExpired,
			msg: "deadline passed before the request ran (timeout 1s)"},
		{name: "expired without one", req: request(nil), submit: expired, kind: api.KindExpired, msg: "before the request ran"},
		{name: "model failure", req: request(nil), submit: SubmitError("m", errors.New("onnxruntime: boom")), kind: api.KindInternal, msg: "model 'm': onnxruntime: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := newTarget(0)
			tg.err = tc.submit
			rec := &recorder{}
			f := New(backendFunc(func(string, string) (Target, error) {
				if tc.lookup != nil {
					return nil, tc.lookup
				}
				return tg, nil
			}), Options{DefaultTimeout: tc.timeout, Recorder: rec})
			_, err := f.Infer(context.Background(), "m", "", tc.req)
			if api.KindOf(err) != tc.kind || err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Infer: %v (%v), want %v containing %q", err, api.KindOf(err), tc.kind, tc.msg)
			}
			// Told once, of the same kind, submitted when it reached the target.
			if want := []answer{{tc.kind, false, tg.calls > 0}}; len(rec.answers) != 1 || rec.answers[0] != want[0] {
				t.Errorf("recorder told %+v, want %+v", rec.answers, want)
			}
			if tc.kind == api.KindBadInput && tg.calls != 0 {
				t.Errorf("a bad request was submitted")
			}
		})
	}
}

func TestInferAnswers(t *testing.T) {
	tg := newTarget(0)
	rec := &recorder{}
	f := New(backendFunc(func(string, string) (Target, error) { return tg, nil }), Options{DefaultTimeout: time.Minute, Recorder: rec})
	req := request(nil)
	req.ID, req.BinaryOutput = "r1", true
	start := time.Now()
	resp, err := f.Infer(context.Background(), "m", "", req)
	if err != nil {
		t.Fatal(err)
	}
	if want := (answer{ok: true, submitted: true}); len(rec.answers) != 1 || rec.answers[0] != want {
		t.Errorf("recorder told %+v, want %+v", rec.answers, want)
	}
	if resp.ModelName != "m" || resp.ModelVersion != "3" || resp.ID != "r1" || len(resp.Outputs) != 1 ||
		resp.Outputs[0].Name != "y" || !resp.Outputs[0].Binary {
		t.Errorf("response %+v", resp)
	}
	if d := tg.deadline.Sub(start); d < 59*time.Second || d > time.Minute+time.Second {
		t.Errorf("submitted with a deadline %v from the start, want the default timeout (1m)", d)
	}
}

// An edge's explicit priority replaces the one the parameters resolve to.
func TestInferPriority(t *testing.T) {
	for _, tc := range []struct {
		params   api.Parameters
		explicit float64
		want     batch.Priority
	}{
		{nil, 0, batch.LevelPriority(3, 3)},
		{api.Parameters{"priority": int64(1)}, 0, batch.LevelPriority(3, 1)},
		{api.Parameters{"priority": int64(1)}, 7.5, 7.5},
		{nil, 2, 2},
	} {
		tg := newTarget(3)
		f := New(backendFunc(func(string, string) (Target, error) { return tg, nil }), Options{})
		req := request(tc.params)
		req.Priority = tc.explicit
		if _, err := f.Infer(context.Background(), "m", "", req); err != nil {
			t.Fatal(err)
		}
		if tg.prio != tc.want {
			t.Errorf("params %v, explicit %v: priority %v, want %v", tc.params, tc.explicit, tg.prio, tc.want)
		}
	}
}

// A version replaced under a request is looked up again once.
func TestInferRetriesReplacedVersion(t *testing.T) {
	replaced := fmt.Errorf("%w: %w", ErrReplaced, api.Fail(api.KindUnavailable, "model 'm': batcher closed"))
	for _, tc := range []struct {
		name    string
		targets []*target
		kind    api.Kind
		calls   int
	}{
		{"second version answers", []*target{{err: replaced}, {}}, 0, 2},
		{"replaced twice", []*target{{err: replaced}, {err: replaced}, {}}, api.KindUnavailable, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			looked := 0
			f := New(backendFunc(func(string, string) (Target, error) {
				tg := tc.targets[looked]
				tg.spec = newTarget(0).spec
				looked++
				return tg, nil
			}), Options{})
			_, err := f.Infer(context.Background(), "m", "", request(nil))
			if (tc.kind == 0) != (err == nil) || (err != nil && api.KindOf(err) != tc.kind) {
				t.Errorf("Infer: %v, want kind %v", err, tc.kind)
			}
			if looked != tc.calls {
				t.Errorf("looked up %d times, want %d", looked, tc.calls)
			}
		})
	}
}

func TestSubmitError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		kind api.Kind
	}{
		{context.DeadlineExceeded, api.KindExpired},
		{fmt.Errorf("wait: %w", context.Canceled), api.KindCancelled},
		{api.Fail(api.KindBusy, "full"), api.KindBusy},
		{errors.New("boom"), api.KindInternal},
	} {
		if got := api.KindOf(SubmitError("m", tc.err)); got != tc.kind {
			t.Errorf("SubmitError(%v) kind %v, want %v", tc.err, got, tc.kind)
		}
	}
}
