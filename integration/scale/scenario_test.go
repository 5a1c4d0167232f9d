//go:build scale

package scale

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn/sbdb"
)

// The generated OpenStack-like scenario: N VM ports on one provider network, all bound to
// the compute node, plus routers whose gateway ports are bound there with a few distributed
// floating IPs each, plus event ports that exist in NB but are bound one by one later.
const (
	chassis      = "compute-0" // the compute node's system-id in provider-vm.clab.yml
	provSwitch   = "scale"
	provLocalnet = "provnet-scale"
	provPhysnet  = "physnet1"
	nbChunk      = 500 // commands per ovn-nbctl/ovn-sbctl invocation: keeps argv well under ARG_MAX
)

type scenario struct {
	N, Routers, FIPsPerRouter, Events int
}

// newScenario sizes the routers and FIPs: N/100 routers, at most 10 (each gateway port on the
// N-port provider switch costs ovn-northd O(N): 100 routers at N=10,000 took it past 1.4 GiB
// and minutes), and N/20 floating IPs spread over them.
func newScenario(n, events int) scenario {
	r := min(max(n/100, 1), 10)
	return scenario{N: n, Routers: r, FIPsPerRouter: max(n/20/r, 1), Events: events}
}

// Addresses the agent must put on bgp-nic at cold start: every VM, every router gateway, every FIP.
func (s scenario) Addresses() int { return s.N + s.Routers + s.Routers*s.FIPsPerRouter }

func addrAt(base string, i int) netip.Addr {
	b := netip.MustParseAddr(base).As4()
	v := binary.BigEndian.Uint32(b[:]) + uint32(i)
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

func mac(prefix byte, i int) string {
	return fmt.Sprintf("fa:16:%02x:%02x:%02x:%02x", prefix, byte(i>>16), byte(i>>8), byte(i))
}

// vmIP is the address of provider VM i (events follow the N cold-start VMs).
func vmIP(i int) netip.Addr { return addrAt("100.64.0.10", i) }
func gwIP(r int) netip.Addr { return addrAt("100.120.0.1", r) }
func (s scenario) fipIP(r, k int) netip.Addr {
	return addrAt("100.110.0.1", r*s.FIPsPerRouter+k)
}
func vmPort(i int) string { return fmt.Sprintf("vm%d", i) }

// nbCommands is the whole NB content as ovn-nbctl commands, each a []string to be joined with "--".
func (s scenario) nbCommands() [][]string {
	var c [][]string
	c = append(c,
		[]string{"ls-add", provSwitch}, []string{"set", "logical_switch", provSwitch, `external_ids:"neutron:network_name"=` + provSwitch},
		[]string{"lsp-add", provSwitch, provLocalnet}, []string{"lsp-set-type", provLocalnet, "localnet"},
		[]string{"lsp-set-addresses", provLocalnet, "unknown"}, []string{"lsp-set-options", provLocalnet, "network_name=" + provPhysnet})
	// VM ports with the generic create and one add per chunk: ovn-nbctl's lsp-add rewrites
	// the switch's whole ports column per command, quadratic at 10,000 ports.
	for from := 0; from < s.N+s.Events; from += nbChunk {
		var ids []string
		for i := from; i < min(from+nbChunk, s.N+s.Events); i++ {
			id := fmt.Sprintf("@vm%d", i)
			ids = append(ids, id)
			c = append(c, []string{"--id=" + id, "create", "logical_switch_port", "name=" + vmPort(i),
				fmt.Sprintf(`addresses="%s %s"`, mac(0x3e, i), vmIP(i))})
		}
		c = append(c, append([]string{"add", "logical_switch", provSwitch, "ports"}, ids...))
	}
	for r := 0; r < s.Routers; r++ {
		lr, gw, priv, ls := fmt.Sprintf("sr%d", r), fmt.Sprintf("srgw%d", r), fmt.Sprintf("srpriv%d", r), fmt.Sprintf("sp%d", r)
		c = append(c,
			[]string{"lr-add", lr},
			[]string{"lrp-add", lr, gw, mac(0x01, r), gwIP(r).String() + "/10"},
			[]string{"lrp-set-gateway-chassis", gw, chassis, "100"},
			[]string{"lsp-add", provSwitch, "scale-" + lr}, []string{"lsp-set-type", "scale-" + lr, "router"},
			[]string{"lsp-set-addresses", "scale-" + lr, "router"}, []string{"lsp-set-options", "scale-" + lr, "router-port=" + gw},
			[]string{"ls-add", ls},
			[]string{"lrp-add", lr, priv, mac(0x02, r), fmt.Sprintf("10.%d.%d.1/24", r>>8, r&255)},
			[]string{"lsp-add", ls, ls + "-" + lr}, []string{"lsp-set-type", ls + "-" + lr, "router"},
			[]string{"lsp-set-addresses", ls + "-" + lr, "router"}, []string{"lsp-set-options", ls + "-" + lr, "router-port=" + priv})
		for k := 0; k < s.FIPsPerRouter; k++ {
			p, ip, m := tenantPort(r, k), fmt.Sprintf("10.%d.%d.%d", r>>8, r&255, k+10), mac(0x04, r*s.FIPsPerRouter+k)
			id := fmt.Sprintf("@nat%d_%d", r, k)
			c = append(c,
				[]string{"lsp-add", ls, p}, []string{"lsp-set-addresses", p, m + " " + ip},
				[]string{"--id=" + id, "create", "nat", "type=dnat_and_snat", "external_ip=" + s.fipIP(r, k).String(),
					"logical_ip=" + ip, "logical_port=" + p, `external_mac="` + m + `"`},
				[]string{"add", "logical_router", lr, "nat", id})
		}
	}
	return c
}

func tenantPort(r, k int) string { return fmt.Sprintf("tvm%d-%d", r, k) }

// boundAtStart are the SB logical ports bound to the chassis before the agent starts.
func (s scenario) boundAtStart() []string {
	var ps []string
	for i := 0; i < s.N; i++ {
		ps = append(ps, vmPort(i))
	}
	for r := 0; r < s.Routers; r++ {
		ps = append(ps, fmt.Sprintf("cr-srgw%d", r))
		for k := 0; k < s.FIPsPerRouter; k++ {
			ps = append(ps, tenantPort(r, k))
		}
	}
	return ps
}

// runBulk runs the commands through ctl in chunks, each chunk one invocation (one transaction).
// Commands that create a named row (--id=@x) and the one that uses it must stay in one chunk:
// the chunk boundary only falls before an lsp-add/lr-add/ls-add or a new chunk of VM ports.
func runBulk(ctx context.Context, ctl func(context.Context, ...string) (string, error), cmds [][]string) error {
	var args []string
	n := 0
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		_, err := ctl(ctx, args...)
		args, n = nil, 0
		return err
	}
	for _, c := range cmds {
		if n >= nbChunk && (c[0] == "lsp-add" || c[0] == "lr-add" || c[0] == "ls-add" || vmChunkStart(c[0])) {
			if err := flush(); err != nil {
				return err
			}
		}
		if len(args) > 0 {
			args = append(args, "--")
		}
		args = append(args, c...)
		n++
	}
	return flush()
}

