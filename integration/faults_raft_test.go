package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/metrics"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// faultsRaftTopology is faultsTopology with NB and SB as 3-member raft clusters.
const faultsRaftTopology = "../deploy/containerlab/faults-raft.clab.yml"

// NB and SB are raft clusters of three members; ovn-northd, ovn-controller and the agent are
// given every member. Three faults, OVN changing during each, the exact set asserted at every
// ToR while the fault is still on:
//
//  1. The NB and the SB leader are SIGKILLed (OVS 3.1 has no cluster/transfer-leadership: a
//     crash is how the leadership moves here). While they are down vm2 is created through the
//     remaining members; the ToRs must hold it before the old leaders are started again
//     (they rejoin from their files as followers).
//  2. The new leaders hang (SIGSTOP) until others are elected; vm4 is created meanwhile and
//     must reach the ToRs before they are resumed (they then follow the newer term).
//  3. The member the agent reads (its status says which) is partitioned from the other two:
//     blackhole routes both ways between its namespace and theirs, while every client still
//     reaches it. It answers on, with the data it had (its _Server row says connected=false).
//     Meanwhile vm1 is deleted and vm3 created through the others; the ToRs must show it
//     while the partition is still on, so the agent must have left that member. Then the
//     partition is healed, and the exact set must hold after the repair as well.
//
// Without the member guard the agent stays on the partitioned member: vm1 stays advertised
// and vm3 missing until the partition heals.
func TestFaultRaftLeaderChange(t *testing.T) {
	t.Parallel()
	l, ctx, rec := faultLabOn(t, faultsRaftTopology, 8*time.Minute, nil, "vm1=172.24.4.10")
	nb, sb, members := l.Raft("nb"), l.Raft("sb"), l.Members()
	if nb == nil || sb == nil {
		t.Fatal("the lab's central is not clustered")
	}
	var recoveries []time.Duration

	nbLeader, err := nb.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sbLeader, err := sb.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := nb.Kill(nbLeader); err != nil {
		t.Fatal(err)
	}
	if err := sb.Kill(sbLeader); err != nil {
		t.Fatal(err)
	}
	// The wanted set changes first: the recovery counts from the change until the ToRs hold it.
	rec.SetWant(ecmpWant("172.24.4.10/32", "172.24.4.20/32"))
	start := time.Now()
	addLocalVM(t, ctx, l, "vm2", "fa:16:3e:11:11:02", "172.24.4.20")
	logBound(t, ctx, l, "vm2", start)
	recoveries = append(recoveries, recovered(t, ctx, l, rec, start,
		fmt.Sprintf("NB leader m%d and SB leader m%d killed, vm2 created", nbLeader+1, sbLeader+1)))
	for _, d := range []struct {
		db *lab.RaftDB
		i  int
	}{{nb, nbLeader}, {sb, sbLeader}} {
		if err := d.db.Start(ctx, d.i); err != nil {
			t.Fatal(err)
		}
		if err := d.db.WaitMember(ctx, d.i); err != nil {
			t.Fatal(err)
		}
	}
	if nbLeader, err = nb.Leader(ctx); err != nil {
		t.Fatal(err)
	}
	if sbLeader, err = sb.Leader(ctx); err != nil {
		t.Fatal(err)
	}
	used := agentClients(t, ctx, l)
	t.Logf("leaders now: NB m%d, SB m%d; the killed ones rejoined; the agent reads NB from %s, SB from %s",
		nbLeader+1, sbLeader+1, used["NB"].Remote, used["SB"].Remote)

	// The new leaders hang (SIGSTOP) past the election timer: the others elect new ones, and
	// once resumed the old ones find a newer term and follow.
	if err := nb.Freeze(nbLeader); err != nil {
		t.Fatal(err)
	}
	if err := sb.Freeze(sbLeader); err != nil {
		t.Fatal(err)
	}
	rec.SetWant(ecmpWant("172.24.4.10/32", "172.24.4.20/32", "172.24.4.40/32"))
	start = time.Now()
	addLocalVM(t, ctx, l, "vm4", "fa:16:3e:11:11:04", "172.24.4.40")
	logBound(t, ctx, l, "vm4", start)
	recoveries = append(recoveries, recovered(t, ctx, l, rec, start,
		fmt.Sprintf("NB leader m%d and SB leader m%d frozen, vm4 created", nbLeader+1, sbLeader+1)))
	if err := nb.Thaw(nbLeader); err != nil {
		t.Fatal(err)
	}
	if err := sb.Thaw(sbLeader); err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct {
		db *lab.RaftDB
		i  int
	}{{nb, nbLeader}, {sb, sbLeader}} {
		if err := d.db.WaitMember(ctx, d.i); err != nil {
			t.Fatal(err)
		}
	}
	newNB, _ := nb.Leader(ctx)
	newSB, _ := sb.Leader(ctx)
	t.Logf("leaders now: NB m%d, SB m%d; the frozen ones follow", newNB+1, newSB+1)

	// The member the agent's NB client reads, from its status.
	used = agentClients(t, ctx, l)
	cut := slices.Index(strings.Split(nb.Remotes("tcp"), ","), used["NB"].Remote)
	if cut < 0 {
		t.Fatalf("the agent's NB client is on %q, none of %s", used["NB"].Remote, nb.Remotes("tcp"))
	}
	t.Logf("the agent reads NB from m%d (%s), SB from %s", cut+1, used["NB"].Remote, used["SB"].Remote)
	if err := members.Partition(ctx, cut); err != nil {
		t.Fatal(err)
	}
	rec.SetWant(ecmpWant("172.24.4.20/32", "172.24.4.30/32", "172.24.4.40/32"))
	start = time.Now()
	if _, err := l.NBCtl(ctx, "lsp-del", "vm1"); err != nil {
		t.Fatal(err)
	}
	addLocalVM(t, ctx, l, "vm3", "fa:16:3e:11:11:03", "172.24.4.30")
	logBound(t, ctx, l, "vm3", start)
	recoveries = append(recoveries, recovered(t, ctx, l, rec, start,
		fmt.Sprintf("m%d partitioned, vm1 deleted and vm3 created", cut+1)))
	// The status says the clients left the partitioned member for a connected one (and
	// counts it: ovn_server_left_total).
	// Only a client that was on the partitioned member has to leave it: NB's is by choice of
	// the member, SB's may be on another (then it stays, and has left nothing).
	partitioned := map[string]string{"NB": nb.Remote(cut), "SB": sb.Remote(cut)}
	before := used
	if err := lab.Poll(ctx, 30*time.Second, "the agent's status: NB and SB on connected members", func() (bool, error) {
		used = agentClients(t, ctx, l)
		for _, db := range []string{"NB", "SB"} {
			c := used[db]
			mustLeave := before[db].Remote == partitioned[db]
			if c.Remote == partitioned[db] || c.Model != "clustered" || !c.ClusterConnected || mustLeave && c.Left <= before[db].Left {
				return false, fmt.Errorf("%s: %+v", db, c)
			}
		}
		return true, nil
	}); err != nil {
		t.Error(err)
	}
	if err := members.Heal(ctx, cut); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	for _, db := range []*lab.RaftDB{nb, sb} {
		if err := db.WaitMember(ctx, cut); err != nil {
			t.Fatal(err)
		}
	}
	recoveries = append(recoveries, recovered(t, ctx, l, rec, start, fmt.Sprintf("m%d back in its clusters", cut+1)))
	f := rec.Stop()
	if f.Withdrawals != 0 {
		t.Errorf("the ToRs saw %d withdrawals of wanted prefixes across the leader changes and the partition", f.Withdrawals)
	}
	reportFault(t, recoveries, f, "leaders killed, leaders frozen, the agent's member partitioned: OVN changes seen during each")
}

// logBound waits until OVN has bound port to the compute node in SB (northd and
// ovn-controller's part of the recovery, before the agent can see it) and logs when.
func logBound(t *testing.T, ctx context.Context, l *lab.Lab, port string, since time.Time) {
	t.Helper()
	if err := lab.Poll(ctx, 2*time.Minute, port+" bound to compute-0 in SB", func() (bool, error) {
		c, err := l.PortChassis(ctx, port)
		return c == "compute-0", err
	}); err != nil {
		failWithState(t, l, err)
	}
	t.Logf("%s bound in SB %s after the change started", port, time.Since(since).Round(time.Millisecond))
}

// agentClients reads which server each of the agent's OVSDB clients uses, from /status.
func agentClients(t *testing.T, ctx context.Context, l *lab.Lab) map[string]ovnstate.DBClient {
	t.Helper()
	code, body, err := l.HTTPGet(ctx, compute, agentHTTP+"/status")
	if err != nil || code != http.StatusOK {
		t.Fatalf("agent /status: %d %v", code, err)
	}
	var st metrics.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("agent /status: %v", err)
	}
	out := map[string]ovnstate.DBClient{}
	for _, c := range st.OVNClients {
		out[c.DB] = c
	}
	return out
}
