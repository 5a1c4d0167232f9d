package frr

import (
	"bytes"
	"fmt"
	"slices"
	"text/template"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/templates"
)

const templateName = "frr.conf.tmpl"

var confTemplate = template.Must(template.New(templateName).Option("missingkey=error").
	ParseFS(templates.FS, templateName))

// view is what the template sees: only validated values, neighbors in FRR's print order.
type view struct {
	ASN       uint32
	RouterID  string // "": omit
	NIC       string
	VRF       string
	RouteMap  string
	Neighbors []Neighbor
	Kernel    bool
}

// Render validates c and returns frr.conf. The same Config always gives the same bytes.
func Render(c Config) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("frr config: %w", err)
	}
	v := view{ASN: c.ASN, NIC: c.NIC, VRF: c.VRF, RouteMap: RouteMap, Neighbors: slices.Clone(c.Neighbors),
		Kernel: c.RedistributeKernel}
	if c.RouterID.IsValid() {
		v.RouterID = c.RouterID.String()
	}
	// FRR lists peers IPv4 before IPv6, each by address; netip.Addr.Compare orders the same way.
	slices.SortFunc(v.Neighbors, func(a, b Neighbor) int { return a.Addr.Compare(b.Addr) })
	var buf bytes.Buffer
	if err := confTemplate.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("render %s: %w", templateName, err)
	}
	return buf.Bytes(), nil
}
