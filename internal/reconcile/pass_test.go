package reconcile

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// fakeSource serves one snapshot.
type fakeSource struct {
	id    ovnstate.Identity
	st    ovnstate.State
	fulls []bool // the full flag of each Read
}

func (s *fakeSource) Read(_ context.Context, full bool) (ovnstate.Identity, ovnstate.State, error) {
	s.fulls = append(s.fulls, full)
	return s.id, s.st, nil
}

// TestSourceToldFullPass: the source learns which passes are full, so what it keeps between
// passes (the node's addresses) is read anew on those.
func TestSourceToldFullPass(t *testing.T) {
	src := &fakeSource{}
	p := NewPasser(PassOptions{Source: src})
	for _, full := range []bool{true, false, true} {
		if err := p.Pass(context.Background(), full); err != nil {
			t.Fatal(err)
		}
	}
	if want := []bool{true, false, true}; !slices.Equal(src.fulls, want) {
		t.Errorf("full in the source's reads = %v, want %v", src.fulls, want)
	}
}

// fakeApplier is a state-recording applier: it keeps the lines it "installed" and, like the
// real ones, changes only the difference and reports it.
type fakeApplier struct {
	name      string
	lines     func(Plan) []string // what this applier installs for a plan
	installed map[string]bool
}

func (f *fakeApplier) Name() string { return f.name }

func (f *fakeApplier) Apply(_ context.Context, p Plan) (Report, error) {
	if f.installed == nil {
		f.installed = map[string]bool{}
	}
	var r Report
	want := map[string]bool{}
	for _, l := range f.lines(p) {
		want[l] = true
		if !f.installed[l] {
			f.installed[l] = true
			r.Add("added", 1)
		}
	}
	for l := range f.installed {
		if !want[l] {
			delete(f.installed, l)
			r.Add("removed", 1)
		}
	}
	return r, nil
}

// passRecorder is a Reporter that keeps every report.
type passRecorder struct {
	notify  chan struct{} // nil, or told (without blocking) of every report
	mu      sync.Mutex
	exposed []exposure.Desired
	applied map[string][]Report
	errs    map[string][]error
}

func (r *passRecorder) Exposed(d exposure.Desired) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.exposed = append(r.exposed, d)
}

func (r *passRecorder) Findings([]exposure.Finding) {}

