package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vishvananda/netns"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/frr"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/kernel"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/metrics"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovs"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/reconcile"
)

// agentInput is what runAgent starts from.
type agentInput struct {
	cfg     config.Config
	path    string   // the configuration file; "" = none, nothing to reload
	environ []string // the process environment, applied over every reload
	level   *slog.LevelVar
}

// runAgent builds the parts (OVN watcher, appliers, metrics) and runs the loop until ctx
// ends. Shutdown leaves addresses and FRR config in place: a restart must not withdraw
// anything still wanted.
func runAgent(ctx context.Context, in agentInput, log *slog.Logger) error {
	cfg := in.cfg
	log.Info("starting", "version", version, "driver", cfg.Driver, "as", cfg.BGP.AS, "nic", cfg.BGP.NIC, "vrf", cfg.BGP.VRF)

	// frr.conf is rendered on every FRR apply (password and extra-config files are read
	// then); rendering once here makes a bad configuration stop the agent at start.
	frrMgr := frr.NewManager(cfg, log.With("applier", "frr"))
	if _, err := frrMgr.Render(); err != nil {
		return err
	}
	nic, err := kernel.New(kernel.Options{NIC: cfg.BGP.NIC, VRF: cfg.BGP.VRF, VRFTableID: cfg.BGP.VRFTableID,
		RouteProtocol: uint8(cfg.Kernel.RouteProtocol)}, log.With("applier", "kernel"))
	if err != nil {
		return err
	}
	defer nic.Close()
	if err := nic.EnsureDevices(ctx); err != nil {
		return err
	}
	k := cfg.Kernel
	wirer, err := kernel.NewWirer(kernel.WiringOptions{RulePriority: k.RulePriority, RouteProtocol: uint8(k.RouteProtocol),
		TableBase: k.BridgeTableBase, TableCount: config.BridgeTableCount}, log.With("applier", kernel.WiringName))
	if err != nil {
		return err
	}
	defer wirer.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	obs := newObservability(cfg, frrMgr)
	var loop *reconcile.Loop
	trigger := func(reason string) { loop.Trigger(reason) }
	src := &nodeSource{nic: nic}
	src.cfg.Store(&cfg)
	// FRR applies in the background: frr-reload.py takes seconds (minutes when FRR hangs),
	// and a new VM's address must not wait for it.
	frrApply := reconcile.NewBackground(frrMgr, obs, log)
	passer := reconcile.NewPasser(reconcile.PassOptions{
		Source:   src,
		Appliers: passAppliers(frrApply, wirer, nic, ovs.New(ovs.Options{}, log.With("applier", "ovs"))),
		Policy:   cfg.ExposurePolicy(),
		Reporter: obs,
		Trigger:  trigger,
		Log:      log,
	})
	// The loop exists before the watcher so that OVN events can trigger it from the first
	// row; its passes wait until every monitor has its initial rows, because a pass on a
	// half-filled cache would withdraw routes that are still wanted.
	ready := make(chan struct{})
	loop = reconcile.New(func(ctx context.Context, full bool) error {
		select {
		case <-ready:
		case <-ctx.Done():
			return ctx.Err()
		}
		return passer.Pass(ctx, full)
	}, cfg.ReconcileInterval, log)
	loop.Observe(obs)
	var wg sync.WaitGroup
	if err := serveObservability(ctx, &wg, cfg.Metrics.Listen, obs, frrMgr, log); err != nil {
		return err
	}
	wg.Go(func() { loop.Run(ctx) })
	wg.Go(func() { frrApply.Run(ctx) })
	// Netlink events on what the agent owns, and FRR restarts (which lose the runtime
	// config), trigger a pass at once.
	wg.Go(func() {
		kernel.Watch(ctx, kernel.WatchOptions{Netns: netns.None(), RouteProtocol: uint8(k.RouteProtocol), RulePriority: k.RulePriority,
			Resync:  loop.TriggerFull,
			Mirrors: []kernel.Mirrored{nic, wirer}},
			trigger, log.With("component", "netlink-watch"))
	})
	wg.Go(func() { frrMgr.Watch(ctx, cfg.FRR.WatchInterval, trigger) })
	if in.path != "" {
		r := config.NewReloader(in.path, in.environ, cfg, log.With("component", "config"))
		r.OnChange = func(next config.Config, changed []string) {
			// Every live key takes effect from the next pass, which this triggers; state that
			// did not change is not touched (FRR skips an unchanged text, appliers diff).
			passer.SetPolicy(next.ExposurePolicy())
			src.cfg.Store(&next)
			frrMgr.SetConfig(next)
			loop.SetInterval(next.ReconcileInterval)
			obs.Health().SetLimits(next.ReconcileInterval, metrics.DefaultStuckAfter)
			setLevel(in.level, next.Log.Level)
			loop.Trigger("config reload")
		}
		r.OnResult = func(ok bool, _ error) { obs.ConfigReloaded(ok) }
		wg.Go(func() {
			if err := r.Run(ctx); err != nil {
				log.Error("configuration is no longer watched; SIGHUP still reloads", "err", err)
			}
		})
		wg.Go(func() { reloadOnSIGHUP(ctx, r, loop.TriggerFull, log) })
	}
	defer func() {
		cancel()
		wg.Wait() // no pass runs past this point, so closing the clients is safe
		if src.w != nil {
			src.w.Close()
		}
	}()

	src.w, err = ovn.Connect(ctx, cfg, trigger, log.With("component", "ovn"))
	if err != nil {
		return err
	}
	obs.Health().OVNSynced()
	wg.Go(func() { obs.WatchOVN(ctx, time.Second, src.w) })
	close(ready)
	<-ctx.Done()
	return ctx.Err()
}

