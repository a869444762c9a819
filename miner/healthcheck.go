package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// healthcheckCmd asks a node's readiness endpoint once: exit 0 on 200, 1 on
// any other answer or none, 2 on a bad command line. It lets a container
// image run its HEALTHCHECK without curl.
func healthcheckCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("miner healthcheck", stderr)
	url := fs.String("url", "http://127.0.0.1:8000/v2/health/ready", "URL to GET; 200 means healthy")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	quiet := fs.Bool("quiet", false, "print nothing on success")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: miner healthcheck [--url URL] [--timeout DURATION] [--quiet]\n\n"+
			"Exits 0 when GET URL answers 200, 1 otherwise, 2 on a bad command line.\n\n")
		fs.PrintDefaults()
	}
	if code, ok := parseOrExit(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "miner healthcheck: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *timeout <= 0 {
		fmt.Fprintln(stderr, "miner healthcheck: --timeout must be positive")
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		fmt.Fprintln(stderr, "miner healthcheck:", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "miner healthcheck:", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "miner healthcheck: %s: %s %s\n", *url, resp.Status, body)
		return 1
	}
	if !*quiet {
		fmt.Fprintf(stdout, "%s: %s\n", *url, resp.Status)
	}
	return 0
}
