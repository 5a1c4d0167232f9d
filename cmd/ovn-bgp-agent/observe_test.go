package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/frr"
)

func TestServeObservability(t *testing.T) {
	cfg := config.Default()
	mgr := frr.NewManager(cfg, nil)
	m := newObservability(cfg, mgr)
	log := slog.New(slog.DiscardHandler)

	// A taken port stops the agent at start, naming the key.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	var wg sync.WaitGroup
	err = serveObservability(context.Background(), &wg, taken.Addr().String(), m, mgr, log)
	if err == nil || !strings.Contains(err.Error(), "metrics.listen "+taken.Addr().String()) {
		t.Fatalf("listen on a taken port: %v, want an error naming metrics.listen", err)
	}

	// Served until ctx ends, then shut down with every goroutine gone.
	free := taken.Addr().String()
	taken.Close()
	ctx, cancel := context.WithCancel(context.Background())
	if err := serveObservability(ctx, &wg, free, m, mgr, log); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + free + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %s", resp.Status)
	}
	cancel()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the HTTP server did not stop after the context ended")
	}
	if _, err := http.Get("http://" + free + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}

	// "" serves nothing and is no error.
	if err := serveObservability(context.Background(), &wg, "", m, mgr, log); err != nil {
		t.Errorf("metrics.listen empty: %v", err)
	}
}
