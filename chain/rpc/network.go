package rpc

import (
	"fmt"
	"net/url"
	"strings"
)

// Networks maps the network presets to their websocket endpoints (bittensor
// core/settings.py; spec §1.1).
var Networks = map[string]string{
	"finney":      "wss://entrypoint-finney.opentensor.ai:443",
	"test":        "wss://test.finney.opentensor.ai:443",
	"archive":     "wss://archive.chain.opentensor.ai:443",
	"local":       "ws://127.0.0.1:9944",
	"latent-lite": "wss://lite.sub.latent.to:443",
}

// Endpoint resolves a --network value: a preset name or a ws:// / wss:// URL.
func Endpoint(network string) (string, error) {
	if u, ok := Networks[network]; ok {
		return u, nil
	}
	if strings.HasPrefix(network, "ws://") || strings.HasPrefix(network, "wss://") {
		u, err := url.Parse(network)
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("%w: %q is not a valid websocket URL", ErrUnknownNetwork, network)
		}
		return network, nil
	}
	return "", fmt.Errorf("%w: %q (want finney, test, archive, local, latent-lite or a ws:// or wss:// URL)", ErrUnknownNetwork, network)
}
