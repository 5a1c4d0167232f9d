package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

const (
	manifest    = "../deploy/kubernetes/base/ovn-bgp-agent.yaml"
	podTopology = "../deploy/containerlab/provider-vm-pod.clab.yml"
	// The images `make image` builds, standing in for the manifest's registry images.
	agentImage = "localhost/ovn-bgp-agent:latest"
	frrImage   = "localhost/ovn-bgp-agent/frr:8.4.4"
)

// TestPodRunsSidecarPair runs the DaemonSet's pod template, as shipped, on the lab's compute
// node with podman: FRR and the agent share /etc/frr and /var/run/frr, the agent renders
// frr.conf and applies it into the FRR container with frr-reload.py, the VM's /32 reaches
// the ToR, the probes' endpoints answer, and a killed FRR container gets the configuration
// back from the agent.
func TestPodRunsSidecarPair(t *testing.T) {
	t.Parallel()
	requirePodman(t)
	l, ctx := startLabFrom(t, podTopology)
	dir := t.TempDir()
	name := "obgp-" + strings.TrimSuffix(filepath.Base(l.Node(compute).Netns), "-compute")
	podFile, cmFile, probes := podFromManifest(t, dir, name, l.Node(compute).Dir)

	pod, err := l.PlayPod(ctx, compute, name, podFile, cmFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent container log:\n%s", pod.Logs(context.Background(), "ovn-bgp-agent", 60))
			t.Logf("FRR container log:\n%s", pod.Logs(context.Background(), "frr", 30))
		}
		if err := pod.Remove(); err != nil {
			t.Error(err)
		}
	})

	addLocalVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
	waitPodRoute(t, ctx, l, pod, "172.24.4.10/32")

	// The configuration came through frr-reload.py, into the FRR container's daemons.
	running, err := pod.Podman(ctx, "exec", pod.Container("frr"), "vtysh", "-c", "show running-config")
	if err != nil || !strings.Contains(running, "router bgp 64999") || !strings.Contains(running, "neighbor 172.30.1.254 remote-as 65000") {
		t.Errorf("the FRR container does not run the agent's configuration: %v\n%s", err, running)
	}
	// The agent's client tools (vtysh, frr-reload.py) are the FRR release the FRR container runs.
	var versions []string
	for _, c := range []string{"frr", "ovn-bgp-agent"} {
		out, err := pod.Podman(ctx, "exec", pod.Container(c), "dpkg-query", "-W", "-f", "${Version}", "frr", "frr-pythontools")
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, strings.TrimSpace(out))
	}
	if versions[0] != versions[1] {
		t.Errorf("the FRR container runs frr %q, the agent's client tools are %q", versions[0], versions[1])
	}
	for _, pr := range probes {
		url := fmt.Sprintf("http://127.0.0.1:%d%s", pr.port, pr.path)
		if err := lab.Poll(ctx, routeWait, pr.kind+" probe "+url, func() (bool, error) {
			code, body, err := l.HTTPGet(ctx, compute, url)
			if err != nil {
				return false, err
			}
			return code == 200, fmt.Errorf("status %d: %s", code, body)
		}); err != nil {
			t.Error(err)
		}
	}

	// FRR dies, as after a crash: the container is killed and started again, as kubelet would
	// (podman applies no restart policy to a killed container).
	if _, err := pod.Podman(ctx, "kill", pod.Container("frr")); err != nil {
		t.Fatal(err)
	}
	if err := lab.Poll(ctx, routeWait, "the FRR container to stop", func() (bool, error) {
		out, err := pod.Podman(ctx, "inspect", "--format", "{{.State.Status}}", pod.Container("frr"))
		return err == nil && strings.TrimSpace(out) == "exited", err
	}); err != nil {
		t.Fatal(err)
	}
	if err := pod.Start(ctx, "frr"); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	// The agent's configuration runs in the new bgpd again: either FRR loaded the agent's
	// frr.conf from the shared /etc/frr at its start (the volume outlives the container, as
	// in the real pod), or the agent's watch saw it missing and applied it.
	if err := lab.Poll(ctx, 2*routeWait, "the agent's configuration in the restarted FRR", func() (bool, error) {
		out, err := pod.Podman(ctx, "exec", pod.Container("frr"), "vtysh", "-d", "bgpd", "-c", "show running-config")
		return err == nil && strings.Contains(out, "route-map ovn-bgp-agent-connected permit 10"), nil
	}); err != nil {
		t.Fatal(err)
	}
	how := "FRR loaded the agent's frr.conf from the shared volume"
	if strings.Contains(pod.Logs(ctx, "ovn-bgp-agent", 40), "FRR lost the agent's config; re-applying") {
		how = "the agent re-applied it"
	}
	t.Logf("FRR container restarted: %s", how)
	waitPodRoute(t, ctx, l, pod, "172.24.4.10/32")
	t.Logf("FRR container started again → configuration re-applied and 172.24.4.10/32 back at the ToR in %v",
		time.Since(killed).Round(time.Millisecond))
}

// requirePodman skips (fails with CI=true) without podman or the images `make image` builds.
func requirePodman(t *testing.T) {
	t.Helper()
	requireLab(t)
	missing := lab.HavePodman()
	if missing == "" {
		for _, img := range []string{agentImage, frrImage} {
			if !lab.ImageExists(context.Background(), img) {
				missing = "the image " + img + " (make image)"
				break
			}
		}
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("pod test cannot run: needs %s (CI=true: failing instead of skipping)", missing)
	}
	t.Skipf("pod test needs %s; run 'make image'", missing)
}

