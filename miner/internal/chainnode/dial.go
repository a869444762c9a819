package chainnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/taominer/taominer/chain/client"
	"github.com/taominer/taominer/chain/neuron"
	"github.com/taominer/taominer/chain/rpc"
	"github.com/taominer/taominer/chain/scale"
)

// Dial connects to a --network value and reads the runtime. close closes the connection.
func Dial(ctx context.Context, network string, log *slog.Logger) (c *client.Client, close func(), err error) {
	url, err := rpc.Endpoint(network)
	if err != nil {
		return nil, nil, fmt.Errorf("--network: %w", err)
	}
	tr, err := rpc.Dial(ctx, url, rpc.Options{Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s (%s): %w", network, url, err)
	}
	c, err = client.New(ctx, tr, client.Options{Logger: log})
	if err != nil {
		tr.Close()
		return nil, nil, fmt.Errorf("read the runtime of %s: %w", network, err)
	}
	return c, func() { tr.Close() }, nil
}

// DialBest connects to network, as the one-shot commands do, and pins the typed reader at its
// best block (whose number it returns).
func DialBest(ctx context.Context, network string) (client.State, uint64, func(), error) {
	c, closeRPC, err := Dial(ctx, network, slog.New(slog.DiscardHandler))
	if err != nil {
		return client.State{}, 0, nil, err
	}
	h, err := c.Header(ctx, nil)
	if err != nil {
		closeRPC()
		return client.State{}, 0, nil, fmt.Errorf("best block: %w", err)
	}
	at, err := c.BlockHash(ctx, h.Number)
	if err != nil {
		closeRPC()
		return client.State{}, 0, nil, fmt.Errorf("best block: %w", err)
	}
	return c.At(&at), h.Number, closeRPC, nil
}

// DialSubnet is DialBest for a command on subnet netuid of network: it fails
// when the subnet does not exist there.
func DialSubnet(ctx context.Context, network string, netuid uint16) (client.State, uint64, func(), error) {
	s, best, closeRPC, err := DialBest(ctx, network)
	if err != nil {
		return client.State{}, 0, nil, err
	}
	ok, err := s.SubnetExists(ctx, netuid)
	if err == nil && !ok {
		err = fmt.Errorf("subnet %d does not exist on %s", netuid, network)
	}
	if err != nil {
		closeRPC()
		return client.State{}, 0, nil, err
	}
	return s, best, closeRPC, nil
}

// ipServices answer a GET with the caller's public IP as plain text (the SDK asks the same kind of
// services, bittensor/utils/networking.py).
var ipServices = []string{"https://checkip.amazonaws.com", "https://api.ipify.org", "https://icanhazip.com"}

// DetectPublicIP asks public services in turn for this machine's public IP.
func DetectPublicIP(ctx context.Context) (netip.Addr, error) {
	var errs []error
	hc := &http.Client{Timeout: 10 * time.Second}
	for _, u := range ipServices {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return netip.Addr{}, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 256))
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			errs = append(errs, fmt.Errorf("%s: status %d: %v", u, resp.StatusCode, err))
			continue
		}
		ip, err := netip.ParseAddr(strings.TrimSpace(string(body)))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u, err))
			continue
		}
		return ip, nil
	}
	return netip.Addr{}, fmt.Errorf("detect the public IP (give --external-ip instead): %w", errors.Join(errs...))
}

// localNetwork reports whether network is a local chain: the "local" preset or a plain ws:// URL.
// Loopback and unspecified axon IPs are allowed only there.
func localNetwork(network string) bool {
	return network == "local" || strings.HasPrefix(network, "ws://")
}

// checkAxonIP refuses IPs other machines cannot reach, unless the chain is local.
func checkAxonIP(network string, ip netip.Addr) error {
	if (ip.IsLoopback() || ip.IsUnspecified()) && !localNetwork(network) {
		return fmt.Errorf("external IP %s cannot be published on %s: validators could not reach it (give --external-ip with the public address; loopback is allowed only on local chains)", ip, network)
	}
	return nil
}

// axonIP converts an IP to serve_axon's (ip, ip_type): IPv4 as a 32-bit number, type 4; anything
// else (IPv4-mapped IPv6 included, as the SDK's netaddr reads it) as 128 bits, type 6.
func axonIP(ip netip.Addr) (scale.Uint128, uint8) {
	if ip.Is4() {
		b := ip.As4()
		return scale.Uint128{Lo: uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])}, 4
	}
	b := ip.As16()
	var hi, lo uint64
	for i := range 8 {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[8+i])
	}
	return scale.Uint128{Hi: hi, Lo: lo}, 6
}

// AxonAddr renders an on-chain axon as ip:port ("" when none was ever served).
func AxonAddr(a neuron.AxonInfo) string {
	ip, ok := a.Addr()
	if !ok || (a.Port == 0 && a.IP == (scale.Uint128{})) {
		return ""
	}
	return netip.AddrPortFrom(ip, a.Port).String()
}
