//go:build privileged

package frr

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// TestCoOwnedGoldensApplyToRealFRR applies every co-owned golden to a real FRR through a
// co-owned Reloader: FRR takes it, runs every operator line and every agent line, has
// nothing left to do, and FRR's own file (the operator's) is never written.
func TestCoOwnedGoldensApplyToRealFRR(t *testing.T) {
	f := startFRR(t)
	ctx := context.Background()
	own := filepath.Join(t.TempDir(), "frr.conf")
	r := NewReloader(config.FRR{Pathspace: f.Name, ConfigFile: own, BaseConfig: f.ConfigFile()}, nil)
	if r.ConfigFile != own || r.ConfDir != filepath.Dir(own) {
		t.Fatalf("co-owned Reloader writes %s with confdir %s, want %s", r.ConfigFile, r.ConfDir, own)
	}
	operatorFile, err := os.ReadFile(f.ConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range coCases {
		text, err := os.ReadFile(coPath(tc.name, ".conf"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Apply(ctx, text); err != nil {
			t.Fatalf("%s: Apply: %v", tc.name, err)
		}
		running, err := r.Vtysh().runningConfig(ctx)
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, l := range strings.Split(running, "\n") {
			have[strings.TrimSpace(l)] = true
		}
		for _, l := range significantLines(string(text)) {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "!") || settlesNever(l) || l == "bgp ebgp-requires-policy" {
				continue // comments; lines FRR takes without printing them (FRR defaults)
			}
			if !have[l] {
				t.Errorf("%s: FRR does not run %q\nrunning:\n%s", tc.name, l, running)
			}
		}
		out, err := r.frrReload(ctx, "--test", r.ConfigFile)
		if err != nil {
			t.Fatalf("frr-reload.py --test: %v\n%s", err, out)
		}
		if d := r.agentPending(pendingChanges(out), text); len(d) > 0 {
			t.Errorf("%s: after apply, frr-reload.py --test still wants:\n%s", tc.name, strings.Join(d, "\n"))
		}
		if now, err := os.ReadFile(f.ConfigFile()); err != nil || !bytes.Equal(now, operatorFile) {
			t.Fatalf("%s: FRR's own file %s was written (err %v):\n%s", tc.name, f.ConfigFile(), err, now)
		}
	}
}

// A bgpd that restarts loses the operator's lines and the agent's alike; the watcher sees
// its own lines gone and the next Sync loads the whole merged file again, so both come back.
func TestCoOwnedWatchReappliesAfterBgpdRestart(t *testing.T) {
	f := startFRR(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	seed, err := os.ReadFile(coPath("seed", ".base"))
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(t.TempDir(), "frr.conf")
	if err := os.WriteFile(base, seed, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.BGP.VRF = ""
	cfg.FRR = config.FRR{Pathspace: f.Name, ConfigFile: filepath.Join(t.TempDir(), "frr.conf"), BaseConfig: base}
	m := NewManager(cfg, nil)
	if err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	triggers := make(chan string, 10)
	watchCtx, stopWatch := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { m.Watch(watchCtx, 100*time.Millisecond, func(r string) { triggers <- r }); close(done) }()
	defer func() { stopWatch(); <-done }()

	if err := f.KillDaemon("bgpd"); err != nil {
		t.Fatal(err)
	}
	if err := f.RestartDaemon(ctx, "bgpd"); err != nil {
		t.Fatal(err)
	}
	err = lab.Poll(ctx, time.Minute, "operator's and agent's lines back in bgpd", func() (bool, error) {
		select {
		case <-triggers:
		default:
		}
		if err := m.Sync(ctx); err != nil {
			return false, err
		}
		own, err := m.r.Vtysh().Run(ctx, "show running-config bgpd")
		if err != nil {
			return false, err
		}
		return strings.Contains(own, " neighbor 172.30.1.254 bfd\n") && strings.Contains(own, "  maximum-paths 8\n") &&
			strings.Contains(own, "  redistribute connected route-map "+RouteMap+"\n") &&
			strings.Contains(own, "\nroute-map "+RouteMap+" permit 10\n"), fmt.Errorf("bgpd runs:\n%s", own)
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := m.Stats(); st.Restarts < 1 {
		t.Errorf("stats = %+v; want the restart seen", st)
	}
}

// significantLines are text's lines without blank lines, comments markers and block ends.
func significantLines(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		switch strings.TrimSpace(l) {
		case "", "!", "exit", "exit-address-family", "end":
			continue
		}
		out = append(out, l)
	}
	return out
}
