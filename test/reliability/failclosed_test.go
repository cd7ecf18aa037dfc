package reliability

import (
	"encoding/base64"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/chart/loader"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mpcguard/mpcguard/internal/api/v1alpha1"
	"github.com/mpcguard/mpcguard/test/cluster"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

// The release of the fail-closed test: installed into mpc-system, checking mpc-parties too; mpc-unlisted is
// a namespace the chart does not list.
const (
	fcRelease   = "mpc-system"
	fcNamespace = "mpc-system"
	fcExtra     = "mpc-parties"
	fcUnlisted  = "mpc-unlisted"
)

// webhookLabels are the labels of the chart's own webhook pods (mpcguard.selectorLabels).
var webhookLabels = map[string]string{
	"app.kubernetes.io/name":      "mpcguard",
	"app.kubernetes.io/instance":  fcRelease,
	"app.kubernetes.io/component": "admission-webhook",
}

func partyLabels(role string) map[string]string {
	l := map[string]string{scenario.ComponentLabel: scenario.PartyComponent}
	if role != "" {
		l[scenario.RoleLabel] = role
	}
	return l
}

func pod(namespace, name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels},
		Spec: scenario.RestrictedPodSpec("ghcr.io/mpcguard/mpc-server-party:0.1.0")}
}

// deployment is a Deployment of pods with labels, running image under the restricted Pod Security Standard.
func deployment(namespace, name, image string, labels map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: scenario.RestrictedPodSpec(image)},
		},
	}
}

func session(namespace, name string, c *v1alpha1.Composition) *v1alpha1.MPCSession {
	return &v1alpha1.MPCSession{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: v1alpha1.MPCSessionSpec{Type: v1alpha1.SessionSign, Threshold: v1alpha1.Threshold{T: 2, N: 3}, Composition: c}}
}

