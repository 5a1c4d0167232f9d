package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with the configuration.
type Problem struct {
	Key     string // full dotted key, e.g. bgp.peers[1].remote_as
	Message string
}

func (p Problem) String() string { return p.Key + ": " + p.Message }

// ValidationError is every problem found in one load, sorted by key.
type ValidationError struct {
	Problems []Problem
}

// Error lists one problem per line as "key: message".
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// problems collects Problems. Values only reach a message through addGot, which withholds the
// values of secret-looking keys.
type problems struct {
	list []Problem
	// rejected holds keys whose raw value was refused before decoding, so that validation of the
	// value that took its place (a default, a zero) does not report the same key twice.
	rejected map[string]bool
}

func (ps *problems) add(key, format string, args ...any) {
	ps.list = append(ps.list, Problem{Key: key, Message: fmt.Sprintf(format, args...)})
}

// addGot adds a problem ending in ", got <value>", unless key looks secret.
func (ps *problems) addGot(key string, got any, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !isSecret(key) {
		msg += ", got " + render(got)
	}
	ps.list = append(ps.list, Problem{Key: key, Message: msg})
}

// reject records a problem with a raw value (from the file or the environment) that was not used.
func (ps *problems) reject(key, prefix string, err *valueError) {
	if err.hasGot {
		ps.addGot(key, err.got, "%s%s", prefix, err.msg)
	} else {
		ps.add(key, "%s%s", prefix, err.msg)
	}
	if ps.rejected == nil {
		ps.rejected = make(map[string]bool)
	}
	ps.rejected[key] = true
}

// covered reports whether key, or a section or list item holding it, was already rejected.
func (ps *problems) covered(key string) bool {
	for k := range ps.rejected {
		if key == k || strings.HasPrefix(key, k+".") || strings.HasPrefix(key, k+"[") {
			return true
		}
	}
	return false
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	list := slices.Clone(ps.list)
	slices.SortStableFunc(list, func(a, b Problem) int { return compareKeys(a.Key, b.Key) })
	return &ValidationError{Problems: list}
}

// valueError is a raw value that cannot become its field's type.
type valueError struct {
	msg    string
	got    any
	hasGot bool // got is worth printing (a string that failed to parse, a number out of range)
}

func mismatch(want string, raw any) *valueError {
	return &valueError{msg: want + ", got " + describe(raw)}
}

func badValue(want string, raw any) *valueError {
	return &valueError{msg: want, got: raw, hasGot: true}
}

// isSecret reports whether a key may hold a secret, whose value must never be printed.
func isSecret(key string) bool {
	k := strings.ToLower(key)
	return strings.Contains(k, "password") || strings.Contains(k, "key")
}

func render(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}

// compareKeys orders keys as text, except that runs of digits compare as numbers, so that
// bgp.peers[2] sorts before bgp.peers[10].
func compareKeys(a, b string) int {
	for a != "" && b != "" {
		if isDigit(a[0]) && isDigit(b[0]) {
			na, nb := digitRun(a), digitRun(b)
			da, db := strings.TrimLeft(a[:na], "0"), strings.TrimLeft(b[:nb], "0")
			if c := cmp.Or(cmp.Compare(len(da), len(db)), strings.Compare(da, db)); c != 0 {
				return c
			}
			a, b = a[na:], b[nb:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func digitRun(s string) int {
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	return n
}
