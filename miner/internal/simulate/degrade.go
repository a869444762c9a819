package simulate

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// degrader is the simulation-only reverse proxy in front of a degraded miner's axon: the node
// serves the real model; the proxy delays or changes the answers the validators read.
type degrader struct {
	kind    string
	noise   float64
	latency time.Duration
	mu      sync.Mutex
	rng     *rand.Rand
}

// start listens on 127.0.0.1 and proxies to the axon at target until ctx ends; it returns the
// proxy's address.
func (d *degrader) start(ctx context.Context, wg *sync.WaitGroup, target string) (string, error) {
	u := &url.URL{Scheme: "http", Host: target}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ModifyResponse = d.modify
	proxy.ErrorLog = slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.kind == KindSlow && d.latency > 0 {
			t := time.NewTimer(d.latency)
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		proxy.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
	wg.Go(func() { _ = srv.Serve(ln) })
	wg.Go(func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
	})
	return ln.Addr().String(), nil
}

// modify rewrites the outputs of a 200 Infer answer: noisy multiplies each value by
// 1 + σ·N(0,1), wrong flips each value's sign and adds N(0, (rms/2)²) (an error of about twice the
// answer's norm: score 0).
func (d *degrader) modify(resp *http.Response) error {
	if resp.StatusCode != http.StatusOK || (d.kind != KindNoisy && d.kind != KindWrong) {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return err
	}
	if out, err := d.degrade(body); err == nil {
		body = out
	}
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

func (d *degrader) degrade(body []byte) ([]byte, error) {
	var syn map[string]json.RawMessage
	if err := json.Unmarshal(body, &syn); err != nil {
		return nil, err
	}
	var outs []map[string]json.RawMessage
	if err := json.Unmarshal(syn["outputs"], &outs); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, o := range outs {
		var data []any
		if err := json.Unmarshal(o["data"], &data); err != nil {
			return nil, err
		}
		var sq float64
		for _, v := range data {
			if f, ok := v.(float64); ok {
				sq += f * f
			}
		}
		rms := math.Sqrt(sq / float64(max(1, len(data))))
		for k, v := range data {
			f, ok := v.(float64)
			if !ok {
				continue
			}
			if d.kind == KindNoisy {
				data[k] = f * (1 + d.noise*d.rng.NormFloat64())
			} else {
				data[k] = -f + rms*d.rng.NormFloat64()/2
			}
		}
		raw, err := json.Marshal(data)
		if err != nil {
			return nil, err
		}
		o["data"] = raw
	}
	raw, err := json.Marshal(outs)
	if err != nil {
		return nil, err
	}
	syn["outputs"] = raw
	return json.Marshal(syn)
}
