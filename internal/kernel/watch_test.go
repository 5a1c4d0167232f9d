//go:build privileged

package kernel

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

func TestWatchTriggersWhenOwnedStateIsDeleted(t *testing.T) {
	t.Parallel()
	ns, name, h := newNamedNetns(t)
	ipIn(t, name, "link", "set", "lo", "up")
	addBridge(t, h, "bgp-nic", true)
	addBridge(t, h, "br-ex", true)
	ipIn(t, name, "addr", "add", "172.24.4.10/32", "dev", "bgp-nic")
	ipIn(t, name, "route", "add", "172.24.4.10/32", "dev", "br-ex", "table", "3000", "proto", "149")
	ipIn(t, name, "neigh", "add", "172.24.4.1", "lladdr", "fa:16:3e:00:00:01", "dev", "br-ex", "nud", "permanent", "proto", "149")
	ipIn(t, name, "neigh", "add", "172.24.4.2", "lladdr", "fa:16:3e:00:00:02", "dev", "br-ex", "nud", "permanent") // foreign

	reasons := startWatch(t, ns, name, WatchOptions{Netns: ns, RouteProtocol: 149})
	// expect runs the ip commands and waits for a trigger mentioning what.
	expect := func(what string, cmds ...[]string) {
		t.Helper()
		for len(reasons) > 0 {
			<-reasons
		}
		for _, cmd := range cmds {
			ipIn(t, name, cmd...)
		}
		deadline := time.After(2 * time.Second)
		for {
			select {
			case r := <-reasons:
				if strings.Contains(r, "172.24.4.2 ") || strings.HasSuffix(r, "172.24.4.2") {
					t.Errorf("a foreign neighbour's deletion triggered: %s", r)
				}
				if strings.Contains(r, what) {
					return
				}
			case <-deadline:
				t.Fatalf("no trigger mentioning %q after ip %q", what, cmds)
			}
		}
	}
	expect("route 172.24.4.10/32 deleted from table 3000", []string{"route", "del", "172.24.4.10/32", "table", "3000"})
	// Events arrive in order: a trigger for the foreign entry would come before ours.
	expect("neighbour 172.24.4.1 deleted", []string{"neigh", "del", "172.24.4.2", "dev", "br-ex"},
		[]string{"neigh", "del", "172.24.4.1", "dev", "br-ex"})
	expect("address 172.24.4.10/32 deleted", []string{"addr", "del", "172.24.4.10/32", "dev", "bgp-nic"})
	expect("local-table entry for 172.24.4.11/32 inserted", []string{"addr", "add", "172.24.4.11/32", "dev", "bgp-nic"})
}

// startWatch runs Watch in ns (named name) until the test ends, and returns its triggers once
// its subscriptions are up (an unrelated change is seen).
func startWatch(t *testing.T, ns netns.NsHandle, name string, o WatchOptions) chan string {
	t.Helper()
	reasons := make(chan string, 256)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		Watch(ctx, o, func(r string) { reasons <- r }, testLogger(t))
		close(stopped)
	}()
	t.Cleanup(func() { cancel(); <-stopped })
	probes := 0
	waitFor(t, "the watcher to see a new device", func() bool {
		probes++
		ipIn(t, name, "link", "add", fmt.Sprintf("probe%d", probes), "type", "bridge")
		select {
		case r := <-reasons:
			return strings.Contains(r, "device")
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
	return reasons
}

// waitTrigger waits for a trigger mentioning what, dropping the others.
func waitTrigger(t *testing.T, reasons <-chan string, what string) {
	t.Helper()
	waitFor(t, "a trigger mentioning "+what, func() bool {
		select {
		case r := <-reasons:
			return strings.Contains(r, what)
		default:
			return false
		}
	})
}

// waitTriggers waits for a trigger mentioning each of whats, in any order, dropping the others.
func waitTriggers(t *testing.T, reasons <-chan string, whats ...string) {
	t.Helper()
	left := slices.Clone(whats)
	waitFor(t, fmt.Sprintf("triggers mentioning %q", whats), func() bool {
		select {
		case r := <-reasons:
			left = slices.DeleteFunc(left, func(w string) bool { return strings.Contains(r, w) })
		default:
		}
		return len(left) == 0
	})
}
