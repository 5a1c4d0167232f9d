package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/kernel"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// explainTimeout bounds connecting to the three databases for one explain.
const explainTimeout = 30 * time.Second

// explainOutput is `explain --output json`.
type explainOutput struct {
	Addr      string              `json:"address"`
	Chassis   string              `json:"chassis"`
	Exposed   bool                `json:"exposed"`
	Exposure  *explainExposure    `json:"exposure,omitempty"`
	Decisions []exposure.Decision `json:"decisions"`
	Findings  []exposure.Finding  `json:"findings"`
}

type explainExposure struct {
	Prefix string          `json:"prefix"`
	Kind   exposure.Kind   `json:"kind"`
	Object string          `json:"object"`
	Reason string          `json:"reason"`
	Wiring exposure.Wiring `json:"wiring"`
}

// explain connects to OVN the way the daemon does, takes one snapshot, and prints what the
// exposure core decides about addr on this node, and why.
func explain(ctx context.Context, cfg config.Config, arg, format string, stdout io.Writer, log *slog.Logger) error {
	addr, err := netip.ParseAddr(arg)
	if err != nil {
		return fmt.Errorf("explain: %q is not an IP address", arg)
	}
	ctx, cancel := context.WithTimeout(ctx, explainTimeout)
	defer cancel()
	w, err := ovn.Connect(ctx, cfg, func(string) {}, log)
	if err != nil {
		return fmt.Errorf("explain: read OVN: %w", err)
	}
	defer w.Close()
	id, st, err := w.Read(ctx)
	if err != nil {
		return err
	}
	// The same node facts as the daemon's pass, so explain tells what the guard refuses.
	id.Facts = cfg.NodeFacts(id.OVNRemote)
	k, err := kernel.New(kernel.Options{NIC: cfg.BGP.NIC, VRF: cfg.BGP.VRF, VRFTableID: cfg.BGP.VRFTableID}, log)
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	defer k.Close()
	if id.Facts.Addresses, err = k.NodeAddresses(ctx, slices.Collect(maps.Values(id.BridgeMappings))); err != nil {
		return fmt.Errorf("explain: read the node's own addresses: %w", err)
	}
	ex := exposure.Explain(st, id, cfg.ExposurePolicy(), addr)
	if format == "json" {
		out := explainOutput{Addr: ex.Addr.String(), Chassis: id.Chassis, Exposed: ex.Exposed != nil,
			Decisions: ex.Decisions, Findings: ex.Findings}
		if e := ex.Exposed; e != nil {
			out.Exposure = &explainExposure{Prefix: e.Prefix.String(), Kind: e.Kind, Object: e.Object, Reason: e.Reason, Wiring: e.Wiring}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	printExplanation(stdout, ex, id.Chassis)
	return nil
}

func printExplanation(w io.Writer, ex exposure.Explanation, chassis string) {
	if e := ex.Exposed; e != nil {
		fmt.Fprintf(w, "%s: EXPOSED on this node (%s) as %s %s\n", ex.Addr, ovnstate.Printable(chassis), ovnstate.Printable(string(e.Kind)), e.Prefix)
		fmt.Fprintf(w, "  why:    %s\n", ovnstate.Printable(e.Reason))
		fmt.Fprintf(w, "  from:   %s\n", ovnstate.Printable(e.Object))
		if e.Wiring.Bridge != "" {
			fmt.Fprintf(w, "  wiring: bridge %s", ovnstate.Printable(e.Wiring.Bridge))
			if e.Wiring.VLAN != 0 {
				fmt.Fprintf(w, " vlan %d", e.Wiring.VLAN)
			}
			if e.Wiring.Via.IsValid() {
				fmt.Fprintf(w, " via %s", e.Wiring.Via)
			}
			if e.Wiring.MAC != "" {
				fmt.Fprintf(w, " neighbour %s", ovnstate.Printable(e.Wiring.MAC))
			}
			fmt.Fprintln(w)
		}
	} else {
		fmt.Fprintf(w, "%s: NOT exposed on this node (%s)\n", ex.Addr, ovnstate.Printable(chassis))
		if len(ex.Decisions) == 0 && len(ex.Findings) == 0 {
			fmt.Fprintln(w, "  no OVN row in this node's view names it: it is not a VM port on a provider network,")
			fmt.Fprintln(w, "  a floating IP, a router gateway, a load-balancer VIP or (when enabled) a tenant network")
		}
	}
	if len(ex.Decisions) > 0 {
		fmt.Fprintln(w, "rules that considered it:")
		for _, d := range ex.Decisions {
			verdict := "not here"
			if d.Exposed {
				verdict = "exposed"
			}
			fmt.Fprintf(w, "  [%s] %s %s, %s: %s\n", verdict, ovnstate.Printable(string(d.Kind)), d.Prefix, ovnstate.Printable(d.Object), ovnstate.Printable(d.Reason))
		}
	}
	if len(ex.Findings) > 0 {
		fmt.Fprintln(w, "refused OVN data that names it:")
		for _, f := range ex.Findings {
			fmt.Fprintf(w, "  [%s] %s\n", f.Reason, ovnstate.Printable(f.String()))
		}
	}
}
