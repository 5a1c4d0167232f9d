package config

import (
	"encoding"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The file and the environment are checked here, against Config's own mapstructure tags, before
// viper sees them: viper treats a null as "unset", lets dotted keys through, drops a scalar
// that stands where a section belongs, and mapstructure's errors are unstructured strings that
// print values. What passes is handed on already converted to each field's Go type.

var (
	durationType    = reflect.TypeFor[time.Duration]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// isText reports whether t is a value parsed from one string (an address, a prefix, a
// community): a scalar, although its Go kind may be a struct.
func isText(t reflect.Type) bool { return reflect.PointerTo(t).Implements(textUnmarshaler) }

// isSection reports whether t is a mapping of keys in the file.
func isSection(t reflect.Type) bool { return t.Kind() == reflect.Struct && !isText(t) }

// leaf is one scalar key of Config, e.g. bgp.as. Lists of sections (bgp.peers) are not leaves.
type leaf struct {
	key   string
	index []int
	typ   reflect.Type
	want  string // the field's want tag: what a value must be, for messages
}

func leaves(t reflect.Type, prefix string, index []int) []leaf {
	var out []leaf
	for i := range t.NumField() {
		f := t.Field(i)
		key := joinKey(prefix, fieldKey(f))
		idx := append(slices.Clone(index), i)
		switch {
		case isSection(f.Type):
			out = append(out, leaves(f.Type, key, idx)...)
		case f.Type.Kind() == reflect.Slice && isSection(f.Type.Elem()):
			continue // lists of sections (bgp.peers) are set from the file only
		default:
			out = append(out, leaf{key: key, index: idx, typ: f.Type, want: f.Tag.Get("want")})
		}
	}
	return out
}

func fieldKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
	return name
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// checkSection checks one mapping against struct type t: unknown keys, keys without a value and
// values of the wrong type are reported under their full key. It returns the accepted keys, with
// scalars converted to their field's type.
func checkSection(key string, raw any, t reflect.Type, ps *problems) map[string]any {
	m, ok := stringMap(raw)
	if !ok {
		ps.reject(key, "", mismatch("must be a mapping", raw))
		return nil
	}
	fields := make(map[string]reflect.StructField, t.NumField())
	for i := range t.NumField() {
		fields[fieldKey(t.Field(i))] = t.Field(i)
	}
	out := make(map[string]any, len(m))
	for _, name := range slices.Sorted(maps.Keys(m)) {
		val, sub := m[name], joinKey(key, name)
		f, ok := fields[name]
		if !ok {
			ps.add(sub, "%s", unknownKey(name, slices.Collect(maps.Keys(fields))))
			continue
		}
		switch {
		case isSection(f.Type):
			if val == nil { // a section whose lines are all commented out
				continue
			}
			if s := checkSection(sub, val, f.Type, ps); s != nil {
				out[name] = s
			}
		case f.Type.Kind() == reflect.Slice:
			if val == nil {
				continue
			}
			if elem := f.Type.Elem(); elem.Kind() == reflect.String || isText(elem) {
				// In YAML a list is a list, checked item by item; the comma-separated form is
				// for environment variables and upstream's INI lists (convert).
				if l := checkStrings(sub, val, ps); l != nil {
					if v, ok := parseItems(sub, l, f.Type, f.Tag.Get("want"), ps); ok {
						out[name] = v
					}
				}
				continue
			}
			if l := checkList(sub, val, f.Type.Elem(), ps); l != nil {
				out[name] = l
			}
		default:
			if val == nil {
				ps.reject(sub, "", &valueError{msg: `has no value; write "" for empty, or remove the key for the default`})
				continue
			}
			v, err := convert(val, f.Type, f.Tag.Get("want"))
			if err != nil {
				ps.reject(sub, "", err)
				continue
			}
			out[name] = v
		}
	}
	return out
}

func checkList(key string, raw any, elem reflect.Type, ps *problems) []any {
	l, ok := raw.([]any)
	if !ok {
		ps.reject(key, "", mismatch("must be a list", raw))
		return nil
	}
	out := make([]any, len(l))
	for i, item := range l {
		s := checkSection(fmt.Sprintf("%s[%d]", key, i), item, elem, ps)
		if s == nil {
			s = map[string]any{} // keeps later items at their index
		}
		out[i] = s
	}
	return out
}

// checkStrings checks a list of strings; it returns nil when the value is refused.
func checkStrings(key string, raw any, ps *problems) []string {
	l, ok := raw.([]any)
	if !ok {
		ps.reject(key, "", mismatch("must be a list of strings", raw))
		return nil
	}
	out := make([]string, 0, len(l))
	bad := false
	for i, item := range l {
		s, ok := item.(string)
		if !ok {
			// Communities such as 64999:100 parse as strings; a bare number is a mistake.
			ps.reject(fmt.Sprintf("%s[%d]", key, i), "", mismatch("must be a string (quote it)", item))
			bad = true
			continue
		}
		out = append(out, s)
	}
	if bad {
		return nil
	}
	return out
}

// parseItems converts a list of strings to slice type t, each item refused under its own
// index. It reports false when any item was refused.
func parseItems(key string, items []string, t reflect.Type, want string, ps *problems) (any, bool) {
	out := reflect.MakeSlice(t, 0, len(items))
	ok := true
	for i, s := range items {
		v, err := convertItem(s, t.Elem(), want)
		if err != nil {
			ps.reject(fmt.Sprintf("%s[%d]", key, i), "", err)
			ok = false
			continue
		}
		out = reflect.Append(out, reflect.ValueOf(v))
	}
	return out.Interface(), ok
}

// convertItem converts one string of a list to elem, a string type or a text type.
func convertItem(s string, elem reflect.Type, want string) (any, *valueError) {
	if isText(elem) {
		return parseText(s, elem, want)
	}
	return reflect.ValueOf(s).Convert(elem).Interface(), nil
}

// parseText parses s into text type t. want, if set, says what the value must be;
// otherwise the type's own message does.
func parseText(s string, t reflect.Type, want string) (any, *valueError) {
	p := reflect.New(t)
	if err := p.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
		msg := "must be " + want
		switch {
		case want != "":
		case t == reflect.TypeFor[netip.Addr]():
			msg = "must be an IP address"
		case t == reflect.TypeFor[netip.Prefix]():
			msg = "must be a prefix such as 10.0.0.0/8"
		default:
			msg = err.Error() // the types of this package say what they must be
		}
		return nil, badValue(msg, s)
	}
	return p.Elem().Interface(), nil
}

// stringMap accepts both shapes the YAML decoder produces for a mapping.
func stringMap(raw any) (map[string]any, bool) {
	switch m := raw.(type) {
	case map[string]any:
		return m, true
	case map[any]any: // a mapping with a non-string key, e.g. 1: x
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[fmt.Sprint(k)] = v
		}
		return out, true
	}
	return nil, false
}

