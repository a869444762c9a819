// Package redisq is the Redis transport that lets fronts (the api role) and
// workers (the worker role) share one queue per model version.
//
// A front's Producer XADDs each request, binary encoded, to the stream
// taominer:q:<model>:<version> and waits for the answer on its own list
// taominer:reply:<frontID>, read by one shared loop whose every BLMPOP takes
// all the replies waiting and hands each to the caller waiting for its
// request id (unknown and duplicate ids are dropped). A worker's Consumer
// reads up to a batch of requests with XREADGROUP in a consumer group,
// skips requests past their deadline, and answers with RPUSH to the reply
// list followed by XACK and XDEL in one MULTI, so a request is
// acknowledged only once its answer is written and the stream holds only
// pending entries. Both ends coalesce (coalesce.go): requests submitted,
// and answers given, while a write is in flight share the next one, so
// round trips per request fall as load rises, with no timer. Entries left pending by a dead worker are
// taken over with Claim (XAUTOCLAIM) by a live one; the front answers only
// the first reply for a request.
//
// Every call carries a context, and the clients from NewClient fail fast
// when Redis is unreachable instead of hanging.
package redisq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Defaults.
const (
	// DefaultTimeout is the deadline of a request whose context has none.
	DefaultTimeout = 30 * time.Second
	// DefaultReplyTTL is how long a reply list outlives its last write, so
	// answers for a front that died expire.
	DefaultReplyTTL = time.Minute

	keyPrefix = "taominer:"
	jobField  = "j" // the stream entry's field holding the encoded request
)

// ErrUnavailable is wrapped by errors caused by Redis being unreachable or
// failing; a front answers them with 503.
var ErrUnavailable = errors.New("redis queue unavailable")

// ErrClosed is returned by Submit after Close.
var ErrClosed = errors.New("redis producer closed")

// RemoteError is a failure reported by the worker that ran the request.
type RemoteError struct{ Msg string }

func (e *RemoteError) Error() string { return e.Msg }

// StreamKey is the stream that carries requests for one model version.
func StreamKey(model, version string) string {
	return keyPrefix + "q:" + model + ":" + version
}

// ReplyKey is the list a front with this id receives its answers on.
func ReplyKey(frontID string) string { return keyPrefix + "reply:" + frontID }

// NewClient opens a client for a redis:// or rediss:// URL (password, db
// and TLS through the URL). Unless the URL sets them, it uses short dial,
// read and write timeouts and one retry, so an outage turns into errors
// within about a second rather than hangs.
func NewClient(rawURL string) (*redis.Client, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	Tune(opt)
	return redis.NewClient(opt), nil
}

// Tune fills the timeouts of opt that are unset with fail-fast values and
// turns off features Redis 7 does not have.
func Tune(opt *redis.Options) {
	if opt.DialTimeout == 0 {
		opt.DialTimeout = time.Second
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = 2 * time.Second
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = 2 * time.Second
	}
	if opt.MaxRetries == 0 {
		opt.MaxRetries = 1
	}
	if opt.PoolTimeout == 0 {
		opt.PoolTimeout = 2 * time.Second
	}
	opt.DisableIdentity = true // CLIENT SETINFO needs Redis 7.2
	if opt.MaintNotificationsConfig == nil {
		opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	}
}

// unavailable wraps a Redis error so that errors.Is(err, ErrUnavailable)
// holds, keeping the cause in the message and the chain.
func unavailable(op string, err error) error {
	return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
}

// SetLogger sends go-redis' own log lines (a dial failure on every retry
// while Redis is down) to l at debug level instead of stderr; the queue's
// own warnings say the same once. It applies to the whole process.
func SetLogger(l *slog.Logger) { redis.SetLogger(redisLogger{l}) }

type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.Log(ctx, slog.LevelDebug, "go-redis: "+fmt.Sprintf(format, v...))
}
