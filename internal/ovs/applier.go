package ovs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options says how to reach the bridges.
type Options struct {
	// RunDir holds the bridges' management sockets (BRIDGE.mgmt); "" means $OVS_RUNDIR, or
	// /var/run/openvswitch when that is unset.
	RunDir string
	// Ofctl is the ovs-ofctl program; "" means ovs-ofctl from PATH.
	Ofctl string
}

// Applier keeps the agent's flows on the provider bridges. Its methods are serialised.
type Applier struct {
	mu    sync.Mutex
	opts  Options
	log   *slog.Logger
	wired map[string]bool // bridges wired by this process: cleaned when they stop being provider bridges
	swept map[string]bool // retired bridges already cleaned of an earlier run's flows
	// applied are the inputs of the last Apply that succeeded; "" when none did.
	applied string
}

// Result reports one pass. Lines are "BRIDGE: cookie=…, priority=… actions=…", sorted.
type Result struct {
	Added   []string
	Removed []string
	// Installed is every flow of the agent's after the pass, also when Sync returns an error.
	Installed []string
	// Waiting lists the bridges whose MAC or localnet patch port is not known yet: nothing
	// to install until ovn-controller has created the patch port; not an error.
	Waiting []string
}

// Changed reports whether the pass modified flows.
func (r Result) Changed() bool { return len(r.Added)+len(r.Removed) > 0 }

// New returns an applier.
func New(opts Options, log *slog.Logger) *Applier {
	if opts.RunDir == "" {
		opts.RunDir = os.Getenv("OVS_RUNDIR")
	}
	if opts.RunDir == "" {
		opts.RunDir = "/var/run/openvswitch"
	}
	if opts.Ofctl == "" {
		opts.Ofctl = "ovs-ofctl"
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Applier{opts: opts, log: log.With("component", "ovs"), wired: map[string]bool{}, swept: map[string]bool{}}
}

// ofctlTimeout bounds one ovs-ofctl call: a hung ovs-vswitchd must not hold up the pass.
const ofctlTimeout = 10 * time.Second

// Sync makes the agent's flows on each bridge exactly what Desired says, and removes them
// from bridges this process wired before that are no longer given. Bridges are independent:
// one that fails (e.g. ovs-vswitchd restarting) does not stop the others; the error names it.
//
// retired names OVS bridges of this node that are not provider bridges (any more): the
// agent's flows there (its cookies say so) are from an earlier run and are removed. Only an
// earlier run can have left them (this process tracks what it wires), so each retired bridge
// is swept once, not dumped on every pass. A retired bridge without a management socket has
// no flows to look at.
func (a *Applier) Sync(ctx context.Context, bridges []Bridge, retired ...string) (Result, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var (
		res  Result
		errs []error
	)
	want := map[string][]Flow{}
	for _, b := range bridges {
		if err := validBridgeName(b.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		flows, err := Desired(b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(flows) == 0 {
			res.Waiting = append(res.Waiting, b.Name)
		}
		want[b.Name] = flows
	}
	for name := range a.wired {
		if _, ok := want[name]; !ok {
			want[name] = nil // no longer a provider bridge: take our flows away
		}
	}
	sweeping := map[string]bool{}
	for _, name := range retired {
		if _, ok := want[name]; ok || a.swept[name] || validBridgeName(name) != nil {
			continue
		}
		sweeping[name] = true
		if _, err := os.Stat(filepath.Join(a.opts.RunDir, name+".mgmt")); err == nil {
			want[name] = nil
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		installed, err := a.syncBridge(ctx, name, want[name], &res)
		for _, f := range installed {
			res.Installed = append(res.Installed, name+": "+f.String())
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("bridge %s: %w", name, err))
			continue
		}
		if sweeping[name] {
			a.swept[name] = true
		}
		if want[name] == nil && len(installed) == 0 {
			delete(a.wired, name)
		} else {
			a.wired[name] = true
		}
	}
	slices.Sort(res.Waiting)
	return res, errors.Join(errs...)
}

func (a *Applier) syncBridge(ctx context.Context, name string, want []Flow, res *Result) ([]Flow, error) {
	target := "unix:" + filepath.Join(a.opts.RunDir, name+".mgmt")
	// The whole table, not only our cookies: a flow of someone else's with the same match and
	// priority would be overwritten by our add (OpenFlow identifies a flow by those).
	out, err := a.ofctl(ctx, nil, "--no-stats", "--no-names", "dump-flows", target)
	if err != nil {
		return nil, err
	}
	have, foreign, err := parseDump(out)
	if err != nil {
		return nil, err
	}
	var (
		stale, missing []Flow
		errs           []error
	)
	for _, f := range have {
		if !slices.Contains(want, f) {
			stale = append(stale, f)
		}
	}
	for _, f := range want {
		cookie, taken := foreign[f.match()]
		switch {
		case slices.Contains(have, f):
		case taken:
			errs = append(errs, fmt.Errorf("a flow with another cookie (%#x) has the match %q: not replacing it%s",
				cookie, f.match(), foreignHint(name, cookie)))
		default:
			missing = append(missing, f)
		}
	}
	if len(stale)+len(missing) == 0 {
		return have, errors.Join(errs...)
	}
	// One bundle: the rewrite is replaced atomically, never missing in between.
	var batch bytes.Buffer
	for _, f := range stale {
		fmt.Fprintf(&batch, "delete_strict cookie=%#x/-1,%s\n", f.Cookie, f.match())
	}
	for _, f := range missing {
		fmt.Fprintf(&batch, "add cookie=%#x,%s,actions=%s\n", f.Cookie, f.match(), f.actions())
	}
	if _, err := a.ofctl(ctx, &batch, "--bundle", "add-flows", target, "-"); err != nil {
		return have, errors.Join(append(errs, err)...)
	}
	for _, f := range stale {
		res.Removed = append(res.Removed, name+": "+f.String())
		a.log.Info("removed flow", "bridge", name, "flow", f.String())
	}
	for _, f := range missing {
		res.Added = append(res.Added, name+": "+f.String())
		a.log.Info("added flow", "bridge", name, "flow", f.String())
	}
	installed := slices.DeleteFunc(slices.Clone(have), func(f Flow) bool { return slices.Contains(stale, f) })
	installed = append(installed, missing...)
	slices.SortFunc(installed, compareFlows)
	return installed, errors.Join(errs...)
}

func (a *Applier) ofctl(ctx context.Context, stdin *bytes.Buffer, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, ofctlTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, a.opts.Ofctl, args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", a.opts.Ofctl, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// validBridgeName keeps the name safe as a socket file name and as an ovs-ofctl argument.
// upstreamCookie is the cookie of the flows upstream's Python ovn-bgp-agent installs on the
// provider bridges, with the same match and priority as ours.
const upstreamCookie = 999

// foreignHint tells an operator what to do about a known foreign flow in the agent's place.
func foreignHint(bridge string, cookie uint64) string {
	if cookie != upstreamCookie {
		return ""
	}
	return fmt.Sprintf(" (cookie 999 is upstream ovn-bgp-agent's: once it is stopped for good, remove its flows with "+
		"`ovs-ofctl del-flows %s cookie=999/-1`)", bridge)
}

func validBridgeName(name string) error {
	if name == "" || len(name) > 15 || strings.ContainsAny(name, "/ \t\n:") || name == "." || name == ".." {
		return fmt.Errorf("provider bridge %q: not a valid bridge name", name)
	}
	return nil
}
