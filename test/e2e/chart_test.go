package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mpcguard/mpcguard/internal/api/v1alpha1"
	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

// persistentPool is the StatefulSet of the default preset's persistent parties in the demo release.
const persistentPool = "mpc-system-server-party"

func TestScalingThePersistentPoolFrom3To5LabelsAndSpreadsTheNewParties(t *testing.T) {
	env := sharedEnv(t)
	ctx := t.Context()
	key := client.ObjectKey{Namespace: env.Namespace, Name: persistentPool}
	scale := func(ctx context.Context, replicas int) error {
		patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas)
		return env.Client.Patch(ctx, &appsv1.StatefulSet{ObjectMeta: objectMeta(key)}, client.RawPatch(types.MergePatchType, patch))
	}
	t.Cleanup(func() { // the other tests see the chart's 3 parties again
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		assert.NoError(t, scale(ctx, 3))
		assert.Eventually(t, func() bool {
			parties, err := env.Parties(ctx, vocab.RolePersistent)
			return err == nil && len(parties) == 3
		}, time.Minute, 250*time.Millisecond, "scaled back to 3 persistent parties")
	})

	require.NoError(t, scale(ctx, 5), "kubectl scale statefulset %s --replicas=5", persistentPool)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		var sts appsv1.StatefulSet
		require.NoError(ct, env.Client.Get(ctx, key, &sts))
		assert.Equal(ct, int32(5), sts.Status.ReadyReplicas)
	}, time.Minute, 250*time.Millisecond, "5 persistent parties Ready")

	parties, err := env.Parties(ctx, vocab.RolePersistent)
	require.NoError(t, err)
	require.Len(t, parties, 5, "every new pod carries the persistent role and the party selector's label")
	nodes, zones := map[string]bool{}, map[string]int{}
	for _, p := range parties {
		nodes[p.Node] = true
		zones[p.Zone]++
	}
	assert.Len(t, nodes, 5, "required anti-affinity: five parties on five nodes: %v", parties)
	assert.Len(t, zones, 3, "the parties span the three zones: %v", zones)
	for zone, n := range zones {
		assert.LessOrEqual(t, n, 2, "zone spread (maxSkew 1) puts at most 2 of 5 parties in %s", zone)
	}
}

func TestTheRestrictedPodSecurityStandardAdmitsEveryChartPod(t *testing.T) {
	env := sharedEnv(t)
	ctx := t.Context()
	var ns corev1.Namespace
	require.NoError(t, env.Client.Get(ctx, client.ObjectKey{Name: env.Namespace}, &ns))
	require.Equal(t, "restricted", ns.Labels["pod-security.kubernetes.io/enforce"])

	t.Run("the namespace really enforces restricted", func(t *testing.T) {
		pod := env.UnlabelledParty("privileged")
		pod.Labels = map[string]string{"app": "not-a-party"}
		pod.Spec.SecurityContext, pod.Spec.Containers[0].SecurityContext = nil, nil
		err := env.Client.Create(ctx, pod)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `violates PodSecurity "restricted:latest"`)
	})
	t.Run("every workload of the release has all its pods", func(t *testing.T) {
		var deployments appsv1.DeploymentList
		require.NoError(t, env.Client.List(ctx, &deployments, client.InNamespace(env.Namespace)))
		require.NotEmpty(t, deployments.Items)
		for _, d := range deployments.Items {
			assert.Equal(t, *d.Spec.Replicas, d.Status.ReadyReplicas, "Deployment %s", d.Name)
		}
		var statefulSets appsv1.StatefulSetList
		require.NoError(t, env.Client.List(ctx, &statefulSets, client.InNamespace(env.Namespace)))
		require.NotEmpty(t, statefulSets.Items)
		for _, s := range statefulSets.Items {
			assert.Equal(t, *s.Spec.Replicas, s.Status.ReadyReplicas, "StatefulSet %s", s.Name)
		}
		var events corev1.EventList
		require.NoError(t, env.Client.List(ctx, &events, client.InNamespace(env.Namespace)))
		for _, e := range events.Items {
			assert.NotContains(t, e.Message, "violates PodSecurity", "event %s on %s", e.Reason, e.InvolvedObject.Name)
		}
	})
	t.Run("helm test's pod is admitted too", func(t *testing.T) {
		cfg, err := env.Helm()
		require.NoError(t, err)
		test := action.NewReleaseTesting(cfg)
		test.Namespace, test.Timeout = env.Namespace, time.Minute
		rel, err := test.Run(env.Name)
		require.NoError(t, err, "helm test %s", env.Name)
		require.NotEmpty(t, rel.Hooks)
		for _, h := range rel.Hooks {
			assert.Equal(t, release.HookPhaseSucceeded, h.LastRun.Phase, "test hook %s", h.Name)
		}
	})
}

