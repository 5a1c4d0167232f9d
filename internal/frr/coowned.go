package frr

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/templates"
)

// Co-owned mode: the operator's FRR file (frr.base_config) is the base, and the agent adds
// only its own part:
//   - inside the operator's `router bgp ASN` block: `redistribute connected route-map
//     RouteMap` (and `redistribute kernel` for tenant subnets) per unicast family, or
//     `import vrf VRF` with a VRF, each in the operator's address-family block when it has
//     one, in a new one otherwise; and `no bgp ebgp-requires-policy` unless the operator's
//     block states that policy either way;
//   - after the operator's text: the VRF instance (or its lines in the operator's own block
//     for that VRF) and the redistribute route-map.
// Every operator line stays as written, in its place. Where an operator line already does
// what an agent line would (a `redistribute connected` of its own), the agent's line is left
// out and a note says what that means.
//
// The result is written to a file the agent owns (CoOwnedConfigFile) and applied with
// frr-reload.py like the owned mode's.

// DefaultCoOwnedConfigFile is the merged file when frr.config_file names the operator's file
// (as both default to /etc/frr/frr.conf for an INI configuration): the operator's file may be
// a read-only ConfigMap and is never written.
const DefaultCoOwnedConfigFile = "/run/ovn-bgp-agent/frr/frr.conf"

// CoOwnedConfigFile is the file the agent writes and reloads from in co-owned mode.
func CoOwnedConfigFile(c config.FRR) string {
	if c.ConfigFile == "" || filepath.Clean(c.ConfigFile) == filepath.Clean(c.BaseConfig) {
		return DefaultCoOwnedConfigFile
	}
	return c.ConfigFile
}

var coTemplate = template.Must(template.New("frr-coowned.tmpl").Option("missingkey=error").
	ParseFS(templates.FS, "frr-coowned.tmpl", "agent-part.tmpl"))

// coView is what frr-coowned.tmpl sees.
type coView struct {
	view
	VRFBlock bool // render the VRF instance: the operator's file has none for bgp.vrf
}

