package policies

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed *.rego
var files embed.FS

// Module is one Rego source file.
type Module struct {
	// Name is the file's path as shown in compile errors, e.g. "policies/pod.rego".
	Name string
	// Source is the Rego text.
	Source string
}

// Modules returns the embedded policy modules (test files excluded), sorted by name.
func Modules() ([]Module, error) {
	return load(files)
}

func load(fsys fs.FS) ([]Module, error) {
	names, err := fs.Glob(fsys, "*.rego")
	if err != nil {
		return nil, fmt.Errorf("listing policy files: %w", err)
	}
	sort.Strings(names)
	var mods []Module
	for _, n := range names {
		if strings.HasSuffix(n, "_test.rego") {
			continue
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("reading policy %s: %w", n, err)
		}
		mods = append(mods, Module{Name: path.Join("policies", n), Source: string(b)})
	}
	if len(mods) == 0 {
		return nil, fmt.Errorf("no policy modules found")
	}
	return mods, nil
}
