package batch

import "time"

// Outcome is how a request that Submit answered ended.
type Outcome uint8

// Outcomes of a request.
const (
	// OutcomeSuccess: the request ran and got its outputs.
	OutcomeSuccess Outcome = iota
	// OutcomeFailure: the request ran and the model failed (an error, a
	// panic or inconsistent outputs).
	OutcomeFailure
	// OutcomeRejected: the queue was full (ErrQueueFull).
	OutcomeRejected
	// OutcomeCancelled: the caller left, before its batch ran or while it
	// ran.
	OutcomeCancelled
	// OutcomeExpired: the request's deadline passed, before its batch ran
	// (ErrExpired) or while it ran.
	OutcomeExpired
)

var outcomeNames = [...]string{"success", "failure", "rejected", "cancelled", "expired"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// Observer is told about a batcher's requests and executions as they end,
// at the points where Stats records them, with the outcome Stats counts
// (Snapshot's Rejected, Cancelled, Expired and Failed). Its methods are called from
// request and worker goroutines at once, on the serving path: they must be
// safe for concurrent use, quick, and should not allocate.
type Observer interface {
	// ObserveRequest is called once for each request Submit answers
	// (including a rejected one, but not one refused for its size or
	// because the batcher is closed). total is the time from Submit to the
	// answer; queue is the time until its batch started, or negative for a
	// request that never started (rejected, or dropped while queued).
	ObserveRequest(queue, total time.Duration, outcome Outcome)
	// ExecutionStarted is called as a merged batch starts on the model.
	ExecutionStarted()
	// ObserveExecution is called once for each execution after its run,
	// before its requests get their answers: items in the batch, compute
	// time (merging inputs, the run, splitting outputs), and whether it
	// succeeded. Only successful executions count in Stats' InferenceCount
	// and ExecutionCount.
	ObserveExecution(items int, compute time.Duration, ok bool)
}

// nopObserver is the Observer of Options that set none.
type nopObserver struct{}

func (nopObserver) ObserveRequest(time.Duration, time.Duration, Outcome) {}
func (nopObserver) ExecutionStarted()                                    {}
func (nopObserver) ObserveExecution(int, time.Duration, bool)            {}

// Observers returns an Observer that calls each of obs in turn; nil entries
// are skipped.
func Observers(obs ...Observer) Observer {
	var list multiObserver
	for _, o := range obs {
		if o != nil {
			list = append(list, o)
		}
	}
	switch len(list) {
	case 0:
		return nopObserver{}
	case 1:
		return list[0]
	}
	return list
}

type multiObserver []Observer

func (m multiObserver) ObserveRequest(queue, total time.Duration, outcome Outcome) {
	for _, o := range m {
		o.ObserveRequest(queue, total, outcome)
	}
}

func (m multiObserver) ExecutionStarted() {
	for _, o := range m {
		o.ExecutionStarted()
	}
}

func (m multiObserver) ObserveExecution(items int, compute time.Duration, ok bool) {
	for _, o := range m {
		o.ObserveExecution(items, compute, ok)
	}
}
