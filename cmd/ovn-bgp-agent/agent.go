package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"

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

	if cfg.Driver == "ovn_bgp_driver" {
		log.Info("driver ovn_bgp_driver runs the same engine as nb_ovn_bgp_driver: topology from NB, bindings from SB")
	}
	fc, err := frr.FromAgentConfig(cfg)
	if err != nil {
		return err
	}
	frrText, err := frr.Render(fc)
	if err != nil {
		return err
	}
	reloader := frr.NewReloader(cfg.FRR, log.With("applier", "frr"))

	k, err := kernel.New(kernel.Options{NIC: cfg.BGP.NIC, VRF: cfg.BGP.VRF, VRFTableID: cfg.BGP.VRFTableID,
		RouteProtocol: uint8(cfg.Kernel.RouteProtocol)}, log.With("applier", "kernel"))
	if err != nil {
		return err
	}
	if err := k.EnsureDevices(ctx); err != nil {
		return err
	}
	wr, err := newWiring(cfg, log)
	if err != nil {
		return err
	}
	defer wr.close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	policy := exposurePolicy(cfg)
	reported := &findingLog{}

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
		return reconcilePass(ctx, w, k, wr, reloader, frrText, policy, reported, log)
	}
	loop := reconcile.New(pass, cfg.ReconcileInterval, log)
	done := make(chan struct{})
	go func() { loop.Run(ctx); close(done) }()
	watched := make(chan struct{})
	go func() { wr.watchKernel(ctx, loop.Trigger); close(watched) }()
	defer func() {
		cancel()
		<-watched
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

// reconcilePass is one pass: snapshot, compute, apply FRR, then the kernel (the
// provider-bridge wiring and its OVS flows, then the addresses and routes).
func reconcilePass(ctx context.Context, w *ovn.Watcher, k *kernel.Applier, wr *wiring, r *frr.Reloader, frrText []byte,
	policy exposure.Policy, reported *findingLog, log *slog.Logger) error {
	id, st, err := w.Read(ctx)
	if err != nil {
		return err
	}
	desired, findings := exposure.Compute(st, id, policy)
	reported.report(findings, log)
	// Each applier runs even when another failed: an FRR that is restarting must not stop
	// a new VM's address from reaching bgp-nic, and the next pass retries the failed one.
	var errs []error
	if _, err := r.Apply(ctx, frrText); err != nil {
		errs = append(errs, fmt.Errorf("frr: %w", err))
	}
	// The wiring before the addresses: a new prefix is steered into OVN before bgp-nic makes
	// FRR advertise it, so its first packets are not lost.
	errs = append(errs, wr.apply(ctx, w, desired))
	if _, err := k.Sync(ctx, desired.Addrs()); err != nil {
		errs = append(errs, fmt.Errorf("kernel: %w", err))
	}
	var subnets []netip.Prefix
	for _, e := range desired.Subnets() {
		subnets = append(subnets, e.Prefix)
	}
	if _, err := k.SyncRoutes(ctx, subnets); err != nil {
		errs = append(errs, fmt.Errorf("kernel routes: %w", err))
	}
	return errors.Join(errs...)
}

// exposurePolicy turns the configuration's upstream-named options into the core's policy.
func exposurePolicy(cfg config.Config) exposure.Policy {
	return exposure.Policy{
		TenantNetworks:        cfg.ExposeTenantNetworks,
		IPv6GUATenantNetworks: cfg.ExposeIPv6GUATenantNetworks,
		TenantMethod:          exposure.TenantMethod(cfg.AdvertisementMethodTenantNetworks),
		AddressScopes:         cfg.AddressScopes,
		RequireSNATDisabled:   cfg.RequireSNATDisabledForTenantNetworks,
	}
}

// findingLog logs a refused OVN row once when it appears and once when it is gone, rather
// than on every pass: a pass runs on every OVN event.
type findingLog struct {
	seen map[exposure.Finding]bool
}

func (l *findingLog) report(findings []exposure.Finding, log *slog.Logger) {
	now := make(map[exposure.Finding]bool, len(findings))
	for _, f := range findings {
		now[f] = true
		if !l.seen[f] {
			log.Warn("OVN data refused", "object", f.Object, "finding", f.Message)
		}
	}
	for f := range l.seen {
		if !now[f] {
			log.Info("OVN data no longer refused", "object", f.Object, "finding", f.Message)
		}
	}
	l.seen = now
}
