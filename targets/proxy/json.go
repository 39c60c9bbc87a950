package proxy

import (
	"encoding/json"

	"github.com/fence-policy/fence/compiler/ir"
)

// MarshalJSON encodes the table as a structure for `fence compile -t proxy
// --format json` (MarshalText is the listing for humans, which
// encoding/json would otherwise use): the default, the network settings,
// and every net rule with its origin, in plan order; inert lists the
// indexes of rules that can match no request.
func (t *Table) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Default  string             `json:"default"`
		Settings ir.NetworkSettings `json:"settings"`
		Rules    []ir.Rule          `json:"rules"`
		Inert    []int32            `json:"inert,omitempty"`
	}{"deny", t.settings, t.rules, t.inert})
}