func (r *passRecorder) Applied(applier string, rep Report, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.applied == nil {
		r.applied, r.errs = map[string][]Report{}, map[string][]error{}
	}
	r.applied[applier] = append(r.applied[applier], rep)
	r.errs[applier] = append(r.errs[applier], err)
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// providerVMs is a node with two VMs bound on a provider network and one elsewhere.
func providerVMs() *fakeSource {
	ln := ovnstate.LogicalSwitchPort{Name: "provnet-public", Type: "localnet", Addresses: []string{"unknown"},
		Options: map[string]string{"network_name": "physnet1"}}
	return &fakeSource{
		id: ovnstate.Identity{Chassis: "compute-0", BridgeMappings: map[string]string{"physnet1": "br-ex"}, IntegrationBridge: "br-int"},
		st: ovnstate.State{
			Switches: []ovnstate.LogicalSwitch{{Name: "public", Ports: []ovnstate.LogicalSwitchPort{ln,
				{Name: "vm1", Addresses: []string{"fa:16:3e:00:00:01 172.24.4.10"}},
				{Name: "vm2", Addresses: []string{"fa:16:3e:00:00:02 172.24.4.11 2001:db8::11"}},
				{Name: "vm3", Addresses: []string{"fa:16:3e:00:00:03 172.24.4.12"}},
			}}},
			Bindings: ovnstate.NewBindings(map[string]ovnstate.PortBinding{
				"vm1": {LogicalPort: "vm1", Chassis: "compute-0"},
				"vm2": {LogicalPort: "vm2", Chassis: "compute-0"},
				"vm3": {LogicalPort: "vm3", Chassis: "compute-1"},
			}),
			LocalBridges: map[string]ovnstate.LocalBridge{"br-ex": {Name: "br-ex", MAC: "02:00:00:00:00:01"}, "br-int": {Name: "br-int"}},
		},
	}
}

// fakeAppliers stand for the four real ones, each installing its slice of the plan.
func fakeAppliers() []*fakeApplier {
	return []*fakeApplier{
		{name: "frr", lines: func(Plan) []string { return []string{"router bgp 64999", "redistribute connected route-map X"} }},
		{name: "kernel-wiring", lines: func(p Plan) []string {
			var out []string
			for _, e := range p.Desired.Exposures {
				out = append(out, fmt.Sprintf("rule to %s lookup %s", e.Prefix, e.Wiring.Bridge))
			}
			return out
		}},
		{name: "ovs", lines: func(p Plan) []string {
			var out []string
			for _, b := range p.Desired.Bridges {
				out = append(out, "flow on "+b.Name+" mac "+p.LocalBridges[b.Name].MAC)
			}
			return out
		}},
		{name: "kernel", lines: func(p Plan) []string {
			var out []string
			for _, e := range p.Desired.Exposures {
				out = append(out, fmt.Sprintf("addr %s metric %d", e.Prefix, e.Kind.Metric()))
			}
			return out
		}},
	}
}

func newTestPasser(src Source, fakes []*fakeApplier, rec *passRecorder) *Passer {
	appliers := make([]Applier, len(fakes))
	for i, f := range fakes {
		appliers[i] = f
	}
	return NewPasser(PassOptions{Source: src, Appliers: appliers, Reporter: rec})
}

// TestPassTwiceChangesNothing: a pass hands every applier its part of the plan; the second
// pass over the same state changes nothing anywhere.
func TestPassTwiceChangesNothing(t *testing.T) {
	rec := &passRecorder{}
	fakes := fakeAppliers()
	p := newTestPasser(providerVMs(), fakes, rec)
	ctx := context.Background()
	for i := range 2 {
		if err := p.Pass(ctx, i == 0); err != nil {
			t.Fatalf("pass %d: %v", i+1, err)
		}
	}
	for _, f := range fakes {
		reps := rec.applied[f.name]
		if len(reps) != 2 {
			t.Fatalf("%s applied %d times in 2 passes", f.name, len(reps))
		}
		if reps[0].Changes["added"] == 0 {
			t.Errorf("%s: the first pass installed nothing", f.name)
		}
		if len(reps[1].Changes) != 0 {
			t.Errorf("%s: the second pass changed %v, want nothing", f.name, reps[1].Changes)
		}
	}
	if got := len(fakes[3].installed); got != 3 {
		t.Errorf("kernel fake holds %d addresses, want the 3 of the VMs bound here", got)
	}
}

// TestPassRunsEveryApplierWhenOneFails: an applier's failure fails the pass but does not
// stop the appliers after it.
func TestPassRunsEveryApplierWhenOneFails(t *testing.T) {
	rec := &passRecorder{}
	fakes := fakeAppliers()
	appliers := []Applier{failing{"frr"}, fakes[1], fakes[2], fakes[3]}
	p := NewPasser(PassOptions{Source: providerVMs(), Appliers: appliers, Reporter: rec})
	err := p.Pass(context.Background(), true)
	if err == nil {
		t.Fatal("the pass hid the applier's failure")
	}
	if len(fakes[3].installed) != 3 {
		t.Errorf("kernel fake holds %d addresses after frr failed, want 3", len(fakes[3].installed))
	}
	if rec.errs["frr"][0] == nil {
		t.Error("the reporter did not see frr fail")
	}
}

type failing struct{ name string }

func (f failing) Name() string { return f.name }
func (f failing) Apply(context.Context, Plan) (Report, error) {
	return Report{}, errors.New("frr-reload.py --reload failed")
}

// blocking is an applier that hangs until released, as an FRR whose vtysh does not answer.
type blocking struct {
	release chan struct{}
	started chan Plan
}

func (b *blocking) Name() string { return "frr" }
func (b *blocking) Apply(ctx context.Context, p Plan) (Report, error) {
	b.started <- p
	select {
	case <-b.release:
		return Report{Changes: map[string]int{"reload": 1}}, nil
	case <-ctx.Done():
		return Report{}, ctx.Err()
	}
}

// TestBackgroundApplierNeverDelaysOthers: with FRR hanging, a pass still puts the addresses
// in place; FRR then applies the newest plan once it is free, and its report reaches the
// reporter.
func TestBackgroundApplierNeverDelaysOthers(t *testing.T) {
	rec := &passRecorder{notify: make(chan struct{}, 1)}
	fakes := fakeAppliers()
	slow := &blocking{release: make(chan struct{}), started: make(chan Plan, 4)}
	bg := NewBackground(slow, rec, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); bg.Run(ctx) }()

	p := NewPasser(PassOptions{Source: providerVMs(), Appliers: []Applier{bg, fakes[3]}, Reporter: rec})
	passed := make(chan error, 1)
	go func() { passed <- p.Pass(ctx, true) }()
	select {
	case err := <-passed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the pass waited behind the hanging FRR applier")
	}
	if len(fakes[3].installed) != 3 {
		t.Fatalf("addresses installed while FRR hangs: %d, want 3", len(fakes[3].installed))
	}
	<-slow.started // FRR got the plan
	close(slow.release)
	deadline := time.After(10 * time.Second)
	for {
		rec.mu.Lock()
		reps := slices.Clone(rec.applied["frr"])
		rec.mu.Unlock()
		if slices.ContainsFunc(reps, func(r Report) bool { return r.Changes["reload"] == 1 }) {
			break
		}
		select {
		case <-rec.notify:
		case <-deadline:
			t.Fatalf("FRR's own report never reached the reporter: %v", reps)
		}
	}
	cancel()
	<-done
}

