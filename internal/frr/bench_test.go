//go:build privileged

package frr

import (
	"context"
	"os"
	"testing"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// Figures for field notes, never pass/fail: one Apply against a real FRR when the text
// changes (--test, write, --reload, --test), when FRR already runs it but the agent just
// started (--test only), and when it is unchanged (nothing runs).
func BenchmarkApply(b *testing.B) {
	f := startFRR(b)
	ctx := context.Background()
	var texts [2][]byte
	for i, name := range []string{"single-peer-bfd", "two-peers-unsorted"} {
		t, err := os.ReadFile(goldenPath(name))
		if err != nil {
			b.Fatal(err)
		}
		texts[i] = t
	}
	r := NewReloader(config.FRR{Pathspace: f.Name, ConfigFile: f.ConfigFile()}, nil)
	b.Run("changed", func(b *testing.B) {
		for i := range b.N {
			if _, err := r.Apply(ctx, texts[i%2]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify-after-start", func(b *testing.B) {
		for range b.N {
			r.Forget()
			if _, err := r.Apply(ctx, texts[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		for range b.N {
			if _, err := r.Apply(ctx, texts[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
