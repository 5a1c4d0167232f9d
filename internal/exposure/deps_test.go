package exposure_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCoreDependsOnNoClient keeps the core pure: exposure and the plain state it reads must
// not pull in a database client, the configuration library or an HTTP stack. A dependency
// like that is how I/O creeps into a function that must stay deterministic and fuzzable.
func TestCoreDependsOnNoClient(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed to list the core's dependencies: %v", err)
	}
	for _, pkg := range []string{".", "../ovnstate"} {
		out, err := exec.Command(goBin, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, banned := range []string{"libovsdb", "spf13/viper", "fsnotify", "net/http", "vishvananda/netlink"} {
				if strings.Contains(dep, banned) {
					t.Errorf("%s depends on %s (via %s): the core must do no I/O", pkg, banned, dep)
				}
			}
		}
	}
}
