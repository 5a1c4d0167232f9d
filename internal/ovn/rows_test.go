package ovn

import (
	"reflect"
	"testing"

	"github.com/ovn-kubernetes/libovsdb/model"
)

// TestRowsCloneDeep: the NB engine's own models clone into an equal row that shares
// nothing with the original (libovsdb hands the clone out and keeps the original cached).
// Every field is set, so a field added to a model without its clone is caught.
func TestRowsCloneDeep(t *testing.T) {
	for _, c := range []struct {
		row    func() model.Model // a new row, the same each time
		mutate func(model.Model)
	}{
		{func() model.Model {
			ch, req := "ch", "req"
			return &bindingRow{UUID: "u", LogicalPort: "p", Type: "virtual", Chassis: &ch, AdditionalChassis: []string{"a"},
				RequestedChassis: &req, Datapath: "dp", TunnelKey: 3}
		},
			func(m model.Model) {
				r := m.(*bindingRow)
				*r.Chassis, *r.RequestedChassis, r.AdditionalChassis[0] = "x", "x", "x"
			}},
		{func() model.Model {
			tag := 7
			return &lspRow{UUID: "u", Name: "p", Type: "localnet", Addresses: []string{"unknown"}, Options: map[string]string{"k": "v"},
				ExternalIDs: map[string]string{"k": "v"}, Tag: &tag}
		},
			func(m model.Model) {
				r := m.(*lspRow)
				r.Addresses[0], r.Options["k"], r.ExternalIDs["k"], *r.Tag = "x", "x", "x", 8
			}},
	} {
		row := c.row()
		v := reflect.ValueOf(row).Elem()
		for i := range v.NumField() {
			if v.Field(i).IsZero() {
				t.Fatalf("%T: set %s in the test", row, v.Type().Field(i).Name)
			}
		}
		clone := model.Clone(row)
		if !reflect.DeepEqual(clone, row) {
			t.Fatalf("%T: clone %+v differs from %+v", row, clone, row)
		}
		into := reflect.New(v.Type()).Interface().(model.Model)
		model.CloneInto(row, into)
		if !reflect.DeepEqual(into, row) {
			t.Fatalf("%T: CloneInto %+v differs from %+v", row, into, row)
		}
		c.mutate(clone)
		c.mutate(into)
		if want := c.row(); !reflect.DeepEqual(row, want) {
			t.Errorf("%T: changing the clones changed the original: %+v", row, row)
		}
	}
}
