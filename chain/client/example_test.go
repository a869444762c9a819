package client_test

import (
	"context"
	"fmt"
	"log"

	"github.com/taominer/taominer/chain/client"
	"github.com/taominer/taominer/chain/rpc"
)

// Connect to a network preset, read the runtime and the subnet's neurons. (Not run: it needs a
// node.)
func Example() {
	ctx := context.Background()
	url, err := rpc.Endpoint("finney")
	if err != nil {
		log.Fatal(err)
	}
	tr, err := rpc.Dial(ctx, url, rpc.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	c, err := client.New(ctx, tr, client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("spec", c.Runtime().Version.SpecVersion, "metadata", c.Runtime().Metadata.Version)
	neurons, err := c.NeuronsLite(ctx, 1, nil)
	if rpc.IsRuntimeAPIUnavailable(err) {
		// fall back to storage reads
	} else if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(neurons), "neurons")
}
