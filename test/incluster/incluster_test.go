package incluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mpcguard/mpcguard/internal/api/v1alpha1"
	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/test/cluster"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

const (
	releaseName = "mpc-system"
	namespace   = "mpc-system"
)

// standInValues run the stand-in images on the single real node: preferred anti-affinity (one node), small
// requests, the stand-ins never pulled, the webhook with the chart's self-signed certificate.
const standInValues = `coordinator:
  image: {repository: mpcguard.local/stand-in/coordinator, tag: test, pullPolicy: Never}
  resources: {requests: {cpu: 10m, memory: 32Mi}, limits: {cpu: 200m, memory: 128Mi}}
parties:
  image: {repository: mpcguard.local/stand-in/party, tag: test, pullPolicy: Never}
pools:
  - name: server-party
    role: persistent
    replicas: 3
    resources: {requests: {cpu: 10m, memory: 32Mi}, limits: {cpu: 200m, memory: 128Mi}}
    shareStorage:
      volumeClaim: {name: shares, size: 1Gi, storageClassName: "", mountPath: /var/lib/mpc/shares}
  - name: server-party-api
    role: delegate
    replicas: 1
    resources: {requests: {cpu: 10m, memory: 32Mi}, limits: {cpu: 200m, memory: 128Mi}}
placement:
  persistent: {podAntiAffinity: preferred}
tests:
  image: {repository: mpcguard.local/stand-in/helm-test, tag: test, pullPolicy: Never}
mpcguard:
  webhook:
    certManager: {enabled: false}
  tests:
    image: {repository: mpcguard.local/stand-in/helm-test, tag: test, pullPolicy: Never}
`

type published struct{ repo, tag, digest string }

// publish runs `make publish` (linux/amd64 only: the real node's platform) to the registry and reads its record.
func publish(ctx context.Context, t *testing.T, registry, dir string) map[string]published {
	t.Helper()
	root, err := cluster.RepoRoot()
	require.NoError(t, err)
	start := time.Now()
	cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "publish", "REGISTRY="+registry, "IMAGE_PLATFORMS=linux/amd64",
		"IMAGE_DIR="+filepath.Join(dir, "image"), "RELEASE_DIR="+filepath.Join(dir, "release"))
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "make publish\n%s", out)
	t.Logf("make publish (linux/amd64) in %s", time.Since(start).Round(time.Second))
	data, err := os.ReadFile(filepath.Join(dir, "release", "published.txt"))
	require.NoError(t, err)
	pub := map[string]published{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		require.Len(t, f, 4, "published.txt line %q", line)
		key := f[0]
		if key == "chart" {
			key += " " + filepath.Base(f[1])
		}
		pub[key] = published{repo: f[1], tag: f[2], digest: f[3]}
	}
	return pub
}

