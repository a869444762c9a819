// Package cli is the command-line plumbing the miner's subcommands share: flag sets that
// return their errors and suggest the closest flag, exit codes (0 done, 1 failed, 2 bad command
// line), the wallet and subnet flags, and reading a password or a yes/no answer from the
// terminal without consuming more of stdin than one line. It knows no command; the commands'
// packages (miner/internal/walletcmd, chaincmd, validate, simulate, doctor) and package main
// use it.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/taominer/taominer/miner/internal/config"
)

// UsageError is a bad command line (exit status 2).
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

// Usagef returns a UsageError with a formatted message.
func Usagef(format string, args ...any) error { return UsageError{fmt.Sprintf(format, args...)} }

// NewFlagSet is the flag set of a subcommand, named by the command line
// that runs it ("miner doctor"): errors are returned, and the usage goes to
// stderr.
func NewFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	flags := flag.NewFlagSet(name, flag.ContinueOnError)
	flags.SetOutput(stderr)
	return flags
}

// Parse parses args into flags, holding back the flag package's own
// messages: -h prints the usage and returns flag.ErrHelp, and a flag that
// is not defined is a *config.UnknownFlagError that suggests the closest
// one ("unknown flag --modles; did you mean --models? (miner serve --help
// lists them)"). Other errors are the flag package's.
func Parse(flags *flag.FlagSet, args []string) error {
	out, usage := flags.Output(), flags.Usage
	flags.SetOutput(io.Discard)
	flags.Usage = func() {}
	err := flags.Parse(args)
	flags.SetOutput(out)
	flags.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		if usage != nil {
			usage()
		} else {
			fmt.Fprintf(out, "Usage of %s:\n", flags.Name())
			flags.PrintDefaults()
		}
		return err
	case err != nil:
		return config.FlagError(flags, flags.Name(), err)
	}
	return nil
}

// ParseFlags parses args into flags and allows no positional argument. It
// returns flag.ErrHelp for -h, and a UsageError for a bad command line.
func ParseFlags(flags *flag.FlagSet, args []string) error {
	if err := Parse(flags, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return UsageError{err.Error()}
	}
	if flags.NArg() > 0 {
		return Usagef("unexpected argument %q", flags.Arg(0))
	}
	return nil
}

// NewSubnetFlagSet is NewWalletFlagSet plus --netuid (described as
// netuidUsage) and --network, for the commands that act on a subnet.
func NewSubnetFlagSet(command, netuidUsage string, stderr io.Writer) (flags *flag.FlagSet, wf *WalletFlags, netuid *int, network *string) {
	flags, wf = NewWalletFlagSet(command, stderr)
	netuid = flags.Int("netuid", -1, netuidUsage)
	network = flags.String("network", "finney", "finney, test, local or a ws(s):// URL")
	return flags, wf, netuid, network
}

// ParseSubnetFlags is ParseFlags for a command on one subnet: it also checks
// --netuid, whose value is at netuid once parsed; a bad one is a UsageError.
func ParseSubnetFlags(flags *flag.FlagSet, args []string, netuid *int) (uint16, error) {
	if err := ParseFlags(flags, args); err != nil {
		return 0, err
	}
	n, err := ValidNetuid(*netuid)
	if err != nil {
		return 0, UsageError{err.Error()}
	}
	return n, nil
}

// ValidNetuid checks --netuid for a chain command.
func ValidNetuid(n int) (uint16, error) {
	if n < 0 || n > 65535 {
		return 0, fmt.Errorf("--netuid %d: give the subnet number (0-65535)", n)
	}
	return uint16(n), nil
}

// ParseOrExit parses args into flags for a command that returns its exit
// code itself, reporting a bad flag after the command's name. ok is false
// when the command should stop with code: 0 after -h or --help, 2 after a
// bad flag.
func ParseOrExit(flags *flag.FlagSet, args []string) (code int, ok bool) {
	if err := Parse(flags, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		fmt.Fprintln(flags.Output(), flags.Name()+":", err)
		return 2, false
	}
	return 0, true
}

// ExitCode is the exit code of command name ("miner status") that returned
// err: 0 for nil or flag.ErrHelp, 2 for a UsageError, else 1. A failure is
// reported on stderr after the command's name.
func ExitCode(err error, stderr io.Writer, name string) int {
	var ue UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, name+":", err)
		return 2
	default:
		fmt.Fprintln(stderr, name+":", err)
		return 1
	}
}

// HelpOrUnknown answers a word that names none of the subcommands of name
// ("miner wallet"): help, -h and --help print the usage on stdout and
// return 0; anything else is reported with the usage on stderr and
// returns 2.
func HelpOrUnknown(name, word string, usage func(io.Writer), stdout, stderr io.Writer) int {
	switch word {
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n", name, word)
	usage(stderr)
	return 2
}
