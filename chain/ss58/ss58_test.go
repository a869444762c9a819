package ss58

import (
	"encoding/hex"
	"errors"
	"testing"
)

func mustPub(t *testing.T, h string) [32]byte {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		t.Fatalf("bad test key %q", h)
	}
	var p [32]byte
	copy(p[:], b)
	return p
}

// Vectors from spec/wallet-and-axon.md §7 (#1–#4, #6).
func TestEncodeDecode(t *testing.T) {
	tests := []struct {
		name   string
		pub    string
		prefix uint16
		addr   string
	}{
		{"alice", "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d", 42, "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"},
		{"bob", "8eaf04151687736326c9fea17e25fc5287613693c912909cb226aa4794f26a48", 42, "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"},
		{"charlie", "90b5ab205c6974c9ea841be688864633dc9ca8a357843eeacf2314649965fe22", 42, "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y"},
		{"mnemonic #4", "e4359ad3e2716c539a1d663ebd0a51bdc5c98a12e663bb4c4402db47828c9446", 42, "5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX"},
		{"mnemonic #4 prefix 0", "e4359ad3e2716c539a1d663ebd0a51bdc5c98a12e663bb4c4402db47828c9446", 0, "16ADqpMa4yzfmWs3nuTSMhfZ2ckeGtvqhPWCNqECEGDcGgU2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := mustPub(t, tt.pub)
			if got := Encode(pub, tt.prefix); got != tt.addr {
				t.Errorf("Encode(%s, %d) = %s, want %s", tt.pub, tt.prefix, got, tt.addr)
			}
			gotPub, gotPrefix, err := Decode(tt.addr)
			if err != nil {
				t.Fatalf("Decode(%s): %v", tt.addr, err)
			}
			if gotPub != pub || gotPrefix != tt.prefix {
				t.Errorf("Decode(%s) = %x, %d, want %s, %d", tt.addr, gotPub, gotPrefix, tt.pub, tt.prefix)
			}
		})
	}
}

func TestTwoBytePrefixRoundTrip(t *testing.T) {
	pub := mustPub(t, "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d")
	for _, prefix := range []uint16{64, 255, 1284, 16383} {
		addr := Encode(pub, prefix)
		got, gotPrefix, err := Decode(addr)
		if err != nil || got != pub || gotPrefix != prefix {
			t.Errorf("prefix %d: Decode(%s) = %x, %d, %v", prefix, addr, got, gotPrefix, err)
		}
	}
}

func TestDecodeBittensor(t *testing.T) {
	if _, err := DecodeBittensor("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"); err != nil {
		t.Errorf("alice: %v", err)
	}
	if _, err := DecodeBittensor("16ADqpMa4yzfmWs3nuTSMhfZ2ckeGtvqhPWCNqECEGDcGgU2"); !errors.Is(err, ErrInvalid) {
		t.Errorf("prefix 0 accepted: %v", err)
	}
}

func TestDecodeInvalid(t *testing.T) {
	tests := map[string]string{
		"empty":          "",
		"bad char":       "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKut0Y",
		"bad checksum":   "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ",
		"truncated":      "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKut",
		"hex not base58": "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d",
	}
	for name, addr := range tests {
		t.Run(name, func(t *testing.T) {
			if _, _, err := Decode(addr); !errors.Is(err, ErrInvalid) {
				t.Errorf("Decode(%q) error = %v, want ErrInvalid", addr, err)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY")
	f.Add("16ADqpMa4yzfmWs3nuTSMhfZ2ckeGtvqhPWCNqECEGDcGgU2")
	f.Fuzz(func(t *testing.T, addr string) {
		pub, prefix, err := Decode(addr)
		if err != nil {
			return
		}
		if got := Encode(pub, prefix); got != addr {
			t.Errorf("Decode(%q) then Encode = %q", addr, got)
		}
	})
}
