//go:build privileged

package ovn

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// ovsdb starts a real ovsdb-server for schema on a unix socket in dir.
func ovsdb(t testing.TB, dir, name, schema string) string {
	t.Helper()
	sock, _ := createDB(t, dir, name, schema)
	return sock
}

// createDB creates a database of schema and serves it: its socket and its server.
func createDB(t testing.TB, dir, name, schema string) (string, *lab.Proc) {
	t.Helper()
	db := filepath.Join(dir, name+".db")
	if _, err := lab.Run(context.Background(), "", nil, "ovsdb-tool", "create", db, schema); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, name+".sock")
	return sock, serveDB(t, dir, name, db, sock)
}

func requireOVSDB(t testing.TB) {
	if lab.HaveOVN() != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("needs %s (CI=true)", lab.HaveOVN())
		}
		t.Skipf("needs %s (apt-get install ovn-central openvswitch-switch)", lab.HaveOVN())
	}
}

// TestWatcherAgainstRealOVSDB connects to real NB, SB and local OVS databases, with the SB
// remote taken from the local OVS ovn-remote, and checks that the snapshot holds what the
// rows say and that a change triggers.
func TestWatcherAgainstRealOVSDB(t *testing.T) {
	requireOVSDB(t)
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "obgp-ovn-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	nb := ovsdb(t, dir, "nb", "/usr/share/ovn/ovn-nb.ovsschema")
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
		"external_ids:system-id=chassis-a", "external_ids:ovn-remote=unix:"+sb,
		"external_ids:ovn-bridge-mappings=physnet1:br-ex,physnet2:br-vlan")
	nbctl := func(args ...string) { run(append([]string{"ovn-nbctl", "--db=unix:" + nb}, args...)...) }
	nbctl("ls-add", "public")
	nbctl("lsp-add", "public", "ln", "--", "lsp-set-type", "ln", "localnet", "--", "lsp-set-options", "ln", "network_name=physnet1")
	nbctl("lsp-add", "public", "vm1", "--", "lsp-set-addresses", "vm1", "fa:16:3e:00:00:01 172.24.4.10")
	run("ovn-sbctl", "--db=unix:"+sb, "chassis-add", "chassis-a", "geneve", "192.0.2.1")
	// A Port_Binding needs a datapath; northd is not running here, so write both directly.
	dp, err := lab.Run(ctx, "", nil, "ovn-sbctl", "--db=unix:"+sb, "create", "datapath_binding", "tunnel_key=1")
	if err != nil {
		t.Fatal(err)
	}
	ch, _ := lab.Run(ctx, "", nil, "ovn-sbctl", "--db=unix:"+sb, "--bare", "--columns=_uuid", "find", "chassis", "name=chassis-a")
	run("ovn-sbctl", "--db=unix:"+sb, "create", "port_binding", "logical_port=vm1", "tunnel_key=1",
		"datapath="+strings.TrimSpace(dp), "chassis="+strings.TrimSpace(ch))

	var triggers atomic.Int32
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := Connect(ctx, config.Config{OVN: config.OVN{NBConnection: "unix:" + nb, OVSConnection: "unix:" + ovs}},
		func(string) { triggers.Add(1) }, log)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	id, _, err := w.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantID := ovnstate.Identity{Chassis: "chassis-a", OVNRemote: "unix:" + sb,
		BridgeMappings: map[string]string{"physnet1": "br-ex", "physnet2": "br-vlan"}, IntegrationBridge: "br-int"}
	if diff := cmp.Diff(wantID, id, cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})); diff != "" {
		t.Errorf("identity (-want +got):\n%s", diff)
	}
	st, err := w.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Switches) != 1 || len(st.Switches[0].Ports) != 2 {
		t.Fatalf("snapshot switches: %+v", st.Switches)
	}
	if got := st.Switches[0].Ports[1]; got.Name != "vm1" || cmp.Diff([]string{"fa:16:3e:00:00:01 172.24.4.10"}, got.Addresses) != "" {
		t.Errorf("vm1 in snapshot: %+v", got)
	}
	if got := st.Bindings.At("vm1"); got.Chassis != "chassis-a" {
		t.Errorf("vm1 binding: %+v, want chassis-a", got)
	}

	// The provider bridge as ovn-controller leaves it, before ovs-vswitchd has assigned
	// ofports: the patch port is listed, not ready yet.
	run("ovs-vsctl", "--db=unix:"+ovs, "--no-wait", "add-br", "br-ex", "--", "add-port", "br-ex", "patch-ln-to-br-int",
		"--", "set", "interface", "patch-ln-to-br-int", "type=patch", "external_ids:ovn-localnet-port=ln",
		"--", "add-port", "br-ex", "eth9")
	wantBridges := map[string]ovnstate.LocalBridge{"br-ex": {Name: "br-ex", Patches: []ovnstate.LocalPatch{{Name: "patch-ln-to-br-int", Localnet: "ln"}}}}
	if err := lab.Poll(ctx, 10*time.Second, "br-ex in the local bridges", func() (bool, error) {
		got, err := w.LocalBridges(ctx)
		if d := cmp.Diff(wantBridges, got); d != "" {
			return false, fmt.Errorf("(-want +got):\n%s", d)
		}
		return true, err
	}); err != nil {
		t.Fatal(err)
	}

	before := triggers.Load()
	nbctl("lsp-del", "vm1")
	if err := lab.Poll(ctx, 10*time.Second, "a trigger after lsp-del", func() (bool, error) {
		return triggers.Load() > before, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := lab.Poll(ctx, 10*time.Second, "vm1 gone from the snapshot", func() (bool, error) {
		st, err := w.Snapshot(ctx)
		return err == nil && len(st.Switches[0].Ports) == 1, err
	}); err != nil {
		t.Fatal(err)
	}
}

func TestParseBridgeMappings(t *testing.T) {
	for in, want := range map[string]map[string]string{
		"":                              {},
		"physnet1:br-ex":                {"physnet1": "br-ex"},
		" physnet1:br-ex , p2:br-v ,":   {"physnet1": "br-ex", "p2": "br-v"},
		"physnet1:br-ex,physnet1:br-ex": {"physnet1": "br-ex"},
	} {
		got, err := ParseBridgeMappings(in)
		if err != nil || cmp.Diff(want, got) != "" {
			t.Errorf("ParseBridgeMappings(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"physnet1", ":br-ex", "physnet1:", "p:a,p:b",
		// Names that would be sysctl paths for every interface, or another file.
		"physnet1:all", "physnet1:default", "p:br-ex,q:all", "p:../../kernel", "p:br-ex-with-a-long-name"} {
		if _, err := ParseBridgeMappings(in); err == nil {
			t.Errorf("ParseBridgeMappings(%q): want an error", in)
		}
	}
}

func TestIdentityNeedsSystemID(t *testing.T) {
	if _, err := identityFrom(map[string]string{"ovn-bridge-mappings": "physnet1:br-ex"}); err == nil {
		t.Error("want an error without system-id")
	}
}

// TestReadBoundedWhileLocalOVSGone: with the local ovsdb-server gone, libovsdb's List waits
// for the reconnect without end. A pass's read must still return: within staleReadAfter with
// the last identity (marked stale), and at once when the pass's context ends (SIGTERM).
func TestReadBoundedWhileLocalOVSGone(t *testing.T) {
	requireOVSDB(t)
	ctx := context.Background()
	dir := t.TempDir()
	nb := ovsdb(t, dir, "nb", "/usr/share/ovn/ovn-nb.ovsschema")
	sb := ovsdb(t, dir, "sb", "/usr/share/ovn/ovn-sb.ovsschema")
	ovsSock := ovsdb(t, dir, "ovs", "/usr/share/openvswitch/vswitch.ovsschema")
	for _, argv := range [][]string{
		{"ovs-vsctl", "--db=unix:" + ovsSock, "--no-wait", "init"},
		{"ovs-vsctl", "--db=unix:" + ovsSock, "--no-wait", "set", "open_vswitch", ".",
			"external_ids:system-id=chassis-a", "external_ids:ovn-remote=unix:" + sb},
	} {
		if _, err := lab.Run(ctx, "", nil, argv...); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := Connect(ctx, config.Config{OVN: config.OVN{NBConnection: "unix:" + nb, OVSConnection: "unix:" + ovsSock}}, func(string) {}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, _, err := w.Read(ctx); err != nil {
		t.Fatal(err)
	}

	type result struct {
		id   ovnstate.Identity
		st   ovnstate.State
		err  error
		took time.Duration
	}
	read := func(ctx context.Context) <-chan result {
		ch := make(chan result, 1)
		go func() {
			start := time.Now()
			id, st, err := w.Read(ctx)
			if err == nil {
				_, err = w.LocalBridges(ctx)
			}
			ch <- result{id: id, st: st, err: err, took: time.Since(start)}
		}()
		return ch
	}
	wait := func(ch <-chan result) result {
		t.Helper()
		select {
		case r := <-ch:
			return r
		case <-time.After(20 * time.Second):
			t.Fatal("a read of the caches with the local OVS gone did not return within 20 s")
			return result{}
		}
	}

	// Stop the local ovsdb-server (by pid: the one this test started) and read until the
	// client has noticed, which a read reports as stale.
	if _, err := lab.Run(ctx, "", nil, "sh", "-c", "kill $(cat "+filepath.Join(dir, "ovs.pid")+")"); err != nil {
		t.Fatal(err)
	}
	var r result
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if r = wait(read(ctx)); r.err != nil || slices.Contains(r.st.Stale, "OVS") {
			break
		}
	}
	if r.err != nil {
		t.Fatalf("read with the local OVS gone: %v", r.err)
	}
	if r.id.Chassis != "chassis-a" || !slices.Contains(r.st.Stale, "OVS") {
		t.Errorf("read with the local OVS gone: identity %+v, stale %v; want chassis-a from the last read, OVS stale", r.id, r.st.Stale)
	}

	cctx, cancel := context.WithCancel(ctx)
	ch := read(cctx)
	cancel()
	r = wait(ch)
	if r.err == nil || r.took > staleReadAfter {
		t.Errorf("read with a cancelled context: err %v after %v; want the context's error at once", r.err, r.took)
	}
}
