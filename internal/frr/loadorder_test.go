package frr

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPolicyFirst(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", ""},
		{"no bgp", "frr defaults traditional\n!\nroute-map A permit 10\n match interface bgp-nic\nexit\n!\n",
			"frr defaults traditional\n!\nroute-map A permit 10\n match interface bgp-nic\nexit\n!\n"},
		{
			name: "policy moves before router bgp, in order, blocks whole",
			in: `frr defaults traditional
log syslog informational
!
router bgp 64999
 neighbor 172.30.1.254 remote-as 65000
 !
 address-family ipv4 unicast
  redistribute connected route-map ovn-bgp-agent-connected
 exit-address-family
exit
!
router bgp 64999 vrf bgp-vrf
 address-family ipv4 unicast
  redistribute connected
 exit-address-family
exit
!
ip prefix-list P seq 5 permit any
!
bgp as-path access-list ovn-bgp-agent-originated seq 5 permit ^$
!
route-map ovn-bgp-agent-connected permit 9
 match ip address prefix-list P
exit
!
route-map ovn-bgp-agent-connected permit 10
 match interface bgp-nic
exit
!
bfd
 profile relaxed
 exit
 !
exit
!
`,
			want: `frr defaults traditional
log syslog informational
!
ip prefix-list P seq 5 permit any
!
bgp as-path access-list ovn-bgp-agent-originated seq 5 permit ^$
!
route-map ovn-bgp-agent-connected permit 9
 match ip address prefix-list P
exit
!
route-map ovn-bgp-agent-connected permit 10
 match interface bgp-nic
exit
!
router bgp 64999
 neighbor 172.30.1.254 remote-as 65000
 !
 address-family ipv4 unicast
  redistribute connected route-map ovn-bgp-agent-connected
 exit-address-family
exit
!
router bgp 64999 vrf bgp-vrf
 address-family ipv4 unicast
  redistribute connected
 exit-address-family
exit
!
bfd
 profile relaxed
 exit
 !
exit
!
`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, policyFirst(tc.in)); d != "" {
				t.Errorf("policyFirst (-want +got):\n%s", d)
			}
		})
	}
}

// Every golden reordered keeps every line, and no line naming a route-map or list comes
// before that route-map or list is defined.
func TestPolicyFirstGoldens(t *testing.T) {
	files, err := filepath.Glob("../../testdata/frr/*.conf")
	if err != nil || len(files) == 0 {
		t.Fatalf("no goldens: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got := policyFirst(string(b))
		in, out := strings.Split(string(b), "\n"), strings.Split(got, "\n")
		slices.Sort(in)
		slices.Sort(out)
		if d := cmp.Diff(in, out); d != "" {
			t.Errorf("%s: lines changed (-in +out):\n%s", filepath.Base(f), d)
		}
		bgp := strings.Index(got, "\nrouter bgp ")
		for _, l := range strings.Split(got, "\n") {
			if bgp >= 0 && isPolicy(l) && strings.Index(got, l+"\n") > bgp {
				t.Errorf("%s: %q after router bgp:\n%s", filepath.Base(f), l, got)
				break
			}
		}
	}
}
