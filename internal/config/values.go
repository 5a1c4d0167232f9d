package config

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The typed values below are parsed from the file's text once, when the configuration is
// loaded; whoever reads a Config never parses them again. Each marshals back to the text an
// operator writes (and FRR prints), so JSON dumps and messages show the familiar form.

// Community is a standard BGP community, ASN:VALUE.
type Community struct {
	ASN, Value uint16
}

// UnmarshalText parses "ASN:VALUE" with two numbers 0..65535, written plainly.
func (c *Community) UnmarshalText(b []byte) error {
	n, err := parseNumbers(string(b), 2, 16)
	if err != nil {
		return errors.New("must be ASN:VALUE with two numbers 0..65535 (e.g. 64999:100)")
	}
	*c = Community{uint16(n[0]), uint16(n[1])}
	return nil
}

// MarshalText returns the form UnmarshalText takes.
func (c Community) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

func (c Community) String() string { return fmt.Sprintf("%d:%d", c.ASN, c.Value) }

// Compare orders communities numerically, as FRR sorts a `set community` list.
func (c Community) Compare(o Community) int {
	return cmp.Or(cmp.Compare(c.ASN, o.ASN), cmp.Compare(c.Value, o.Value))
}

// LargeCommunity is a large BGP community, GLOBAL:LOCAL1:LOCAL2.
type LargeCommunity struct {
	Global, Local1, Local2 uint32
}

// UnmarshalText parses "GLOBAL:LOCAL1:LOCAL2" with three numbers 0..4294967295, written plainly.
func (c *LargeCommunity) UnmarshalText(b []byte) error {
	n, err := parseNumbers(string(b), 3, 32)
	if err != nil {
		return errors.New("must be GLOBAL:LOCAL1:LOCAL2 with three numbers 0..4294967295 (e.g. 64999:0:100)")
	}
	*c = LargeCommunity{uint32(n[0]), uint32(n[1]), uint32(n[2])}
	return nil
}

// MarshalText returns the form UnmarshalText takes.
func (c LargeCommunity) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

func (c LargeCommunity) String() string { return fmt.Sprintf("%d:%d:%d", c.Global, c.Local1, c.Local2) }

// Compare orders large communities numerically, as FRR sorts them.
func (c LargeCommunity) Compare(o LargeCommunity) int {
	return cmp.Or(cmp.Compare(c.Global, o.Global), cmp.Compare(c.Local1, o.Local1), cmp.Compare(c.Local2, o.Local2))
}

// parseNumbers splits s at colons into exactly parts numbers of at most bits bits. Leading
// zeros and signs are refused: FRR prints numbers plainly, and the text must round-trip.
func parseNumbers(s string, parts, bits int) ([]uint64, error) {
	f := strings.Split(s, ":")
	if len(f) != parts {
		return nil, errors.New("wrong number of parts")
	}
	out := make([]uint64, parts)
	for i, p := range f {
		if p == "" || (len(p) > 1 && p[0] == '0') {
			return nil, errors.New("not a plain number")
		}
		n, err := strconv.ParseUint(p, 10, bits)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// RemoteAS is a peer's AS: a number 1..4294967295 (ASN), or the keyword "internal" (the same
// AS as ours) or "external" (any other) in Kind. The YAML may write the number bare.
type RemoteAS struct {
	ASN  uint32
	Kind string // "", RemoteASInternal or RemoteASExternal
}

// Remote-as keywords.
const (
	RemoteASInternal = "internal"
	RemoteASExternal = "external"
)

// UnmarshalText parses a number or a keyword; "" is the zero RemoteAS, which validation refuses.
func (r *RemoteAS) UnmarshalText(b []byte) error {
	switch s := string(b); s {
	case "":
		*r = RemoteAS{}
	case RemoteASInternal, RemoteASExternal:
		*r = RemoteAS{Kind: s}
	default:
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil || n == 0 {
			return errors.New("must be 1..4294967295, internal or external")
		}
		*r = RemoteAS{ASN: uint32(n)}
	}
	return nil
}

// MarshalText returns the form UnmarshalText takes.
func (r RemoteAS) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// String is the remote-as argument as FRR prints it; "" when unset.
func (r RemoteAS) String() string {
	switch {
	case r.Kind != "":
		return r.Kind
	case r.ASN != 0:
		return strconv.FormatUint(uint64(r.ASN), 10)
	}
	return ""
}

// IsIBGP reports whether the session is internal for a node in AS asn.
func (r RemoteAS) IsIBGP(asn uint32) bool { return r.Kind == RemoteASInternal || r.ASN == asn }

// AllowASIn is a peer's allowas-in: accept routes carrying our own AS, up to Count times in
// the path, or (Origin) only when the path started in our AS. The zero value is off.
type AllowASIn struct {
	Origin bool
	Count  uint8 // 1..10 when set
}

// UnmarshalText parses "origin" or a number 1..10; "" is off.
func (a *AllowASIn) UnmarshalText(b []byte) error {
	switch s := string(b); s {
	case "":
		*a = AllowASIn{}
	case "origin":
		*a = AllowASIn{Origin: true}
	default:
		n, err := strconv.ParseUint(s, 10, 8)
		if err != nil || n < 1 || n > 10 || (len(s) > 1 && s[0] == '0') {
			return errors.New(`must be "origin" or a number 1..10 (how often our AS may appear), or "" for off`)
		}
		*a = AllowASIn{Count: uint8(n)}
	}
	return nil
}

// MarshalText returns the form UnmarshalText takes.
func (a AllowASIn) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// String is "origin", the count, or "" when off.
func (a AllowASIn) String() string {
	switch {
	case a.Origin:
		return "origin"
	case a.Count != 0:
		return strconv.Itoa(int(a.Count))
	}
	return ""
}

// Set reports whether allowas-in is on.
func (a AllowASIn) Set() bool { return a.Origin || a.Count != 0 }
