package charts_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/releaseutil"
	admissionv1 "k8s.io/api/admissionregistration/v1"

	"github.com/mpcguard/mpcguard/policies/native"
	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/test/cluster"
)

// vapAPI is what an API server serving ValidatingAdmissionPolicies lists (Kubernetes 1.30 and later).
const vapAPI = "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy"

// renderNative renders the mpcguard chart as `helm template --api-versions` would, and returns its native
// policies and bindings by name, and the render.
func renderNative(t *testing.T, vals map[string]any, apiVersions ...string) (map[string]*admissionv1.ValidatingAdmissionPolicy, map[string]*admissionv1.ValidatingAdmissionPolicyBinding, *rendered) {
	t.Helper()
	rel, err := cluster.HelmTemplate(t.Context(), cluster.HelmRelease{Name: releaseName, Namespace: releaseNamespace,
		Chart: loadChart(t, "mpcguard"), Values: vals, APIVersions: apiVersions}, "v1.33.0")
	require.NoError(t, err)
	vaps := map[string]*admissionv1.ValidatingAdmissionPolicy{}
	bindings := map[string]*admissionv1.ValidatingAdmissionPolicyBinding{}
	for _, doc := range releaseutil.SplitManifests(rel.Manifest) {
		if strings.TrimSpace(doc) == "" || isCommentOnly(doc) {
			continue
		}
		obj, _, err := decoder.Decode([]byte(doc), nil, nil)
		require.NoError(t, err, doc)
		switch o := obj.(type) {
		case *admissionv1.ValidatingAdmissionPolicy:
			vaps[o.Name] = o
		case *admissionv1.ValidatingAdmissionPolicyBinding:
			bindings[o.Name] = o
		}
	}
	return vaps, bindings, mustRender(t, loadChart(t, "mpcguard"), vals)
}

// nativeConfig is the native.Config of what the chart tells its webhook (its arguments): the native policies
// must enforce the same facts.
func nativeConfig(t *testing.T, r *rendered, enforcement map[string]vocab.Action) native.Config {
	t.Helper()
	args := webhookArgs(t, r)
	list := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	selector := map[string]string{}
	for _, kv := range list(args["party-selector"]) {
		k, v, _ := strings.Cut(kv, "=")
		selector[k] = v
	}
	var threshold int32
	_, err := fmt.Sscan(args["threshold-t"], &threshold)
	require.NoError(t, err)
	return native.Config{
		RoleLabelKey: args["role-label-key"], PartySelector: selector,
		ShareSecretNames: list(args["share-secret-names"]), ShareClaimPrefixes: list(args["share-claim-prefixes"]),
		PersistentWorkloads: list(strings.Trim(args["persistent-workloads"], `"`)), ThresholdT: threshold,
		ControllerUsers: list(args["controller-users"]), BreakGlassGroups: list(args["break-glass-groups"]),
		Enforcement: enforcement, Namespaces: list(args["namespaces"]),
		NamePrefix: releaseName + "-mpcguard-" + releaseNamespace + "-",
	}
}

