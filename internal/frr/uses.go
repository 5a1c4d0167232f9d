package frr

import "regexp"

// bfdLine is a line of FRR text that needs bfdd: its `bfd` node, or BFD on a neighbor.
var bfdLine = regexp.MustCompile(`(?im)^[ \t]*(bfd|neighbor[ \t]+\S+[ \t]+bfd)\b`)

// UsesBFD reports whether the configuration needs bfdd: a peer with BFD, a BFD profile, or
// BFD in the operator's extra config (as of the last render). Readers of FRR's state ask bfdd
// only then: a node that uses no BFD need not run bfdd, and vtysh fails on every BFD
// command when it does not ("bfdd is not running").
func (m *Manager) UsesBFD() bool {
	m.mu.Lock()
	b := m.cfg.BGP
	m.mu.Unlock()
	if len(b.BFDProfiles) > 0 {
		return true
	}
	for _, p := range b.Peers {
		if p.BFD || p.BFDProfile != "" {
			return true
		}
	}
	return m.extraBFD.Load()
}
