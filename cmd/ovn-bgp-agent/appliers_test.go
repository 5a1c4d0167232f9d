package main

import (
	"context"
	"slices"
	"testing"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/reconcile"
)

type namedApplier string

func (n namedApplier) Name() string { return string(n) }
func (n namedApplier) Apply(context.Context, reconcile.Plan) (reconcile.Report, error) {
	return reconcile.Report{}, nil
}

// TestPassAppliersFRRAfterKernel: a pass hands FRR its plan only after the wiring and the
// addresses are written, so that FRR's first apply at a cold start does not configure the BGP
// peers while zebra is still digesting the address burst (see passAppliers); the wiring
// still goes before the addresses.
func TestPassAppliersFRRAfterKernel(t *testing.T) {
	var names []string
	for _, a := range passAppliers(namedApplier("frr"), namedApplier("wiring"), namedApplier("addresses"), namedApplier("flows")) {
		names = append(names, a.Name())
	}
	at := func(n string) int { return slices.Index(names, n) }
	if len(names) != 4 || at("frr") < 0 || at("flows") < 0 {
		t.Fatalf("appliers %v: want all four once", names)
	}
	if at("wiring") > at("addresses") {
		t.Errorf("appliers %v: the wiring must go before the addresses", names)
	}
	if at("frr") < at("addresses") || at("frr") < at("wiring") {
		t.Errorf("appliers %v: FRR must get the plan after the kernel's writes", names)
	}
}
