package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/taominer/taominer/api/kservegrpc"

	"github.com/taominer/taominer/miner/internal/config"
)

// healthcheckCmd asks a node's readiness endpoint once: exit 0 on 200, 1 on
// any other answer or none, 2 on a bad command line. It lets a container
// image run its HEALTHCHECK without curl. Without --url it asks the address
// `miner serve` listens on, read from the same sources (TAOMINER_HTTP_ADDR,
// the file named by TAOMINER_CONFIG, the default :8000), so a HEALTHCHECK
// follows the configured port.
func healthcheckCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return healthcheck(ctx, args, os.LookupEnv, stdout, stderr)
}

func healthcheck(ctx context.Context, args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) int {
	fs := newFlagSet("miner healthcheck", stderr)
	url := fs.String("url", "", "URL to GET; 200 means healthy (default: /v2/health/ready on the address `miner serve` listens on: TAOMINER_HTTP_ADDR, http_addr in TAOMINER_CONFIG, or :8000)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	quiet := fs.Bool("quiet", false, "print nothing on success")
	grpcAddr := fs.String("grpc-addr", "", "ask the gRPC port at `HOST:PORT` ServerReady instead of GET URL")
	useGRPC := fs.Bool("grpc", false, "ask the gRPC port ServerReady (at --grpc-addr, default the address `miner serve` serves gRPC on: TAOMINER_GRPC_ADDR, grpc_addr in TAOMINER_CONFIG, or :8001)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: miner healthcheck [--url URL | --grpc [--grpc-addr HOST:PORT]] [--timeout DURATION] [--quiet]\n\n"+
			"Exits 0 when GET URL answers 200 (with --grpc: when gRPC ServerReady answers ready), 1 otherwise,\n"+
			"2 on a bad command line or configuration.\n\n")
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
	if *useGRPC || *grpcAddr != "" {
		if *url != "" {
			fmt.Fprintln(stderr, "miner healthcheck: --url and --grpc ask different ports: give one")
			return 2
		}
		return grpcHealthcheck(ctx, *grpcAddr, *timeout, *quiet, getenv, stdout, stderr)
	}
	if *url == "" {
		cfg, err := config.LoadServe(nil, getenv)
		if err != nil {
			fmt.Fprintln(stderr, "miner healthcheck:", err)
			return 2
		}
		if *url, err = readyURL(cfg.HTTPAddr); err != nil {
			fmt.Fprintln(stderr, "miner healthcheck:", err)
			return 2
		}
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

// grpcHealthcheck asks the gRPC port at addr (default: the configured
// grpc_addr, a wildcard host asked on loopback) ServerReady once.
func grpcHealthcheck(ctx context.Context, addr string, timeout time.Duration, quiet bool, getenv func(string) (string, bool), stdout, stderr io.Writer) int {
	if addr == "" {
		cfg, err := config.LoadServe(nil, getenv)
		if err != nil {
			fmt.Fprintln(stderr, "miner healthcheck:", err)
			return 2
		}
		if cfg.GRPCAddr == "" {
			fmt.Fprintln(stderr, "miner healthcheck: --grpc: the configuration serves no gRPC (grpc_addr is empty)")
			return 2
		}
		if addr, err = loopbackAddr(cfg.GRPCAddr); err != nil {
			fmt.Fprintf(stderr, "miner healthcheck: grpc_addr %q: %v\n", cfg.GRPCAddr, err)
			return 2
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := kservegrpc.CheckReady(ctx, addr); err != nil {
		fmt.Fprintln(stderr, "miner healthcheck:", err)
		return 1
	}
	if !quiet {
		fmt.Fprintf(stdout, "grpc %s: ready\n", addr)
	}
	return 0
}

// readyURL is the readiness URL of a server listening on addr (host:port):
// a wildcard or empty host is asked on the loopback address.
func readyURL(addr string) (string, error) {
	hp, err := loopbackAddr(addr)
	if err != nil {
		return "", fmt.Errorf("http_addr %q: %w", addr, err)
	}
	return "http://" + hp + "/v2/health/ready", nil
}

// loopbackAddr is the address to ask a server listening on addr at: a
// wildcard or empty host becomes the loopback address.
func loopbackAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}
