package generator

import "errors"

var (
	// ErrInvalidSpec is wrapped by every error about a spec (the values the charts are generated from):
	// undecodable, unknown keys, refused by the values schema or by a chart's checks.
	ErrInvalidSpec = errors.New("invalid spec")
	// ErrUnknownPreset is returned by Preset for a name it does not know.
	ErrUnknownPreset = errors.New("unknown preset")
)
