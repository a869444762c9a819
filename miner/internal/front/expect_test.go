package front

import (
	"context"
	"testing"

	"github.com/taominer/taominer/api"
)

type announcedKey struct{}

// gatheringTarget is a target that gathers batches: it counts the requests
// announced to it and not yet done.
type gatheringTarget struct {
	target
	announced int
}

var _ Expecter = (*gatheringTarget)(nil)

func (g *gatheringTarget) Expect(ctx context.Context) (context.Context, func()) {
	g.announced++
	return context.WithValue(ctx, announcedKey{}, g), func() { g.announced-- }
}

func TestExpect(t *testing.T) {
	gathering := &gatheringTarget{}
	plain := &target{}
	f := New(backendFunc(func(name, _ string) (Target, error) {
		switch name {
		case "gathering":
			return gathering, nil
		case "plain":
			return plain, nil
		}
		return nil, api.Fail(api.KindNotFound, "model '%s' not found", name)
	}), Options{})
	tests := []struct {
		model     string
		announced bool
	}{
		{"gathering", true},
		{"plain", false},
		{"missing", false},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			ctx, done := f.Expect(context.Background(), tt.model, "")
			if got := ctx.Value(announcedKey{}) != nil; got != tt.announced {
				t.Errorf("announced to the target: %v, want %v", got, tt.announced)
			}
			if tt.announced && gathering.announced != 1 {
				t.Errorf("the target counts %d announced requests, want 1", gathering.announced)
			}
			done()
			if gathering.announced != 0 {
				t.Errorf("after done the target counts %d announced requests, want 0", gathering.announced)
			}
		})
	}
}
