package generator_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/mpcguard/mpcguard/generator"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

// release is one rendering of a generated chart: its manifest, its NOTES, or the error that refused it.
type release struct {
	manifest, notes string
}

// renderAs renders like `helm template --namespace <namespace> <name>`, hooks left out.
func renderAs(t *testing.T, ch *chart.Chart, name, namespace string, vals map[string]any) (*release, error) {
	t.Helper()
	install := action.NewInstall(&action.Configuration{})
	install.DryRun, install.ClientOnly, install.Replace = true, true, true
	// The charts' kubeVersion; a Helm SDK without its release build's version stamps assumes Kubernetes v1.20.
	install.KubeVersion = &chartutil.KubeVersion{Version: "v1.36.3", Major: "1", Minor: "36"}
	install.ReleaseName, install.Namespace = name, namespace
	if vals == nil {
		vals = map[string]any{}
	}
	rel, err := install.RunWithContext(t.Context(), ch, vals)
	if err != nil {
		return nil, err
	}
	return &release{manifest: rel.Manifest, notes: rel.Info.Notes}, nil
}

// only decodes the one rendered object of a kind (and, for a Deployment, a name suffix).
func only[T any](t *testing.T, r *release, kind, nameSuffix string) *T {
	t.Helper()
	var found []*T
	for _, doc := range releaseutil.SplitManifests(r.manifest) {
		var head struct {
			Kind     string
			Metadata struct{ Name string }
		}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &head))
		if head.Kind != kind || !strings.HasSuffix(head.Metadata.Name, nameSuffix) {
			continue
		}
		var obj T
		require.NoError(t, yaml.UnmarshalStrict([]byte(doc), &obj))
		found = append(found, &obj)
	}
	require.Len(t, found, 1, "one %s *%s", kind, nameSuffix)
	return found[0]
}

// webhookArgs are the webhook container's --flag=value arguments.
func webhookArgs(t *testing.T, r *release) map[string]string {
	t.Helper()
	d := only[appsv1.Deployment](t, r, "Deployment", "-webhook")
	args := map[string]string{}
	for _, a := range d.Spec.Template.Spec.Containers[0].Args {
		k, v, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		args[k] = v
	}
	return args
}

func conditionNames(w admissionregistrationv1.ValidatingWebhook) []string {
	var names []string
	for _, c := range w.MatchConditions {
		names = append(names, c.Name)
	}
	return names
}

