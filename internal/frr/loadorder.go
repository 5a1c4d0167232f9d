package frr

import "strings"

// policyPrefixes start the top-level stanzas that other lines refer to by name: prefix-lists,
// access-lists, BGP's as-path and community lists, and route-maps.
var policyPrefixes = []string{
	"ip prefix-list ", "ipv6 prefix-list ", "access-list ", "ipv6 access-list ",
	"bgp as-path access-list ", "bgp community-list ", "bgp large-community-list ",
	"bgp extcommunity-list ", "route-map ",
}

// policyFirst returns text with its policy stanzas (policyPrefixes) moved before the first
// `router bgp`, each kept whole and in its order, everything else in place. It is the order
// for loading a file into a restarted bgpd with `vtysh -f`.
//
// FRR prints route-maps after `router bgp`, so the rendered file has them there. Loaded in
// that order into a bgpd with no config, `redistribute connected route-map X` is set while X
// does not exist: bgpd keeps no pointer to X, denies every route zebra hands it ("route-map
// is null"), and takes X up only when its route-map delay timer fires, 5 s after the last
// route-map change. The sessions come up about 4 s after the load and send End-of-RIB after
// the 1.1 s coalesce timer, so the two raced: when End-of-RIB went first, a ToR that kept
// the node's routes through graceful restart flushed them as stale and learned them again
// ~100 ms later. The same holds for a peer's outbound route-map. With the policy defined
// first, bgpd resolves every name as the line that uses it arrives, and the routes are in
// its table before any session is up.
func policyFirst(text string) string {
	var head, policy, rest []string
	seenBGP := false
	for _, st := range stanzas(text) {
		switch {
		case isPolicy(st[0]):
			policy = append(policy, st...)
		case !seenBGP && !strings.HasPrefix(st[0], "router bgp "):
			head = append(head, st...)
		default:
			seenBGP = true
			rest = append(rest, st...)
		}
	}
	out := append(head, policy...)
	out = append(out, rest...)
	if len(out) == 0 {
		return ""
	}
	return strings.Join(out, "\n") + "\n"
}

func isPolicy(first string) bool {
	for _, p := range policyPrefixes {
		if strings.HasPrefix(first, p) {
			return true
		}
	}
	return false
}

// stanzas splits an FRR config into top-level stanzas: a line at column 0 with the indented
// lines under it and the `exit` that closes a block, then the `!` lines after it. Leading
// `!` lines form a stanza of their own.
func stanzas(text string) [][]string {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return nil
	}
	var out [][]string
	var cur []string
	for _, l := range strings.Split(text, "\n") {
		top := l != "" && l[0] != ' ' && l[0] != '\t'
		t := strings.TrimSpace(l)
		if top && t != "!" && t != "exit" && len(cur) > 0 {
			out = append(out, cur)
			cur = nil
		}
		cur = append(cur, l)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
