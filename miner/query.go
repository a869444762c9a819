package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/taominer/taominer/api/axon"
	"github.com/taominer/taominer/api/axonproto"
	"github.com/taominer/taominer/api/dendrite"
	"github.com/taominer/taominer/miner/internal/cli"
)

// queryCmd is `miner query`: sign one synapse with a wallet's hotkey, as
// the Python SDK's dendrite does, send it to an axon and print the answer.
// It returns the exit code: 0 for a 200 answer, 1 for any other answer or
// failure, 2 for a bad command line.
func queryCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("miner query", stderr)
	wf := addWalletFlags(flags, "hotkey name (the validator's)")
	addr := flags.String("axon", "", "axon address ip:port (required)")
	axonHotkey := flags.String("axon-hotkey", "", "the axon's hotkey, SS58 (required: it is part of the signed message)")
	name := flags.String("synapse", axon.InferName, "synapse class name (the route)")
	body := flags.String("body", "{}", "the synapse's own fields as a JSON object, e.g. {\"model\":\"m\",\"inputs\":[…]}")
	timeout := flags.Float64("timeout", axonproto.DefaultTimeout, "timeout in seconds (sent to the axon, and bounds the call)")
	required := flags.String("required", "", "comma-separated required fields of the synapse class, sent as bt_header_input_obj_* placeholders (default for Infer: model,inputs)")
	hashFields := flags.String("hash-fields", "", "comma-separated required_hash_fields of the synapse class, in order")
	ep := flags.Bool("epistula", false, "send an Epistula v2 request (signed HTTP) to --url instead of a synapse")
	url := flags.String("url", "", "with --epistula: the URL, e.g. http://203.0.113.7:8091/v2/models/m/infer")
	method := flags.String("method", "POST", "with --epistula: the HTTP method")
	flags.Usage = func() {
		fmt.Fprint(stderr, `Usage: miner query --wallet W --hotkey H --axon IP:PORT --axon-hotkey SS58 [--synapse Name] --body JSON
       miner query --epistula --wallet W --hotkey H --url URL [--method M] --axon-hotkey SS58 --body TEXT

Signs one synapse with the hotkey (sr25519 over nonce.hotkey.axon_hotkey.uuid.body_hash, as the
Python SDK's dendrite) and prints the answer as JSON: status, message, process time and the synapse.
Exit status 0 for a 200 answer, 1 otherwise, 2 for a bad command line.

With --epistula it sends --body as is with --method to --url, signed as Epistula v2 (sr25519 over
sha256hex(body).uuid.timestamp_ms.axon_hotkey), and prints {"status","process_time_ms","body"};
exit status 0 for a 2xx answer.

`)
		flags.PrintDefaults()
	}
	if code, ok := parseOrExit(flags, args); !ok {
		return code
	}
	if *ep {
		ctx, cancel := context.WithTimeout(ctx, time.Duration(*timeout*float64(time.Second)))
		defer cancel()
		return queryEpistula(ctx, wf, dendrite.EpistulaRequest{Method: *method, URL: *url, SignedFor: *axonHotkey,
			Body: []byte(*body)}, flags, stdout, stderr)
	}
	if *addr == "" || *axonHotkey == "" || flags.NArg() > 0 {
		fmt.Fprintln(stderr, "miner query: --axon and --axon-hotkey are required, and nothing else")
		flags.Usage()
		return 2
	}
	syn, err := axonproto.ParseSynapse([]byte(*body))
	if err != nil {
		fmt.Fprintf(stderr, "miner query: --body: %v\n", err)
		return 2
	}
	req := dendrite.Request{Name: *name, Synapse: syn, Timeout: *timeout, HashFields: splitFields(*hashFields)}
	names := splitFields(*required)
	if *required == "" && *name == axon.InferName {
		names = []string{"model", "inputs"}
	}
	for _, f := range names {
		req.Required = append(req.Required, axonproto.Field{Name: f, Empty: emptyOf(syn, f)})
	}
	c, done, err := hotkeyClient(wf)
	if err != nil {
		fmt.Fprintln(stderr, "miner query:", err)
		return 1
	}
	defer done()
	resp, err := c.Call(ctx, dendrite.Target{Addr: *addr, Hotkey: *axonHotkey}, req)
	if err != nil {
		fmt.Fprintln(stderr, "miner query:", err)
		return 1
	}
	out := struct {
		Status        int             `json:"status"`
		Message       string          `json:"message"`
		ProcessTimeMS float64         `json:"process_time_ms"`
		Synapse       json.RawMessage `json:"synapse,omitempty"`
	}{resp.Status, resp.Message, float64(resp.ProcessTime.Microseconds()) / 1e3, nil}
	if resp.Synapse != nil {
		out.Synapse = resp.Body
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(stderr, "miner query:", err)
		return 1
	}
	if resp.Status != 200 {
		return 1
	}
	return 0
}

// queryEpistula is `miner query --epistula`.
func queryEpistula(ctx context.Context, wf *cli.WalletFlags, req dendrite.EpistulaRequest, flags *flag.FlagSet, stdout, stderr io.Writer) int {
	if req.URL == "" || req.SignedFor == "" || flags.NArg() > 0 {
		fmt.Fprintln(stderr, "miner query: --epistula needs --url and --axon-hotkey, and nothing else")
		flags.Usage()
		return 2
	}
	c, done, err := hotkeyClient(wf)
	if err != nil {
		fmt.Fprintln(stderr, "miner query:", err)
		return 1
	}
	defer done()
	resp, err := c.CallEpistula(ctx, req)
	if err != nil {
		fmt.Fprintln(stderr, "miner query:", err)
		return 1
	}
	out, _ := json.MarshalIndent(resp, "", "  ")
	fmt.Fprintf(stdout, "%s\n", out)
	if resp.Status/100 != 2 {
		return 1
	}
	return 0
}

// hotkeyClient is a dendrite signing with the wallet's hotkey; done zeroes
// the key.
func hotkeyClient(wf *cli.WalletFlags) (c *dendrite.Client, done func(), err error) {
	w, err := wf.Open()
	if err != nil {
		return nil, nil, err
	}
	key, err := w.LoadHotkey()
	if err != nil {
		return nil, nil, fmt.Errorf("hotkey %q of wallet %q: %w", wf.Hotkey, wf.Name, err)
	}
	if c, err = dendrite.New(key); err != nil {
		key.Zero()
		return nil, nil, err
	}
	return c, key.Zero, nil
}

// splitFields splits a comma-separated list of names.
func splitFields(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// emptyOf is the JSON of the empty value of field f's type, judged from
// the value in the body, as the SDK's to_headers builds placeholders.
func emptyOf(syn *axonproto.Synapse, f string) string {
	raw, _ := syn.Field(f)
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0:
		return `""`
	case raw[0] == '"':
		return `""`
	case raw[0] == '[':
		return `[]`
	case raw[0] == '{':
		return `{}`
	case raw[0] == 't' || raw[0] == 'f':
		return `false`
	case bytes.ContainsAny(raw, ".eE"):
		return `0.0`
	}
	return `0`
}
