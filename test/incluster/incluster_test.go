package incluster

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/mpcguard/mpcguard/internal/api/v1alpha1"
	"github.com/mpcguard/mpcguard/internal/audit"
	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/test/cluster"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

// The release the environment installs (faults_test.go uses them too).
const (
	releaseName = scenario.DemoRelease
	namespace   = scenario.DemoNamespace
)

// The certificate rotation's lives in this test, through the chart's values (webhook.certs.rotate): short
// enough that the webhook makes a new CA every 2m (at 2/3 of its life) and renews its serving certificate every
// 80s, so that every case runs across rotations and "failure under load" (c) sees a whole CA rotation. The
// overlap is five check intervals, the serving certificate's life eight overlaps.
const (
	rotateCAValidity    = 3 * time.Minute
	rotateCertValidity  = 2 * time.Minute
	rotateOverlap       = 15 * time.Second
	rotateCheckInterval = 3 * time.Second
)

// inClusterValues are scenario.StandInValues with the rotation's lives above.
func inClusterValues(t *testing.T) string {
	t.Helper()
	vals := map[string]any{}
	require.NoError(t, yaml.Unmarshal([]byte(scenario.StandInValues), &vals))
	hook, ok := vals["mpcguard"].(map[string]any)
	require.True(t, ok, "StandInValues set mpcguard")
	hook["webhook"] = map[string]any{"certs": map[string]any{"mode": "rotate", "rotate": map[string]any{
		"caValidity": rotateCAValidity.String(), "certValidity": rotateCertValidity.String(),
		"overlap": rotateOverlap.String(), "checkInterval": rotateCheckInterval.String()}}}
	out, err := yaml.Marshal(vals)
	require.NoError(t, err)
	return string(out)
}

// testLog sends the environment's progress lines to the test's log.
type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func requireDenied(t *testing.T, err error, policyID string) {
	t.Helper()
	require.Error(t, err, "the API server should have rejected this")
	assert.True(t, apierrors.IsForbidden(err), "a webhook denial is Forbidden, got %v", err)
	// The webhook says "denied the request: [id]", a native policy (run first) "denied request: [id]".
	assert.Regexp(t, `denied (the )?request: \[`+policyID+`\]`, err.Error())
}

