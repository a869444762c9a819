// Package config is the one place the miner's configuration is read.
//
// Each option of `miner serve` is a field of [Serve] whose struct tags give
// its flag, environment variable, YAML key, default, checks and help; the
// flags, the environment, the YAML file, the validation, the help text and
// the table in docs/configuration.md are all driven by that one table. Sources apply in this
// order, each overriding the ones before: defaults, the YAML file named by
// --config or TAOMINER_CONFIG, environment variables, flags.
//
// To add an option, add one field to Serve:
//
//	Name T `flag:"kebab-name" env:"TAOMINER_SNAKE_NAME" yaml:"snake_name" default:"..." check:"..." help:"..."`
//
// T is string, int, int64, float64, bool, time.Duration or []string. Optional tags:
// default (parsed like a flag value; omitted means the zero value), check
// (comma-separated "nonempty", "min=N", "oneof=a|b|c"), meta (the value's
// placeholder in the help, e.g. "ADDR") and secret:"true" (redacted by
// String). Then regenerate the table in docs/configuration.md:
//
//	go test ./miner/internal/config -run DocsConfigTable -update
package config

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"time"
)

// Serve holds the options of `miner serve`. Its tags are the option table;
// see the package documentation.
type Serve struct {
	HTTPAddr               string        `flag:"http-addr" env:"TAOMINER_HTTP_ADDR" yaml:"http_addr" meta:"ADDR" default:":8000" check:"nonempty" help:"Listen address of the KServe v2 and monitoring HTTP server."`
	GRPCAddr               string        `flag:"grpc-addr" env:"TAOMINER_GRPC_ADDR" yaml:"grpc_addr" meta:"ADDR" default:":8001" help:"Listen address of the KServe v2 gRPC server (inference.GRPCInferenceService, as Triton's clients and perf_analyzer speak it, and grpc.health.v1.Health) on the all and api roles; a worker never serves it. Empty turns it off."`
	GRPCMaxMessageBytes    int64         `flag:"grpc-max-message-bytes" env:"TAOMINER_GRPC_MAX_MESSAGE_BYTES" yaml:"grpc_max_message_bytes" meta:"BYTES" default:"67108864" check:"min=1" help:"Largest gRPC message received or sent, in bytes; a larger request is answered RESOURCE_EXHAUSTED before it is read. At most 2147483647."`
	GRPCMaxStreams         int           `flag:"grpc-max-streams" env:"TAOMINER_GRPC_MAX_STREAMS" yaml:"grpc_max_streams" meta:"N" default:"64" check:"min=1" help:"Calls in flight on one gRPC connection (HTTP/2 concurrent streams); a client opening more waits."`
	ModelsDir              string        `flag:"models" env:"TAOMINER_MODELS" yaml:"models" meta:"DIR" default:"./model-repo" check:"nonempty" help:"Model repository folder."`
	ModelControl           string        `flag:"model-control" env:"TAOMINER_MODEL_CONTROL" yaml:"model_control" meta:"MODE" default:"poll" check:"oneof=poll|explicit|none" help:"How the model folder is followed: poll (file events plus a rescan every --repository-poll-interval; load/unload API allowed), explicit (only the load/unload API), none (load at start, then fixed)."`
	RepositoryPollInterval time.Duration `flag:"repository-poll-interval" env:"TAOMINER_REPOSITORY_POLL_INTERVAL" yaml:"repository_poll_interval" default:"1s" check:"min=0" help:"Rescan period of the model folder in poll mode, on top of file events."`
	ONNXRuntimeLib         string        `flag:"onnxruntime-lib" env:"TAOMINER_ONNXRUNTIME_LIB" yaml:"onnxruntime_lib" meta:"FILE" help:"Path of libonnxruntime.so; empty searches the usual places."`
	IntraOpThreads         int           `flag:"intra-op-threads" env:"TAOMINER_INTRA_OP_THREADS" yaml:"intra_op_threads" default:"1" check:"min=1" help:"Default ONNX Runtime intra-op threads per session; a model's config may override it."`
	MaxBatchSize           int           `flag:"max-batch-size" env:"TAOMINER_MAX_BATCH_SIZE" yaml:"max_batch_size" default:"16" check:"min=1" help:"Default largest batch for models with a dynamic batch axis and no config."`
	MaxQueueDelay          time.Duration `flag:"max-queue-delay" env:"TAOMINER_MAX_QUEUE_DELAY" yaml:"max_queue_delay" default:"0s" check:"min=0" help:"Default time to wait for more requests to fill a batch."`
	MaxQueueSize           int           `flag:"max-queue-size" env:"TAOMINER_MAX_QUEUE_SIZE" yaml:"max_queue_size" default:"1024" check:"min=1" help:"Requests queued per model before answering 429 Too Many Requests; a model's dynamic_batching.default_queue_policy.max_queue_size overrides it."`
	DefaultTimeout         time.Duration `flag:"default-timeout" env:"TAOMINER_DEFAULT_TIMEOUT" yaml:"default_timeout" default:"0s" check:"min=0" help:"Default deadline of an inference request when neither the request (parameters.timeout) nor its model (dynamic_batching.default_queue_policy) sets one; a request still queued when it passes is dropped and answered 503. 0 means none."`
	MaxBodyBytes           int64         `flag:"max-body-bytes" env:"TAOMINER_MAX_BODY_BYTES" yaml:"max_body_bytes" meta:"BYTES" default:"67108864" check:"min=1" help:"Largest accepted request body, in bytes, on every port; larger ones are answered 413."`
	MaxInflightBodyBytes   int64         `flag:"max-inflight-body-bytes" env:"TAOMINER_MAX_INFLIGHT_BODY_BYTES" yaml:"max_inflight_body_bytes" meta:"BYTES" default:"0" check:"min=0" help:"Request body bytes held in memory at once, all ports together, charged as they arrive; a body that would go over is answered 503 with Retry-After and its connection closed. 0 picks 1/8 of the cgroup memory limit, else of RAM, and at least --max-body-bytes."`
	BodyReadTimeout        time.Duration `flag:"body-read-timeout" env:"TAOMINER_BODY_READ_TIMEOUT" yaml:"body_read_timeout" default:"30s" check:"min=1ms" help:"Time a request body gets to arrive in full, from the end of its headers, on every port; a slower one is answered 408 and its connection closed."`
	WriteTimeout           time.Duration `flag:"write-timeout" env:"TAOMINER_WRITE_TIMEOUT" yaml:"write_timeout" default:"30s" check:"min=1ms" help:"Time an answer gets to be written once it is ready (queueing and inference do not count); a client reading slower is cut off."`
	IdleTimeout            time.Duration `flag:"idle-timeout" env:"TAOMINER_IDLE_TIMEOUT" yaml:"idle_timeout" default:"2m" check:"min=1ms" help:"Keep-alive connections idle this long are closed, on every port."`
	MaxConnections         int           `flag:"max-connections" env:"TAOMINER_MAX_CONNECTIONS" yaml:"max_connections" meta:"N" default:"1024" check:"min=0" help:"Open connections per port (the HTTP port and the axon each) from addresses outside --trusted-network; more are answered 503 and closed at once. 0 means no cap."`
	MaxConnectionsPerIP    int           `flag:"max-connections-per-ip" env:"TAOMINER_MAX_CONNECTIONS_PER_IP" yaml:"max_connections_per_ip" meta:"N" default:"64" check:"min=0" help:"Open connections per port from one client address (an IPv4 address or an IPv6 /64) outside --trusted-network; more are answered 503 and closed at once. 0 means no cap."`
	TrustedNetworks        []string      `flag:"trusted-network" env:"TAOMINER_TRUSTED_NETWORK" yaml:"trusted_network" meta:"CIDR" help:"Networks (CIDRs or addresses) exempt from the connection caps, so that probes and scrapers are answered while the caps are hit; empty means loopback (127.0.0.0/8 and ::1). Setting it replaces loopback: list 127.0.0.0/8 too to keep it."`
	LogLevel               string        `flag:"log-level" env:"TAOMINER_LOG_LEVEL" yaml:"log_level" meta:"LEVEL" default:"info" check:"oneof=debug|info|warn|error" help:"Least severe log level written."`
	LogFormat              string        `flag:"log-format" env:"TAOMINER_LOG_FORMAT" yaml:"log_format" meta:"FORMAT" default:"text" check:"oneof=text|json" help:"Log line format."`
	ShutdownTimeout        time.Duration `flag:"shutdown-timeout" env:"TAOMINER_SHUTDOWN_TIMEOUT" yaml:"shutdown_timeout" default:"10s" check:"min=0" help:"Time in-flight requests get to finish on shutdown."`
	Redis                  string        `flag:"redis" env:"TAOMINER_REDIS" yaml:"redis" meta:"URL" secret:"true" help:"Redis URL (redis://[:password@]host:port/db, rediss:// for TLS) of the queue shared by api and worker nodes; empty serves in-process."`
	Role                   string        `flag:"role" env:"TAOMINER_ROLE" yaml:"role" meta:"ROLE" default:"all" check:"oneof=all|api|worker" help:"What this node does with --redis: all (serve HTTP and run models), api (serve HTTP, queue to workers; ignores --models) or worker (run models from the queue; still serves health, /metrics and /v1/stats)."`
	RedisClaimIdle         time.Duration `flag:"redis-claim-idle" env:"TAOMINER_REDIS_CLAIM_IDLE" yaml:"redis_claim_idle" default:"5s" check:"min=0" help:"With --redis, how long a request may stay unacknowledged with a worker before a live worker takes it over; above the longest batch."`
	WalletPath             string        `flag:"wallet-path" env:"TAOMINER_WALLET_PATH" yaml:"wallet_path" meta:"DIR" default:"~/.bittensor/wallets" check:"nonempty" help:"Folder of btcli wallets."`
	Wallet                 string        `flag:"wallet" env:"TAOMINER_WALLET" yaml:"wallet" meta:"NAME" help:"Wallet whose hotkey the miner serves as (signs serve_axon, answers validators on the axon); empty runs without a hotkey (no axon, no chain)."`
	Hotkey                 string        `flag:"hotkey" env:"TAOMINER_HOTKEY" yaml:"hotkey" meta:"NAME" default:"default" check:"nonempty" help:"Hotkey of --wallet (the coldkey is never needed to serve)."`
	AxonPort               int           `flag:"axon-port" env:"TAOMINER_AXON_PORT" yaml:"axon_port" meta:"PORT" default:"8091" check:"min=1" help:"Port of the Bittensor axon (validators' signed synapses), on all interfaces; served when --wallet is set."`
	Network                string        `flag:"network" env:"TAOMINER_NETWORK" yaml:"network" meta:"NETWORK" help:"Chain to follow: finney, test, local or a ws:// or wss:// URL; needs --netuid and --wallet. Empty serves offline, without the chain."`
	Netuid                 int           `flag:"netuid" env:"TAOMINER_NETUID" yaml:"netuid" meta:"N" default:"-1" check:"min=-1" help:"Subnet to mine on with --network (0-65535); -1 means none."`
	ExternalIP             string        `flag:"external-ip" env:"TAOMINER_EXTERNAL_IP" yaml:"external_ip" meta:"IP" help:"IP published on chain with serve_axon; empty detects the public IP. 127.0.0.1 and 0.0.0.0 are refused on finney and test."`
	ExternalPort           int           `flag:"external-port" env:"TAOMINER_EXTERNAL_PORT" yaml:"external_port" meta:"PORT" default:"0" check:"min=0" help:"Port published on chain with serve_axon; 0 means --axon-port."`
	CommitEndpoint         string        `flag:"commit-endpoint" env:"TAOMINER_COMMIT_ENDPOINT" yaml:"commit_endpoint" meta:"URL" help:"With --network, an http(s) URL published on chain as the hotkey's commitment on the subnet (Commitments pallet, the URL itself as one Raw field, at most 128 bytes), whenever the stored commitment differs and the rate limit allows; empty publishes none."`
	MetagraphEvery         int           `flag:"metagraph-every" env:"TAOMINER_METAGRAPH_EVERY" yaml:"metagraph_every" meta:"BLOCKS" default:"0" check:"min=0" help:"Blocks between metagraph syncs with --network; 0 means once per tempo of the subnet."`
	MinValidatorStake      float64       `flag:"min-validator-stake" env:"TAOMINER_MIN_VALIDATOR_STAKE" yaml:"min_validator_stake" meta:"ALPHA" default:"0" check:"min=0" help:"Least alpha stake (1 = 1e9 rao) of a validator the axon answers, on top of the validator permit; 0 relies on the permit alone."`
	AllowHotkeys           []string      `flag:"allow-hotkey" env:"TAOMINER_ALLOW_HOTKEY" yaml:"allow_hotkey" meta:"SS58" help:"Hotkeys the axon answers whatever the metagraph says; without a chain only these are answered."`
	DenyHotkeys            []string      `flag:"deny-hotkey" env:"TAOMINER_DENY_HOTKEY" yaml:"deny_hotkey" meta:"SS58" help:"Hotkeys the axon always refuses; wins over --allow-hotkey."`
	AxonRateLimit          float64       `flag:"axon-rate-limit" env:"TAOMINER_AXON_RATE_LIMIT" yaml:"axon_rate_limit" meta:"N" default:"20" check:"min=0" help:"Requests per second one validator hotkey may make to the axon (bursts of twice that); more are answered 429. 0 means no limit."`
	AxonNonceStore         int           `flag:"axon-nonce-store" env:"TAOMINER_AXON_NONCE_STORE" yaml:"axon_nonce_store" meta:"N" default:"100000" check:"min=1" help:"Hotkey and dendrite uuid pairs whose last nonce the axon remembers (least recently used forgotten first)."`
	EpistulaWindow         time.Duration `flag:"epistula-window" env:"TAOMINER_EPISTULA_WINDOW" yaml:"epistula_window" default:"8s" check:"min=1ms" help:"How far an Epistula request's Epistula-Timestamp (Unix milliseconds) may be from the miner's clock, in either direction; older or later requests are answered 401. Accepted (signer, uuid) pairs are remembered for twice this long to refuse replays."`
	EpistulaReplayStore    int           `flag:"epistula-replay-store" env:"TAOMINER_EPISTULA_REPLAY_STORE" yaml:"epistula_replay_store" meta:"N" default:"100000" check:"min=1" help:"Verified Epistula requests (signer and uuid) remembered to refuse replays, for twice --epistula-window; when it is full of unexpired ones, new requests are answered 503 rather than forgetting any. Size it above your validators' request rate times twice the window."`
}

