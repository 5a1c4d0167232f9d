package integration

// The fault tests: each injects one failure for real, lets OVN change during it where that
// is the point, repairs it, and asserts the exact advertised set at every ToR afterwards
// (lab.Recorder samples it every 100 ms). Each reports its figures on a "FAULT-REPORT {json}"
// log line and, when $FAULTS_REPORT names a file, as a JSON line appended to it: `make faults`
// prints them as a table.

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

// faultReport is one row of the `make faults` table.
type faultReport struct {
	Fault         string  `json:"fault"`
	Runs          int     `json:"runs"`            // recoveries measured
	RecoveryP50Ms float64 `json:"recovery_p50_ms"` // from injection or repair to the exact set back
	RecoveryMaxMs float64 `json:"recovery_max_ms"`
	StaleSeen     int     `json:"stale_seen"`   // distinct stale entries (ToR: prefix via next hop) in any sample
	MissingSeen   int     `json:"missing_seen"` // distinct missing entries in any sample
	Withdrawals   int     `json:"withdrawals"`  // wanted prefixes that disappeared from a ToR
	Samples       int     `json:"samples"`
	Note          string  `json:"note,omitempty"`
}

var reportMu sync.Mutex

// reportFault logs the figures and appends them to $FAULTS_REPORT.
func reportFault(t *testing.T, recoveries []time.Duration, f lab.Figures, note string) {
	t.Helper()
	r := faultReport{Fault: t.Name(), Runs: len(recoveries), StaleSeen: len(f.StaleSeen),
		MissingSeen: len(f.MissingSeen), Withdrawals: f.Withdrawals, Samples: f.Samples, Note: note}
	if len(recoveries) > 0 {
		s := slices.Clone(recoveries)
		slices.Sort(s)
		r.RecoveryP50Ms = float64(s[(len(s)-1)/2].Milliseconds())
		r.RecoveryMaxMs = float64(s[len(s)-1].Milliseconds())
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("FAULT-REPORT %s", b)
	if len(f.StaleSeen) > 0 || len(f.MissingSeen) > 0 {
		t.Logf("stale seen: %v; missing seen: %v", f.StaleSeen, f.MissingSeen)
	}
	file := os.Getenv("FAULTS_REPORT")
	if file == "" {
		return
	}
	reportMu.Lock()
	defer reportMu.Unlock()
	out, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("FAULTS_REPORT: %v", err)
		return
	}
	defer out.Close()
	if _, err := out.Write(append(b, '\n')); err != nil {
		t.Errorf("FAULTS_REPORT: %v", err)
	}
}

// ecmpWant is the exact set of the dual-homed lab with vm1 (and more VM addresses) plugged
// on the compute node: every ToR holds each /32 via the compute node's address on its link.
func ecmpWant(prefixes ...string) lab.Want {
	w := lab.Want{"tor1": lab.Advert{}, "tor2": lab.Advert{}}
	for _, p := range prefixes {
		w["tor1"][p] = []string{"172.30.1.10"}
		w["tor2"][p] = []string{"172.30.2.10"}
	}
	return w
}

// holdFault keeps a fault in place for d: the fault's duration, not a wait for anything.
func holdFault(ctx context.Context, t *testing.T, d time.Duration) {
	t.Helper()
	if d == 0 {
		return
	}
	select {
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	case <-time.After(d):
	}
}

// failWithState ends a fault test that did not recover, with what the node's FRR and agent hold.
func failWithState(t *testing.T, l *lab.Lab, err error) {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, d := range []string{"bgpd", "zebra"} {
		out, _ := l.Node(compute).FRR.Vtysh(ctx, "show running-config "+d)
		b.WriteString("--- compute " + d + ":\n" + out + "\n")
	}
	out, _ := l.Node("tor1").FRR.Vtysh(ctx, "show bgp summary")
	b.WriteString("--- tor1:\n" + out + "\n")
	t.Fatalf("%v\n%s\nagent log:\n%s", err, b.String(), l.AgentLog(compute, 40))
}

// bgpd is SIGKILLed and started again with no config (as watchfrr does) at once, and after
// 1, 3 and 6 s down, five times over. The agent must notice, wait until bgpd accepts vtysh,
// load bgpd's own config in full (not only what frr-reload.py's merged diff shows missing)
// and verify it in bgpd: afterwards each ToR holds exactly vm1's /32 via the compute node.
// Before the fix, a whole-file load that reached only zebra left bgpd with `router bgp` but
// without its prefix-lists and route-maps, advertising nothing, while the agent said applied.
func TestFaultBgpdKilled(t *testing.T) {
	t.Parallel()
	l, ctx := startLabFor(t, ecmpTopology, 8*time.Minute)
	if err := l.StartAgent(ctx, compute); err != nil {
		t.Fatal(err)
	}
	addLocalVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
	rec := l.Record(ctx, ecmpWant("172.24.4.10/32"))
	if _, err := rec.WaitRecovered(ctx, time.Now(), 2*time.Minute, 5); err != nil {
		failWithState(t, l, err)
	}
	f := l.Node(compute).FRR
	var recoveries []time.Duration
	for round := range faultRounds(5) {
		for _, down := range []time.Duration{0, time.Second, 3 * time.Second, 6 * time.Second} {
			if err := f.KillDaemon("bgpd"); err != nil {
				t.Fatal(err)
			}
			holdFault(ctx, t, down)
			if err := f.RestartDaemon(ctx, "bgpd"); err != nil {
				t.Fatal(err)
			}
			repaired := time.Now()
			d, err := rec.WaitRecovered(ctx, repaired, 2*time.Minute, 10)
			if err != nil {
				t.Errorf("round %d, bgpd down %s: ToRs never held exactly the expected set again", round, down)
				failWithState(t, l, err)
			}
			t.Logf("round %d, bgpd down %s: exact set back %s after the restart", round, down, d.Round(time.Millisecond))
			recoveries = append(recoveries, d)
		}
	}
	reportFault(t, recoveries, rec.Stop(), "recovery from bgpd's restart")
}

// faultRounds is how often a repeated fault is injected: n, or $FAULTS_ROUNDS when set (a
// longer soak with `make faults FAULTS_ROUNDS=20`).
func faultRounds(n int) int {
	if v, err := strconv.Atoi(os.Getenv("FAULTS_ROUNDS")); err == nil && v > 0 {
		return v
	}
	return n
}
