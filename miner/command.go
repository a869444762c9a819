package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/taominer/taominer/miner/internal/config"
)

// Helpers shared by the subcommands: flag parsing, exit codes and reading stdin.

// usageError is a bad command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// newFlagSet is the flag set of a subcommand, named by the command line
// that runs it ("miner doctor"): errors are returned, and the usage goes to
// stderr.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	flags := flag.NewFlagSet(name, flag.ContinueOnError)
	flags.SetOutput(stderr)
	return flags
}

// parse parses args into flags, holding back the flag package's own
// messages: -h prints the usage and returns flag.ErrHelp, and a flag that
// is not defined is a *config.UnknownFlagError that suggests the closest
// one ("unknown flag --modles; did you mean --models? (miner serve --help
// lists them)"). Other errors are the flag package's.
func parse(flags *flag.FlagSet, args []string) error {
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

// parseFlags parses args into flags and allows no positional argument. It
// returns flag.ErrHelp for -h, and a usageError for a bad command line.
func parseFlags(flags *flag.FlagSet, args []string) error {
	if err := parse(flags, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if flags.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", flags.Arg(0))}
	}
	return nil
}

// parseSubnetFlags is parseFlags for a command on one subnet: it also checks
// --netuid, whose value is at netuid once parsed; a bad one is a usageError.
// newSubnetFlagSet is newWalletFlagSet plus --netuid (described as
// netuidUsage) and --network, for the commands that act on a subnet.
func newSubnetFlagSet(command, netuidUsage string, stderr io.Writer) (flags *flag.FlagSet, wf *walletFlags, netuid *int, network *string) {
	flags, wf = newWalletFlagSet(command, stderr)
	netuid = flags.Int("netuid", -1, netuidUsage)
	network = flags.String("network", "finney", "finney, test, local or a ws(s):// URL")
	return flags, wf, netuid, network
}

func parseSubnetFlags(flags *flag.FlagSet, args []string, netuid *int) (uint16, error) {
	if err := parseFlags(flags, args); err != nil {
		return 0, err
	}
	n, err := validNetuid(*netuid)
	if err != nil {
		return 0, usageError{err.Error()}
	}
	return n, nil
}

// parseOrExit parses args into flags for a command that returns its exit
// code itself, reporting a bad flag after the command's name. ok is false
// when the command should stop with code: 0 after -h or --help, 2 after a
// bad flag.
func parseOrExit(flags *flag.FlagSet, args []string) (code int, ok bool) {
	if err := parse(flags, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		fmt.Fprintln(flags.Output(), flags.Name()+":", err)
		return 2, false
	}
	return 0, true
}

// exitCode is the exit code of command name ("miner status") that returned
// err: 0 for nil or flag.ErrHelp, 2 for a usageError, else 1. A failure is
// reported on stderr after the command's name.
func exitCode(err error, stderr io.Writer, name string) int {
	var ue usageError
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

// helpOrUnknown answers a word that names none of the subcommands of name
// ("miner wallet"): help, -h and --help print the usage on stdout and
// return 0; anything else is reported with the usage on stderr and
// returns 2.
func helpOrUnknown(name, word string, usage func(io.Writer), stdout, stderr io.Writer) int {
	switch word {
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n", name, word)
	usage(stderr)
	return 2
}

// readLine reads one line from r, a byte at a time so that nothing after it
// is consumed (a later prompt reads the next line). The line is returned
// without its '\n'; eof is true when r ended before a '\n'. err is a read
// error other than io.EOF, returned with what was read so far.
func readLine(r io.Reader) (line []byte, eof bool, err error) {
	line = make([]byte, 0, 256)
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return line, false, nil
			}
			line = append(line, buf[0])
			continue
		}
		if errors.Is(err, io.EOF) {
			return line, true, nil
		}
		if err != nil {
			return line, false, err
		}
	}
}

// dialSubnet is dialBest for a command on subnet netuid of network: it fails
// when the subnet does not exist there.
func dialSubnet(ctx context.Context, network string, netuid uint16) (chainReader, uint64, func(), error) {
	r, best, closeRPC, err := dialBest(ctx, network)
	if err != nil {
		return chainReader{}, 0, nil, err
	}
	ok, err := r.subnetExists(ctx, netuid)
	if err == nil && !ok {
		err = fmt.Errorf("subnet %d does not exist on %s", netuid, network)
	}
	if err != nil {
		closeRPC()
		return chainReader{}, 0, nil, err
	}
	return r, best, closeRPC, nil
}
