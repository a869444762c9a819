package axon_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taominer/taominer/api/dendrite"
)

// BenchmarkRefusal is the server-side cost of one refusal, per kind of
// forgery, calling the handler directly (no network).
func BenchmarkRefusal(b *testing.B) {
	f := newFixture(b, nil)
	alice := key(b, "Alice").SS58()
	forger := client(b, "Charlie")
	cases := []struct {
		name string
		edit func(*dendrite.Signed)
	}{
		{"unregistered", nil},
		{"missing-signature", func(s *dendrite.Signed) {
			s.Header["bt_header_dendrite_hotkey"] = []string{alice}
			delete(s.Header, "bt_header_dendrite_signature")
		}},
		{"bad-signature", func(s *dendrite.Signed) { s.Header["bt_header_dendrite_hotkey"] = []string{alice} }},
	}
	for _, c := range cases {
		b.Run("forgery="+c.name, func(b *testing.B) {
			s, _ := forger.Sign(f.target(), inferRequest(b))
			if c.edit != nil {
				c.edit(s)
			}
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/Infer", bytes.NewReader(s.Body))
				for k, v := range s.Header {
					req.Header[k] = v
				}
				w := httptest.NewRecorder()
				f.ax.ServeHTTP(w, req)
				if w.Code != 401 && w.Code != 403 {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}

// BenchmarkGenuineUnderFlood measures genuine Infer calls over HTTP while 8
// goroutines flood the axon with forged signatures of a validator's hotkey
// (each costing a verification); it reports the genuine p50/p99 and the
// refusals per second.
func BenchmarkGenuineUnderFlood(b *testing.B) {
	for _, flood := range []bool{false, true} {
		name := "flood=off"
		if flood {
			name = "flood=on"
		}
		b.Run(name, func(b *testing.B) {
			f := newFixture(b, nil)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var refused atomic.Int64
			if flood {
				forger := client(b, "Charlie")
				forger.HTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
				s, _ := forger.Sign(f.target(), inferRequest(b))
				s.Header["bt_header_dendrite_hotkey"] = []string{key(b, "Alice").SS58()}
				for range 8 {
					wg.Go(func() {
						for ctx.Err() == nil {
							if forger.Send(ctx, s).Status == 401 {
								refused.Add(1)
							}
						}
					})
				}
			}
			c := client(b, "Alice")
			var lat []time.Duration
			start := time.Now()
			for b.Loop() {
				t0 := time.Now()
				r, err := c.Call(context.Background(), f.target(), inferRequest(b))
				if err != nil || r.Status != 200 {
					b.Fatalf("genuine call: %v %d %s", err, r.Status, r.Message)
				}
				lat = append(lat, time.Since(t0))
			}
			el := time.Since(start)
			cancel()
			wg.Wait()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1e3, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1e3, "p99-ms")
			b.ReportMetric(float64(refused.Load())/el.Seconds(), "refusals/s")
		})
	}
}
