package main

import "github.com/taominer/taominer/miner/internal/cli"

// The command-line helpers the subcommands of package main share (miner/internal/cli).
var (
	newFlagSet     = cli.NewFlagSet
	parseOrExit    = cli.ParseOrExit
	exitCode       = cli.ExitCode
	helpOrUnknown  = cli.HelpOrUnknown
	addWalletFlags = cli.AddWalletFlags
	expandHome     = cli.ExpandHome
)
