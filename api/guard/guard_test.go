package guard

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"github.com/taominer/taominer/api"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// testPort serves h behind a guard on a loopback port; it returns the port
// and its address.
func testPort(t *testing.T, limits Limits, budget *Budget, h http.Handler) (*Port, string) {
	t.Helper()
	met, err := NewMetrics(prometheus.NewRegistry(), budget, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := NewPort("test", limits, budget, met, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := p.Server(p.Handler("proto", h))
	go func() { _ = srv.Serve(p.Listen(ln)) }()
	t.Cleanup(func() { _ = srv.Close() })
	return p, ln.Addr().String()
}

// echo reads the whole body with ReadAll and answers its length; a guard
// refusal is answered with its status.
func echo(w http.ResponseWriter, r *http.Request) {
	b, err := ReadAll(r.Body, r.ContentLength, nil)
	if err != nil {
		if rf, ok := AsRefusal(err); ok {
			http.Error(w, rf.Message, rf.Status)
			return
		}
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "%d", len(b))
}

// dialFrom connects to addr from the loopback address src (127.0.0.x).
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// readAnswer reads one HTTP answer from c within 10 s.
func readAnswer(t *testing.T, c net.Conn) (*http.Response, string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return resp, string(b)
}

// waitClosed waits (up to 10 s) for the server to close c, reading and
// dropping whatever it sends.
func waitClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		t.Fatalf("connection not closed by the server: %v", err)
	}
}

func isReset(err error) bool { return strings.Contains(err.Error(), "connection reset") }

func TestStalledBodyGetsClosed(t *testing.T) {
	budget := NewBudget(1 << 30)
	p, addr := testPort(t, Limits{BodyTimeout: 300 * time.Millisecond}, budget, http.HandlerFunc(echo))
	c := dialFrom(t, "127.0.0.1", addr)
	start := time.Now()
	fmt.Fprintf(c, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 60000000\r\n\r\nhello world")
	resp, text := readAnswer(t, c)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(text, "--body-read-timeout") ||
		!strings.Contains(text, "11 of 60000000 bytes") {
		t.Fatalf("stalled body: %d %q", resp.StatusCode, text)
	}
	waitClosed(t, c)
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("closed after %v, before the body deadline", took)
	}
	if n := p.Metrics().count("test", "proto", ReasonBodyTimeout); n != 1 {
		t.Errorf("body_timeout counted %v times, want 1", n)
	}
	if budget.Held() != 0 {
		t.Errorf("budget holds %d bytes after the request", budget.Held())
	}
}

// A request whose body is in has no read deadline while it runs: a
// handler that works longer than the body timeout keeps its context.
func TestNoReadDeadlineAfterBody(t *testing.T) {
	_, addr := testPort(t, Limits{BodyTimeout: 100 * time.Millisecond}, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(400 * time.Millisecond):
			fmt.Fprint(w, "done")
		case <-r.Context().Done():
			w.WriteHeader(api.StatusClientClosedRequest)
		}
	}))
	for _, method := range []string{"POST", "GET"} {
		resp, err := http.DefaultClient.Do(must(http.NewRequest(method, "http://"+addr+"/", strings.NewReader("abc"))))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != "done" {
			t.Errorf("%s: %d %q", method, resp.StatusCode, b)
		}
	}
}

// A client that half-closes after a complete request is a client gone:
// the handler's context ends, its 499 is counted as client_closed, and the
// half-closed client can still read it.
func TestHalfCloseIsClientClosed(t *testing.T) {
	p, addr := testPort(t, Limits{}, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		select {
		case <-time.After(10 * time.Second):
			fmt.Fprint(w, "done")
		case <-r.Context().Done():
			w.WriteHeader(api.StatusClientClosedRequest)
		}
	}))
	c := dialFrom(t, "127.0.0.1", addr)
	fmt.Fprintf(c, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	resp, _ := readAnswer(t, c)
	if resp.StatusCode != api.StatusClientClosedRequest {
		t.Fatalf("half-closed client got %d", resp.StatusCode)
	}
	if n := p.Metrics().count("test", "proto", ReasonClientClosed); n != 1 {
		t.Errorf("client_closed counted %v times, want 1", n)
	}
}

