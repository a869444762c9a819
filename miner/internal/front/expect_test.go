package front

import (
	"context"
	"testing"
)

type announcedKey struct{}

// gatheringBackend is a backend that gathers batches: it counts the
// requests announced to it and not yet done.
type gatheringBackend struct {
	backendFunc
	announced int
}

var _ Expecter = (*gatheringBackend)(nil)

func (g *gatheringBackend) Expect(ctx context.Context, name, ver string) (context.Context, func()) {
	g.announced++
	return context.WithValue(ctx, announcedKey{}, name+"/"+ver), func() { g.announced-- }
}

func TestExpect(t *testing.T) {
	gathering := &gatheringBackend{}
	tests := []struct {
		name    string
		backend Backend
		want    any // what the returned context carries
	}{
		{"a backend that gathers", gathering, "m/2"},
		{"one that does not", backendFunc(nil), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New(tt.backend, Options{})
			ctx, done := f.Expect(context.Background(), "m", "2")
			if got := ctx.Value(announcedKey{}); got != tt.want {
				t.Errorf("announced %v, want %v", got, tt.want)
			}
			if tt.want != nil && gathering.announced != 1 {
				t.Errorf("the backend counts %d announced requests, want 1", gathering.announced)
			}
			done()
			if gathering.announced != 0 {
				t.Errorf("after done the backend counts %d announced requests, want 0", gathering.announced)
			}
		})
	}
}
