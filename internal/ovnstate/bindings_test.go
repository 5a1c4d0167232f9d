package ovnstate

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestBindingsEditsLeaveEarlierOnesAlone runs random edits (adds, changes, removals, in
// batches, growing past several reshardings and shrinking again) through Bindings and a
// plain map side by side: after each edit the new Bindings hold what the map holds, and
// every Bindings handed out before still holds what the map held then.
func TestBindingsEditsLeaveEarlierOnesAlone(t *testing.T) {
	for seed := range uint64(3) {
		r := rand.New(rand.NewPCG(seed, 9))
		want := map[string]PortBinding{}
		b := NewBindings(nil)
		type kept struct {
			b    Bindings
			want map[string]PortBinding
		}
		var earlier []kept
		for step := range 1500 {
			var remove []string
			set := map[string]PortBinding{}
			span := 40 + step*2 // the names in use grow, so the map grows, then removals catch up
			if step > 1000 {
				span = 2000
			}
			for range 1 + r.IntN(8) {
				port := fmt.Sprintf("vm%d", r.IntN(span))
				if r.IntN(3) == 0 || step > 1000 && r.IntN(4) > 0 {
					remove = append(remove, port)
					delete(want, port)
				} else {
					pb := PortBinding{LogicalPort: port, Chassis: fmt.Sprintf("c%d", r.IntN(3))}
					set[port] = pb
				}
			}
			maps.Copy(want, set)
			prev := b
			b = b.Edit(remove, set)
			if b.Same(prev) {
				t.Fatalf("seed %d step %d: an edit returned the same Bindings", seed, step)
			}
			if got := b.Map(); !reflect.DeepEqual(got, want) || b.Len() != len(want) {
				t.Fatalf("seed %d step %d: %d bindings (Len %d), want %d:\n%v\nwant %v", seed, step, len(got), b.Len(), len(want), got, want)
			}
			for port, pb := range want {
				if step%10 != 0 {
					break
				}
				if got, ok := b.Get(port); !ok || !reflect.DeepEqual(got, pb) {
					t.Fatalf("seed %d step %d: Get(%s) = %v, %v, want %v", seed, step, port, got, ok, pb)
				}
			}
			if step%10 == 0 {
				earlier = append(earlier, kept{b, maps.Clone(want)})
			}
		}
		for i, k := range earlier {
			if got := k.b.Map(); !reflect.DeepEqual(got, k.want) || k.b.Len() != len(k.want) {
				t.Fatalf("seed %d: Bindings %d changed after it was handed out: %d entries, want %d", seed, i, len(got), len(k.want))
			}
		}
	}
}

// TestBindingsZeroAndEqual: the zero Bindings are an empty, nil-like value; Equal compares
// contents, Same identity.
func TestBindingsZeroAndEqual(t *testing.T) {
	var z Bindings
	if !z.IsZero() || z.Len() != 0 {
		t.Fatalf("zero Bindings: IsZero %v, Len %d", z.IsZero(), z.Len())
	}
	if _, ok := z.Get("x"); ok {
		t.Fatal("zero Bindings hold x")
	}
	a := NewBindings(map[string]PortBinding{"x": {LogicalPort: "x", Chassis: "c"}})
	b := NewBindings(nil).With("x", PortBinding{LogicalPort: "x", Chassis: "c"})
	if !a.Equal(b) || a.Same(b) || !a.Same(a) {
		t.Fatalf("Equal %v, Same %v, Same itself %v", a.Equal(b), a.Same(b), a.Same(a))
	}
	if c := b.With("x", PortBinding{LogicalPort: "x"}); c.Equal(a) {
		t.Fatal("a changed chassis compares equal")
	}
	if j, err := a.MarshalJSON(); err != nil || string(j) != `{"x":{"LogicalPort":"x","Type":"","Chassis":"c","AdditionalChassis":null,"RequestedChassis":""}}` {
		t.Fatalf("JSON %s, %v", j, err)
	}
}
