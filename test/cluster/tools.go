package cluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ControlPlaneTools are the binaries [Start] runs.
var ControlPlaneTools = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// ChartTools are the binaries ct install runs besides helm's SDK: helm, ct and the kubectl ct calls.
var ChartTools = []string{"helm", "ct", "kubectl"}

// ErrToolMissing is wrapped by the error of [CheckTools] and [Start] when a binary has not been built.
var ErrToolMissing = errors.New("tool not built")

// CacheDir is where test/tools/build.sh keeps what it builds: $MPCGUARD_CACHE, else
// $XDG_CACHE_HOME/mpcguard, else ~/.cache/mpcguard (the Makefile's CACHE).
func CacheDir() string {
	if dir := os.Getenv("MPCGUARD_CACHE"); dir != "" {
		return dir
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "mpcguard")
}

// BinDir holds the built tools (the Makefile's TOOLS, put first on PATH by make).
func BinDir() string { return filepath.Join(CacheDir(), "bin") }

// CheckTools reports every tool missing from dir, with what to run to build it.
func CheckTools(dir string, tools ...string) error {
	var missing []string
	for _, tool := range tools {
		if info, err := os.Stat(filepath.Join(dir, tool)); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s not in %s: run `make tools` (or `make test`, which builds them first; "+
		"the first build takes minutes)", ErrToolMissing, strings.Join(missing, ", "), dir)
}

// Build builds the tools that are not in the cache yet with test/tools/build.sh, streaming its progress to
// progress, and returns the directory holding them.
func Build(ctx context.Context, progress io.Writer, tools ...string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	if progress == nil {
		progress = io.Discard
	}
	var stdout bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(root, "test", "tools", "build.sh"), tools...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = &stdout, progress
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building %s with test/tools/build.sh: %w", strings.Join(tools, " "), err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	dir := lines[len(lines)-1]
	if err := CheckTools(dir, tools...); err != nil {
		return "", err
	}
	return dir, nil
}

// RepoRoot is the directory of mpcguard's go.mod, found from the working directory upwards (go test runs in
// the package directory, go run wherever it was started inside the checkout).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the checkout: %w", err)
	}
	for {
		if isModuleRoot(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the mpcguard checkout (no go.mod of github.com/mpcguard/mpcguard above the working directory)")
		}
		dir = parent
	}
}

func isModuleRoot(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module ")) == "github.com/mpcguard/mpcguard"
		}
	}
	return false
}
