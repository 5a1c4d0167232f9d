//go:build privileged

package kernel

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The route subscription is sent only the notifications the watcher acts on: a route of the
// agent's protocol deleted and a local-table entry inserted. Zebra's routes (another
// protocol), the agent's own route adds and the kernel's local-entry deletions never reach
// the agent: the kernel's filter drops them.
func TestRouteSubscriptionGetsOnlyWhatTheWatcherActsOn(t *testing.T) {
	t.Parallel()
	ns, name, h := newNamedNetns(t)
	ipIn(t, name, "link", "set", "lo", "up")
	addBridge(t, h, "br-ex", true)
	ch := make(chan routeNote, 4096)
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	errc := make(chan error, 1)
	if err := subscribe(ns, routeNoteFilter(149), parseRouteNote, ch, done, func(err error) { errc <- err },
		unix.RTNLGRP_IPV4_ROUTE, unix.RTNLGRP_IPV6_ROUTE); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := range 200 { // a BGP daemon's routes
		fmt.Fprintf(&b, "route add 10.1.%d.0/24 dev br-ex table 100 proto 186\n", i)
	}
	b.WriteString("route add 10.2.0.0/24 dev br-ex table 3000 proto 149\n") // the agent's own add
	b.WriteString("route add 10.2.1.0/24 dev br-ex table 3000 proto 149\n")
	b.WriteString("route del 10.2.0.0/24 dev br-ex table 3000 proto 149\n") // deleted: sent
	b.WriteString("addr add 10.3.0.1/32 dev br-ex\n")                       // local entry inserted: sent
	b.WriteString("route del 10.3.0.1/32 dev br-ex table local\n")          // the kernel's deleted: not sent
	b.WriteString("route del 10.2.1.0/24 dev br-ex table 3000\n")           // deleted: sent
	file := filepath.Join(t.TempDir(), "batch")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ipIn(t, name, "-batch", file)
	want := []string{
		"deleted proto 149 10.2.0.0/24 table 3000",
		"added proto 2 10.3.0.1/32 table 255",
		"deleted proto 149 10.2.1.0/24 table 3000",
	}
	for i, w := range want {
		select {
		case n := <-ch:
			verb := "added"
			if n.deleted {
				verb = "deleted"
			}
			if got := fmt.Sprintf("%s proto %d %s table %d", verb, n.proto, n.dst, n.table); got != w {
				t.Fatalf("notification %d: %s, want %s", i, got, w)
			}
		case err := <-errc:
			t.Fatalf("subscription: %v", err)
		case <-time.After(5 * time.Second):
			t.Fatalf("no notification %d (%s) within 5 s", i, w)
		}
	}
}

// A route note carries every field the wiring's mirror compares: the deletion of one of the
// wiring's onlink routes through a gateway, as the kernel reports it, is that route's event
// (else the watcher takes the agent's own deletion for drift and reads everything back).
func TestRouteNoteCarriesTheWiringsRoute(t *testing.T) {
	t.Parallel()
	ns, name, h := newNamedNetns(t)
	ipIn(t, name, "link", "set", "lo", "up")
	addBridge(t, h, "br-ex", true)
	br, err := h.LinkByName("br-ex")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan routeNote, 16)
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	errc := make(chan error, 1)
	if err := subscribe(ns, routeNoteFilter(149), parseRouteNote, ch, done, func(err error) { errc <- err },
		unix.RTNLGRP_IPV4_ROUTE, unix.RTNLGRP_IPV6_ROUTE); err != nil {
		t.Fatal(err)
	}
	ipIn(t, name, "route", "add", "172.24.4.50/32", "via", "172.24.4.1", "dev", "br-ex", "onlink", "table", "3000", "proto", "149", "metric", "7")
	ipIn(t, name, "route", "del", "172.24.4.50/32", "table", "3000")
	want := event{kind: evRouteDeleted, index: br.Attrs().Index, dst: netip.MustParsePrefix("172.24.4.50/32"), table: 3000,
		metric: 7, via: netip.MustParseAddr("172.24.4.1"), onlink: true}
	select {
	case n := <-ch:
		if got := n.event(); !n.deleted || got != want {
			t.Fatalf("note %+v (deleted %v) judged as %+v, want %+v", n, n.deleted, got, want)
		}
	case err := <-errc:
		t.Fatalf("subscription: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no notification within 5 s")
	}
}
