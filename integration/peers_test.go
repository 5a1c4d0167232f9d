package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/frr"
)

// Every peer kind live: the node's FRR config is what the agent's own `render` makes of a
// peer in its configuration, applied the way the agent applies it (frr.Reloader); the other
// end is a real FRR (or BIRD 2). Each test brings the session up and watches the node's
// bgp-nic addresses (172.24.4.10/32, 2001:db8:24::10/128) cross it. No OVN is needed: the
// exposure side is covered by the provider tests; here the subject is the session.
const peersTopology = "../deploy/containerlab/peers.clab.yml"

const (
	nodeV4 = "172.24.4.10/32"
	nodeV6 = "2001:db8:24::10/128"
)

// convergeWait bounds the first convergence in these tests (sessions up, first routes): on
// a machine shared with other test runs one frr-reload.py alone has taken over 20 s.
const convergeWait = 90 * time.Second

// startPeers starts peers.clab.yml and applies the agent's rendering of peers (YAML list
// items, indented for bgp.peers) on the node and torConf on the ToR.
func startPeers(t *testing.T, peers, torConf string) (*lab.Lab, context.Context) {
	t.Helper()
	l, ctx := startLabWith(t, lab.Options{Topology: peersTopology})
	applyFRR(t, ctx, l.Node("node").FRR, renderNode(t, peers))
	if torConf != "" {
		applyFRR(t, ctx, l.Node(tor).FRR, torConf)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range []string{"node", tor} {
				// Not the running config: it would print the password.
				out, err := l.Node(n).FRR.Vtysh(context.Background(), "show bgp summary")
				t.Logf("%s (%v):\n%s", n, err, out)
			}
		}
	})
	return l, ctx
}

// renderNode is `ovn-bgp-agent render --show-secrets` of a node configuration with these
// peers: the text FRR is given, passwords included.
func renderNode(t *testing.T, peers string) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "agent.yaml")
	text := "bgp:\n  as: 64999\n  router_id: 172.30.1.10\n  nic: bgp-nic\n  vrf: \"\"\n  peers:\n" + peers
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(agentBinary, "render", "--show-secrets", "--config", cfg).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("render %s: %v\n%s", text, err, stderr)
	}
	return string(out)
}

// applyFRR makes f run text the way the agent does: frr-reload.py --test, then --reload
// until nothing is pending.
func applyFRR(t *testing.T, ctx context.Context, f *lab.FRR, text string) {
	t.Helper()
	r := frr.NewReloader(config.FRR{Pathspace: f.Name, ConfigFile: f.ConfigFile()}, nil)
	if _, err := r.Apply(ctx, []byte(text)); err != nil {
		t.Fatalf("apply on %s: %v\n%s", f.Name, err, text)
	}
}

// waitEstablished waits until node's session with peer (an address or an interface) is up.
func waitEstablished(t *testing.T, ctx context.Context, l *lab.Lab, node, peer string) {
	t.Helper()
	if err := lab.Poll(ctx, convergeWait, node+"'s session with "+peer, func() (bool, error) {
		st, err := l.BGPSessionState(ctx, node, peer)
		return st == "Established", fmt.Errorf("state %q: %v", st, err)
	}); err != nil {
		t.Fatal(err)
	}
}

