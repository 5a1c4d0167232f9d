package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/metrics"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

func TestStatusTable(t *testing.T) {
	now := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	st := metrics.Status{
		Version: "v1", Time: now, Live: true, LiveInfo: "alive", Ready: false,
		NotReady: []string{"FRR not reachable: vtysh: connection refused"},
		OVN:      map[string]bool{"NB": true, "SB": false, "OVS": true},
		OVNClients: []ovnstate.DBClient{
			{DB: "OVS", Remote: "unix:/run/openvswitch/db.sock", Remotes: []string{"unix:/run/openvswitch/db.sock"}, Model: "standalone"},
			{DB: "NB", Remote: "tcp:172.30.10.12:6641", Remotes: []string{"tcp:172.30.10.11:6641", "tcp:172.30.10.12:6641", "tcp:172.30.10.13:6641"},
				Model: "clustered", ClusterConnected: true, Index: 42},
			{DB: "SB", Remote: "tcp:172.30.10.11:6642", Remotes: []string{"tcp:172.30.10.11:6642", "tcp:172.30.10.12:6642", "tcp:172.30.10.13:6642"},
				Model: "clustered", Leader: true, Index: 40, Left: 1, Problem: "not connected to its cluster: its data may be stale"},
		},
		Exposed: []metrics.ExposedPrefix{{Prefix: "172.24.4.10/32", Kind: "vm", Object: "Logical_Switch_Port vm1", Reason: "bound here"}},
		Findings: []metrics.Finding{{Reason: "infrastructure", Object: "NAT 172.30.1.254 (router r\x1b[2J1)",
			Message: "fip 172.30.1.254/32 contains 172.30.1.254, this node's BGP peer; not exposed"}},
		Peers: []metrics.Peer{{Peer: "172.30.1.254", VRF: "default", State: "Established", Uptime: 90 * time.Second, Sent: 1, Drops: 1}},
		BFD:   []metrics.BFDPeer{{Peer: "172.30.1.254", Interface: "eth1", Status: "up", Since: time.Minute, Flaps: 2}},
		Reconcile: metrics.Reconcile{Last: metrics.PassInfo{End: now.Add(-2 * time.Second), Duration: 12 * time.Millisecond,
			Reason: "SB Port_Binding update", Error: "frr: exit status 1"}, LastSuccess: now.Add(-time.Minute)},
		FRRApply: metrics.FRRApply{Reloads: 2, Skipped: 5, Failures: 1, LastDuration: 600 * time.Millisecond,
			LastSuccess: now.Add(-time.Hour), LastError: "frr-reload.py --test: exit status 1"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(st)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	var out, errOut bytes.Buffer
	if code := run([]string{"status", "--address", addr}, &out, &errOut); code != exitNotReady {
		t.Errorf("exit %d, want %d (not ready); stderr %s", code, exitNotReady, errOut.String())
	}
	for _, want := range []string{
		"NOT READY: FRR not reachable", "SB DISCONNECTED", "172.24.4.10/32  vm    Logical_Switch_Port vm1  bound here",
		"172.30.1.254  default  -            Established  1m30s", "eth1       up      1m0s  2",
		`LAST RECONCILE: 2s ago, took 12ms, trigger "SB Port_Binding update": FAILED: frr: exit status 1`,
		"last successful pass 1m0s ago",
		"OVSDB CLIENTS (3)\nDB   SERVER                         OF  MODEL       CLUSTER       ROLE      INDEX  LEFT  PROBLEM\n",
		"OVS  unix:/run/openvswitch/db.sock  1   standalone  -             -         -      0     -\n",
		"NB   tcp:172.30.10.12:6641          3   clustered   connected     follower  42     0     -\n",
		"SB   tcp:172.30.10.11:6642          3   clustered   DISCONNECTED  leader    40     1     not connected to its cluster: its data may be stale\n",
		"infrastructure  NAT 172.30.1.254 (router r?[2J1)  fip 172.30.1.254/32 contains 172.30.1.254, this node's BGP peer; not exposed", "reloads 2, unchanged 5, failures 1", "FRR APPLY FAILING: frr-reload.py --test",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	if code := run([]string{"status", "--address", addr, "--output", "json"}, &out, &errOut); code != exitNotReady {
		t.Errorf("json: exit %d", code)
	}
	var back metrics.Status
	if err := json.Unmarshal(out.Bytes(), &back); err != nil || back.Peers[0].State != "Established" {
		t.Errorf("json output does not decode to the status (%v):\n%s", err, out.String())
	}

	errOut.Reset()
	srv.Close()
	if code := run([]string{"status", "--address", addr}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "is the agent running?") {
		t.Errorf("agent gone: exit %d, stderr %q", code, errOut.String())
	}
	if code := run([]string{"status", "--output", "yaml", "--address", addr}, &out, &errOut); code != exitUsage {
		t.Errorf("--output yaml: exit %d, want %d", code, exitUsage)
	}
	noListen := writeConfig(t, "bgp: {vrf: \"\"}\nmetrics: {listen: \"\"}\n")
	errOut.Reset()
	if code := run([]string{"status", "--config", noListen}, &out, &errOut); code != exitConfig || !strings.Contains(errOut.String(), "metrics.listen is empty") {
		t.Errorf("metrics.listen empty: exit %d, stderr %q", code, errOut.String())
	}
}

func TestStatusAddress(t *testing.T) {
	for in, want := range map[string]string{"127.0.0.1:9447": "127.0.0.1:9447", ":9447": "127.0.0.1:9447",
		"0.0.0.0:1": "127.0.0.1:1", "[::]:9447": "[::1]:9447", "[fd00::1]:9447": "[fd00::1]:9447"} {
		if got, err := statusAddress(in); err != nil || got != want {
			t.Errorf("statusAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
