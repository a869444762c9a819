package epistula

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Signer signs as one hotkey: sr25519 under the "substrate" signing
// context, as chain/wallet's Keypair does.
type Signer interface {
	// SS58 is the hotkey's address, sent as Epistula-Signed-By.
	SS58() string
	// Sign signs msg.
	Sign(msg []byte) ([64]byte, error)
}

// Signed is the header set of one signed request and the message signed.
type Signed struct {
	Header  http.Header
	Message string
}

// Sign signs body for the receiver signedFor (its SS58 address; "" leaves
// Epistula-Signed-For out, which our receiver refuses) at now with uuid
// ("" draws a random one), as the spec's sender recipe (§10): version 2,
// timestamp in milliseconds, uuid, Signed-By, Signed-For and the request
// signature; Content-Type application/json when body is not empty. The
// secret signatures are not sent: no receiver checks them (spec §5).
func Sign(key Signer, body []byte, signedFor string, now time.Time, uuid string) (*Signed, error) {
	if key == nil {
		return nil, errors.New("epistula: no signing key")
	}
	if uuid == "" {
		uuid = NewUUID()
	}
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	msg := Message(BodyHash(body), uuid, ts, signedFor)
	sig, err := key.Sign([]byte(msg))
	if err != nil {
		return nil, fmt.Errorf("epistula: sign: %w", err)
	}
	h := http.Header{}
	h.Set(HeaderVersion, Version)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderUUID, uuid)
	h.Set(HeaderSignedBy, key.SS58())
	if signedFor != "" {
		h.Set(HeaderSignedFor, signedFor)
	}
	h.Set(HeaderSignature, FormatSignature(sig))
	if len(body) > 0 {
		h.Set("Content-Type", "application/json")
	}
	return &Signed{Header: h, Message: msg}, nil
}
