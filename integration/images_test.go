package integration

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

// TestContainerlabImagesStart starts the node and central images the containerlab files name
// (built by `make image`) and checks that their daemons answer: OVS, ovn-controller and FRR
// on the node; NB, SB and ovn-northd on central.
func TestContainerlabImagesStart(t *testing.T) {
	t.Parallel()
	requireLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), lab.Scaled(3*time.Minute))
	defer cancel()
	images := map[string]struct {
		image  string
		checks [][]string
	}{
		"node": {"localhost/ovn-bgp-agent/node:latest", [][]string{
			{"ovs-vsctl", "br-exists", "br-int"},
			{"ovn-appctl", "-t", "ovn-controller", "version"},
			{"vtysh", "-c", "show version"},
		}},
		"central": {"localhost/ovn-bgp-agent/ovn-central:23.03", [][]string{
			{"ovn-nbctl", "--db=tcp:127.0.0.1:6641", "show"},
			{"ovn-sbctl", "--db=tcp:127.0.0.1:6642", "show"},
			{"ovn-appctl", "-t", "ovn-northd", "status"},
		}},
	}
	env := []string{"CONTAINERS_CONF=../deploy/container/containers.conf"}
	for role, img := range images {
		if missing := lab.HavePodman(); missing != "" || !lab.ImageExists(ctx, img.image) {
			msg := "needs podman and " + img.image + " (make image)"
			if os.Getenv("CI") == "true" {
				t.Fatal(msg + " (CI=true: failing instead of skipping)")
			}
			t.Skip(msg)
		}
		name := fmt.Sprintf("obgp-smoke-%s-%d", role, os.Getpid())
		if _, err := lab.Run(ctx, "", env, "podman", "run", "-d", "--name", name, "--privileged", "--network", "none", img.image); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if _, err := lab.Run(context.Background(), "", env, "podman", "rm", "--force", "--time", "2", name); err != nil {
				t.Error(err)
			}
		})
		for _, check := range img.checks {
			if err := lab.Poll(ctx, time.Minute, role+": "+strings.Join(check, " "), func() (bool, error) {
				_, err := lab.Run(ctx, "", env, append([]string{"podman", "exec", name}, check...)...)
				return err == nil, err
			}); err != nil {
				logs, _ := lab.Run(ctx, "", env, "podman", "logs", "--tail", "20", name)
				t.Errorf("%v\ncontainer log:\n%s", err, logs)
			}
		}
	}
}
