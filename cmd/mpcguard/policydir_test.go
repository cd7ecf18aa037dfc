package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpcguard/mpcguard/policies"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

// test/reliability runs the binary with broken and failing policy sets; these check the flag's wiring.
func TestPolicyDirReplacesTheEmbeddedPolicies(t *testing.T) {
	denied := writeManifest(t, "denied.yaml", deniedManifest)
	t.Run("validate with the policies directory itself decides as the embedded set", func(t *testing.T) {
		code, stdout, _ := runCLI(t, "", "validate", "-f", denied, "--policy-dir", filepath.Join("..", "..", "policies"))
		assert.Equal(t, 1, code)
		assert.Equal(t, denied+":doc 1: "+deniedLine, stdout)
	})
	t.Run("validate with a set that denies nothing admits what the embedded set denies", func(t *testing.T) {
		dir := t.TempDir()
		// Every class's violation set, and main's, as a replacement set must define them (policies/README.md).
		files := map[string]string{
			"main.rego": "package mpcguard.main\n\nviolation := set()\n",
			// a test file that would not compile: --policy-dir leaves *_test.rego out
			"pod_test.rego": "package mpcguard.pod_test\n\ntest_x if { not_a_function(1) }\n",
		}
		for _, class := range vocab.Classes {
			files[string(class)+".rego"] = "package mpcguard." + string(class) + "\n\nviolation := set()\n"
		}
		for name, src := range files {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644))
		}
		code, stdout, stderr := runCLI(t, "", "validate", "-f", denied, "--policy-dir", dir)
		assert.Equal(t, 0, code, stderr)
		assert.Empty(t, stdout)

		// The set defines no ids, but every built-in id may still be configured: the defaults name them all.
		code, _, stderr = runCLI(t, "", "validate", "-f", denied, "--policy-dir", dir, "--enforcement", "party-role-required=warn")
		assert.Equal(t, 0, code, stderr)
	})
	t.Run("validate with a set that lacks a class's violation set exits 2, naming it", func(t *testing.T) {
		dir := t.TempDir()
		for _, class := range []string{"main", "pod", "workload", "session"} {
			require.NoError(t, os.WriteFile(filepath.Join(dir, class+".rego"),
				[]byte("package mpcguard."+class+"\n\nviolation := set()\n"), 0o644))
		}
		code, stdout, stderr := runCLI(t, "", "validate", "-f", denied, "--policy-dir", dir)
		assert.Equal(t, 2, code)
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, "the policies must define data.mpcguard.binding.violation")
	})
	t.Run("validate with a custom policy beside the embedded ones enforces it as configured", func(t *testing.T) {
		dir := t.TempDir()
		mods, err := policies.Modules()
		require.NoError(t, err)
		for _, m := range mods {
			require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.Base(m.Name)), []byte(m.Source), 0o644))
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, "team.rego"), []byte(`package mpcguard.pod

violation contains {"policy": "party-team-label", "msg": "party pod has no team label"} if {
	party_pod
	not object.get(input.pod.labels, "team", false)
}
`), 0o644))
		code, stdout, stderr := runCLI(t, "", "validate", "-f", denied, "--policy-dir", dir, "--enforcement", "party-team-label=warn")
		assert.Equal(t, 1, code)
		assert.Equal(t, denied+":doc 1: "+deniedLine, stdout)
		assert.Contains(t, stderr, "warning: "+denied+":doc 1: party-team-label Pod mpc-system/p-0: party pod has no team label\n")

		code, _, stderr = runCLI(t, "", "validate", "-f", denied, "--enforcement", "party-team-label=warn")
		assert.Equal(t, 2, code, "the embedded set does not define the custom id")
		assert.Contains(t, stderr, "party-team-label, which no policy module defines")
	})
	t.Run("validate refuses a module in a package the engine never reads", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "extra.rego"), []byte("package mpcguard.pods\n\nviolation := set()\n"), 0o644))
		code, _, stderr := runCLI(t, "", "validate", "-f", denied, "--policy-dir", dir)
		assert.Equal(t, 2, code)
		assert.Contains(t, stderr, filepath.Join(dir, "extra.rego")+": package mpcguard.pods is never evaluated")
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
