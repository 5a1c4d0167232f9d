package frr

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Every rule about what a configuration may say lives in internal/config, which validates a
// file once for start-up, check-config and reload alike. What remains here is a guard that no
// validated configuration can trip: it keeps a Config built some other way (a test, a future
// caller) from writing a broken or injected line into frr.conf.

// ifName is a word safe on an FRR command line as an interface or VRF name.
var ifName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$`)

// word is a name safe as one FRR command argument.
var word = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]*$`)

// guard refuses a Config whose text would not be one line per command.
func (c Config) guard() error {
	var errs []error
	bad := func(what, v string) { errs = append(errs, fmt.Errorf("%s %q cannot be rendered", what, v)) }
	if c.ASN == 0 {
		errs = append(errs, errors.New("no ASN"))
	}
	if c.RouterID.IsValid() && !c.RouterID.Is4() {
		bad("router-id", c.RouterID.String())
	}
	if !ifName.MatchString(c.NIC) {
		bad("interface", c.NIC)
	}
	if c.VRF != "" && !ifName.MatchString(c.VRF) {
		bad("VRF", c.VRF)
	}
	for _, p := range c.BFDProfiles {
		if !word.MatchString(p.Name) {
			bad("BFD profile", p.Name)
		}
	}
	errs = append(errs, c.guardPeerFeatures()...) // peers.go
	for _, n := range c.Neighbors {
		if n.Addr.IsValid() == (n.Interface != "") {
			bad("neighbor (needs exactly one of address and interface)", n.Name())
		}
		if n.Interface != "" && !ifName.MatchString(n.Interface) {
			bad("neighbor interface", n.Interface)
		}
		if n.RemoteAS.String() == "" && n.PeerGroup == "" {
			bad("remote-as of neighbor", n.Name())
		}
		for what, v := range map[string]string{"update-source": n.UpdateSource, "BFD profile": n.BFD.Profile} {
			if v != "" && !word.MatchString(v) {
				bad(what, v)
			}
		}
		if strings.ContainsFunc(n.Description, func(r rune) bool { return r < ' ' || r > '~' }) {
			bad("description", n.Description)
		}
		if strings.ContainsFunc(n.Password, func(r rune) bool { return r <= ' ' || r > '~' }) {
			errs = append(errs, fmt.Errorf("password of neighbor %s cannot be rendered", n.Name())) // never the value
		}
	}
	return errors.Join(errs...)
}
