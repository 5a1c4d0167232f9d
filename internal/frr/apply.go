package frr

import (
	"context"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/reconcile"
)

// Name makes the Manager the pass's FRR applier.
func (m *Manager) Name() string { return "frr" }

// Apply renders frr.conf and applies it when its text changed. frr.conf holds no per-prefix
// state (the prefixes ride on bgp-nic), so the plan's exposures do not enter it.
func (m *Manager) Apply(ctx context.Context, _ reconcile.Plan) (reconcile.Report, error) {
	before := m.Stats()
	err := m.Sync(ctx)
	after := m.Stats()
	var r reconcile.Report
	r.Add("reload", int(after.Reloads-before.Reloads))
	ran := after.Reloads+after.Verified > before.Reloads+before.Verified
	if ran || (after.Failures > before.Failures && after.LastDuration != before.LastDuration) {
		r.Ran = after.LastDuration
	}
	return r, err
}
