package frr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The operator's FRR file in co-owned mode, read only as far as the agent needs: which
// `router bgp` blocks and address families it has, where they start, what they already
// redistribute or import, and every word that would collide with a name the agent owns. It
// is never rewritten: the merge inserts the agent's lines after a line of it.

// ReservedPrefix starts every FRR name the agent owns in co-owned mode (RouteMap). No word of
// the operator's file may start with it.
const ReservedPrefix = "ovn-bgp-agent-"

// baseFile is the operator's file as written, with what the merge needs to know about it.
type baseFile struct {
	path  string
	lines []string // without the line ends; lines[i] is line i+1
	bgp   []*bgpBlock
}

// bgpBlock is one `router bgp ASN [vrf NAME]` block of the operator's file.
type bgpBlock struct {
	header int // index of the `router bgp` line
	asn    uint32
	vrf    string // "": the default instance
	// af is the index of the first `address-family ipv4|ipv6 unicast` line per family.
	af map[Family]int
	// redistConnected and redistKernel are the operator's own redistribute lines per family
	// (a `redistribute` directly under `router bgp` is IPv4's): their index.
	redistConnected, redistKernel map[Family]int
	importVRF                     map[Family]map[string]bool
	// requiresPolicy: the block says `bgp ebgp-requires-policy` or its `no` form.
	requiresPolicy bool
}

// location is "path:line" for line index i.
func (b *baseFile) location(i int) string { return fmt.Sprintf("%s:%d", b.path, i+1) }

