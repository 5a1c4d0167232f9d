package exposure

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
)

// TestSortByPrefixMoves: sortByPrefix sorts by prefix, keeps the order of exposures of one
// prefix, and says where each exposure went (the Memo points its ports' exposures into the
// sorted list by it), on the fast path, on input already sorted, and on the slow path a
// zoned address takes.
func TestSortByPrefixMoves(t *testing.T) {
	p := netip.MustParsePrefix
	for _, c := range []struct {
		name string
		in   []netip.Prefix
	}{
		{"empty", nil},
		{"sorted", []netip.Prefix{p("10.0.0.1/32"), p("10.0.0.2/32"), p("2001:db8::1/128")}},
		{"shuffled, with one prefix twice", []netip.Prefix{p("2001:db8::1/128"), p("10.0.0.9/32"), p("10.0.0.0/24"), p("10.0.0.9/32"), p("10.0.0.1/32")}},
		{"zoned", []netip.Prefix{p("10.0.0.9/32"), netip.PrefixFrom(netip.MustParseAddr("fe80::1%eth0"), 128), p("10.0.0.9/32"), p("10.0.0.1/32")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := make([]Exposure, len(c.in))
			for i, pr := range c.in {
				in[i] = Exposure{Prefix: pr, Object: fmt.Sprint(i)}
			}
			orig := slices.Clone(in)
			moved := make([]int32, len(in))
			out := sortByPrefix(in, moved)
			if !slices.IsSortedFunc(out, func(a, b Exposure) int { return ComparePrefix(a.Prefix, b.Prefix) }) {
				t.Errorf("not sorted: %v", out)
			}
			for i, e := range orig {
				if got := out[moved[i]]; got != e {
					t.Errorf("moved[%d] = %d: %v, want %v", i, moved[i], got, e)
				}
			}
			for i := 1; i < len(out); i++ {
				if out[i-1].Prefix == out[i].Prefix && out[i-1].Object > out[i].Object {
					t.Errorf("exposures of %s out of their order: %s before %s", out[i].Prefix, out[i-1].Object, out[i].Object)
				}
			}
		})
	}
}
