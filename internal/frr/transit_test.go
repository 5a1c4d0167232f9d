package frr

import (
	"slices"
	"strings"
	"testing"
)

// TestEveryPeerExportsOnlyWhatTheNodeOriginates: in every rendered case, each family a peer is
// active in carries the as-path filter that lets out only the node's own routes, whatever
// else the peer's policy says (export: [] included), and the list permits only the empty
// AS path.
func TestEveryPeerExportsOnlyWhatTheNodeOriginates(t *testing.T) {
	for _, tc := range renderCases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Render(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			text := string(out)
			if !strings.Contains(text, "\nbgp as-path access-list "+OriginatedList+" seq 5 permit ^$\n") ||
				strings.Count(text, "bgp as-path access-list "+OriginatedList) != 1 {
				t.Errorf("the as-path list is not exactly one `permit ^$`:\n%s", text)
			}
			for _, fam := range []Family{IPv4, IPv6} {
				block := afBlock(t, text, fam)
				for _, n := range append(slices.Clone(tc.cfg.PeerGroups), tc.cfg.Neighbors...) {
					if n.PeerGroup != "" {
						continue // a group's member takes its per-family lines from the group
					}
					if !n.Active(fam) {
						continue
					}
					line := "  neighbor " + n.Name() + " filter-list " + OriginatedList + " out\n"
					if !strings.Contains(block, line) {
						t.Errorf("%s: peer %s is active but lacks %q:\n%s", fam, n.Name(), line, block)
					}
				}
			}
		})
	}
}

// afBlock returns the default instance's address-family block of fam.
func afBlock(t *testing.T, text string, fam Family) string {
	t.Helper()
	start := strings.Index(text, "\nrouter bgp ")
	if start < 0 {
		t.Fatalf("no router bgp in:\n%s", text)
	}
	rest := text[start:]
	head := " address-family " + string(fam) + " unicast\n"
	i := strings.Index(rest, head)
	if i < 0 {
		t.Fatalf("no %s block in:\n%s", fam, text)
	}
	block := rest[i+len(head):]
	return block[:strings.Index(block, " exit-address-family")]
}
