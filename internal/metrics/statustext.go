package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// The client side of /status: what `ovn-bgp-agent status` asks the running agent and prints.

// statusTimeout bounds the whole request: the agent reads FRR with its own 5 s timeout.
const statusTimeout = 15 * time.Second

// FetchStatus asks the running agent at addr for its status.
func FetchStatus(ctx context.Context, addr string) (Status, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	url := "http://" + addr + "/status"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Status{}, nil, err
	}
	// Never through an HTTP_PROXY of the pod's environment: the agent is on this node.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		return Status{}, nil, fmt.Errorf("is the agent running? %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return Status{}, nil, fmt.Errorf("read %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Status{}, nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	var s Status
	if err := json.Unmarshal(body, &s); err != nil {
		return Status{}, nil, fmt.Errorf("%s: not a status reply: %w", url, err)
	}
	return s, body, nil
}

// WriteStatus writes the table an operator reads at 3 a.m.: is it ready, what is exposed and
// why, are the sessions up, did the last pass and the last FRR apply work.
func WriteStatus(w io.Writer, s Status) {
	ready := "READY"
	if !s.Ready {
		ready = "NOT READY: " + ovnstate.Printable(strings.Join(s.NotReady, "; "))
	}
	fmt.Fprintf(w, "ovn-bgp-agent %s  %s  (%s)\n", ovnstate.Printable(s.Version), ready, ovnstate.Printable(s.LiveInfo))
	var dbs []string
	for _, db := range slices.Sorted(maps.Keys(s.OVN)) {
		state := "connected"
		if !s.OVN[db] {
			state = "DISCONNECTED"
		}
		dbs = append(dbs, ovnstate.Printable(db)+" "+state)
	}
	if len(dbs) == 0 {
		dbs = []string{"not connected yet"}
	}
	fmt.Fprintf(w, "OVN: %s\n", strings.Join(dbs, ", "))

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	writeClients(tw, s.OVNClients)
	fmt.Fprintf(tw, "\nEXPOSED (%d)\n", len(s.Exposed))
	if len(s.Exposed) > 0 {
		fmt.Fprintln(tw, "PREFIX\tKIND\tOBJECT\tREASON")
		for _, e := range s.Exposed {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ovnstate.Printable(e.Prefix), ovnstate.Printable(string(e.Kind)), ovnstate.Printable(e.Object), ovnstate.Printable(e.Reason))
		}
	}
	fmt.Fprintf(tw, "\nFINDINGS (%d)\n", len(s.Findings))
	if len(s.Findings) > 0 {
		fmt.Fprintln(tw, "REASON\tOBJECT\tMESSAGE")
		for _, f := range s.Findings {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", findingText(f.Reason), findingText(f.Object), findingText(f.Message))
		}
	}
	fmt.Fprintf(tw, "\nBGP PEERS (%d)\n", len(s.Peers))
	if s.FRRRead != "" {
		fmt.Fprintf(tw, "FRR read failed: %s\n", ovnstate.Printable(firstLineOf(s.FRRRead)))
	}
	if len(s.Peers) > 0 {
		fmt.Fprintln(tw, "PEER\tVRF\tDESCRIPTION\tSTATE\tUPTIME\tSENT\tRECEIVED\tDROPS\tLAST RESET")
		for _, p := range s.Peers {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", ovnstate.Printable(p.Peer), ovnstate.Printable(p.VRF), dash(ovnstate.Printable(p.Description)),
				ovnstate.Printable(p.State), dur(p.Uptime), p.Sent, p.Received, p.Drops, dash(ovnstate.Printable(p.LastReset)))
		}
	}
	fmt.Fprintf(tw, "\nBFD PEERS (%d)\n", len(s.BFD))
	if len(s.BFD) > 0 {
		fmt.Fprintln(tw, "PEER\tINTERFACE\tSTATUS\tFOR\tFLAPS\tDIAGNOSTIC")
		for _, b := range s.BFD {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", ovnstate.Printable(b.Peer), dash(ovnstate.Printable(b.Interface)), ovnstate.Printable(b.Status),
				dur(b.Since), b.Flaps, dash(ovnstate.Printable(b.Diagnostic)))
		}
	}
	tw.Flush()

	fmt.Fprintln(w)
	r := s.Reconcile
	if r.Last.End.IsZero() {
		fmt.Fprintln(w, "LAST RECONCILE: none yet")
	} else {
		result := "ok"
		if r.Last.Error != "" {
			result = "FAILED: " + ovnstate.PrintableLines(r.Last.Error)
		}
		fmt.Fprintf(w, "LAST RECONCILE: %s ago, took %s, trigger %q: %s\n", ago(s.Time, r.Last.End), dur(r.Last.Duration), ovnstate.Printable(r.Last.Reason), result)
		if r.Last.Error != "" && !r.LastSuccess.IsZero() {
			fmt.Fprintf(w, "  last successful pass %s ago\n", ago(s.Time, r.LastSuccess))
		}
	}
	f := s.FRRApply
	last := "never"
	if !f.LastSuccess.IsZero() {
		last = ago(s.Time, f.LastSuccess) + " ago"
	}
	fmt.Fprintf(w, "LAST FRR APPLY: success %s (last reload took %s); reloads %d, unchanged %d, failures %d\n",
		last, dur(f.LastDuration), f.Reloads, f.Skipped, f.Failures)
	if f.LastError != "" {
		fmt.Fprintf(w, "  FRR APPLY FAILING: %s\n", ovnstate.PrintableLines(f.LastError))
	}
}

// writeClients lists which server each OVSDB client uses and what that server says of its
// database: a clustered member's connection to its cluster and its role; and how many
// servers the client has left.
func writeClients(tw io.Writer, cs []ovnstate.DBClient) {
	if len(cs) == 0 {
		return
	}
	fmt.Fprintf(tw, "\nOVSDB CLIENTS (%d)\n", len(cs))
	fmt.Fprintln(tw, "DB\tSERVER\tOF\tMODEL\tCLUSTER\tROLE\tINDEX\tLEFT\tPROBLEM")
	for _, c := range cs {
		server, model, cluster, role, index := c.Remote, c.Model, "-", "-", "-"
		if server == "" {
			server = "(none)"
		}
		if model == "" {
			model = "?"
		}
		if c.Model == "clustered" {
			cluster, role, index = "DISCONNECTED", "follower", fmt.Sprint(c.Index)
			if c.ClusterConnected {
				cluster = "connected"
			}
			if c.Leader {
				role = "leader"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%d\t%s\n", ovnstate.Printable(c.DB), ovnstate.Printable(server), len(c.Remotes),
			ovnstate.Printable(model), cluster, role, index, c.Left, dash(ovnstate.Printable(c.Problem)))
	}
}

// findingText makes an OVN string safe for the terminal: a tenant's row name must not move
// the cursor or fake a table line.
func findingText(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func dur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

func ago(now, t time.Time) string { return dur(max(now.Sub(t), time.Millisecond)) }

func firstLineOf(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
