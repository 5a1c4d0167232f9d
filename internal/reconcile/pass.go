package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
)

// Reporter sees what every pass computed and what every applier did: metrics and status.
// Its methods must not block.
type Reporter interface {
	Exposed(d exposure.Desired)
	Findings(f []exposure.Finding)
	Applied(applier string, r Report, err error)
}

// PassOptions are the parts one pass ties together.
type PassOptions struct {
	Source Source
	// Appliers run in order, each even when an earlier one failed: an FRR that is
	// restarting must not stop a new VM's address from reaching bgp-nic. Wrap a slow one
	// in Background so that the others never wait behind it.
	Appliers []Applier
	Policy   exposure.Policy
	Reporter Reporter // nil: nobody
	// Trigger asks the loop for another pass (the end of a live-migration hold).
	Trigger func(reason string)
	Log     *slog.Logger
}

// Passer runs passes: read → exposure.Compute (through a Memo kept from pass to pass) →
// handover → every applier → report.
type Passer struct {
	src      Source
	appliers []Applier
	policy   atomic.Pointer[exposure.Policy] // replaced by a configuration reload
	handover *handover
	rep      Reporter
	log      *slog.Logger

	// Only the loop's goroutine touches these.
	memo     *exposure.Memo // the last passes' per-port results, reused while their inputs hold
	findings findingLog
	stale    string // databases disconnected at the last pass, for logging changes only
}

// NewPasser returns a Passer over o.
func NewPasser(o PassOptions) *Passer {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Reporter == nil {
		o.Reporter = nopReporter{}
	}
	p := &Passer{src: o.Source, appliers: o.Appliers, handover: newHandover(o.Trigger), rep: o.Reporter, log: o.Log,
		memo: exposure.NewMemo()}
	p.SetPolicy(o.Policy)
	return p
}

// SetPolicy makes the next pass compute with policy (a reloaded configuration).
func (p *Passer) SetPolicy(policy exposure.Policy) { p.policy.Store(&policy) }

// Pass runs one pass. full asks every applier to read back everything it owns.
func (p *Passer) Pass(ctx context.Context, full bool) error {
	id, st, err := p.src.Read(ctx, full)
	if err != nil {
		p.rep.Applied("ovn", Report{}, err)
		return fmt.Errorf("read OVN: %w", err)
	}
	p.reportStale(st.Stale)
	// Exactly exposure.Compute's result; the ports whose rows did not change cost nothing.
	// A full pass keeps the memo too: what it reads back is what is installed (kernel, OVS,
	// FRR), where drift happens behind the agent's back; the memo's inputs are the State's
	// values, compared field by field with those its results came from, and the State is
	// exact from the cache events (a reconnect or a dropped event reads whole tables), so
	// deciding all 10,000 ports anew would find the same result at a full pass's main cost.
	desired, findings := p.memo.Compute(st, id, *p.policy.Load())
	p.findings.report(findings, p.log)
	p.rep.Findings(findings)
	desired, arriving := p.handover.apply(desired, st, id.Chassis)
	p.rep.Exposed(desired)

	plan := Plan{Desired: desired, Arriving: arriving, Node: id, LocalBridges: st.LocalBridges, Full: full}
	var errs []error
	for _, a := range p.appliers {
		r, err := a.Apply(ctx, plan)
		p.rep.Applied(a.Name(), r, err)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// reportStale logs when passes start and stop running on the last known state of a
// disconnected database.
func (p *Passer) reportStale(stale []string) {
	now := strings.Join(stale, ",")
	switch {
	case now == p.stale:
	case now == "":
		p.log.Info("OVN databases reconnected; passes use live state again")
	default:
		p.log.Warn("OVN database disconnected; passes keep applying its last known state until it is back", "db", now)
	}
	p.stale = now
}

// findingLog logs a refused OVN row once when it appears and once when it is gone, rather
// than on every pass: a pass runs on every OVN event.
type findingLog struct {
	seen map[string]exposure.Finding // by Finding.String: a row and its reason
}

func (l *findingLog) report(findings []exposure.Finding, log *slog.Logger) {
	now := make(map[string]exposure.Finding, len(findings))
	for _, f := range findings {
		now[f.String()] = f
		if _, seen := l.seen[f.String()]; !seen {
			log.Warn("OVN data refused", "object", f.Object, "reason", f.Reason, "finding", f.Message)
		}
	}
	for k, f := range l.seen {
		if _, still := now[k]; !still {
			log.Info("OVN data no longer refused", "object", f.Object, "finding", f.Message)
		}
	}
	l.seen = now
}

type nopReporter struct{}

func (nopReporter) Exposed(exposure.Desired)      {}
func (nopReporter) Findings([]exposure.Finding)   {}
func (nopReporter) Applied(string, Report, error) {}