// parseBase reads the operator's file. A collision with the reserved prefix or a `router bgp`
// line the agent cannot read is an error naming the file and line.
func parseBase(path string, text []byte) (*baseFile, error) {
	if strings.ContainsRune(string(text), 0) {
		return nil, fmt.Errorf("frr.base_config %s: must be text, found a NUL byte", path)
	}
	b := &baseFile{path: path, lines: strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")}
	if len(text) == 0 {
		b.lines = nil
	}
	var errs []error
	const (
		top = iota
		inBGP
		inAF
	)
	ctx := top
	var cur *bgpBlock
	var fam Family // of the address family block we are in; "" for others (vpn, evpn, ...)
	for i, raw := range b.lines {
		l := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if l == "" || l[0] == '!' || l[0] == '#' {
			continue
		}
		w := strings.Fields(l)
		if name := reservedWord(w); name != "" {
			errs = append(errs, fmt.Errorf("frr.base_config %s: %q uses %s, a name the agent owns "+
				"(every FRR name starting with %q is the agent's in co-owned mode: %s is its redistribute route-map); "+
				"rename it in the operator's file", b.location(i), l, name, ReservedPrefix, RouteMap))
		}
		if ctx != top && isTopLevel(l) {
			ctx = top
		}
		switch ctx {
		case top:
			if len(w) >= 3 && w[0] == "router" && w[1] == "bgp" {
				blk, err := b.bgpHeader(i, w)
				if err != nil {
					errs = append(errs, err)
				}
				cur, ctx = blk, inBGP // a `view` or unreadable block is kept apart: blk is nil
			}
		case inBGP:
			switch {
			case l == "exit":
				ctx = top
			case w[0] == "address-family":
				ctx, fam = inAF, unicastFamily(w)
				if cur != nil && fam != "" {
					if _, seen := cur.af[fam]; !seen {
						cur.af[fam] = i
					}
				}
			case cur != nil:
				cur.bgpLine(i, w, IPv4)
			}
		case inAF:
			switch {
			case l == "exit-address-family" || l == "exit":
				ctx = inBGP
			case cur != nil && fam != "":
				cur.bgpLine(i, w, fam)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return b, nil
}

// bgpHeader reads `router bgp ASN [vrf NAME | view NAME]`. It returns nil for a view, which
// is not a routing instance the agent adds to.
func (b *baseFile) bgpHeader(i int, w []string) (*bgpBlock, error) {
	asn, err := strconv.ParseUint(w[2], 10, 32)
	if err != nil || asn == 0 {
		return nil, fmt.Errorf("frr.base_config %s: %q: the AS must be a number 1..4294967295", b.location(i), strings.Join(w, " "))
	}
	blk := &bgpBlock{header: i, asn: uint32(asn), af: map[Family]int{},
		redistConnected: map[Family]int{}, redistKernel: map[Family]int{}, importVRF: map[Family]map[string]bool{}}
	switch {
	case len(w) == 3:
	case len(w) == 5 && w[3] == "vrf":
		blk.vrf = w[4]
		if blk.vrf == "default" {
			blk.vrf = ""
		}
	case len(w) == 5 && w[3] == "view":
		return nil, nil
	default:
		return nil, fmt.Errorf("frr.base_config %s: %q: expected router bgp ASN [vrf NAME]", b.location(i), strings.Join(w, " "))
	}
	for _, o := range b.bgp {
		if o.vrf == blk.vrf {
			return nil, fmt.Errorf("frr.base_config %s: a second router bgp block for the same instance as line %d; "+
				"FRR merges them, the agent cannot tell which one to add to", b.location(i), o.header+1)
		}
	}
	b.bgp = append(b.bgp, blk)
	return blk, nil
}

// bgpLine records what one line inside a `router bgp` block means for the merge.
func (blk *bgpBlock) bgpLine(i int, w []string, fam Family) {
	switch {
	case len(w) >= 2 && w[0] == "redistribute" && w[1] == "connected":
		if _, seen := blk.redistConnected[fam]; !seen {
			blk.redistConnected[fam] = i
		}
	case len(w) >= 2 && w[0] == "redistribute" && w[1] == "kernel":
		if _, seen := blk.redistKernel[fam]; !seen {
			blk.redistKernel[fam] = i
		}
	case len(w) == 3 && w[0] == "import" && w[1] == "vrf":
		if blk.importVRF[fam] == nil {
			blk.importVRF[fam] = map[string]bool{}
		}
		blk.importVRF[fam][w[2]] = true
	case strings.Join(w, " ") == "bgp ebgp-requires-policy" || strings.Join(w, " ") == "no bgp ebgp-requires-policy":
		blk.requiresPolicy = true
	}
}

// unicastFamily is the family of `address-family ipv4 [unicast]` or `... ipv6 [unicast]`; ""
// for every other address family.
func unicastFamily(w []string) Family {
	if len(w) < 2 || len(w) > 3 || len(w) == 3 && w[2] != "unicast" {
		return ""
	}
	switch w[1] {
	case "ipv4":
		return IPv4
	case "ipv6":
		return IPv6
	}
	return ""
}

// reservedWord returns the first word of a line that starts with ReservedPrefix, "" for none.
// A description is free text and may say anything.
func reservedWord(w []string) string {
	for _, s := range w {
		if s == "description" {
			return ""
		}
		if strings.HasPrefix(s, ReservedPrefix) {
			return s
		}
	}
	return ""
}

// topLevel are the commands that only exist at the top of the configuration: vtysh runs a
// line in the current node first, so inside `router bgp` only a command the BGP nodes do not
// know leaves the block (as does `exit`).
var topLevel = []string{
	"router ", "route-map ", "no route-map ", "interface ", "vrf ", "bfd", "ip ", "ipv6 ", "no ip ", "no ipv6 ",
	"access-list ", "bgp community-list ", "bgp extcommunity-list ", "bgp large-community-list ",
	"bgp as-path ", "line ", "key chain ", "hostname ", "log ", "no log ", "service ", "no service ",
	"frr ", "debug ", "no debug ", "agentx", "password ", "enable ", "segment-routing", "mpls ",
	"nexthop-group ", "pbr-map ", "rpki", "zebra ", "fpm ", "end",
}

func isTopLevel(l string) bool {
	for _, p := range topLevel {
		if l == strings.TrimSpace(p) || strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// block returns the operator's `router bgp` block for vrf ("": the default instance); nil if none.
func (b *baseFile) block(vrf string) *bgpBlock {
	for _, blk := range b.bgp {
		if blk.vrf == vrf {
			return blk
		}
	}
	return nil
}
