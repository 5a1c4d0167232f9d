package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/frr"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/metrics"
)

// newObservability returns the agent's metrics, reading FRR's sessions through the same
// vtysh the FRR applier uses, with the read-back timeout.
func newObservability(cfg config.Config, frrMgr *frr.Manager) *metrics.Metrics {
	m := metrics.New(version)
	r := metrics.NewFRRReader(frrMgr.Reloader().Vtysh(), metrics.DefaultFRRMaxAge, frr.DefaultReadTimeout)
	r.AskBFDWhen(frrMgr.UsesBFD)
	m.SetFRR(r, frrMgr.Stats)
	m.Health().SetLimits(cfg.ReconcileInterval, metrics.DefaultStuckAfter)
	return m
}

// serveObservability listens on addr ("" = not at all) before returning, so a taken port
// stops the agent at start with the key to fix, and serves until ctx ends.
func serveObservability(ctx context.Context, wg *sync.WaitGroup, addr string, m *metrics.Metrics, frrMgr *frr.Manager, log *slog.Logger) error {
	if addr == "" {
		log.Info("metrics.listen is empty: no metrics, health or status endpoint")
		return nil
	}
	hlog := log.With("component", "http")
	srv, err := metrics.Listen(addr, m.Handler(version, frrMgr.Stats, hlog), metrics.DefaultServerLimits, hlog)
	if err != nil {
		return fmt.Errorf("metrics.listen %s: %w", addr, err)
	}
	log.Info("serving /metrics, /healthz, /readyz and /status", "listen", srv.Addr().String())
	wg.Go(func() { srv.Serve(ctx) })
	return nil
}
