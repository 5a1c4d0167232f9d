package ovs

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseDump(t *testing.T) {
	out := `NXST_FLOW reply (xid=0x4):
 cookie=0xb9ab9a000000004, priority=900,ip,in_port=2 actions=mod_dl_dst:02:00:00:00:00:01,NORMAL
 cookie=0xb9ab9a000000006, priority=900,ipv6,in_port=2 actions=mod_dl_dst:02:00:00:00:00:01,NORMAL
 cookie=0xb9ab9a000010004, priority=900,arp actions=drop
 cookie=0x5, table=3, priority=10,arp actions=NORMAL
 priority=0 actions=NORMAL

`
	ours, foreign, err := parseDump(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []Flow{
		{Cookie: CookieToHostIPv4, Rule: "priority=900,ip,in_port=2 actions=mod_dl_dst:02:00:00:00:00:01,NORMAL"},
		{Cookie: CookieToHostIPv6, Rule: "priority=900,ipv6,in_port=2 actions=mod_dl_dst:02:00:00:00:00:01,NORMAL"},
	}
	if d := cmp.Diff(want, ours); d != "" {
		t.Errorf("ours (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]uint64{"priority=900,arp": 0xb9ab9a000010004, "table=3, priority=10,arp": 0x5, "priority=0": 0}, foreign); d != "" {
		t.Errorf("foreign matches (-want +got):\n%s", d)
	}
	if _, _, err := parseDump(" cookie=0xzz, priority=1 actions=drop\n"); err == nil {
		t.Error("a malformed cookie must be an error")
	}
}

func TestDesiredWaitsForPatchPortAndMAC(t *testing.T) {
	for _, b := range []Bridge{{Name: "br-ex"}, {Name: "br-ex", MAC: "02:00:00:00:00:01"}, {Name: "br-ex", Patches: []int{1}}} {
		if got, err := Desired(b); err != nil || len(got) != 0 {
			t.Errorf("Desired(%+v) = %v, %v; want nothing and no error", b, got, err)
		}
	}
	got, err := Desired(Bridge{Name: "br-ex", MAC: "02:00:00:00:00:01", Patches: []int{3, 1, 3}})
	if err != nil || len(got) != 4 {
		t.Fatalf("two patch ports: got %v, %v; want 4 flows", got, err)
	}
}
