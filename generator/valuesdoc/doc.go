// Package valuesdoc turns a Go type describing a chart's values into the chart's user-facing files: a
// commented values.yaml (yaml.v3 nodes, never text templating), values.schema.json (JSON Schema draft 7, every
// object closed so Helm rejects unknown keys and wrong types) and the values table of the chart README.
//
// Field tags drive it: `json` names the key, `doc` is the comment and description, `enum`, `pattern`, `not`,
// `minimum`, `maximum` and `keys` (allowed map keys) constrain the schema.
package valuesdoc

import "errors"

// ErrUnsupported is returned for Go kinds that have no place in chart values.
var ErrUnsupported = errors.New("unsupported type for chart values")
