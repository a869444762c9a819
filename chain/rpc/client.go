// Package rpc is a JSON-RPC 2.0 client over one websocket, as Substrate nodes speak it:
// concurrent calls matched by id, a timeout per call through its context, subscriptions whose
// notifications are routed by subscription id, and reconnection with backoff when the
// connection drops (calls in flight fail with ErrConnectionLost; later calls reconnect).
package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Options tune a Client. The zero value gives the defaults.
type Options struct {
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
	// CallTimeout bounds a call whose context has no deadline (default 60s).
	CallTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the wait between failed connection attempts; the wait
	// doubles after every failure (defaults 250ms and 15s).
	ReconnectMin, ReconnectMax time.Duration
	// ReadLimit is the largest message accepted (default 64 MiB; metadata replies are ~1.2 MB).
	ReadLimit int64
	// HTTPClient is used for the websocket handshake (default http.DefaultClient).
	HTTPClient *http.Client
	// SubscriptionBuffer is how many notifications a subscription queues before it is dropped
	// with ErrSubscriptionOverflow (default 64).
	SubscriptionBuffer int
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 60 * time.Second
	}
	if o.ReconnectMin <= 0 {
		o.ReconnectMin = 250 * time.Millisecond
	}
	if o.ReconnectMax < o.ReconnectMin {
		o.ReconnectMax = max(15*time.Second, o.ReconnectMin)
	}
	if o.ReadLimit <= 0 {
		o.ReadLimit = 64 << 20
	}
	if o.SubscriptionBuffer <= 0 {
		o.SubscriptionBuffer = 64
	}
}

// Client is a JSON-RPC client for one node URL. It is safe for concurrent use.
type Client struct {
	url    string
	opts   Options
	nextID atomic.Uint64

	dialMu   sync.Mutex // serializes (re)connection attempts
	mu       sync.Mutex // guards the fields below
	cur      *conn
	closed   bool
	backoff  time.Duration
	nextDial time.Time
}

// Dial connects to url (ws:// or wss://). It fails if the first connection attempt fails; after
// that the client reconnects by itself.
func Dial(ctx context.Context, url string, opts Options) (*Client, error) {
	opts.defaults()
	c := &Client{url: url, opts: opts}
	if _, err := c.connect(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// URL returns the node URL the client talks to.
func (c *Client) URL() string { return c.url }

// Close closes the connection; calls in flight and later calls fail with ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	cc := c.cur
	c.cur = nil
	c.mu.Unlock()
	if cc != nil {
		cc.fail(ErrClosed)
		return cc.ws.Close(websocket.StatusNormalClosure, "")
	}
	return nil
}

// connect returns the live connection, dialing (with backoff) if there is none.
func (c *Client) connect(ctx context.Context) (*conn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if cc := c.cur; cc != nil {
		c.mu.Unlock()
		return cc, nil
	}
	c.mu.Unlock()

	c.dialMu.Lock()
	defer c.dialMu.Unlock()
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		if cc := c.cur; cc != nil { // another caller reconnected meanwhile
			c.mu.Unlock()
			return cc, nil
		}
		wait := time.Until(c.nextDial)
		c.mu.Unlock()
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("rpc: connect %s: %w", c.url, ctx.Err())
			case <-t.C:
			}
		}
		ws, _, err := websocket.Dial(ctx, c.url, &websocket.DialOptions{HTTPClient: c.opts.HTTPClient})
		c.mu.Lock()
		if err != nil {
			c.backoff = min(max(2*c.backoff, c.opts.ReconnectMin), c.opts.ReconnectMax)
			c.nextDial = time.Now().Add(c.backoff)
			c.mu.Unlock()
			c.opts.Logger.Warn("chain rpc: connect failed", "url", c.url, "err", err, "retry_in", c.backoff)
			if ctx.Err() != nil {
				return nil, fmt.Errorf("rpc: connect %s: %w", c.url, err)
			}
			continue
		}
		ws.SetReadLimit(c.opts.ReadLimit)
		cc := &conn{ws: ws, pending: map[uint64]*pendingCall{}, subs: map[string]*Subscription{}, done: make(chan struct{})}
		if c.closed {
			c.mu.Unlock()
			ws.CloseNow()
			return nil, ErrClosed
		}
		c.cur = cc
		c.backoff = 0
		c.nextDial = time.Time{}
		c.mu.Unlock()
		c.opts.Logger.Debug("chain rpc: connected", "url", c.url)
		go c.readLoop(cc)
		return cc, nil
	}
}