func TestTheChartFromTheRegistryRunsItsWebhookOnARealNodeAndAdmitsAndRejectsThroughItsService(t *testing.T) {
	require.NoError(t, cluster.CheckTools(cluster.BinDir(), scenario.InClusterTools...), "run make tools")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	start := time.Now()
	env, err := scenario.UpInCluster(ctx, scenario.InClusterOptions{Values: inClusterValues(t), Log: testLog{t}, StopOnInterrupt: true})
	require.NoError(t, err, "publishing to a loopback registry, starting the real node and installing mpc-system from it")
	t.Cleanup(func() { assert.NoError(t, env.Down(), "stopping the cluster and the registry") })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the end of the cluster's logs:\n%s", env.Cluster.Logs(15))
			if out, err := exec.Command(filepath.Join(cluster.BinDir(), "kubectl"), "--kubeconfig", env.Cluster.Kubeconfig,
				"get", "pods,events", "-A", "-o", "wide").CombinedOutput(); err == nil || len(out) > 0 {
				t.Logf("kubectl get pods,events -A:\n%s", out)
			}
		}
	})
	t.Logf("published, cluster up and helm install from oci:// with every pod Ready on the real node in %s",
		time.Since(start).Round(100*time.Millisecond))
	c, image := env.Cluster, env.Image
	require.NotEmpty(t, image.Digest)
	require.True(t, strings.HasPrefix(env.Chart, "oci://"+env.Registry.Addr+"/") && strings.Contains(env.Chart, "@sha256:"),
		"the chart is installed from the registry by digest: %s", env.Chart)

	t.Run("the webhook runs in the cluster from the pushed image, by digest", func(t *testing.T) {
		pods, err := c.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=mpcguard"})
		require.NoError(t, err)
		require.Len(t, pods.Items, 2, "two webhook replicas")
		for _, p := range pods.Items {
			assert.Equal(t, cluster.RealNodeName, p.Spec.NodeName)
			assert.Equal(t, image.Ref(), p.Spec.Containers[0].Image)
			require.Len(t, p.Status.ContainerStatuses, 1)
			st := p.Status.ContainerStatuses[0]
			assert.True(t, st.Ready, "%s is Ready (its readiness probe passed)", p.Name)
			assert.Contains(t, st.ImageID, image.Digest, "the kubelet ran the pulled digest")
			assert.Contains(t, p.Spec.Containers[0].Args, "--cert-mode=rotate", "%s keeps its own certificates (the chart's default)", p.Name)
		}
		vwcs, err := c.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		require.NotEmpty(t, vwcs.Items)
		for _, w := range vwcs.Items[0].Webhooks {
			assert.Nil(t, w.ClientConfig.URL, "%s: no webhook.url", w.Name)
			require.NotNil(t, w.ClientConfig.Service, "%s is called through its Service", w.Name)
			assert.NotEmpty(t, w.ClientConfig.CABundle, "%s: the webhook filled in the caBundle the chart does not render", w.Name)
		}
	})

	cl := env.Client
	t.Run("the API server calls the in-cluster webhook: it rejects and admits real objects", func(t *testing.T) {
		r := env.Release
		requireDenied(t, cl.Create(ctx, r.UnlabelledParty("unlabelled")), vocab.PartyRoleRequired)
		requireDenied(t, cl.Create(ctx, r.Session("delegates-alone", 2, 3, &v1alpha1.Composition{Persistent: 1, Delegate: 2})),
			vocab.SessionDelegateOnlyThreshold)
		requireDenied(t, cl.Create(ctx, r.Session("empty", 2, 3, &v1alpha1.Composition{})), vocab.SessionCompositionNonempty)
		// Admitted only if the webhook's inventory (its own ServiceAccount, watching pods) sees two Ready
		// persistent parties.
		assert.NoError(t, cl.Create(ctx, r.Session("valid", 2, 3, &v1alpha1.Composition{Persistent: 2, Delegate: 1})))
	})

	t.Run("the coordinator discovers the parties from inside its pod and is refused secrets", func(t *testing.T) {
		var report *scenario.CoordinatorReport
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			var err error
			report, err = env.Coordinator(ctx) // GET http://<its pod IP>:8080/parties
			require.NoError(ct, err)
			assert.Equal(ct, map[string]int{"persistent": 3, "delegate": 1}, report.ReadyRoles())
		}, time.Minute, time.Second, "the coordinator sees three Ready persistent parties and one delegate")
		assert.Empty(t, report.DiscoveryError)
		assert.True(t, report.SecretsForbidden, "listing secrets with the coordinator's token is forbidden")
		t.Logf("the coordinator's report: %+v", report)
	})

	t.Run("the periodic audit runs in the cluster under the webhook's own ServiceAccount and writes its Report", func(t *testing.T) {
		dyn, err := dynamic.NewForConfig(c.Config)
		require.NoError(t, err)
		var report *unstructured.Unstructured
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			report, err = dyn.Resource(audit.ReportGVR).Namespace(namespace).Get(ctx, audit.ReportName, metav1.GetOptions{})
			require.NoError(ct, err)
		}, 2*time.Minute, time.Second, "the Report %s/%s is written", namespace, audit.ReportName)
		fails, _, _ := unstructured.NestedInt64(report.Object, "summary", "fail")
		assert.Zero(t, fails, "nothing in the namespace breaks a denying policy (admission kept it so)")
		assert.Equal(t, audit.Source, report.GetLabels()[audit.ManagedByLabel], "the Report names its writer")
		pods, err := env.Release.WebhookPods(ctx)
		require.NoError(t, err)
		leases, err := c.Client.CoordinationV1().Leases(namespace).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		holders := []string{}
		for _, l := range leases.Items {
			if l.Spec.HolderIdentity != nil {
				holders = append(holders, *l.Spec.HolderIdentity)
			}
		}
		leader := false
		for _, p := range pods {
			for _, h := range holders {
				leader = leader || strings.HasPrefix(h, p.Pod+"_")
			}
		}
		assert.True(t, leader, "a webhook pod holds the audit Lease (holders %v)", holders)
	})

	t.Run("failure under load", func(t *testing.T) { testFaultsUnderLoad(ctx, t, env) })

	t.Run("helm test runs the chart's test pods for real", func(t *testing.T) {
		out, err := env.HelmCLI(ctx, "test", releaseName, "--namespace", namespace, "--timeout", "2m")
		require.NoError(t, err)
		assert.Contains(t, out, "Phase:          Succeeded")
		assert.NotContains(t, out, "Failed")
		t.Logf("helm test:\n%s", out)
	})
}
