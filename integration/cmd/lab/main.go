// Command lab runs a containerlab topology of the integration lab on this machine with
// network namespaces, for `make lab`: OVN, OVS, FRR and the agent, plus an OpenStack-like
// OVN setup with one VM on the provider network. It prints the ToR's BGP table once the
// VM's /32 arrives and stays up until interrupted; then everything is removed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

func main() {
	topo := flag.String("topology", "deploy/containerlab/provider-vm.clab.yml", "containerlab topology file")
	agent := flag.String("agent", "bin/ovn-bgp-agent", "agent binary")
	flag.Parse()
	if err := run(*topo, *agent); err != nil {
		fmt.Fprintln(os.Stderr, "lab:", err)
		os.Exit(1)
	}
}

func run(topo, agent string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	l, err := lab.Start(ctx, lab.Options{Topology: topo, AgentBinary: agent, Log: os.Stdout})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("stopping the lab and removing everything it created")
		if err := l.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "lab cleanup:", err)
		}
	}()
	if err := l.SetupOpenStack(ctx); err != nil {
		return err
	}
	const vm, vmIP = "vm1", "172.24.4.10"
	if err := l.AddVMPort(ctx, lab.ProviderSwitch, vm, "fa:16:3e:11:11:11", vmIP); err != nil {
		return err
	}
	if err := l.PlugVM(ctx, "compute", vm); err != nil {
		return err
	}
	if err := l.StartAgent(ctx, "compute"); err != nil {
		return err
	}
	fmt.Printf("waiting for %s/32 at the ToR...\n", vmIP)
	start := time.Now()
	err = lab.Poll(ctx, 60*time.Second, vmIP+"/32 at the ToR", func() (bool, error) {
		r, err := l.BGPRoutes(ctx, "tor", "ipv4")
		// Best, not just received: bgpd runs best-path selection a moment after a path arrives.
		for _, p := range r[vmIP+"/32"] {
			if p.Best {
				return true, nil
			}
		}
		return false, err
	})
	if err != nil {
		fmt.Println(l.Logs())
		return err
	}
	out, _ := l.Node("tor").FRR.Vtysh(ctx, "show bgp ipv4 unicast")
	fmt.Printf("\nToR BGP table (%s/32 arrived %.1fs after the agent started):\n%s\n", vmIP, time.Since(start).Seconds(), out)
	var names []string
	for _, n := range []string{"central", "compute", "tor"} {
		if node := l.Node(n); node != nil {
			names = append(names, fmt.Sprintf("  ip netns exec %s bash   # %s", node.Netns, n))
		}
	}
	sort.Strings(names)
	fmt.Println("Explore:")
	for _, n := range names {
		fmt.Println(n)
	}
	fmt.Printf("  vtysh -N %s            # the ToR's FRR\n", l.Node("tor").FRR.Name)
	fmt.Printf("  vtysh -N %s            # the compute node's FRR\n", l.Node("compute").FRR.Name)
	fmt.Printf("  ip netns exec %s %s status   # the agent's own view\n", l.Node("compute").Netns, agent)
	fmt.Printf("  logs in %s\n", l.Dir)
	fmt.Println("Press Ctrl-C to stop.")
	<-ctx.Done()
	return nil
}
