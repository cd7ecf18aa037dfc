package policies

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
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
	return load(files, func(n string) string { return path.Join("policies", n) })
}

// LoadDir returns the *.rego files directly in dir (*_test.rego excluded), sorted by name, to replace the
// embedded policies. Each module is named by its path, so a compile error points into dir. It does not
// compile them: the engine does, and reports the file and line of an error.
func LoadDir(dir string) ([]Module, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("policy directory: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("policy directory %s: not a directory", dir)
	}
	mods, err := load(os.DirFS(dir), func(n string) string { return filepath.Join(dir, n) })
	if err != nil {
		return nil, fmt.Errorf("policy directory %s: %w", dir, err)
	}
	return mods, nil
}

// load reads the *.rego files at the top of fsys but the tests; name gives a file's module name.
func load(fsys fs.FS, name func(string) string) ([]Module, error) {
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
		mods = append(mods, Module{Name: name(n), Source: string(b)})
	}
	if len(mods) == 0 {
		return nil, fmt.Errorf("no policy modules found (*.rego, not *_test.rego)")
	}
	return mods, nil
}