func unknownKey(name string, known []string) string {
	if strings.Contains(name, ".") {
		return "unknown key; write nested keys as mappings, not with dots"
	}
	best, bestDist := "", 3 // suggest only close matches
	for _, k := range slices.Sorted(slices.Values(known)) {
		if d := editDistance(strings.ToLower(name), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return "unknown key (did you mean " + best + "?)"
	}
	return "unknown key"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// convert turns a value from the YAML file or the environment into type t. Strings are accepted
// for every type because environment variables are strings.
func convert(raw any, t reflect.Type, want string) (any, *valueError) {
	if t == durationType {
		return toDuration(raw)
	}
	if isText(t) {
		switch v := raw.(type) {
		case string:
			return parseText(v, t, want)
		case int, uint64: // remote_as: 65000
			out, err := parseText(fmt.Sprint(v), t, want)
			if err != nil {
				err.got = raw
			}
			return out, err
		}
		return nil, mismatch("must be a string", raw)
	}
	switch t.Kind() {
	case reflect.String:
		if s, ok := raw.(string); ok {
			return reflect.ValueOf(s).Convert(t).Interface(), nil
		}
		return nil, mismatch("must be a string", raw)
	case reflect.Bool:
		switch v := raw.(type) {
		case bool:
			return reflect.ValueOf(v).Convert(t).Interface(), nil
		case string:
			if b, err := strconv.ParseBool(v); err == nil {
				return reflect.ValueOf(b).Convert(t).Interface(), nil
			}
			return nil, badValue("must be true or false", raw)
		}
		return nil, mismatch("must be true or false", raw)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return toUint(raw, t)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String || isText(t.Elem()) {
			return toStrings(raw, t, want)
		}
	}
	panic(fmt.Sprintf("config: no conversion to %s", t))
}

func toUint(raw any, t reflect.Type) (any, *valueError) {
	limit := uint64(math.MaxUint64) >> (64 - t.Bits())
	want := fmt.Sprintf("must be a whole number 0..%d", limit)
	var n uint64
	switch v := raw.(type) {
	case int:
		if v < 0 {
			return nil, badValue(want, raw)
		}
		n = uint64(v)
	case uint64:
		n = v
	case string:
		var err error
		if n, err = strconv.ParseUint(v, 10, 64); err != nil {
			return nil, badValue(want, raw)
		}
	default:
		return nil, mismatch(want, raw)
	}
	if n > limit {
		return nil, badValue(want, raw)
	}
	return reflect.ValueOf(n).Convert(t).Interface(), nil
}

// toStrings accepts a YAML list of strings, or one comma-separated string (the form of an
// environment variable and of upstream's INI list options). Empty items are dropped.
func toStrings(raw any, t reflect.Type, itemWant string) (any, *valueError) {
	const want = "must be a list of strings, or one comma-separated string"
	var items []string
	switch v := raw.(type) {
	case string:
		items = strings.Split(v, ",")
	case []any:
		for _, item := range v {
			s, ok := item.(string)
			if !ok {
				return nil, mismatch(want, raw)
			}
			items = append(items, s)
		}
	default:
		return nil, mismatch(want, raw)
	}
	out := reflect.MakeSlice(t, 0, len(items))
	for i, s := range items {
		if s = strings.TrimSpace(s); s != "" {
			v, err := convertItem(s, t.Elem(), itemWant)
			if err != nil {
				err.msg = fmt.Sprintf("item %d: %s", i+1, err.msg)
				return nil, err
			}
			out = reflect.Append(out, reflect.ValueOf(v))
		}
	}
	return out.Interface(), nil
}

// toDuration accepts Go durations ("90s", "2m") and plain numbers, which mean seconds.
func toDuration(raw any) (any, *valueError) {
	const want = "must be a duration such as 90s or 2m, or a number of seconds"
	var secs float64
	switch v := raw.(type) {
	case time.Duration:
		return v, nil
	case int:
		secs = float64(v)
	case uint64:
		secs = float64(v)
	case float64:
		secs = v
	case string:
		if d, err := time.ParseDuration(v); err == nil {
			return d, nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, badValue(want, raw)
		}
		secs = f
	default:
		return nil, mismatch(want, raw)
	}
	ns := math.Round(secs * float64(time.Second))
	if math.IsNaN(ns) || math.Abs(ns) >= math.MaxInt64 {
		return nil, badValue(want, raw)
	}
	return time.Duration(ns), nil
}

func describe(raw any) string {
	switch raw.(type) {
	case nil:
		return "nothing"
	case bool:
		return "a boolean"
	case int, uint64:
		return "a number"
	case float64:
		return "a decimal number"
	case string:
		return "a string"
	case time.Time:
		return "a date"
	case []any:
		return "a list"
	case map[string]any, map[any]any:
		return "a mapping"
	}
	return fmt.Sprintf("a %T", raw)
}

// EnvPrefix starts every environment variable that overrides a key.
const EnvPrefix = "OVN_BGP_AGENT_"

// EnvVar names the environment variable that overrides key: bgp.as → OVN_BGP_AGENT_BGP_AS.
func EnvVar(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// envOverrides picks the variables for Config's scalar keys out of environ ("NAME=value"
// entries), as a nested map of converted values. An empty value overrides to empty. Other
// OVN_BGP_AGENT_* variables are ignored: Kubernetes sets some for a Service of that name.
func envOverrides(environ []string, ps *problems) map[string]any {
	vars := make(map[string]string)
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if _, seen := vars[name]; ok && !seen && strings.HasPrefix(name, EnvPrefix) {
			vars[name] = val // first one wins, as with os.Getenv
		}
	}
	out := make(map[string]any)
	for _, l := range leaves(reflect.TypeFor[Config](), "", nil) {
		s, ok := vars[EnvVar(l.key)]
		if !ok {
			continue
		}
		v, err := convert(s, l.typ, l.want)
		if err != nil {
			ps.reject(l.key, "from "+EnvVar(l.key)+": ", err)
			continue
		}
		setPath(out, l.key, v)
	}
	return out
}

func setPath(m map[string]any, key string, v any) {
	parts := strings.Split(key, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = make(map[string]any)
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}
