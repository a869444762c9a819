package axon

// NonceKeys is the number of hotkey:uuid keys the nonce store holds.
func NonceKeys(a *Axon) int { return a.nonces.len() }
