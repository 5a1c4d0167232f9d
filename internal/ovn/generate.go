package ovn

// Models are generated from the schemas that Debian's ovn-central and openvswitch-switch install,
// so they match the databases the agent talks to. Regenerate with `make generate`.
//go:generate go run github.com/ovn-kubernetes/libovsdb/cmd/modelgen -extended -p nbdb -o nbdb /usr/share/ovn/ovn-nb.ovsschema
//go:generate go run github.com/ovn-kubernetes/libovsdb/cmd/modelgen -extended -p sbdb -o sbdb /usr/share/ovn/ovn-sb.ovsschema
//go:generate go run github.com/ovn-kubernetes/libovsdb/cmd/modelgen -extended -p vswitchd -o vswitchd /usr/share/openvswitch/vswitch.ovsschema
