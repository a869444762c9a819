package chainnode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/taominer/taominer/miner/internal/chainfixture"

	"github.com/taominer/taominer/chain/chaintest"
	"github.com/taominer/taominer/chain/commitments"
	"github.com/taominer/taominer/chain/extrinsic"
	"github.com/taominer/taominer/chain/scale"
)

func testChainOptions() Options {
	return Options{
		DetectIP:   func(context.Context) (netip.Addr, error) { return netip.Addr{}, errors.New("no detection in tests") },
		Poll:       20 * time.Millisecond,
		RetryServe: 50 * time.Millisecond,
	}
}

func TestStartErrors(t *testing.T) {
	f := chainfixture.New(t)
	bob := chainfixture.DevKey(t, "//Bob")
	bobKey := bob.PublicKey()
	f.Set(t, "", "Uids", nil, chainfixture.Net1(), bobKey[:])
	cfg := f.Config(t.TempDir())
	log := slog.New(slog.DiscardHandler)
	_, err := Start(context.Background(), cfg, bob, log, testChainOptions())
	if err == nil || !strings.Contains(err.Error(), "is not registered on subnet 1") || !strings.Contains(err.Error(), "miner register") {
		t.Errorf("unregistered hotkey: %v", err)
	}
	cfg.Netuid = -1
	if _, err := Start(context.Background(), cfg, bob, log, testChainOptions()); err == nil || !strings.Contains(err.Error(), "--netuid") {
		t.Errorf("no netuid: %v", err)
	}
	cfg.Netuid = 1
	if _, err := Start(context.Background(), cfg, nil, log, testChainOptions()); err == nil || !strings.Contains(err.Error(), "--wallet") {
		t.Errorf("no hotkey: %v", err)
	}
	f.Set(t, "", "NetworksAdded", nil, scale.AppendU16(nil, 77))
	cfg.Netuid = 77
	if _, err := Start(context.Background(), cfg, bob, log, testChainOptions()); err == nil || !strings.Contains(err.Error(), "subnet 77 does not exist") {
		t.Errorf("missing subnet: %v", err)
	}
}

// TestServeAxon covers serve_axon: nothing is sent when the chain already has our axon,
// it is sent (and checked back) when the chain's differs, the ServingRateLimit is waited out
// rather than hit, and a pool rejection ServingRateLimitExceeded leaves it unpublished for a retry.
func TestServeAxon(t *testing.T) {
	bob := chainfixture.DevKey(t, "//Bob")
	bobKey := bob.PublicKey()
	old := chainfixture.AxonBytes(6852000, 9011001, scale.Uint128{Lo: 3235789677}, 6028, 4)
	tests := []struct {
		name      string
		onChain   []byte
		pool      bool // the pool rejects with Custom error 12
		submitted bool
		published bool
		errText   string
	}{
		{"already published", chainfixture.Ours(), false, false, true, ""},
		{"never served", nil, false, true, true, ""},
		{"differs", old, false, true, true, ""},
		{"rate limited", chainfixture.AxonBytes(6852680, 9011001, scale.Uint128{Lo: 3235789677}, 6028, 4), false, false, false, "serving rate limit"},
		{"pool says rate limited", old, true, true, false, "ServingRateLimitExceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := chainfixture.New(t)
			f.Set(t, "", "Uids", scale.AppendU16(nil, 7), chainfixture.Net1(), bobKey[:])
			f.Set(t, chaintest.Block6852690, "Axons", tt.onChain, chainfixture.Net1(), bobKey[:])
			f.Set(t, chaintest.Block6852690, "ServingRateLimit", scale.AppendU64(nil, 50), chainfixture.Net1())
			f.N.ServeSigning(nil)
			submitted := f.N.IncludeInBlock(chaintest.Events(t, f.MD, ""))
			f.Set(t, chaintest.InBlock, "Axons", chainfixture.Ours(), chainfixture.Net1(), bobKey[:])
			if tt.pool {
				f.N.Handle("author_submitAndWatchExtrinsic", func([]json.RawMessage) (string, []string, bool, bool) {
					return `"error":{"code":1010,"message":"Invalid Transaction","data":"Custom error: 12"}`, nil, false, false
				})
			}
			cn, err := Start(context.Background(), f.Config(t.TempDir()), bob, slog.New(slog.DiscardHandler), testChainOptions())
			if err != nil {
				t.Fatal(err)
			}
			defer cn.Close()
			ok, retry := cn.ensureAxon(context.Background())
			if ok != tt.published {
				t.Errorf("published = %v, want %v", ok, tt.published)
			}
			if got := f.N.Count("author_submitAndWatchExtrinsic") > 0; got != tt.submitted {
				t.Errorf("submitted = %v, want %v", got, tt.submitted)
			}
			st, _ := cn.ChainStatus(context.Background())
			body, _ := json.Marshal(st)
			if tt.errText != "" && !strings.Contains(string(body), tt.errText) {
				t.Errorf("status lacks %q: %s", tt.errText, body)
			}
			if tt.name == "rate limited" && (retry < 30*12*time.Second || retry > 40*12*time.Second) {
				t.Errorf("retry in %v, want the 40 blocks left of the limit", retry)
			}
			if tt.submitted && !tt.pool {
				// The extrinsic is serve_axon with our address, signed by the hotkey.
				d, err := extrinsic.Decode(f.MD, submitted())
				if err != nil {
					t.Fatal(err)
				}
				want, _ := extrinsic.ServeAxon(f.MD, extrinsic.Axon{NetUID: 1, Version: AxonVersion, IP: scale.Uint128{Lo: 203<<24 | 113<<8 | 9}, Port: 8091, IPType: 4, Protocol: 4})
				if !bytes.Equal(d.Call, want) || d.Signer != bob.PublicKey() || d.Nonce != 5 {
					t.Errorf("submitted call %x signer %x nonce %d; want %x by //Bob", d.Call, d.Signer, d.Nonce, []byte(want))
				}
			}
		})
	}
}

