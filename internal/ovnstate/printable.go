package ovnstate

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable makes a string from OVN (a port name, a neutron external_id, an error quoting
// one) safe to print on an operator's terminal: control characters (escape sequences that
// move the cursor or retitle the window, a newline that forges a table row), Unicode format
// characters (right-to-left overrides, zero-width characters) and invalid UTF-8 are shown
// escaped, Go-style, instead of being interpreted.
func Printable(s string) string { return escape(s, false) }

// PrintableLines is Printable for multi-line text (an error with FRR's report in it): its
// newlines stay, and each following line is indented so that none can pass for a line of
// the output around it.
func PrintableLines(s string) string { return escape(s, true) }

func escape(s string, keepNewlines bool) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' && keepNewlines:
			b.WriteString("\n    ")
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case unicode.IsControl(r) && r <= 0xff:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += n
	}
	return b.String()
}
