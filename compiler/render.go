package compiler

import (
	"io"

	"github.com/hashicorp/hcl/v2"

	"github.com/fence-policy/fence/compiler/ir"
)

// FromHCL converts lang's hcl diagnostics into ir diagnostics.
func FromHCL(ds hcl.Diagnostics) ir.Diagnostics { panic("not implemented") }

// WriteDiagnostics renders diagnostics for humans, each as
//
//	file:line:col: error: summary
//	  <the source line>
//	  <a caret under the range>
//	  detail…
//
// sources maps file names to their text (lang.Loader.Sources); a diagnostic
// whose file is not there is printed without a snippet.
func WriteDiagnostics(w io.Writer, ds ir.Diagnostics, sources map[string][]byte) error {
	panic("not implemented")
}
