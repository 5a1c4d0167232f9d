package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Pod is a Kubernetes Pod run by `podman kube play` inside a lab node's network namespace,
// as kubelet would run a hostNetwork pod on that node.
type Pod struct {
	Name    string
	file    string
	netns   string
	env     []string
	volumes []string // podman keeps a ConfigMap's volume, named after it, after the pod
}

// podmanEnv points podman at the repository's containers.conf (runc, explicit ulimits), so
// the machine's own configuration is not needed.
func podmanEnv() []string {
	_, here, _, _ := runtime.Caller(0)
	return []string{"CONTAINERS_CONF=" + filepath.Join(filepath.Dir(here), "../../deploy/container/containers.conf")}
}

// HavePodman reports what is missing to run pods, or "".
func HavePodman() string {
	for _, b := range []string{"podman", "nsenter", "runc", "catatonit"} {
		if _, err := exec.LookPath(b); err != nil {
			return b
		}
	}
	return ""
}

// ImageExists reports whether podman's store has image.
func ImageExists(ctx context.Context, image string) bool {
	_, err := Run(ctx, "", podmanEnv(), "podman", "image", "exists", image)
	return err == nil
}

// PlayPod runs the Pod in podFile (with the ConfigMaps in configMaps) in node's network
// namespace. Not `ip netns exec`: it remounts /sys, where podman then cannot make cgroups.
// On error the pod is removed again.
func (l *Lab) PlayPod(ctx context.Context, node, name, podFile string, configMaps ...string) (*Pod, error) {
	n := l.nodes[node]
	if n == nil {
		return nil, fmt.Errorf("no node %q", node)
	}
	p := &Pod{Name: name, file: podFile, netns: n.Netns, env: podmanEnv()}
	for _, cm := range configMaps {
		b, err := os.ReadFile(cm)
		if err != nil {
			return nil, err
		}
		var obj struct {
			Metadata struct{ Name string } `yaml:"metadata"`
		}
		if err := yaml.Unmarshal(b, &obj); err != nil || obj.Metadata.Name == "" {
			return nil, fmt.Errorf("ConfigMap %s: no metadata.name (%v)", cm, err)
		}
		p.volumes = append(p.volumes, obj.Metadata.Name)
	}
	argv := []string{"nsenter", "--net=/run/netns/" + n.Netns, "podman", "kube", "play"}
	for _, cm := range configMaps {
		argv = append(argv, "--configmap", cm)
	}
	ctx, cancel := context.WithTimeout(ctx, Scaled(3*time.Minute))
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], append(argv[1:], podFile)...)
	cmd.Env = append(os.Environ(), p.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("podman kube play %s in %s: %w: %s", podFile, node, err, out), p.Remove())
	}
	l.logf("  %s: pod %s playing", node, name)
	return p, nil
}

// Container is the name podman gives a container of the pod.
func (p *Pod) Container(name string) string { return p.Name + "-" + name }

// Podman runs a podman command with the lab's settings.
func (p *Pod) Podman(ctx context.Context, args ...string) (string, error) {
	return Run(ctx, "", p.env, append([]string{"podman"}, args...)...)
}

// Start starts a stopped container of the pod again, as kubelet restarts a container that
// died. It runs in the node's namespace: a host-network container joins the namespace of the
// podman that starts it.
func (p *Pod) Start(ctx context.Context, container string) error {
	_, err := Run(ctx, "", p.env, "nsenter", "--net=/run/netns/"+p.netns, "podman", "start", p.Container(container))
	return err
}

// Logs returns a container's log tail.
func (p *Pod) Logs(ctx context.Context, container string, lines int) string {
	out, err := p.Podman(ctx, "logs", "--tail", itoa(lines), p.Container(container))
	if err != nil {
		return err.Error()
	}
	return out
}

// Remove stops and removes the pod and its containers; a missing pod is not an error.
func (p *Pod) Remove() error {
	ctx, cancel := context.WithTimeout(context.Background(), Scaled(2*time.Minute))
	defer cancel()
	var errs []error
	out, err := p.Podman(ctx, "pod", "rm", "--force", "--time", "10", p.Name)
	if err != nil && !strings.Contains(out, "no pod with name") {
		errs = append(errs, fmt.Errorf("remove pod %s: %w", p.Name, err))
	}
	for _, v := range p.volumes {
		if out, err := p.Podman(ctx, "volume", "rm", "--force", v); err != nil && !strings.Contains(out, "no such volume") {
			errs = append(errs, fmt.Errorf("remove volume %s: %w", v, err))
		}
	}
	return errors.Join(errs...)
}