// waitPodRoute is waitRoute with the pod's logs on failure.
func waitPodRoute(t *testing.T, ctx context.Context, l *lab.Lab, pod *lab.Pod, prefix string) {
	t.Helper()
	err := lab.Poll(ctx, 2*routeWait, prefix+" at the ToR via "+computeBGP, routeAtToR(ctx, l, prefix))
	if err != nil {
		sum, _ := l.Node(tor).FRR.Vtysh(ctx, "show bgp summary", "show bfd peers brief")
		frrRun, _ := pod.Podman(ctx, "exec", pod.Container("frr"), "vtysh", "-c", "show bgp summary")
		t.Fatalf("%v\nToR:\n%s\nFRR container:\n%s\nagent container log:\n%s", err, sum, frrRun, pod.Logs(ctx, "ovn-bgp-agent", 40))
	}
}

type probeEndpoint struct {
	kind, path string
	port       int
}

// podFromManifest writes the DaemonSet's pod template as a Pod, and its ConfigMap, for
// podman kube play. What it changes, and why:
//   - images: the ones `make image` built (no registry here), never pulled;
//   - the agent's config.yaml: this lab's OVN and ToR instead of the cluster's (TLS, BGP
//     unnumbered on eth1/eth2), and no VRF (this kernel has none; the VM tier runs VRFs);
//     everything else in the ConfigMap (daemons, frr-extra.conf) as shipped;
//   - the TLS secret: an empty directory (the lab's OVN speaks TCP);
//   - /var/run/openvswitch: the node's OVS run directory in the lab;
//   - the probes: podman would run them with curl inside the agent image, which has none;
//     the test requests the same endpoints itself and returns them;
//   - the containers' ports: informational with hostNetwork, but podman 4.3 refuses them;
//   - the init container is kept after it ran (podman annotation), see below.
func podFromManifest(t *testing.T, dir, name, ovsRun string) (podFile, cmFile string, probes []probeEndpoint) {
	t.Helper()
	b, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var ds, cm map[string]any
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			break
		}
		switch obj["kind"] {
		case "DaemonSet":
			ds = obj
		case "ConfigMap":
			cm = obj
		}
	}
	if ds == nil || cm == nil {
		t.Fatalf("%s: want a DaemonSet and a ConfigMap", manifest)
	}
	tmpl := dig(t, ds, "spec", "template")
	spec := dig(t, tmpl, "spec")
	cmName := name + "-config"
	delete(spec, "nodeSelector")
	for _, list := range []string{"initContainers", "containers"} {
		cs, _ := spec[list].([]any)
		for _, c := range cs {
			c := c.(map[string]any)
			switch img := c["image"].(string); {
			case strings.Contains(img, "frrouting/frr"):
				c["image"] = frrImage
			case strings.Contains(img, "ovn-bgp-agent"):
				c["image"] = agentImage
			default:
				t.Fatalf("container %v: unknown image %s", c["name"], img)
			}
			c["imagePullPolicy"] = "Never"
			delete(c, "ports") // podman 4.3 refuses port mappings with the host network
			for kind, key := range map[string]string{"liveness": "livenessProbe", "readiness": "readinessProbe"} {
				if p, ok := c[key].(map[string]any); ok {
					get := dig(t, p, "httpGet")
					probes = append(probes, probeEndpoint{kind: kind, path: get["path"].(string), port: get["port"].(int)})
					delete(c, key)
				}
			}
		}
	}
	if len(probes) != 2 {
		t.Fatalf("want a liveness and a readiness probe in the manifest, found %v", probes)
	}
	vols, _ := spec["volumes"].([]any)
	for _, v := range vols {
		v := v.(map[string]any)
		switch {
		case v["configMap"] != nil:
			v["configMap"] = map[string]any{"name": cmName}
		case v["secret"] != nil:
			delete(v, "secret")
			v["emptyDir"] = map[string]any{}
		case v["hostPath"] != nil && v["name"] == "ovs-run":
			v["hostPath"] = map[string]any{"path": ovsRun, "type": "Directory"}
		}
	}
	pod := map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "labels": dig(t, tmpl, "metadata")["labels"],
			// podman 4.3 removes a "once" init container right after it ran and, on a busy
			// machine, fails the whole play when that container is not yet seen stopped.
			"annotations": map[string]any{"io.podman.annotations.init.container.type": "always"}},
		"spec": spec,
	}

	data := dig(t, cm, "data")
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(data["config.yaml"].(string)), &cfg); err != nil {
		t.Fatalf("config.yaml in %s: %v", manifest, err)
	}
	cfg["ovn"] = map[string]any{"nb_connection": "tcp:172.30.0.1:6641", "ovs_connection": "unix:/run/openvswitch/db.sock"}
	bgp := dig(t, cfg, "bgp")
	bgp["vrf"] = ""
	bgp["router_id"] = computeBGP
	bgp["peers"] = []any{map[string]any{"address": "172.30.1.254", "remote_as": 65000, "bfd_profile": "tor"}}
	cfgText, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	data["config.yaml"] = string(cfgText)
	dig(t, cm, "metadata")["name"] = cmName
	delete(dig(t, cm, "metadata"), "namespace")

	podFile, cmFile = filepath.Join(dir, "pod.yaml"), filepath.Join(dir, "configmap.yaml")
	for file, obj := range map[string]any{podFile: pod, cmFile: cm} {
		out, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return podFile, cmFile, probes
}

// dig returns the map at path in obj, failing the test when it is not there.
func dig(t *testing.T, obj map[string]any, path ...string) map[string]any {
	t.Helper()
	cur := obj
	for _, k := range path {
		next, ok := cur[k].(map[string]any)
		if !ok {
			t.Fatalf("%s: no map at %s", manifest, strings.Join(path, "."))
		}
		cur = next
	}
	return cur
}
