package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mpcguard/mpcguard/test/cluster"
)

// ctTimeout bounds one `ct install` run (every values file of one chart).
const ctTimeout = 10 * time.Minute

// ct install against the local cluster, for every ci/*-values.yaml of both charts, with the helm, ct and
// kubectl binaries from the cache. Every install points the webhook configuration at one local webhook
// process (webhook.url and caBundle set on top of each values file): no container runs here, so an in-cluster
// webhook Deployment could never answer the API server. The charts' Helm test pods are completed by
// test/cluster/stages/helm-test-complete.yaml without running.
func TestCtInstallPassesForEveryCIValuesFileOfBothCharts(t *testing.T) {
	env := sharedEnv(t)
	require.NoError(t, cluster.CheckTools(env.Cluster.BinDir, cluster.ChartTools...))
	root, err := cluster.RepoRoot()
	require.NoError(t, err)
	ctx := t.Context()

	// extra-namespaces-values.yaml discovers and checks parties in mpc-parties too: it must exist.
	err = env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "mpc-parties"}})
	if !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
	}
	// One webhook for every namespace ct creates: the default policy configuration, inventory over all namespaces.
	hook, err := cluster.StartWebhook(ctx, cluster.WebhookOptions{Bin: env.Mpcguard, Kubeconfig: env.Cluster.Kubeconfig})
	require.NoError(t, err)
	unregister := cluster.StopOnInterrupt(hook)
	t.Cleanup(func() { unregister(); assert.NoError(t, hook.Stop()) })
	caBundle := base64.StdEncoding.EncodeToString(hook.CABundle)

	for _, c := range []struct{ chart, webhookKey string }{
		{"charts/mpc-system", "mpcguard.webhook"},
		{"charts/mpcguard", "webhook"},
	} {
		t.Run("ct install "+c.chart, func(t *testing.T) {
			t.Parallel() // the charts install into namespaces of their own; ct mostly waits on the controllers
			valuesFiles, err := filepath.Glob(filepath.Join(root, c.chart, "ci", "*-values.yaml"))
			require.NoError(t, err)
			require.NotEmpty(t, valuesFiles)
			start := time.Now()
			out, err := runCt(t.Context(), env.Cluster, root, "install", "--config", "ct.yaml", "--all=false", "--charts", c.chart,
				"--helm-extra-set-args", fmt.Sprintf("--set=%[1]s.url=%[2]s,%[1]s.caBundle=%[3]s", c.webhookKey, hook.URL, caBundle),
				"--helm-extra-args", "--timeout=120s")
			t.Logf("ct install %s: %d values files in %s", c.chart, len(valuesFiles), time.Since(start).Round(time.Second))
			require.NoError(t, err, "ct install failed; its output:\n%s", out)
			for _, f := range valuesFiles {
				rel, _ := filepath.Rel(root, f)
				assert.Contains(t, out, fmt.Sprintf("Installing chart with values file %q", rel))
			}
			assert.Contains(t, out, "All charts installed successfully")
			assert.NotContains(t, out, "Error deleting Helm release")
		})
	}
}

// runCt runs ct in the checkout with the cache's tools first on PATH and the cluster's kubeconfig, in a
// process group of its own that is killed with everything ct started if ctx ends or ctTimeout passes.
func runCt(ctx context.Context, c *cluster.Cluster, dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, ctTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.BinDir, "ct"), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig, "PATH="+c.BinDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		// ct's print-logs (no flag): KWOK keeps no container logs, so `kubectl logs` on every pod after each
		// install would only cost time.
		"CT_PRINT_LOGS=false")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	// An interrupted go test takes ct's helm and kubectl with it (Pdeathsig reaches only ct itself).
	unregister := cluster.StopOnInterrupt(cluster.StopperFunc(func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }))
	defer unregister()
	err := cmd.Wait()
	return out.String(), err
}