// waitPrefix waits until node has a valid path for prefix learned from peerID ("": any) and
// returns its paths.
func waitPrefix(t *testing.T, ctx context.Context, l *lab.Lab, node, prefix, peerID string) []lab.Path {
	t.Helper()
	var got []lab.Path
	if err := lab.Poll(ctx, convergeWait, prefix+" at "+node, func() (bool, error) {
		routes, err := l.BGPRoutes(ctx, node, family(prefix))
		if err != nil {
			return false, err
		}
		for _, p := range routes[prefix] {
			if peerID == "" || p.PeerID == peerID {
				got = routes[prefix]
				return true, nil
			}
		}
		return false, fmt.Errorf("%s has %v", node, routes)
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestUnnumberedPeer: an interface peer (the shipped DaemonSet's kind) on a veth with only
// link-local IPv6 between the ends; both families cross it (IPv4 with an IPv6 next hop).
func TestUnnumberedPeer(t *testing.T) {
	t.Parallel()
	l, ctx := startPeers(t, "    - {interface: eth1, remote_as: external}\n", `frr defaults traditional
!
router bgp 65000
 bgp router-id 172.30.1.254
 no bgp ebgp-requires-policy
 neighbor eth1 interface remote-as external
 !
 address-family ipv6 unicast
  neighbor eth1 activate
 exit-address-family
exit
!
`)
	waitEstablished(t, ctx, l, tor, "eth1")
	waitEstablished(t, ctx, l, "node", "eth1")
	waitPrefix(t, ctx, l, tor, nodeV4, "")
	waitPrefix(t, ctx, l, tor, nodeV6, "")
	// In the ToR's kernel the IPv4 route goes via the node's link-local address.
	if err := lab.Poll(ctx, convergeWait, nodeV4+" in the ToR's FIB", func() (bool, error) {
		out, err := l.Exec(ctx, tor, "ip", "route", "show", "172.24.4.10")
		return strings.Contains(out, "via inet6 fe80:") && strings.Contains(out, "dev eth1"), fmt.Errorf("%q %v", out, err)
	}); err != nil {
		t.Fatal(err)
	}
}

// TestPasswordPeer: a TCP-MD5 session with the password read from password_file. The
// kernel here has CONFIG_TCP_MD5SIG; the socket carries the MD5 key (ss shows it), and a
// wrong password on the ToR keeps the session down.
func TestPasswordPeer(t *testing.T) {
	t.Parallel()
	pw := filepath.Join(t.TempDir(), "tor.password")
	if err := os.WriteFile(pw, []byte("Md5-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	torConf := func(password string) string {
		return `frr defaults traditional
!
router bgp 65000
 bgp router-id 172.30.1.254
 no bgp ebgp-requires-policy
 neighbor 172.30.1.10 remote-as 64999
 neighbor 172.30.1.10 password ` + password + `
exit
!
`
	}
	l, ctx := startPeers(t, "    - {address: 172.30.1.254, remote_as: 65000, password_file: "+pw+"}\n", torConf("Md5-s3cret"))
	waitEstablished(t, ctx, l, tor, "172.30.1.10")
	waitPrefix(t, ctx, l, tor, nodeV4, "172.30.1.10")
	if out, err := l.Exec(ctx, tor, "ss", "-tni", "state", "established", "( sport = :179 or dport = :179 )"); err != nil || !strings.Contains(out, "md5") {
		t.Errorf("the ToR's BGP connection carries no TCP-MD5 key (%v):\n%s", err, out)
	}

	// With another password on the ToR, the session must not come back: clearing it makes
	// both ends reconnect, and the kernel drops the node's segments for the wrong key (its
	// TcpExtTCPMD5Failure counter, per namespace, shows it).
	applyFRR(t, ctx, l.Node(tor).FRR, torConf("other-pw"))
	if _, err := l.Node(tor).FRR.Vtysh(ctx, "clear bgp 172.30.1.10"); err != nil {
		t.Fatal(err)
	}
	if err := lab.Poll(ctx, convergeWait, "segments with the wrong MD5 key dropped while the session is down", func() (bool, error) {
		st, err := l.BGPSessionState(ctx, tor, "172.30.1.10")
		if err != nil {
			return false, err
		}
		n, err := md5Failures(ctx, l, tor)
		return st != "Established" && n > 0, fmt.Errorf("state %q, TcpExtTCPMD5Failure %d (%v)", st, n, err)
	}); err != nil {
		t.Fatal(err)
	}
	applyFRR(t, ctx, l.Node(tor).FRR, torConf("Md5-s3cret"))
	waitEstablished(t, ctx, l, tor, "172.30.1.10")
}

// md5Failures reads the kernel's count of TCP segments dropped for a wrong MD5 signature in
// node's namespace.
func md5Failures(ctx context.Context, l *lab.Lab, node string) (int, error) {
	out, err := l.Exec(ctx, node, "nstat", "-a", "-s", "-z", "TcpExtTCPMD5Failure")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "TcpExtTCPMD5Failure" {
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("no TcpExtTCPMD5Failure in %q", out)
}

// TestMultihopPeer: ebgp-multihop through a router namespace, sourced from the node's own
// address (update_source), with timers that are read back from `show bgp neighbors json`.
func TestMultihopPeer(t *testing.T) {
	t.Parallel()
	l, ctx := startPeers(t, "    - {address: 172.30.8.254, remote_as: 65000, ebgp_multihop: 2, update_source: 172.30.9.10,\n"+
		"       timers: {keepalive: 5, hold: 15, connect: 3}}\n", `frr defaults traditional
!
router bgp 65000
 bgp router-id 172.30.1.254
 no bgp ebgp-requires-policy
 neighbor 172.30.9.10 remote-as 64999
 neighbor 172.30.9.10 ebgp-multihop 2
 neighbor 172.30.9.10 update-source 172.30.8.254
exit
!
`)
	waitEstablished(t, ctx, l, "node", "172.30.8.254")
	paths := waitPrefix(t, ctx, l, tor, nodeV4, "172.30.9.10")
	if paths[0].NextHop != "172.30.9.10" {
		t.Errorf("the ToR reaches %s via %s, want the node's update-source 172.30.9.10", nodeV4, paths[0].NextHop)
	}
	out, err := l.Node("node").FRR.Vtysh(ctx, "show bgp neighbors 172.30.8.254 json")
	if err != nil {
		t.Fatal(err)
	}
	var nb map[string]struct {
		HoldConfigured      int    `json:"bgpTimerConfiguredHoldTimeMsecs"`
		KeepaliveConfigured int    `json:"bgpTimerConfiguredKeepAliveIntervalMsecs"`
		Hold                int    `json:"bgpTimerHoldTimeMsecs"`
		Keepalive           int    `json:"bgpTimerKeepAliveIntervalMsecs"`
		ConnectRetry        int    `json:"connectRetryTimer"`
		HopsAway            int    `json:"externalBgpNbrMaxHopsAway"`
		LocalHost           string `json:"hostLocal"`
	}
	if err := json.Unmarshal([]byte(out), &nb); err != nil {
		t.Fatal(err)
	}
	got := nb["172.30.8.254"]
	t.Logf("node's neighbor 172.30.8.254: %+v", got)
	if got.HoldConfigured != 15000 || got.KeepaliveConfigured != 5000 {
		t.Errorf("configured timers keepalive %d ms, hold %d ms; want 5000, 15000", got.KeepaliveConfigured, got.HoldConfigured)
	}
	// The ToR offers FRR's 180 s hold time: the session runs on the lower, ours.
	if got.Hold != 15000 || got.Keepalive != 5000 {
		t.Errorf("negotiated timers keepalive %d ms, hold %d ms; want 5000, 15000", got.Keepalive, got.Hold)
	}
	if got.ConnectRetry != 3 {
		t.Errorf("connect retry timer %d s, want 3", got.ConnectRetry)
	}
	if got.HopsAway != 2 {
		t.Errorf("ebgp-multihop: max hops away %d, want 2", got.HopsAway)
	}
	if got.LocalHost != "172.30.9.10" {
		t.Errorf("the session's local address is %q, want the update-source 172.30.9.10", got.LocalHost)
	}
}

// TestIPv6Peer: an IPv6 numbered session; the node's /128 crosses it.
func TestIPv6Peer(t *testing.T) {
	t.Parallel()
	l, ctx := startPeers(t, "    - {address: \"2001:db8:1::fe\", remote_as: 65000}\n", `frr defaults traditional
!
router bgp 65000
 bgp router-id 172.30.1.254
 no bgp ebgp-requires-policy
 neighbor 2001:db8:1::10 remote-as 64999
 !
 address-family ipv4 unicast
  no neighbor 2001:db8:1::10 activate
 exit-address-family
 !
 address-family ipv6 unicast
  neighbor 2001:db8:1::10 activate
 exit-address-family
exit
!
`)
	waitEstablished(t, ctx, l, tor, "2001:db8:1::10")
	paths := waitPrefix(t, ctx, l, tor, nodeV6, "2001:db8:1::10")
	if paths[0].NextHop != "2001:db8:1::10" {
		t.Errorf("the ToR reaches %s via %s, want 2001:db8:1::10", nodeV6, paths[0].NextHop)
	}
	if err := lab.Poll(ctx, convergeWait, nodeV6+" in the ToR's FIB", func() (bool, error) {
		out, err := l.Exec(ctx, tor, "ip", "-6", "route", "show", "2001:db8:24::10")
		// FRR installs the peer's link-local address as the next hop on a shared link.
		return strings.Contains(out, "proto bgp") && strings.Contains(out, "dev eth1"), fmt.Errorf("%q %v", out, err)
	}); err != nil {
		t.Fatal(err)
	}
	// The node's IPv4 /32 does not ride on an IPv6-only session.
	if routes, err := l.BGPRoutes(ctx, tor, "ipv4"); err != nil || len(routes[nodeV4]) != 0 {
		t.Errorf("the ToR got %s over the IPv6 session (%v): %v", nodeV4, err, routes[nodeV4])
	}
}

// TestBIRDToR: a BIRD 2 ToR, a second BGP implementation, receives the node's /32. BIRD is
// Debian 13's 2.17, run from the root `make trixie-root` builds.
func TestBIRDToR(t *testing.T) {
	t.Parallel()
	root := requireTrixie(t)
	if _, err := os.Stat(filepath.Join(root, "usr/sbin/bird")); err != nil {
		t.Fatalf("the Debian 13 root %s has no bird (built before bird2 was added): run `make trixie-root` (%v)", root, err)
	}
	l, ctx := startPeers(t, "    - {address: 172.30.3.254, remote_as: 65000}\n", "")
	// BIRD runs chrooted in root: its files go in a directory inside root, seen as inner there.
	dir, err := os.MkdirTemp(filepath.Join(root, "tmp"), "obgp-bird-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	inner := strings.TrimPrefix(dir, root)
	if err := os.WriteFile(filepath.Join(dir, "bird.conf"), []byte(`router id 172.30.3.254;
protocol device {}
protocol bgp node {
  local 172.30.3.254 as 65000;
  neighbor 172.30.3.10 as 64999;
  ipv4 { import all; export none; };
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := inner + "/bird.ctl"
	p, err := lab.StartProc("bird", l.Node("bird").Netns, t.TempDir(), nil, lab.InRoot(root, nil,
		"bird", "-f", "-c", inner+"/bird.conf", "-s", sock, "-P", inner+"/bird.pid")...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("bird log:\n%s", p.LogTail(20))
		}
		if err := p.Stop(5 * time.Second); err != nil {
			t.Error(err)
		}
	})
	birdc := func(cmd ...string) (string, error) {
		return lab.Run(ctx, "", nil, lab.InRoot(root, nil, append([]string{"birdc", "-s", sock}, cmd...)...)...)
	}
	if err := lab.Poll(ctx, convergeWait, "BIRD's control socket", func() (bool, error) {
		out, err := birdc("show", "status")
		return strings.Contains(out, "BIRD 2.17"), fmt.Errorf("%q %v", out, err)
	}); err != nil {
		t.Fatal(err)
	}
	if err := lab.Poll(ctx, convergeWait, "BIRD's session with the node", func() (bool, error) {
		out, err := birdc("show", "protocols", "node")
		return strings.Contains(out, "Established"), fmt.Errorf("%q %v", out, err)
	}); err != nil {
		t.Fatal(err)
	}
	if err := lab.Poll(ctx, convergeWait, nodeV4+" at BIRD", func() (bool, error) {
		out, err := birdc("show", "route", "for", "172.24.4.10", "all")
		return strings.Contains(out, "172.24.4.10/32") && strings.Contains(out, "via 172.30.3.10") &&
			strings.Contains(out, "BGP.as_path: 64999"), fmt.Errorf("%q %v", out, err)
	}); err != nil {
		t.Fatal(err)
	}
	if state, err := l.BGPSessionState(ctx, "node", "172.30.3.254"); err != nil || state != "Established" {
		t.Errorf("the node's session with BIRD: %q, %v", state, err)
	}
}