// drop forgets cc as the current connection after it failed.
func (c *Client) drop(cc *conn, err error) {
	c.mu.Lock()
	if c.cur == cc {
		c.cur = nil
		c.nextDial = time.Now().Add(c.opts.ReconnectMin)
		c.backoff = c.opts.ReconnectMin
	}
	closed := c.closed
	c.mu.Unlock()
	cc.fail(fmt.Errorf("%w: %w", ErrConnectionLost, err))
	cc.ws.CloseNow()
	if !closed {
		c.opts.Logger.Warn("chain rpc: connection lost; will reconnect on next call", "url", c.url, "err", err)
	}
}

type request struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

type response struct {
	result json.RawMessage
	err    error
}

type pendingCall struct {
	ch  chan response // buffered 1
	sub *Subscription // set for subscribe calls
}

// conn is one websocket connection with its calls in flight and subscriptions.
type conn struct {
	ws      *websocket.Conn
	mu      sync.Mutex
	pending map[uint64]*pendingCall
	subs    map[string]*Subscription
	dead    error
	done    chan struct{}
}

// fail ends every call in flight and every subscription on cc with err (once).
func (cc *conn) fail(err error) {
	cc.mu.Lock()
	if cc.dead != nil {
		cc.mu.Unlock()
		return
	}
	cc.dead = err
	pending, subs := cc.pending, cc.subs
	cc.pending, cc.subs = map[uint64]*pendingCall{}, map[string]*Subscription{}
	close(cc.done)
	cc.mu.Unlock()
	for _, pc := range pending {
		pc.ch <- response{err: err}
	}
	for _, s := range subs {
		s.finish(err)
	}
}

// Call invokes method with params and unmarshals the result into result (which may be nil to
// discard it, or a *json.RawMessage to keep it raw). Node errors are returned as *Error.
func (c *Client) Call(ctx context.Context, method string, result any, params ...any) error {
	raw, err := c.call(ctx, method, nil, params)
	if err != nil {
		return err
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(raw, result); err != nil {
		return fmt.Errorf("rpc: %s: decode result: %w", method, err)
	}
	return nil
}

func (c *Client) call(ctx context.Context, method string, sub *Subscription, params []any) (json.RawMessage, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.CallTimeout)
		defer cancel()
	}
	cc, err := c.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("rpc: %s: %w", method, err)
	}
	if params == nil {
		params = []any{}
	}
	id := c.nextID.Add(1)
	msg, err := json.Marshal(request{JSONRPC: "2.0", ID: id, Method: method, Params: params})
	if err != nil {
		return nil, fmt.Errorf("rpc: %s: encode params: %w", method, err)
	}
	pc := &pendingCall{ch: make(chan response, 1), sub: sub}
	cc.mu.Lock()
	if cc.dead != nil {
		err := cc.dead
		cc.mu.Unlock()
		return nil, fmt.Errorf("rpc: %s: %w", method, err)
	}
	cc.pending[id] = pc
	cc.mu.Unlock()

	if err := cc.ws.Write(ctx, websocket.MessageText, msg); err != nil {
		cc.forget(id)
		if ctx.Err() != nil {
			// If the write was cut short mid-frame, coder/websocket closes the connection and
			// the read loop notices; otherwise the connection is still good.
			return nil, fmt.Errorf("rpc: %s: %w", method, ctx.Err())
		}
		c.drop(cc, err)
		return nil, fmt.Errorf("rpc: %s: %w: %w", method, ErrConnectionLost, err)
	}
	select {
	case r := <-pc.ch:
		if r.err != nil {
			return nil, fmt.Errorf("rpc: %s: %w", method, r.err)
		}
		return r.result, nil
	case <-ctx.Done():
		cc.forget(id)
		return nil, fmt.Errorf("rpc: %s: %w", method, ctx.Err())
	}
}

func (cc *conn) forget(id uint64) {
	cc.mu.Lock()
	delete(cc.pending, id)
	cc.mu.Unlock()
}

