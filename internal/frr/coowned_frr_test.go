package frr

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
