package generator

import "errors"

var (
	// ErrInvalidSpec is wrapped by every error about a spec: undecodable, unknown fields, invalid values.
	ErrInvalidSpec = errors.New("invalid spec")
	// ErrUnknownPreset is returned by Preset for a name it does not know.
	ErrUnknownPreset = errors.New("unknown preset")
)