// nodeSource is the pass's Source once the watcher has connected (passes wait for that):
// OVN's state and this node's identity, with the facts the core's infrastructure guard needs
// (the node's own addresses from the kernel; its peers, databases and router-id from the
// configuration). Without them no pass runs: a pass without the guard could take the node's
// own traffic.
type nodeSource struct {
	w   *ovn.Watcher
	nic *kernel.Applier
	cfg atomic.Pointer[config.Config] // replaced by a configuration reload
}

func (s *nodeSource) Read(ctx context.Context, full bool) (ovnstate.Identity, ovnstate.State, error) {
	id, st, err := s.w.Read(ctx)
	if err != nil {
		return id, st, err
	}
	id.Facts = s.cfg.Load().NodeFacts(id.OVNRemote)
	// An event's pass reuses the last read unless the netlink watcher saw an address or
	// device change off the NIC; a full pass reads anew.
	nodeAddrs := s.nic.KnownNodeAddresses
	if full {
		nodeAddrs = s.nic.NodeAddresses
	}
	if id.Facts.Addresses, err = nodeAddrs(ctx, slices.Collect(maps.Values(id.BridgeMappings))); err != nil {
		return id, st, fmt.Errorf("read the node's own addresses: %w", err)
	}
	return id, st, nil
}

// reloadOnSIGHUP reloads the configuration on SIGHUP, the usual "re-read your config" signal,
// and runs a full pass at once: an operator who just cleaned something up by hand (upstream's
// flows, say) need not wait for the periodic pass.
func reloadOnSIGHUP(ctx context.Context, r *config.Reloader, trigger func(string), log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			log.Info("SIGHUP: reloading the configuration and running a full pass")
			r.Reload()
			trigger("SIGHUP")
		}
	}
}

// passAppliers orders a pass's appliers.
//
// The wiring before the addresses: a new prefix is steered into OVN before bgp-nic makes FRR
// advertise it, so its first packets are not lost.
//
// FRR gets the plan once the kernel's writes are done (its apply runs in the background, so
// nothing waits for it). At a cold start with 10,000 addresses, zebra (FRR 8.4) handles the
// burst's netlink messages in one task that ran 10-18 s without serving its clients: bgpd's
// next-hop registration for a peer and bfdd's "BFD up" then reach bgpd late and together,
// bgpd drops the next-hop answer (it arrives while the peer is in Connect) and the peer waits
// its connect-retry timer, 120 s with `frr defaults traditional`. Handed over after the burst,
// frr-reload.py's first vtysh call waits for zebra to be free, so the peers start on a
// responsive zebra (docs/bench-scale.md, "The ToR session that waited two minutes").
//
// The OVS flows last: they depend on the bridges only (an event's pass skips them), and at
// start the addresses must not wait for ovs-ofctl.
func passAppliers(frr, wiring, addresses, flows reconcile.Applier) []reconcile.Applier {
	return []reconcile.Applier{wiring, addresses, frr, flows}
}
