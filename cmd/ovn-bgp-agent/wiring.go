package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/vishvananda/netns"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/kernel"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/metrics"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovs"
)

// wiring steers traffic between the exposed prefixes and OVN through the provider bridges:
// kernel rules, tables, routes and neighbours one way, OVS flows the other.
type wiring struct {
	kernel *kernel.Wirer
	flows  *ovs.Applier
	watch  kernel.WatchOptions
	log    *slog.Logger
}

func newWiring(cfg config.Config, log *slog.Logger) (*wiring, error) {
	k := cfg.Kernel
	opts := kernel.WiringOptions{RulePriority: k.RulePriority, RouteProtocol: uint8(k.RouteProtocol),
		TableBase: k.BridgeTableBase, TableCount: config.BridgeTableCount}
	kw, err := kernel.NewWirer(opts, log.With("applier", "kernel-wiring"))
	if err != nil {
		return nil, err
	}
	return &wiring{
		kernel: kw,
		flows:  ovs.New(ovs.Options{}, log.With("applier", "ovs")), // OVS_RUNDIR locates the bridges' sockets
		watch:  kernel.WatchOptions{Netns: netns.None(), RouteProtocol: opts.RouteProtocol},
		log:    log,
	}, nil
}

// watchKernel triggers passes on kernel events until ctx ends.
func (wr *wiring) watchKernel(ctx context.Context, trigger func(string)) {
	kernel.Watch(ctx, wr.watch, trigger, wr.log.With("component", "netlink-watch"))
}

func (wr *wiring) close() { wr.kernel.Close() }

// apply runs both appliers; one failing does not stop the other. obs counts their changes
// and failures.
func (wr *wiring) apply(ctx context.Context, w *ovn.Watcher, id ovnstate.Identity, d exposure.Desired, obs *metrics.Metrics) error {
	var errs []error
	local, lerr := w.LocalBridges(ctx)
	retired := retiredBridges(d, local, id.IntegrationBridge)
	kres, err := wr.kernel.SyncWiring(ctx, d, retired...)
	obs.Changed(metrics.ApplierWiring, "added", len(kres.Added))
	obs.Changed(metrics.ApplierWiring, "removed", len(kres.Removed))
	if err != nil {
		obs.ApplierFailed(metrics.ApplierWiring)
		errs = append(errs, fmt.Errorf("kernel wiring: %w", err))
	}
	if lerr != nil {
		obs.ApplierFailed(metrics.ApplierOVS)
		return errors.Join(append(errs, lerr)...)
	}
	res, err := wr.flows.Sync(ctx, flowBridges(d, local), retired...)
	obs.Changed(metrics.ApplierOVS, "flow-added", len(res.Added))
	obs.Changed(metrics.ApplierOVS, "flow-removed", len(res.Removed))
	if err != nil {
		obs.ApplierFailed(metrics.ApplierOVS)
		errs = append(errs, fmt.Errorf("ovs flows: %w", err))
	}
	if len(res.Waiting) > 0 {
		wr.log.Debug("provider bridges waiting for their localnet patch port", "bridges", res.Waiting)
	}
	return errors.Join(errs...)
}

// retiredBridges are the node's OVS bridges that are neither provider bridges nor OVN's
// integration bridge: where an earlier run may have left flows and neighbours of the agent's
// before the bridge left ovn-bridge-mappings.
func retiredBridges(d exposure.Desired, local map[string]ovn.LocalBridge, integration string) []string {
	provider := map[string]bool{integration: true}
	for _, b := range d.Bridges {
		provider[b.Name] = true
	}
	var out []string
	for name := range local {
		if !provider[name] {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// flowBridges joins the node's provider bridges with what the local OVS says about them.
func flowBridges(d exposure.Desired, local map[string]ovn.LocalBridge) []ovs.Bridge {
	out := make([]ovs.Bridge, 0, len(d.Bridges))
	for _, b := range d.Bridges {
		lb := local[b.Name]
		fb := ovs.Bridge{Name: b.Name, MAC: lb.MAC}
		for _, p := range lb.Patches {
			if p.OFPort > 0 {
				fb.Patches = append(fb.Patches, p.OFPort)
			}
		}
		out = append(out, fb)
	}
	return out
}
