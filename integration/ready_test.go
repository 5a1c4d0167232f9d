package integration

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

// TestReadyWithoutBFD: on a node whose FRR runs zebra and bgpd only and whose configuration
// uses no BFD, /readyz becomes ready (it used to wait for ever on "bfdd is not running").
func TestReadyWithoutBFD(t *testing.T) {
	t.Parallel()
	l, ctx := startLab(t)
	if err := l.Node(compute).FRR.KillDaemon("bfdd"); err != nil {
		t.Fatal(err)
	}
	src, err := l.AgentConfigFile(compute)
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	noBFD := strings.ReplaceAll(string(text), "bfd: true", "bfd: false")
	if noBFD == string(text) {
		t.Fatalf("%s: no peer with bfd: true to turn off", src)
	}
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(noBFD), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := l.StartAgentConfig(ctx, compute, cfg, nil); err != nil {
		t.Fatal(err)
	}
	addLocalVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
	waitRoute(t, ctx, l, "172.24.4.10/32")
	if err := lab.Poll(ctx, routeWait, "/readyz to become ready without bfdd", func() (bool, error) {
		code, body, err := l.HTTPGet(ctx, compute, agentHTTP+"/readyz")
		return err == nil && code == http.StatusOK, fmt.Errorf("%d %q %v", code, body, err)
	}); err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 30))
	}
}
