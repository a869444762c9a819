package chainnode

import (
	"math/big"
	"net/netip"
	"testing"
)

func TestChainAxonIP(t *testing.T) {
	big6, _ := new(big.Int).SetString("42540766411282592856903984951653826561", 10)
	tests := []struct {
		ip     string
		want   *big.Int
		ipType uint8
	}{
		{"1.2.3.4", big.NewInt(16909060), 4}, // wallet-and-axon §5.2
		{"2001:db8::1", big6, 6},             // verified value in §5.2
		{"::ffff:1.2.3.4", new(big.Int).SetUint64(0xffff01020304), 6},
		{"0.0.0.0", big.NewInt(0), 4},
	}
	for _, tt := range tests {
		got, typ := axonIP(netip.MustParseAddr(tt.ip))
		if got.Big().Cmp(tt.want) != 0 || typ != tt.ipType {
			t.Errorf("axonIP(%s) = %v type %d, want %v type %d", tt.ip, got, typ, tt.want, tt.ipType)
		}
	}
}

// TestAxonIPReachable: 127.0.0.1 and 0.0.0.0 are refused on finney and test; local chains accept
// them.
func TestAxonIPReachable(t *testing.T) {
	tests := []struct {
		network, ip string
		ok          bool
	}{
		{"finney", "127.0.0.1", false},
		{"test", "0.0.0.0", false},
		{"finney", "::1", false},
		{"wss://lite.example:443", "127.0.0.1", false},
		{"local", "127.0.0.1", true},
		{"ws://127.0.0.1:9944", "0.0.0.0", true},
		{"finney", "203.0.113.9", true},
	}
	for _, tt := range tests {
		err := checkAxonIP(tt.network, netip.MustParseAddr(tt.ip))
		if (err == nil) != tt.ok {
			t.Errorf("checkAxonIP(%s, %s) = %v, want ok=%v", tt.network, tt.ip, err, tt.ok)
		}
	}
}
