package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/taominer/taominer/miner/internal/chainfixture"

	"github.com/taominer/taominer/miner/internal/chaincmd"
	"github.com/taominer/taominer/miner/internal/chainnode"

	"github.com/taominer/taominer/api"

	"github.com/taominer/taominer/chain/chaintest"
	"github.com/taominer/taominer/chain/scale"
)

// serveWeights answers state_queryStorageAt (yuma.ReadEpoch) with the recorded subnet-1
// neurons (size, hotkeys, alpha stake, permits; the given validators updated at the recorded
// block), pending emission equal to the last epoch's (half server, half validator) and a Weights
// row on target for each of the validators; every other key is absent (metadata defaults).
func serveWeights(t *testing.T, f *chainfixture.Fixture, validators []uint16, target uint16) {
	t.Helper()
	row := scale.AppendCompact(nil, 1)
	row = scale.AppendU16(row, target)
	row = scale.AppendU16(row, 65535)
	values := map[string][]byte{}
	put := func(item string, v []byte, keys ...[]byte) {
		values[hex.EncodeToString(chaintest.StorageKey(t, f.MD, "SubtensorModule", item, keys...))] = v
	}
	for _, v := range validators {
		put("Weights", row, chainfixture.Net1(), scale.AppendU16(nil, v))
	}
	ns := recordedNeurons(t, f)
	lastUpdate, permits := scale.AppendCompact(nil, uint64(len(ns))), scale.AppendCompact(nil, uint64(len(ns)))
	weighs := map[uint16]bool{}
	for _, v := range validators {
		weighs[v] = true
	}
	var basis uint64
	for i, nr := range ns {
		basis += nr.Emission
		put("Keys", nr.Hotkey[:], chainfixture.Net1(), scale.AppendU16(nil, uint16(i)))
		put("TotalHotkeyAlpha", scale.AppendU64(nil, nr.TotalStake()), nr.Hotkey[:], chainfixture.Net1())
		lu := nr.LastUpdate
		if weighs[uint16(i)] {
			lu = 6852690
		}
		lastUpdate = scale.AppendU64(lastUpdate, lu)
		permits = scale.AppendBool(permits, nr.ValidatorPermit)
	}
	put("SubnetworkN", scale.AppendU16(nil, uint16(len(ns))), chainfixture.Net1())
	put("LastUpdate", lastUpdate, chainfixture.Net1())
	put("ValidatorPermit", permits, chainfixture.Net1())
	// Pending emission a third of the tempo in: the projection's basis stays the last epoch's
	// total (the metagraph's emissions); the pending amount is reported beside it.
	put("PendingServerEmission", scale.AppendU64(nil, basis/6), chainfixture.Net1())
	put("PendingValidatorEmission", scale.AppendU64(nil, basis/6), chainfixture.Net1())
	f.N.ServeStorageAt(chaintest.Block6852690, values)
}

