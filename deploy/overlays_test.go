package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// The overlays are rendered here by a small renderer of the kustomize features they use
// (resources, nameSuffix, strategic-merge patches): Debian packages no kustomize, so `make
// test` cannot count on one. Where kubectl is installed, its `kubectl kustomize` output must
// equal this renderer's, which keeps the renderer honest.

type kustomization struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Resources  []string `yaml:"resources"`
	NameSuffix string   `yaml:"nameSuffix"`
	Patches    []struct {
		Path string `yaml:"path"`
	} `yaml:"patches"`
}

type obj = map[string]any

// render builds the objects of the kustomization in dir.
func render(dir string) ([]obj, error) {
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	var k kustomization
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true) // a kustomize feature this renderer lacks must fail, not be ignored
	if err := dec.Decode(&k); err != nil {
		return nil, fmt.Errorf("%s/kustomization.yaml: %w", dir, err)
	}
	var out []obj
	for _, r := range k.Resources {
		p := filepath.Join(dir, r)
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		var objs []obj
		if st.IsDir() {
			objs, err = render(p)
		} else {
			objs, err = readYAML(p)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	for _, pt := range k.Patches {
		patches, err := readYAML(filepath.Join(dir, pt.Path))
		if err != nil {
			return nil, err
		}
		for _, patch := range patches {
			target := -1
			for i, o := range out {
				if o["kind"] == patch["kind"] && name(o) == name(patch) {
					target = i
				}
			}
			if target < 0 {
				return nil, fmt.Errorf("%s: no %v %s to patch", pt.Path, patch["kind"], name(patch))
			}
			out[target] = merge(out[target], patch).(obj)
		}
	}
	if k.NameSuffix != "" {
		renamed := map[string]string{} // ConfigMap renames, for the volumes that refer to them
		for _, o := range out {
			md := o["metadata"].(obj)
			if o["kind"] == "ConfigMap" {
				renamed[name(o)] = name(o) + k.NameSuffix
			}
			md["name"] = name(o) + k.NameSuffix
		}
		for _, o := range out {
			for _, v := range podVolumes(o) {
				if cm, ok := v["configMap"].(obj); ok {
					if n, ok := renamed[cm["name"].(string)]; ok {
						cm["name"] = n
					}
				}
			}
		}
	}
	return out, nil
}

func readYAML(file string) ([]obj, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []obj
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var o obj
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if o != nil {
			out = append(out, o)
		}
	}
}

func name(o obj) string {
	md, _ := o["metadata"].(obj)
	n, _ := md["name"].(string)
	return n
}

// merge is a strategic merge: maps merge key by key, lists of named maps (containers, env,
// volumes) merge by name, other values are replaced by the patch's.
func merge(base, patch any) any {
	switch p := patch.(type) {
	case obj:
		b, ok := base.(obj)
		if !ok {
			return p
		}
		for k, v := range p {
			b[k] = merge(b[k], v)
		}
		return b
	case []any:
		b, ok := base.([]any)
		if !ok || !namedList(p) || !namedList(b) {
			return p
		}
		// As kustomize does: the patch's entries first (merged with the base's of the same
		// name), then the base's other entries in their order.
		var out []any
		used := map[any]bool{}
		for _, pe := range p {
			merged := pe
			for _, be := range b {
				if be.(obj)["name"] == pe.(obj)["name"] {
					merged, used[be.(obj)["name"]] = merge(be, pe), true
				}
			}
			out = append(out, merged)
		}
		for _, be := range b {
			if !used[be.(obj)["name"]] {
				out = append(out, be)
			}
		}
		b = out
		return b
	}
	return patch
}

func namedList(l []any) bool {
	for _, e := range l {
		m, ok := e.(obj)
		if !ok || m["name"] == nil {
			return false
		}
	}
	return len(l) > 0
}

func templateSpec(o obj) obj {
	spec, _ := o["spec"].(obj)
	tmpl, _ := spec["template"].(obj)
	ps, _ := tmpl["spec"].(obj)
	return ps
}

func podVolumes(o obj) []obj {
	var out []obj
	vs, _ := templateSpec(o)["volumes"].([]any)
	for _, v := range vs {
		out = append(out, v.(obj))
	}
	return out
}

