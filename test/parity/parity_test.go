package parity

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mpcguard/mpcguard/internal/certs"
	"github.com/mpcguard/mpcguard/test/ports"
)

// The same policy configuration for both sides: share storage named, one policy in warn mode.
var policyFlags = []string{
	"--share-secret-names", "mpc-db",
	"--share-claim-prefixes", "share-data-mpc-party-persistent-",
	"--persistent-workloads", "mpc-party-persistent",
	"--enforcement", "session-composition-sum=warn",
}

// controller is the identity the reviews carry, as the API server would for pods the StatefulSet controller
// creates. Offline there is no identity: validate reports that part of party-persistent-origin as skipped,
// the one difference between the two roads (offlineOnly).
const controller = "system:serviceaccount:kube-system:statefulset-controller"

// offlineOnly reports a result only validate gives: the creator check it cannot run without a request.
func offlineOnly(r result) bool {
	return r.Policy == "party-persistent-origin" && strings.Contains(r.Message, "creator identity not checked")
}

// binary returns the mpcguard binary: $MPCGUARD_BIN (make test builds it), else one built for this test.
func binary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("MPCGUARD_BIN"); b != "" {
		return b
	}
	out := filepath.Join(t.TempDir(), "mpcguard")
	cmd := exec.Command("go", "build", "-o", out, "github.com/mpcguard/mpcguard/cmd/mpcguard")
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Run(), "building mpcguard")
	return out
}

type result struct {
	Policy  string `json:"policy"`
	Message string `json:"message"`
}

type object struct {
	Kind      string   `json:"kind"`
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Reviewed  bool     `json:"reviewed"`
	Deny      []result `json:"deny"`
	Warn      []result `json:"warn"`
	Skipped   []result `json:"skipped"`
}

func key(kind, ns, name string) string { return kind + " " + ns + "/" + name }

func messages(rs ...[]result) []string {
	out := []string{}
	for _, list := range rs {
		for _, r := range list {
			out = append(out, r.Message)
		}
	}
	sort.Strings(out)
	return out
}

// startWebhook runs `mpcguard webhook --inventory=false` on 127.0.0.1 and returns its /validate URL and a
// client trusting its CA; the process gets SIGTERM at cleanup and must exit 0.
func startWebhook(t *testing.T, bin string) (string, *http.Client) {
	t.Helper()
	dir := t.TempDir()
	ca, err := certs.WriteLoopback(dir, time.Hour)
	require.NoError(t, err)
	port, health := ports.FreeT(t), ports.FreeT(t)
	args := append([]string{"webhook", "--inventory=false", "--host", "127.0.0.1", "--port", fmt.Sprint(port),
		"--cert-dir", dir, "--health-addr", fmt.Sprintf("127.0.0.1:%d", health), "--metrics-addr", "0",
		"--shutdown-delay", "0s"}, policyFlags...)
	cmd := exec.Command(bin, args...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			assert.NoError(t, err, "webhook exit; logs:\n%s", logs.String())
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("webhook ignored SIGTERM for 15s; logs:\n%s", logs.String())
		}
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", health))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 50*time.Millisecond, "webhook never ready; logs:\n%s", &logs)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	return fmt.Sprintf("https://127.0.0.1:%d/validate", port), &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}

// fixtures reads every document of testdata as JSON objects.
func fixtures(t *testing.T) []map[string]any {
	t.Helper()
	files, err := filepath.Glob("testdata/*.yaml")
	require.NoError(t, err)
	sort.Strings(files)
	var out []map[string]any
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var obj map[string]any
			err := dec.Decode(&obj)
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, f)
			out = append(out, obj)
		}
	}
	return out
}

func TestValidateAndWebhookGiveIdenticalDecisions(t *testing.T) {
	bin := binary(t)

	// Offline: one run over the whole fixture directory.
	cmd := exec.Command(bin, append([]string{"validate", "-f", "testdata", "-o", "json"}, policyFlags...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "validate must exit non-zero on fixtures with denials; stderr: %s", stderr.String())
	require.Equal(t, 1, exit.ExitCode(), "exit 1 means denied (not 2, unreadable); stderr: %s", stderr.String())
	var report struct {
		Objects []object `json:"objects"`
		Errors  []any    `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &report))
	require.Empty(t, report.Errors)
	offline := map[string]object{}
	for _, o := range report.Objects {
		offline[key(o.Kind, o.Namespace, o.Name)] = o
	}

	url, client := startWebhook(t, bin)
	objs := fixtures(t)
	require.Len(t, report.Objects, len(objs), "validate saw every fixture document")
	denied := map[string]bool{}
	for i, obj := range objs {
		meta := obj["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		if name == "" {
			name = meta["generateName"].(string) + "*"
		}
		ns := meta["namespace"].(string)
		kind := obj["kind"].(string)
		want, ok := offline[key(kind, ns, name)]
		require.True(t, ok, "validate reported %s", key(kind, ns, name))

		t.Run(fmt.Sprintf("%s %s/%s gets the same decision", kind, ns, name), func(t *testing.T) {
			gv, err := schema.ParseGroupVersion(obj["apiVersion"].(string))
			require.NoError(t, err)
			raw, err := json.Marshal(obj)
			require.NoError(t, err)
			review, err := json.Marshal(map[string]any{
				"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
				"request": map[string]any{
					"uid": fmt.Sprintf("parity-%d", i), "operation": "CREATE", "namespace": ns, "name": meta["name"],
					"kind":     map[string]any{"group": gv.Group, "version": gv.Version, "kind": kind},
					"resource": map[string]any{"group": gv.Group, "version": gv.Version, "resource": strings.ToLower(kind) + "s"},
					"object":   json.RawMessage(raw),
					"userInfo": map[string]any{"username": controller, "groups": []string{"system:serviceaccounts"}},
				},
			})
			require.NoError(t, err)
			resp, err := client.Post(url, "application/json", bytes.NewReader(review))
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			var out struct {
				Response struct {
					Allowed  bool     `json:"allowed"`
					Warnings []string `json:"warnings"`
					Status   struct {
						Message string `json:"message"`
					} `json:"status"`
				} `json:"response"`
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))

			assert.Equal(t, len(want.Deny) == 0, out.Response.Allowed, "allowed")
			got := []string{}
			if !out.Response.Allowed {
				got = strings.Split(out.Response.Status.Message, "\n")
				sort.Strings(got)
			}
			assert.Equal(t, messages(want.Deny), got, "denials")
			warns := append([]string{}, out.Response.Warnings...)
			sort.Strings(warns)
			skipped := slices.DeleteFunc(slices.Clone(want.Skipped), offlineOnly)
			assert.Equal(t, messages(want.Warn, skipped), warns, "warnings (warn-mode policies and skipped checks)")
		})
		for _, r := range want.Deny {
			denied[r.Policy] = true
		}
	}
	// The fixtures must exercise every policy that can deny a CREATE without a cluster.
	for _, id := range []string{"party-role-required", "party-role-valid", "workload-party-role",
		"session-composition-nonempty", "session-delegate-only-threshold", "session-threshold-range",
		"delegate-no-share-storage", "party-persistent-origin", "party-binding-labels", "share-storage-copy",
		"share-storage-persistent-only", "session-spec-valid"} {
		assert.True(t, denied[id], "no fixture is denied by %s", id)
	}
}
