// Package wallet reads and writes Bittensor wallets in the on-disk format of
// btcli and bittensor-wallet (btwallet v4), and holds sr25519 keypairs.
//
// A wallet is a folder <path>/<name> holding an encrypted coldkey, its public
// half coldkeypub.txt, and unencrypted hotkeys under hotkeys/. Keys come from
// BIP39 mnemonics the Substrate way (the mnemonic's entropy, not its text, is
// the PBKDF2 password), from 32-byte mini secrets, from 64-byte schnorrkel
// secret keys, or from dev URIs such as //Alice and //Bob/test. Signatures are
// sr25519 with Substrate's signing context "substrate".
//
// The coldkey is sealed as "$NACL" ‖ nonce ‖ secretbox, with the key derived by
// Argon2i (t=8, 512 MiB, fixed salt). That costs about 5 s and 0.5 GiB, so
// derive it once per command. The ansible-vault and Fernet formats of older
// SDKs and polkadot.js JSON exports can be read; nothing writes them.
//
// Files are written atomically (a temporary file in the same folder, fsync,
// rename) with mode 0600, in folders created with mode 0700.
//
// # Secrets in memory
//
// Buffers this package owns are zeroed once used: derived mini secrets, the
// 64-byte secret keys held by a [Keypair] (on [Keypair.Zero]), decrypted keyfile
// contents, derived encryption keys, and the JSON buffers built while writing
// a keyfile. Password slices passed in stay the caller's to zero (the miner
// command does). What is not zeroed, because the libraries keep their own
// copies out of reach:
//
//   - go-schnorrkel keeps the secret scalar and nonce in its SecretKey and in
//     the merlin transcripts of derivation and signing; Zero overwrites the
//     scalar through SecretKey.Decode but cannot reach the nonce or the
//     transcripts, which the garbage collector frees.
//   - crypto/pbkdf2 converts the mnemonic entropy to a string and HMAC keeps
//     padded copies of it; argon2 keeps the 512 MiB work area, derived from the
//     password, until it is garbage collected.
//   - Go strings cannot be cleared: a mnemonic (Keypair.Mnemonic, the
//     secretPhrase field) and the strings encoding/json makes while reading a
//     keyfile stay in memory until collected.
package wallet
