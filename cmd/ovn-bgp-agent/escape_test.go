package main

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/metrics"
)

// hostile is what a tenant can put in a port name or a neutron external_id: an escape
// sequence that clears the screen and retitles the terminal, a newline forging a row, a
// right-to-left override, a C1 control and a byte that is not UTF-8.
const hostile = "vm1\x1b[2J\x1b]0;pwned\x07\nfake-row\u202eevil\u0085\xff"

// unsafeRune reports the first character a terminal would interpret, outside newlines.
func unsafeRune(s string) (rune, bool) {
	for _, r := range s {
		if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == unicode.ReplacementChar) {
			return r, true
		}
	}
	return 0, false
}

// TestStatusAndExplainEscapeOVNStrings: whatever an OVN row says, status and explain print
// no character a terminal interprets, and no row of their own that the row did not make.
func TestStatusAndExplainEscapeOVNStrings(t *testing.T) {
	var out bytes.Buffer
	metrics.WriteStatus(&out, metrics.Status{
		Time:    time.Now(),
		Exposed: []metrics.ExposedPrefix{{Prefix: "172.24.4.10/32", Kind: "vm", Object: "Logical_Switch_Port " + hostile, Reason: "bound here " + hostile}},
		Reconcile: metrics.Reconcile{Last: metrics.PassInfo{End: time.Now(), Reason: "SB " + hostile,
			Error: "kernel: port " + hostile}},
		FRRApply: metrics.FRRApply{LastError: "frr: " + hostile},
	})
	p := netip.MustParsePrefix("172.24.4.10/32")
	exp := exposure.Exposure{Prefix: p, Kind: exposure.Kind("vm"), Object: "Logical_Switch_Port " + hostile, Reason: hostile,
		Wiring: exposure.Wiring{Bridge: hostile}}
	printExplanation(&out, exposure.Explanation{
		Addr:      p.Addr(),
		Exposed:   &exp,
		Decisions: []exposure.Decision{{Prefix: p, Kind: "fip", Object: hostile, Reason: hostile}},
		Findings:  []exposure.Finding{{Object: hostile, Message: hostile}},
	}, "chassis-"+hostile)
	if r, bad := unsafeRune(out.String()); bad {
		t.Errorf("output has %U:\n%s", r, out.String())
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "fake-row") {
			t.Errorf("an OVN string forged a line of its own: %q", l)
		}
	}
}
