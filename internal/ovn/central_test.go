//go:build privileged

package ovn

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

// central is a real OVN central for component tests: NB and SB ovsdb-servers, ovn-northd
// between them, and the node's local OVS database naming node-a with its bridge mapping
// physnet1:br-ex. Everything it starts and creates is gone when the test ends.
type central struct {
	t           testing.TB
	ctx         context.Context
	dir         string
	nb, sb, ovs string               // the servers' sockets
	dbs         map[string]*lab.Proc // "nb", "sb": the servers, for tests that restart them
	northd      *lab.Proc
}

func newCentral(t testing.TB, ctx context.Context) *central {
	t.Helper()
	requireOVSDB(t)
	dir, err := os.MkdirTemp("", "obgp-central-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c := &central{t: t, ctx: ctx, dir: dir, dbs: map[string]*lab.Proc{}}
	c.nb, c.dbs["nb"] = createDB(t, dir, "nb", "/usr/share/ovn/ovn-nb.ovsschema")
	c.sb, c.dbs["sb"] = createDB(t, dir, "sb", "/usr/share/ovn/ovn-sb.ovsschema")
	c.ovs = ovsdb(t, dir, "ovs", "/usr/share/openvswitch/vswitch.ovsschema")
	c.startNorthd()
	c.run("ovs-vsctl", "--db=unix:"+c.ovs, "--no-wait", "init")
	c.run("ovs-vsctl", "--db=unix:"+c.ovs, "--no-wait", "set", "open_vswitch", ".",
		"external_ids:system-id=node-a", "external_ids:ovn-remote=unix:"+c.sb, "external_ids:ovn-bridge-mappings=physnet1:br-ex")
	return c
}

// startNorthd starts ovn-northd on the central's databases (again, after a test stopped it).
func (c *central) startNorthd() {
	c.t.Helper()
	p, err := lab.StartProc("northd", "", c.dir, nil, "ovn-northd", "--no-chdir",
		"--pidfile="+filepath.Join(c.dir, "northd.pid"), "--unixctl="+filepath.Join(c.dir, "northd.ctl"),
		"--ovnnb-db=unix:"+c.nb, "--ovnsb-db=unix:"+c.sb)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { p.Stop(5 * time.Second) })
	c.northd = p
}

// run runs a command and returns its trimmed output; a failure ends the test.
func (c *central) run(argv ...string) string {
	c.t.Helper()
	out, err := lab.Run(c.ctx, "", nil, argv...)
	if err != nil {
		c.t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

func (c *central) nbctl(args ...string) string {
	c.t.Helper()
	return c.run(append([]string{"ovn-nbctl", "--db=unix:" + c.nb}, args...)...)
}

func (c *central) sbctl(args ...string) string {
	c.t.Helper()
	return c.run(append([]string{"ovn-sbctl", "--db=unix:" + c.sb}, args...)...)
}

// neutronTopology writes what neutron writes for a provider network "public" (physnet1), a
// router with its gateway there, hosted on node-a, and a tenant network "private"; the
// provider VMs given (name → "MAC IP"), a tenant VM vmA, a distributed and a centralized
// floating IP and an Octavia-style load balancer with a provider VIP. Chassis node-a and
// node-b exist; nothing is bound.
func (c *central) neutronTopology(providerVMs ...[2]string) {
	c.t.Helper()
	cmds := [][]string{
		{"ls-add", "public"},
		{"lsp-add", "public", "provnet-public", "--", "lsp-set-type", "provnet-public", "localnet", "--", "lsp-set-addresses", "provnet-public", "unknown",
			"--", "lsp-set-options", "provnet-public", "network_name=physnet1"},
		{"lr-add", "router1"},
		{"lrp-add", "router1", "lrp-gw", "fa:16:3e:00:00:01", "172.24.4.1/24"},
		{"lsp-add", "public", "public-router1", "--", "lsp-set-type", "public-router1", "router", "--", "lsp-set-addresses", "public-router1", "router",
			"--", "lsp-set-options", "public-router1", "router-port=lrp-gw", "nat-addresses=router"},
		{"ls-add", "private"},
		{"lrp-add", "router1", "lrp-private", "fa:16:3e:00:00:02", "10.0.0.1/24"},
		{"lsp-add", "private", "private-router1", "--", "lsp-set-type", "private-router1", "router", "--", "lsp-set-addresses", "private-router1", "router",
			"--", "lsp-set-options", "private-router1", "router-port=lrp-private"},
	}
	for _, vm := range providerVMs {
		cmds = append(cmds, []string{"lsp-add", "public", vm[0], "--", "lsp-set-addresses", vm[0], vm[1]})
	}
	cmds = append(cmds,
		[]string{"lsp-add", "private", "vmA", "--", "lsp-set-addresses", "vmA", "fa:16:3e:aa:00:01 10.0.0.5"},
		[]string{"--id=@nat", "create", "nat", "type=dnat_and_snat", "external_ip=172.24.4.100", "logical_ip=10.0.0.5", "logical_port=vmA",
			`external_mac="fa:16:3e:aa:00:01"`, "--", "add", "logical_router", "router1", "nat", "@nat"},
		[]string{"lr-nat-add", "router1", "dnat_and_snat", "172.24.4.102", "10.0.0.7"},
		[]string{"lb-add", "lb1", "172.24.4.50:80", "10.0.0.5:80", "tcp"},
		[]string{"lr-lb-add", "router1", "lb1"},
		[]string{"ls-lb-add", "private", "lb1"},
	)
	for _, cmd := range cmds {
		c.nbctl(cmd...)
	}
	c.sbctl("chassis-add", "node-a", "geneve", "192.0.2.1")
	c.sbctl("chassis-add", "node-b", "geneve", "192.0.2.2")
	c.nbctl("lrp-set-gateway-chassis", "lrp-gw", "node-a", "100")
	c.nbctl("--wait=sb", "sync")
}
