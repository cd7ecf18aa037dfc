package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mpcguard/mpcguard/internal/api/v1alpha1"
	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

// The scenarios `make demo` shows, asserted.
func TestTheDemoScenariosHoldOnARealControlPlane(t *testing.T) {
	env := sharedEnv(t)
	ctx := t.Context()

	t.Run("the coordinator and every party are Ready after helm install --wait", func(t *testing.T) {
		pods, err := env.Pods(ctx, "app.kubernetes.io/instance="+env.Name)
		require.NoError(t, err)
		components := map[string]int{}
		for _, p := range pods {
			assert.True(t, p.Ready, "pod %s is Ready", p.Pod)
			components[p.Role]++
		}
		coordinators, err := env.Pods(ctx, scenario.ComponentLabel+"=coordinator")
		require.NoError(t, err)
		require.Len(t, coordinators, 1)
		assert.True(t, coordinators[0].Ready)
		assert.Equal(t, map[string]int{"": 1, vocab.RolePersistent: 3, vocab.RoleDelegate: 1}, components,
			"the coordinator, 3 persistent parties and 1 delegate")
	})

	t.Run("the real scheduler places the persistent parties one per node and one per zone", func(t *testing.T) {
		parties, err := env.Parties(ctx, vocab.RolePersistent)
		require.NoError(t, err)
		require.Len(t, parties, 3)
		nodes, zones := map[string]bool{}, map[string]bool{}
		for _, p := range parties {
			require.NotEmpty(t, p.Node, "%s is scheduled", p.Pod)
			nodes[p.Node], zones[p.Zone] = true, true
		}
		assert.Len(t, nodes, 3, "no node holds two persistent parties: %v", parties)
		assert.Len(t, zones, 3, "the zone spread puts one party in each zone: %v", parties)
	})

	t.Run("the coordinator's ServiceAccount may list pods but not read secrets", func(t *testing.T) {
		checks, err := env.CoordinatorAccess(ctx)
		require.NoError(t, err)
		got := map[string]bool{}
		for _, c := range checks {
			got[c.Verb+" "+c.Resource+" in "+c.Namespace] = c.Allowed
		}
		assert.Equal(t, map[string]bool{
			"list pods in mpc-system":    true,
			"watch pods in mpc-system":   true,
			"get secrets in mpc-system":  false,
			"list secrets in mpc-system": false,
			"list pods in kube-system":   false,
		}, got)
	})

	t.Run("the API server rejects an unlabelled party pod with the policy message", func(t *testing.T) {
		err := env.Client.Create(ctx, env.UnlabelledParty("no-role"))
		requireDenied(t, err, vocab.PartyRoleRequired)
		assert.Contains(t, err.Error(), `admission webhook "pods.mpcguard.io" denied the request: [party-role-required] `+
			"Pod mpc-system/no-role: party pod (app.kubernetes.io/component=mpc-party) has no party-role label")
	})

	t.Run("the API server rejects an MPCSession with an empty composition", func(t *testing.T) {
		err := env.Client.Create(ctx, env.Session("empty", 2, 3, &v1alpha1.Composition{}))
		requireDenied(t, err, vocab.SessionCompositionNonempty)
		assert.Contains(t, err.Error(), "MPCSession mpc-system/empty: composition is present but empty")
	})

	t.Run("the API server rejects an MPCSession whose delegates alone reach the threshold", func(t *testing.T) {
		err := env.Client.Create(ctx, env.Session("delegates", 2, 3, &v1alpha1.Composition{Persistent: 1, Delegate: 2}))
		requireDenied(t, err, vocab.SessionDelegateOnlyThreshold)
		assert.Contains(t, err.Error(), "2 delegate + 0 temporary parties could reach the signing threshold t=2 without a persistent party")
	})

	t.Run("the API server admits a valid MPCSession", func(t *testing.T) {
		s := env.Session("valid", 2, 3, &v1alpha1.Composition{Persistent: 2, Delegate: 1})
		require.NoError(t, env.Client.Create(ctx, s))
		var got v1alpha1.MPCSession
		require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(s), &got))
		assert.Equal(t, int32(2), got.Spec.Composition.Persistent)
	})
}

func TestADeploymentWhosePodTemplateLacksTheRoleIsRejectedAtCreation(t *testing.T) {
	env := sharedEnv(t)
	labels := map[string]string{scenario.ComponentLabel: scenario.PartyComponent, "app.kubernetes.io/name": "extra-pool"}
	pod := env.UnlabelledParty("template")
	d := &appsv1.Deployment{
		ObjectMeta: pod.ObjectMeta,
		Spec: appsv1.DeploymentSpec{
			Selector: selector(labels),
			Template: template(labels, pod.Spec),
		},
	}
	d.Name, d.Labels = "extra-pool", labels
	err := env.Client.Create(t.Context(), d)
	requireDenied(t, err, vocab.WorkloadPartyRole)
	assert.Contains(t, err.Error(), "Deployment mpc-system/extra-pool: pod template matches the party selector "+
		"(app.kubernetes.io/component=mpc-party) but has no party-role label")

	var got appsv1.Deployment
	err = env.Client.Get(t.Context(), client.ObjectKeyFromObject(d), &got)
	assert.True(t, apierrors.IsNotFound(err), "nothing was stored, got %v", err)
}