type envelope struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params *struct {
		Subscription json.RawMessage `json:"subscription"`
		Result       json.RawMessage `json:"result"`
		Error        *Error          `json:"error"`
	} `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
}

func (c *Client) readLoop(cc *conn) {
	for {
		_, data, err := cc.ws.Read(context.Background())
		if err != nil {
			c.drop(cc, err)
			return
		}
		var env envelope
		if err := json.Unmarshal(data, &env); err != nil {
			c.opts.Logger.Warn("chain rpc: ignoring malformed message", "err", err, "len", len(data))
			continue
		}
		switch {
		case len(env.ID) > 0 && string(env.ID) != "null":
			cc.deliver(env)
		case env.Method != "" && env.Params != nil:
			cc.notify(env)
		}
	}
}

func (cc *conn) deliver(env envelope) {
	id, err := strconv.ParseUint(string(env.ID), 10, 64)
	if err != nil {
		return // not one of ours
	}
	cc.mu.Lock()
	pc, ok := cc.pending[id]
	delete(cc.pending, id)
	var r response
	switch {
	case env.Error != nil:
		r.err = env.Error
	case pc != nil && pc.sub != nil:
		subID := subscriptionID(env.Result)
		if subID == "" {
			r.err = fmt.Errorf("rpc: subscription id %s is not a string or number", env.Result)
			break
		}
		// Register before any notification for it is read: the read loop is sequential.
		pc.sub.id = subID
		pc.sub.cc = cc
		cc.subs[subID] = pc.sub
		r.result = env.Result
	default:
		r.result = env.Result
	}
	cc.mu.Unlock()
	if ok {
		pc.ch <- r
	}
}

func (cc *conn) notify(env envelope) {
	id := subscriptionID(env.Params.Subscription)
	cc.mu.Lock()
	s := cc.subs[id]
	cc.mu.Unlock()
	if s == nil {
		return
	}
	if env.Params.Error != nil {
		cc.removeSub(id)
		s.finish(env.Params.Error)
		return
	}
	select {
	case s.ch <- env.Params.Result:
	default:
		cc.removeSub(id)
		s.finish(ErrSubscriptionOverflow)
	}
}

func (cc *conn) removeSub(id string) {
	cc.mu.Lock()
	delete(cc.subs, id)
	cc.mu.Unlock()
}

// subscriptionID normalizes a subscription id (a JSON string or number) to a string.
func subscriptionID(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// ErrSubscriptionOverflow ends a subscription whose reader fell behind by more than
// Options.SubscriptionBuffer notifications.
var ErrSubscriptionOverflow = errors.New("rpc: subscription reader too slow; notifications dropped")

// ErrUnsubscribed is returned by Next after Unsubscribe.
var ErrUnsubscribed = errors.New("rpc: unsubscribed")

// Subscription receives the notifications of one subscription.
type Subscription struct {
	c      *Client
	cc     *conn
	unsub  string
	id     string
	ch     chan json.RawMessage
	once   sync.Once
	done   chan struct{}
	endErr error
}

// Subscribe calls method (e.g. author_submitAndWatchExtrinsic) and returns the subscription it
// opens; unsubMethod (e.g. author_unwatchExtrinsic) is called by Unsubscribe.
func (c *Client) Subscribe(ctx context.Context, method, unsubMethod string, params ...any) (*Subscription, error) {
	s := &Subscription{c: c, unsub: unsubMethod, ch: make(chan json.RawMessage, c.opts.SubscriptionBuffer), done: make(chan struct{})}
	if _, err := c.call(ctx, method, s, params); err != nil {
		return nil, err
	}
	return s, nil
}

// ID returns the node's subscription id.
func (s *Subscription) ID() string { return s.id }

func (s *Subscription) finish(err error) {
	s.once.Do(func() {
		s.endErr = err
		close(s.done)
	})
}

// Next returns the next notification's result. After the subscription ends (connection lost,
// overflow, node error, Unsubscribe) it returns the queued notifications, then the reason.
func (s *Subscription) Next(ctx context.Context) (json.RawMessage, error) {
	select {
	case r := <-s.ch:
		return r, nil
	default:
	}
	select {
	case r := <-s.ch:
		return r, nil
	case <-s.done:
		select {
		case r := <-s.ch:
			return r, nil
		default:
		}
		return nil, s.endErr
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Unsubscribe ends the subscription and tells the node (errors from the node are ignored when
// the connection is already gone).
func (s *Subscription) Unsubscribe(ctx context.Context) error {
	s.finish(ErrUnsubscribed)
	s.cc.removeSub(s.id)
	if s.unsub == "" {
		return nil
	}
	err := s.c.Call(ctx, s.unsub, nil, s.id)
	if errors.Is(err, ErrConnectionLost) || errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}
