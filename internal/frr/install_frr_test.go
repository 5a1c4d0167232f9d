//go:build privileged

package frr

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// TestInstallReachesZebra applies the rhoso-compute golden (bgp.install and
// frr.nht_resolve_via_default) to FRR 8.4 and FRR 10.3 and reads back from zebra itself,
// not from the merged running config, that it installs BGP routes through the route-maps
// (`show ip[v6] protocol`), that its route-map sets the source address, and that next hops
// resolve over the default route. The instance starts with `no ip nht resolve-via-default`,
// so the apply has to turn it on on both versions (FRR 10's traditional profile has it on
// already, and would pass without the agent doing anything).
func TestInstallReachesZebra(t *testing.T) {
	for _, v := range []struct{ name, version string }{{"frr-8.4", "8.4"}, {"frr-10.3", "10.3"}} {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			root := ""
			if v.version != "8.4" {
				root = trixieRoot(t)
			}
			f := startFRRFrom(t, root)
			ctx := context.Background()
			if out, err := f.Vtysh(ctx, "configure terminal", "no ip nht resolve-via-default"); err != nil {
				t.Fatalf("no ip nht resolve-via-default: %v\n%s", err, out)
			}
			if on, err := zebraResolvesViaDefault(ctx, f, v.version); err != nil || on {
				t.Fatalf("before the apply, zebra resolves via default = %v, %v; want off", on, err)
			}
			text, err := os.ReadFile(goldenPath("rhoso-compute"))
			if err != nil {
				t.Fatal(err)
			}
			r := NewReloader(config.FRR{Pathspace: f.Name, ConfigFile: f.ConfigFile()}, nil)
			r.run = func(ctx context.Context, timeout time.Duration, argv []string) (string, error) {
				return runCommand(ctx, timeout, f.Command(argv...))
			}
			if _, err := r.Apply(ctx, text); err != nil {
				t.Fatal(err)
			}

			zebra := func(cmd string) string {
				t.Helper()
				out, err := zebraSays(ctx, f, cmd)
				if err != nil {
					t.Fatalf("zebra: %s: %v\n%s", cmd, err, out)
				}
				return out
			}
			for cmd, want := range map[string]string{"show ip protocol": "obgp-install4", "show ipv6 protocol": "obgp-install6"} {
				if !regexp.MustCompile(`(?m)^bgp +: ` + want + `$`).MatchString(zebra(cmd)) {
					t.Errorf("zebra: %s does not give bgp the route-map %s:\n%s", cmd, want, zebra(cmd))
				}
			}
			if set := zebraSetClauses(t, zebra("show route-map obgp-install4 json"), "obgp-install4", 10); !slices.Contains(set, "src 172.30.1.10") {
				t.Errorf("zebra's route-map obgp-install4 permit 10 sets %q, want src 172.30.1.10", set)
			}
			if on, err := zebraResolvesViaDefault(ctx, f, v.version); err != nil || !on {
				t.Errorf("after the apply, zebra resolves via default = %v, %v; want on", on, err)
			}
		})
	}
}

// zebraResolvesViaDefault reads zebra's `ip nht resolve-via-default` for the default VRF:
// FRR 10 shows it in `show ip nht json`; FRR 8.4 has no such field, and prints the line in
// zebra's running config when it is on (its default is off).
func zebraResolvesViaDefault(ctx context.Context, f *lab.FRR, version string) (bool, error) {
	if version == "8.4" {
		out, err := zebraSays(ctx, f, "show running-config")
		return regexp.MustCompile(`(?m)^ip nht resolve-via-default$`).MatchString(out), err
	}
	out, err := zebraSays(ctx, f, "show ip nht json")
	if err != nil {
		return false, err
	}
	var nht map[string]map[string]map[string]any
	if err := json.Unmarshal([]byte(out), &nht); err != nil {
		return false, fmt.Errorf("show ip nht json: %w\n%s", err, out)
	}
	on, ok := nht["default"]["ipv4"]["resolveViaDefault"].(bool)
	if !ok {
		return false, fmt.Errorf("show ip nht json has no default.ipv4.resolveViaDefault:\n%s", out)
	}
	return on, nil
}

// zebraSays runs one command in zebra alone (vtysh -d zebra), with the instance's own vtysh.
func zebraSays(ctx context.Context, f *lab.FRR, cmd string) (string, error) {
	return runCommand(ctx, time.Minute, f.Command("vtysh", "-N", f.Name, "-d", "zebra", "-c", cmd))
}

// zebraSetClauses returns the set clauses of entry seq of zebra's route-map name, from
// `show route-map NAME json` (keyed "ZEBRA" by FRR 8.4, "zebra" by FRR 10).
func zebraSetClauses(t *testing.T, out, name string, seq int) []string {
	t.Helper()
	var byDaemon map[string]map[string]struct {
		Rules []struct {
			SequenceNumber int      `json:"sequenceNumber"`
			SetClauses     []string `json:"setClauses"`
		} `json:"rules"`
	}
	if err := json.Unmarshal([]byte(out), &byDaemon); err != nil {
		t.Fatalf("show route-map %s json: %v\n%s", name, err, out)
	}
	for d, maps := range byDaemon {
		if !strings.EqualFold(d, "zebra") {
			continue
		}
		for _, rule := range maps[name].Rules {
			if rule.SequenceNumber == seq {
				return rule.SetClauses
			}
		}
	}
	t.Fatalf("zebra has no route-map %s entry %d:\n%s", name, seq, out)
	return nil
}
