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

func (o Options) validate() error {
	if err := validIfName(o.NIC); err != nil {
		return fmt.Errorf("bgp.nic %q: %w", o.NIC, err)
	}
	if o.VRF == "" {
		return nil
	}
	if err := validIfName(o.VRF); err != nil {
		return fmt.Errorf("bgp.vrf %q: %w", o.VRF, err)
	}
	if o.VRF == o.NIC {
		return fmt.Errorf("bgp.vrf %q: must differ from bgp.nic", o.VRF)
	}
	switch o.VRFTableID {
	case unix.RT_TABLE_UNSPEC, unix.RT_TABLE_DEFAULT, unix.RT_TABLE_MAIN, unix.RT_TABLE_LOCAL:
		return fmt.Errorf("bgp.vrf_table_id for VRF %q must be 1..4294967295 and not 253, 254 or 255 (reserved by the kernel), got %d",
			o.VRF, o.VRFTableID)
	}
	return nil
}

// validIfName applies the kernel's rules for interface names (dev_valid_name).
func validIfName(name string) error {
	switch {
	case name == "":
		return errors.New("interface name must not be empty")
	case len(name) >= unix.IFNAMSIZ:
		return fmt.Errorf("interface name must be at most %d bytes", unix.IFNAMSIZ-1)
	case name == "." || name == "..":
		return errors.New("interface name must not be . or ..")
	case strings.ContainsAny(name, "/: \t\n\r\v\f"):
		return errors.New("interface name must not contain '/', ':' or whitespace")
	}
	return nil
}

// Applier syncs the addresses the agent exposes onto the NIC. Its methods
// are safe for concurrent use; they are serialised.
type Applier struct {
	mu      sync.Mutex
	h       *netlink.Handle
	ownsH   bool // h was opened by New and is closed by Close
	opts    Options
	optsErr error
	log     *slog.Logger
}

// Result reports one Sync pass. All slices are sorted.
type Result struct {
	Added   []netip.Addr // put on the NIC in this pass
	Removed []netip.Addr // stale /32 and /128 taken off the NIC in this pass
	// LocalRoutesDeleted lists exposed addresses whose entry in the kernel
	// local table (255) was deleted in this pass; always empty with a VRF.
	LocalRoutesDeleted []netip.Addr
	// Installed is every /32 and /128 on the NIC after the pass, also when
	// Sync returns an error.
	Installed []netip.Addr
}

// Changed reports whether the pass modified kernel state.
func (r Result) Changed() bool {
	return len(r.Added)+len(r.Removed)+len(r.LocalRoutesDeleted) > 0
}

// New returns an applier working in the current network namespace. Close
// releases its netlink sockets.
func New(opts Options, log *slog.Logger) (*Applier, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("open netlink socket: %w", err)
	}
	a := NewWithHandle(h, opts, log)
	a.ownsH = true
	return a, nil
}

// NewWithHandle returns an applier that works through h, which may be open
// in another network namespace (netlink.NewHandleAt). The caller keeps
// ownership of h. Invalid options are reported by the first method called.
func NewWithHandle(h *netlink.Handle, opts Options, log *slog.Logger) *Applier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Applier{
		h:       h,
		opts:    opts,
		optsErr: opts.validate(),
		log:     log.With("component", "kernel", "nic", opts.NIC),
	}
}

// Close releases the netlink handle if New opened it. Kernel state is left
// in place: a restart adopts it.
func (a *Applier) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ownsH && a.h != nil {
		a.h.Close()
		a.h = nil
	}
}

func (a *Applier) ready() error {
	if a.optsErr != nil {
		return a.optsErr
	}
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
