package wallet

import (
	"errors"
	"fmt"
	"math"
)

// The coldkey password rule of btcli (btwallet's validate_password, in
// src/keyfile.rs): at least MinPasswordLength bytes and a strength score of
// at least MinPasswordScore, where the score is that of the Rust crate
// passwords 3.1.16 (scorer::score of analyzer::analyze, without its
// common-password list), which btwallet uses.
const (
	MinPasswordLength = 6
	MinPasswordScore  = 20.0
)

// ErrWeakPassword is wrapped by CheckPassword's error when a new coldkey
// password fails btcli's rule.
var ErrWeakPassword = errors.New("coldkey password too weak")

// CheckPassword applies btcli's rule to a password that is about to encrypt
// a coldkey (creation, regeneration, re-encryption), never to one that
// unlocks an existing keyfile. The error says what is wrong and what to do.
func CheckPassword(password []byte) error {
	const do = "choose a longer password that mixes upper- and lower-case letters, digits, spaces and symbols " +
		"and avoids repeats and runs such as aaa or 123"
	if len(password) < MinPasswordLength {
		return fmt.Errorf("%w: shorter than %d characters (btcli's minimum); %s", ErrWeakPassword, MinPasswordLength, do)
	}
	if s := PasswordScore(password); s < MinPasswordScore {
		return fmt.Errorf("%w: strength score %.0f of 100, btcli needs %.0f; %s", ErrWeakPassword, math.Floor(s), MinPasswordScore, do)
	}
	return nil
}

// passwordStats is what the strength score is computed from.
type passwordStats struct {
	length, spaces, digits, lower, upper, symbols, other int
	// consecutive counts characters in runs of one repeated character
	// ("aaa" is 3); progressive counts characters in runs of a constant
	// step ("abc", "975"); repeated counts the other characters that occur
	// more than once.
	consecutive, progressive, repeated int
}

// analyzePassword counts a password's characters by class and its
// repetitions, skipping control characters.
func analyzePassword(password []byte) passwordStats {
	var st passwordStats
	seen := map[rune]int{}
	last := int64(-1) // no previous character
	lastStep := int64(math.MaxInt64)
	inRun := false     // the previous character repeated the one before it
	inStep := false    // the previous step continued a progression
	stepAgain := false // a progression just ended and may resume with the next step
	for _, c := range string(password) {
		if c <= 0x1f || c == 0x7f {
			continue
		}
		st.length++
		seen[c]++
		if int64(c) == last {
			if inRun {
				st.consecutive++
			} else {
				st.consecutive += 2
				inRun = true
			}
			inStep = false
		} else {
			inRun = false
			step := last - int64(c)
			last = int64(c)
			switch {
			case step == lastStep && inStep:
				st.progressive++
			case step == lastStep:
				inStep = true
				if stepAgain {
					st.progressive += 2
				} else {
					st.progressive += 3
				}
				stepAgain = true
			default:
				lastStep = step
				if inStep {
					inStep = false
				} else {
					stepAgain = false
				}
			}
		}
		switch {
		case c >= '0' && c <= '9':
			st.digits++
		case c >= 'A' && c <= 'Z':
			st.upper++
		case c >= 'a' && c <= 'z':
			st.lower++
		case c == ' ':
			st.spaces++
		case c >= '!' && c <= '~':
			st.symbols++
		default:
			st.other++
		}
	}
	for _, n := range seen {
		if n > 1 {
			st.repeated += n
		}
	}
	st.repeated -= st.consecutive
	return st
}

// passwordCeiling is the highest score of a password of n characters from
// the ASCII classes (index n); longer ones score 100 + length - 11.
var passwordCeiling = [...]float64{0, 2, 5, 9, 16, 25, 40, 58, 80, 88, 95, 100}

// PasswordScore is the strength score, 0 to 100, of the passwords crate
// that btwallet uses: a ceiling set by the length, lowered for each missing
// class (digits 5 %, lower case, upper case and spaces 10 % each) and for
// repeats and runs, raised a little for spaces, mixed case and symbols;
// each character outside printable ASCII adds 20.
func PasswordScore(password []byte) float64 {
	st := analyzePassword(password)
	var ceiling float64
	if n := st.length - st.other; n < len(passwordCeiling) {
		ceiling = passwordCeiling[n]
	} else {
		ceiling = float64(100 + st.length - 11)
	}
	score := ceiling
	if score > 0 {
		score += float64(st.spaces)
		for _, missing := range []struct {
			count  int
			weight float64
		}{{st.digits, 0.05}, {st.lower, 0.1}, {st.upper, 0.1}, {st.spaces, 0.1}} {
			if missing.count == 0 {
				score -= float64(ceiling * missing.weight)
			}
		}
		if st.lower > 0 && st.upper > 0 {
			score++
		}
		if st.symbols > 0 {
			score++
		}
		n := float64(st.length)
		// float64() rounds each product, as Rust does: no fused
		// multiply-add may move a score across the threshold.
		score -= float64(ceiling * (float64(st.consecutive) / n / 5))
		score -= float64(ceiling * (float64(st.progressive) / n / 5))
		score -= float64(ceiling * (float64(st.repeated) / n / 10))
	}
	score = min(max(score, 0), ceiling)
	return min(score+20*float64(st.other), 100)
}
