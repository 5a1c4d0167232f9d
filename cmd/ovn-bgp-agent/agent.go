package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/frr"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/kernel"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/reconcile"
)

// runAgent wires OVN → exposure → appliers and runs the loop until ctx ends. Shutdown leaves
// addresses and FRR config in place: a restart must not withdraw anything still wanted.
func runAgent(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	log.Info("starting", "version", version, "driver", cfg.Driver, "as", cfg.BGP.AS, "nic", cfg.BGP.NIC, "vrf", cfg.BGP.VRF)

	// frr.conf is rendered on every pass (password and extra-config files are read then);
	// rendering once here makes a bad configuration stop the agent at start.
	frrMgr := frr.NewManager(cfg, log.With("applier", "frr"))
	if _, err := frrMgr.Render(); err != nil {
		return err
	}

	k, err := kernel.New(kernel.Options{NIC: cfg.BGP.NIC, VRF: cfg.BGP.VRF, VRFTableID: cfg.BGP.VRFTableID}, log.With("applier", "kernel"))
	if err != nil {
		return err
	}
	if err := k.EnsureDevices(ctx); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The loop exists before the watcher so that OVN events can trigger it from the first
	// row; its passes wait until every monitor has its initial rows, because a pass on a
	// half-filled cache would withdraw routes that are still wanted.
	var w *ovn.Watcher
	ready := make(chan struct{})
	pass := func(ctx context.Context) error {
		select {
		case <-ready:
		case <-ctx.Done():
			return ctx.Err()
		}
		return reconcilePass(ctx, w, k, frrMgr, log)
	}
	loop := reconcile.New(pass, cfg.ReconcileInterval, log)
	done := make(chan struct{})
	go func() { loop.Run(ctx); close(done) }()
	// FRR restarts lose the runtime config: the watcher makes the loop re-apply at once.
	watchDone := make(chan struct{})
	go func() { frrMgr.Watch(ctx, cfg.FRR.WatchInterval, loop.Trigger); close(watchDone) }()
	defer func() {
		cancel()
		<-watchDone
		<-done // no pass runs past this point, so closing the clients is safe
		if w != nil {
			w.Close()
		}
	}()

	w, err = ovn.Connect(ctx, cfg.OVN, loop.Trigger, log.With("component", "ovn"))
	if err != nil {
		return err
	}
	close(ready)
	<-ctx.Done()
	return ctx.Err()
}

// reconcilePass is one pass: snapshot, compute, apply FRR then kernel.
func reconcilePass(ctx context.Context, w *ovn.Watcher, k *kernel.Applier, f *frr.Manager, log *slog.Logger) error {
	id, err := w.Identity()
	if err != nil {
		return err
	}
	st, err := w.Snapshot(ctx)
	if err != nil {
		return err
	}
	desired, findings := exposure.Compute(st, id, exposure.Policy{})
	for _, f := range findings {
		log.Warn("OVN data refused", "object", f.Object, "finding", f.Message)
	}
	// Each applier runs even when another failed: an FRR that is restarting must not stop
	// a new VM's address from reaching bgp-nic, and the next pass retries the failed one.
	var errs []error
	if err := f.Sync(ctx); err != nil {
		errs = append(errs, fmt.Errorf("frr: %w", err))
	}
	if _, err := k.Sync(ctx, desired.Addrs()); err != nil {
		errs = append(errs, fmt.Errorf("kernel: %w", err))
	}
	return errors.Join(errs...)
}
