// Package deploy holds the deployment files; this test keeps the Kubernetes manifests
// consistent with the agent they deploy.
package deploy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/frr"
)

// object is the part of a Kubernetes object this test reads.
type object struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Template struct {
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
		PodMetricsEndpoints []struct {
			Port string `yaml:"port"`
			Path string `yaml:"path"`
		} `yaml:"podMetricsEndpoints"`
	} `yaml:"spec"`
}

type podSpec struct {
	HostNetwork bool        `yaml:"hostNetwork"`
	Containers  []container `yaml:"containers"`
	Volumes     []struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
	} `yaml:"volumes"`
}

type container struct {
	Name  string   `yaml:"name"`
	Args  []string `yaml:"args"`
	Env   []struct{ Name, Value string }
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	VolumeMounts   []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		SubPath   string `yaml:"subPath"`
	} `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port int    `yaml:"port"`
	} `yaml:"httpGet"`
}

func readObjects(t *testing.T, file string) map[string]object {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]object{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var o object
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		out[o.Kind] = o
	}
}

// mountConfigMap writes a ConfigMap's keys into a directory, as its volume would show them.
func mountConfigMap(t *testing.T, cm object) string {
	t.Helper()
	dir := t.TempDir()
	for k, v := range cm.Data {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestKubernetesManifestsMatchTheAgent(t *testing.T) {
	objs := readObjects(t, "kubernetes/base/ovn-bgp-agent.yaml")
	cm, ds, pm := objs["ConfigMap"], objs["DaemonSet"], objs["PodMonitor"]
	if cm.Data["config.yaml"] == "" || ds.Kind == "" || pm.Kind == "" {
		t.Fatalf("want a ConfigMap with config.yaml, a DaemonSet and a PodMonitor, got %v", objs)
	}
	pod := ds.Spec.Template.Spec
	if !pod.HostNetwork {
		t.Error("the pod must use the host network: the agent and FRR work on the node's interfaces")
	}
	var agent *container
	for i := range pod.Containers {
		if pod.Containers[i].Name == "ovn-bgp-agent" {
			agent = &pod.Containers[i]
		}
	}
	if agent == nil || len(agent.Args) < 3 || agent.Args[0] != "run" || agent.Args[1] != "--config" {
		t.Fatalf("the agent container must run `run --config FILE`, got %+v", agent)
	}
	cfgPath := agent.Args[2]

	// The ConfigMap is mounted as a directory at the config file's directory: subPath
	// mounts never see ConfigMap updates.
	cmVolume := ""
	for _, v := range pod.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == cm.Metadata.Name {
			cmVolume = v.Name
		}
	}
	mountDir := ""
	for _, m := range agent.VolumeMounts {
		if m.Name == cmVolume {
			if m.SubPath != "" {
				t.Errorf("the ConfigMap is mounted with subPath %q: live reload would never see an update", m.SubPath)
			}
			mountDir = m.MountPath
		}
	}
	if mountDir == "" || path.Dir(cfgPath) != mountDir || cm.Data[path.Base(cfgPath)] == "" {
		t.Fatalf("--config %s is not a key of ConfigMap %s mounted at its directory (mounted at %q)", cfgPath, cm.Metadata.Name, mountDir)
	}

	// The configuration is valid for this agent, with the container's environment on top,
	// and renders an FRR configuration. Validation reads the files it names, so the mount
	// directory is where the test mounted the ConfigMap.
	dir := mountConfigMap(t, cm)
	text := strings.ReplaceAll(cm.Data[path.Base(cfgPath)], mountDir+"/", dir+"/")
	if err := os.WriteFile(filepath.Join(dir, path.Base(cfgPath)), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, e := range agent.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	cfg, warnings, err := config.LoadWithWarnings(filepath.Join(dir, path.Base(cfgPath)), env)
	if err != nil {
		t.Fatalf("the ConfigMap's %s is not a valid configuration:\n%v", path.Base(cfgPath), err)
	}
	if len(warnings) > 0 {
		t.Errorf("the shipped configuration has warnings: %v", warnings)
	}
	if x := cfg.FRR.ExtraConfig; x != "" && (!strings.HasPrefix(x, dir+"/") || cm.Data[path.Base(x)] == "") {
		t.Errorf("frr.extra_config %s is not a key of the ConfigMap mounted at %s", x, mountDir)
	}
	if _, err := frr.NewManager(cfg, nil).Render(); err != nil {
		t.Errorf("the shipped configuration does not render: %v", err)
	}

	// Probes and the scrape reach the agent's listener.
	_, port, err := net.SplitHostPort(cfg.Metrics.Listen)
	if err != nil {
		t.Fatalf("metrics.listen %q: %v", cfg.Metrics.Listen, err)
	}
	if host, _, _ := net.SplitHostPort(cfg.Metrics.Listen); host == "127.0.0.1" || host == "localhost" || host == "::1" {
		t.Errorf("metrics.listen %s is loopback only: kubelet probes and Prometheus could not reach it", cfg.Metrics.Listen)
	}
	portName := ""
	for _, p := range agent.Ports {
		if port == strconv.Itoa(p.ContainerPort) {
			portName = p.Name
		}
	}
	if portName == "" {
		t.Errorf("no container port is metrics.listen's port %s", port)
	}
	for name, pr := range map[string]*probe{"/healthz": agent.LivenessProbe, "/readyz": agent.ReadinessProbe} {
		if pr == nil || pr.HTTPGet.Path != name || strconv.Itoa(pr.HTTPGet.Port) != port {
			t.Errorf("probe for %s must be httpGet %s on port %s, got %+v", name, name, port, pr)
		}
	}
	if len(pm.Spec.PodMetricsEndpoints) != 1 || pm.Spec.PodMetricsEndpoints[0].Port != portName || pm.Spec.PodMetricsEndpoints[0].Path != "/metrics" {
		t.Errorf("the PodMonitor must scrape /metrics on port %q, got %+v", portName, pm.Spec.PodMetricsEndpoints)
	}
}

func TestUpstreamConfigMapIsAccepted(t *testing.T) {
	cm := readObjects(t, "kubernetes/ovn-bgp-agent-upstream-config.yaml")["ConfigMap"]
	dir := mountConfigMap(t, cm)
	cfg, _, err := config.LoadWithWarnings(filepath.Join(dir, "ovn_bgp_agent.conf"), nil)
	if err != nil {
		t.Fatalf("upstream INI ConfigMap rejected:\n%v", err)
	}
	if cfg.Driver != "ovn_bgp_driver" || cfg.BGP.AS != 64999 || cfg.OVN.NBTLS.CACert == "" {
		t.Errorf("upstream INI ConfigMap read wrong: %+v", cfg)
	}
}