func TestHelmUpgradeAndUninstallWorkAndUninstallLeavesNothingThatBlocksAReinstall(t *testing.T) {
	env := sharedEnv(t)
	ctx := t.Context()
	const ns = "mpc-upgrade"
	rel, err := env.Deploy(ctx, scenario.ReleaseOptions{Chart: env.Release.Chart, Name: ns, Namespace: ns, Restricted: true})
	require.NoError(t, err)
	t.Cleanup(func() {
		if rel.Webhook != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			assert.NoError(t, rel.Uninstall(ctx))
		}
	})
	largeSession := func(name string) *v1alpha1.MPCSession { // strict default: needs 5 Ready persistent parties, 3 exist
		s := env.Session(name, 3, 5, nil)
		s.Namespace = ns
		return s
	}
	requireDenied(t, env.Client.Create(ctx, largeSession("before-upgrade")), vocab.SessionPersistentAvailable)

	t.Run("helm upgrade applies new values to the workloads and to the webhook", func(t *testing.T) {
		oldURL := rel.Webhook.URL
		got, err := rel.Upgrade(ctx, map[string]any{
			"coordinator": map[string]any{"replicas": 2},
			"mpcguard":    map[string]any{"webhook": map[string]any{"enforcement": map[string]any{vocab.SessionPersistentAvailable: "warn"}}},
		})
		require.NoError(t, err)
		assert.Equal(t, 2, got.Version)
		assert.Equal(t, release.StatusDeployed, got.Info.Status)
		coordinators, err := rel.Pods(ctx, scenario.ComponentLabel+"=coordinator")
		require.NoError(t, err)
		assert.Len(t, coordinators, 2, "two coordinators after --wait")
		for _, c := range coordinators {
			assert.True(t, c.Ready, "coordinator %s is Ready", c.Pod)
		}
		assert.NotEqual(t, oldURL, rel.Webhook.URL, "the new enforcement needs a new webhook process")
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			assert.NoError(ct, env.Client.Create(ctx, largeSession("after-upgrade")),
				"session-persistent-available only warns now")
		}, 30*time.Second, 250*time.Millisecond)
	})

	t.Run("helm uninstall removes the webhook configuration, so nothing blocks a reinstall", func(t *testing.T) {
		require.NoError(t, rel.Uninstall(ctx))
		var configs admissionregistrationv1.ValidatingWebhookConfigurationList
		require.NoError(t, env.Client.List(ctx, &configs))
		for _, c := range configs.Items {
			for _, w := range c.Webhooks {
				assert.NotContains(t, fmt.Sprint(w.NamespaceSelector), ns, "webhook %s of %s still selects %s", w.Name, c.Name, ns)
			}
		}
		// With the old webhook process gone, a leftover configuration (failurePolicy Fail) would reject this.
		pod := env.UnlabelledParty("after-uninstall")
		pod.Namespace = ns
		require.NoError(t, env.Client.Create(ctx, pod), "nothing intercepts pods in %s any more", ns)
		require.NoError(t, env.Client.Delete(ctx, pod))

		again, err := env.Deploy(ctx, scenario.ReleaseOptions{Chart: env.Release.Chart, Name: ns, Namespace: ns})
		require.NoError(t, err, "reinstalling the release")
		rel = again
		parties, err := rel.Parties(ctx, vocab.RolePersistent)
		require.NoError(t, err)
		assert.Len(t, parties, 3)
		pod = env.UnlabelledParty("after-reinstall")
		pod.Namespace = ns
		requireDenied(t, env.Client.Create(ctx, pod), vocab.PartyRoleRequired)
	})
}
