//go:build privileged

package frr

import (
	"context"
	"log/slog"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// installConfig is the agent configuration of the tests here: one BGP peer with BFD and
// bgp.install (only the default route, sourced from the node's address), the lines FRR 10
// keeps in mgmtd: the route-map's `set src` and `ip protocol bgp route-map`.
func installConfig(f *lab.FRR) config.Config {
	cfg := agentConfig(func(b *config.BGP) {
		b.RouterID = netip.MustParseAddr("172.30.1.10")
		b.Install = config.Install{DefaultOnly: true, SourceIPv4: netip.MustParseAddr("172.30.1.10")}
	})
	cfg.FRR = config.FRR{Pathspace: f.Name, ConfigFile: f.ConfigFile()}
	return cfg
}

// inInstance makes r run vtysh and frr-reload.py of f's own FRR (inside its root).
func inInstance(r *Reloader, f *lab.FRR) {
	r.run = func(ctx context.Context, timeout time.Duration, argv []string) (string, error) {
		return runCommand(ctx, timeout, f.Command(argv...))
	}
}

// mgmtdHolds reports whether FRR 10 runs the agent's bgp.install lines: in mgmtd's own
// running-config (route-map entry with set src, ip protocol) and, through mgmtd, in zebra
// (`show ip protocol` gives bgp the route-map).
func mgmtdHolds(ctx context.Context, f *lab.FRR) (inMgmtd, inZebra bool, err error) {
	own, err := runCommand(ctx, time.Minute, f.Command("vtysh", "-N", f.Name, "-d", Mgmtd, "-c", "show running-config"))
	if err != nil {
		return false, false, err
	}
	inMgmtd = strings.Contains(own, "\nroute-map obgp-install4 permit 10\n match ip address prefix-list obgp-default-only4\n set src 172.30.1.10\n") &&
		strings.Contains(own, "\nip protocol bgp route-map obgp-install4\n")
	proto, err := zebraSays(ctx, f, "show ip protocol")
	if err != nil {
		return false, false, err
	}
	return inMgmtd, regexp.MustCompile(`(?m)^bgp +: obgp-install4$`).MatchString(proto), nil
}

// On FRR 10 a mgmtd killed and started again holds none of the agent's zebra config while
// zebra keeps running it (round 1); killed together with zebra, zebra loses it too (round 2).
// Neither shows in bgpd's or zebra's own running-config, only in mgmtd's: the watcher must
// see the loss there and trigger, and the re-apply must put the lines back into mgmtd and,
// through it, into zebra.
func TestWatchReappliesAfterMgmtdRestart(t *testing.T) {
	f := startFRRFrom(t, trixieRoot(t))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	m := NewManager(installConfig(f), slog.New(slog.NewTextHandler(testLog{t}, nil)))
	inInstance(m.Reloader(), f)
	if err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if exp := m.expectedLines()[Mgmtd]; !slices.Contains(exp, "ip protocol bgp route-map obgp-install4") ||
		!slices.Contains(exp, "route-map obgp-install4 permit 10\nset src 172.30.1.10") {
		t.Fatalf("after the apply mgmtd is held to %q; want its ip protocol and set src lines", exp)
	}
	if inMgmtd, inZebra, err := mgmtdHolds(ctx, f); err != nil || !inMgmtd || !inZebra {
		t.Fatalf("after the apply: in mgmtd %v, in zebra %v (%v); want both", inMgmtd, inZebra, err)
	}
	if reason := m.check(ctx, time.Second); reason != "" {
		t.Fatalf("check on a healthy FRR: %s", reason)
	}

	triggers := make(chan string, 10)
	watchCtx, stopWatch := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { m.Watch(watchCtx, 100*time.Millisecond, func(r string) { triggers <- r }); close(done) }()
	defer func() { stopWatch(); <-done }()

	for _, round := range [][]string{{Mgmtd}, {Mgmtd, Zebra}} {
		name := strings.Join(round, "+")
		for _, d := range round {
			if err := f.KillDaemon(d); err != nil {
				t.Fatal(err)
			}
		}
		for _, d := range slices.Backward(round) {
			if err := f.RestartDaemon(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		inMgmtd, inZebra, err := mgmtdHolds(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		// zebra keeps what it runs until it restarts itself.
		if wantZebra := !slices.Contains(round, Zebra); inMgmtd || inZebra != wantZebra {
			t.Fatalf("%s restarted: in mgmtd %v, in zebra %v; the test expects the lines lost from mgmtd (and zebra: %v)",
				name, inMgmtd, inZebra, !wantZebra)
		}
		select {
		case reason := <-triggers:
			t.Logf("%s restarted: watcher triggered (%s)", name, reason)
		case <-time.After(30 * time.Second):
			t.Fatalf("%s restarted and lost the agent's lines; the watcher did not trigger within 30s (stats %+v)", name, m.Stats())
		}
		if err := lab.Poll(ctx, 30*time.Second, "re-apply after "+name+" restart", func() (bool, error) {
			if err := m.Sync(ctx); err != nil {
				return false, err
			}
			inMgmtd, inZebra, err := mgmtdHolds(ctx, f)
			return inMgmtd && inZebra, err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if st := m.Stats(); st.Restarts < 2 {
		t.Errorf("stats = %+v; want a restart seen per round", st)
	}
}

// An apply while FRR 10's mgmtd is down (vtysh refuses any configuration then) must wait for
// it, and fail without sending anything when it does not come back; once mgmtd is back
// mid-wait, the apply succeeds and mgmtd holds the agent's lines.
func TestApplyWaitsForMgmtd(t *testing.T) {
	f := startFRRFrom(t, trixieRoot(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m := NewManager(installConfig(f), slog.New(slog.NewTextHandler(testLog{t}, nil)))
	text, err := m.Render()
	if err != nil {
		t.Fatal(err)
	}
	r := m.Reloader()
	if err := f.KillDaemon(Mgmtd); err != nil {
		t.Fatal(err)
	}

	// mgmtd stays down: the apply gives up after DaemonWait, naming mgmtd, having run no
	// frr-reload.py and loaded nothing.
	var sent atomic.Int32
	r.run = func(ctx context.Context, timeout time.Duration, argv []string) (string, error) {
		if argv[0] != "vtysh" || slices.Contains(argv, "-f") {
			sent.Add(1)
		}
		return runCommand(ctx, timeout, f.Command(argv...))
	}
	r.DaemonWait = 2 * time.Second
	changed, err := r.Apply(ctx, text)
	if err == nil || changed || !strings.Contains(err.Error(), "FRR daemons mgmtd do not accept vtysh connections") {
		t.Fatalf("Apply with mgmtd down = %v, %v; want an error naming mgmtd", changed, err)
	}
	if n := sent.Load(); n != 0 {
		t.Errorf("Apply with mgmtd down ran frr-reload.py or vtysh -f %d times; want none", n)
	}

	// mgmtd comes back when the applier first finds it down.
	var back atomic.Bool
	var restartErr error
	r.run = func(rctx context.Context, timeout time.Duration, argv []string) (string, error) {
		out, err := runCommand(rctx, timeout, f.Command(argv...))
		if err != nil && slices.Contains(argv, Mgmtd) && !back.Swap(true) {
			restartErr = f.RestartDaemon(ctx, Mgmtd)
		}
		return out, err
	}
	r.DaemonWait = 20 * time.Second
	start := time.Now()
	_, err = r.Apply(ctx, text)
	if restartErr != nil {
		t.Fatal(restartErr)
	}
	if !back.Load() {
		t.Fatal("the applier never tried to reach mgmtd: the test proves nothing")
	}
	if err != nil {
		t.Fatalf("Apply with mgmtd back mid-wait: %v", err)
	}
	t.Logf("applied %s after mgmtd came back", time.Since(start).Round(time.Millisecond))
	if inMgmtd, inZebra, err := mgmtdHolds(ctx, f); err != nil || !inMgmtd || !inZebra {
		t.Errorf("after the apply: in mgmtd %v, in zebra %v (%v); want both", inMgmtd, inZebra, err)
	}

	// mgmtd restarts after the reload, before the per-daemon check: the check finds it
	// lacking and loads the whole file into mgmtd alone (vtysh -d mgmtd -f).
	if err := f.KillDaemon(Mgmtd); err != nil {
		t.Fatal(err)
	}
	if err := f.RestartDaemon(ctx, Mgmtd); err != nil {
		t.Fatal(err)
	}
	inInstance(r, f)
	if _, err := r.verifyDaemons(ctx, text, true); err != nil {
		t.Fatalf("check after a mgmtd restart: %v", err)
	}
	if inMgmtd, _, err := mgmtdHolds(ctx, f); err != nil || !inMgmtd {
		t.Errorf("after the check loaded the file into mgmtd: in mgmtd %v (%v); want the lines", inMgmtd, err)
	}
}
