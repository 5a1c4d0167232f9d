package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/metrics"
)

// exitNotReady is status's exit code when the agent answered but is not ready.
const exitNotReady = 3

// statusTimeout bounds the whole request: the agent reads FRR with its own 5 s timeout.
const statusTimeout = 15 * time.Second

// statusAddress turns metrics.listen into an address to connect to: a listener on every
// address is reached on loopback.
func statusAddress(listen string) (string, error) {
	if listen == "" {
		return "", fmt.Errorf("metrics.listen is empty: the agent serves no status (set it, or pass --address)")
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("--address %q: must be HOST:PORT: %w", listen, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}

// fetchStatus asks the running agent at addr for its status.
func fetchStatus(ctx context.Context, addr string) (metrics.Status, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	url := "http://" + addr + "/status"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return metrics.Status{}, nil, err
	}
	// Never through an HTTP_PROXY of the pod's environment: the agent is on this node.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		return metrics.Status{}, nil, fmt.Errorf("is the agent running? %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return metrics.Status{}, nil, fmt.Errorf("read %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return metrics.Status{}, nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	var s metrics.Status
	if err := json.Unmarshal(body, &s); err != nil {
		return metrics.Status{}, nil, fmt.Errorf("%s: not a status reply: %w", url, err)
	}
	return s, body, nil
}

// status prints the running agent's state as a table or as its JSON; the exit code says
// whether the agent is ready.
func status(ctx context.Context, addr, output string, stdout, stderr io.Writer) int {
	s, raw, err := fetchStatus(ctx, addr)
	if err != nil {
		fmt.Fprintf(stderr, "status: %v\n", err)
		return 1
	}
	if output == "json" {
		stdout.Write(raw)
	} else {
		printStatus(stdout, s)
	}
	if !s.Ready {
		return exitNotReady
	}
	return 0
}

// printStatus writes the table an operator reads at 3 a.m.: is it ready, what is exposed and
// why, are the sessions up, did the last pass and the last FRR apply work.
func printStatus(w io.Writer, s metrics.Status) {
	ready := "READY"
	if !s.Ready {
		ready = "NOT READY: " + printable(strings.Join(s.NotReady, "; "))
	}
	fmt.Fprintf(w, "ovn-bgp-agent %s  %s  (%s)\n", printable(s.Version), ready, printable(s.LiveInfo))
	var dbs []string
	for _, db := range slices.Sorted(maps.Keys(s.OVN)) {
		state := "connected"
		if !s.OVN[db] {
			state = "DISCONNECTED"
		}
		dbs = append(dbs, printable(db)+" "+state)
	}
	if len(dbs) == 0 {
		dbs = []string{"not connected yet"}
	}
	fmt.Fprintf(w, "OVN: %s\n", strings.Join(dbs, ", "))

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nEXPOSED (%d)\n", len(s.Exposed))
	if len(s.Exposed) > 0 {
		fmt.Fprintln(tw, "PREFIX\tKIND\tOBJECT\tREASON")
		for _, e := range s.Exposed {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", printable(e.Prefix), printable(string(e.Kind)), printable(e.Object), printable(e.Reason))
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
		fmt.Fprintf(tw, "FRR read failed: %s\n", printable(firstLineOf(s.FRRRead)))
	}
	if len(s.Peers) > 0 {
		fmt.Fprintln(tw, "PEER\tVRF\tDESCRIPTION\tSTATE\tUPTIME\tSENT\tRECEIVED\tDROPS\tLAST RESET")
		for _, p := range s.Peers {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", printable(p.Peer), printable(p.VRF), dash(printable(p.Description)),
				printable(p.State), dur(p.Uptime), p.Sent, p.Received, p.Drops, dash(printable(p.LastReset)))
		}
	}
	fmt.Fprintf(tw, "\nBFD PEERS (%d)\n", len(s.BFD))
	if len(s.BFD) > 0 {
		fmt.Fprintln(tw, "PEER\tINTERFACE\tSTATUS\tFOR\tFLAPS\tDIAGNOSTIC")
		for _, b := range s.BFD {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", printable(b.Peer), dash(printable(b.Interface)), printable(b.Status),
				dur(b.Since), b.Flaps, dash(printable(b.Diagnostic)))
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
			result = "FAILED: " + printableLines(r.Last.Error)
		}
		fmt.Fprintf(w, "LAST RECONCILE: %s ago, took %s, trigger %q: %s\n", ago(s.Time, r.Last.End), dur(r.Last.Duration), printable(r.Last.Reason), result)
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
		fmt.Fprintf(w, "  FRR APPLY FAILING: %s\n", printableLines(f.LastError))
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
