package config

import (
	"flag"
	"fmt"
	"slices"
	"strings"
)

// Suggest returns the candidate closest to name, for a "did you mean" hint,
// or "" when none is close. Names compare without case, with - and _ alike;
// closeness is the number of letters inserted, deleted, replaced or swapped
// with a neighbour, at most 2 and less than half of name. Ties go to the
// candidate first in sorted order.
func Suggest(name string, candidates []string) string {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "-", "_")) }
	n := norm(strings.TrimLeft(name, "-"))
	best, bestDist := "", 3
	for _, c := range slices.Sorted(slices.Values(candidates)) {
		if d := editDistance(n, norm(c)); d < bestDist && 2*d < len(n) {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of adjacent letters, each
// costing 1.
func editDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	// rows i-2, i-1 and i of the distance table.
	prev2, prev, cur := make([]int, len(y)+1), make([]int, len(y)+1), make([]int, len(y)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(x); i++ {
		cur[0] = i
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(y)]
}

// UnknownFlagError is a command line flag that the command does not define.
type UnknownFlagError struct {
	// Command is the command, e.g. "miner serve".
	Command string
	// Flag is the flag as given, without dashes.
	Flag string
	// Suggestion is the defined flag closest to Flag, or "".
	Suggestion string
}

func (e *UnknownFlagError) Error() string {
	msg := "unknown flag --" + e.Flag
	if e.Suggestion != "" {
		msg += "; did you mean --" + e.Suggestion + "?"
	}
	return fmt.Sprintf("%s (%s --help lists them)", msg, e.Command)
}

// undefinedFlag starts the flag package's error for a flag fs does not
// define.
const undefinedFlag = "flag provided but not defined: -"

// FlagError turns err, returned by fs.Parse for command (e.g. "miner
// serve"), into an *UnknownFlagError with a suggestion when the flag is not
// defined; other errors are returned unchanged.
func FlagError(fs *flag.FlagSet, command string, err error) error {
	name, ok := strings.CutPrefix(err.Error(), undefinedFlag)
	if !ok {
		return err
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return &UnknownFlagError{Command: command, Flag: name, Suggestion: Suggest(name, names)}
}
