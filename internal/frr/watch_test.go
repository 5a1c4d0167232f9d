//go:build privileged

package frr

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// A bgpd that is killed and started again has no config; the watcher sees it through vtysh and
// the next Sync (here run for every trigger, as the reconcile loop does) puts it back.
func TestWatchReappliesAfterBgpdRestart(t *testing.T) {
	f := startFRR(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := agentConfig(nil)
	cfg.BGP.BFDProfiles = []config.BFDProfile{{Name: "fast", ReceiveInterval: 100, TransmitInterval: 100}}
	cfg.BGP.Peers[0].BFDProfile = "fast"
	cfg.FRR = config.FRR{Pathspace: f.Name, ConfigFile: f.ConfigFile()}
	m := NewManager(cfg, nil)
	if err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	triggers := make(chan string, 10)
	watchCtx, stopWatch := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { m.Watch(watchCtx, 100*time.Millisecond, func(r string) { triggers <- r }); close(done) }()
	defer func() { stopWatch(); <-done }()

	// Nothing changes while FRR keeps running: no trigger during a few checks.
	for i := range 5 {
		if err := m.check(ctx, time.Second); err != "" {
			t.Fatalf("check %d on a healthy FRR: %s", i, err)
		}
	}

	for _, d := range []string{"bgpd", "bfdd"} {
		if err := f.KillDaemon(d); err != nil {
			t.Fatal(err)
		}
		if err := f.RestartDaemon(ctx, d); err != nil {
			t.Fatal(err)
		}
		err := lab.Poll(ctx, 30*time.Second, d+" config re-applied", func() (bool, error) {
			select {
			case <-triggers:
			default:
			}
			if err := m.Sync(ctx); err != nil {
				return false, err
			}
			running, err := m.r.Vtysh().RunningConfig(ctx)
			if err != nil {
				return false, err
			}
			ok := strings.Contains(running, "router bgp 64999\n") && strings.Contains(running, "\nbfd\n profile fast\n")
			// bgpd's own copy of the route-map: the merged view above also shows zebra's.
			own, err := m.r.Vtysh().Run(ctx, "show running-config bgpd")
			if err != nil {
				return false, err
			}
			return ok && strings.Contains(own, "\nroute-map "+RouteMap+" permit 10\n"), nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if st := m.Stats(); st.Restarts < 2 || st.Reloads < 3 {
		t.Errorf("stats = %+v; want a restart seen and a reload for each daemon", st)
	}
}

// The whole FRR down for a while, then back with no config. While no daemon answers, the
// watcher counts its reads as unknown and re-applies nothing (a vtysh failure is not a lost
// config). zebra comes back first: the re-apply it triggers waits for bgpd, gives up, and is
// not left to its backoff: the watcher triggers again as soon as every daemon answers. Here
// Sync runs only on triggers (no retry loop), so nothing else could bring the config back.
func TestWatchReappliesAfterWholeFRRRestart(t *testing.T) {
	f := startFRR(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := agentConfig(nil)
	cfg.FRR = config.FRR{Pathspace: f.Name, ConfigFile: f.ConfigFile()}
	m := NewManager(cfg, nil)
	if err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	m.r.DaemonWait = time.Second // the re-apply while bgpd is down gives up quickly
	triggers := make(chan string, 100)
	watchCtx, stopWatch := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); m.Watch(watchCtx, 100*time.Millisecond, func(r string) { triggers <- r }) }()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-watchCtx.Done():
				return
			case <-triggers:
				_ = m.Sync(watchCtx) // failures are in Stats
			}
		}
	}()
	defer func() { stopWatch(); wg.Wait() }()

	for _, d := range []string{"bfdd", "bgpd", "zebra"} {
		if err := f.KillDaemon(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := lab.Poll(ctx, 30*time.Second, "watcher reads while FRR is down", func() (bool, error) {
		return m.Stats().Unknown >= 5, nil
	}); err != nil {
		t.Fatal(err)
	}
	if st := m.Stats(); st.Restarts != 0 || st.Failures != 0 {
		t.Fatalf("stats %+v: a daemon that does not answer was taken for a lost config", st)
	}
	if err := f.RestartDaemon(ctx, "zebra"); err != nil {
		t.Fatal(err)
	}
	// zebra is back, bgpd is not: still unknown, not lost (zebra holds no line that tells a
	// complete load from a partial one; on FRR 10 it holds no route-map at all).
	unknown := m.Stats().Unknown
	if err := lab.Poll(ctx, 30*time.Second, "watcher reads with zebra back and bgpd down", func() (bool, error) {
		return m.Stats().Unknown >= unknown+5, nil
	}); err != nil {
		t.Fatal(err)
	}
	if st := m.Stats(); st.Restarts != 0 {
		t.Fatalf("stats %+v: bgpd not answering was taken for a lost config", st)
	}
	for _, d := range []string{"bgpd", "bfdd"} {
		if err := f.RestartDaemon(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := lab.Poll(ctx, 30*time.Second, "config back after FRR restarted", func() (bool, error) {
		own, err := m.r.Vtysh().Run(ctx, "show running-config bgpd")
		return err == nil && strings.Contains(own, "router bgp 64999\n") &&
			strings.Contains(own, "\nroute-map "+RouteMap+" permit 10\n"), err
	}); err != nil {
		t.Fatalf("%v; stats %+v", err, m.Stats())
	}
	if st := m.Stats(); st.Restarts == 0 {
		t.Errorf("stats %+v: the config came back without the watcher seeing it lost", st)
	}
}