// RenderCoOwned merges the agent's part of c into the operator's file base, read from
// basePath, and returns the merged text and notes: what the operator's file does that the
// agent leaves alone, for the log. An operator line using a name the agent owns, a `router
// bgp` with another AS than c.ASN, or no `router bgp` at all is an error, and nothing is
// returned to apply. c carries no peers, BFD profiles, ECMP or extra config: the operator's
// file owns them (internal/config refuses them next to frr.base_config).
func RenderCoOwned(c Config, basePath string, base []byte) ([]byte, []string, error) {
	if err := c.guard(); err != nil {
		return nil, nil, fmt.Errorf("frr config: %w", err)
	}
	if len(c.Neighbors) > 0 || len(c.BFDProfiles) > 0 || c.ExtraConfig != "" ||
		c.Multipath != (Multipath{}) {
		return nil, nil, errors.New("frr config: peers, BFD profiles, ECMP and extra config belong to the operator's file (frr.base_config) in co-owned mode")
	}
	b, err := parseBase(basePath, base)
	if err != nil {
		return nil, nil, err
	}
	def := b.block("")
	if def == nil {
		return nil, nil, fmt.Errorf("frr.base_config %s: no `router bgp ASN` block; in co-owned mode the operator's file "+
			"holds the BGP instance and its peers, and the agent adds its lines to it", basePath)
	}
	if def.asn != c.ASN {
		return nil, nil, fmt.Errorf("frr.base_config %s: `router bgp %d` differs from bgp.as %d (INI: [DEFAULT] bgp_AS); "+
			"the agent adds its lines to the operator's BGP instance: make them equal", b.location(def.header), def.asn, c.ASN)
	}

	m := merger{b: b, c: c, inserts: map[int][]string{}}
	if !def.requiresPolicy {
		m.inserts[def.header] = append(m.inserts[def.header], " no bgp ebgp-requires-policy")
		m.note("%s: `router bgp %d` states neither `bgp ebgp-requires-policy` nor its `no` form; FRR's default "+
			"sends nothing to eBGP peers without a policy, so the agent adds `no bgp ebgp-requires-policy` "+
			"(state either form in the file to decide it there)", b.location(def.header), def.asn)
	}
	for _, fam := range []Family{IPv4, IPv6} {
		if i, ok := def.redistConnected[fam]; ok && c.VRF != "" && len(strings.Fields(b.lines[i])) == 2 {
			// With a VRF the agent does not redistribute in the default instance, so this is
			// the only note about the line.
			m.note("%s: `redistribute connected` without a route-map advertises every connected network of the node "+
				"(link networks too) in %s unicast; the agent never changes an operator line", b.location(i), fam)
		}
		if c.VRF == "" {
			m.add(def, fam, m.redistribute(def, fam))
		} else if def.importVRF[fam] == nil || !def.importVRF[fam][c.VRF] {
			m.add(def, fam, []string{"  import vrf " + c.VRF})
		}
	}
	cv := coView{view: m.view()}
	if c.VRF != "" {
		if vb := b.block(c.VRF); vb != nil {
			for _, fam := range []Family{IPv4, IPv6} {
				m.add(vb, fam, m.redistribute(vb, fam))
			}
		} else {
			cv.VRFBlock = true
		}
	}
	var tail bytes.Buffer
	if err := coTemplate.Execute(&tail, cv); err != nil {
		return nil, nil, fmt.Errorf("render frr-coowned.tmpl: %w", err)
	}

	var out strings.Builder
	fmt.Fprintf(&out, "! Written by ovn-bgp-agent: %s as the operator wrote it, with the agent's lines added "+
		"(its names start with %s). Edit %s, not this file.\n", basePath, ReservedPrefix, basePath)
	for i, l := range b.lines {
		out.WriteString(l + "\n")
		for _, a := range m.inserts[i] {
			out.WriteString(a + "\n")
		}
	}
	if len(b.lines) == 0 || strings.TrimSpace(b.lines[len(b.lines)-1]) != "!" {
		out.WriteString("!\n")
	}
	out.WriteString(strings.TrimPrefix(tail.String(), "\n"))
	out.WriteString("\n")
	return []byte(out.String()), m.notes, nil
}

// merger collects the lines to insert after lines of the operator's file.
type merger struct {
	b       *baseFile
	c       Config
	inserts map[int][]string // after line index → lines
	notes   []string
}

func (m *merger) note(format string, args ...any) {
	m.notes = append(m.notes, fmt.Sprintf(format, args...))
}

// add puts lines into blk's address-family block for fam: after its first line, or in a
// new block right after the `router bgp` line.
func (m *merger) add(blk *bgpBlock, fam Family, lines []string) {
	if len(lines) == 0 {
		return
	}
	if i, ok := blk.af[fam]; ok {
		m.inserts[i] = append(m.inserts[i], lines...)
		return
	}
	h := blk.header
	m.inserts[h] = append(m.inserts[h], " address-family "+string(fam)+" unicast")
	m.inserts[h] = append(m.inserts[h], lines...)
	m.inserts[h] = append(m.inserts[h], " exit-address-family")
}

