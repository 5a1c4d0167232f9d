// Package templates holds the FRR configuration templates, embedded in the binary so the
// agent renders exactly what was tested.
package templates

import "embed"

// FS holds every *.tmpl file of this directory.
//
//go:embed *.tmpl
var FS embed.FS
