package lab

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// SampleInterval is how often a Recorder reads the ToRs. A read that takes longer (vtysh on a
// busy machine) delays the next sample; Figures says how many there were.
const SampleInterval = 100 * time.Millisecond

// Recorder samples the advertised set at every ToR of a Want, every SampleInterval, from
// Record until Stop: the record a fault test's figures come from.
type Recorder struct {
	l      *Lab
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	want    Want
	wantGen int // bumped by SetWant: a read that spans a change of want is no sample
	samples []sample
	stale   map[string]bool // every "TOR: PREFIX via NH" held but not wanted, in any sample
	missing map[string]bool // every "TOR: PREFIX via NH" wanted but not held, in any sample
	held    map[string]bool // "TOR PREFIX" of wanted prefixes held at the last sample
	gone    int             // wanted prefixes that disappeared from a ToR between two samples
}

type sample struct {
	at      time.Time
	exact   bool // every ToR holds exactly the wanted set, and no path of it is GR-stale
	grStale int  // paths kept by a GR helper for a restarting peer
	err     error
}

// Figures summarise a record.
type Figures struct {
	Samples     int
	StaleSeen   []string // distinct entries held while not wanted, "TOR: PREFIX via NH"
	MissingSeen []string // distinct entries wanted while not held
	Withdrawals int      // times a wanted prefix disappeared from a ToR between two samples
}

// Record starts sampling the ToRs of want until Stop or ctx ends.
func (l *Lab) Record(ctx context.Context, want Want) *Recorder {
	ctx, cancel := context.WithCancel(ctx)
	r := &Recorder{l: l, cancel: cancel, done: make(chan struct{}), want: want,
		stale: map[string]bool{}, missing: map[string]bool{}, held: map[string]bool{}}
	go r.run(ctx)
	return r
}

// SetWant changes the expected set from now on: OVN changed during the fault.
func (r *Recorder) SetWant(want Want) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.want = want
	r.wantGen++
}

// ResetFigures forgets what was seen so far: the figures then count from the fault on, not
// from the lab's start (when nothing was advertised yet).
func (r *Recorder) ResetFigures() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stale, r.missing, r.gone = map[string]bool{}, map[string]bool{}, 0
	r.samples = r.samples[:0]
}

// Stop ends sampling and returns the figures.
func (r *Recorder) Stop() Figures {
	r.cancel()
	<-r.done
	return r.Figures()
}

// Figures returns the figures so far.
func (r *Recorder) Figures() Figures {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Figures{Samples: len(r.samples), StaleSeen: keys(r.stale), MissingSeen: keys(r.missing), Withdrawals: r.gone}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (r *Recorder) run(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(SampleInterval)
	defer t.Stop()
	for {
		r.sampleOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Recorder) sampleOnce(ctx context.Context) {
	r.mu.Lock()
	want, gen := r.want, r.wantGen
	r.mu.Unlock()
	type read struct {
		tor   string
		got   Advert
		stale int
		err   error
	}
	reads := make(chan read, len(want))
	at := time.Now()
	for tor := range want {
		go func() {
			got, stale, err := r.l.Learned(ctx, tor)
			reads <- read{tor, got, stale, err}
		}()
	}
	s := sample{at: at, exact: true}
	got := map[string]Advert{}
	for range want {
		rd := <-reads
		if rd.err != nil {
			s.err, s.exact = rd.err, false
			continue
		}
		got[rd.tor] = rd.got
		s.grStale += rd.stale
	}
	if ctx.Err() != nil {
		return // a read cut short by Stop is no sample
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.wantGen != gen {
		// The want changed while the ToRs were read (vtysh can take a while under load): what
		// they held may already follow the new want, and judged by the old one a prefix just
		// removed from OVN would count as a withdrawal of a wanted prefix.
		return
	}
	for tor, a := range got {
		m := Compare(want[tor], a)
		if !m.OK() {
			s.exact = false
		}
		for _, e := range m.Stale {
			r.stale[tor+": "+e] = true
		}
		for _, e := range m.Missing {
			r.missing[tor+": "+e] = true
		}
		for p := range want[tor] {
			k := tor + " " + p
			now := len(a[p]) > 0
			if r.held[k] && !now {
				r.gone++
			}
			r.held[k] = now
		}
	}
	if s.grStale > 0 {
		s.exact = false
	}
	r.samples = append(r.samples, s)
}

// WaitRecovered waits until the samples taken after since end with settle consecutive exact
// ones (every ToR holds exactly the wanted set, no GR-stale path), and returns the recovery
// time: from since to the first sample of that final exact run. Taken at the first exact
// sample, a fault the ToRs had not noticed yet would count as recovered at once.
func (r *Recorder) WaitRecovered(ctx context.Context, since time.Time, timeout time.Duration, settle int) (time.Duration, error) {
	var rec time.Duration
	err := Poll(ctx, timeout, fmt.Sprintf("the exact advertised set for %d samples in a row", settle), func() (bool, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		run, first := 0, time.Time{}
		var last sample
		for _, s := range r.samples {
			if s.at.Before(since) {
				continue
			}
			last = s
			if !s.exact {
				run, first = 0, time.Time{}
				continue
			}
			if run == 0 {
				first = s.at
			}
			run++
		}
		if run >= settle {
			rec = first.Sub(since)
			return true, nil
		}
		if last.err != nil {
			return false, last.err
		}
		return false, fmt.Errorf("%d exact samples in a row so far; missing seen %v, stale seen %v",
			run, keys(r.missing), keys(r.stale))
	})
	return rec, err
}

// Exact returns whether the last sample was exact, and the current mismatch if not.
func (r *Recorder) Exact(ctx context.Context) (bool, string, error) {
	r.mu.Lock()
	want := r.want
	r.mu.Unlock()
	ms, err := r.l.CheckExact(ctx, want)
	if err != nil {
		return false, "", err
	}
	ok, why := exact(ms)
	return ok, why, nil
}
