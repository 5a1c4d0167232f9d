// Package kernel is the netlink applier: it keeps the addresses the agent
// exposes on the bgp-nic device, so that FRR's `redistribute connected`
// advertises them, and it owns that device (and the optional VRF above it).
//
// Ownership follows docs/architecture.md: every /32 and /128 on the NIC is
// ours; addresses of other prefix lengths, IPv6 link-local addresses and
// everything on other devices belong to someone else and are never touched.
package kernel

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Options says which devices the applier manages.
type Options struct {
	NIC        string // device holding the exposed addresses, e.g. "bgp-nic"
	VRF        string // VRF device the NIC is enslaved to; "" means no VRF
	VRFTableID uint32 // routing table of the VRF; required when VRF is set
	// RouteProtocol marks the routes the agent owns; 0 means DefaultRouteProtocol.
	RouteProtocol uint8
}

// validate is a guard, not a rule set: internal/config validates bgp.nic, bgp.vrf and
// bgp.vrf_table_id, so Options built from a loaded configuration always pass. It keeps
// Options built any other way from touching the wrong device or a reserved table.
func (o Options) validate() error {
	switch {
	case o.NIC == "" || len(o.NIC) >= unix.IFNAMSIZ:
		return fmt.Errorf("kernel applier: NIC %q is not a device name", o.NIC)
	case o.VRF == "":
		return nil
	case o.VRF == o.NIC:
		return fmt.Errorf("kernel applier: VRF %q is the NIC", o.VRF)
	}
	switch o.VRFTableID {
	case unix.RT_TABLE_UNSPEC, unix.RT_TABLE_DEFAULT, unix.RT_TABLE_MAIN, unix.RT_TABLE_LOCAL:
		return fmt.Errorf("kernel applier: VRF %q needs a table of its own, got %d", o.VRF, o.VRFTableID)
	}
	return nil
}

// validIfName applies the kernel's rules for interface names (dev_valid_name) to names that
// come from OVN (provider bridges), which no configuration validates.
func validIfName(name string) error {
	switch {
	case name == "":
		return errors.New("interface name must not be empty")
	case len(name) >= unix.IFNAMSIZ:
		return fmt.Errorf("interface name must be at most %d bytes", unix.IFNAMSIZ-1)
	case name == "." || name == "..":
		return errors.New(`interface name must not be "." or ".."`)
	case strings.ContainsAny(name, "/: \t\n\r\v\f"):
		return errors.New("interface name must not contain '/', ':' or whitespace")
	}
	return nil
}

// Applier syncs the addresses the agent exposes onto the NIC. Its methods
// are safe for concurrent use; they are serialised.
type Applier struct {
	mu sync.Mutex
	h  *netlink.Handle
	// sock is a route socket in h's namespace for the address requests the netlink
	// library cannot build (addr_netlink.go).
	sock *nl.SocketHandle
	dump *dumper        // the read-backs' dumps (dump_netlink.go)
	ns   netns.NsHandle // closed handle: the current namespace
	opts Options
	log  *slog.Logger
	// noIPv6 is what the last pass found: IPv6 disabled on the host, so IPv6 exposures
	// are left out (with one warning) instead of failing on every pass.
	noIPv6 bool

	// addrs mirrors the agent's addresses on the NIC with their metrics (mirror.go);
	// expectLocal, under addrs.mu, counts the local-table insertions the kernel is about to
	// echo for addresses this applier just added (it deletes those entries itself).
	addrs       mirror[netip.Addr, uint32]
	expectLocal map[netip.Addr]int
	// routes mirrors the agent's routes on the NIC; foreign are the prefixes other routes in
	// that table went to at the last read-back.
	routes  mirror[NICRoute, bool]
	foreign map[netip.Prefix]bool
	// lastInstalled and lastRoutes are the last results' Installed (sorted), reused while
	// nothing changes.
	lastInstalled []HostAddr
	lastRoutes    []NICRoute
	// node is the last NodeAddresses result (facts.go).
	node nodeCache
	// batches counts the request batches sent (batch.go): how tests see the batching.
	batches int
	// planned is the last plan Apply made true (addr_plan.go): an event's pass applies only
	// the exposures that differ from it; planPasses counts those passes.
	planned    addrPlan
	planPasses int
}

