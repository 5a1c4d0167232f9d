package main

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/metrics"
)

// exitNotReady is status's exit code when the agent answered but is not ready.
const exitNotReady = 3

// statusAddress turns metrics.listen into an address to connect to: a listener on every
// address is reached on loopback.
func statusAddress(listen string) (string, error) {
	if listen == "" {
		return "", fmt.Errorf("metrics.listen is empty: the agent serves no status (set it, or pass --address)")
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("--address %q: must be HOST:PORT: %w", listen, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}

// status prints the running agent's state as a table or as its JSON; the exit code says
// whether the agent is ready.
func status(ctx context.Context, addr, output string, stdout, stderr io.Writer) int {
	s, raw, err := metrics.FetchStatus(ctx, addr)
	if err != nil {
		fmt.Fprintf(stderr, "status: %v\n", err)
		return 1
	}
	if output == "json" {
		stdout.Write(raw)
	} else {
		metrics.WriteStatus(stdout, s)
	}
	if !s.Ready {
		return exitNotReady
	}
	return 0
}