func get(o obj, path ...string) any {
	var cur any = o
	for _, k := range path {
		m, ok := cur.(obj)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

func TestKustomizeOverlays(t *testing.T) {
	tenants := map[string]bool{"compute": false, "networker": true}
	rendered := map[string][]obj{}
	for role, tenant := range tenants {
		t.Run(role, func(t *testing.T) {
			dir := filepath.Join("kubernetes/overlays", role)
			objs, err := render(dir)
			if err != nil {
				t.Fatal(err)
			}
			rendered[role] = objs
			byKind := map[string]obj{}
			for _, o := range objs {
				byKind[o["kind"].(string)] = o
			}
			ds, cm, pm := byKind["DaemonSet"], byKind["ConfigMap"], byKind["PodMonitor"]
			if ds == nil || cm == nil || pm == nil || len(objs) != 3 {
				t.Fatalf("want a DaemonSet, a ConfigMap and a PodMonitor, got %d objects", len(objs))
			}
			for _, o := range objs {
				if !strings.HasSuffix(name(o), "-"+role) {
					t.Errorf("%v %s is not named for the role: the two overlays would overwrite each other", o["kind"], name(o))
				}
			}

			// The selector picks exactly this role's pods, and so does the PodMonitor.
			podLabels, _ := get(ds, "spec", "template", "metadata", "labels").(obj)
			for _, sel := range []obj{get(ds, "spec", "selector", "matchLabels").(obj), get(pm, "spec", "selector", "matchLabels").(obj)} {
				if sel["ovn-bgp-agent/role"] != role {
					t.Errorf("selector %v does not select the role %s", sel, role)
				}
				for k, v := range sel {
					if podLabels[k] != v {
						t.Errorf("selector %s=%v does not match the pod labels %v", k, v, podLabels)
					}
				}
			}

			// Placement: networkers by their role label; compute nodes never on a networker.
			ps := templateSpec(ds)
			ns, _ := ps["nodeSelector"].(obj)
			if ns["feature.node.kubernetes.io/network-ovn-bgp"] != "true" {
				t.Errorf("the base's node selector was lost: %v", ns)
			}
			_, onNetworkers := ns["node-role.kubernetes.io/rhoso-networker"]
			if onNetworkers != tenant {
				t.Errorf("nodeSelector %v: selects node-role.kubernetes.io/rhoso-networker = %v, want %v", ns, onNetworkers, tenant)
			}
			if !tenant {
				terms := fmt.Sprint(get(ps, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"))
				if !strings.Contains(terms, "node-role.kubernetes.io/rhoso-networker") || !strings.Contains(terms, "DoesNotExist") {
					t.Errorf("compute pods may land on networker nodes: affinity %s", terms)
				}
			}

			// The ConfigMap the pod mounts is the overlay's, and with the container's
			// environment the agent's configuration has tenant exposure on networkers only.
			var cmVolume bool
			for _, v := range podVolumes(ds) {
				if get(v, "configMap", "name") == name(cm) {
					cmVolume = true
				}
			}
			if !cmVolume {
				t.Errorf("no volume mounts the overlay's ConfigMap %s", name(cm))
			}
			var env []string
			for _, c := range ps["containers"].([]any) {
				c := c.(obj)
				if c["name"] != "ovn-bgp-agent" {
					continue
				}
				for _, e := range c["env"].([]any) {
					e := e.(obj)
					env = append(env, fmt.Sprintf("%s=%s", e["name"], e["value"]))
				}
			}
			if !slicesContain(env, "OVS_RUNDIR=/run/openvswitch") {
				t.Errorf("the base's environment was lost: %v", env)
			}
			// The ConfigMap's files where the agent reads them: its mount directory, here a
			// temporary one (the configuration names its extra-config file there).
			mount := t.TempDir()
			for name, text := range get(cm, "data").(obj) {
				body := strings.ReplaceAll(text.(string), "/etc/ovn-bgp-agent/", mount+"/")
				if err := os.WriteFile(filepath.Join(mount, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			file := filepath.Join(mount, "config.yaml")
			cfg, _, err := config.LoadWithWarnings(file, env)
			if err != nil {
				t.Fatalf("the %s configuration is invalid: %v", role, err)
			}
			if cfg.ExposeTenantNetworks != tenant {
				t.Errorf("%s: expose_tenant_networks = %v, want %v", role, cfg.ExposeTenantNetworks, tenant)
			}
		})
	}

	// kubectl is not packaged in Debian: when one is installed anyway, it must agree.
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Log("no kubectl: the overlays were rendered by this test only")
		return
	}
	for role, objs := range rendered {
		out, err := exec.Command("kubectl", "kustomize", filepath.Join("kubernetes/overlays", role)).CombinedOutput()
		if err != nil {
			t.Errorf("kubectl kustomize %s: %v\n%s", role, err, out)
			continue
		}
		file := filepath.Join(t.TempDir(), role+".yaml")
		if err := os.WriteFile(file, out, 0o644); err != nil {
			t.Fatal(err)
		}
		want, err := readYAML(file)
		if err != nil {
			t.Fatal(err)
		}
		sortByKind(want)
		sortByKind(objs)
		if !reflect.DeepEqual(normalize(want), normalize(objs)) {
			t.Errorf("%s: this test's rendering differs from kubectl kustomize's:\nkubectl: %v\nthis test: %v", role, normalize(want), normalize(objs))
		}
	}
}

func slicesContain(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}

func sortByKind(objs []obj) {
	sort.Slice(objs, func(i, j int) bool { return objs[i]["kind"].(string) < objs[j]["kind"].(string) })
}

// normalize round-trips through YAML so both renderings have the same Go types.
func normalize(objs []obj) []obj {
	b, _ := yaml.Marshal(objs)
	var out []obj
	_ = yaml.Unmarshal(b, &out)
	return out
}
