package metrics

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const monitoringDir = "../../deploy/monitoring"

// metricName finds the agent's metric names in PromQL and Grafana queries.
var metricName = regexp.MustCompile(`\bovn_bgp_agent_[a-z0-9_]+`)

// registered returns every series name the registry exposes, with the _bucket, _sum and
// _count names of histograms, after every metric has a sample.
func registered(t *testing.T) map[string]bool {
	t.Helper()
	m := populated(t)
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[f.GetName()+s] = true
			}
		}
	}
	return names
}

func TestDashboardsReferenceRealMetrics(t *testing.T) {
	names := registered(t)
	files, err := filepath.Glob(filepath.Join(monitoringDir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no files in %s (%v)", monitoringDir, err)
	}
	var sawDashboard, sawRules bool
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var exprs []string
		switch filepath.Ext(file) {
		case ".json":
			sawDashboard = true
			var dash map[string]any
			if err := json.Unmarshal(data, &dash); err != nil {
				t.Fatalf("%s: not JSON: %v", file, err)
			}
			if panels, _ := dash["panels"].([]any); len(panels) == 0 {
				t.Errorf("%s: a dashboard without panels", file)
			}
			exprs = jsonStrings(dash)
		case ".yaml", ".yml":
			sawRules = true
			exprs = checkRules(t, file, data)
		default:
			t.Errorf("%s: neither a dashboard (.json) nor rules (.yaml)", file)
			continue
		}
		refs := 0
		for _, e := range exprs {
			for _, n := range metricName.FindAllString(e, -1) {
				refs++
				if !names[n] {
					t.Errorf("%s refers to %s, which the agent does not register", filepath.Base(file), n)
				}
			}
		}
		if refs < 5 {
			t.Errorf("%s refers to %d metrics of the agent: the check would prove nothing", filepath.Base(file), refs)
		}
	}
	if !sawDashboard || !sawRules {
		t.Errorf("dashboard found: %v, rules found: %v; want both", sawDashboard, sawRules)
	}
}

// checkRules parses a PrometheusRule and returns its expressions; every alert needs a
// severity and a summary.
func checkRules(t *testing.T, file string, data []byte) []string {
	t.Helper()
	var pr struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name   string            `yaml:"name"`
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Spec struct {
			Groups []struct {
				Name  string `yaml:"name"`
				Rules []struct {
					Alert       string            `yaml:"alert"`
					Expr        string            `yaml:"expr"`
					For         string            `yaml:"for"`
					Labels      map[string]string `yaml:"labels"`
					Annotations map[string]string `yaml:"annotations"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		} `yaml:"spec"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&pr); err != nil {
		t.Fatalf("%s: not a PrometheusRule: %v", file, err)
	}
	if pr.Kind != "PrometheusRule" || pr.APIVersion != "monitoring.coreos.com/v1" || pr.Metadata.Name == "" {
		t.Errorf("%s: %s %s named %q, want a named monitoring.coreos.com/v1 PrometheusRule", file, pr.APIVersion, pr.Kind, pr.Metadata.Name)
	}
	var exprs, alerts []string
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			exprs = append(exprs, r.Expr)
			if r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s: alert %q needs expr, labels.severity and annotations.summary", file, r.Alert)
			}
		}
	}
	// What issue #8 asks operators be alerted on.
	for _, want := range []string{"OVNBGPAgentBGPSessionDown", "OVNBGPAgentBFDPeerDown", "OVNBGPAgentFRRReloadFailing",
		"OVNBGPAgentOVNDisconnected", "OVNBGPAgentReconcileErrors"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("%s: no alert %s", file, want)
		}
	}
	return exprs
}

// jsonStrings returns every string value in a decoded JSON document: queries sit in panels'
// targets and in template variables alike.
func jsonStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, jsonStrings(x)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, x := range v {
			out = append(out, jsonStrings(x)...)
		}
		return out
	}
	return nil
}
