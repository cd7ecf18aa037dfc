package reliability

import (
	"encoding/base64"
	"path/filepath"
	"strings"
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
	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/test/cluster"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

// partyDeployment is a Deployment of party pods with the given role ("" for none).
func partyDeployment(namespace, name, role string) *appsv1.Deployment {
	return deployment(namespace, name, "ghcr.io/mpcguard/mpc-server-party:0.1.0", partyLabels(role))
}

// requireNativeDenied checks that err is the API server's own denial by the chart's native policy for policyID
// (a ValidatingAdmissionPolicy, not the webhook).
func requireNativeDenied(t *testing.T, err error, policyID string) {
	t.Helper()
	require.Error(t, err, "the API server should have rejected this")
	assert.True(t, apierrors.IsForbidden(err), "a policy denial is Forbidden, got %v", err)
	assert.Contains(t, err.Error(), "ValidatingAdmissionPolicy")
	assert.Contains(t, err.Error(), "-"+policyID+"'", "the policy's name ends with its id")
	assert.Contains(t, err.Error(), "denied request: ["+policyID+"]")
}

func TestWithTheChartsNativePoliciesAndFailOpenAWebhookOutageStillRejectsPartyPodsAndDelegateOnlySessionsAndBlocksNoOrdinaryWorkload(t *testing.T) {
	bin := mpcguardBin(t)
	c := cluster.StartT(t, cluster.Options{Nodes: 3})
	ctx := t.Context()
	cl, err := scenario.NewClient(c)
	require.NoError(t, err)
	root, err := cluster.RepoRoot()
	require.NoError(t, err)
	chrt, err := loader.Load(filepath.Join(root, "charts", "mpc-system"))
	require.NoError(t, err)

	webhookValues := map[string]any{"nativePolicies": map[string]any{"enabled": true, "failOpen": true}}
	values := map[string]any{"mpcguard": map[string]any{"webhook": webhookValues}}
	args, err := scenario.ChartWebhookArgs(ctx, chrt, values, fcRelease, fcNamespace)
	require.NoError(t, err)
	hook, err := cluster.StartWebhook(ctx, cluster.WebhookOptions{Bin: bin, Kubeconfig: c.Kubeconfig, Args: args, Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, hook.Stop()) })
	require.NoError(t, cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fcNamespace}}))
	webhookValues["url"] = hook.URL
	webhookValues["caBundle"] = base64.StdEncoding.EncodeToString(hook.CABundle)
	_, err = c.HelmInstall(ctx, cluster.HelmRelease{Name: fcRelease, Namespace: fcNamespace, Chart: chrt, Values: values})
	require.NoError(t, err)

	t.Run("the chart runs the pod, workload and storage webhooks with failurePolicy Ignore and the sessions' with Fail", func(t *testing.T) {
		var vwcs admissionregistrationv1.ValidatingWebhookConfigurationList
		require.NoError(t, cl.List(ctx, &vwcs))
		require.Len(t, vwcs.Items, 1)
		got := map[string]admissionregistrationv1.FailurePolicyType{}
		for _, w := range vwcs.Items[0].Webhooks {
			require.NotNil(t, w.FailurePolicy, w.Name)
			got[w.Name] = *w.FailurePolicy
		}
		assert.Equal(t, map[string]admissionregistrationv1.FailurePolicyType{
			"pods.mpcguard.io": admissionregistrationv1.Ignore, "workloads.mpcguard.io": admissionregistrationv1.Ignore,
			"storage.mpcguard.io": admissionregistrationv1.Ignore, "mpcsessions.mpcguard.io": admissionregistrationv1.Fail,
		}, got)
	})
	// The API server loads new policies asynchronously: wait until the native policy answers for the pods.
	start := time.Now()
	var last error
	require.Eventually(t, func() bool {
		last = cl.Create(ctx, pod(fcNamespace, "probe-unlabelled", partyLabels("")))
		return apierrors.IsForbidden(last) && strings.Contains(last.Error(), "ValidatingAdmissionPolicy") &&
			strings.Contains(last.Error(), "["+vocab.PartyRoleRequired+"]")
	}, time.Minute, 100*time.Millisecond, "the chart's native policy never denied an unlabelled party pod; last: %v", last)
	enforcedAfter := time.Since(start)

	require.NoError(t, hook.Halt(), "stopping the webhook process")
	require.Zero(t, readyStatus(ctx, hook.HealthURL+"/readyz"), "nothing answers on the webhook's probes")

	rejected := map[string]struct {
		obj    client.Object
		policy string
	}{
		"a party pod without a role":                    {pod(fcNamespace, "out-unlabelled", partyLabels("")), vocab.PartyRoleRequired},
		"a party pod with role Persistent":              {pod(fcNamespace, "out-case", partyLabels("Persistent")), vocab.PartyRoleValid},
		"a party Deployment whose template has no role": {partyDeployment(fcNamespace, "out-parties", ""), vocab.WorkloadPartyRole},
		"a session of 1 persistent and 2 delegate parties for t=2": {session(fcNamespace, "out-delegates",
			&v1alpha1.Composition{Persistent: 1, Delegate: 2}), vocab.SessionDelegateOnlyThreshold},
		"a session with an empty composition": {session(fcNamespace, "out-empty", &v1alpha1.Composition{}), vocab.SessionCompositionNonempty},
	}
	for name, tc := range rejected {
		t.Run("with the webhook down, the API server itself rejects "+name, func(t *testing.T) {
			requireNativeDenied(t, cl.Create(ctx, tc.obj), tc.policy)
		})
	}
	admitted := map[string]client.Object{
		"a pod that is no party":           pod(fcNamespace, "out-web", map[string]string{"app": "web"}),
		"a delegate party pod":             pod(fcNamespace, "out-delegate", partyLabels(vocab.RoleDelegate)),
		"a Deployment that is no party":    deployment(fcNamespace, "out-web", "ghcr.io/example/web:1.0", map[string]string{"app": "web"}),
		"a Deployment of delegate parties": partyDeployment(fcNamespace, "out-delegates", vocab.RoleDelegate),
	}
	for name, obj := range admitted {
		t.Run("with the webhook down, failurePolicy Ignore admits "+name, func(t *testing.T) {
			require.NoError(t, cl.Create(ctx, obj))
		})
	}
	t.Run("with the webhook down, a valid session still fails closed: its persistent parties are checked by the webhook's inventory", func(t *testing.T) {
		obj := session(fcNamespace, "out-valid", &v1alpha1.Composition{Persistent: 2, Delegate: 1})
		err := cl.Create(ctx, obj)
		require.Error(t, err)
		assert.True(t, apierrors.IsInternalError(err), "an unreachable webhook is an internal error, got %v", err)
		assert.Contains(t, err.Error(), `failed calling webhook "mpcsessions.mpcguard.io"`)
		assert.True(t, apierrors.IsNotFound(cl.Get(ctx, client.ObjectKeyFromObject(obj), &v1alpha1.MPCSession{})), "nothing was created")
	})
	t.Logf("fail-open with native policies: the chart's policies enforced %s after install; with the webhook down %d requests rejected by them, %d admitted, 1 session refused (fail-closed)",
		enforcedAfter.Round(10*time.Millisecond), len(rejected), len(admitted))
}
