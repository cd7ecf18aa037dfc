package reliability

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
)

// The policy sets of testdata/policies, for --policy-dir.
var (
	brokenPolicies       = filepath.Join("testdata", "policies", "broken")
	runtimeErrorPolicies = filepath.Join("testdata", "policies", "runtime-error")
)

// partyPodManifest is a party pod with a valid role: every policy set but a faulty one admits it.
const partyPodManifest = `apiVersion: v1
kind: Pod
metadata:
  name: p-0
  namespace: mpc-system
  labels: {app.kubernetes.io/component: mpc-party, party-role: persistent}
spec:
  containers: [{name: party, image: "mpc/party:1.0"}]
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestABrokenPolicyFileStopsMpcguardNamingItsFileAndLine(t *testing.T) {
	bin := mpcguardBin(t)
	t.Run("mpcguard webhook exits non-zero and never reports ready", func(t *testing.T) {
		addrs := newWebhookAddrs(t)
		p := startProc(t, bin, addrs.args("--policy-dir", brokenPolicies)...)
		polls, ready := 0, 0
		deadline := time.Now().Add(30 * time.Second)
		for !p.exited() && time.Now().Before(deadline) {
			if readyStatus(t.Context(), addrs.readyz) == http.StatusOK {
				ready++
			}
			polls++
			time.Sleep(5 * time.Millisecond)
		}
		code := p.wait(t, time.Second)
		t.Logf("polled /readyz %d times until the webhook exited with %d", polls, code)
		assert.Zero(t, ready, "/readyz answered 200 with a policy set that does not compile")
		assert.Equal(t, 2, code, "exit status")
		assert.Contains(t, p.stderr.String(), "broken.rego:4")
		assert.Contains(t, p.stderr.String(), "undefined function no_such_function")
		assert.NotContains(t, p.stderr.String(), "serving admission reviews")
	})
	t.Run("mpcguard validate exits 2 before reading the manifests", func(t *testing.T) {
		manifest := writeFile(t, "pod.yaml", partyPodManifest)
		p := startProc(t, bin, "validate", "-f", manifest, "--policy-dir", brokenPolicies)
		assert.Equal(t, 2, p.wait(t, 30*time.Second), "exit status")
		assert.Contains(t, p.stderr.String(), "broken.rego:4")
		assert.Contains(t, p.stderr.String(), "undefined function no_such_function")
		assert.Empty(t, p.stdout.String())
	})
	t.Run("a policy directory that does not exist stops both", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "no-such-dir")
		manifest := writeFile(t, "pod.yaml", partyPodManifest)
		addrs := newWebhookAddrs(t)
		for _, args := range [][]string{addrs.args("--policy-dir", missing), {"validate", "-f", manifest, "--policy-dir", missing}} {
			p := startProc(t, bin, args...)
			assert.Equal(t, 2, p.wait(t, 30*time.Second), "mpcguard %s: exit status", args[0])
			assert.Contains(t, p.stderr.String(), "--policy-dir: policy directory: stat "+missing)
		}
	})
}

func TestAPolicyThatFailsAtRunTimeIsAnsweredWithHTTP500NeverAnAllow(t *testing.T) {
	bin := mpcguardBin(t)
	addrs := newWebhookAddrs(t)
	p := startProc(t, bin, addrs.args("--policy-dir", runtimeErrorPolicies)...)
	waitReady(t, p, addrs.readyz)
	client := addrs.tlsClient(false, 1)

	post := func(t *testing.T, uid, role string) (int, *admissionv1.AdmissionResponse) {
		t.Helper()
		body, err := podReview(uid, map[string]string{"app.kubernetes.io/component": "mpc-party", "party-role": role})
		require.NoError(t, err)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, addrs.url+"?timeout=10s", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		var rv admissionv1.AdmissionReview
		require.NoError(t, json.Unmarshal(raw, &rv), "every answer is an AdmissionReview: %s", raw)
		require.NotNil(t, rv.Response, "%s", raw)
		return resp.StatusCode, rv.Response
	}

	t.Run("answers a role to_number cannot read with 500, not allowed", func(t *testing.T) {
		status, resp := post(t, "p-persistent", "persistent")
		assert.Equal(t, http.StatusInternalServerError, status, "a 5xx leaves the decision to the API server's failurePolicy")
		assert.False(t, resp.Allowed)
		require.NotNil(t, resp.Result)
		assert.EqualValues(t, http.StatusInternalServerError, resp.Result.Code)
		assert.Contains(t, resp.Result.Message, "policy evaluation failed: Pod mpc-system/p-persistent")
		assert.Contains(t, resp.Result.Message, "to_number")
	})
	t.Run("still judges what the policy can evaluate: the set in --policy-dir is the one in force", func(t *testing.T) {
		status, resp := post(t, "p-five", "5")
		assert.Equal(t, http.StatusOK, status)
		assert.False(t, resp.Allowed)
		assert.Contains(t, resp.Result.Message, "[role-number]")
		status, resp = post(t, "p-two", "2")
		assert.Equal(t, http.StatusOK, status)
		assert.True(t, resp.Allowed)
	})
	t.Run("counts the failure on /metrics", func(t *testing.T) {
		resp, err := http.Get(addrs.metricsURL)
		require.NoError(t, err)
		defer resp.Body.Close()
		m, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Contains(t, string(m), `mpcguard_evaluation_errors_total{reason="eval"} 1`)
		assert.Contains(t, string(m), `mpcguard_admission_requests_total{kind="Pod",result="error"} 1`)
	})
	t.Run("makes mpcguard validate exit 2, never 0", func(t *testing.T) {
		v := startProc(t, bin, "validate", "-f", writeFile(t, "pod.yaml", partyPodManifest), "--policy-dir", runtimeErrorPolicies)
		assert.Equal(t, 2, v.wait(t, 30*time.Second), "exit status")
		assert.Contains(t, v.stderr.String(), "error: ")
		assert.Contains(t, v.stderr.String(), "evaluating Pod mpc-system/p-0")
		assert.Contains(t, v.stderr.String(), "to_number")
	})
}
