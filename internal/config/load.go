package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"gopkg.in/yaml.v3"
)

// Default returns the configuration used for every key that neither the file nor the
// environment sets.
func Default() Config {
	return Config{
		Driver:                            "nb_ovn_bgp_driver",
		ReconcileInterval:                 120 * time.Second,
		AdvertisementMethodTenantNetworks: "host",
		Exposure:                          Exposure{TenantSubnetMinLengthIPv4: 8, TenantSubnetMinLengthIPv6: 32},
		OVN: OVN{
			NBConnection:  "unix:/run/ovn/ovnnb_db.sock",
			OVSConnection: "unix:/run/openvswitch/db.sock",
		},
		BGP: BGP{
			AS:         64999,
			NIC:        "bgp-nic",
			VRF:        "bgp-vrf",
			VRFTableID: 10,
			// On by default: a restart of bgpd or of the whole FRR must not withdraw what the
			// node's kernel still forwards (gracefulrestart.go).
			GracefulRestart: GracefulRestart{Enabled: true},
		},
		FRR: FRR{
			VtySocket:     "/var/run/frr",
			ConfigFile:    "/etc/frr/frr.conf",
			ReloadCommand: "/usr/lib/frr/frr-reload.py",
			WatchInterval: 2 * time.Second,
			DaemonWait:    10 * time.Second,
			Log:           FRRLog{Target: "syslog", Level: "informational"},
		},
		Kernel: Kernel{
			RulePriority:    2000,
			RouteProtocol:   201, // kernel.DefaultRouteProtocol
			BridgeTableBase: 3000,
		},
		Log:     Log{Level: "info", Format: "text"},
		Metrics: Metrics{Listen: "127.0.0.1:9447"},
	}
}

// Load reads the YAML file at path ("" for none), applies OVN_BGP_AGENT_* variables from the
// process environment over it, and validates the result. See LoadWithEnv.
func Load(path string) (Config, error) {
	return LoadWithEnv(path, os.Environ())
}

// LoadWithEnv is Load with the environment given as "NAME=value" entries.
//
// Precedence, highest first: environment (bgp.as from OVN_BGP_AGENT_BGP_AS; an empty value
// overrides to empty), file, Default(). Keys are lower case; a scalar key written without a
// value is an error rather than a silent default, while an empty section or list is just empty.
// A file or value problem comes back as a *ValidationError listing every problem; a file that
// cannot be read or parsed, as an error naming the file.
func LoadWithEnv(path string, environ []string) (Config, error) {
	cfg, _, err := LoadWithWarnings(path, environ)
	return cfg, err
}

