package frr

import (
	"os"
	"path/filepath"
	"testing"
)

// The full running-config read runs only when a daemon's socket or pid file was made anew,
// when the expected lines changed, after a failed check, or every fullCheckEvery ticks.
func TestRestartProbeSkipsOnlyWhatCannotHaveChanged(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("zebra.vty", "")
	write("bgpd.vty", "")
	write("bgpd.pid", "100\n")
	p := &restartProbe{dir: dir}
	exp := []string{"router bgp 64999", " neighbor 172.30.1.254 remote-as 65000"}
	fulls, reason := 0, ""
	var unknown, unknownPerCheck uint64 // daemons that did not answer a full check
	tick := func(exp []string) string {
		return p.check(map[string][]string{BGPd: exp}, func() string { fulls++; unknown += unknownPerCheck; return reason },
			func() uint64 { return unknown })
	}

	tick(exp)
	if fulls != 1 {
		t.Fatalf("first tick: %d full checks, want 1", fulls)
	}
	for range fullCheckEvery {
		tick(exp)
	}
	if fulls != 1 {
		t.Errorf("%d unchanged ticks: %d full checks, want still 1", fullCheckEvery, fulls)
	}
	tick(exp)
	if fulls != 2 {
		t.Errorf("tick %d: %d full checks, want the periodic one (2)", fullCheckEvery+1, fulls)
	}

	// bgpd restarted: a new pid file (and socket).
	if err := os.Remove(filepath.Join(dir, "bgpd.pid")); err != nil {
		t.Fatal(err)
	}
	write("bgpd.pid", "200\n")
	tick(exp)
	if fulls != 3 {
		t.Errorf("after a bgpd restart: %d full checks, want 3", fulls)
	}

	// New expected lines (the agent applied another config).
	tick(append(exp[:1:1], " neighbor 172.30.1.253 remote-as 65000"))
	if fulls != 4 {
		t.Errorf("after a new config: %d full checks, want 4", fulls)
	}

	// A check a daemon did not answer (FRR restarting) has not passed: the next tick checks
	// again instead of trusting the new sockets.
	newCfg := append(exp[:1:1], " neighbor 172.30.1.253 remote-as 65000")
	if err := os.Remove(filepath.Join(dir, "bgpd.pid")); err != nil {
		t.Fatal(err)
	}
	write("bgpd.pid", "300\n")
	unknownPerCheck = 1
	tick(newCfg)
	unknownPerCheck = 0
	tick(newCfg)
	if fulls != 6 {
		t.Errorf("after a check with a daemon not answering: %d full checks, want 6 (checked again)", fulls)
	}
	fulls -= 2 // the counts below continue from before this part

	// A failed check is repeated on every tick until one passes.
	reason = "missing: router bgp 64999"
	tick(exp)
	tick(exp)
	if fulls != 6 {
		t.Errorf("failing checks: %d full checks, want 6", fulls)
	}
	reason = ""
	tick(exp)
	tick(exp)
	if fulls != 7 {
		t.Errorf("after a passing check: %d full checks, want 7", fulls)
	}

	// Without sockets to go by, every tick reads in full.
	p.dir = filepath.Join(dir, "missing")
	tick(exp)
	tick(exp)
	if fulls != 9 {
		t.Errorf("no socket directory: %d full checks, want 9", fulls)
	}
}

func TestSocketDir(t *testing.T) {
	for _, c := range []struct{ pathspace, vtySocket, want string }{
		{"", "", "/var/run/frr"},
		{"", "/var/run/frr", "/var/run/frr"},
		{"node1", "", "/var/run/frr/node1"},
		{"node1", "/var/run/frr", "/var/run/frr/node1"}, // the agent's default vty_socket
		{"node1", "/run/frr/node1", "/run/frr/node1"},
		{"", "/srv/frr", "/srv/frr"},
		{"node1", "/srv/frr", "/srv/frr/node1"},
	} {
		if got := socketDir(c.pathspace, c.vtySocket); got != c.want {
			t.Errorf("socketDir(%q, %q) = %q, want %q", c.pathspace, c.vtySocket, got, c.want)
		}
	}
}
