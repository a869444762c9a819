package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/taominer/taominer/miner/internal/chainfixture"

	"github.com/taominer/taominer/miner/internal/chaincmd"

	"github.com/taominer/taominer/chain/chaintest"
	"github.com/taominer/taominer/chain/neuron"
)

// recordedTopMiner returns the recorded subnet-1 neuron (block 6852690) with the highest
// incentive (UID 395, which also holds a validator permit).
func recordedTopMiner(t *testing.T, f *chainfixture.Fixture) neuron.Lite {
	t.Helper()
	ns := recordedNeurons(t, f)
	best := -1
	for i, n := range ns {
		if best < 0 || n.Incentive > ns[best].Incentive {
			best = i
		}
	}
	return ns[best]
}

func recordedNeuron(t *testing.T, f *chainfixture.Fixture, uid int) (neuron.Lite, bool) {
	ns := recordedNeurons(t, f)
	if uid >= len(ns) {
		return neuron.Lite{}, false
	}
	return ns[uid], true
}

// recordedNeurons decodes the recorded get_neurons_lite(1) reply.
func recordedNeurons(t *testing.T, f *chainfixture.Fixture) []neuron.Lite {
	t.Helper()
	raw, ok := f.N.Recorded(`state_call(NeuronInfoRuntimeApi_get_neurons_lite,0100,` + chaintest.Block6852690[2:] + `)`)
	if !ok {
		t.Fatal("no recorded neurons")
	}
	var obj struct{ Result string }
	json.Unmarshal(raw, &obj)
	var b []byte
	fmt.Sscanf(strings.TrimPrefix(obj.Result, "0x"), "%x", &b)
	ns, err := neuron.DecodeLiteList(b)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func runStatus(t *testing.T, f *chainfixture.Fixture, root string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append([]string{"--network", f.N.URL(), "--netuid", "1", "--wallet-path", root, "--wallet", "w", "--hotkey", "h"}, args...)
	code := statusCmd(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestStatus shows the recorded top miner of subnet 1 (block 6852690) through a wallet holding
// only its public hotkey: text and JSON, the axon check, and a running node's /v1/chain.
func TestStatus(t *testing.T) {
	f := chainfixture.New(t)
	top := recordedTopMiner(t, f)
	root := pubWallet(t, nil, top.Hotkey, top.Coldkey)
	if _, ok := top.Axon.Addr(); ok {
		t.Fatalf("uid 395 served an axon: %+v", top.Axon)
	}
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chain" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"network":"finney","registered":true,"axon":{"published":true}}`)
	}))
	defer node.Close()

	code, out, errOut := runStatus(t, f, root, "--json", "--external-ip", "203.0.113.9", "--url", node.URL)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep chaincmd.StatusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	perTempo := float64(top.Emission) / 1e9
	perDay := perTempo * 7200 / 361
	n := rep.Neuron
	if !rep.Registered || n == nil || n.UID != top.UID || rep.Block != 6852690 || rep.Tempo != 360 ||
		n.StakeAlpha != float64(top.TotalStake())/1e9 || n.Incentive != float64(top.Incentive)/65535 || n.Rank != 1 ||
		n.EmissionAlphaTempo != perTempo || math.Abs(n.EmissionAlphaDay-perDay) > 1e-9 || rep.PriceTAO == nil ||
		n.EmissionTAODay == nil || math.Abs(*n.EmissionTAODay-perDay**rep.PriceTAO) > 1e-9 {
		t.Errorf("report = %s\nwant uid %d stake %d incentive %d emission %d", out, top.UID, top.TotalStake(), top.Incentive, top.Emission)
	}
	if rep.Axon.OnChain != "" || rep.Axon.Expected != "203.0.113.9:8091" || rep.Axon.Matches == nil || *rep.Axon.Matches {
		t.Errorf("axon = %+v, want none served, not matching", rep.Axon)
	}
	if !strings.Contains(string(rep.Node), `"published": true`) || rep.NodeError != "" {
		t.Errorf("node = %s, error %q", rep.Node, rep.NodeError)
	}
	if top.UID != 395 || perTempo == 0 {
		t.Errorf("top miner is uid %d earning %v α", top.UID, perTempo)
	}

	// Text, with a node that is down.
	code, out, errOut = runStatus(t, f, root, "--external-ip", "203.0.113.9", "--url", "http://127.0.0.1:1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		fmt.Sprintf("registered  yes, UID %d (validator permit", top.UID),
		fmt.Sprintf("stake       %.9f α", float64(top.TotalStake())/1e9),
		"(rank 1 of ",
		fmt.Sprintf("emission    %.9f α per tempo, %.9f α per day ≈ τ", perTempo, perDay),
		"axon        none served: DIFFERS from 203.0.113.9:8091",
		"node        GET http://127.0.0.1:1/v1/chain",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
}

// TestStatusAxonMatch: UID 0 of the recording serves its axon at 192.222.x.x:6028 (the decoded
// fixture's first neuron); --external-ip/--external-port equal to it match.
func TestStatusAxonMatch(t *testing.T) {
	f := chainfixture.New(t)
	uid0, ok := recordedNeuron(t, f, 0)
	if !ok {
		t.Fatal("no uid 0")
	}
	ip, _ := uid0.Axon.Addr()
	root := pubWallet(t, nil, uid0.Hotkey, uid0.Coldkey)
	for _, tt := range []struct {
		port    uint16
		matches bool
	}{{uid0.Axon.Port, true}, {uid0.Axon.Port + 1, false}} {
		code, out, errOut := runStatus(t, f, root, "--json", "--external-ip", ip.String(), "--external-port", fmt.Sprint(tt.port))
		var rep chaincmd.StatusReport
		if code != 0 || json.Unmarshal([]byte(out), &rep) != nil {
			t.Fatalf("exit %d %s %s", code, out, errOut)
		}
		want := netip.AddrPortFrom(ip, uid0.Axon.Port).String()
		if rep.Axon.OnChain != want || rep.Axon.OnChain != "192.222.59.109:6028" || rep.Axon.Matches == nil || *rep.Axon.Matches != tt.matches || rep.Axon.Version != 9011001 {
			t.Errorf("port %d: axon %+v, want %s matches=%v", tt.port, rep.Axon, want, tt.matches)
		}
	}
}

func TestStatusNotRegistered(t *testing.T) {
	f := chainfixture.New(t)
	bob, alice := chainfixture.DevKey(t, "//Bob").PublicKey(), chainfixture.DevKey(t, "//Alice").PublicKey()
	f.Set(t, chaintest.Block6852690, "Axons", nil, chainfixture.Net1(), bob[:])
	root := pubWallet(t, nil, bob, alice)
	code, out, errOut := runStatus(t, f, root)
	if code != 0 || !strings.Contains(out, "registered  no (register with `miner register --netuid 1`)") || !strings.Contains(out, "axon        none served") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runStatus(t, f, root, "--json")
	var rep chaincmd.StatusReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Registered || rep.Neuron != nil || !strings.Contains(out, `"neuron": null`) {
		t.Errorf("json: exit %d %s", code, out)
	}
	// Bad command lines.
	for _, args := range [][]string{{"--netuid", "70000"}, {"--external-port", "9000"}, {"--external-ip", "nope"}} {
		var o, e bytes.Buffer
		if code := statusCmd(context.Background(), append([]string{"--wallet-path", root, "--wallet", "w", "--hotkey", "h", "--netuid", "1"}, args...), &o, &e); code != 2 {
			t.Errorf("status %v = %d %s, want 2", args, code, e.String())
		}
	}
}
