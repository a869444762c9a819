package front

import (
	"strings"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/batch"
	"github.com/taominer/taominer/models"
)

// unsupported are protocol parameters of extensions this server does not
// implement; a request that uses them is refused rather than answered as if
// they were not there.
var unsupported = map[string]string{
	"shared_memory_region":    "the shared-memory extensions are not supported",
	"shared_memory_byte_size": "the shared-memory extensions are not supported",
	"shared_memory_offset":    "the shared-memory extensions are not supported",
	"classification":          "the classification extension is not supported",
	"sequence_id":             "the sequence extension is not supported",
	"sequence_start":          "the sequence extension is not supported",
	"sequence_end":            "the sequence extension is not supported",
}

// CheckParameters refuses parameters of unimplemented extensions anywhere
// in the request (bad input).
func CheckParameters(req *api.InferRequest) error {
	check := func(where string, p api.Parameters) error {
		for k := range p {
			if why, ok := unsupported[k]; ok {
				return api.BadRequest("%s parameter '%s': %s", where, k, why)
			}
			if strings.HasPrefix(k, "triton_") {
				return api.BadRequest("%s parameter '%s': reserved name", where, k)
			}
		}
		return nil
	}
	if err := check("request", req.Parameters); err != nil {
		return err
	}
	for i, p := range req.InputParameters {
		if err := check("input '"+req.Inputs[i].Name+"'", p); err != nil {
			return err
		}
	}
	for _, o := range req.Outputs {
		if err := check("output '"+o.Name+"'", o.Parameters); err != nil {
			return err
		}
	}
	return nil
}

// maxTimeoutMicroseconds is the largest parameters.timeout a time.Duration
// holds.
const maxTimeoutMicroseconds = int64(1<<63-1) / 1000

// Schedule reads the request's parameters.priority and parameters.timeout
// (the KServe/Triton schedule policy extension) against the model's
// dynamic_batching config, and returns the request's place in the queue
// and its timeout (0: none).
//
// Priority: level p, 1 the highest, up to the model's priority_levels; 0 or
// absent means the model's default_priority_level. Level p ranks as
// batch.LevelPriority(levels, p) = levels+1-p. Without priority_levels only
// 0 is accepted. Anything else, or a non-integer, is a 400.
//
// Timeout, in microseconds: the model's default_timeout_microseconds
// applies to requests that give none (or 0); a request's own replaces it
// when allow_timeout_override is not false and there is no default or the
// request's is shorter (Triton's rule: a request may shorten the default,
// never lengthen it). With neither, serverDefault (--default-timeout)
// applies; 0 there means no timeout.
func Schedule(spec *models.Spec, p api.Parameters, serverDefault time.Duration) (batch.Priority, time.Duration, error) {
	var levels, level uint64
	var q *models.QueuePolicy
	if db := spec.Config.DynamicBatching; db != nil {
		levels, level, q = db.PriorityLevels, db.DefaultPriorityLevel, db.DefaultQueuePolicy
	}
	asked, ok, err := p.Int64("priority")
	switch {
	case err != nil:
		return 0, 0, api.BadRequest("model '%s': %v", spec.Name, err)
	case !ok || asked == 0:
	case levels == 0:
		return 0, 0, api.BadRequest("model '%s' has no priority levels (dynamic_batching.priority_levels): parameter 'priority' must be 0 or absent, got %d",
			spec.Name, asked)
	case asked < 0 || uint64(asked) > levels:
		return 0, 0, api.BadRequest("model '%s': parameter 'priority' must be 1 (highest) to %d (priority_levels), or 0 for the default; got %d",
			spec.Name, levels, asked)
	default:
		level = uint64(asked)
	}

	var timeout time.Duration
	if q != nil {
		timeout = time.Duration(q.DefaultTimeoutMicroseconds) * time.Microsecond
	}
	us, ok, err := p.Int64("timeout")
	switch {
	case err != nil:
		return 0, 0, api.BadRequest("model '%s': %v", spec.Name, err)
	case us < 0 || us > maxTimeoutMicroseconds:
		return 0, 0, api.BadRequest("model '%s': parameter 'timeout' must be 0 (none) to %d microseconds, got %d",
			spec.Name, maxTimeoutMicroseconds, us)
	case ok && us > 0 && q.TimeoutOverride():
		if d := time.Duration(us) * time.Microsecond; timeout == 0 || d < timeout {
			timeout = d
		}
	}
	if timeout == 0 {
		timeout = serverDefault
	}
	return batch.LevelPriority(levels, level), timeout, nil
}
