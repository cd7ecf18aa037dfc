package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

// The namespaces of the NetworkPolicy test: the release's and a second discovery namespace.
const (
	netpolNamespace        = "mpc-netpol"
	netpolPartiesNamespace = "mpc-netpol-parties"
)

// The API server validates the chart's NetworkPolicies (in the release namespace and in a second discovery
// namespace), its PodDisruptionBudgets with unhealthyPodEvictionPolicy and its workloads with three different
// probes, and keeps every field as rendered: server-side apply is strict, so a misplaced field fails, and a
// field the server dropped would show as a difference.
func TestTheAPIServerKeepsTheChartsNetworkPoliciesProbesAndDisruptionBudgetsAsRendered(t *testing.T) {
	env := sharedEnv(t)
	ctx := t.Context()
	c := applyClient(t, env)
	for _, ns := range []string{netpolNamespace, netpolPartiesNamespace} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); !apierrors.IsAlreadyExists(err) {
			require.NoError(t, err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			assert.NoError(t, client.IgnoreNotFound(c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})))
		})
	}
	values := map[string]any{
		"coordinator": map[string]any{
			"discovery": map[string]any{"namespaces": []any{netpolPartiesNamespace}},
			"networkPolicy": map[string]any{"ingressFrom": []any{map[string]any{
				"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "wallet-api"}},
				"podSelector":       map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "wallet-api"}},
			}}},
		},
		"parties": map[string]any{"networkPolicy": map[string]any{"extraEgress": []any{map[string]any{
			"to":    []any{map[string]any{"ipBlock": map[string]any{"cidr": "10.20.0.0/16"}}},
			"ports": []any{map[string]any{"port": 5432, "protocol": "TCP"}},
		}}}},
		"networkPolicy": map[string]any{"apiServer": map[string]any{"cidrs": []any{"10.96.0.1/32"}}},
		"mpcguard":      map[string]any{"webhook": map[string]any{"namespaces": []any{netpolPartiesNamespace}}},
	}
	objs := renderChart(t, filepath.Join(env.Charts, "mpc-system"), "mpc-system", netpolNamespace, values)

	// Stored for real (they select nothing that runs here); the workloads as a dry run, which validates them
	// without creating pods.
	apply := func(o *unstructured.Unstructured, dryRun bool) *unstructured.Unstructured {
		t.Helper()
		applied := o.DeepCopy()
		opts := []client.ApplyOption{client.ForceOwnership}
		if dryRun {
			opts = append(opts, client.DryRunAll)
		}
		require.NoError(t, c.Apply(ctx, client.ApplyConfigurationFromUnstructured(applied), opts...),
			"server-side apply of the chart's %s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
		return applied
	}
	decode := func(u *unstructured.Unstructured, into any) {
		t.Helper()
		require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, into, true))
	}

	var policies []string
	for _, o := range objs {
		switch o.GetKind() {
		case "NetworkPolicy":
			policies = append(policies, o.GetNamespace()+"/"+o.GetName())
			apply(o, false)
			var rendered, stored networkingv1.NetworkPolicy
			decode(o, &rendered)
			strictGet(t, ctx, c, o, &stored)
			assert.Equal(t, rendered.Spec, stored.Spec, "NetworkPolicy %s/%s is stored as rendered", o.GetNamespace(), o.GetName())
		case "PodDisruptionBudget":
			apply(o, false)
			var stored policyv1.PodDisruptionBudget
			strictGet(t, ctx, c, o, &stored)
			require.NotNil(t, stored.Spec.UnhealthyPodEvictionPolicy, o.GetName())
			assert.Equal(t, policyv1.AlwaysAllow, *stored.Spec.UnhealthyPodEvictionPolicy, o.GetName())
		case "Deployment", "StatefulSet":
			if o.GetLabels()[scenario.ComponentLabel] == "admission-webhook" {
				continue // the webhook's probes are the mpcguard chart's own
			}
			applied := apply(o, true)
			var rendered, stored appsv1.Deployment
			if o.GetKind() == "StatefulSet" {
				var r, s appsv1.StatefulSet
				decode(o, &r)
				decode(applied, &s)
				rendered.Spec.Template, stored.Spec.Template = r.Spec.Template, s.Spec.Template
			} else {
				decode(o, &rendered)
				decode(applied, &stored)
			}
			for i, rc := range rendered.Spec.Template.Spec.Containers {
				sc := stored.Spec.Template.Spec.Containers[i]
				require.NotNil(t, rc.StartupProbe, o.GetName())
				require.NotNil(t, sc.StartupProbe, o.GetName())
				require.NotNil(t, sc.LivenessProbe.TCPSocket, "%s: liveness only connects", o.GetName())
				assert.Equal(t, rc.StartupProbe.ProbeHandler, sc.StartupProbe.ProbeHandler, o.GetName())
				assert.Equal(t, rc.LivenessProbe.ProbeHandler, sc.LivenessProbe.ProbeHandler, o.GetName())
				assert.Equal(t, rc.ReadinessProbe.ProbeHandler, sc.ReadinessProbe.ProbeHandler, o.GetName())
				assert.Equal(t, rc.LivenessProbe.FailureThreshold, sc.LivenessProbe.FailureThreshold, o.GetName())
			}
		}
	}
	assert.ElementsMatch(t, []string{
		netpolNamespace + "/mpc-system-coordinator",
		netpolNamespace + "/mpc-system-parties",
		netpolPartiesNamespace + "/mpc-system-parties",
		netpolNamespace + "/mpc-system-mpcguard-webhook",
	}, policies, "the coordinator's, the parties' in both discovery namespaces, the webhook's")

	t.Run("the schemas are enforced, so acceptance means something", func(t *testing.T) {
		for _, o := range objs {
			if o.GetKind() != "PodDisruptionBudget" {
				continue
			}
			bad := o.DeepCopy()
			require.NoError(t, unstructured.SetNestedField(bad.Object, "Sometimes", "spec", "unhealthyPodEvictionPolicy"))
			err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(bad), client.ForceOwnership, client.DryRunAll)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "unhealthyPodEvictionPolicy")
		}
	})
}