func TestBodyBudget(t *testing.T) {
	budget := NewBudget(1 << 20)
	p, addr := testPort(t, Limits{BodyTimeout: 5 * time.Second}, budget, http.HandlerFunc(echo))
	// A slow upload holds 700 KB of the 1 MiB budget.
	slow := dialFrom(t, "127.0.0.1", addr)
	fmt.Fprintf(slow, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 800000\r\n\r\n")
	if _, err := slow.Write(make([]byte, 700_000)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for budget.Held() < 700_000 {
		if time.Now().After(deadline) {
			t.Fatalf("the slow upload's bytes were never charged (held %d)", budget.Held())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A second body that does not fit beside it is refused with 503.
	c := dialFrom(t, "127.0.0.1", addr)
	fmt.Fprintf(c, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 500000\r\n\r\n")
	go func() { _, _ = c.Write(make([]byte, 500_000)) }()
	resp, text := readAnswer(t, c)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!resp.Close || !strings.Contains(text, "--max-inflight-body-bytes") {
		t.Fatalf("over budget: %d close=%v retry-after=%q %q", resp.StatusCode, resp.Close, resp.Header.Get("Retry-After"), text)
	}
	waitClosed(t, c)
	// The slow upload completes; afterwards the budget is free again.
	if _, err := slow.Write(make([]byte, 100_000)); err != nil {
		t.Fatal(err)
	}
	if resp, text := readAnswer(t, slow); resp.StatusCode != http.StatusOK || text != "800000" {
		t.Fatalf("slow upload: %d %q", resp.StatusCode, text)
	}
	for budget.Held() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("budget still holds %d bytes", budget.Held())
		}
		time.Sleep(5 * time.Millisecond)
	}
	resp2, err := http.Post("http://"+addr+"/", "application/octet-stream", bytes.NewReader(make([]byte, 900_000)))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp2.Body.Close()
	if resp2.StatusCode != http.StatusOK {
		t.Errorf("a body within the freed budget: %d", resp2.StatusCode)
	}
	if n := p.Metrics().count("test", "proto", ReasonBodyBudget); n != 1 {
		t.Errorf("body_budget counted %v times, want 1", n)
	}
}

func TestBodyTooLarge(t *testing.T) {
	p, addr := testPort(t, Limits{MaxBodyBytes: 1000}, nil, http.HandlerFunc(echo))
	for _, tc := range []struct {
		name string
		req  func() *http.Request
	}{
		{"declared", func() *http.Request {
			return must(http.NewRequest("POST", "http://"+addr+"/", bytes.NewReader(make([]byte, 1001))))
		}},
		{"chunked", func() *http.Request {
			r := must(http.NewRequest("POST", "http://"+addr+"/", io.MultiReader(bytes.NewReader(make([]byte, 1001)))))
			r.ContentLength = -1
			return r
		}},
	} {
		resp, err := http.DefaultClient.Do(tc.req())
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: %d", tc.name, resp.StatusCode)
		}
	}
	if n := p.Metrics().count("test", "proto", ReasonBodyTooLarge); n != 2 {
		t.Errorf("body_too_large counted %v times, want 2", n)
	}
}

// Connections past the caps are refused and counted, while trusted
// addresses (the host's probes) are still answered.
func TestConnectionCaps(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	p, addr := testPort(t, Limits{MaxConns: 4, MaxConnsPerIP: 2,
		Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, nil, ok)
	hold := func(src string) net.Conn {
		c := dialFrom(t, src, addr)
		// A full request and answer proves the connection was admitted.
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, _ := readAnswer(t, c); resp.StatusCode != http.StatusOK {
			t.Fatalf("admitted connection from %s: %d", src, resp.StatusCode)
		}
		return c
	}
	refused := func(src, want string) {
		c := dialFrom(t, src, addr)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(c) // the short 503, then the close
		if !strings.HasPrefix(string(b), "HTTP/1.1 503") || !strings.Contains(string(b), want) {
			t.Errorf("refused connection from %s read %q", src, b)
		}
	}
	a1 := hold("127.0.0.2")
	hold("127.0.0.2")
	refused("127.0.0.2", "from your address")
	hold("127.0.0.3")
	hold("127.0.0.3")
	refused("127.0.0.4", "to this port")
	// The trusted probe address is answered past both caps.
	for range 6 {
		hold("127.0.0.1")
	}
	if got := p.openConns(); got != 10 {
		t.Errorf("open connections %d, want 10", got)
	}
	// Closing one frees its slot.
	_ = a1.Close()
	deadline := time.Now().Add(10 * time.Second)
	for p.openConns() != 9 {
		if time.Now().After(deadline) {
			t.Fatalf("open connections %d after a close, want 9", p.openConns())
		}
		time.Sleep(5 * time.Millisecond)
	}
	hold("127.0.0.4")
	if n := p.Metrics().count("test", ProtocolTCP, ReasonConnLimitIP); n != 1 {
		t.Errorf("conn_limit_ip counted %v, want 1", n)
	}
	if n := p.Metrics().count("test", ProtocolTCP, ReasonConnLimit); n != 1 {
		t.Errorf("conn_limit counted %v, want 1", n)
	}
}

// An answer the client does not read is cut at the write deadline.
func TestWriteDeadline(t *testing.T) {
	werr := make(chan error, 1)
	_, addr := testPort(t, Limits{WriteTimeout: 200 * time.Millisecond}, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 1<<20)
		for range 256 {
			if _, err := w.Write(chunk); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}))
	c := dialFrom(t, "127.0.0.1", addr)
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case err := <-werr:
		if err == nil || !isTimeout(err) {
			t.Fatalf("writing 256 MiB to a client that reads nothing: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the write never hit its deadline")
	}
}

func TestReadAll(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name     string
		size     int
		declared int64
		buf      int
	}{
		{"empty", 0, 0, 0},
		{"small declared", 100, 100, 0},
		{"small undeclared", 100, -1, 0},
		{"exact first reserve", FirstReserve, FirstReserve, 0},
		{"pooled buffer", 5000, 5000, 1 << 20},
		{"large declared", 3_300_001, 3_300_001, 0},
		{"large undeclared", 3_300_001, -1, 4096},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := make([]byte, tc.size)
			for i := range want {
				want[i] = byte(rng.IntN(256))
			}
			r := &choppy{data: want, rng: rng}
			got, err := ReadAll(r, tc.declared, make([]byte, 0, tc.buf))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("ReadAll: %d bytes, err %v; want %d bytes", len(got), err, len(want))
			}
			if r.maxAhead > max(FirstReserve, min(r.sent, MaxReserve), tc.buf) {
				t.Errorf("reserved %d bytes ahead of %d received", r.maxAhead, r.sent)
			}
		})
	}
}

