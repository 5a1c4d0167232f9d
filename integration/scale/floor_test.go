//go:build scale

package scale

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

// floor is the kernel's own cost for the objects the agent installs, added with `ip -batch` in
// a fresh namespace: addresses on one bridge, ip rules, and scope-link routes in one table.
type floor struct {
	Addrs, Rules, Routes time.Duration
	// CPU is ip's own (user+system) over the three: its requests' kernel work is its system
	// time, so against the agent's CPU it compares the work and not the load.
	CPU time.Duration
}

func (f floor) Total() time.Duration { return f.Addrs + f.Rules + f.Routes }

func measureFloor(ctx context.Context, dir string, addrs, rules, routes int) (floor, error) {
	ns := fmt.Sprintf("obscale%d", os.Getpid())
	if err := lab.AddNetns(ctx, ns); err != nil {
		return floor{}, err
	}
	defer lab.DelNetns(context.Background(), ns)
	for _, dev := range []string{"bgp-nic", "br-ex"} {
		if _, err := lab.Run(ctx, ns, nil, "ip", "link", "add", dev, "type", "bridge"); err != nil {
			return floor{}, err
		}
		if _, err := lab.Run(ctx, ns, nil, "ip", "link", "set", dev, "up"); err != nil {
			return floor{}, err
		}
	}
	var f floor
	for _, step := range []struct {
		name string
		n    int
		line func(i int) string
		out  *time.Duration
	}{
		{"addrs", addrs, func(i int) string { return fmt.Sprintf("addr add %s/32 dev bgp-nic", vmIP(i)) }, &f.Addrs},
		{"rules", rules, func(i int) string {
			return fmt.Sprintf("rule add to %s/32 lookup 3000 priority 2000", vmIP(i))
		}, &f.Rules},
		{"routes", routes, func(i int) string {
			return fmt.Sprintf("route add %s/32 dev br-ex table 3000 scope link proto 201", vmIP(i))
		}, &f.Routes},
	} {
		var b strings.Builder
		for i := 0; i < step.n; i++ {
			b.WriteString(step.line(i))
			b.WriteByte('\n')
		}
		file := filepath.Join(dir, "floor-"+step.name)
		if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
			return f, err
		}
		start, cpu0 := time.Now(), childCPU()
		if _, err := lab.Run(ctx, ns, nil, "ip", "-batch", file); err != nil {
			return f, err
		}
		*step.out = time.Since(start)
		f.CPU += childCPU() - cpu0
	}
	return f, nil
}

// measureFloorBeside is the floor measured in the compute node's own namespace before the
// agent starts, with the node's daemons there (zebra and bgpd see every address, ovs-vswitchd
// follows the routing table): the same objects on a bridge of their own (floor-nic), rules at
// priority 2001 into table 3900 and routes through floor-nic in that table, none of them the
// agent's. It is an extra column beside the floor (a fresh namespace): what the kernel
// and the node's daemons cost together for what the agent adds. Everything is removed again,
// and the daemons are let settle, before the agent starts.
func measureFloorBeside(ctx context.Context, l *lab.Lab, dir string, addrs, rules, routes int) (floor, error) {
	ns := l.Node("compute").Netns
	if _, err := lab.Run(ctx, ns, nil, "ip", "link", "add", "floor-nic", "type", "bridge"); err != nil {
		return floor{}, err
	}
	if _, err := lab.Run(ctx, ns, nil, "ip", "link", "set", "floor-nic", "up"); err != nil {
		return floor{}, err
	}
	var f floor
	steps := []struct {
		name      string
		n         int
		add, undo func(i int) string
		out       *time.Duration
	}{
		{"addrs", addrs, func(i int) string { return fmt.Sprintf("addr add %s/32 dev floor-nic", vmIP(i)) }, nil, &f.Addrs},
		{"rules", rules, func(i int) string { return fmt.Sprintf("rule add to %s/32 lookup 3900 priority 2001", vmIP(i)) },
			func(i int) string { return fmt.Sprintf("rule del to %s/32 lookup 3900 priority 2001", vmIP(i)) }, &f.Rules},
		{"routes", routes, func(i int) string {
			return fmt.Sprintf("route add %s/32 dev floor-nic table 3900 scope link proto 202", vmIP(i))
		}, nil, &f.Routes},
	}
	write := func(name string, n int, line func(int) string) (string, error) {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteString(line(i))
			b.WriteByte('\n')
		}
		file := filepath.Join(dir, name)
		return file, os.WriteFile(file, []byte(b.String()), 0o644)
	}
	var measureErr error
	for _, step := range steps {
		file, err := write("beside-"+step.name, step.n, step.add)
		if err != nil {
			measureErr = err
			break
		}
		start, cpu0 := time.Now(), childCPU()
		if _, err := lab.Run(ctx, ns, nil, "ip", "-batch", file); err != nil {
			measureErr = err
			break
		}
		*step.out = time.Since(start)
		f.CPU += childCPU() - cpu0
	}
	// Clean up whatever got in, also after a failure: the device takes its addresses, their
	// local entries and the routes through it with it; the rules go one by one.
	errs := []error{measureErr}
	if _, err := lab.Run(ctx, ns, nil, "ip", "link", "del", "floor-nic"); err != nil {
		errs = append(errs, err)
	}
	if file, err := write("beside-undo-rules", rules, steps[1].undo); err != nil {
		errs = append(errs, err)
	} else if _, err := lab.Run(ctx, ns, nil, "ip", "-force", "-batch", file); err != nil && measureErr == nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return f, err
	}
	// The daemons work through the removals: wait until they use under 20 ms of CPU a second.
	last, lastAt := -1.0, time.Now()
	err := lab.Poll(ctx, 5*time.Minute, "the node's daemons to settle after the floor", func() (bool, error) {
		if time.Since(lastAt) < time.Second && last >= 0 {
			return false, nil
		}
		sum := 0.0
		for _, v := range nsCPU(ns, 0) {
			sum += v
		}
		quiet := last >= 0 && sum-last < 0.02*time.Since(lastAt).Seconds()
		last, lastAt = sum, time.Now()
		return quiet, nil
	})
	return f, err
}