// TestCommitEndpoint: the chain node publishes --commit-endpoint when the chain holds something
// else and reports it in its status; one too long for the runtime is refused at start.
func TestCommitEndpoint(t *testing.T) {
	f, submitted := chainfixture.CommitFixture(t, "")
	bob := chainfixture.DevKey(t, "//Bob")
	bobKey := bob.PublicKey()
	f.Set(t, chaintest.Block6852690, "Axons", chainfixture.Ours(), chainfixture.Net1(), bobKey[:])
	f.Set(t, "", "Commitments.CommitmentOf", chainfixture.RawCommitment(t, 6852000, "http://198.51.100.1:8000"), chainfixture.Net1(), bobKey[:])
	cfg := f.Config(t.TempDir())
	cfg.CommitEndpoint = chainfixture.CommitURL
	cn, err := Start(context.Background(), cfg, bob, slog.New(slog.DiscardHandler), testChainOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close()
	if ok, _ := cn.commit.Ensure(context.Background()); !ok {
		t.Fatalf("not published: %+v", cn.commit.Status())
	}
	d, err := extrinsic.Decode(f.MD, submitted())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := commitments.SetCommitment(f.MD, 1, []commitments.Field{{Kind: commitments.Raw, Bytes: []byte(chainfixture.CommitURL)}})
	if !bytes.Equal(d.Call, want) || d.Signer != bobKey {
		t.Errorf("submitted %x by %x", d.Call, d.Signer)
	}
	st, _ := cn.ChainStatus(context.Background())
	body, _ := json.Marshal(st)
	if !strings.Contains(string(body), `"commitment":{"ours":"`+chainfixture.CommitURL+`","on_chain":"`+chainfixture.CommitURL+`","on_chain_block":6852691,"published":true}`) {
		t.Errorf("GET /v1/chain = %s", body)
	}

	cfg.CommitEndpoint = "http://" + strings.Repeat("x", 130)
	if _, err := Start(context.Background(), cfg, bob, slog.New(slog.DiscardHandler), testChainOptions()); err == nil ||
		!strings.Contains(err.Error(), "--commit-endpoint: commitments: 137 bytes do not fit: Raw128 is the largest Raw variant") {
		t.Errorf("long endpoint: %v", err)
	}
}

// TestFixtureAxonVersion: the axon the chain tests publish carries the version the node publishes.
func TestFixtureAxonVersion(t *testing.T) {
	if chainfixture.AxonVersion != AxonVersion {
		t.Errorf("chainfixture.AxonVersion %d, AxonVersion %d", chainfixture.AxonVersion, AxonVersion)
	}
}
