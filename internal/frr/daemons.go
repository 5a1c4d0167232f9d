package frr

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// The FRR daemons the agent's config lives in. vtysh merges their running configs into one
// view, and that view hides what one daemon lacks: after a bgpd restart zebra still prints the
// prefix-lists and route-maps bgpd no longer has. So every check here reads each daemon's own
// config (`vtysh -d DAEMON`).
const (
	Zebra = "zebra"
	BGPd  = "bgpd"
	BFDd  = "bfdd"
	// Mgmtd is FRR 10's management daemon (FRR 8 has none): vtysh sends it zebra's config
	// (prefix-lists, route-maps, `ip protocol`, `ip nht`), which it keeps and passes on to
	// zebra. zebra's own running-config then prints none of it, and vtysh refuses any
	// configuration while mgmtd is down. mgmtd killed and started again holds nothing while
	// zebra still runs what it was given; a restarted zebra gets mgmtd's copy back.
	Mgmtd = "mgmtd"
)

// configDaemons are the daemons whose own running-config is checked, in that order.
var configDaemons = []string{Zebra, Mgmtd, BGPd, BFDd}

// DefaultDaemonWait bounds how long an apply waits for the daemons it needs to accept vtysh
// (a daemon that was just restarted). Past it the apply fails and is retried; the watcher
// triggers the retry as soon as every daemon answers.
const DefaultDaemonWait = 10 * time.Second

// cfgLine is one significant line of an FRR config, with its context.
type cfgLine struct {
	block string // the top-level line of the block the line is in (the line itself at top level)
	key   string // the line preceded by the lines that open its enclosing blocks, "\n"-joined
	text  string // the line as written, for messages
}

// parseConfig splits a config (rendered or printed by FRR) into its significant lines, each
// keyed by its enclosing blocks: " match interface bgp-nic" of route-map entry 9 and of entry
// 10 are different lines. Separators, exits and the lines FRR adds on its own are dropped.
func parseConfig(text string) []cfgLine {
	type open struct {
		indent int
		line   string
	}
	var stack []open
	var out []cfgLine
	for _, raw := range strings.Split(text, "\n") {
		t := strings.TrimSpace(raw)
		switch {
		case t == "", t == "!", t == "end", t == "exit", t == "exit-address-family", t == "exit-vrf",
			strings.HasPrefix(t, "frr version "), strings.HasPrefix(t, "hostname "),
			t == "Building configuration...", t == "Current configuration:":
			continue
		}
		indent := len(raw) - len(strings.TrimLeft(raw, " "))
		for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		parts := make([]string, 0, len(stack)+1)
		for _, o := range stack {
			parts = append(parts, o.line)
		}
		block := t
		if len(stack) > 0 {
			block = stack[0].line
		}
		out = append(out, cfgLine{block: block, key: strings.Join(append(parts, t), "\n"), text: raw})
		stack = append(stack, open{indent, t})
	}
	return out
}

// owners returns the daemons that must hold line l for the config to work. bgpd holds all
// of its blocks and the prefix-lists and route-maps it applies, which is what a partial load
// after a bgpd restart loses. zebra is not held to any line: FRR 8.4's zebra keeps a copy of
// the route-map entries but not every clause, and FRR 10's keeps none (mgmtd holds them), so
// no zebra line tells a complete load from a partial one. On FRR 10 mgmtd holds zebra's part:
// the prefix-lists, each route-map entry with the clauses zebra knows (mgmtdClause), and
// `ip[v6] protocol` and `ip[v6] nht`; daemonLines drops mgmtd where the FRR has none. A
// route-map clause only zebra implements (`set src`, for `ip protocol`) is held by no daemon
// on FRR 8.4; frr-reload.py --test compares it in the merged view. Blocks of no daemon the
// agent drives (global lines such as `frr defaults`, an operator's other daemons) have no
// owner.
func owners(l cfgLine) []string {
	b := l.block
	t := strings.TrimSpace(l.text)
	switch {
	case strings.HasPrefix(b, "ip prefix-list "), strings.HasPrefix(b, "ipv6 prefix-list "):
		return []string{BGPd, Mgmtd}
	case strings.HasPrefix(b, "router bgp "),
		strings.HasPrefix(b, "bgp community-list "), strings.HasPrefix(b, "bgp large-community-list "),
		strings.HasPrefix(b, "bgp extcommunity-list "), strings.HasPrefix(b, "bgp as-path access-list "):
		return []string{BGPd}
	case strings.HasPrefix(b, "route-map "):
		var o []string
		if !strings.HasPrefix(t, "set src ") {
			o = append(o, BGPd)
		}
		if t == b || mgmtdClause(t) {
			o = append(o, Mgmtd)
		}
		return o
	case strings.HasPrefix(b, "ip protocol "), strings.HasPrefix(b, "ipv6 protocol "),
		strings.HasPrefix(b, "ip nht "), strings.HasPrefix(b, "ipv6 nht "):
		return []string{Mgmtd}
	case b == "bfd":
		return []string{BFDd}
	}
	return nil
}

