package config

import (
	"reflect"
	"slices"
	"strings"
)

// Changed lists the keys whose value differs between a and b, sorted: scalar keys by their
// dotted name, lists (bgp.peers, address_scopes, ...) as a whole.
func Changed(a, b Config) []string {
	var out []string
	diffValue("", reflect.ValueOf(a), reflect.ValueOf(b), &out)
	slices.SortFunc(out, compareKeys)
	return out
}

func diffValue(key string, a, b reflect.Value, out *[]string) {
	if isSection(a.Type()) {
		for i := range a.NumField() {
			diffValue(joinKey(key, fieldKey(a.Type().Field(i))), a.Field(i), b.Field(i), out)
		}
		return
	}
	if !reflect.DeepEqual(a.Interface(), b.Interface()) {
		*out = append(*out, key)
	}
}

// restartOnly are the keys a running agent does not change: the devices, tables and marks it
// owns state by, the database connections, the FRR instance, the listeners. A reload that
// changes one keeps the running value and says a restart applies it.
var restartOnly = []string{
	"ovn.", "bgp.nic", "bgp.vrf", "bgp.vrf_table_id", "kernel.", "frr.pathspace", "frr.vty_socket",
	"frr.config_file", "frr.base_config", "frr.reload_command", "frr.watch_interval", "frr.daemon_wait", "metrics.", "log.format", "driver",
}

// NeedsRestart reports whether key only takes effect at the next start.
func NeedsRestart(key string) bool {
	for _, p := range restartOnly {
		if key == p || strings.HasSuffix(p, ".") && strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// Merge returns next with every restart-only key kept at running's value, and the keys that
// were kept back.
func Merge(running, next Config) (Config, []string) {
	var pending []string
	out := next
	ro, rr := reflect.ValueOf(&out).Elem(), reflect.ValueOf(running)
	for _, key := range Changed(running, next) {
		if !NeedsRestart(key) {
			continue
		}
		pending = append(pending, key)
		copyKey(ro, rr, key)
	}
	return out, pending
}

// copyKey sets the field at dotted key in dst to its value in src.
func copyKey(dst, src reflect.Value, key string) {
	for _, part := range strings.Split(key, ".") {
		for i := range dst.NumField() {
			if fieldKey(dst.Type().Field(i)) == part {
				dst, src = dst.Field(i), src.Field(i)
				break
			}
		}
	}
	dst.Set(src)
}