// planKeeper is an applier that keeps every plan it is handed, with a printed copy taken at
// once: a plan handed over must never change afterwards (appliers keep the last one to
// diff the next against).
type planKeeper struct {
	plans   []Plan
	printed []string
}

func (k *planKeeper) Name() string { return "keeper" }

func (k *planKeeper) Apply(_ context.Context, p Plan) (Report, error) {
	k.plans = append(k.plans, p)
	k.printed = append(k.printed, fmt.Sprintf("%+v", p.Desired))
	return Report{}, nil
}

// TestEventPassesEqualFullPasses: passes fed binding events as the OVN snapshot hands them
// over (a new bindings map with the delta from the last one, the same switches) plan exactly
// what passes deciding everything anew plan, and no plan handed over changes afterwards,
// whatever the Memo splices into what it keeps.
func TestEventPassesEqualFullPasses(t *testing.T) {
	src := providerVMs()
	sw := &src.st.Switches[0]
	for i := range 40 {
		sw.Ports = append(sw.Ports, ovnstate.LogicalSwitchPort{Name: fmt.Sprintf("vm%d", 10+i),
			Addresses: []string{fmt.Sprintf("fa:16:3e:00:01:%02x 172.24.5.%d 2001:db8::5:%x", i, 10+i, 10+i)}})
	}
	full := &fakeSource{id: src.id}
	keep := &planKeeper{}
	events := NewPasser(PassOptions{Source: src, Appliers: []Applier{keep}})
	whole := NewPasser(PassOptions{Source: full})
	ctx := context.Background()
	r := rand.New(rand.NewPCG(5, 11))
	chassis := []string{"compute-0", "compute-1", ""}
	for step := range 200 {
		if step > 0 {
			old := src.st.Bindings
			nb := old
			var ports []string
			for range 1 + r.IntN(3) {
				port := sw.Ports[1+r.IntN(len(sw.Ports)-1)].Name
				if r.IntN(5) == 0 {
					nb = nb.Without(port)
				} else {
					nb = nb.With(port, ovnstate.PortBinding{LogicalPort: port, Chassis: chassis[r.IntN(3)]})
				}
				ports = append(ports, port)
			}
			src.st.Bindings, src.st.BindingsDelta = nb, &ovnstate.BindingsDelta{From: old, Ports: ports}
		}
		if err := events.Pass(ctx, step == 0); err != nil {
			t.Fatal(err)
		}
		full.st = src.st
		full.st.BindingsDelta = nil
		var wholePlan Plan
		whole.appliers = []Applier{appliedFunc(func(p Plan) { wholePlan = p })}
		if err := whole.Pass(ctx, true); err != nil {
			t.Fatal(err)
		}
		got := keep.plans[len(keep.plans)-1]
		if diff := cmp.Diff(wholePlan.Desired, got.Desired, cmpopts.EquateComparable(netip.Prefix{}, netip.Addr{})); diff != "" {
			t.Fatalf("step %d: the event pass's plan differs from a whole pass's (-whole +event):\n%s", step, diff)
		}
	}
	if events.memo.Hits == 0 {
		t.Error("the event passes reused nothing")
	}
	for i, p := range keep.plans {
		if now := fmt.Sprintf("%+v", p.Desired); now != keep.printed[i] {
			t.Fatalf("the plan of pass %d changed after it was handed over:\nthen %s\nnow  %s", i, keep.printed[i], now)
		}
	}
}

// appliedFunc is an applier that hands each plan to a function.
type appliedFunc func(Plan)

func (f appliedFunc) Name() string { return "func" }
func (f appliedFunc) Apply(_ context.Context, p Plan) (Report, error) {
	f(p)
	return Report{}, nil
}