// LoadWithWarnings is LoadWithEnv that also returns the warnings of a valid load: upstream
// INI options that are accepted but have no effect here. It is the one validation: start-up,
// check-config and the Reloader all call it, so they take exactly the same files. It reads
// the password and extra-config files the configuration names.
//
// The file is YAML, or upstream's INI form (by extension .conf/.ini/.cfg, or a first line
// that opens a [section]). Between the file and the OVN_BGP_AGENT_* variables sit the
// upstream-style variables operators set in DaemonSets (EXPOSE_TENANT_NETWORKS=true).
func LoadWithWarnings(path string, environ []string) (Config, []string, error) {
	var ps problems
	file, err := readFile(path, &ps)
	if err != nil {
		return Config{}, nil, err
	}
	peerDefaults(file.values)
	upstream := upstreamEnvOverrides(environ, &ps)
	env := envOverrides(environ, &ps)

	v := viper.New() // viper is not safe for concurrent use; one per load
	def := reflect.ValueOf(Default())
	for _, l := range leaves(def.Type(), "", nil) {
		// Every scalar gets a default, so that Unmarshal knows the key whatever sets it.
		v.SetDefault(l.key, def.FieldByIndex(l.index).Interface())
	}
	// The environment is merged into the config layer, over the file, rather than read with
	// AutomaticEnv: viper reads env only from the process, so tests could not pass their own.
	// It leaves viper's flag layer above both, for flags bound later.
	for _, layer := range []map[string]any{file.values, upstream, env} {
		if err := v.MergeConfigMap(layer); err != nil {
			return Config{}, nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	var cfg Config
	// Values were converted and unknown keys refused above; decoding is a plain copy, and any
	// error here is a bug in this package.
	if err := v.Unmarshal(&cfg, func(c *mapstructure.DecoderConfig) {
		c.DecodeHook = nil
		c.WeaklyTypedInput = false
		c.ErrorUnused = true
	}); err != nil {
		return Config{}, nil, fmt.Errorf("decode config: %w", err)
	}
	// An ssl: remote without (all) its files uses upstream's default paths. An SB remote
	// from the local OVS is only known at connect time, where the same defaults apply.
	if strings.Contains(cfg.OVN.NBConnection, "ssl:") {
		cfg.OVN.NBTLS = cfg.OVN.NBTLS.ForSSL()
	}
	if strings.Contains(cfg.OVN.SBConnection, "ssl:") {
		cfg.OVN.SBTLS = cfg.OVN.SBTLS.ForSSL()
	}
	if len(cfg.AddressScopes) == 0 {
		cfg.AddressScopes = nil
	}
	if len(cfg.BGP.Peers) == 0 {
		cfg.BGP.Peers = nil // "peers: []" and no peers at all are the same configuration
	}
	if len(cfg.BGP.PeerGroups) == 0 {
		cfg.BGP.PeerGroups = nil
	}
	if len(cfg.BGP.Networks) == 0 {
		cfg.BGP.Networks = nil
	}
	defaultINIBase(&cfg, file.ini, upstream, env)
	for _, p := range validate(cfg) {
		if !ps.covered(p.Key) {
			if name, ok := file.names[p.Key]; ok {
				p.Key = name + " (" + p.Key + ")" // the operator wrote the upstream name
			}
			ps.list = append(ps.list, p)
		}
	}
	if err := ps.err(); err != nil {
		return Config{}, nil, err
	}
	return cfg, file.warnings, nil
}

// fileLayer is what the configuration file contributes.
type fileLayer struct {
	values   map[string]any
	warnings []string          // INI options accepted without effect
	names    map[string]string // Config key → INI option, for messages
	ini      bool              // upstream's INI form
}

// Validate checks a Config built in code by the rules a loaded file passes, reading the
// password and extra-config files it names. It returns a *ValidationError, or nil.
func (c Config) Validate() error {
	ps := problems{list: validate(c)}
	return ps.err()
}

// readFile parses and checks the file; empty when there is none or it is empty.
func readFile(path string, ps *problems) (fileLayer, error) {
	if path == "" {
		return fileLayer{}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fileLayer{}, fmt.Errorf("read config: %w", err) // the *PathError names the file
	}
	if isINI(path, data) {
		values, warnings, names := readINI(data, ps)
		return fileLayer{values: values, warnings: warnings, names: names, ini: true}, nil
	}
	doc, err := parseYAML(data)
	if err != nil {
		return fileLayer{}, fmt.Errorf("parse config %s: %w", path, err)
	}
	if doc == nil {
		return fileLayer{}, nil
	}
	if _, ok := stringMap(doc); !ok {
		return fileLayer{}, fmt.Errorf("parse config %s: the top level must be a mapping of keys, got %s", path, describe(doc))
	}
	return fileLayer{values: checkSection("", doc, reflect.TypeFor[Config](), ps)}, nil
}

// parseYAML returns the file's one document; nil for an empty file. Empty documents, as left by
// a trailing "---", do not count.
func parseYAML(data []byte) (any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc any
	for {
		var next any
		if err := dec.Decode(&next); errors.Is(err, io.EOF) {
			return doc, nil
		} else if err != nil {
			return nil, err
		}
		if next == nil {
			continue
		}
		if doc != nil {
			return nil, errors.New("more than one YAML document")
		}
		doc = next
	}
}