// helm runs the helm CLI of `make tools` against the cluster, with its configuration in dir.
func helm(ctx context.Context, c *cluster.Cluster, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(cluster.BinDir(), "helm"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig, "HELM_CONFIG_HOME="+filepath.Join(dir, "helm"),
		"HELM_CACHE_HOME="+filepath.Join(dir, "helm-cache"), "HELM_DATA_HOME="+filepath.Join(dir, "helm-data"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func requireDenied(t *testing.T, err error, policyID string) {
	t.Helper()
	require.Error(t, err, "the API server should have rejected this")
	assert.True(t, apierrors.IsForbidden(err), "a webhook denial is Forbidden, got %v", err)
	assert.Contains(t, err.Error(), "denied the request: ["+policyID+"]")
}

func TestTheChartFromTheRegistryRunsItsWebhookOnARealNodeAndAdmitsAndRejectsThroughItsService(t *testing.T) {
	require.NoError(t, cluster.CheckTools(cluster.BinDir(), append(append([]string{"registry", "helm", "cyclonedx-gomod"},
		cluster.ControlPlaneTools...), cluster.RealNodeTools...)...), "run make tools")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	dir := t.TempDir()

	reg, err := cluster.StartRegistry(ctx, cluster.BinDir(), dir)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, reg.Stop()) })
	pub := publish(ctx, t, reg.Addr, dir)
	image, chart := pub["image"], pub["chart mpc-system"]
	require.NotEmpty(t, image.digest)
	require.NotEmpty(t, chart.tag)

	c := cluster.StartT(t, cluster.Options{RealNode: true})
	require.NoError(t, c.TrustRegistry(reg.Addr))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the end of the cluster's logs:\n%s", c.Logs(15))
			if out, err := exec.Command(filepath.Join(cluster.BinDir(), "kubectl"), "--kubeconfig", c.Kubeconfig,
				"get", "pods,events", "-A", "-o", "wide").CombinedOutput(); err == nil || len(out) > 0 {
				t.Logf("kubectl get pods,events -A:\n%s", out)
			}
		}
	})
	_, err = c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace,
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"}}},
		metav1.CreateOptions{})
	require.NoError(t, err)
	values := filepath.Join(dir, "values.yaml")
	require.NoError(t, os.WriteFile(values, []byte(standInValues), 0o600))

	start := time.Now()
	_, err = helm(ctx, c, dir, "install", releaseName, "oci://"+chart.repo, "--version", chart.tag, "--plain-http",
		"--namespace", namespace, "-f", values, "--wait", "--timeout", "5m")
	require.NoError(t, err)
	t.Logf("helm install from oci:// with every pod Ready on the real node in %s", time.Since(start).Round(100*time.Millisecond))

	t.Run("the webhook runs in the cluster from the pushed image, by digest", func(t *testing.T) {
		pods, err := c.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=mpcguard"})
		require.NoError(t, err)
		require.Len(t, pods.Items, 2, "two webhook replicas")
		for _, p := range pods.Items {
			assert.Equal(t, cluster.RealNodeName, p.Spec.NodeName)
			assert.Equal(t, image.repo+"@"+image.digest, p.Spec.Containers[0].Image)
			require.Len(t, p.Status.ContainerStatuses, 1)
			st := p.Status.ContainerStatuses[0]
			assert.True(t, st.Ready, "%s is Ready (its readiness probe passed)", p.Name)
			assert.Contains(t, st.ImageID, image.digest, "the kubelet ran the pulled digest")
		}
		vwcs, err := c.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		require.NotEmpty(t, vwcs.Items)
		for _, w := range vwcs.Items[0].Webhooks {
			assert.Nil(t, w.ClientConfig.URL, "%s: no webhook.url", w.Name)
			require.NotNil(t, w.ClientConfig.Service, "%s is called through its Service", w.Name)
		}
	})

	cl, err := scenario.NewClient(c)
	require.NoError(t, err)
	t.Run("the API server calls the in-cluster webhook: it rejects and admits real objects", func(t *testing.T) {
		r := &scenario.Release{Name: releaseName, Namespace: namespace}
		requireDenied(t, cl.Create(ctx, r.UnlabelledParty("unlabelled")), vocab.PartyRoleRequired)
		requireDenied(t, cl.Create(ctx, r.Session("delegates-alone", 2, 3, &v1alpha1.Composition{Persistent: 1, Delegate: 2})),
			vocab.SessionDelegateOnlyThreshold)
		requireDenied(t, cl.Create(ctx, r.Session("empty", 2, 3, &v1alpha1.Composition{})), vocab.SessionCompositionNonempty)
		// Admitted only if the webhook's inventory (its own ServiceAccount, watching pods) sees two Ready
		// persistent parties.
		assert.NoError(t, cl.Create(ctx, r.Session("valid", 2, 3, &v1alpha1.Composition{Persistent: 2, Delegate: 1})))
	})

	t.Run("the coordinator discovers the parties from inside its pod and is refused secrets", func(t *testing.T) {
		pods, err := c.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=coordinator"})
		require.NoError(t, err)
		require.Len(t, pods.Items, 1)
		ip := pods.Items[0].Status.PodIP
		require.True(t, cluster.PodIPReachable(ip), "coordinator pod IP %s", ip)
		var report struct {
			Parties []struct {
				Name, Role string
				Ready      bool
			} `json:"parties"`
			DiscoveryError   string `json:"discoveryError"`
			SecretsForbidden bool   `json:"secretsForbidden"`
		}
		httpc := &http.Client{Timeout: 3 * time.Second}
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			resp, err := httpc.Get("http://" + ip + ":8080/parties")
			require.NoError(ct, err)
			defer resp.Body.Close()
			require.NoError(ct, json.NewDecoder(resp.Body).Decode(&report))
			roles := map[string]int{}
			for _, p := range report.Parties {
				if p.Ready {
					roles[p.Role]++
				}
			}
			assert.Equal(ct, map[string]int{"persistent": 3, "delegate": 1}, roles)
		}, time.Minute, time.Second, "the coordinator sees three Ready persistent parties and one delegate")
		assert.Empty(t, report.DiscoveryError)
		assert.True(t, report.SecretsForbidden, "listing secrets with the coordinator's token is forbidden")
		t.Logf("the coordinator's report: %+v", report)
	})

	t.Run("failure under load", func(t *testing.T) { testFaultsUnderLoad(ctx, t, c, dir, chart, values) })

	t.Run("helm test runs the chart's test pods for real", func(t *testing.T) {
		out, err := helm(ctx, c, dir, "test", releaseName, "--namespace", namespace, "--timeout", "2m")
		require.NoError(t, err)
		assert.Contains(t, out, "Phase:          Succeeded")
		assert.NotContains(t, out, "Failed")
		t.Logf("helm test:\n%s", out)
	})
}
