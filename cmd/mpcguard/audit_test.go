package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kubeconfigFor writes a kubeconfig for server, context "test".
func kubeconfigFor(t *testing.T, server string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, writeFileErr(path, fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: test, context: {cluster: c, user: u}}]
current-context: test
`, server)))
	return path
}

func TestAuditExitsTwoWhenTheClusterCannotBeRead(t *testing.T) {
	// An API server that refuses every list, as one would for a user without the audit's RBAC.
	forbidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,"message":"%s is forbidden"}`, r.URL.Path)
	}))
	t.Cleanup(forbidden.Close)

	tests := map[string]struct {
		args       []string
		wantStderr []string
	}{
		"an unknown output format is refused before the cluster is read": {
			args:       []string{"audit", "-o", "yaml"},
			wantStderr: []string{`audit: --output "yaml": want one of text, json, junit, sarif`},
		},
		"a kubeconfig that does not exist is named": {
			args:       []string{"audit", "--kubeconfig", filepath.Join(t.TempDir(), "missing")},
			wantStderr: []string{"audit: reading the kubeconfig:"},
		},
		"a context the kubeconfig lacks is an error, not another cluster": {
			args:       []string{"audit", "--kubeconfig", kubeconfigFor(t, forbidden.URL), "--context", "prod"},
			wantStderr: []string{`audit: reading the kubeconfig: context "prod" does not exist`},
		},
		"every list the API server refuses is named, and nothing is reported clean": {
			args: []string{"audit", "--kubeconfig", kubeconfigFor(t, forbidden.URL), "--namespaces", "team-a"},
			wantStderr: []string{
				"auditing cluster " + forbidden.URL + " (context test), namespaces team-a",
				"error: list pods in namespace team-a: listing pods: /api/v1/namespaces/team-a/pods is forbidden",
				"error: list mpcsessions in namespace team-a: listing mpcsessions.mpc.mpcguard.io:",
				"0 objects (0 reviewed): 0 denied, 0 warnings, 9 unreadable",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", tc.args...)
			assert.Equal(t, 2, code, "stderr:\n%s", stderr)
			assert.Empty(t, stdout)
			for _, want := range tc.wantStderr {
				assert.Contains(t, stderr, want)
			}
		})
	}
}
