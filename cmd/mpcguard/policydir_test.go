package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// test/reliability runs the binary with broken and failing policy sets; these check the flag's wiring.
func TestPolicyDirReplacesTheEmbeddedPolicies(t *testing.T) {
	denied := writeManifest(t, "denied.yaml", deniedManifest)
	t.Run("validate with the policies directory itself decides as the embedded set", func(t *testing.T) {
		code, stdout, _ := runCLI(t, "", "validate", "-f", denied, "--policy-dir", filepath.Join("..", "..", "policies"))
		assert.Equal(t, 1, code)
		assert.Equal(t, deniedLine, stdout)
	})
	t.Run("validate with a set that denies nothing admits what the embedded set denies", func(t *testing.T) {
		dir := t.TempDir()
		for name, src := range map[string]string{
			"main.rego":     "package mpcguard.main\n\ndecision := {\"deny\": [], \"warn\": [], \"skipped\": []}\n",
			"pod.rego":      "package mpcguard.pod\n\nviolation := set()\n",
			"workload.rego": "package mpcguard.workload\n\nviolation := set()\n",
			"session.rego":  "package mpcguard.session\n\nviolation := set()\n\nskipped := set()\n",
			// a test file that would not compile: --policy-dir leaves *_test.rego out
			"pod_test.rego": "package mpcguard.pod_test\n\ntest_x if { not_a_function(1) }\n",
		} {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644))
		}
		code, stdout, stderr := runCLI(t, "", "validate", "-f", denied, "--policy-dir", dir)
		assert.Equal(t, 0, code, stderr)
		assert.Empty(t, stdout)
	})
	t.Run("validate names a broken module's file and line and exits 2", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.rego"),
			[]byte("package mpcguard.main\n\n\ndecision := no_such_function(input)\n"), 0o644))
		code, stdout, stderr := runCLI(t, "", "validate", "-f", denied, "--policy-dir", dir)
		assert.Equal(t, 2, code)
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, filepath.Join(dir, "broken.rego")+":4")
	})
	t.Run("webhook stops before listening on a directory without policies", func(t *testing.T) {
		code, _, stderr := runCLI(t, "", "webhook", "--inventory=false", "--host", "127.0.0.1", "--port", "0",
			"--health-addr", "0", "--metrics-addr", "0", "--policy-dir", t.TempDir())
		assert.Equal(t, 2, code)
		assert.Contains(t, stderr, "webhook: --policy-dir: policy directory")
		assert.Contains(t, stderr, "no policy modules found")
	})
}