// mgmtdClause reports whether FRR 10's mgmtd keeps route-map clause t: it knows the clauses
// of FRR's route-map library and of zebra, not bgpd's (`set community`, `match community`,
// `set local-preference` reach bgpd only). Clauses not listed here are not held to mgmtd;
// the entry's own line still is, and a restarted mgmtd loses that too.
func mgmtdClause(t string) bool {
	for _, p := range []string{"match interface ", "match ip address ", "match ipv6 address ",
		"match metric ", "match tag ", "match source-protocol ", "set metric ", "set tag ",
		"set src ", "description ", "call ", "on-match "} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

// neededDaemons are the daemons a config needs running before it can be applied: zebra and
// bgpd always, mgmtd where the FRR has one (waitDaemons drops it where vtysh has no such
// daemon), bfdd when a peer uses BFD or the config has BFD profiles.
func neededDaemons(text string) []string {
	need := []string{Zebra, Mgmtd, BGPd}
	for _, l := range parseConfig(text) {
		t := strings.TrimSpace(l.text)
		if l.block == "bfd" || (strings.HasPrefix(l.block, "router bgp ") &&
			strings.HasPrefix(t, "neighbor ") && (strings.HasSuffix(t, " bfd") || strings.Contains(t, " bfd profile "))) {
			return append(need, BFDd)
		}
	}
	return need
}

// daemonLines returns, per daemon, the keys of text's lines that daemon must hold, limited
// to the lines FRR prints somewhere (printed: keys of the merged running-config). A line no
// daemon prints (an operator's extra line in a form FRR rewrites) is never checked per
// daemon: frr-reload.py --test has already compared the merged view with the file. mgmtd
// holds lines only where the FRR has one (withMgmtd).
func daemonLines(text string, printed map[string]bool, withMgmtd bool) map[string][]string {
	out := map[string][]string{}
	for _, l := range parseConfig(text) {
		if !printed[l.key] {
			continue
		}
		for _, d := range owners(l) {
			if d == Mgmtd && !withMgmtd {
				continue
			}
			out[d] = append(out[d], l.key)
		}
	}
	return out
}

// keySet is the set of line keys of a config.
func keySet(text string) map[string]bool {
	set := map[string]bool{}
	for _, l := range parseConfig(text) {
		set[l.key] = true
	}
	return set
}

// PartialError is an apply after which a daemon lacks lines of the agent's config that FRR
// prints elsewhere: a partial load (a daemon restarted at the wrong moment). It is a failure:
// the same text is applied again, in full, on the next attempt.
type PartialError struct {
	Daemon  string
	Missing []string // the missing lines, without their context; passwords redacted
}

func (e *PartialError) Error() string {
	m := e.Missing
	more := ""
	if len(m) > 3 {
		more = fmt.Sprintf("; and %d more", len(m)-3)
		m = m[:3]
	}
	return fmt.Sprintf("FRR config loaded partly: %s lacks %s%s", e.Daemon, strings.Join(m, "; "), more)
}

// missingLines returns the keys of want that are not in have, as their last line, redacted.
func missingLines(want []string, have map[string]bool) []string {
	var out []string
	for _, k := range want {
		if !have[k] {
			last := k[strings.LastIndex(k, "\n")+1:]
			out = append(out, strings.TrimSpace(redact(last)))
		}
	}
	return out
}

// daemonConfig reads one daemon's own running-config.
func (v Vtysh) daemonConfig(ctx context.Context, d string) (string, error) {
	return v.ForDaemon(d).runningConfig(ctx)
}

// answers reports whether daemon d accepts vtysh connections. vtysh -d fails at once when
// the daemon's socket is gone or refuses connections ("failed to connect to any daemons"),
// and, when vtysh was built without d (mgmtd before FRR 9), with an error that isNoSuchDaemon
// recognises.
func (v Vtysh) answers(ctx context.Context, d string) error {
	_, err := v.ForDaemon(d).Run(ctx, "show version")
	return err
}

// isNoSuchDaemon reports whether err is vtysh saying it knows no daemon of that name
// ("Error: no daemons match name mgmtd!" from FRR 8.4): the FRR has none, so none is
// awaited. Any other failure (not running, restarting, a timeout) means wait.
func isNoSuchDaemon(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no daemons match name")
}

// answersIfPresent is answers for a daemon the FRR may not have (mgmtd): nil also when
// vtysh has no such daemon. present says which.
func (v Vtysh) answersIfPresent(ctx context.Context, d string) (present bool, err error) {
	err = v.answers(ctx, d)
	if d == Mgmtd && isNoSuchDaemon(err) {
		return false, nil
	}
	return true, err
}

// waitDaemons polls until every daemon in need answers vtysh, for at most wait and never
// past ctx, and returns the daemons of need that the FRR has: mgmtd is dropped where vtysh
// has no such daemon (FRR 8). The error names the daemons that do not answer.
func (v Vtysh) waitDaemons(ctx context.Context, need []string, wait time.Duration) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	v.Timeout = min(v.Timeout, wait)
	if v.Timeout == 0 {
		v.Timeout = wait
	}
	present := slices.Clone(need)
	pending := slices.Clone(need)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		// All at once: on a busy node one vtysh can take seconds, and the wait is for the
		// slowest daemon, not for the sum of them.
		type answer struct {
			ok  bool
			err error
		}
		answers := make([]answer, len(pending))
		var wg sync.WaitGroup
		for i, d := range pending {
			wg.Go(func() {
				ok, err := v.answersIfPresent(ctx, d)
				answers[i] = answer{ok, err}
			})
		}
		wg.Wait()
		var still []string
		for i, d := range pending {
			if !answers[i].ok {
				present = slices.DeleteFunc(present, func(p string) bool { return p == d })
			}
			if answers[i].err != nil {
				still, lastErr = append(still, d), answers[i].err
			}
		}
		if pending = still; len(pending) == 0 {
			return present, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("FRR daemons %s do not accept vtysh connections after %s (not running or restarting): %w",
				strings.Join(pending, ", "), wait, errors.Join(ctx.Err(), lastErr))
		case <-tick.C:
		}
	}
}
