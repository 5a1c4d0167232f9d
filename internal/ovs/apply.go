package ovs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/reconcile"
)

// Name makes the Applier the pass's OVS flow applier.
func (a *Applier) Name() string { return "ovs" }

// Apply keeps the agent's flows on the provider bridges. The flows depend only on the
// bridges, their MACs and localnet patch ports, never on the exposures: a pass whose inputs
// are those of the last successful apply does nothing (no ovs-ofctl at all, which with many
// routes in the node costs ovs-vswitchd a routing-table re-read), except a full pass, which
// dumps and repairs what someone changed by hand. A bridge recreated by a restarted
// ovs-vswitchd has a new ifindex and a new management socket (BRIDGE.mgmt), which count as
// changed inputs: a restart loses every flow.
func (a *Applier) Apply(ctx context.Context, p reconcile.Plan) (reconcile.Report, error) {
	bridges := FlowBridges(p)
	retired := p.RetiredBridges()
	key := fmt.Sprint(bridges, retired, ifindexes(p), a.sockets(bridges))
	a.mu.Lock()
	unchanged := a.applied == key
	a.mu.Unlock()
	if unchanged && !p.Full {
		return reconcile.Report{}, nil
	}
	res, err := a.Sync(ctx, bridges, retired...)
	var r reconcile.Report
	r.Add("flow-added", len(res.Added))
	r.Add("flow-removed", len(res.Removed))
	if len(res.Waiting) > 0 {
		a.log.Debug("provider bridges waiting for their localnet patch port", "bridges", res.Waiting)
	}
	a.mu.Lock()
	a.applied = ""
	if err == nil {
		a.applied = key
	}
	a.mu.Unlock()
	return r, err
}

// FlowBridges joins the plan's provider bridges with what the local OVS says about them.
func FlowBridges(p reconcile.Plan) []Bridge {
	out := make([]Bridge, 0, len(p.Desired.Bridges))
	for _, b := range p.Desired.Bridges {
		lb := p.LocalBridges[b.Name]
		fb := Bridge{Name: b.Name, MAC: lb.MAC}
		for _, pt := range lb.Patches {
			if pt.OFPort > 0 {
				fb.Patches = append(fb.Patches, pt.OFPort)
			}
		}
		out = append(out, fb)
	}
	return out
}

func ifindexes(p reconcile.Plan) []int {
	out := make([]int, 0, len(p.Desired.Bridges))
	for _, b := range p.Desired.Bridges {
		out = append(out, p.LocalBridges[b.Name].Ifindex)
	}
	return out
}

// sockets identifies each bridge's management socket (inode and change time): a restarted
// ovs-vswitchd creates it anew, even where the datapath keeps the bridge's ifindex.
func (a *Applier) sockets(bridges []Bridge) []string {
	out := make([]string, 0, len(bridges))
	for _, b := range bridges {
		fi, err := os.Stat(filepath.Join(a.opts.RunDir, b.Name+".mgmt"))
		if err != nil {
			out = append(out, "absent")
			continue
		}
		id := fi.ModTime().String()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			id = fmt.Sprint(st.Ino, st.Ctim)
		}
		out = append(out, id)
	}
	return out
}
