package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpcguard/mpcguard/internal/bundle"
)

func TestBundleWritesThePoliciesAndTheAdmissionConfigurationThatPointsAtThem(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mpcguard")
	cfgFile := filepath.Join(t.TempDir(), "admission.yaml")
	code, stdout, stderr := runCLI(t, "", "bundle", "--output", dir, "--admission-config", cfgFile,
		"--namespaces", "mpc-system", "--enforcement", "session-composition-sum=off,party-role-valid=warn")
	require.Equal(t, 0, code, stderr)
	content, err := os.ReadFile(filepath.Join(dir, bundle.FileName))
	require.NoError(t, err)
	text := string(content)
	assert.Contains(t, text, "name: mpcguard-party-role-required.static.k8s.io\n")
	assert.NotContains(t, text, "mpcguard-session-composition-sum", "a policy that is off has no policy and no binding")
	assert.Contains(t, text, "policyName: mpcguard-party-role-valid.static.k8s.io\n  validationActions:\n  - Warn\n")
	assert.Contains(t, text, "- mpc-system\n", "the bindings match the namespace")
	policies := strings.Count(text, "\nkind: ValidatingAdmissionPolicy\n")
	assert.Equal(t, policies, strings.Count(text, "\nkind: ValidatingAdmissionPolicyBinding\n"))
	hash, err := bundle.DirHash(dir)
	require.NoError(t, err)
	assert.Contains(t, stdout, "directory hash "+hash)

	cfg, err := os.ReadFile(cfgFile)
	require.NoError(t, err)
	assert.Contains(t, string(cfg), "staticManifestsDir: "+dir+"\n", "--output made absolute")

	code, _, _ = runCLI(t, "", "bundle", "--output", dir, "--admission-config", cfgFile, "--manifests-dir", "/etc/kubernetes/mpcguard")
	require.Equal(t, 0, code)
	cfg, err = os.ReadFile(cfgFile)
	require.NoError(t, err)
	assert.Contains(t, string(cfg), "staticManifestsDir: /etc/kubernetes/mpcguard\n", "the path on the control-plane nodes")
}

func TestBundleRefusesWhatWouldStopTheAPIServer(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"an AdmissionConfiguration inside the bundle's directory": {
			[]string{"--output", dir, "--admission-config", filepath.Join(dir, "admission.yaml")}, "not inside --output"},
		"a relative directory on the control-plane nodes": {
			[]string{"--output", dir, "--admission-config", filepath.Join(t.TempDir(), "a.yaml"), "--manifests-dir", "etc/mpcguard"},
			"absolute"},
		"an enforcement for a policy that does not exist":          {[]string{"--output", dir, "--enforcement", "no-such-policy=off"}, "no-such-policy"},
		"the webhook's custom policies, which have no native form": {[]string{"--output", dir, "--policy-dir", dir}, "unknown flag"},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "", append([]string{"bundle"}, tc.args...)...)
			assert.Equal(t, 2, code)
			assert.Contains(t, stderr, tc.want)
			_, err := os.Stat(filepath.Join(dir, bundle.FileName))
			assert.ErrorIs(t, err, os.ErrNotExist, "nothing written")
		})
	}
}
