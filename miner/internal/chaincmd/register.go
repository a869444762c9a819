package chaincmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"

	"github.com/taominer/taominer/chain/client"
	"github.com/taominer/taominer/chain/extrinsic"
	"github.com/taominer/taominer/chain/metadata"
	"github.com/taominer/taominer/chain/ss58"
	"github.com/taominer/taominer/chain/wallet"
	"github.com/taominer/taominer/miner/internal/chainnode"
	"github.com/taominer/taominer/miner/internal/cli"
)

func registerUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: miner register --netuid N [options]

Registers the wallet's hotkey on subnet N by burning TAO from the coldkey (burned_register, or
register_limit with --max-burn when the runtime has it). Shows the burn price and the coldkey's
free balance and asks before submitting; the coldkey password comes from
$TAOMINER_WALLET_PASSWORD or a prompt. A hotkey already registered is reported, and nothing is
submitted.

Options:
  --netuid N          subnet to register on (required)
  --network NETWORK   finney (default), test, local or a ws:// or wss:// URL
  --wallet-path DIR   wallets folder (default ~/.bittensor/wallets)
  --wallet NAME       wallet name (default "default")
  --hotkey NAME       hotkey name (default "default")
  --max-burn TAO      refuse to pay more than this (register_limit's price cap where available)
  --yes               do not ask for confirmation
`)
}

// Unlock decrypts a wallet's coldkey with password (Argon2i, about 5 s and 0.5 GiB):
// (*wallet.Wallet).UnlockColdkey, or a stand-in where tests only need a signer.
type Unlock func(w *wallet.Wallet, password []byte) (*wallet.Keypair, error)

// errDeclined is returned when the user answers no.
var errDeclined = errors.New("not registered: declined")

// Register runs `miner register` with args, unlocking the coldkey with unlockColdkey.
func Register(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, unlockColdkey Unlock) error {
	flags, wf, netuidFlag, network := cli.NewSubnetFlagSet("miner register", "subnet to register on", stderr)
	flags.Usage = func() { registerUsage(stderr) }
	maxBurnFlag := flags.String("max-burn", "", "largest burn to pay, in TAO")
	yes := flags.Bool("yes", false, "do not ask for confirmation")
	netuid, err := cli.ParseSubnetFlags(flags, args, netuidFlag)
	if err != nil {
		return err
	}
	if netuid == 0 {
		return cli.UsageError{Msg: "--netuid 0 is the root network; neurons register on subnets 1 and up"}
	}
	var maxBurn uint64
	if *maxBurnFlag != "" {
		if maxBurn, err = parseTAO(*maxBurnFlag); err != nil {
			return cli.UsageError{Msg: "--max-burn: " + err.Error()}
		}
	}
	w, hotSS58, hot, err := wf.OpenHotkey(" (create it with `miner wallet new --hot`)")
	if err != nil {
		return err
	}
	coldSS58, err := w.ColdkeyPub()
	if err != nil {
		return fmt.Errorf("coldkey of wallet %q: %w (registering pays from the coldkey)", w.Name, err)
	}
	cold, err := ss58.DecodeBittensor(coldSS58)
	if err != nil {
		return err
	}

	r, best, closeRPC, err := chainnode.DialSubnet(ctx, *network, netuid)
	if err != nil {
		return err
	}
	defer closeRPC()
	c := r.Client()
	if uid, ok, err := r.UID(ctx, netuid, hot); err != nil {
		return fmt.Errorf("check registration: %w", err)
	} else if ok {
		fmt.Fprintf(stdout, "hotkey %s is already registered on subnet %d of %s as UID %d; nothing to do\n", hotSS58, netuid, *network, uid)
		return nil
	}
	burn, err := r.Burn(ctx, netuid)
	if err != nil {
		return err
	}
	free, err := r.FreeBalance(ctx, cold)
	if err != nil {
		return fmt.Errorf("coldkey balance: %w", err)
	}
	md := c.Runtime().Metadata
	_, limitErr := md.Call("SubtensorModule", "register_limit")
	useLimit := maxBurn > 0 && limitErr == nil

	fmt.Fprintf(stdout, "network   %s (block %d, runtime %d)\n", *network, best, c.Runtime().Version.SpecVersion)
	fmt.Fprintf(stdout, "subnet    %d\n", netuid)
	fmt.Fprintf(stdout, "hotkey    %s (%s/%s)\n", hotSS58, w.Name, w.Hotkey)
	fmt.Fprintf(stdout, "coldkey   %s, free balance τ%s\n", coldSS58, formatRao(free))
	fmt.Fprintf(stdout, "burn      τ%s (recycled to register; the price moves from block to block)\n", formatRao(burn))
	if maxBurn > 0 {
		if burn > maxBurn {
			return fmt.Errorf("the burn τ%s is above --max-burn τ%s; not submitted", formatRao(burn), formatRao(maxBurn))
		}
		if useLimit {
			fmt.Fprintf(stdout, "price cap τ%s (register_limit: the chain refuses if the burn rises above it)\n", formatRao(maxBurn))
		} else {
			fmt.Fprintf(stdout, "price cap τ%s checked here only: this runtime has no register_limit\n", formatRao(maxBurn))
		}
	}
	if free < burn {
		return fmt.Errorf("the coldkey's free balance τ%s is below the burn τ%s; not submitted", formatRao(free), formatRao(burn))
	}
	if !*yes {
		ok, err := cli.Confirm(stdin, stderr, fmt.Sprintf("Burn about τ%s to register on subnet %d? [y/N] ", formatRao(burn), netuid))
		if err != nil {
			return err
		}
		if !ok {
			return errDeclined
		}
	}

	pw := cli.NewPasswordSource(stdin, stderr)
	defer pw.Zero()
	password, err := pw.Get(false)
	if err != nil {
		return err
	}
	fmt.Fprintln(stderr, "unlocking the coldkey (a few seconds)…")
	signer, err := unlockColdkey(w, password)
	if err != nil {
		return fmt.Errorf("unlock coldkey: %w", err)
	}
	defer signer.Zero()
	if signer.PublicKey() != cold {
		return fmt.Errorf("unlock coldkey: %w", wallet.ErrMismatch)
	}

	if _, err := c.Refresh(ctx); err != nil {
		return fmt.Errorf("runtime version: %w", err)
	}
	md = c.Runtime().Metadata
	var call extrinsic.Call
	name := "burned_register"
	if useLimit {
		name = "register_limit"
		call, err = extrinsic.RegisterLimit(md, netuid, hot, maxBurn)
	} else {
		call, err = extrinsic.BurnedRegister(md, netuid, hot)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "submitting %s, waiting for inclusion…\n", name)
	block, err := c.SignAndSubmit(ctx, call, signer, client.SignOptions{})
	if err != nil {
		return describeSubmitError(name, err)
	}
	uid, ok, err := c.At(&block).UID(ctx, netuid, hot)
	if err != nil {
		return fmt.Errorf("%s was included in block %s, but reading the UID failed: %w", name, block, err)
	}
	if !ok {
		return fmt.Errorf("%s was included in block %s, but the hotkey has no UID there", name, block)
	}
	fmt.Fprintf(stdout, "registered: hotkey %s is UID %d on subnet %d (block %s)\n", hotSS58, uid, netuid, block)
	return nil
}

// describeSubmitError names a failed submission: pool rejections by code and custom name,
// dispatch errors by pallet and error name with the chain's explanation.
func describeSubmitError(call string, err error) error {
	var pe *client.PoolError
	var de *metadata.DispatchError
	switch {
	case errors.As(err, &pe):
		return fmt.Errorf("%s refused by the transaction pool: %w", call, err)
	case errors.As(err, &de):
		return fmt.Errorf("%s failed on chain: %w", call, err)
	case errors.Is(err, client.ErrTxNotIncluded):
		return fmt.Errorf("%s was not included: %w", call, err)
	}
	return fmt.Errorf("%s: %w", call, err)
}

// formatRao renders rao as a decimal amount with 9 places (τ or α units).
func formatRao(rao uint64) string {
	return fmt.Sprintf("%d.%09d", rao/chainnode.RaoPerTAO, rao%chainnode.RaoPerTAO)
}

// parseTAO converts a decimal TAO amount ("1.5", "0.000000001") to rao exactly.
func parseTAO(s string) (uint64, error) {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok || r.Sign() < 0 {
		return 0, fmt.Errorf("%q is not an amount of TAO", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(chainnode.RaoPerTAO))
	if !r.IsInt() || !r.Num().IsUint64() {
		return 0, fmt.Errorf("%q: at most 9 decimals and below 2^64 rao", s)
	}
	return r.Num().Uint64(), nil
}
