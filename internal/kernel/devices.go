package kernel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// UnsupportedLinkKindError reports that the running kernel cannot create a
// link of the kind the agent needs (its module is missing or not loadable).
type UnsupportedLinkKindError struct {
	What   string // what was being created, e.g. "bgp-nic" or "VRF bgp-vrf"
	Kind   string // link kind, also the module name: "dummy", "vrf"
	Advice string // what the operator can do instead
	Err    error  // the kernel's answer
}

func (e *UnsupportedLinkKindError) Error() string {
	return fmt.Sprintf("create %s: the kernel has no %q link type (module %s); %s: %v",
		e.What, e.Kind, e.Kind, e.Advice, e.Err)
}

func (e *UnsupportedLinkKindError) Unwrap() error { return e.Err }

// linkKindUnsupported recognises the kernel's answer to RTM_NEWLINK for a
// kind it has no rtnl_link_ops for: EOPNOTSUPP, with the extended ack
// "Unknown device type" (what `ip link add` prints).
func linkKindUnsupported(err error) bool {
	if errors.Is(err, unix.EOPNOTSUPP) {
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "not supported") || strings.Contains(msg, "unknown device type")
}

// EnsureDevices makes the NIC (and the VRF, when configured) exist and be up.
// An existing NIC is adopted whatever its link kind; a dummy is created only
// when there is none. An existing VRF device must be a vrf using VRFTableID.
// It never deletes or recreates a device, so addresses already on the NIC
// survive (a restart withdraws nothing).
func (a *Applier) EnsureDevices(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.ready(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	nic, err := a.ensureLink(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: a.opts.NIC}},
		a.opts.NIC, "create "+a.opts.NIC+" yourself (any link kind) or load the module")
	if err != nil {
		return err
	}
	if a.opts.VRF != "" {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := a.ensureVRF(nic); err != nil {
			return err
		}
	}
	return a.ensureUp(nic)
}

// ensureLink returns the link named like want, creating want if none exists.
func (a *Applier) ensureLink(want netlink.Link, what, advice string) (netlink.Link, error) {
	name := want.Attrs().Name
	link, err := a.h.LinkByName(name)
	if err == nil {
		return link, nil
	}
	var notFound netlink.LinkNotFoundError
	if !errors.As(err, &notFound) {
		return nil, fmt.Errorf("look up %s: %w", name, err)
	}
	if err := a.h.LinkAdd(want); err != nil {
		if linkKindUnsupported(err) {
			return nil, &UnsupportedLinkKindError{What: what, Kind: want.Type(), Advice: advice, Err: err}
		}
		return nil, fmt.Errorf("create %s (%s): %w", what, want.Type(), err)
	}
	a.log.Info("created device", "dev", name, "kind", want.Type())
	link, err = a.h.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("look up %s after creating it: %w", name, err)
	}
	return link, nil
}

func (a *Applier) ensureVRF(nic netlink.Link) error {
	name := a.opts.VRF
	link, err := a.ensureLink(&netlink.Vrf{LinkAttrs: netlink.LinkAttrs{Name: name}, Table: a.opts.VRFTableID},
		"VRF "+name, `load the module or set bgp.vrf to "" to run without a VRF`)
	if err != nil {
		return err
	}
	vrf, ok := link.(*netlink.Vrf)
	if !ok {
		return fmt.Errorf("VRF %s: a device of that name exists but is a %s, not a vrf: rename or delete it, or configure another bgp.vrf",
			name, link.Type())
	}
	if vrf.Table != a.opts.VRFTableID {
		return fmt.Errorf("VRF %s: the existing device uses table %d but the configuration says %d: fix bgp.vrf_table_id or delete the device",
			name, vrf.Table, a.opts.VRFTableID)
	}
	if err := a.ensureUp(vrf); err != nil {
		return err
	}
	if nic.Attrs().MasterIndex == vrf.Attrs().Index {
		return nil
	}
	if err := a.h.LinkSetMasterByIndex(nic, vrf.Attrs().Index); err != nil {
		return fmt.Errorf("enslave %s to VRF %s: %w", nic.Attrs().Name, name, err)
	}
	a.log.Info("enslaved device to VRF", "dev", nic.Attrs().Name, "vrf", name, "table", a.opts.VRFTableID)
	return nil
}

func (a *Applier) ensureUp(link netlink.Link) error {
	if link.Attrs().Flags&net.FlagUp != 0 {
		return nil
	}
	if err := a.h.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %s up: %w", link.Attrs().Name, err)
	}
	a.log.Info("set device up", "dev", link.Attrs().Name)
	return nil
}
