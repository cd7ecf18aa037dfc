package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

// The seeds' raw manifests discover parties by app=mpc-server-party and read the role from party-role,
// treating a pod without it as persistent.
const (
	seedNamespace = "seed-mpc"
	seedSelector  = "app=mpc-server-party"
)

// seedPod is a pod in the style of the seeds' manifests: app=mpc-server-party, and party-role if role is set.
func seedPod(name, role string) *corev1.Pod {
	labels := map[string]string{"app": "mpc-server-party"}
	if role != "" {
		labels[vocab.DefaultRoleLabelKey] = role
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: seedNamespace, Labels: labels},
		Spec:       scenario.RestrictedPodSpec("rwadurian/mpc-server-party:latest"),
	}
}

// seedDeployment is a Deployment like the seeds' server-party-deployment.yaml.
func seedDeployment(name, role string, replicas int32) *appsv1.Deployment {
	pod := seedPod(name, role)
	selectorLabels := map[string]string{"app": "mpc-server-party", "pool": name}
	podLabels := map[string]string{"pool": name}
	for k, v := range pod.Labels {
		podLabels[k] = v
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: seedNamespace, Labels: podLabels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: selector(selectorLabels),
			Template: template(podLabels, pod.Spec),
		},
	}
}

// seedStatefulSet is the seeds' persistent pool as a StatefulSet, the one workload whose pods the StatefulSet
// controller creates: with the mpcguard chart alone (no persistentWorkloads), any StatefulSet may run persistent
// parties, and only its controller may create them.
func seedStatefulSet(name string, replicas int32) *appsv1.StatefulSet {
	d := seedDeployment(name, vocab.RolePersistent, replicas)
	return &appsv1.StatefulSet{
		ObjectMeta: d.ObjectMeta,
		Spec: appsv1.StatefulSetSpec{Replicas: d.Spec.Replicas, ServiceName: name, Selector: d.Spec.Selector,
			Template: d.Spec.Template, PodManagementPolicy: appsv1.ParallelPodManagement},
	}
}

func TestTheMpcguardChartAloneRejectsTheSeedsUnlabelledPartiesOnceItsSelectorMatches(t *testing.T) {
	env := sharedEnv(t)
	ctx := t.Context()
	rel, err := env.Deploy(ctx, scenario.ReleaseOptions{Chart: env.Charts + "/mpcguard", Name: "mpcguard", Namespace: seedNamespace})
	require.NoError(t, err, "helm install mpcguard charts/mpcguard (alone, webhook by URL)")
	t.Cleanup(func() { assert.NoError(t, rel.Webhook.Stop()) })

	t.Run("with the chart's default selector the seeds' pods are not party pods, so an unlabelled one slips through", func(t *testing.T) {
		require.NoError(t, env.Client.Create(ctx, seedPod("manual-party", "")))
	})

	_, err = rel.Upgrade(ctx, map[string]any{"global": map[string]any{"party": map[string]any{"selector": seedSelector}}})
	require.NoError(t, err, "helm upgrade mpcguard --set global.party.selector=%s", seedSelector)

	t.Run("once the selector matches, an unlabelled seed party pod is rejected", func(t *testing.T) {
		require.EventuallyWithT(t, func(ct *assert.CollectT) { // the API server reloads webhook configurations asynchronously
			err := env.Client.Create(ctx, seedPod("manual-party-2", ""))
			if assert.Error(ct, err) {
				assert.Contains(ct, err.Error(), "denied the request: [party-role-required] Pod seed-mpc/manual-party-2: party pod (app=mpc-server-party) has no party-role label")
			}
		}, 30*time.Second, 250*time.Millisecond)
	})
	t.Run("a seed Deployment whose template lacks the role is rejected at creation", func(t *testing.T) {
		requireDenied(t, env.Client.Create(ctx, seedDeployment("mpc-server-party-legacy", "", 2)), vocab.WorkloadPartyRole)
	})
	t.Run("a persistent pool run by a Deployment, as the seeds run theirs, is rejected: persistent parties come from a StatefulSet", func(t *testing.T) {
		err := env.Client.Create(ctx, seedDeployment("mpc-server-party", vocab.RolePersistent, 3))
		requireDenied(t, err, vocab.PartyPersistentOrigin)
		assert.Contains(t, err.Error(), "Deployment seed-mpc/mpc-server-party: only a StatefulSet may run persistent parties")
	})
	t.Run("the seeds' labelled pools are admitted and become Ready, the persistent one as a StatefulSet", func(t *testing.T) {
		persistent := seedStatefulSet("mpc-server-party", 3)
		delegate := seedDeployment("mpc-server-party-api", vocab.RoleDelegate, 1)
		require.NoError(t, env.Client.Create(ctx, persistent), "StatefulSet %s", persistent.Name)
		require.NoError(t, env.Client.Create(ctx, delegate), "Deployment %s", delegate.Name)
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			var sts appsv1.StatefulSet
			require.NoError(ct, env.Client.Get(ctx, client.ObjectKeyFromObject(persistent), &sts))
			assert.Equal(ct, *persistent.Spec.Replicas, sts.Status.ReadyReplicas, "StatefulSet %s", persistent.Name)
			var d appsv1.Deployment
			require.NoError(ct, env.Client.Get(ctx, client.ObjectKeyFromObject(delegate), &d))
			assert.Equal(ct, *delegate.Spec.Replicas, d.Status.ReadyReplicas, "Deployment %s", delegate.Name)
		}, time.Minute, 250*time.Millisecond)
	})
}