// redistribute is the agent's redistribution in blk for fam, without what the operator's
// block already redistributes there: one `redistribute connected` per family, whatever its
// route-map, and FRR would replace the operator's with the agent's.
func (m *merger) redistribute(blk *bgpBlock, fam Family) []string {
	var out []string
	kinds := []struct {
		what string
		have map[Family]int
		want bool
	}{
		{"kernel", blk.redistKernel, m.c.RedistributeKernel},
		{"connected", blk.redistConnected, true},
	}
	for _, k := range kinds {
		if !k.want {
			continue
		}
		i, ok := k.have[fam]
		if !ok {
			out = append(out, fmt.Sprintf("  redistribute %s route-map %s", k.what, RouteMap))
			continue
		}
		l := strings.TrimSpace(m.b.lines[i])
		if len(strings.Fields(l)) == 2 {
			m.note("%s: `%s` without a route-map advertises every %s route of the node in %s unicast (link networks "+
				"too), the agent's addresses on %s among them but without the agent's communities and MED reset; "+
				"the agent never changes an operator line, so its %s is not attached there: give the line a route-map, "+
				"or remove it and let the agent's redistribution do the job", m.b.location(i), l, k.what, fam, m.c.NIC, RouteMap)
		} else {
			m.note("%s: the operator's `%s` decides which %s routes are advertised in %s unicast; the agent's %s is not attached there",
				m.b.location(i), l, k.what, fam, RouteMap)
		}
	}
	return out
}

// view is the part of Render's view the agent's own blocks need.
func (m *merger) view() view {
	c := m.c
	v := view{ASN: c.ASN, NIC: c.NIC, VRF: c.VRF, RouteMap: RouteMap,
		Community: joinCommunities(c.Communities.Standard), Large: joinCommunities(c.Communities.Large),
		Kernel: c.RedistributeKernel, Arriving: ArrivingMetric, ArrivingMED: ArrivingMED,
		Kinds: kindEntries(c.Communities, c.KindCommunities)}
	if c.RouterID.IsValid() {
		v.RouterID = c.RouterID.String()
	}
	return v
}

// settlesNever reports whether a line frr-reload.py wants to add is one of an operator's
// file that FRR takes without ever printing it back, so no reload can settle it: the
// `frr version` marker (FRR prints its own), vtysh's `service integrated-vtysh-config` (the
// default), and `hostname`, which a daemon in a pathspace does not take.
func settlesNever(l string) bool {
	return strings.HasPrefix(l, "frr version ") || l == "service integrated-vtysh-config" ||
		strings.HasPrefix(l, "hostname ")
}

// prepareConfDir creates ConfDir and an empty vtysh.conf for the vtysh that frr-reload.py
// runs with --config_dir ConfDir (it reads ConfDir[/pathspace]/vtysh.conf and complains
// on every run when there is none).
func (r *Reloader) prepareConfDir() error {
	if r.ConfDir == "" {
		return nil
	}
	dir := filepath.Join(r.ConfDir, r.Pathspace)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("FRR config directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "vtysh.conf"), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("FRR config directory: %w", err)
	}
	return f.Close()
}

// agentPending returns the lines still pending after a reload of text that make the apply a
// failure. In owned mode every line does. In co-owned mode an operator line that FRR takes
// but prints differently or not at all (an explicit default such as `bgp
// ebgp-requires-policy`) stays "to add" forever: it is the operator's to fix, not a reason to
// keep the agent's part from FRR. So a pending line that text has as written, outside the
// agent's names, is left aside (and logged); context lines (`router bgp`, `address-family`)
// count for neither; anything else, a deletion included, still fails the apply.
func (r *Reloader) agentPending(pending []string, text []byte) []string {
	if r.ConfDir == "" || len(pending) == 0 {
		return pending
	}
	inText := map[string]bool{}
	for _, l := range strings.Split(string(text), "\n") {
		inText[strings.TrimSpace(l)] = true
	}
	var theirs []string
	for _, l := range pending {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "router bgp ") || strings.HasPrefix(t, "address-family ") || t == "exit-address-family":
		case inText[t] && !strings.Contains(t, ReservedPrefix) && t != "no bgp ebgp-requires-policy" &&
			!strings.HasPrefix(t, "import vrf "):
			theirs = append(theirs, t)
		default:
			return pending
		}
	}
	if len(theirs) > 0 {
		r.logger().Warn("lines of the operator's FRR file that FRR does not print back as written; they are the operator's and left as they are",
			"file", r.ConfigFile, "lines", redactLines(theirs))
	}
	return nil
}