// HostAddr is an address to expose on the NIC as a /32 or /128, with the route metric
// (IFA_RT_PRIORITY) that tells FRR its exposure kind (frr.KindMetric); 0 means none.
type HostAddr struct {
	Addr   netip.Addr
	Metric uint32
}

func (h HostAddr) String() string { return fmt.Sprintf("%s metric %d", h.Addr, h.Metric) }

// Result reports one Sync pass. All slices are sorted by address.
type Result struct {
	Added   []netip.Addr // put on the NIC in this pass
	Removed []netip.Addr // stale /32 and /128 taken off the NIC in this pass
	// Remetered lists addresses that were on the NIC with another metric than wanted and
	// had it changed in place in this pass (a kind change, or a metric set by someone else).
	Remetered []netip.Addr
	// LocalRoutesDeleted lists exposed addresses whose entry in the kernel
	// local table (255) was deleted in this pass; always empty with a VRF.
	LocalRoutesDeleted []netip.Addr
	// Installed is every /32 and /128 on the NIC after the pass, with its
	// metric, also when Sync returns an error.
	Installed []HostAddr
}

// Changed reports whether the pass modified kernel state.
func (r Result) Changed() bool {
	return len(r.Added)+len(r.Removed)+len(r.Remetered)+len(r.LocalRoutesDeleted) > 0
}

// New returns an applier working in the current network namespace. Close
// releases its netlink sockets.
func New(opts Options, log *slog.Logger) (*Applier, error) {
	return NewAt(netns.None(), opts, log)
}

// NewAt returns an applier working in network namespace ns (netns.None() for the current
// one), whose netlink sockets it opens there. The caller keeps ns open until Close, which
// releases the sockets.
func NewAt(ns netns.NsHandle, opts Options, log *slog.Logger) (*Applier, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	h, sock, err := openNetlink(ns)
	if err != nil {
		return nil, err
	}
	dump, err := newDumper(ns)
	if err != nil {
		h.Close()
		sock.Close()
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Applier{
		h:    h,
		sock: sock,
		dump: dump,
		ns:   ns,
		opts: opts,
		log:  log.With("component", "kernel", "nic", opts.NIC),
	}, nil
}

// openNetlink opens, in network namespace ns (netns.None() for the current one), a netlink
// handle and a raw route socket for the requests the library cannot build.
func openNetlink(ns netns.NsHandle) (*netlink.Handle, *nl.SocketHandle, error) {
	var (
		h   *netlink.Handle
		err error
	)
	if ns.IsOpen() {
		h, err = netlink.NewHandleAt(ns)
	} else {
		h, err = netlink.NewHandle()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open netlink socket: %w", err)
	}
	s, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		h.Close()
		return nil, nil, fmt.Errorf("open netlink socket: %w", err)
	}
	return h, &nl.SocketHandle{Socket: s}, nil
}

// Close releases the netlink sockets. Kernel state is left in place: a
// restart adopts it.
func (a *Applier) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.h != nil {
		a.h.Close()
		a.sock.Close()
		a.dump.close()
		a.h, a.sock, a.dump = nil, nil, nil
	}
}

func (a *Applier) ready() error {
	if a.h == nil {
		return errors.New("kernel applier is closed")
	}
	return nil
}

// dumpAttempts bounds the retries of a netlink dump that the kernel marked
// inconsistent because the table changed while it was being read.
const dumpAttempts = 5

// retryDump runs dump until it completes without "dump interrupted".
func retryDump[T any](what string, dump func() (T, error)) (T, error) {
	var (
		res T
		err error
	)
	for range dumpAttempts {
		res, err = dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		var zero T
		if errors.Is(err, netlink.ErrDumpInterrupted) {
			return zero, fmt.Errorf("%s: still interrupted after %d attempts (state changing too fast), the next pass retries: %w",
				what, dumpAttempts, err)
		}
		return zero, fmt.Errorf("%s: %w", what, err)
	}
	return res, nil
}
