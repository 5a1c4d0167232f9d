package frr

import (
	"context"
	"encoding/json"
	"slices"
)

// unprinted are lines FRR takes but does not print while they set what is already the
// daemon's default, so that frr-reload.py --test wants them added again after every reload.
// Such a default depends on FRR's version and defaults profile: `ip nht resolve-via-default`
// is off in FRR 8.4 (which prints the line) and on in FRR 10's traditional profile (which
// then prints nothing). For each, held reads whether the daemon's state is what the line
// asks for.
var unprinted = map[string]func(ctx context.Context, v Vtysh) (bool, error){
	"ip nht resolve-via-default": nhtResolvesViaDefault,
}

// nhtResolvesViaDefault reports whether zebra resolves IPv4 next hops of the default VRF
// over the default route. FRR 8.4 has no `show ip nht json`: there the answer is an error,
// which is no harm, since 8.4 prints the line once it is set.
func nhtResolvesViaDefault(ctx context.Context, v Vtysh) (bool, error) {
	out, err := v.ForDaemon(Zebra).Run(ctx, "show ip nht json")
	if err != nil {
		return false, err
	}
	var nht struct {
		Default struct {
			IPv4 struct {
				ResolveViaDefault bool `json:"resolveViaDefault"`
			} `json:"ipv4"`
		} `json:"default"`
	}
	if err := json.Unmarshal([]byte(out), &nht); err != nil {
		return false, err
	}
	return nht.Default.IPv4.ResolveViaDefault, nil
}

// withoutHeldDefaults drops from pending (frr-reload.py --test's lines) each line of
// unprinted that the daemon's state already has: nothing is left to do for it.
func (r *Reloader) withoutHeldDefaults(ctx context.Context, pending []string) []string {
	return slices.DeleteFunc(pending, func(l string) bool {
		held := unprinted[l]
		if held == nil {
			return false
		}
		ok, err := held(ctx, r.Vtysh())
		if err != nil {
			r.logger().Debug("FRR does not say whether it already has a line it prints only off its default", "line", l, "err", firstLine(err.Error()))
		}
		return ok
	})
}