// A body that declares 60 MB and sends 11 bytes gets a buffer of
// FirstReserve, not of the declared size.
func TestReadAllLyingLength(t *testing.T) {
	r := &choppy{data: []byte("hello world"), rng: rand.New(rand.NewPCG(3, 4)), err: io.ErrUnexpectedEOF}
	got, err := ReadAll(r, 60_000_000, nil)
	if !errors.Is(err, io.ErrUnexpectedEOF) || string(got) != "hello world" {
		t.Fatalf("got %q, %v", got, err)
	}
	if cap(got) > FirstReserve {
		t.Errorf("reserved %d bytes for 11 received", cap(got))
	}
}

// choppy hands out data in random small pieces and records the largest
// read buffer offered beyond what it had sent (the reservation ahead).
type choppy struct {
	data     []byte
	rng      *rand.Rand
	sent     int
	maxAhead int
	err      error // returned at the end instead of io.EOF
}

func (c *choppy) Read(p []byte) (int, error) {
	if len(p) > c.maxAhead && c.sent > 0 {
		c.maxAhead = max(c.maxAhead, len(p)-min(c.sent, len(p)))
	}
	if c.sent == len(c.data) {
		if c.err != nil {
			return 0, c.err
		}
		return 0, io.EOF
	}
	n := min(len(p), 1+c.rng.IntN(70_000), len(c.data)-c.sent)
	copy(p, c.data[c.sent:c.sent+n])
	c.sent += n
	return n, nil
}

