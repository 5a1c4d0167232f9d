package ovn

import (
	"encoding/json"
	"testing"

	ovsdbp "github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/ovn-kubernetes/libovsdb/ovsdb/serverdb"
)

// The _Server rows as ovsdb-server 3.1 sends them (read with ovsdb-client from a 3-member
// cluster and from a standalone server), decoded the way the probe's select decodes them.
func TestDatabaseRow(t *testing.T) {
	for _, tc := range []struct {
		name, row string
		want      serverdb.Database
	}{
		{"clustered follower", `{"model":"clustered","connected":true,"leader":false,"index":4,"cid":["uuid","31601fc4-7e64-412f-8914-e3c7a24060d2"]}`,
			serverdb.Database{Model: "clustered", Connected: true, Index: ptr(4), Cid: ptr("31601fc4-7e64-412f-8914-e3c7a24060d2")}},
		{"standalone", `{"model":"standalone","connected":true,"leader":true,"index":["set",[]],"cid":["set",[]]}`,
			serverdb.Database{Model: "standalone", Connected: true, Leader: true}},
	} {
		var r ovsdbp.Row
		if err := json.Unmarshal([]byte(tc.row), &r); err != nil {
			t.Fatal(err)
		}
		got, err := databaseRow(r)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !got.Equals(&tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
	var r ovsdbp.Row
	if err := json.Unmarshal([]byte(`{"model":"clustered","leader":false}`), &r); err != nil {
		t.Fatal(err)
	}
	if _, err := databaseRow(r); err == nil {
		t.Error("a row without connected decoded without error")
	}
}

// judge, fed a sequence of probes of the client's server: a standalone server is always
// fine; a disconnected member is left at once; a member behind an index already seen of the
// same cluster is left on the second probe in a row, not the first (a follower may lag by an
// entry for a moment); another cluster's index (a database restored from a backup) resets it.
func TestJudge(t *testing.T) {
	row := func(model string, connected bool, cid string, index int) serverdb.Database {
		return serverdb.Database{Model: model, Connected: connected, Cid: ptr(cid), Index: ptr(index)}
	}
	g := &memberGuard{}
	for i, step := range []struct {
		row       serverdb.Database
		problem   bool
		wantLeave bool
	}{
		{serverdb.Database{Model: "standalone", Connected: true, Leader: true}, false, false},
		{row("clustered", true, "c1", 10), false, false},
		{row("clustered", true, "c1", 12), false, false},
		{row("clustered", false, "c1", 12), true, true},
		{row("clustered", true, "c1", 11), true, false},
		{row("clustered", true, "c1", 11), true, true},
		{row("clustered", true, "c1", 12), false, false},
		{row("clustered", true, "c2", 3), false, false},
		{row("clustered", true, "c2", 4), false, false},
	} {
		problem, leave := g.judge(step.row)
		if (problem != "") != step.problem || leave != step.wantLeave {
			t.Errorf("probe %d (%+v): problem %q, leave %v; want problem %v, leave %v", i, step.row, problem, leave, step.problem, step.wantLeave)
		}
	}
}

func ptr[T any](v T) *T { return &v }