// TestStatusProjection: every permitted validator of the recorded subnet-1 metagraph weighs only
// the top miner, so the local Yuma epoch (spec-343 rules and metadata-default hyperparameters)
// gives it the whole incentive and the miners' share of the pending emission; `miner status`
// shows it in JSON and text with the weighing validators.
func TestStatusProjection(t *testing.T) {
	f := chainfixture.New(t)
	top := recordedTopMiner(t, f)
	var permits []uint16
	var basis uint64
	for _, nr := range recordedNeurons(t, f) {
		basis += nr.Emission
		if nr.ValidatorPermit && nr.UID != top.UID {
			permits = append(permits, nr.UID)
		}
	}
	serveWeights(t, f, permits, top.UID)
	root := pubWallet(t, nil, top.Hotkey, top.Coldkey)

	code, out, errOut := runStatus(t, f, root, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep chaincmd.StatusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	p := rep.Projection
	if p == nil || rep.ProjectionError != "" {
		t.Fatalf("projection %+v, error %q", p, rep.ProjectionError)
	}
	if p.Incentive < 0.9999 || p.Consensus < 0.9999 || p.Block != 6852690 || math.Abs(p.BasisAlpha-float64(basis)/1e9) > 1e-9 ||
		math.Abs(p.PendingAlpha-float64(basis/6*2)/1e9) > 1e-9 || p.SpecVersion != 343 || !strings.Contains(p.Assumptions, "commit-reveal") {
		t.Errorf("projection %+v, want incentive and consensus 1 at block 6852690, basis %d rao", p, basis)
	}
	// Half the emission goes to miners (all of it to this one) plus its own dividends.
	if p.EmissionAlpha < p.BasisAlpha/2*0.999 || p.EmissionAlpha > p.BasisAlpha {
		t.Errorf("projected emission %.9f α of %.9f", p.EmissionAlpha, p.BasisAlpha)
	}
	if len(p.Weighers) == 0 || len(p.Weighers) > chainnode.MaxWeighers {
		t.Fatalf("%d weighers", len(p.Weighers))
	}
	var share float64
	for i, w := range p.Weighers {
		if w.Weight != 1 || w.Clipped != 1 || w.Stake < 0 || (i > 0 && w.RankShare > p.Weighers[i-1].RankShare) {
			t.Errorf("weigher %d: %+v", i, w)
		}
		share += w.RankShare
	}
	if p.Weighers[0].Stake <= 0 || share > 1.0001 {
		t.Errorf("top weigher %+v, rank shares sum to %v", p.Weighers[0], share)
	}

	code, out, errOut = runStatus(t, f, root)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"projected   incentive 1.0000",
		fmt.Sprintf("if the epoch ran after block %d", 6852690),
		"rank share",
		p.Weighers[0].Hotkey,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
}

// TestStatusProjectionError: a node that cannot answer the weights query still gets its status,
// with the projection's error.
func TestStatusProjectionError(t *testing.T) {
	f := chainfixture.New(t)
	top := recordedTopMiner(t, f)
	f.N.Handle("state_queryStorageAt", func([]json.RawMessage) (string, []string, bool, bool) {
		return chaintest.Error(-32601, "Method not found")
	})
	root := pubWallet(t, nil, top.Hotkey, top.Coldkey)
	code, out, errOut := runStatus(t, f, root)
	if code != 0 || !strings.Contains(out, "projected   unavailable: projection: read epoch: read") {
		t.Errorf("exit %d: %s\n%s", code, out, errOut)
	}
}

// TestChainProjection: a serving node projects its epoch after each metagraph sync and reports
// it in GET /v1/chain and the taominer_chain_projected_* gauges.
func TestChainProjection(t *testing.T) {
	f := chainfixture.New(t)
	bob := chainfixture.DevKey(t, "//Bob")
	bobKey := bob.PublicKey()
	f.N.SwapHotkey(7, bobKey)
	f.Set(t, "", "Uids", scale.AppendU16(nil, 7), chainfixture.Net1(), bobKey[:])
	f.Set(t, chaintest.Block6852690, "Axons", nil, chainfixture.Net1(), bobKey[:])
	f.Set(t, chaintest.Block6852690, "ServingRateLimit", scale.AppendU64(nil, 50), chainfixture.Net1())
	f.N.ServeSigning(nil)
	f.N.IncludeInBlock(chaintest.Events(t, f.MD, ""))
	f.Set(t, chaintest.InBlock, "Axons", chainfixture.Ours(), chainfixture.Net1(), bobKey[:])
	var permits []uint16
	for _, nr := range recordedNeurons(t, f) {
		if nr.ValidatorPermit && nr.UID != 7 {
			permits = append(permits, nr.UID)
		}
	}
	serveWeights(t, f, permits, 7)

	root := pubWallet(t, bob, [32]byte{}, chainfixture.DevKey(t, "//Alice").PublicKey())
	cc := f.Config(root)
	tn := startChainNode(t, cc)
	st := waitChain(t, tn, 20*time.Second, func(st api.ChainStatus) bool { return st.Projection != nil })
	if p := st.Projection; p.Incentive < 0.9999 || p.Block != 6852690 || p.EmissionAlpha <= 0 || len(p.Weighers) == 0 {
		t.Errorf("projection %+v", p)
	}
	if _, ok := st.Errors["projection"]; ok {
		t.Errorf("errors %v", st.Errors)
	}
	metrics := string(tn.do(t, http.MethodGet, "/metrics", nil, nil).body)
	for _, want := range []string{
		`taominer_chain_projected_incentive{netuid="1",network="` + f.N.URL() + `"} 1`,
		`taominer_chain_projected_emission_alpha{netuid="1",network="` + f.N.URL() + `"} `,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
