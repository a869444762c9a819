package chaincmd

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/taominer/taominer/chain/commitments"
	"github.com/taominer/taominer/chain/ss58"
	"github.com/taominer/taominer/miner/internal/chainnode"
	"github.com/taominer/taominer/miner/internal/cli"
)

func commitUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: miner commit --netuid N --data TEXT [options]
       miner commit --netuid N --show [--hotkey NAME|SS58] [options]

Publishes TEXT as the hotkey's commitment on subnet N (Commitments.set_commitment, signed by the
hotkey, which must be registered there; no fee), waits for inclusion and reads it back. Up to 128
bytes go in a Raw field, which every reader (the Python SDK included) can read; up to 512 bytes in
a BigRaw field where the runtime has one. Longer text is refused before submitting, as is a
commitment the pallet's rate limit would refuse (MaxSpace per subnet epoch: each commitment
costs its length, at least 100; older runtimes: one per RateLimit blocks). --show reads
CommitmentOf and the rate-limit standing of the wallet's hotkey, or of any hotkey given as SS58.

Options:
  --netuid N          subnet (required)
  --data TEXT         the text to commit
  --show              show the stored commitment instead
  --network NETWORK   finney (default), test, local or a ws:// or wss:// URL
  --wallet-path DIR   wallets folder (default ~/.bittensor/wallets)
  --wallet NAME       wallet name (default "default")
  --hotkey NAME       hotkey name (default "default"); with --show also an SS58 address
  --json              with --show: one JSON document for scripts
