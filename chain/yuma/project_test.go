package yuma

import (
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"math"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/taominer/taominer/chain/chaintest"
	"github.com/taominer/taominer/chain/client"
	"github.com/taominer/taominer/chain/metagraph"
	"github.com/taominer/taominer/chain/rpc"
	"github.com/taominer/taominer/chain/scale"
	"github.com/taominer/taominer/chain/ss58"
	"github.com/taominer/taominer/chain/storage"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestDecodeEntriesRecorded decodes the recorded Weights(23, 10) value of the `weights` seed
// (spec 208): one (uid 10, 65535) pair.
func TestDecodeEntriesRecorded(t *testing.T) {
	b, _ := hex.DecodeString("040a00ffff")
	got, err := DecodeEntries(b)
	if err != nil || len(got) != 1 || got[0] != (Entry{10, 65535}) {
		t.Fatalf("DecodeEntries = %v, %v", got, err)
	}
	if _, err := DecodeEntries([]byte{0x08, 1, 0, 2}); err == nil {
		t.Error("short row decoded without error")
	}
}

// TestProjectRecordedMetagraph projects subnet 1 at block 6852690 from the recorded metagraph
// (1024 neurons: hotkeys, stake, permits) served as the storage ReadEpoch reads, plus synthetic
// Weights/Bonds/BlockAtRegistration — the recording has no Weights/Bonds of netuid 1.
func TestProjectRecordedMetagraph(t *testing.T) {
	n := chaintest.NewMetagraph(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tr, err := rpc.Dial(ctx, n.URL(), rpc.Options{ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	c, err := client.New(ctx, tr, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	md := c.Runtime().Metadata
	n.CompleteMetagraph(md, 99)
	hash, err := client.ParseHash(chaintest.Block6852690)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := metagraph.Read(ctx, c, 1, 6852690, hash, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	nn := len(snap.Neurons)

	// Synthetic weights: every permitted validator with stake weighs miners 900 and 901; the
	// smallest also weighs 902, which nobody else does (consensus clips it to 0).
	var vals []int
	for i, nr := range snap.Neurons {
		if nr.ValidatorPermit && nr.Stake > 0 {
			vals = append(vals, i)
		}
	}
	if len(vals) < 3 {
		t.Fatalf("only %d permitted validators in the recording", len(vals))
	}
	smallest := 0
	for k, v := range vals {
		if snap.Neurons[v].Stake < snap.Neurons[vals[smallest]].Stake {
			smallest = k
		}
	}
	const target, other, lonely = 900, 901, 902
	values := map[string][]byte{}
	put := func(item string, uid int, v []byte) {
		k, err := storage.Key(md, "SubtensorModule", item, scale.AppendU16(nil, 1), scale.AppendU16(nil, uint16(uid)))
		if err != nil {
			t.Fatal(err)
		}
		values[hex.EncodeToString(k)] = v
	}
	row := func(es ...Entry) []byte {
		b := scale.AppendCompact(nil, uint64(len(es)))
		for _, e := range es {
			b = scale.AppendU16(scale.AppendU16(b, e.UID), e.Value)
		}
		return b
	}
	for k, v := range vals {
		es := []Entry{{target, 65535}, {other, uint16(20000 + 100*k)}}
		if k == smallest {
			es = append(es, Entry{lonely, 65535})
		}
		put("Weights", v, row(es...))
		put("Bonds", v, row(Entry{target, 30000}))
		put("BlockAtRegistration", v, scale.AppendU64(nil, 1_000))
	}
	for _, m := range []int{target, other, lonely} {
		put("BlockAtRegistration", m, scale.AppendU64(nil, 2_000))
	}
	n.ServeStorageAt(chaintest.Block6852690, values)

	// What ReadEpoch reads besides the synthetic rows: the subnet's size, hotkeys, alpha stake,
	// last updates (validators just set weights) and permits from the recorded metagraph.
	lastUpdate, permits := make([]uint64, nn), make([]bool, nn)
	for i, nr := range snap.Neurons {
		hk, err := ss58.DecodeBittensor(nr.Hotkey)
		if err != nil {
			t.Fatal(err)
		}
		k, err := storage.Key(md, "SubtensorModule", "Keys", scale.AppendU16(nil, 1), scale.AppendU16(nil, uint16(i)))
		if err != nil {
			t.Fatal(err)
		}
		values[hex.EncodeToString(k)] = hk[:]
		k, err = storage.Key(md, "SubtensorModule", "TotalHotkeyAlpha", hk[:], scale.AppendU16(nil, 1))
		if err != nil {
			t.Fatal(err)
		}
		values[hex.EncodeToString(k)] = scale.AppendU64(nil, nr.Stake)
		lastUpdate[i], permits[i] = nr.LastUpdate, nr.ValidatorPermit
	}
	for _, v := range vals {
		lastUpdate[v] = snap.Block
	}
	plain := func(item string, v []byte) {
		k, err := storage.Key(md, "SubtensorModule", item, scale.AppendU16(nil, 1))
		if err != nil {
			t.Fatal(err)
		}
		values[hex.EncodeToString(k)] = v
	}
	plain("SubnetworkN", scale.AppendU16(nil, uint16(nn)))
	plain("LastUpdate", u64s(lastUpdate...))
	plain("ValidatorPermit", bools(permits...))
	plain("Tempo", scale.AppendU16(nil, 99))
	plain("Yuma3On", scale.AppendBool(nil, true))
	plain("PendingServerEmission", scale.AppendU64(nil, 500_000_000))
	plain("PendingValidatorEmission", scale.AppendU64(nil, 500_000_000))

	in, p, err := ReadEpoch(ctx, c, 1, hash)
	if err != nil {
		t.Fatal(err)
	}
	if int(in.N) != nn || len(in.Weights[vals[smallest]]) != 3 || in.BlockAtRegistration[target] != 2_000 ||
		len(in.Bonds[vals[1]]) != 1 || in.AlphaStake[vals[0]] != snap.Neurons[vals[0]].Stake || in.RaoEmission != 1_000_000_000 ||
		in.CurrentBlock != snap.Block+1 || p.Tempo != 99 || !p.Yuma3 || p.Rules != RulesFor(343) {
		t.Fatalf("ReadEpoch: n %d weights %v bonds %v reg %d emission %d params %+v", in.N, in.Weights[vals[smallest]],
			in.Bonds[vals[1]], in.BlockAtRegistration[target], in.RaoEmission, p)
	}

	pr, err := Project(in, p, target)
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.Weighers) != len(vals) {
		t.Fatalf("%d weighers, want the %d validators", len(pr.Weighers), len(vals))
	}
	var share float64
	for _, w := range pr.Weighers {
		share += w.RankShare
		if w.Hotkey != snap.Neurons[w.UID].Hotkey || w.Weight <= 0 || w.Clipped > w.Weight {
			t.Errorf("weigher %+v", w)
		}
	}
	if math.Abs(share-1) > 1e-6 {
		t.Errorf("Σ rank share = %v, want 1", share)
	}
	t.Logf("uid %d: incentive %.4f consensus %.4f emission %d from %d validators; top %+v",
		target, pr.Incentive, pr.Consensus, pr.ServerEmission, len(pr.Weighers), pr.Weighers[0])
	if pr.Incentive <= 0.5 || pr.ServerEmission == 0 || pr.Consensus == 0 {
		t.Errorf("target: %+v", *pr)
	}
	lone, err := Project(in, p, lonely)
	if err != nil {
		t.Fatal(err)
	}
	if lone.Incentive != 0 || lone.ServerEmission != 0 || len(lone.Weighers) != 1 || lone.Weighers[0].Clipped != 0 {
		t.Errorf("a miner only one validator weighs: incentive %v emission %d weighers %+v", lone.Incentive, lone.ServerEmission, lone.Weighers)
	}
	if _, err := Project(in, p, uint16(nn)); err == nil {
		t.Error("projection of an unknown uid succeeded")
	}
}

// Benchmarks of one epoch (random full weights from 64 validators, Yuma 3 with liquid alpha and
// the original path).
func BenchmarkEpoch(b *testing.B) {
	for _, bc := range []struct {
		name  string
		n     int
		yuma3 bool
	}{{"n=256/yuma3", 256, true}, {"n=1024/yuma3", 1024, true}, {"n=256/original", 256, false}, {"n=1024/original", 1024, false}} {
		b.Run(bc.name, func(b *testing.B) {
			rng := newBenchRand()
			in, p := randomNet(rng, 64, bc.n-64)
			p.Yuma3, p.LiquidAlpha = bc.yuma3, bc.yuma3
			for b.Loop() {
				if _, err := Epoch(in, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
