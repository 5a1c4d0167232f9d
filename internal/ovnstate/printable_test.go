package ovnstate

import "testing"

// hostile is what a tenant can put in a port name or a neutron external_id: an escape
// sequence that clears the screen and retitles the terminal, a newline forging a row, a
// right-to-left override, a C1 control and a byte that is not UTF-8.
const hostile = "vm1\x1b[2J\x1b]0;pwned\x07\nfake-row\u202eevil\u0085\xff"

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"vm1":       "vm1",
		"é ünïcode": "é ünïcode",
		hostile:     `vm1\x1b[2J\x1b]0;pwned\x07\nfake-row\u202eevil\x85\xff`,
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
	if got, want := PrintableLines("frr: failed\nline 2\x1b[31m"), "frr: failed\n    line 2\\x1b[31m"; got != want {
		t.Errorf("printableLines = %q, want %q", got, want)
	}
}