func TestTheChartsNativePoliciesAreThoseOfPackageNativeForTheSameValues(t *testing.T) {
	cases := map[string]struct {
		values      map[string]any
		enforcement map[string]vocab.Action
	}{
		"the defaults": {nil, nil},
		"a custom role label key and party selector, another namespace": {values(
			"global.party.roleLabelKey", "example.com/mpc-role", "global.party.selector", "tier=mpc,app=signer",
			"webhook.namespaces", []any{"team-a"}), nil},
		"warn and off enforcement": {values("webhook.enforcement", map[string]any{
			vocab.PartyRoleRequired: "warn", vocab.SessionDelegateOnlyThreshold: "off", vocab.PersistentQuorum: "warn"}),
			map[string]vocab.Action{vocab.PartyRoleRequired: vocab.Warn, vocab.SessionDelegateOnlyThreshold: vocab.Off, vocab.PersistentQuorum: vocab.Warn}},
		"named share storage and persistent workloads, t 3": {values(
			"shareStorage.secretNames", []any{"mpc-secrets", "more-shares"}, "shareStorage.claimPrefixes", []any{"shares-db-"},
			"persistentWorkloads", []any{"db", "{{ .Release.Name }}-party"}, "threshold.t", 3), nil},
		"threshold 0: no persistent-quorum": {values("threshold.t", 0), nil},
		"other controller users and break-glass groups": {values(
			"controllerUsers", []any{"system:serviceaccount:kube-system:statefulset-controller", "system:serviceaccount:ops:sts"},
			"breakGlassGroups", []any{"custody:break-glass", "sre:oncall"}), nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			vaps, bindings, r := renderNative(t, tc.values, vapAPI)
			wantVAPs, wantBindings, err := native.Policies(nativeConfig(t, r, tc.enforcement))
			require.NoError(t, err)
			require.NotEmpty(t, wantVAPs)
			var got, want []string
			for n := range vaps {
				got = append(got, n)
			}
			for _, p := range wantVAPs {
				want = append(want, p.Name)
			}
			sort.Strings(got)
			sort.Strings(want)
			require.Equal(t, want, got, "the same policies, by name")
			for i, p := range wantVAPs {
				g := vaps[p.Name]
				assert.Equal(t, p.Spec, g.Spec, "policy %s", p.Name)
				assert.Equal(t, p.Labels[native.PolicyLabel], g.Labels[native.PolicyLabel], "policy %s", p.Name)
				assert.Equal(t, "mpcguard", g.Labels["app.kubernetes.io/name"], "policy %s carries the chart's labels", p.Name)
				b := bindings[p.Name]
				require.NotNil(t, b, "binding %s", p.Name)
				assert.Equal(t, wantBindings[i].Spec, b.Spec, "binding %s", p.Name)
			}
			assert.Len(t, bindings, len(vaps))
			for _, v := range vaps {
				assert.NotContains(t, v.Name, ".static.k8s.io", "no clash with the static bundle's names")
			}
		})
	}
}

func TestNativePoliciesOnlyWhereServedAndEnabled(t *testing.T) {
	t.Run("none where the API server does not serve ValidatingAdmissionPolicy", func(t *testing.T) {
		vaps, bindings, _ := renderNative(t, nil)
		assert.Empty(t, vaps)
		assert.Empty(t, bindings)
	})
	t.Run("none with webhook.nativePolicies.enabled=false", func(t *testing.T) {
		vaps, bindings, _ := renderNative(t, values("webhook.nativePolicies.enabled", false), vapAPI)
		assert.Empty(t, vaps)
		assert.Empty(t, bindings)
	})
}

func TestFailOpenWithNativePoliciesKeepsTheSessionWebhookFailClosed(t *testing.T) {
	policies := func(vals map[string]any, apiVersions ...string) map[string]admissionv1.FailurePolicyType {
		rel, err := cluster.HelmTemplate(t.Context(), cluster.HelmRelease{Name: releaseName, Namespace: releaseNamespace,
			Chart: loadChart(t, "mpcguard"), Values: vals, APIVersions: apiVersions}, "v1.33.0")
		require.NoError(t, err)
		out := map[string]admissionv1.FailurePolicyType{}
		for _, doc := range releaseutil.SplitManifests(rel.Manifest) {
			obj, _, err := decoder.Decode([]byte(doc), nil, nil)
			if err != nil {
				continue
			}
			if vwc, ok := obj.(*admissionv1.ValidatingWebhookConfiguration); ok {
				for _, w := range vwc.Webhooks {
					out[w.Name] = *w.FailurePolicy
				}
			}
		}
		require.Len(t, out, 4)
		return out
	}
	fail, ignore := admissionv1.Fail, admissionv1.Ignore
	allFail := map[string]admissionv1.FailurePolicyType{"pods.mpcguard.io": fail, "workloads.mpcguard.io": fail,
		"storage.mpcguard.io": fail, "mpcsessions.mpcguard.io": fail}
	assert.Equal(t, allFail, policies(nil, vapAPI), "by default every webhook fails closed, native policies or not")
	assert.Equal(t, map[string]admissionv1.FailurePolicyType{"pods.mpcguard.io": ignore, "workloads.mpcguard.io": ignore,
		"storage.mpcguard.io": ignore, "mpcsessions.mpcguard.io": fail},
		policies(values("webhook.nativePolicies.failOpen", true), vapAPI), "failOpen: all but the session webhook fail open")
	assert.Equal(t, allFail, policies(values("webhook.nativePolicies.failOpen", true)),
		"failOpen without native policies (not served) changes nothing")
	assert.Equal(t, allFail, policies(values("webhook.nativePolicies.failOpen", true, "webhook.nativePolicies.enabled", false), vapAPI),
		"failOpen with the native policies disabled changes nothing")
}
