package ovn

import (
	"cmp"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	gocmp "github.com/google/go-cmp/cmp"
	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"
	odb "github.com/ovn-kubernetes/libovsdb/ovsdb"
)

type lossRow struct {
	UUID string `ovsdb:"_uuid"`
	Name string `ovsdb:"name"`
}

// TestDroppedEventForcesFullRead: libovsdb's cache drops events when its buffer (65,536) is
// full and only logs it. The client's log handler must turn that line into "read every row":
// a libovsdb whose message changed would otherwise leave the plain state stale unnoticed.
func TestDroppedEventForcesFullRead(t *testing.T) {
	var schema odb.DatabaseSchema
	if err := json.Unmarshal([]byte(`{"name": "Loss", "version": "1.0.0", "tables": {"T": {"columns": {"name": {"type": "string"}}}}}`), &schema); err != nil {
		t.Fatal(err)
	}
	cm, err := model.NewClientDBModel("Loss", map[string]model.Model{"T": &lossRow{}})
	if err != nil {
		t.Fatal(err)
	}
	dm, errs := model.NewDatabaseModel(schema, cm)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var ch changes
	logger := logr.FromSlogHandler(lossWatch{next: slog.DiscardHandler, lost: ch.loseAll})
	tc, err := cache.NewTableCache(dm, nil, &logger)
	if err != nil {
		t.Fatal(err)
	}
	tc.AddEventHandler(&events{db: "Loss", changes: &ch, trigger: func(string) {}})
	// The event processor is not running: nothing drains the buffer.
	next := 0
	update := func(n int) {
		rows := odb.TableUpdate2{}
		for i := range n {
			next++
			rows[fmt.Sprintf("%08x-0000-4000-8000-%012x", next, next)] = &odb.RowUpdate2{Insert: &odb.Row{"name": fmt.Sprint(i)}}
		}
		if err := tc.Populate2(odb.TableUpdates2{"T": rows}); err != nil {
			t.Fatal(err)
		}
	}
	update(65536)
	if _, lost := ch.take(); lost {
		t.Fatal("lost after 65,536 events, which the buffer holds")
	}
	update(1)
	if _, lost := ch.take(); !lost {
		t.Fatalf("event 65,537 was dropped and the changes do not say so: does libovsdb still log %q?", droppedEventMessage)
	}
}

func TestSortedListEdits(t *testing.T) {
	type v struct{ id, name string }
	l := newSortedList(func(a, b v) int { return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.id, b.id)) },
		func(x v) string { return x.id })
	put := func(id, name string) *v { return &v{id, name} }
	var ids []string
	for i := range 40 {
		ids = append(ids, fmt.Sprintf("u%02d", i))
	}
	e := map[string]*v{}
	for i, id := range ids {
		e[id] = put(id, fmt.Sprintf("p%02d", 39-i))
	}
	l.edit(e) // many edits: rebuilt
	first := l.vals
	want := func() []v {
		var out []v
		for i := 39; i >= 0; i-- {
			out = append(out, v{ids[i], fmt.Sprintf("p%02d", 39-i)})
		}
		return out
	}()
	if d := gocmp.Diff(want, l.vals, gocmp.AllowUnexported(v{})); d != "" {
		t.Fatalf("after the first edit (-want +got):\n%s", d)
	}
	// Few edits: a rename that moves a value, a removal, an insertion.
	l.edit(map[string]*v{"u00": put("u00", "a"), "u05": nil, "u99": put("u99", "p20x")})
	if len(first) != 40 || first[0] != want[0] || first[39] != want[39] {
		t.Fatal("an edit wrote into the slice handed out before it")
	}
	got := map[string]string{}
	for i, x := range l.vals {
		got[x.id] = x.name
		if i > 0 && l.vals[i-1].name > x.name {
			t.Fatalf("not sorted at %d: %v", i, l.vals)
		}
	}
	if len(l.vals) != 40 || got["u00"] != "a" || got["u99"] != "p20x" || got["u05"] != "" || l.vals[0].id != "u00" {
		t.Fatalf("after edits: %v", l.vals)
	}
}

// TestRefsFollowsASetPerRow: the compact reverse index answers (of, has) as a set of referrers
// per row would, through random adds and removes with rows referred to by none, one and several.
func TestRefsFollowsASetPerRow(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	got, want := newRefs(), map[string]map[string]struct{}{}
	rows := []string{"a", "b", "c", "d"}
	for step := range 2000 {
		to, from := rows[r.IntN(2)], rows[r.IntN(len(rows))]
		if r.IntN(2) == 0 {
			got.add(to, from)
			if want[to] == nil {
				want[to] = map[string]struct{}{}
			}
			want[to][from] = struct{}{}
		} else {
			got.remove(to, from)
			delete(want[to], from)
		}
		for _, row := range rows {
			g := slices.Sorted(got.of(row))
			w := slices.Sorted(maps.Keys(want[row]))
			if !slices.Equal(g, w) {
				t.Fatalf("step %d: referrers of %s: %v, want %v", step, row, g, w)
			}
			for _, from := range rows {
				if _, w := want[row][from]; got.has(row, from) != w {
					t.Fatalf("step %d: has(%s, %s) = %v, want %v", step, row, from, !w, w)
				}
			}
		}
		if _, ok := got.one["a"]; ok && got.more["a"] != nil {
			t.Fatalf("step %d: a is both in one and in more", step)
		}
	}
}