func TestWithTheWebhookDownTheAPIServerRejectsExactlyPartyPodsAndSessionsInEnforcedNamespacesAndResumesOnRestart(t *testing.T) {
	bin := mpcguardBin(t)
	start := time.Now()
	c := cluster.StartT(t, cluster.Options{Nodes: 3})
	clusterUp := time.Since(start)
	ctx := t.Context()
	cl, err := scenario.NewClient(c)
	require.NoError(t, err)

	root, err := cluster.RepoRoot()
	require.NoError(t, err)
	chrt, err := loader.Load(filepath.Join(root, "charts", "mpc-system"))
	require.NoError(t, err)
	// The webhook alone: the native policies would deny some of these requests while the webhook is down.
	values := map[string]any{"mpcguard": map[string]any{"webhook": map[string]any{"namespaces": []any{fcExtra},
		"nativePolicies": map[string]any{"enabled": false}}}}
	// The local webhook gets the arguments the chart's own webhook Deployment would: --namespaces, selector...
	args, err := scenario.ChartWebhookArgs(ctx, chrt, values, fcRelease, fcNamespace)
	require.NoError(t, err)
	require.Contains(t, args, "--namespaces="+fcNamespace+","+fcExtra)
	hook, err := cluster.StartWebhook(ctx, cluster.WebhookOptions{Bin: bin, Kubeconfig: c.Kubeconfig, Args: args, Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the end of the webhook's log:\n%s", hook.Logs(30))
		}
		assert.NoError(t, hook.Stop())
	})

	for _, ns := range []string{fcNamespace, fcExtra, fcUnlisted} {
		require.NoError(t, cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	}
	values["mpcguard"].(map[string]any)["webhook"].(map[string]any)["url"] = hook.URL
	values["mpcguard"].(map[string]any)["webhook"].(map[string]any)["caBundle"] = base64.StdEncoding.EncodeToString(hook.CABundle)
	start = time.Now()
	_, err = c.HelmInstall(ctx, cluster.HelmRelease{Name: fcRelease, Namespace: fcNamespace, Chart: chrt, Values: values})
	require.NoError(t, err)
	installed := time.Since(start)
	for _, ns := range []string{fcExtra, fcUnlisted} { // pods need the namespace's default ServiceAccount
		require.Eventually(t, func() bool {
			return cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: "default"}, &corev1.ServiceAccount{}) == nil
		}, time.Minute, 100*time.Millisecond, "ServiceAccount %s/default", ns)
	}

	t.Run("the chart installed its webhooks with failurePolicy Fail", func(t *testing.T) {
		var vwcs admissionregistrationv1.ValidatingWebhookConfigurationList
		require.NoError(t, cl.List(ctx, &vwcs))
		require.Len(t, vwcs.Items, 1)
		require.Len(t, vwcs.Items[0].Webhooks, 4, "pods, workloads, storage, mpcsessions")
		for _, w := range vwcs.Items[0].Webhooks {
			require.NotNil(t, w.FailurePolicy)
			assert.Equal(t, admissionregistrationv1.Fail, *w.FailurePolicy, w.Name)
		}
	})
	t.Run("while the webhook runs, a party pod without a role is denied by policy", func(t *testing.T) {
		requireDenied(t, cl.Create(ctx, pod(fcExtra, "unlabelled-before", partyLabels(""))), "party-role-required")
	})

	require.NoError(t, hook.Halt(), "stopping the webhook process")
	require.Zero(t, readyStatus(ctx, hook.HealthURL+"/readyz"), "nothing answers on the webhook's probes")

	own := deployment(fcNamespace, "mpcguard-webhook-standby", "ghcr.io/mpcguard/mpcguard:0.1.0", webhookLabels)
	own.Labels = webhookLabels
	valid := &v1alpha1.Composition{Persistent: 2, Delegate: 1}
	rejected := map[string]struct {
		obj     client.Object
		webhook string
	}{
		"a party pod with a valid role in the release namespace": {pod(fcNamespace, "down-party", partyLabels("persistent")), "pods.mpcguard.io"},
		"a party pod with a valid role in the listed namespace":  {pod(fcExtra, "down-party", partyLabels("delegate")), "pods.mpcguard.io"},
		"a valid MPCSession in the release namespace":            {session(fcNamespace, "down-session", valid), "mpcsessions.mpcguard.io"},
		"a valid MPCSession in the listed namespace":             {session(fcExtra, "down-session", valid), "mpcsessions.mpcguard.io"},
		// Inside the checked namespaces every pod and workload is reviewed, party or not: a pod that is no party
		// yet can become one by relabelling in steps, and a non-party pod may mount share storage. With
		// webhook.url the chart cannot name the webhook's own Deployment, so nothing is excluded by its labels.
		"a pod that is no party pod in the release namespace": {pod(fcNamespace, "down-web", map[string]string{"app": "web"}), "pods.mpcguard.io"},
		"a pod carrying the webhook's own labels in the release namespace": {pod(fcNamespace, "down-webhook", webhookLabels),
			"pods.mpcguard.io"},
		"a Deployment carrying the webhook's own labels": {own, "workloads.mpcguard.io"},
	}
	for name, tc := range rejected {
		t.Run("with the webhook down, the API server rejects "+name, func(t *testing.T) {
			err := cl.Create(ctx, tc.obj)
			require.Error(t, err, "failurePolicy Fail: no verdict, no object")
			t.Logf("the API server: %v", err)
			assert.True(t, apierrors.IsInternalError(err), "an unreachable webhook is an internal error, got %v", err)
			assert.Contains(t, err.Error(), `failed calling webhook "`+tc.webhook+`"`)
			assert.Contains(t, err.Error(), hook.URL)
			got := tc.obj.DeepCopyObject().(client.Object)
			assert.True(t, apierrors.IsNotFound(cl.Get(ctx, client.ObjectKeyFromObject(tc.obj), got)), "nothing was created")
		})
	}
	admitted := map[string]client.Object{
		"a party pod in kube-system":                                        pod("kube-system", "down-party", partyLabels("persistent")),
		"a party pod without a role in a namespace the chart does not list": pod(fcUnlisted, "down-party", partyLabels("")),
		"an MPCSession with an empty composition in a namespace the chart does not list": session(fcUnlisted, "down-session",
			&v1alpha1.Composition{}),
	}
	for name, obj := range admitted {
		t.Run("with the webhook down, the API server admits "+name, func(t *testing.T) {
			require.NoError(t, cl.Create(ctx, obj))
		})
	}

	start = time.Now()
	require.NoError(t, hook.Restart(ctx), "restarting the webhook on %s with the same certificate", hook.URL)
	restarted := time.Since(start)
	var resumed time.Duration
	t.Run("after a restart on the same URL, admission resumes with no manual step", func(t *testing.T) {
		start := time.Now()
		var last error
		require.Eventually(t, func() bool {
			last = cl.Create(ctx, pod(fcNamespace, "resumed-party", partyLabels("delegate")))
			return last == nil
		}, 30*time.Second, 50*time.Millisecond, "a delegate party pod is admitted again (persistent ones come from the StatefulSet); last error: %v", last)
		resumed = time.Since(start)
		requireDenied(t, cl.Create(ctx, pod(fcNamespace, "resumed-unlabelled", partyLabels(""))), "party-role-required")
		requireDenied(t, cl.Create(ctx, session(fcExtra, "resumed-delegates", &v1alpha1.Composition{Persistent: 1, Delegate: 2})),
			"session-delegate-only-threshold")
		require.NoError(t, cl.Create(ctx, session(fcNamespace, "resumed-session", valid)),
			"a 2-of-3 session with two Ready persistent parties is admitted")
	})
	t.Logf("fail-closed: cluster up in %s, chart installed in %s, webhook restarted (ready) in %s, first admission %s after that",
		clusterUp.Round(100*time.Millisecond), installed.Round(100*time.Millisecond), restarted.Round(10*time.Millisecond),
		resumed.Round(10*time.Millisecond))
}

// requireDenied checks that err is the API server relaying mpcguard's denial by policyID.
func requireDenied(t *testing.T, err error, policyID string) {
	t.Helper()
	require.Error(t, err, "the API server should have rejected this")
	assert.True(t, apierrors.IsForbidden(err), "a webhook denial is Forbidden, got %v", err)
	assert.Contains(t, err.Error(), "denied the request: ["+policyID+"]")
}
