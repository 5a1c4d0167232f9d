//go:build privileged

package ovn

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// The NB client against a real 3-member raft cluster (an ovsdb-server per member, each in
// its own network namespace, the client on their unix sockets): the member it uses is cut
// off from the other two, then frozen (SIGSTOP), then killed. Each time a port is added
// through the other members, and the snapshot must show it while the fault is still on: the
// client has moved to a member that is part of the cluster. Without the member guard the
// client stays on the partitioned or frozen member and never sees the port.
func TestNBClientLeavesAMemberThatCannotVouch(t *testing.T) {
	requireOVSDB(t)
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "obgp-raft-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	hub := fmt.Sprintf("obr%d", os.Getpid()%100000)
	if err := lab.AddNetns(ctx, hub); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.DelNetns(context.Background(), hub) })
	members, err := lab.StartMembers(ctx, hub, hub, dir, netip.MustParsePrefix("10.251.0.0/24"), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := members.Close(); err != nil {
			t.Error(err)
		}
	})
	nb, err := members.StartDB(ctx, "nb", "/usr/share/ovn/ovn-nb.ovsschema", "OVN_Northbound", 6641, 6643)
	if err != nil {
		t.Fatal(err)
	}
	sb := ovsdb(t, dir, "sb", "/usr/share/ovn/ovn-sb.ovsschema")
	ovs := ovsdb(t, dir, "ovs", "/usr/share/openvswitch/vswitch.ovsschema")
	run := func(argv ...string) {
		t.Helper()
		if _, err := lab.Run(ctx, "", nil, argv...); err != nil {
			t.Fatal(err)
		}
	}
	run("ovs-vsctl", "--db=unix:"+ovs, "--no-wait", "init")
	run("ovs-vsctl", "--db=unix:"+ovs, "--no-wait", "set", "open_vswitch", ".",
		"external_ids:system-id=chassis-a", "external_ids:ovn-remote=unix:"+sb)
	// nbctl writes through the given members. It looks for the leader among them and fails
	// when none is leader yet (an election after a fault): it is retried until one is.
	nbctl := func(via []int, args ...string) {
		t.Helper()
		var eps []string
		for _, i := range via {
			eps = append(eps, "unix:"+nb.Servers[i].Sock)
		}
		argv := append([]string{"ovn-nbctl", "--db=" + strings.Join(eps, ",")}, args...)
		if err := lab.Poll(ctx, 30*time.Second, "ovn-nbctl "+strings.Join(args, " "), func() (bool, error) {
			_, err := lab.Run(ctx, "", nil, argv...)
			return err == nil, err
		}); err != nil {
			t.Fatal(err)
		}
	}
	nbctl([]int{0, 1, 2}, "ls-add", "public")

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := Connect(ctx, config.Config{OVN: config.OVN{NBConnection: nb.Remotes("unix"), OVSConnection: "unix:" + ovs}},
		func(string) {}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	nbClient := func() ovnstate.DBClient {
		for _, c := range w.Clients() {
			if c.DB == "NB" {
				return c
			}
		}
		return ovnstate.DBClient{}
	}
	// inUse waits until the guard has seen the NB client on a healthy clustered member.
	inUse := func() int {
		t.Helper()
		member := -1
		if err := lab.Poll(ctx, 30*time.Second, "the NB client on a connected member", func() (bool, error) {
			c := nbClient()
			member = slices.Index(strings.Split(nb.Remotes("unix"), ","), c.Remote)
			return member >= 0 && c.Model == "clustered" && c.ClusterConnected, fmt.Errorf("%+v", c)
		}); err != nil {
			t.Fatal(err)
		}
		return member
	}
	hasPort := func(name string) bool {
		st, err := w.Snapshot(ctx)
		if err != nil || len(st.Switches) != 1 {
			return false
		}
		return slices.ContainsFunc(st.Switches[0].Ports, func(p ovnstate.LogicalSwitchPort) bool { return p.Name == name })
	}
	others := func(i int) []int { return slices.DeleteFunc([]int{0, 1, 2}, func(j int) bool { return j == i }) }
	// addSeen adds a port through the members other than i and waits for the snapshot to
	// show it, with member i still faulty.
	addSeen := func(i int, port, fault string) {
		t.Helper()
		start := time.Now()
		nbctl(others(i), "lsp-add", "public", port)
		faulty := "unix:" + nb.Servers[i].Sock
		if err := lab.Poll(ctx, 30*time.Second, port+" in the snapshot, the client off the "+fault+" member", func() (bool, error) {
			c := nbClient()
			return hasPort(port) && c.Remote != faulty && c.Remote != "", fmt.Errorf("NB client: %+v", c)
		}); err != nil {
			t.Fatal(err)
		}
		t.Logf("member %d %s: %s seen after %s (servers left so far: %d)", i, fault, port, time.Since(start).Round(time.Millisecond), nbClient().Left)
	}

	i := inUse()
	if err := members.Partition(ctx, i); err != nil {
		t.Fatal(err)
	}
	addSeen(i, "p1", "partitioned")
	if err := members.Heal(ctx, i); err != nil {
		t.Fatal(err)
	}
	if err := nb.WaitMember(ctx, i); err != nil {
		t.Fatal(err)
	}

	i = inUse()
	if err := nb.Freeze(i); err != nil {
		t.Fatal(err)
	}
	addSeen(i, "p2", "frozen")
	if left := nbClient().Left; left != 2 {
		t.Errorf("the guard says it left %d servers after a partition and a freeze, want 2", left)
	}
	if err := nb.Thaw(i); err != nil {
		t.Fatal(err)
	}

	i = inUse()
	if err := nb.Kill(i); err != nil {
		t.Fatal(err)
	}
	addSeen(i, "p3", "killed")
	if err := nb.Start(ctx, i); err != nil {
		t.Fatal(err)
	}
	if err := nb.WaitMember(ctx, i); err != nil {
		t.Fatal(err)
	}
}
