package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/frr"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/kernel"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/metrics"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/reconcile"
)

// agentInput is what runAgent starts from.
type agentInput struct {
	cfg     config.Config
	path    string   // the configuration file; "" = none, nothing to reload
	environ []string // the process environment, applied over every reload
	level   *slog.LevelVar
}

// runAgent wires OVN → exposure → appliers and runs the loop until ctx ends. Shutdown leaves
// addresses and FRR config in place: a restart must not withdraw anything still wanted.
func runAgent(ctx context.Context, in agentInput, log *slog.Logger) error {
	cfg := in.cfg
	log.Info("starting", "version", version, "driver", cfg.Driver, "as", cfg.BGP.AS, "nic", cfg.BGP.NIC, "vrf", cfg.BGP.VRF)

	// frr.conf is rendered on every pass (password and extra-config files are read then);
	// rendering once here makes a bad configuration stop the agent at start.
	frrMgr := frr.NewManager(cfg, log.With("applier", "frr"))
	if _, err := frrMgr.Render(); err != nil {
		return err
	}
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

	obs := newObservability(cfg, frrMgr)
	p := &passer{k: k, wr: wr, frr: frrMgr, log: log, obs: obs}
	p.policy.Store(ptr(exposurePolicy(cfg)))
	// The loop exists before the watcher so that OVN events can trigger it from the first
	// row; its passes wait until every monitor has its initial rows, because a pass on a
	// half-filled cache would withdraw routes that are still wanted.
	ready := make(chan struct{})
	pass := func(ctx context.Context) error {
		select {
		case <-ready:
		case <-ctx.Done():
			return ctx.Err()
		}
		return p.pass(ctx)
	}
	loop := reconcile.New(pass, cfg.ReconcileInterval, log)
	p.handover = newHandover(loop.Trigger)
	loop.Observe(obs)
	var wg routines
	if err := serveObservability(ctx, &wg, cfg.Metrics.Listen, obs, frrMgr, log); err != nil {
		return err
	}
	wg.Go(func() { loop.Run(ctx) })
	// Netlink events on what the agent owns, and FRR restarts (which lose the runtime
	// config), trigger a pass at once.
	wg.Go(func() { wr.watchKernel(ctx, loop.Trigger) })
	wg.Go(func() { frrMgr.Watch(ctx, cfg.FRR.WatchInterval, loop.Trigger) })
	if in.path != "" {
		r := config.NewReloader(in.path, in.environ, cfg, log.With("component", "config"))
		r.OnChange = func(next config.Config, changed []string) {
			// Every live key takes effect from the next pass, which this triggers; state that
			// did not change is not touched (FRR skips an unchanged text, appliers diff).
			p.policy.Store(ptr(exposurePolicy(next)))
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
		wg.Go(func() { reloadOnSIGHUP(ctx, r, loop.Trigger, log) })
	}
	defer func() {
		cancel()
		wg.Wait() // no pass runs past this point, so closing the clients is safe
		if p.w != nil {
			p.w.Close()
		}
	}()

	p.w, err = ovn.Connect(ctx, cfg, loop.Trigger, log.With("component", "ovn"))
	if err != nil {
		return err
	}
	obs.Health().OVNSynced()
	wg.Go(func() { obs.WatchOVN(ctx, time.Second, p.w.Connected) })
	close(ready)
	<-ctx.Done()
	return ctx.Err()
}

// routines are the goroutines the agent owns; Wait returns when all have ended.
type routines struct{ done []chan struct{} }

func (g *routines) Go(f func()) {
	ch := make(chan struct{})
	g.done = append(g.done, ch)
	go func() { defer close(ch); f() }()
}

func (g *routines) Wait() {
	for _, ch := range g.done {
		<-ch
	}
}

// passer holds what one reconcile pass reads and applies.
type passer struct {
	w        *ovn.Watcher
	k        *kernel.Applier
	wr       *wiring
	frr      *frr.Manager
	policy   atomic.Pointer[exposure.Policy] // replaced by a configuration reload
	reported findingLog
	stale    string // databases disconnected at the last pass, for logging changes only
	handover *handover
	log      *slog.Logger
	obs      *metrics.Metrics
}

// reportStale logs when passes start and stop running on the last known state of a
// disconnected database.
func (p *passer) reportStale(stale []string) {
	now := strings.Join(stale, ",")
	switch {
	case now == p.stale:
	case now == "":
		p.log.Info("OVN databases reconnected; passes use live state again")
	default:
		p.log.Warn("OVN database disconnected; passes keep applying its last known state until it is back", "db", now)
	}
	p.stale = now
}

// pass is one pass: snapshot, compute, apply FRR, then the kernel (the provider-bridge
// wiring and its OVS flows, then the addresses and routes on the NIC).
func (p *passer) pass(ctx context.Context) error {
	id, st, err := p.w.Read(ctx)
	if err != nil {
		p.obs.ApplierFailed(metrics.ApplierOVN)
		return err
	}
	p.reportStale(st.Stale)
	desired, findings := exposure.Compute(st, id, *p.policy.Load())
	p.reported.report(findings, p.log)
	desired, arriving := p.handover.apply(desired, st, id.Chassis)
	p.obs.Exposed(desired)
	// Each applier runs even when another failed: an FRR that is restarting must not stop
	// a new VM's address from reaching bgp-nic, and the next pass retries the failed one.
	var errs []error
	before := p.frr.Stats()
	if err := p.frr.Sync(ctx); err != nil {
		p.obs.ApplierFailed(metrics.ApplierFRR)
		errs = append(errs, fmt.Errorf("frr: %w", err))
	}
	p.obs.FRRApplied(before, p.frr.Stats())
	// The wiring before the addresses: a new prefix is steered into OVN before bgp-nic makes
	// FRR advertise it, so its first packets are not lost.
	errs = append(errs, p.wr.apply(ctx, p.w, id, desired, p.obs))
	if p.wr.kernel.IPv6Disabled() {
		desired = desired.IPv4Only() // the wiring said so once; every IPv6 address would fail
	}
	res, err := p.k.Sync(ctx, hostAddrs(desired, arriving))
	p.obs.Changed(metrics.ApplierKernel, "address-added", len(res.Added))
	p.obs.Changed(metrics.ApplierKernel, "address-removed", len(res.Removed))
	p.obs.Changed(metrics.ApplierKernel, "address-remetered", len(res.Remetered))
	p.obs.Changed(metrics.ApplierKernel, "local-route-deleted", len(res.LocalRoutesDeleted))
	if err != nil {
		p.obs.ApplierFailed(metrics.ApplierKernel)
		errs = append(errs, fmt.Errorf("kernel: %w", err))
	}
	rres, err := p.k.SyncRoutes(ctx, subnetRoutes(desired))
	p.obs.Changed(metrics.ApplierKernelRoutes, "route-added", len(rres.Added))
	p.obs.Changed(metrics.ApplierKernelRoutes, "route-removed", len(rres.Removed))
	p.obs.Changed(metrics.ApplierKernelRoutes, "route-remetered", len(rres.Remetered))
	if err != nil {
		p.obs.ApplierFailed(metrics.ApplierKernelRoutes)
		errs = append(errs, fmt.Errorf("kernel routes: %w", err))
	}
	return errors.Join(errs...)
}

func ptr[T any](v T) *T { return &v }

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
	seen map[string]exposure.Finding // by Finding.String: a row and its reason
}

func (l *findingLog) report(findings []exposure.Finding, log *slog.Logger) {
	now := make(map[string]exposure.Finding, len(findings))
	for _, f := range findings {
		now[f.String()] = f
		if _, seen := l.seen[f.String()]; !seen {
			log.Warn("OVN data refused", "object", f.Object, "finding", f.Message)
		}
	}
	for k, f := range l.seen {
		if _, still := now[k]; !still {
			log.Info("OVN data no longer refused", "object", f.Object, "finding", f.Message)
		}
	}
	l.seen = now
}
