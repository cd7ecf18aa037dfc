package defense

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mpcguard/mpcguard/internal/api/v1alpha1"
	"github.com/mpcguard/mpcguard/policies/native"
	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/test/cluster"
)

// sessionWebhook is the webhook entry that carries the MPCSession rules, session-persistent-available (which
// needs the webhook's inventory of Ready persistent parties) among them.
const sessionWebhook = "mpcsessions"

// splitWebhookConfiguration registers the webhook as the chart does (one entry per vocab.Routes webhook, the
// checked namespace only), with failurePolicy Ignore on every entry but the MPCSession one, which fails
// closed: what the chart does when the native policies are installed beside the webhook.
func splitWebhookConfiguration(url string, caBundle []byte) *admissionregistrationv1.ValidatingWebhookConfiguration {
	var names []string
	rules := map[string][]admissionregistrationv1.RuleWithOperations{}
	for _, r := range vocab.Routes {
		if !slices.Contains(names, r.Webhook) {
			names = append(names, r.Webhook)
		}
		ops := make([]admissionregistrationv1.OperationType, len(r.Operations))
		for i, op := range r.Operations {
			ops[i] = admissionregistrationv1.OperationType(op)
		}
		rules[r.Webhook] = append(rules[r.Webhook], admissionregistrationv1.RuleWithOperations{Operations: ops,
			Rule: admissionregistrationv1.Rule{APIGroups: []string{r.Group}, APIVersions: []string{r.Version},
				Resources: r.Resources, Scope: ptr.To(admissionregistrationv1.NamespacedScope)}})
	}
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "mpcguard"}}
	for _, name := range names {
		failure := admissionregistrationv1.Ignore
		if name == sessionWebhook {
			failure = admissionregistrationv1.Fail
		}
		vwc.Webhooks = append(vwc.Webhooks, admissionregistrationv1.ValidatingWebhook{
			Name:                    name + ".mpcguard.io",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caBundle},
			Rules:                   rules[name],
			FailurePolicy:           &failure,
			MatchPolicy:             ptr.To(admissionregistrationv1.Equivalent),
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          ptr.To[int32](5),
			NamespaceSelector:       native.NamespaceSelector([]string{ns}),
		})
	}
	return vwc
}

func deployment(name string, labels map[string]string, replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: pod("", nil).Spec},
		},
	}
}

// installNative creates the native policies and bindings as API objects, for the checked namespace, and waits
// until the API server enforces them; it returns how long that took.
func installNative(t *testing.T, cl client.Client) time.Duration {
	t.Helper()
	ctx := t.Context()
	cfg := native.DefaultConfig()
	cfg.Namespaces = []string{ns}
	policies, bindings, err := native.Policies(cfg)
	require.NoError(t, err)
	start := time.Now()
	for i := range policies {
		require.NoError(t, cl.Create(ctx, &policies[i]), "creating %s", policies[i].Name)
	}
	for i := range bindings {
		require.NoError(t, cl.Create(ctx, &bindings[i]), "creating %s", bindings[i].Name)
	}
	// The API server picks policies up through an informer: wait until it enforces one of each kind of object.
	var last error
	require.Eventually(t, func() bool {
		last = dryRun(ctx, cl, pod("probe", partyLabels("")))
		if last == nil || !strings.Contains(last.Error(), "ValidatingAdmissionPolicy") {
			return false
		}
		last = dryRun(ctx, cl, session("probe", 2, 3, &v1alpha1.Composition{Delegate: 3}))
		return last != nil && strings.Contains(last.Error(), "ValidatingAdmissionPolicy")
	}, time.Minute, 100*time.Millisecond, "the native policies are never enforced; last: %v", last)
	t.Logf("%d native policies and %d bindings enforced %s after their creation", len(policies), len(bindings),
		time.Since(start).Round(time.Millisecond))
	return time.Since(start)
}

