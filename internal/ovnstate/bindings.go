package ovnstate

import (
	"encoding/json"
	"hash/maphash"
	"iter"
	"maps"
	"reflect"
)

// Bindings are the SB port bindings keyed by logical port name: a read-only map. An edit
// (With, Without, Edit) returns new Bindings and leaves the old ones as they were, so a
// reader can keep a State's bindings as long as it likes. The entries are spread over
// shards by a hash of the name, about √n of them; an edit copies the list of shards and the
// shards it touches, never the whole map: a changed binding on a node with 10,000 costs a
// few kilobytes, not a copy of the 10,000 entries.
//
// The zero Bindings hold nothing, as a nil map does; two Bindings are the same (Same) when
// one was handed on as the other, never edited in between: what a nil or non-nil map's
// identity said before.
type Bindings struct{ t *bindingsTable }

type bindingsTable struct {
	seed   maphash.Seed
	shards []map[string]PortBinding // len a power of two; a shard is never written once shared
	n      int
}

// NewBindings returns Bindings holding a copy of m's entries.
func NewBindings(m map[string]PortBinding) Bindings {
	t := &bindingsTable{seed: maphash.MakeSeed()}
	t.fill(len(m), maps.All(m))
	return Bindings{t}
}

// fill spreads n entries over a fresh set of shards sized for them.
func (t *bindingsTable) fill(n int, all iter.Seq2[string, PortBinding]) {
	ns := 1
	for ns*ns < n {
		ns *= 2
	}
	t.shards = make([]map[string]PortBinding, ns)
	per := n/ns + 1
	for k, v := range all {
		i := t.shard(k)
		if t.shards[i] == nil {
			t.shards[i] = make(map[string]PortBinding, per)
		}
		t.shards[i][k] = v
	}
	t.n = n
}

func (t *bindingsTable) shard(port string) int {
	return int(maphash.String(t.seed, port) & uint64(len(t.shards)-1))
}

// Get returns the binding of port, if any.
func (b Bindings) Get(port string) (PortBinding, bool) {
	if b.t == nil {
		return PortBinding{}, false
	}
	pb, ok := b.t.shards[b.t.shard(port)][port]
	return pb, ok
}

// At returns the binding of port, the zero PortBinding when it has none.
func (b Bindings) At(port string) PortBinding {
	pb, _ := b.Get(port)
	return pb
}

// Len is the number of bindings.
func (b Bindings) Len() int {
	if b.t == nil {
		return 0
	}
	return b.t.n
}

// All yields every binding, in no particular order.
func (b Bindings) All() iter.Seq2[string, PortBinding] {
	return func(yield func(string, PortBinding) bool) {
		if b.t == nil {
			return
		}
		for _, s := range b.t.shards {
			for k, v := range s {
				if !yield(k, v) {
					return
				}
			}
		}
	}
}

// Map returns the bindings as a new map.
func (b Bindings) Map() map[string]PortBinding {
	out := make(map[string]PortBinding, b.Len())
	for k, v := range b.All() {
		out[k] = v
	}
	return out
}

// Equal reports whether b and o hold the same bindings (go-cmp uses it to compare States).
func (b Bindings) Equal(o Bindings) bool {
	if b.Len() != o.Len() {
		return false
	}
	for k, v := range b.All() {
		if w, ok := o.Get(k); !ok || !reflect.DeepEqual(v, w) {
			return false
		}
	}
	return true
}

// MarshalJSON writes the bindings as a JSON object by port name, as a map would be.
func (b Bindings) MarshalJSON() ([]byte, error) { return json.Marshal(b.Map()) }

// IsZero reports whether b is the zero Bindings (as a nil map): no State handed them out.
func (b Bindings) IsZero() bool { return b.t == nil }

// Same reports whether a and b are the same Bindings, not merely equal ones.
func (b Bindings) Same(o Bindings) bool { return b.t == o.t }

// With returns b with port bound as pb (added or replaced).
func (b Bindings) With(port string, pb PortBinding) Bindings {
	return b.Edit(nil, map[string]PortBinding{port: pb})
}

// Without returns b without the bindings of ports.
func (b Bindings) Without(ports ...string) Bindings {
	return b.Edit(ports, nil)
}

// Edit returns b with the bindings of remove removed, then those of set added or replaced.
// b is left as it was.
func (b Bindings) Edit(remove []string, set map[string]PortBinding) Bindings {
	old := b.t
	if old == nil {
		old = &bindingsTable{seed: maphash.MakeSeed(), shards: make([]map[string]PortBinding, 1)}
	}
	t := &bindingsTable{seed: old.seed, shards: append([]map[string]PortBinding(nil), old.shards...), n: old.n}
	copied := map[int]bool{}
	edit := func(port string) map[string]PortBinding {
		i := t.shard(port)
		if !copied[i] {
			copied[i] = true
			s := make(map[string]PortBinding, len(t.shards[i])+1)
			maps.Copy(s, t.shards[i])
			t.shards[i] = s
		}
		return t.shards[i]
	}
	for _, port := range remove {
		if _, ok := old.shards[old.shard(port)][port]; !ok {
			continue
		}
		s := edit(port)
		if _, ok := s[port]; ok {
			delete(s, port)
			t.n--
		}
	}
	for port, pb := range set {
		s := edit(port)
		if _, ok := s[port]; !ok {
			t.n++
		}
		s[port] = pb
	}
	if ns := len(t.shards); t.n > 4*ns*ns {
		// Grown well past √n shards (bindings arriving a few at a time): spread them anew,
		// a whole copy once per quadrupling.
		all := Bindings{t}.All()
		nt := &bindingsTable{seed: t.seed}
		nt.fill(t.n, all)
		t = nt
	}
	return Bindings{t}
}
