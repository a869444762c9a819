package engine

import "context"

type priorityKey struct{}

// WithPriority returns a context whose requests run at batcher priority p
// (larger runs sooner; see batch.Priority) instead of the one their
// parameters.priority gives. The axon sets it from the caller's stake, so a
// contended queue serves bigger validators first; the batcher's aging still
// keeps smaller ones from starving.
func WithPriority(ctx context.Context, p float64) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// PriorityFrom returns the priority WithPriority set on ctx.
func PriorityFrom(ctx context.Context) (float64, bool) {
	p, ok := ctx.Value(priorityKey{}).(float64)
	return p, ok
}