func TestWebhookConfigurationFollowsVocab(t *testing.T) {
	files := generate(t, generator.Default())
	charts := map[string]*chart.Chart{"mpc-system": chartOf(t, files, "mpc-system"), "mpcguard": chartOf(t, files, "mpcguard")}
	entries := generator.WebhookEntries()

	t.Run("the entries and their rules are vocab.Routes, grouped by webhook", func(t *testing.T) {
		var names []string
		var routes int
		for _, e := range entries {
			names = append(names, e.Name)
			routes += len(e.Rules)
		}
		assert.Equal(t, []string{"pods.mpcguard.io", "workloads.mpcguard.io", "storage.mpcguard.io", "mpcsessions.mpcguard.io"}, names)
		assert.Equal(t, len(vocab.Routes), routes)
		pods := entries[0].Rules
		assert.Contains(t, pods[1].Resources, "pods/ephemeralcontainers")
		assert.Equal(t, []admissionregistrationv1.OperationType{admissionregistrationv1.Connect}, pods[3].Operations)
	})

	for name, ch := range charts {
		t.Run(name+" renders every route of vocab", func(t *testing.T) {
			r, err := renderAs(t, ch, "mpc-system", "mpc-system", nil)
			require.NoError(t, err)
			vwc := only[admissionregistrationv1.ValidatingWebhookConfiguration](t, r, "ValidatingWebhookConfiguration", "")
			require.Len(t, vwc.Webhooks, len(entries))
			for i, w := range vwc.Webhooks {
				assert.Equal(t, entries[i].Name, w.Name)
				assert.Equal(t, entries[i].Rules, w.Rules, w.Name)
				assert.Nil(t, w.ObjectSelector, "%s: no object selector, which the object's own labels could opt out of", w.Name)
			}
			assert.Equal(t, []string{"status-updates-that-change-labels", "bindings-that-set-party-labels", "not-the-webhooks-own-pods"},
				conditionNames(vwc.Webhooks[0]))
			assert.Equal(t, []string{"scales-and-deletions-of-the-persistent-pool", "not-the-webhooks-own-deployment-or-replicasets"},
				conditionNames(vwc.Webhooks[1]))
			assert.Equal(t, []string{"deletions-of-share-storage"}, conditionNames(vwc.Webhooks[2]))
			assert.Empty(t, vwc.Webhooks[3].MatchConditions)
		})
	}

	t.Run("the exclusion names exactly the webhook's own objects", func(t *testing.T) {
		r, err := renderAs(t, charts["mpcguard"], "guard", "team-a", map[string]any{
			"global": map[string]any{"party": map[string]any{"roleLabelKey": "mpc.example.com/role", "selector": "app=mpc,tier=signing"}},
		})
		require.NoError(t, err)
		vwc := only[admissionregistrationv1.ValidatingWebhookConfiguration](t, r, "ValidatingWebhookConfiguration", "")
		pods, workloads := vwc.Webhooks[0].MatchConditions, vwc.Webhooks[1].MatchConditions
		own := pods[2].Expression
		for _, want := range []string{
			`request.namespace == "team-a"`,
			`o.kind == "ReplicaSet"`,
			`o.name.startsWith("guard-mpcguard-webhook-")`,
			`"system:serviceaccount:kube-system:replicaset-controller"`,
			`!("mpc.example.com/role" in object.metadata.labels)`,
			`"app" in object.metadata.labels && object.metadata.labels["app"] == "mpc" && "tier" in object.metadata.labels && object.metadata.labels["tier"] == "signing"`,
		} {
			assert.Contains(t, own, want)
		}
		assert.Contains(t, pods[1].Expression, `["mpc.example.com/role","app","tier"].exists(k, k in object.metadata.labels)`,
			"a Binding is sent when it sets the role label or any party selector label")
		for _, want := range []string{
			`request.namespace == "team-a"`,
			`request.name == "guard-mpcguard-webhook"`,
			`o.kind == "Deployment"`,
			`"system:serviceaccount:kube-system:deployment-controller"`,
		} {
			assert.Contains(t, workloads[1].Expression, want)
		}
		for _, c := range append(slices.Clone(pods), workloads...) {
			assert.NotContains(t, c.Expression, "admission-webhook", "%s: no label decides the exclusion", c.Name)
			assert.NotContains(t, c.Expression, "request.subResource ==", "%s: subResource is absent on the main resource: read it through has()", c.Name)
			assert.NotContains(t, c.Expression, "request.subResource !=", c.Name)
		}
	})

	for name, vals := range map[string]map[string]any{
		"failurePolicy Ignore":          {"webhook": map[string]any{"failurePolicy": "Ignore"}},
		"a webhook outside the cluster": {"webhook": map[string]any{"url": "https://127.0.0.1:9443/validate"}},
	} {
		t.Run("no exclusion of own objects with "+name, func(t *testing.T) {
			r, err := renderAs(t, charts["mpcguard"], "mpc-system", "mpc-system", vals)
			require.NoError(t, err)
			vwc := only[admissionregistrationv1.ValidatingWebhookConfiguration](t, r, "ValidatingWebhookConfiguration", "")
			assert.Equal(t, []string{"status-updates-that-change-labels", "bindings-that-set-party-labels"}, conditionNames(vwc.Webhooks[0]))
			assert.Equal(t, []string{"scales-and-deletions-of-the-persistent-pool"}, conditionNames(vwc.Webhooks[1]))
		})
	}
}

