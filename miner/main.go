// Command miner is the taominer node: it serves ONNX models over the KServe v2
// / Open Inference Protocol with dynamic batching.
//
//	miner serve [options]   serve the model repository (see miner serve --help)
//	miner version           print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/miner/internal/doctor"
	"github.com/taominer/taominer/miner/internal/walletcmd"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: miner <command> [options]

Commands:
  serve     serve the ONNX models of a model repository (miner serve --help)
  bench     measure a server's throughput and latency, and the raw ONNX Runtime limit (miner bench --help)
  wallet    create, regenerate, list and show btcli-compatible wallets (miner wallet help)
  register  register the wallet's hotkey on a subnet by burning TAO (miner register --help)
  commit    publish a text (an endpoint URL, a model id) as the hotkey's commitment on a subnet, or --show it (miner commit --help)
  status    show the hotkey's UID, stake, incentive, emission and axon on a subnet (miner status --help)
  query     sign one synapse with a hotkey and send it to an axon, as a validator does (miner query --help)
  validate  query axons with a reference input set, score the answers against a reference model, rank them (miner validate --help)
  simulate  run a local subnet: in-process miners, validators scoring them over the axon, Yuma epochs (miner simulate --help)
  doctor    report ONNX Runtime, its execution providers, the GPUs and the build; --selftest runs each device (miner doctor --help)
  healthcheck  exit 0 when a node's /v2/health/ready answers 200, else 1 (for container health checks)
  version   print the version
`)
}

// command is a subcommand: it runs with the arguments after its name and
// returns the process exit code.
type command func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// interruptible are the subcommands that run with a context cancelled by
// SIGINT or SIGTERM.
var interruptible = map[string]command{
	"bench": bench,
	"wallet": func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		return walletcmd.Run(ctx, args, os.Stdin, stdout, stderr)
	},
	"register": func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		return registerCmd(ctx, args, os.Stdin, stdout, stderr)
	},
	"commit": func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		return commitCmd(ctx, args, os.Stdin, stdout, stderr)
	},
	"status":   statusCmd,
	"query":    queryCmd,
	"validate": validateCmd,
	"simulate": simulateCmd,
	"doctor":   doctor.Run,
}

// run dispatches a subcommand and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	if cmd, ok := interruptible[args[0]]; ok {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return cmd(ctx, args[1:], stdout, stderr)
	}
	switch args[0] {
	case "serve":
		cfg, err := config.LoadServe(args[1:], os.LookupEnv)
		if errors.Is(err, flag.ErrHelp) {
			config.ServeUsage(stdout)
			return 0
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := serve(ctx, cfg, stderr); err != nil {
			fmt.Fprintln(stderr, "miner:", err)
			return 1
		}
		return 0
	case "healthcheck":
		return healthcheckCmd(context.Background(), args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "taominer", version)
		return 0
	default:
		return helpOrUnknown("miner", args[0], usage, stdout, stderr)
	}
}