`)
}

// Commit runs `miner commit` with args: it publishes --data, or shows the stored commitment.
func Commit(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	flags, wf, netuidFlag, network := cli.NewSubnetFlagSet("miner commit", "subnet", stderr)
	flags.Usage = func() { commitUsage(stderr) }
	data := flags.String("data", "", "text to commit")
	show := flags.Bool("show", false, "show the stored commitment")
	asJSON := flags.Bool("json", false, "print JSON (with --show)")
	netuid, err := cli.ParseSubnetFlags(flags, args, netuidFlag)
	if err != nil {
		return err
	}
	dataSet := false
	flags.Visit(func(f *flag.Flag) { dataSet = dataSet || f.Name == "data" })
	switch {
	case *show && dataSet:
		return cli.UsageError{Msg: "give --data or --show, not both"}
	case *show:
		return showCommitment(ctx, wf, *network, netuid, *asJSON, stdout)
	case !dataSet:
		return cli.UsageError{Msg: "--data TEXT (or --show) is required"}
	case *asJSON:
		return cli.UsageError{Msg: "--json goes with --show"}
	}

	w, err := wf.Open()
	if err != nil {
		return err
	}
	hot, err := cli.LoadHotkey(w, stdin, stderr)
	if err != nil {
		return err
	}
	defer hot.Zero()
	r, best, closeRPC, err := chainnode.DialSubnet(ctx, *network, netuid)
	if err != nil {
		return err
	}
	defer closeRPC()
	if _, ok, err := r.UID(ctx, netuid, hot.PublicKey()); err != nil {
		return fmt.Errorf("check registration: %w", err)
	} else if !ok {
		return fmt.Errorf("hotkey %s is not registered on subnet %d of %s, and the runtime takes commitments only from registered hotkeys (AccountNotAllowedCommit): register it first with `miner register`", hot.SS58(), netuid, *network)
	}
	rules, err := commitments.ReadRules(r.Client().Runtime().Metadata)
	if err != nil {
		return err
	}
	field, err := rules.Text(*data)
	if err != nil {
		return fmt.Errorf("not submitted: %w", err)
	}
	fmt.Fprintf(stdout, "network     %s (block %d, runtime %d)\n", *network, best, rules.Spec)
	fmt.Fprintf(stdout, "subnet      %d\n", netuid)
	fmt.Fprintf(stdout, "hotkey      %s (%s/%s)\n", hot.SS58(), w.Name, w.Hotkey)
	fields := []commitments.Field{field}
	fmt.Fprintf(stdout, "commitment  %s (%d bytes)\n", field.Name(), len(field.Bytes))
	u, err := commitments.ReadUsage(ctx, r.Client(), netuid, hot.PublicKey())
	if err != nil {
		return err
	}
	printUsage(stdout, u, "")
	if err := u.Check(commitments.Cost(fields)); err != nil {
		return fmt.Errorf("not submitted: %w", err)
	}
	fmt.Fprintln(stdout, "submitting set_commitment, waiting for inclusion…")
	res, err := commitments.Commit(ctx, r.Client(), hot, netuid, fields)
	switch {
	case errors.Is(err, commitments.ErrRateLimited), errors.Is(err, commitments.ErrTooLong):
		return fmt.Errorf("not submitted: %w", err)
	case err != nil:
		return describeSubmitError("set_commitment", err)
	}
	fmt.Fprintf(stdout, "committed: %s on subnet %d at block %d (%s)\n", field, netuid, res.Stored.Block, res.Block)
	return nil
}

// commitmentReport is `miner commit --show --json`.
type commitmentReport struct {
	Network    string              `json:"network"`
	Netuid     uint16              `json:"netuid"`
	Block      uint64              `json:"block"`
	Hotkey     string              `json:"hotkey"`
	Commitment *storedCommitment   `json:"commitment"` // null when none
	Usage      commitments.Usage   `json:"rate_limit"`
	UsageError string              `json:"rate_limit_error,omitempty"`
	fields     []commitments.Field // for the text form
}

type storedCommitment struct {
	Block   uint32        `json:"block"`
	Deposit uint64        `json:"deposit"`
	Fields  []fieldReport `json:"fields"`
}

type fieldReport struct {
	Variant     string  `json:"variant"`
	Text        *string `json:"text,omitempty"` // Raw and BigRaw that are UTF-8
	Hex         string  `json:"hex"`
	RevealRound uint64  `json:"reveal_round,omitempty"`
}

func showCommitment(ctx context.Context, wf *cli.WalletFlags, network string, netuid uint16, asJSON bool, stdout io.Writer) error {
	account, err := ss58.DecodeBittensor(wf.Hotkey)
	if err != nil {
		_, _, pub, err := wf.OpenHotkey("")
		if err != nil {
			return err
		}
		account = pub
	}
	r, best, closeRPC, err := chainnode.DialSubnet(ctx, network, netuid)
	if err != nil {
		return err
	}
	defer closeRPC()
	reg, err := commitments.Read(ctx, r.Client(), netuid, account, r.Block())
	if err != nil {
		return err
	}
	rep := commitmentReport{Network: network, Netuid: netuid, Block: best, Hotkey: ss58.EncodeBittensor(account)}
	if reg != nil {
		rep.Commitment = &storedCommitment{Block: reg.Block, Deposit: reg.Deposit, Fields: []fieldReport{}}
		rep.fields = reg.Fields
		for _, f := range reg.Fields {
			fr := fieldReport{Variant: f.Name(), Hex: "0x" + hex.EncodeToString(f.Bytes), RevealRound: f.RevealRound}
			if t, ok := f.Text(); ok {
				fr.Text = &t
			}
			rep.Commitment.Fields = append(rep.Commitment.Fields, fr)
		}
	}
	if rep.Usage, err = commitments.ReadUsage(ctx, r.Client(), netuid, account); err != nil {
		rep.UsageError = err.Error()
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printCommitment(stdout, rep)
	return nil
}

func printCommitment(w io.Writer, rep commitmentReport) {
	fmt.Fprintf(w, "network     %s (block %d)\n", rep.Network, rep.Block)
	fmt.Fprintf(w, "subnet      %d\n", rep.Netuid)
	fmt.Fprintf(w, "hotkey      %s\n", rep.Hotkey)
	if c := rep.Commitment; c == nil {
		fmt.Fprintln(w, "commitment  none")
	} else {
		fmt.Fprintf(w, "commitment  set at block %d, %d fields\n", c.Block, len(c.Fields))
		for i, f := range rep.fields {
			fmt.Fprintf(w, "  field %d   %s\n", i, f)
		}
	}
	printUsage(w, rep.Usage, rep.UsageError)
}

// printUsage prints the rate-limit standing (or why it is unknown).
func printUsage(w io.Writer, u commitments.Usage, usageErr string) {
	switch {
	case usageErr != "":
		fmt.Fprintf(w, "rate limit  unknown: %s\n", usageErr)
	case u.SpaceLimit:
		fmt.Fprintf(w, "rate limit  %d of MaxSpace %d used in subnet epoch %d (resets in about %d blocks); a commitment costs its length, at least %d\n",
			u.Used, u.MaxSpace, u.Epoch, u.NextEpochIn, commitments.MinCost)
	case u.LastCommit > 0:
		fmt.Fprintf(w, "rate limit  one commitment per %d blocks; last at block %d\n", u.RateLimit, u.LastCommit)
	default:
		fmt.Fprintf(w, "rate limit  one commitment per %d blocks\n", u.RateLimit)
	}
}
