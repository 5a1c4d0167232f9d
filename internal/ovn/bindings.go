package ovn

import (
	"slices"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn/sbdb"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// sbBinding is what State.Bindings needs of a Port_Binding: chassis are still UUIDs,
// resolved to names when the bindings are assembled (a chassis row may arrive after the
// bindings that name it).
type sbBinding struct {
	logicalPort, typ   string
	chassis, requested string
	additional         []string
}

// toSBBinding reads a Port_Binding of either engine's model: the NB engine's bindingRow
// (rows.go) or the SB engine's sbdb.PortBinding.
func toSBBinding(m model.Model) (sbBinding, bool) {
	switch pb := m.(type) {
	case *bindingRow:
		return sbBinding{logicalPort: pb.LogicalPort, typ: pb.Type, chassis: deref(pb.Chassis),
			requested: deref(pb.RequestedChassis), additional: pb.AdditionalChassis}, true
	case *sbdb.PortBinding:
		return sbBinding{logicalPort: pb.LogicalPort, typ: pb.Type, chassis: deref(pb.Chassis),
			requested: deref(pb.RequestedChassis), additional: pb.AdditionalChassis}, true
	}
	return sbBinding{}, false
}

func toChassisName(m model.Model) (string, bool) {
	c, ok := m.(*sbdb.Chassis)
	if !ok {
		return "", false
	}
	return c.Name, true
}

// bindingsState keeps State.Bindings: new Bindings when a binding changed (an edit of the
// last ones, which the State of the last pass and the live-migration handover still hold,
// and which the edit leaves as they were), the same ones otherwise.
type bindingsState struct {
	rows    plainTable[sbBinding]
	chassis plainTable[string] // name by UUID
	out     ovnstate.Bindings
	// delta is how out differs from the map before the last read that changed it; nil
	// after a rebuild.
	delta *ovnstate.BindingsDelta
}

func newBindingsState() *bindingsState {
	return &bindingsState{rows: newPlainTable(toSBBinding), chassis: newPlainTable(toChassisName),
		out: ovnstate.NewBindings(nil)}
}

func (b *bindingsState) read(pbs, chassis *cache.RowCache, dirty map[string]map[string]struct{}, all bool) {
	pbCh, pbFull := b.rows.sync(pbs, dirty[sbdb.PortBindingTable], all)
	chCh, chFull := b.chassis.sync(chassis, dirty[sbdb.ChassisTable], all)
	if pbFull || chFull || len(chCh) > 0 {
		// A chassis changed (rare: a node joined, left or was renamed): resolve every binding.
		b.rebuild()
		return
	}
	if len(pbCh) == 0 {
		return
	}
	delta := &ovnstate.BindingsDelta{From: b.out}
	var remove []string
	set := map[string]ovnstate.PortBinding{}
	for _, c := range pbCh {
		if c.hadOld {
			remove = append(remove, c.old.logicalPort)
			delta.Ports = append(delta.Ports, c.old.logicalPort)
		}
		if c.has {
			set[c.new.logicalPort] = b.resolve(c.new)
			if !c.hadOld || c.new.logicalPort != c.old.logicalPort {
				delta.Ports = append(delta.Ports, c.new.logicalPort)
			}
		}
	}
	b.delta = delta
	// Edit removes before it sets: logical_port is unique, but one transaction may move a
	// name from one row to another.
	b.out = b.out.Edit(remove, set)
}

func (b *bindingsState) rebuild() {
	b.delta = nil // every binding may have changed
	out := make(map[string]ovnstate.PortBinding, len(b.rows.rows))
	for _, r := range b.rows.rows {
		out[r.logicalPort] = b.resolve(r)
	}
	b.out = ovnstate.NewBindings(out)
}

func (b *bindingsState) resolve(r sbBinding) ovnstate.PortBinding {
	pb := ovnstate.PortBinding{LogicalPort: r.logicalPort, Type: r.typ,
		Chassis: b.chassis.rows[r.chassis], RequestedChassis: b.chassis.rows[r.requested]}
	for _, u := range r.additional {
		if n := b.chassis.rows[u]; n != "" {
			pb.AdditionalChassis = append(pb.AdditionalChassis, n)
		}
	}
	slices.Sort(pb.AdditionalChassis)
	return pb
}
