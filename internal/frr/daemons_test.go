//go:build privileged

package frr

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

const sampleConf = `frr version 8.4.4
frr defaults traditional
hostname vm
!
router bgp 64999
 neighbor 172.30.1.254 remote-as 65000
 neighbor 172.30.1.254 bfd
 !
 address-family ipv4 unicast
  redistribute connected route-map RM
  neighbor 172.30.1.254 prefix-list PL out
 exit-address-family
exit
!
ip prefix-list PL seq 5 permit 172.24.0.0/16 ge 32
!
route-map RM permit 9
 match interface bgp-nic
 set metric 100
exit
!
route-map RM permit 10
 match interface bgp-nic
 set community 64999:1
exit
!
bfd
 profile fast
  transmit-interval 100
 exit
 !
exit
!
end
`

func TestDaemonLines(t *testing.T) {
	all := keySet(sampleConf)
	got := daemonLines(sampleConf, all, false)
	want := map[string][]string{
		BGPd: {
			"router bgp 64999",
			"router bgp 64999\nneighbor 172.30.1.254 remote-as 65000",
			"router bgp 64999\nneighbor 172.30.1.254 bfd",
			"router bgp 64999\naddress-family ipv4 unicast",
			"router bgp 64999\naddress-family ipv4 unicast\nredistribute connected route-map RM",
			"router bgp 64999\naddress-family ipv4 unicast\nneighbor 172.30.1.254 prefix-list PL out",
			"ip prefix-list PL seq 5 permit 172.24.0.0/16 ge 32",
			"route-map RM permit 9",
			"route-map RM permit 9\nmatch interface bgp-nic",
			"route-map RM permit 9\nset metric 100",
			"route-map RM permit 10",
			"route-map RM permit 10\nmatch interface bgp-nic",
			"route-map RM permit 10\nset community 64999:1",
		},
		// zebra is held to nothing: FRR 10's keeps no copy of bgpd's route-maps, 8.4's only
		// some clauses, so no zebra line tells a complete load from a partial one.
		BFDd: {"bfd", "bfd\nprofile fast", "bfd\nprofile fast\ntransmit-interval 100"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("daemonLines (-want +got):\n%s", diff)
	}
	// On FRR 10 mgmtd holds zebra's part: prefix-lists, route-map entries with the clauses
	// zebra knows (not bgpd's set community), ip protocol; bgpd is held as on FRR 8.4.
	withSrc := sampleConf + "route-map INSTALL permit 10\n set src 172.30.1.10\nexit\n!\nip protocol bgp route-map INSTALL\n"
	got10 := daemonLines(withSrc, keySet(withSrc), true)
	wantMgmtd := []string{
		"ip prefix-list PL seq 5 permit 172.24.0.0/16 ge 32",
		"route-map RM permit 9",
		"route-map RM permit 9\nmatch interface bgp-nic",
		"route-map RM permit 9\nset metric 100",
		"route-map RM permit 10",
		"route-map RM permit 10\nmatch interface bgp-nic",
		"route-map INSTALL permit 10",
		"route-map INSTALL permit 10\nset src 172.30.1.10",
		"ip protocol bgp route-map INSTALL",
	}
	if diff := cmp.Diff(wantMgmtd, got10[Mgmtd]); diff != "" {
		t.Errorf("daemonLines for mgmtd (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(append(want[BGPd], "route-map INSTALL permit 10"), got10[BGPd]); diff != "" {
		t.Errorf("daemonLines for bgpd with mgmtd (-want +got):\n%s", diff)
	}
	// zebra's own route-map clause (set src, for ip protocol) is held by no daemon on 8.4,
	// and never by bgpd.
	if lines := daemonLines(withSrc, keySet(withSrc), false); slices.Contains(lines[BGPd], "route-map INSTALL permit 10\nset src 172.30.1.10") || len(lines[Mgmtd]) > 0 {
		t.Errorf("without mgmtd: bgpd or mgmtd held to set src: %v", lines)
	}
	if lines := daemonLines(withSrc, keySet(withSrc), true)[BGPd]; slices.Contains(lines, "route-map INSTALL permit 10\nset src 172.30.1.10") {
		t.Error("bgpd is held to set src, a clause only zebra implements")
	}
	// A line FRR prints nowhere is not checked per daemon.
	delete(all, "route-map RM permit 10\nset community 64999:1")
	if slices.Contains(daemonLines(sampleConf, all, false)[BGPd], "route-map RM permit 10\nset community 64999:1") {
		t.Error("a line missing from the merged view is still expected in bgpd")
	}
	if got := neededDaemons(sampleConf); !slices.Equal(got, []string{Zebra, Mgmtd, BGPd, BFDd}) {
		t.Errorf("neededDaemons = %v, want zebra mgmtd bgpd bfdd", got)
	}
	noBFD := strings.Replace(sampleConf, " neighbor 172.30.1.254 bfd\n", "", 1)
	noBFD = noBFD[:strings.Index(noBFD, "bfd\n profile")]
	if got := neededDaemons(noBFD); !slices.Equal(got, []string{Zebra, Mgmtd, BGPd}) {
		t.Errorf("neededDaemons without BFD = %v, want zebra mgmtd bgpd", got)
	}
}

func TestPartialErrorMessage(t *testing.T) {
	err := error(&PartialError{Daemon: BGPd, Missing: []string{"a", "neighbor x password s3cret", "c", "d", "e"}})
	if got := err.Error(); got != "FRR config loaded partly: bgpd lacks a; neighbor x password s3cret; c; and 2 more" {
		t.Errorf("message %q", got)
	}
	var p *PartialError
	if !errors.As(err, &p) {
		t.Error("errors.As")
	}
	if m := missingLines([]string{"router bgp 1\nneighbor x password s3cret"}, nil); strings.Contains(m[0], "s3cret") {
		t.Errorf("missingLines leaks the password: %q", m)
	}
}

// The race of a bgpd restart, made deterministic: bgpd was killed (the agent saw it, so the
// next apply loads the whole file) and comes back at the worst moment: right after the
// applier's first attempt to reach it. The old applier loaded the file with `vtysh -f` while
// bgpd was down (vtysh exits 0, the lines went to zebra and bfdd only), bgpd came back, and
// frr-reload.py, diffing against the merged view where zebra still shows the prefix-lists
// and route-maps, sent bgpd only `router bgp`: bgpd ran without its policy and advertised
// nothing, and the apply reported success. The applier must wait for bgpd and check bgpd's own
// config.
func TestApplyBgpdBackMidApply(t *testing.T) {
	f := startFRR(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := agentConfig(nil)
	cfg.BGP.BFDProfiles = []config.BFDProfile{{Name: "fast", ReceiveInterval: 100, TransmitInterval: 100}}
	cfg.BGP.Peers[0].BFDProfile = "fast"
	cfg.BGP.Peers[0].Export = []config.PrefixFilter{{Action: "permit", Prefix: netip.MustParsePrefix("172.24.0.0/16"), Ge: 32, Le: 32}}
	cfg.FRR = config.FRR{Pathspace: f.Name, ConfigFile: f.ConfigFile()}
	m := NewManager(cfg, nil)
	text, err := m.Render()
	if err != nil {
		t.Fatal(err)
	}
	r := m.Reloader()
	if _, err := r.Apply(ctx, text); err != nil {
		t.Fatal(err)
	}

	for round := range 3 {
		if err := f.KillDaemon("bgpd"); err != nil {
			t.Fatal(err)
		}
		r.Restarted()
		var restartErr error
		back := false
		r.run = func(ctx context.Context, timeout time.Duration, argv []string) (string, error) {
			out, err := runCommand(ctx, timeout, argv)
			loadsFile := argv[0] == "vtysh" && slices.Contains(argv, "-f")
			probesBgpd := err != nil && slices.Contains(argv, BGPd)
			if !back && (loadsFile || probesBgpd) {
				back = true
				restartErr = f.RestartDaemon(ctx, "bgpd")
			}
			return out, err
		}
		_, err := r.Apply(ctx, text)
		r.run = nil
		if restartErr != nil {
			t.Fatal(restartErr)
		}
		if !back {
			t.Fatal("the applier never tried to reach bgpd: the test proves nothing")
		}
		if err != nil {
			t.Fatalf("round %d: Apply with bgpd back mid-apply: %v", round, err)
		}
		own, err := r.Vtysh().ForDaemon(BGPd).runningConfig(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"router bgp 64999\n", "\nip prefix-list obgp-172.30.1.254-out4 seq 5 permit 172.24.0.0/16 ge 32 le 32\n",
			"\nroute-map " + RouteMap + " permit 10\n match interface bgp-nic\n"} {
			if !strings.Contains(own, want) {
				t.Errorf("round %d: Apply succeeded but bgpd's own config lacks %q:\n%s", round, strings.TrimSpace(want), own)
			}
		}
		if t.Failed() {
			return
		}
	}
}