func TestWebhookArgs(t *testing.T) {
	files := generate(t, generator.Default())
	system, guard := chartOf(t, files, "mpc-system"), chartOf(t, files, "mpcguard")

	t.Run("mpc-system names its persistent StatefulSet and its claims, truncated like the workload's name", func(t *testing.T) {
		for _, name := range []string{"mpc-system", "a-release-name-long-enough-to-be-truncated-by-helpers"} {
			r, err := renderAs(t, system, name, "mpc-system", nil)
			require.NoError(t, err)
			sts := only[appsv1.StatefulSet](t, r, "StatefulSet", "")
			args := webhookArgs(t, r)
			assert.Equal(t, sts.Name, args["persistent-workloads"])
			assert.Equal(t, sts.Spec.VolumeClaimTemplates[0].Name+"-"+sts.Name+"-", args["share-claim-prefixes"])
			assert.Equal(t, strings.Join(vocab.DefaultControllerUsers, ","), args["controller-users"])
			assert.Equal(t, vocab.DefaultBreakGlassGroup, args["break-glass-groups"])
		}
	})
	t.Run("mpcguard passes its lists, also when empty", func(t *testing.T) {
		r, err := renderAs(t, guard, "mpc-system", "mpc-system", map[string]any{
			"persistentWorkloads": []any{"mpc-server-party"}, "controllerUsers": []any{"a", "b"}, "breakGlassGroups": []any{},
		})
		require.NoError(t, err)
		args := webhookArgs(t, r)
		assert.Equal(t, "mpc-server-party", args["persistent-workloads"])
		assert.Equal(t, "a,b", args["controller-users"])
		assert.Contains(t, args, "break-glass-groups")
		assert.Empty(t, args["break-glass-groups"], "an empty list means nobody, not the binary's default")
	})
	t.Run("a comma inside an entry is refused by the schema", func(t *testing.T) {
		_, err := renderAs(t, guard, "mpc-system", "mpc-system", map[string]any{"breakGlassGroups": []any{"a,b"}})
		require.ErrorContains(t, err, "breakGlassGroups")
	})
}

func TestSystemChartRefusesWhatItDoesNotInstall(t *testing.T) {
	system := chartOf(t, generate(t, generator.Default()), "mpc-system")
	guard := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return map[string]any{"mpcguard": m}
	}
	cases := map[string]struct {
		vals map[string]any
		want string
	}{
		"a claim prefix other than <volumeClaimTemplate>-<statefulset>-": {
			guard("shareStorage", map[string]any{"claimPrefixes": []any{"shares-"}}),
			`mpc-system: mpcguard.shareStorage.claimPrefixes: must be exactly ["shares-mpc-system-server-party-"]`,
		},
		"an extra claim prefix": {
			guard("shareStorage", map[string]any{"claimPrefixes": []any{"shares-mpc-system-server-party-", "data-"}}),
			`not ["shares-mpc-system-server-party-","data-"]`,
		},
		"persistent workloads other than the persistent pool's StatefulSet": {
			guard("persistentWorkloads", []any{"mpc-system-server-party", "mpc-system-server-party-api"}),
			`mpc-system: mpcguard.persistentWorkloads: must be exactly ["mpc-system-server-party"]`,
		},
		"discovery namespaces the webhook does not check": {
			map[string]any{
				"coordinator": map[string]any{"discovery": map[string]any{"namespaces": []any{"mpc-parties", "team-b", "team-c"}}},
				"mpcguard":    map[string]any{"webhook": map[string]any{"namespaces": []any{"team-b"}}},
			},
			"mpc-system: coordinator.discovery.namespaces: names namespaces the webhook does not check: mpc-parties, team-c; add them to mpcguard.webhook.namespaces",
		},
	}
	for name, tc := range cases {
		t.Run("refuses "+name, func(t *testing.T) {
			_, err := renderAs(t, system, "mpc-system", "mpc-system", tc.vals)
			require.ErrorContains(t, err, tc.want)
		})
	}
	t.Run("renders discovery namespaces the webhook checks, and the release namespace", func(t *testing.T) {
		_, err := renderAs(t, system, "mpc-system", "mpc-system", map[string]any{
			"coordinator": map[string]any{"discovery": map[string]any{"namespaces": []any{"mpc-system", "mpc-parties"}}},
			"mpcguard":    map[string]any{"webhook": map[string]any{"namespaces": []any{"mpc-parties"}}},
		})
		require.NoError(t, err)
	})
	t.Run("renders any discovery namespaces without the webhook", func(t *testing.T) {
		_, err := renderAs(t, system, "mpc-system", "mpc-system", map[string]any{
			"coordinator": map[string]any{"discovery": map[string]any{"namespaces": []any{"mpc-parties"}}},
			"mpcguard":    map[string]any{"enabled": false},
		})
		require.NoError(t, err)
	})
}

