//go:build privileged

package ovn

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// serveDB runs ovsdb-server on an existing database file, listening on sock.
func serveDB(t testing.TB, dir, name, db, sock string) *lab.Proc {
	t.Helper()
	p, err := lab.StartProc("ovsdb-"+name, "", dir, nil, "ovsdb-server", "--no-chdir",
		"--pidfile="+filepath.Join(dir, name+".pid"), "--unixctl="+filepath.Join(dir, name+".ctl"),
		"--remote=punix:"+sock, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(5 * time.Second) })
	if err := lab.Poll(context.Background(), 10*time.Second, sock, func() (bool, error) {
		_, err := os.Stat(sock)
		return err == nil, err
	}); err != nil {
		t.Fatal(err)
	}
	return p
}

// While NB is down the snapshot is the last complete NB state, marked stale, and comes back
// within the stale deadline; after NB is back (the client purges and refills its cache) the
// snapshot is fresh, complete and sees new rows.
func TestSnapshotDuringNBOutage(t *testing.T) {
	requireOVSDB(t)
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "obgp-ovn-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	nbDB, nbSock := filepath.Join(dir, "nb.db"), filepath.Join(dir, "nb.sock")
	if _, err := lab.Run(ctx, "", nil, "ovsdb-tool", "create", nbDB, "/usr/share/ovn/ovn-nb.ovsschema"); err != nil {
		t.Fatal(err)
	}
	nbProc := serveDB(t, dir, "nb", nbDB, nbSock)
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
	nbctl := func(args ...string) { run(append([]string{"ovn-nbctl", "--db=unix:" + nbSock}, args...)...) }
	nbctl("ls-add", "public")
	for _, p := range []string{"vm1", "vm2", "vm3"} {
		nbctl("lsp-add", "public", p)
	}

	w, err := Connect(ctx, config.Config{OVN: config.OVN{NBConnection: "unix:" + nbSock, OVSConnection: "unix:" + ovs}},
		func(string) {}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ports := func(st ovnstate.State) []string {
		var out []string
		for _, s := range st.Switches {
			for _, p := range s.Ports {
				out = append(out, p.Name)
			}
		}
		return out
	}
	want := []string{"vm1", "vm2", "vm3"}
	st, err := w.Snapshot(ctx)
	if err != nil || !slices.Equal(ports(st), want) || len(st.Stale) != 0 {
		t.Fatalf("snapshot with NB up: ports %v, stale %v, err %v; want %v, not stale", ports(st), st.Stale, err, want)
	}

	if err := nbProc.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := lab.Poll(ctx, 20*time.Second, "a stale NB snapshot", func() (bool, error) {
		start := time.Now()
		st, err := w.Snapshot(ctx)
		if err != nil {
			return false, err
		}
		if took := time.Since(start); took > staleReadAfter+3*time.Second {
			t.Errorf("a snapshot with NB down took %s", took)
		}
		if !slices.Equal(ports(st), want) {
			t.Fatalf("snapshot with NB down: ports %v, want the last complete state %v", ports(st), want)
		}
		return slices.Equal(st.Stale, []string{"NB"}), nil
	}); err != nil {
		t.Fatal(err)
	}

	// NB back, with a row the client has not seen: the reconnect purges and refills.
	serveDB(t, dir, "nb2", nbDB, nbSock)
	nbctl("lsp-add", "public", "vm4")
	want = append(want, "vm4")
	if err := lab.Poll(ctx, 30*time.Second, "a fresh NB snapshot with vm4", func() (bool, error) {
		st, err := w.Snapshot(ctx)
		if err != nil {
			return false, err
		}
		got := ports(st)
		if len(got) < 3 {
			t.Fatalf("snapshot during the NB reconnect lost rows: ports %v", got)
		}
		return len(st.Stale) == 0 && slices.Equal(got, want), nil
	}); err != nil {
		t.Fatal(err)
	}
}
