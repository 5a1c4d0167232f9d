//go:build scale

package scale

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

// floor is the kernel's own cost for the objects the agent installs, added with `ip -batch` in
// a fresh namespace: addresses on one bridge, ip rules, and scope-link routes in one table.
type floor struct{ Addrs, Rules, Routes time.Duration }

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
		start := time.Now()
		if _, err := lab.Run(ctx, ns, nil, "ip", "-batch", file); err != nil {
			return f, err
		}
		*step.out = time.Since(start)
	}
	return f, nil
}
