package frr

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A pending `ip nht resolve-via-default` is dropped only when zebra says it already
// resolves via default; an FRR that cannot say (8.4 has no JSON form) keeps it pending.
func TestWithoutHeldDefaults(t *testing.T) {
	pending := []string{"ip nht resolve-via-default", "ip protocol bgp route-map m", "no ip nht resolve-via-default", " ip nht resolve-via-default"}
	for _, tc := range []struct {
		name string
		out  string
		err  error
		want []string
	}{
		{"on", `{"default":{"ipv4":{"resolveViaDefault":true,"192.0.2.1":{}}}}`, nil, pending[1:]},
		{"off", `{"default":{"ipv4":{"resolveViaDefault":false}}}`, nil, pending},
		{"unknown command", "% Unknown command: show ip nht json", errors.New("exit status 1"), pending},
		{"not json", "VRF default:\n Resolve via default: on\n", nil, pending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var asked [][]string
			r := &Reloader{run: func(_ context.Context, _ time.Duration, argv []string) (string, error) {
				asked = append(asked, argv)
				return tc.out, tc.err
			}}
			got := r.withoutHeldDefaults(context.Background(), slices.Clone(pending))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("pending (-want +got):\n%s", diff)
			}
			want := [][]string{{"vtysh", "-d", "zebra", "-c", "show ip nht json"}}
			if diff := cmp.Diff(want, asked); diff != "" {
				t.Errorf("vtysh calls (-want +got):\n%s", diff)
			}
		})
	}
}