func TestWithTheWebhookStoppedNativePoliciesStillRejectPartyPodsAndDelegateOnlySessionsWhileOrdinaryWorkloadsRun(t *testing.T) {
	bin, err := cluster.MpcguardBin(t.Context(), t.TempDir())
	require.NoError(t, err)
	c := cluster.StartT(t, cluster.Options{Nodes: 1})
	ctx := t.Context()
	cl := setUp(t, c)
	installNative(t, cl)

	hook, err := cluster.StartWebhook(ctx, cluster.WebhookOptions{Bin: bin, Kubeconfig: c.Kubeconfig,
		Args: []string{"--namespaces=" + ns}, Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the end of the webhook's log:\n%s", hook.Logs(30))
		}
		assert.NoError(t, hook.Stop())
	})
	require.NoError(t, cl.Create(ctx, splitWebhookConfiguration(hook.URL, hook.CABundle)))
	valid := session("valid", 2, 3, &v1alpha1.Composition{Persistent: 2, Delegate: 1})
	var last error
	require.Eventually(t, func() bool {
		last = dryRun(ctx, cl, valid)
		return last != nil && strings.Contains(last.Error(), "["+vocab.SessionPersistentAvailable+"]")
	}, 30*time.Second, 100*time.Millisecond,
		"while the webhook runs, it denies a session whose persistent parties are not Ready (inventory check); last: %v", last)

	require.NoError(t, hook.Halt(), "stopping the webhook process")
	failOpenBefore := metricSum(t, c, "apiserver_admission_webhook_fail_open_count", `name="pods.mpcguard.io"`)

	// Every request of the outage, by what the API server must do with it. Rejections are dry runs (nothing
	// would be stored anyway); admissions are real creates.
	const rounds = 10
	rejected := map[string]struct {
		obj    func(i int) client.Object
		policy string
	}{
		"a party pod without a role": {func(i int) client.Object { return pod(fmt.Sprintf("unlabelled-%d", i), partyLabels("")) },
			vocab.PartyRoleRequired},
		"a party pod with an unknown role": {func(i int) client.Object { return pod(fmt.Sprintf("admin-%d", i), partyLabels("admin")) },
			vocab.PartyRoleValid},
		"a party Deployment whose template has no role": {func(i int) client.Object {
			return deployment(fmt.Sprintf("parties-%d", i), partyLabels(""), 1)
		}, vocab.WorkloadPartyRole},
		"a 2-of-3 session of 1 persistent and 2 delegate parties": {func(i int) client.Object {
			return session(fmt.Sprintf("delegates-%d", i), 2, 3, &v1alpha1.Composition{Persistent: 1, Delegate: 2})
		}, vocab.SessionDelegateOnlyThreshold},
		"a session with an empty composition": {func(i int) client.Object {
			return session(fmt.Sprintf("empty-%d", i), 2, 3, &v1alpha1.Composition{})
		}, vocab.SessionCompositionNonempty},
	}
	lat := map[string]*latencies{}
	denials := map[string]int{}
	for name, tc := range rejected {
		lat[name] = &latencies{}
		t.Run("with the webhook stopped, a native policy rejects "+name, func(t *testing.T) {
			for i := range rounds {
				err := lat[name].time(func() error { return dryRun(ctx, cl, tc.obj(i)) })
				policy := requirePolicyDenied(t, err, tc.policy)
				assert.Equal(t, native.DefaultNamePrefix+tc.policy, policy, "the policy of the same id denied it")
				denials[tc.policy]++
			}
		})
	}

	admitted := map[string]func(i int) client.Object{
		"a pod that is no party pod": func(i int) client.Object { return pod(fmt.Sprintf("web-%d", i), map[string]string{"app": "web"}) },
		"a delegate party pod":       func(i int) client.Object { return pod(fmt.Sprintf("delegate-%d", i), partyLabels(vocab.RoleDelegate)) },
		"a Deployment that is no party": func(i int) client.Object {
			return deployment(fmt.Sprintf("web-%d", i), map[string]string{"app": fmt.Sprintf("web-%d", i)}, 1)
		},
	}
	for name, obj := range admitted {
		lat[name] = &latencies{}
		t.Run("with the webhook stopped, the API server admits "+name, func(t *testing.T) {
			for i := range rounds {
				require.NoError(t, lat[name].time(func() error { return cl.Create(ctx, obj(i)) }))
			}
		})
	}

	lat["a valid session"] = &latencies{}
	t.Run("with the webhook stopped, a valid session fails closed: the inventory check cannot run", func(t *testing.T) {
		for i := range rounds {
			s := session(fmt.Sprintf("valid-%d", i), 2, 3, &v1alpha1.Composition{Persistent: 2, Delegate: 1})
			err := lat["a valid session"].time(func() error { return cl.Create(ctx, s) })
			require.Error(t, err, "failurePolicy Fail on the MPCSession entry")
			assert.True(t, apierrors.IsInternalError(err), "an unreachable webhook is an internal error, got %v", err)
			assert.Contains(t, err.Error(), `failed calling webhook "`+sessionWebhook+`.mpcguard.io"`)
			assert.True(t, apierrors.IsNotFound(cl.Get(ctx, client.ObjectKeyFromObject(s), &v1alpha1.MPCSession{})), "nothing stored")
		}
	})

	var readyIn time.Duration
	t.Run("with the webhook stopped, an ordinary Deployment's pods are created and become Ready", func(t *testing.T) {
		start := time.Now()
		require.NoError(t, cl.Create(ctx, deployment("shop", map[string]string{"app": "shop"}, 3)))
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			var d appsv1.Deployment
			require.NoError(ct, cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: "shop"}, &d))
			assert.Equal(ct, int32(3), d.Status.ReadyReplicas)
		}, time.Minute, 100*time.Millisecond, "3/3 Ready")
		readyIn = time.Since(start)
	})

	failOpen := metricSum(t, c, "apiserver_admission_webhook_fail_open_count", `name="pods.mpcguard.io"`) - failOpenBefore
	assert.Positive(t, failOpen, "the API server counted the pod entry's calls that failed open")
	var checks float64
	for _, id := range []string{vocab.PartyRoleRequired, vocab.SessionDelegateOnlyThreshold} {
		checks += metricSum(t, c, "apiserver_validating_admission_policy_check_total",
			`policy="`+native.DefaultNamePrefix+id+`"`, `enforcement_action="deny"`)
	}
	assert.GreaterOrEqual(t, checks, float64(2*rounds), "the API server counted the policies' denials")

	t.Logf("outage: %d requests while the webhook was stopped (%d rounds of %d kinds), denials by native policy %v",
		rounds*(len(rejected)+len(admitted)+1), rounds, len(rejected)+len(admitted)+1, denials)
	for _, name := range slices.Sorted(maps.Keys(lat)) {
		t.Logf("outage latency, %s: %s", name, lat[name])
	}
	t.Logf("outage: an ordinary 3-replica Deployment was 3/3 Ready %s after its creation; pods.mpcguard.io failed open %.0f times "+
		"(apiserver_admission_webhook_fail_open_count)", readyIn.Round(100*time.Millisecond), failOpen)
}
