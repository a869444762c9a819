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
  status    show the hotkey's UID, stake, incentive, emission and axon on a subnet (miner status --help)
  query     sign one synapse with a hotkey and send it to an axon, as a validator does (miner query --help)
  validate  query axons with a reference input set, score the answers against a reference model, rank them (miner validate --help)
  simulate  run a local subnet: in-process miners, validators scoring them over the axon, Yuma epochs (miner simulate --help)
  doctor    report ONNX Runtime, its execution providers, the GPUs and the build; --selftest runs each device (miner doctor --help)
  healthcheck  exit 0 when a node's /v2/health/ready answers 200, else 1 (for container health checks)
  version   print the version
`)
}

// run dispatches a subcommand and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
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
	case "bench":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return bench(ctx, args[1:], stdout, stderr)
	case "wallet":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return walletCmd(ctx, args[1:], os.Stdin, stdout, stderr)
	case "register":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return registerCmd(ctx, args[1:], os.Stdin, stdout, stderr)
	case "status":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return statusCmd(ctx, args[1:], stdout, stderr)
	case "query":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return queryCmd(ctx, args[1:], stdout, stderr)
	case "validate":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return validateCmd(ctx, args[1:], stdout, stderr)
	case "simulate":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return simulateCmd(ctx, args[1:], stdout, stderr)
	case "doctor":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return doctorCmd(ctx, args[1:], stdout, stderr)
	case "healthcheck":
		return healthcheckCmd(context.Background(), args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "taominer", version)
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "miner: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
}
