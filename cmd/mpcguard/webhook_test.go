package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWebhookRejectsALogLevelDecisionLogBoundOrCacheSizeItDoesNotKnow(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--log-level=verbose"}, `log level "verbose": want one of [debug info error]`},
		{[]string{"--decision-log-burst=0"}, "--decision-log-burst must be at least 1, got 0"},
		{[]string{"--decision-log-rate=0"}, "--decision-log-rate must be above 0, got 0"},
		{[]string{"--decision-log-rate=NaN"}, "--decision-log-rate must be above 0, got NaN"},
		{[]string{"--decision-cache-size=-1"}, "--decision-cache-size must be 0 (off) or more, got -1"},
	} {
		code, _, stderr := runCLI(t, "", append([]string{"webhook", "--inventory=false", "--cert-dir", t.TempDir()}, tc.args...)...)
		assert.NotZero(t, code, "%v", tc.args)
		assert.Contains(t, stderr, tc.want, "%v", tc.args)
	}
}

func TestWebhookRejectsAnUnknownCertModeOrIncompleteRotation(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
users: [{name: u, user: {token: t}}]
current-context: c
`), 0o600))
	rotate := []string{"--cert-mode=rotate", "--kubeconfig", kubeconfig, "--namespace=mpcguard",
		"--cert-secret=mpcguard-webhook-certs", "--webhook-configuration=mpcguard-mpcguard"}
	named := append(slices.Clone(rotate), "--cert-dns-names=mpcguard-webhook.mpcguard.svc")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--cert-mode=vault"}, `--cert-mode must be files or rotate, got "vault"`},
		{[]string{"--cert-mode=rotate", "--namespace="}, "--cert-mode=rotate needs --namespace (or POD_NAMESPACE)"},
		{append(slices.Clone(named), "--cert-secret="), "the secret name is empty"},
		{rotate, "no host names for the serving certificate"},
		{append(slices.Clone(named), "--cert-overlap=1s", "--cert-check-interval=1m"), "the overlap (1s) is shorter than the check interval (1m0s)"},
	} {
		code, _, stderr := runCLI(t, "", append([]string{"webhook", "--inventory=false"}, tc.args...)...)
		assert.NotZero(t, code, "%v", tc.args)
		assert.Contains(t, stderr, tc.want, "%v", tc.args)
	}
}
