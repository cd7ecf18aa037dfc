package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTestRunsTheEmbeddedSuite(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", "test")
	assert.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "PASS builtin/access.yaml: denies exec into a persistent party\n")
	assert.NotContains(t, stdout, "FAIL")
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	assert.Regexp(t, `^[1-9][0-9]* passed, 0 failed$`, lines[len(lines)-1])
}

func TestTestFailsABrokenExpectationNamingTheCase(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte(`cases:
  - name: wrongly expects an unlabelled party pod to be admitted
    object:
      apiVersion: v1
      kind: Pod
      metadata: {name: p-0, namespace: mpc-system, labels: {app.kubernetes.io/component: mpc-party}}
    expect: {allowed: true}
  - name: denies an unlabelled party pod
    object:
      apiVersion: v1
      kind: Pod
      metadata: {name: p-0, namespace: mpc-system, labels: {app.kubernetes.io/component: mpc-party}}
    expect: {deny: [party-role-required]}
`), 0o644))
	code, stdout, stderr := runCLI(t, "", "test", dir)
	assert.Equal(t, 1, code)
	path := filepath.Join(dir, "broken.yaml")
	assert.Contains(t, stdout, "FAIL "+path+": wrongly expects an unlabelled party pod to be admitted\n"+
		"    allowed: expected true, got false\n"+
		"      [party-role-required] Pod mpc-system/p-0: party pod (app.kubernetes.io/component=mpc-party) has no party-role label;")
	assert.Contains(t, stdout, "PASS "+path+": denies an unlabelled party pod\n")
	assert.True(t, strings.HasSuffix(stdout, "\n1 passed, 1 failed\n"), stdout)
	assert.Contains(t, stderr, "1 of 2 cases failed")
}

func TestTestExitsTwoForAnUnreadableSuite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "typo.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`cases:
  - name: denies an unlabelled party pod
    objekt: {apiVersion: v1, kind: Pod}
    expect: {allowed: false}
`), 0o644))
	code, stdout, stderr := runCLI(t, "", "test", dir)
	assert.Equal(t, 2, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, path)
	assert.Contains(t, stderr, "field objekt not found")

	code, _, stderr = runCLI(t, "", "test", filepath.Join(dir, "absent"))
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "absent")
}

// The custom policy that policies/README.md ("Writing a custom policy") walks through.
func TestTestRunsTheCustomPolicyOfTheGuide(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", "test", filepath.Join("..", "..", "internal", "suite", "testdata", "custom"))
	assert.Equal(t, 0, code, stderr)
	assert.True(t, strings.HasSuffix(stdout, "\n4 passed, 0 failed\n"), stdout)
}
