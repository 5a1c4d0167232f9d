package lab

import (
	"fmt"
	"strings"
)

// DaemonOptions reads the `NAME_options` lines of an FRR daemons file (/etc/frr/daemons, as
// the FRR packages and the agent's pod write it) into each daemon's extra arguments, so that
// a lab node runs its daemons as the shipped pod does: `zebra_options="-A 127.0.0.1 -K 120"`
// and the array form `zebra_options=("-A 127.0.0.1 -K 120")` both give zebra [-A 127.0.0.1
// -K 120]. Other lines (zebra=yes, comments) are ignored; the lab always starts zebra, bgpd
// and bfdd. An argument with spaces or a shell expansion is refused: the lab runs no shell.
func DaemonOptions(text string) (map[string][]string, error) {
	out := map[string][]string{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		key, val, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") || !strings.HasSuffix(key, "_options") {
			continue
		}
		daemon := strings.TrimSuffix(key, "_options")
		val = strings.TrimSpace(val)
		if strings.HasPrefix(val, "(") && strings.HasSuffix(val, ")") {
			val = strings.TrimSpace(val[1 : len(val)-1])
		}
		if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
			return nil, fmt.Errorf("daemons line %d: %s must be a double-quoted string", i+1, key)
		}
		val = val[1 : len(val)-1]
		if strings.ContainsAny(val, `"'$`+"`\\") {
			return nil, fmt.Errorf("daemons line %d: %s: quotes, $ and \\ are not supported here", i+1, key)
		}
		out[daemon] = strings.Fields(val)
	}
	return out, nil
}
