package ovn

import (
	"maps"
	"slices"

	"github.com/ovn-kubernetes/libovsdb/model"
)

// The NB engine's models of its two large tables hold only the columns it monitors: a
// cached row is a struct of every field its model has, read or not, and at 10,000 ports
// per table the generated models' unmonitored fields were 4 MB of empty struct (40 MB at
// 100,000). The columns are those the monitors name (nb.go, watcher.go); a column the
// conversion reads but the monitor leaves out fails TestPlainStateFollowsTheDatabases.
// Each clones itself (libovsdb copies a row when it caches it and when Row hands it out),
// without the JSON round trip libovsdb falls back to.

// bindingRow is a Port_Binding for State.Bindings. datapath and tunnel_key are not
// monitored, but libovsdb's cache reads every column of the table's schema indexes from the
// model (their zero values then).
type bindingRow struct {
	UUID              string   `ovsdb:"_uuid"`
	LogicalPort       string   `ovsdb:"logical_port"`
	Type              string   `ovsdb:"type"`
	Chassis           *string  `ovsdb:"chassis"`
	AdditionalChassis []string `ovsdb:"additional_chassis"`
	RequestedChassis  *string  `ovsdb:"requested_chassis"`
	Datapath          string   `ovsdb:"datapath"`
	TunnelKey         int      `ovsdb:"tunnel_key"`
}

func (r *bindingRow) CloneModel() model.Model {
	c := *r
	c.Chassis = clonePtr(r.Chassis)
	c.RequestedChassis = clonePtr(r.RequestedChassis)
	c.AdditionalChassis = slices.Clone(r.AdditionalChassis)
	return &c
}

func (r *bindingRow) CloneModelInto(m model.Model) { *m.(*bindingRow) = *r.CloneModel().(*bindingRow) }

// lspRow is a Logical_Switch_Port for the switches' port lists.
type lspRow struct {
	UUID        string            `ovsdb:"_uuid"`
	Name        string            `ovsdb:"name"`
	Type        string            `ovsdb:"type"`
	Addresses   []string          `ovsdb:"addresses"`
	Options     map[string]string `ovsdb:"options"`
	ExternalIDs map[string]string `ovsdb:"external_ids"`
	Tag         *int              `ovsdb:"tag"`
}

func (r *lspRow) CloneModel() model.Model {
	c := *r
	c.Addresses = slices.Clone(r.Addresses)
	c.Options = maps.Clone(r.Options)
	c.ExternalIDs = maps.Clone(r.ExternalIDs)
	c.Tag = clonePtr(r.Tag)
	return &c
}

func (r *lspRow) CloneModelInto(m model.Model) { *m.(*lspRow) = *r.CloneModel().(*lspRow) }

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
