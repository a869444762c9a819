// Package chaincmd is the miner's one-shot chain commands: `miner register` (burned_register or
// register_limit, paid from the coldkey), `miner commit` (set_commitment, or --show it) and
// `miner status` (the hotkey's UID, stake, incentive, emission, axon and projected standing on a
// subnet). Each dials --network, pins the typed client (chain/client's State) at the best block,
// reads what it needs and prints a table or JSON; register and commit sign and submit through
// chain/client. Package main parses nothing of theirs: it dispatches the arguments here.
package chaincmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/taominer/taominer/api"

	"github.com/taominer/taominer/chain/metagraph"
	"github.com/taominer/taominer/miner/internal/chainnode"
	"github.com/taominer/taominer/miner/internal/cli"
)

func statusUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: miner status --netuid N [options]

Reads the chain directly and shows the wallet's hotkey on subnet N: UID, stake, incentive,
emission per tempo and per day (alpha, and TAO at the subnet's moving price), rank among the
subnet's miners, and whether the axon on chain is --external-ip:--external-port. It also projects,
from the metagraph and the on-chain Weights and Bonds (Yuma consensus run locally, chain/yuma),
the incentive and emission the hotkey would get if the epoch ran now, and which validators weigh it.

Options:
  --netuid N            subnet (required)
  --network NETWORK     finney (default), test, local or a ws:// or wss:// URL
  --wallet-path DIR     wallets folder (default ~/.bittensor/wallets)
  --wallet NAME         wallet name (default "default")
  --hotkey NAME         hotkey name (default "default")
  --external-ip IP      the axon IP you expect on chain
  --external-port PORT  the axon port you expect on chain (default 8091 when --external-ip is given)
  --url URL             also show the running node's GET /v1/chain (e.g. http://node:8000), with
                        the validator calls its axon saw (GET /v1/axon when the node runs offline)
  --json                one JSON document for scripts
`)
}

// StatusReport is `miner status --json`.
type StatusReport struct {
	Network    string            `json:"network"`
	Netuid     uint16            `json:"netuid"`
	Block      uint64            `json:"block"`
	Tempo      uint16            `json:"tempo"`
	Hotkey     string            `json:"hotkey"`
	Registered bool              `json:"registered"`
	Neuron     *api.NeuronStatus `json:"neuron"`
	PriceTAO   *float64          `json:"moving_price_tao_per_alpha"`
	Axon       StatusAxon        `json:"axon"`
	Node       json.RawMessage   `json:"node,omitempty"`
	NodeError  string            `json:"node_error,omitempty"`
	// Validators is the node's validators section: what its axon saw of validator calls (from
	// GET /v1/chain, or GET /v1/axon when the node runs offline); absent without --url or axon.
	Validators *api.Validators `json:"validators,omitempty"`
	// Projection is what the hotkey would get if the epoch ran at Block (null when not
	// registered or when it could not be computed: ProjectionError).
	Projection      *api.Projection `json:"projection"`
	ProjectionError string          `json:"projection_error,omitempty"`
}

// StatusAxon is the axon section of StatusReport.
type StatusAxon struct {
	OnChain      string `json:"on_chain"`
	OnChainBlock uint64 `json:"on_chain_block"`
	Version      uint32 `json:"version"`
	Expected     string `json:"expected,omitempty"`
	Matches      *bool  `json:"matches"` // null when no --external-ip was given
}

// Status runs `miner status` with args.
func Status(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags, wf, netuidFlag, network := cli.NewSubnetFlagSet("miner status", "subnet", stderr)
	flags.Usage = func() { statusUsage(stderr) }
	extIP := flags.String("external-ip", "", "expected axon IP")
	extPort := flags.Int("external-port", 0, "expected axon port")
	url := flags.String("url", "", "running node's base URL")
	asJSON := flags.Bool("json", false, "print JSON")
	netuid, err := cli.ParseSubnetFlags(flags, args, netuidFlag)
	if err != nil {
		return err
	}
	var expected string
	var wantIP netip.Addr
	if *extIP != "" {
		if wantIP, err = netip.ParseAddr(*extIP); err != nil {
			return cli.UsageError{Msg: "--external-ip: " + err.Error()}
		}
		wantIP = wantIP.Unmap()
		port := *extPort
		if port == 0 {
			port = 8091
		}
		if port < 1 || port > 65535 {
			return cli.UsageError{Msg: fmt.Sprintf("--external-port %d out of range", port)}
		}
		expected = netip.AddrPortFrom(wantIP, uint16(port)).String()
	} else if *extPort != 0 {
		return cli.UsageError{Msg: "--external-port needs --external-ip"}
	}
	w, hotSS58, hot, err := wf.OpenHotkey("")
	if err != nil {
		return err
	}

	r, best, closeRPC, err := chainnode.DialSubnet(ctx, *network, netuid)
	if err != nil {
		return err
	}
	defer closeRPC()
	c := r.Client()
	snap, err := metagraph.Read(ctx, c, netuid, best, *r.Block(), nil, nil)
	if err != nil {
		return err
	}
	rep := StatusReport{Network: *network, Netuid: netuid, Block: snap.Block, Tempo: snap.Tempo, Hotkey: hotSS58}
	if snap.PriceKnown {
		p := snap.MovingPrice
		rep.PriceTAO = &p
	}
	nr, registered := snap.ByHotkey(hotSS58)
	rep.Registered = registered
	if registered {
		rep.Neuron = chainnode.DescribeNeuron(snap, nr)
		rep.Axon.OnChain, rep.Axon.OnChainBlock, rep.Axon.Version = chainnode.AxonAddr(nr.Axon), nr.Axon.Block, nr.Axon.Version
		if rep.Projection, err = chainnode.Project(ctx, c, snap, nr.UID); err != nil {
			rep.ProjectionError = err.Error()
		}
	} else if a, err := r.Axon(ctx, netuid, hot); err == nil {
		rep.Axon.OnChain, rep.Axon.OnChainBlock, rep.Axon.Version = chainnode.AxonAddr(a), a.Block, a.Version
	}
	if expected != "" {
		rep.Axon.Expected = expected
		m := rep.Axon.OnChain == expected
		rep.Axon.Matches = &m
	}
	if *url != "" {
		rep.Node, rep.Validators, err = nodeChain(ctx, *url)
		if err != nil {
			rep.NodeError = err.Error()
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printStatus(stdout, rep, w.Name+"/"+w.Hotkey)
	return nil
}

// nodeChain fetches a running node's GET /v1/chain and the validators section in it. A node
// that runs offline answers 404 there; its axon's validators then come from GET /v1/axon, and
// the 404 is still reported.
func nodeChain(ctx context.Context, base string) (json.RawMessage, *api.Validators, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var section struct {
		Validators *api.Validators `json:"validators"`
	}
	body, code, err := nodeGet(ctx, base, "/v1/chain")
	if code == http.StatusNotFound {
		if ab, _, aerr := nodeGet(ctx, base, "/v1/axon"); aerr == nil && json.Unmarshal(ab, &section) == nil {
			return nil, section.Validators, err
		}
	}
	if err != nil {
		return nil, nil, err
	}
	if err := json.Unmarshal(body, &section); err != nil {
		return nil, nil, fmt.Errorf("GET %s/v1/chain: %w", base, err)
	}
	return body, section.Validators, nil
}

// nodeGet GETs path from a running node and returns its JSON body, or an error with the status.
func nodeGet(ctx context.Context, base, path string) (json.RawMessage, int, error) {
	u := strings.TrimSuffix(base, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("--url: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, fmt.Errorf("GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	if !json.Valid(body) {
		return nil, resp.StatusCode, fmt.Errorf("GET %s: not JSON", u)
	}
	return body, resp.StatusCode, nil
}

func printStatus(w io.Writer, r StatusReport, walletName string) {
	fmt.Fprintf(w, "network     %s\n", r.Network)
	fmt.Fprintf(w, "subnet      %d at block %d (tempo %d blocks)\n", r.Netuid, r.Block, r.Tempo)
	fmt.Fprintf(w, "hotkey      %s (%s)\n", r.Hotkey, walletName)
	if !r.Registered {
		fmt.Fprintf(w, "registered  no (register with `miner register --netuid %d`)\n", r.Netuid)
	} else {
		n := r.Neuron
		role := "miner"
		if n.ValidatorPermit {
			role = "validator permit"
		}
		fmt.Fprintf(w, "registered  yes, UID %d (%s, active %v, last update block %d)\n", n.UID, role, n.Active, n.LastUpdate)
		fmt.Fprintf(w, "stake       %.9f α\n", n.StakeAlpha)
		fmt.Fprintf(w, "incentive   %.6f (rank %d of %d miners)\n", n.Incentive, n.Rank, n.Miners)
		fmt.Fprintf(w, "emission    %.9f α per tempo, %.9f α per day", n.EmissionAlphaTempo, n.EmissionAlphaDay)
		if n.EmissionTAODay != nil && r.PriceTAO != nil {
			fmt.Fprintf(w, " ≈ τ%.9f per day at %.9f τ/α", *n.EmissionTAODay, *r.PriceTAO)
		} else {
			fmt.Fprint(w, " (no moving price from this runtime: TAO not shown)")
		}
		fmt.Fprintln(w)
		printProjection(w, r.Projection, r.ProjectionError)
	}
	axon := r.Axon.OnChain
	if axon == "" {
		axon = "none served"
	} else {
		axon = fmt.Sprintf("%s (version %d, block %d)", axon, r.Axon.Version, r.Axon.OnChainBlock)
	}
	switch {
	case r.Axon.Matches == nil:
		fmt.Fprintf(w, "axon        %s\n", axon)
	case *r.Axon.Matches:
		fmt.Fprintf(w, "axon        %s: matches %s\n", axon, r.Axon.Expected)
	default:
		fmt.Fprintf(w, "axon        %s: DIFFERS from %s\n", axon, r.Axon.Expected)
	}
	switch {
	case r.NodeError != "":
		fmt.Fprintf(w, "node        %s\n", r.NodeError)
	case r.Node != nil:
		var pretty strings.Builder
		var v map[string]any
		if json.Unmarshal(r.Node, &v) == nil {
			delete(v, "validators") // shown as tables below
			b, _ := json.MarshalIndent(v, "            ", "  ")
			pretty.Write(b)
		}
		fmt.Fprintf(w, "node        %s\n", pretty.String())
	}
	if r.Validators != nil {
		printValidators(w, r.Validators)
	}
}

// printValidators shows what the node's axon saw: totals, the busiest callers and the recent
// calls, newest first.
func printValidators(w io.Writer, v *api.Validators) {
	fmt.Fprintf(w, "validators  %d answered, %d refused since %s\n", v.Answered, v.Refused, v.Since.Format(time.RFC3339))
	uid := func(u *int) string {
		if u == nil {
			return "-"
		}
		return fmt.Sprint(*u)
	}
	if len(v.Callers) > 0 {
		fmt.Fprintf(w, "  %-48s  %5s  %8s  %6s  %7s  %-20s  %s\n", "caller", "uid", "answered", "errors", "refused", "last seen", "last status")
		for _, c := range v.Callers {
			fmt.Fprintf(w, "  %-48s  %5s  %8d  %6d  %7d  %-20s  %d\n", c.Hotkey, uid(c.UID), c.Answered, c.Errors, c.Refused,
				c.LastSeen.Format(time.RFC3339), c.LastStatus)
		}
	}
	if len(v.Recent) > 0 {
		fmt.Fprintf(w, "  recent calls, newest first:\n")
		fmt.Fprintf(w, "  %-24s  %-48s  %5s  %-12s  %6s  %9s  %s\n", "time", "hotkey", "uid", "synapse", "status", "ms", "refused")
		for _, q := range v.Recent {
			fmt.Fprintf(w, "  %-24s  %-48s  %5s  %-12s  %6d  %9.2f  %s\n", q.Time.Format("2006-01-02T15:04:05.000"), q.Hotkey, uid(q.UID),
				q.Synapse, q.Status, q.ProcessMS, q.Reason)
		}
	}
}

// printProjection writes the projection lines of `miner status`.
func printProjection(w io.Writer, p *api.Projection, errText string) {
	if p == nil {
		if errText != "" {
			fmt.Fprintf(w, "projected   unavailable: %s\n", errText)
		}
		return
	}
	fmt.Fprintf(w, "projected   incentive %.6f, consensus %.6f, emission %.9f α if the epoch ran after block %d\n",
		p.Incentive, p.Consensus, p.EmissionAlpha, p.Block)
	fmt.Fprintf(w, "            (share of %.9f α, what the last epoch paid; pending now %.9f α; spec %d rules)\n",
		p.BasisAlpha, p.PendingAlpha, p.SpecVersion)
	if len(p.Weighers) == 0 {
		fmt.Fprintln(w, "            no validator weighs this hotkey")
		return
	}
	fmt.Fprintf(w, "            %5s  %8s  %8s  %8s  %10s  %s\n", "uid", "stake", "weight", "clipped", "rank share", "validator")
	for _, v := range p.Weighers {
		fmt.Fprintf(w, "            %5d  %8.4f  %8.4f  %8.4f  %10.4f  %s\n", v.UID, v.Stake, v.Weight, v.Clipped, v.RankShare, v.Hotkey)
	}
}
