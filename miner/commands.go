package main

import (
	"context"
	"io"

	"github.com/taominer/taominer/chain/wallet"
	"github.com/taominer/taominer/miner/internal/chaincmd"
	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/miner/internal/simulate"
	"github.com/taominer/taominer/miner/internal/validate"
)

// The subcommands whose logic lives in packages: each returns the exit code, 0 done, 1 failed,
// 2 bad command line.

// unlockColdkey decrypts the coldkey (Argon2i, about 5 s and 0.5 GiB). Tests that only need a
// signer replace it to keep the number of real unlocks small.
var unlockColdkey chaincmd.Unlock = (*wallet.Wallet).UnlockColdkey

// registerCmd runs `miner register`: 0 registered (or already).
func registerCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return exitCode(chaincmd.Register(ctx, args, stdin, stdout, stderr, unlockColdkey), stderr, "miner register")
}

// commitCmd runs `miner commit`: 0 committed (or shown).
func commitCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return exitCode(chaincmd.Commit(ctx, args, stdin, stdout, stderr), stderr, "miner commit")
}

// statusCmd runs `miner status`: 0 shown.
func statusCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return exitCode(chaincmd.Status(ctx, args, stdout, stderr), stderr, "miner status")
}

// validateCmd runs `miner validate`: 0 ranked.
func validateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return exitCode(validate.Run(ctx, args, stdout, stderr), stderr, "miner validate")
}

// simulateCmd runs `miner simulate`, its miners started as serve composes a node.
func simulateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return exitCode(simulate.Run(ctx, args, stdout, stderr, startSimMiner), stderr, "miner simulate")
}

// startSimMiner is simulate.StartMiner: a node as serve builds it.
func startSimMiner(ctx context.Context, cfg config.Serve, stderr io.Writer) (string, func(context.Context) error, error) {
	n, err := newNode(ctx, cfg, newLogger(cfg, stderr))
	if err != nil {
		return "", nil, err
	}
	return n.AxonAddr(), n.run, nil
}
