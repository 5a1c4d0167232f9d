package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/frr"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/metrics"
)

// newObservability returns the agent's metrics, reading FRR's sessions through the same
// vtysh the FRR applier uses, with the read-back timeout.
func newObservability(cfg config.Config, frrMgr *frr.Manager) *metrics.Metrics {
	m := metrics.New(version)
	m.SetFRR(metrics.NewFRRReader(frrMgr.Reloader().Vtysh(), metrics.DefaultFRRMaxAge, frr.DefaultReadTimeout), frrMgr.Stats)
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
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics.listen %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           m.Handler(version, frrMgr.Stats, log.With("component", "http")),
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
	}
	log.Info("serving /metrics, /healthz, /readyz and /status", "listen", ln.Addr().String())
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", "listen", addr, "err", err)
		}
	})
	wg.Go(func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	return nil
}
