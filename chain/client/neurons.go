package client

import (
	"context"
	"fmt"

	"github.com/taominer/taominer/chain/neuron"
	"github.com/taominer/taominer/chain/scale"
)

// NeuronsLite returns the subnet's neurons from NeuronInfoRuntimeApi_get_neurons_lite at block at
// (nil = best block). When the runtime lacks the API the error satisfies
// rpc.IsRuntimeAPIUnavailable and the caller should read storage instead.
func (c *Client) NeuronsLite(ctx context.Context, netuid uint16, at *Hash) ([]neuron.Lite, error) {
	raw, err := c.StateCall(ctx, "NeuronInfoRuntimeApi_get_neurons_lite", scale.AppendU16(nil, netuid), at)
	if err != nil {
		return nil, err
	}
	ns, err := neuron.DecodeLiteList(raw)
	if err != nil {
		return nil, fmt.Errorf("chain: neurons of subnet %d: %w", netuid, err)
	}
	return ns, nil
}