// serveOptions is the option table read from Serve's tags.
var serveOptions = mustOptionSet(reflect.TypeFor[Serve]())

// DefaultServe returns the serve options with every default applied.
func DefaultServe() Serve {
	return serveOptions.defaults().Interface().(Serve)
}

// Validate checks every option and returns all problems joined, each
// naming the option's YAML key, or nil.
func (s Serve) Validate() error {
	return errors.Join(serveOptions.validate(reflect.ValueOf(s), func(o *option) string { return o.yaml }), s.checkLimits())
}

// checkLimits checks what the option table cannot: options that depend on
// each other, and the trusted networks' syntax.
func (s Serve) checkLimits() error {
	var errs []error
	if s.MaxInflightBodyBytes > 0 && s.MaxInflightBodyBytes < s.MaxBodyBytes {
		errs = append(errs, fmt.Errorf("max_inflight_body_bytes (--max-inflight-body-bytes) is %d, below max_body_bytes "+
			"(--max-body-bytes) %d: a body of the largest accepted size could never be admitted; raise it, lower "+
			"max_body_bytes, or set 0 to size it from memory", s.MaxInflightBodyBytes, s.MaxBodyBytes))
	}
	if s.GRPCMaxMessageBytes > math.MaxInt32 {
		errs = append(errs, fmt.Errorf("grpc_max_message_bytes (--grpc-max-message-bytes) is %d, above gRPC's limit of %d bytes",
			s.GRPCMaxMessageBytes, math.MaxInt32))
	}
	if s.CommitEndpoint != "" {
		if u, err := url.Parse(s.CommitEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("commit_endpoint (--commit-endpoint): %q is not an http:// or https:// URL with a host", s.CommitEndpoint))
		}
	}
	for _, n := range s.TrustedNetworks {
		if _, err := netip.ParsePrefix(n); err != nil {
			if _, err := netip.ParseAddr(n); err != nil {
				errs = append(errs, fmt.Errorf("trusted_network (--trusted-network): %q is neither a network (a CIDR such as 10.0.0.0/8) nor an address", n))
			}
		}
	}
	return errors.Join(errs...)
}