func TestMpcguardNotes(t *testing.T) {
	guard := chartOf(t, generate(t, generator.Default()), "mpcguard")
	inert := fmt.Sprintf("so\n%s check nothing", strings.Join([]string{vocab.DelegateNoShareStorage, vocab.ShareStorageCopy, vocab.ShareStoragePersistentOnly}, ", "))

	r, err := renderAs(t, guard, "mpc-system", "mpc-system", nil)
	require.NoError(t, err)
	assert.Contains(t, r.notes, "No share storage is configured")
	assert.Contains(t, r.notes, inert)
	assert.Contains(t, r.notes, `threshold: {t: 2, "n": 3}`, `an unquoted n is false in YAML 1.1, which kubectl reads`)
	assert.NotRegexp(t, `[{,\s]n:`, r.notes)

	for _, storage := range []map[string]any{{"secretNames": []any{"mpc-secrets"}}, {"claimPrefixes": []any{"shares-mpc-server-party-"}}} {
		r, err := renderAs(t, guard, "mpc-system", "mpc-system", map[string]any{"shareStorage": storage})
		require.NoError(t, err)
		assert.NotContains(t, r.notes, "No share storage is configured", "%v", storage)
	}
}

func TestValuesSchemaTakesPolicyIDsFromVocab(t *testing.T) {
	guard := chartOf(t, generate(t, generator.Default()), "mpcguard")
	require.Len(t, vocab.PolicyIDs(), 18)
	for _, id := range vocab.PolicyIDs() {
		_, err := renderAs(t, guard, "mpc-system", "mpc-system", map[string]any{"webhook": map[string]any{"enforcement": map[string]any{id: "warn"}}})
		assert.NoError(t, err, id)
	}
	_, err := renderAs(t, guard, "mpc-system", "mpc-system", map[string]any{"webhook": map[string]any{"enforcement": map[string]any{"no-such-policy": "warn"}}})
	assert.ErrorContains(t, err, "invalid propertyName 'no-such-policy'")
	_, err = renderAs(t, guard, "mpc-system", "mpc-system", map[string]any{"webhook": map[string]any{"enforcement": map[string]any{vocab.PartyAccess: "audit"}}})
	assert.ErrorContains(t, err, "value must be one of 'deny', 'warn', 'off'")
}

func TestQuorumAndShareGuards(t *testing.T) {
	files := generate(t, generator.Default())
	system := chartOf(t, files, "mpc-system")

	t.Run("the persistent StatefulSet retains its claims when it is scaled down or deleted", func(t *testing.T) {
		r, err := renderAs(t, system, "mpc-system", "mpc-system", nil)
		require.NoError(t, err)
		sts := only[appsv1.StatefulSet](t, r, "StatefulSet", "mpc-system-server-party")
		require.NotNil(t, sts.Spec.PersistentVolumeClaimRetentionPolicy)
		assert.Equal(t, appsv1.RetainPersistentVolumeClaimRetentionPolicyType, sts.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted)
		assert.Equal(t, appsv1.RetainPersistentVolumeClaimRetentionPolicyType, sts.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled)
	})

	t.Run("the webhook is sent the deletions and scales the guards judge, by name", func(t *testing.T) {
		r, err := renderAs(t, system, "mpc-system", "mpc-system", map[string]any{"threshold": map[string]any{"t": 3},
			"mpcguard": map[string]any{"threshold": map[string]any{"t": 3}, "shareStorage": map[string]any{"secretNames": []any{"mpc-db"}}}})
		require.NoError(t, err)
		assert.Equal(t, "3", webhookArgs(t, r)["threshold-t"])
		vwc := only[admissionregistrationv1.ValidatingWebhookConfiguration](t, r, "ValidatingWebhookConfiguration", "")
		workloads, storage := vwc.Webhooks[1].MatchConditions[0].Expression, vwc.Webhooks[2].MatchConditions[0].Expression
		assert.Contains(t, workloads, `request.name in ["mpc-system-server-party"]`)
		assert.Contains(t, storage, `["shares-mpc-system-server-party-"].exists(p, request.name.startsWith(p))`)
		assert.Contains(t, storage, `request.name in ["mpc-db"]`)
	})

	t.Run("mpc-system refuses a webhook threshold other than its own", func(t *testing.T) {
		_, err := renderAs(t, system, "mpc-system", "mpc-system", map[string]any{"threshold": map[string]any{"t": 3}})
		assert.ErrorContains(t, err, "mpcguard.threshold.t: must be threshold.t (3), the t below which the webhook refuses to scale the persistent pool, not 2")
	})
}
