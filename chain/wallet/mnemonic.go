package wallet

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"strings"

	bip39 "github.com/cosmos/go-bip39"
)

// ErrInvalidMnemonic is returned (wrapped) for a phrase that is not a valid
// English BIP39 mnemonic: an unknown word, a wrong word count or a bad
// checksum.
var ErrInvalidMnemonic = errors.New("invalid mnemonic")

// GenerateMnemonic returns a new random English BIP39 mnemonic of 12, 15, 18,
// 21 or 24 words (btcli's default is 12).
func GenerateMnemonic(words int) (string, error) {
	if words < 12 || words > 24 || words%3 != 0 {
		return "", fmt.Errorf("mnemonic length %d: want 12, 15, 18, 21 or 24 words", words)
	}
	entropy := make([]byte, words*4/3)
	defer clear(entropy)
	if _, err := rand.Read(entropy); err != nil {
		return "", fmt.Errorf("read entropy: %w", err)
	}
	sum := sha256.Sum256(entropy)
	defer clear(sum[:])
	// Bits: entropy followed by the first len(entropy)/4 bits of its hash.
	bit := func(i int) int {
		if i < len(entropy)*8 {
			return int(entropy[i/8]>>(7-i%8)) & 1
		}
		i -= len(entropy) * 8
		return int(sum[i/8]>>(7-i%8)) & 1
	}
	var b strings.Builder
	for w := 0; w < words; w++ {
		idx := 0
		for j := 0; j < 11; j++ {
			idx = idx<<1 | bit(w*11+j)
		}
		if w > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(bip39.WordList[idx])
	}
	return b.String(), nil
}

// normalizeMnemonic collapses runs of white space to single spaces.
func normalizeMnemonic(phrase string) string {
	return strings.Join(strings.Fields(phrase), " ")
}

// mnemonicEntropy returns the entropy a normalized English mnemonic encodes,
// after checking its checksum. The caller zeroes the result.
func mnemonicEntropy(phrase string) ([]byte, error) {
	words := strings.Split(phrase, " ")
	n := len(words)
	if n < 12 || n > 24 || n%3 != 0 {
		return nil, fmt.Errorf("%w: %d words, want 12, 15, 18, 21 or 24", ErrInvalidMnemonic, n)
	}
	total := n * 11 // bits: entropy + checksum
	entBits := total * 32 / 33
	buf := make([]byte, (total+7)/8)
	defer clear(buf)
	for w, word := range words {
		idx, ok := bip39.ReverseWordMap[word]
		if !ok {
			return nil, fmt.Errorf("%w: word %d is not in the English BIP39 list", ErrInvalidMnemonic, w+1)
		}
		for j := 0; j < 11; j++ {
			if idx>>(10-j)&1 == 1 {
				pos := w*11 + j
				buf[pos/8] |= 1 << (7 - pos%8)
			}
		}
	}
	entropy := make([]byte, entBits/8)
	copy(entropy, buf)
	sum := sha256.Sum256(entropy)
	csBits := total - entBits
	for j := 0; j < csBits; j++ {
		pos := entBits + j
		got := buf[pos/8] >> (7 - pos%8) & 1
		want := sum[j/8] >> (7 - j%8) & 1
		if got != want {
			clear(entropy)
			clear(sum[:])
			return nil, fmt.Errorf("%w: bad checksum", ErrInvalidMnemonic)
		}
	}
	clear(sum[:])
	return entropy, nil
}

// miniSecretFromMnemonic derives the 32-byte mini secret of a mnemonic the
// substrate-bip39 way: PBKDF2-HMAC-SHA512 with the entropy (not the phrase)
// as the password, salt "mnemonic"+password, 2048 rounds, first 32 bytes.
func miniSecretFromMnemonic(phrase, password string) (*[32]byte, error) {
	entropy, err := mnemonicEntropy(phrase)
	if err != nil {
		return nil, err
	}
	defer clear(entropy)
	seed64, err := pbkdf2.Key(sha512.New, string(entropy), []byte("mnemonic"+password), 2048, 64)
	if err != nil {
		return nil, fmt.Errorf("pbkdf2: %w", err)
	}
	defer clear(seed64)
	var mini [32]byte
	copy(mini[:], seed64)
	return &mini, nil
}

// FromMnemonic returns the keypair of a BIP39 mnemonic as btcli derives it
// (no BIP39 passphrase). White space in the phrase is normalized.
func FromMnemonic(phrase string) (*Keypair, error) {
	return fromMnemonicPassword(normalizeMnemonic(phrase), "")
}

func fromMnemonicPassword(phrase, password string) (*Keypair, error) {
	mini, err := miniSecretFromMnemonic(phrase, password)
	if err != nil {
		return nil, err
	}
	defer clear(mini[:])
	kp, err := FromSeed(*mini)
	if err != nil {
		return nil, err
	}
	kp.phrase = phrase
	return kp, nil
}