// vmChunkStart reports whether arg creates the first VM port of a chunk (see nbCommands).
func vmChunkStart(arg string) bool {
	i, err := strconv.Atoi(strings.TrimPrefix(arg, "--id=@vm"))
	return err == nil && i%nbChunk == 0
}

// portBindings maps SB logical_port → Port_Binding UUID.
func portBindings(ctx context.Context, l *lab.Lab) (map[string]string, error) {
	out, err := l.SBCtl(ctx, "--format=csv", "--no-headings", "--columns=_uuid,logical_port", "list", "port_binding")
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		uuid, port, ok := strings.Cut(strings.TrimSpace(line), ",")
		if ok {
			m[strings.Trim(port, `"`)] = uuid
		}
	}
	return m, nil
}

// waitBindings waits for northd to have created a Port_Binding for every named port.
func waitBindings(ctx context.Context, l *lab.Lab, ports []string) (map[string]string, error) {
	var pbs map[string]string
	err := lab.Poll(ctx, 10*time.Minute, fmt.Sprintf("%d port bindings from northd", len(ports)), func() (bool, error) {
		var err error
		pbs, err = portBindings(ctx, l)
		if err != nil {
			return false, err
		}
		for _, p := range ports {
			if _, ok := pbs[p]; !ok {
				return false, fmt.Errorf("no Port_Binding for %s yet (%d rows)", p, len(pbs))
			}
		}
		return true, nil
	})
	return pbs, err
}

// bindAll sets Port_Binding.chassis of the ports, what ovn-controller writes when it claims
// a port, in transactions of nbChunk updates by UUID (ovn-sbctl would read the whole table
// per invocation: minutes at 10,000 ports).
func bindAll(ctx context.Context, c client.Client, pbs map[string]string, chassisUUID string, ports []string) error {
	for i := 0; i < len(ports); i += nbChunk {
		var ops []ovsdb.Operation
		for _, p := range ports[i:min(i+nbChunk, len(ports))] {
			ops = append(ops, bindOp(pbs[p], chassisUUID))
		}
		res, err := c.Transact(ctx, ops...)
		if err != nil {
			return err
		}
		if _, err := ovsdb.CheckOperationResults(res, ops); err != nil {
			return err
		}
	}
	return nil
}

// sbClient is a monitor-less SB client for single writes.
func sbClient(ctx context.Context, sock string) (client.Client, error) {
	m, err := sbdb.FullDatabaseModel()
	if err != nil {
		return nil, err
	}
	c, err := client.NewOVSDBClient(m, client.WithEndpoint("unix:"+sock))
	if err != nil {
		return nil, err
	}
	if err := c.Connect(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// bindPort sets one Port_Binding's chassis, as ovn-controller does when it claims a port.
func bindPort(ctx context.Context, c client.Client, pbUUID, chassisUUID string) error {
	op := bindOp(pbUUID, chassisUUID)
	res, err := c.Transact(ctx, op)
	if err != nil {
		return err
	}
	if _, err := ovsdb.CheckOperationResults(res, []ovsdb.Operation{op}); err != nil {
		return err
	}
	if res[0].Count != 1 {
		return fmt.Errorf("bind Port_Binding %s: %d rows updated", pbUUID, res[0].Count)
	}
	return nil
}

func bindOp(pbUUID, chassisUUID string) ovsdb.Operation {
	return ovsdb.Operation{
		Op:    ovsdb.OperationUpdate,
		Table: sbdb.PortBindingTable,
		Where: []ovsdb.Condition{{Column: "_uuid", Function: ovsdb.ConditionEqual, Value: ovsdb.UUID{GoUUID: pbUUID}}},
		Row:   ovsdb.Row{"chassis": ovsdb.UUID{GoUUID: chassisUUID}},
	}
}