// String returns the effective options as space-separated key=value pairs
// keyed by YAML name, for the startup log line. Options tagged secret show
// <redacted> when set.
func (s Serve) String() string {
	return serveOptions.describe(reflect.ValueOf(s))
}

// LoadServe reads the serve options from args (the arguments after "serve"),
// the environment through getenv (os.LookupEnv in main; nil means an empty
// environment) and the YAML file named by --config or TAOMINER_CONFIG (an
// empty name means no file). Flags win over the environment, the environment
// over the file, the file over the defaults. The result is validated; every
// error names the flag, environment variable or file and key at fault. For
// -h or --help it returns an error matching flag.ErrHelp: print ServeUsage
// and exit 0.
func LoadServe(args []string, getenv func(string) (string, bool)) (Serve, error) {
	v, err := serveOptions.load(args, getenv)
	if err != nil {
		return Serve{}, err
	}
	s := v.Interface().(Serve)
	if err := s.checkLimits(); err != nil {
		return Serve{}, fmt.Errorf("load config: %w", err)
	}
	return s, nil
}

// ParseServeYAML returns base with the options set in text, a YAML mapping
// of option keys, applied on top. An unknown key, a repeated key or a
// malformed value is an error naming its line and key. The result is not
// validated: call Validate once every source is applied.
func ParseServeYAML(text []byte, base Serve) (Serve, error) {
	v := reflect.ValueOf(&base).Elem()
	if err := serveOptions.applyYAML(v, text, "", nil); err != nil {
		return Serve{}, err
	}
	return base, nil
}

// LoadFile returns base with the options set in the YAML file at path
// applied on top, as ParseServeYAML does; errors name the file. The result
// is not validated.
func LoadFile(path string, base Serve) (Serve, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return Serve{}, fmt.Errorf("load config: %w", err)
	}
	v := reflect.ValueOf(&base).Elem()
	if err := serveOptions.applyYAML(v, text, "file "+path+": ", nil); err != nil {
		return Serve{}, fmt.Errorf("load config: %w", err)
	}
	return base, nil
}
