// Package ovs is the provider-bridge flow applier. Traffic that OVN sends out of a localnet
// port towards the host carries the router's or VM's view of the destination MAC; on each
// provider bridge the agent rewrites it to the bridge's own MAC so the host's kernel accepts
// it and routes it (the reverse half of the kernel wiring in internal/kernel).
//
// Flows are the agent's by cookie, one per purpose; every other flow is left alone. The
// applier reads what is installed (dump-flows filtered by the agent's cookies), diffs it
// against what is wanted and applies the difference in one atomic bundle with ovs-ofctl
// over the bridge's management socket.
package ovs

import (
	"fmt"
	"net"
	"slices"
	"strings"
)

// The agent's cookies, one per purpose. They share the upper 48 bits so that one dump with
// cookieMask reads them all; no other bits are ever set by the agent.
const (
	CookieToHostIPv4 uint64 = 0x0b9a_b9a0_0000_0004 // IPv4 from OVN to the host: dst MAC rewrite
	CookieToHostIPv6 uint64 = 0x0b9a_b9a0_0000_0006 // the same for IPv6
	cookieBase       uint64 = 0x0b9a_b9a0_0000_0000
	cookieMask       uint64 = 0xffff_ffff_ffff_0000

	// toHostPriority puts the rewrite above the NORMAL flow a bridge starts with.
	toHostPriority = 900
)

// Bridge is one provider bridge as the applier needs it.
type Bridge struct {
	Name string
	// MAC is the bridge's own MAC (mac_in_use of its internal interface); "" when unknown yet.
	MAC string
	// Patches are the OpenFlow port numbers of the bridge's localnet patch ports
	// (patch-<localnet>-to-br-int, created by ovn-controller); empty until they exist.
	Patches []int
}

// Flow is one flow of the agent's, in the form `ovs-ofctl --no-stats --no-names dump-flows`
// prints it without the cookie, e.g. "priority=900,ip,in_port=2 actions=mod_dl_dst:…,NORMAL".
type Flow struct {
	Cookie uint64
	Rule   string
}

func (f Flow) String() string { return fmt.Sprintf("cookie=%#x, %s", f.Cookie, f.Rule) }

// Desired returns the flows b needs, sorted; none while its MAC or patch ports are unknown.
func Desired(b Bridge) ([]Flow, error) {
	if b.MAC == "" || len(b.Patches) == 0 {
		return nil, nil
	}
	mac, err := net.ParseMAC(b.MAC)
	if err != nil || len(mac) != 6 {
		return nil, fmt.Errorf("bridge %s: mac_in_use %q is not an Ethernet address", b.Name, b.MAC)
	}
	var out []Flow
	for _, port := range b.Patches {
		if port <= 0 || port >= 0xff00 {
			return nil, fmt.Errorf("bridge %s: patch port number %d is not a valid OpenFlow port", b.Name, port)
		}
		for _, f := range []struct {
			cookie uint64
			proto  string
		}{{CookieToHostIPv4, "ip"}, {CookieToHostIPv6, "ipv6"}} {
			out = append(out, Flow{Cookie: f.cookie, Rule: fmt.Sprintf("priority=%d,%s,in_port=%d actions=mod_dl_dst:%s,NORMAL",
				toHostPriority, f.proto, port, mac)})
		}
	}
	slices.SortFunc(out, compareFlows)
	return slices.CompactFunc(out, func(a, b Flow) bool { return a == b }), nil
}

func compareFlows(a, b Flow) int {
	if a.Cookie != b.Cookie {
		if a.Cookie < b.Cookie {
			return -1
		}
		return 1
	}
	return strings.Compare(a.Rule, b.Rule)
}

// parseDump splits `dump-flows --no-stats --no-names` output into the agent's flows and the
// matches (with priority and table) of everyone else's, with their cookies.
func parseDump(out string) (ours []Flow, foreign map[string]uint64, err error) {
	foreign = map[string]uint64{}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "NXST_FLOW") || strings.HasPrefix(line, "OFPST_FLOW") {
			continue // the reply header of older versions
		}
		var cookie uint64
		rest := line
		if c, r, ok := strings.Cut(line, ", "); ok && strings.HasPrefix(c, "cookie=") {
			if _, err := fmt.Sscanf(strings.TrimPrefix(c, "cookie="), "0x%x", &cookie); err != nil {
				return nil, nil, fmt.Errorf("dump-flows line %q: cookie: %w", line, err)
			}
			rest = r
		}
		f := Flow{Cookie: cookie, Rule: rest}
		if cookie&cookieMask != cookieBase {
			foreign[f.match()] = cookie
			continue
		}
		ours = append(ours, f)
	}
	slices.SortFunc(ours, compareFlows)
	return ours, foreign, nil
}

// match returns the match part of a rule with its priority: what delete_strict needs.
func (f Flow) match() string {
	m, _, _ := strings.Cut(f.Rule, " actions=")
	return m
}

// actions returns the actions part of a rule.
func (f Flow) actions() string {
	_, a, _ := strings.Cut(f.Rule, " actions=")
	return a
}