func TestBudgetReleasesMemoryAfterBurst(t *testing.T) {
	b := NewBudget(1 << 30)
	if !b.charge(40 << 20) {
		t.Fatal("charge within the budget refused")
	}
	if b.maybeRelease() {
		t.Error("released while the burst is held")
	}
	b.release(39 << 20)
	if !b.maybeRelease() {
		t.Error("not released after the burst")
	}
	if b.maybeRelease() {
		t.Error("released twice for one burst")
	}
	if b.charge(1<<30) || b.Held() != 1<<20 {
		t.Errorf("a charge over the budget: held %d", b.Held())
	}
}

func TestClientKey(t *testing.T) {
	for _, tc := range []struct{ a, want string }{
		{"192.0.2.7", "192.0.2.7/32"},
		{"::ffff:192.0.2.7", "192.0.2.7/32"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
	} {
		if got := clientKey(netip.MustParseAddr(tc.a)).String(); got != tc.want {
			t.Errorf("clientKey(%s) = %s, want %s", tc.a, got, tc.want)
		}
	}
	if _, err := ParsePrefixes([]string{"10.0.0.0/8", "192.0.2.1", "fd00::/8"}); err != nil {
		t.Error(err)
	}
	if _, err := ParsePrefixes([]string{"10.0.0.0/33"}); err == nil {
		t.Error("a bad CIDR parsed")
	}
}

func TestAutoLimit(t *testing.T) {
	mem, _ := memoryLimit()
	limit, source := AutoLimit(64 << 20)
	if want := max(mem/AutoFraction, 64<<20); mem > 0 && limit != want || !strings.Contains(source, "1/8 of") {
		t.Errorf("AutoLimit = %d (%s), want %d (an eighth of %d)", limit, source, want, mem)
	}
	if limit, _ := AutoLimit(1 << 62); limit != 1<<62 {
		t.Errorf("AutoLimit below --max-body-bytes: %d", limit)
	}
}

// TestReadLimit: cgroup limit files, v2 ("max" or bytes) and v1 (bytes, or
// a value near 2^63 for none).
func TestReadLimit(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		text string
		want int64
		ok   bool
	}{
		{"max\n", 0, false},
		{"2147483648\n", 2 << 30, true},
		{"9223372036854771712\n", 0, false},
		{"0\n", 0, false},
		{"lots", 0, false},
	} {
		path := filepath.Join(dir, "memory.max")
		if err := os.WriteFile(path, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if n, ok := readLimit(path); n != tc.want || ok != tc.ok {
			t.Errorf("readLimit(%q) = %d, %v; want %d, %v", tc.text, n, ok, tc.want, tc.ok)
		}
	}
	if _, ok := readLimit(filepath.Join(dir, "absent")); ok {
		t.Error("a missing file read as a limit")
	}
}

// Many concurrent uploads through one budget never hold more than it.
func TestBudgetUnderConcurrency(t *testing.T) {
	budget := NewBudget(4 << 20)
	_, addr := testPort(t, Limits{}, budget, http.HandlerFunc(echo))
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	stop, watched := make(chan struct{}), make(chan struct{})
	peak := int64(0)
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			default:
				if h := budget.Held(); h > peak {
					peak = h
				}
			}
		}
	}()
	for range 16 {
		wg.Go(func() {
			for range 4 {
				resp, err := http.Post("http://"+addr+"/", "application/octet-stream", bytes.NewReader(make([]byte, 1<<20)))
				if err != nil {
					continue // a refused body's connection is closed under the client
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				mu.Lock()
				codes[resp.StatusCode]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(stop)
	<-watched
	if peak > budget.Limit() {
		t.Errorf("held %d bytes at once, over the budget of %d", peak, budget.Limit())
	}
	if codes[http.StatusOK] == 0 {
		t.Errorf("no upload got through: %v", codes)
	}
	for code := range codes {
		if code != http.StatusOK && code != http.StatusServiceUnavailable {
			t.Errorf("answer %d (%v)", code, codes)
		}
	}
	if budget.Held() != 0 {
		t.Errorf("budget holds %d after all requests", budget.Held())
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
