package suite

import (
	"embed"
	"io/fs"
)

// The suite of the embedded policies: every built-in policy id, denied and admitted.
//
//go:embed builtin/*.yaml
var builtin embed.FS

// Builtin returns the embedded policies' own suite.
func Builtin() ([]*File, error) {
	sub, err := fs.Sub(builtin, "builtin")
	if err != nil {
		return nil, err
	}
	return LoadFS(sub, "builtin")
}
