package charts_test

import (
	"encoding/base64"
	"testing"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/mpcguard/mpcguard/generator"
)

func webhookConfig(t *testing.T, r *rendered) *admissionv1.ValidatingWebhookConfiguration {
	t.Helper()
	vwcs := objectsOf[*admissionv1.ValidatingWebhookConfiguration](r)
	require.Len(t, vwcs, 1)
	return vwcs[0]
}

func namespaceLabels(name string) labels.Set {
	return labels.Set{"kubernetes.io/metadata.name": name}
}

func TestWebhookConfiguration(t *testing.T) {
	cases := map[string]struct {
		chart      string
		values     map[string]any
		namespaces []string
	}{
		"mpc-system checks its release namespace":     {"mpc-system", nil, []string{releaseNamespace}},
		"mpcguard alone checks its release namespace": {"mpcguard", nil, []string{releaseNamespace}},
		"mpcguard checks the listed namespaces too":   {"mpcguard", values("webhook.namespaces", []any{"team-a", "team-b"}), []string{releaseNamespace, "team-a", "team-b"}},
	}
	// The rules are vocab.Routes, grouped by webhook (generator.WebhookEntries); here, what they must contain.
	wantRules := map[string][]admissionv1.RuleWithOperations{}
	for _, e := range generator.WebhookEntries() {
		wantRules[e.Name] = e.Rules
	}
	require.Contains(t, wantRules["pods.mpcguard.io"], rule([]admissionv1.OperationType{admissionv1.Connect}, "", "v1", "pods/exec", "pods/attach", "pods/portforward", "pods/proxy"))
	require.Contains(t, wantRules["workloads.mpcguard.io"], rule(nil, "batch", "v1", "jobs", "cronjobs"))
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := mustRender(t, loadChart(t, tc.chart), tc.values)
			vwc := webhookConfig(t, r)
			hook := webhookDeployment(t, r)
			var svc *corev1.Service
			for _, s := range objectsOf[*corev1.Service](r) {
				if s.Name == hook.Name {
					svc = s
				}
			}
			require.NotNil(t, svc)
			require.Len(t, vwc.Webhooks, len(wantRules))
			for _, w := range vwc.Webhooks {
				assert.Equal(t, wantRules[w.Name], w.Rules, "%s rules", w.Name)
				assert.Equal(t, admissionv1.Fail, *w.FailurePolicy, w.Name)
				assert.Equal(t, admissionv1.SideEffectClassNone, *w.SideEffects, w.Name)
				require.NotNil(t, w.TimeoutSeconds)
				assert.LessOrEqual(t, *w.TimeoutSeconds, int32(5), w.Name)
				assert.Equal(t, []string{"v1"}, w.AdmissionReviewVersions)
				require.NotNil(t, w.ClientConfig.Service)
				assert.Equal(t, "/validate", *w.ClientConfig.Service.Path)
				assert.Equal(t, svc.Name, w.ClientConfig.Service.Name)
				assert.Equal(t, svc.Namespace, w.ClientConfig.Service.Namespace)
				assert.Equal(t, svc.Spec.Ports[0].Port, *w.ClientConfig.Service.Port)

				ns := selectorOf(t, w.NamespaceSelector)
				for _, n := range tc.namespaces {
					assert.True(t, ns.Matches(namespaceLabels(n)), "%s matches namespace %s", w.Name, n)
				}
				for _, n := range []string{"kube-system", "default", "other"} {
					assert.False(t, ns.Matches(namespaceLabels(n)), "%s never matches namespace %s", w.Name, n)
				}
				// No object selector: an object's own labels must not opt it out. The webhook's own objects are
				// excluded by matchConditions that name them (generator/chart_test.go checks their CEL).
				assert.Nil(t, w.ObjectSelector, "%s has no object selector", w.Name)
			}

			t.Run("the webhook runs two replicas under a PodDisruptionBudget, spread by anti-affinity", func(t *testing.T) {
				assert.Equal(t, int32(2), *hook.Spec.Replicas)
				own := selectorOf(t, hook.Spec.Selector)
				var pdb *policyv1.PodDisruptionBudget
				for _, p := range objectsOf[*policyv1.PodDisruptionBudget](r) {
					if selectorOf(t, p.Spec.Selector).Matches(labels.Set(hook.Spec.Template.Labels)) {
						pdb = p
					}
				}
				require.NotNil(t, pdb)
				assert.Equal(t, 1, pdb.Spec.MaxUnavailable.IntValue())
				terms := hook.Spec.Template.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution
				require.Len(t, terms, 1)
				assert.Equal(t, corev1.LabelHostname, terms[0].PodAffinityTerm.TopologyKey)
				assert.Equal(t, own.String(), selectorOf(t, terms[0].PodAffinityTerm.LabelSelector).String())
			})
		})
	}

	t.Run("every pod is sent, not only those matching the party selector", func(t *testing.T) {
		r := mustRender(t, loadChart(t, "mpc-system"), nil)
		pods := webhookConfig(t, r).Webhooks[0]
		require.Equal(t, "pods.mpcguard.io", pods.Name)
		assert.Nil(t, pods.ObjectSelector)
		var names []string
		for _, c := range pods.MatchConditions {
			names = append(names, c.Name)
		}
		assert.Equal(t, []string{"status-updates-that-change-labels", "bindings-that-set-party-labels", "not-the-webhooks-own-pods"}, names)
	})

	for name, vals := range map[string]map[string]any{
		"kube-system among the namespaces does not render":             values("webhook.namespaces", []any{"kube-system"}),
		"a party selector matching the webhook's pods does not render": values("global.party.selector", "app.kubernetes.io/component=admission-webhook"),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := render(t, loadChart(t, "mpcguard"), vals)
			require.Error(t, err)
			assert.ErrorContains(t, err, "mpcguard:")
		})
	}
}

// rule is a namespaced rule; nil operations are CREATE and UPDATE.
func rule(ops []admissionv1.OperationType, group, version string, resources ...string) admissionv1.RuleWithOperations {
	scope := admissionv1.NamespacedScope
	if ops == nil {
		ops = []admissionv1.OperationType{admissionv1.Create, admissionv1.Update}
	}
	return admissionv1.RuleWithOperations{
		Operations: ops,
		Rule:       admissionv1.Rule{APIGroups: []string{group}, APIVersions: []string{version}, Resources: resources, Scope: &scope},
	}
}

// tlsVolumeSecret is the Secret of the webhook's tls volume, "" when it has none.
func tlsVolumeSecret(d *appsv1.Deployment) string {
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == "tls" && v.Secret != nil {
			return v.Secret.SecretName
		}
	}
	return ""
}

func TestCertificates(t *testing.T) {
	ch := loadChart(t, "mpcguard")

	t.Run("by default the webhook keeps its own certificates in an empty Secret and no caBundle is rendered", func(t *testing.T) {
		r := mustRender(t, ch, nil)
		assert.Empty(t, objectsOf[*cmv1.Issuer](r))
		assert.Empty(t, objectsOf[*cmv1.Certificate](r))
		secrets := objectsOf[*corev1.Secret](r)
		require.Len(t, secrets, 1)
		s := secrets[0]
		assert.Equal(t, releaseName+"-mpcguard-webhook-certs", s.Name)
		assert.Empty(t, s.Data, "the webhook fills it")
		assert.Empty(t, s.StringData)
		assert.Equal(t, "keep", s.Annotations["helm.sh/resource-policy"], "an uninstall or rollback never deletes the CA")
		hook := webhookDeployment(t, r)
		assert.Empty(t, tlsVolumeSecret(hook), "no certificate volume")
		vwc := webhookConfig(t, r)
		assert.NotContains(t, vwc.Annotations, "cert-manager.io/inject-ca-from")
		for _, w := range vwc.Webhooks {
			assert.Nil(t, w.ClientConfig.CABundle, "%s: no caBundle key at all, or every upgrade would empty it", w.Name)
		}
		assert.NotContains(t, r.manifest, "caBundle")
		args := webhookArgs(t, r)
		assert.Equal(t, "rotate", args["cert-mode"])
		assert.Equal(t, s.Name, args["cert-secret"])
		assert.Equal(t, vwc.Name, args["webhook-configuration"], "the webhook keeps this release's configuration current")
		assert.Equal(t, hook.Name+"."+releaseNamespace+".svc", args["cert-dns-names"], "the name the API server verifies")
		assert.Equal(t, hook.Name, vwc.Webhooks[0].ClientConfig.Service.Name)
		assert.Equal(t, map[string]string{"ca-validity": "87600h", "cert-validity": "8760h", "cert-overlap": "10m", "cert-check-interval": "1m"},
			map[string]string{"ca-validity": args["ca-validity"], "cert-validity": args["cert-validity"], "cert-overlap": args["cert-overlap"],
				"cert-check-interval": args["cert-check-interval"]})
		assert.NotContains(t, args, "cert-dir")
		pod := hook.Spec.Template.Spec
		require.NotNil(t, pod.AutomountServiceAccountToken)
		assert.True(t, *pod.AutomountServiceAccountToken, "the rotation uses the API")
		env := pod.Containers[0].Env
		require.NotEmpty(t, env)
		assert.Equal(t, "POD_NAMESPACE", env[0].Name)
		assert.Equal(t, "metadata.namespace", env[0].ValueFrom.FieldRef.FieldPath)
	})

	t.Run("the rotation's lives and overlap are values", func(t *testing.T) {
		r := mustRender(t, ch, values("webhook.certs.rotate", map[string]any{"caValidity": "3m", "certValidity": "2m", "overlap": "15s", "checkInterval": "3s"}))
		args := webhookArgs(t, r)
		assert.Equal(t, []string{"3m", "2m", "15s", "3s"}, []string{args["ca-validity"], args["cert-validity"], args["cert-overlap"], args["cert-check-interval"]})
	})

	t.Run("cert-manager issues the serving certificate and injects its CA", func(t *testing.T) {
		r := mustRender(t, ch, values("webhook.certs.mode", "certManager"))
		issuers := objectsOf[*cmv1.Issuer](r)
		certs := objectsOf[*cmv1.Certificate](r)
		require.Len(t, issuers, 1)
		require.Len(t, certs, 1)
		require.NotNil(t, issuers[0].Spec.SelfSigned)
		cert := certs[0]
		assert.Equal(t, issuers[0].Name, cert.Spec.IssuerRef.Name)
		assert.Equal(t, "Issuer", cert.Spec.IssuerRef.Kind)
		hook := webhookDeployment(t, r)
		assert.Equal(t, tlsVolumeSecret(hook), cert.Spec.SecretName)
		assert.Contains(t, cert.Spec.DNSNames, hook.Name+"."+releaseNamespace+".svc")
		assert.Equal(t, map[string]string{"cert-mode": "files", "cert-dir": "/tls"},
			map[string]string{"cert-mode": webhookArgs(t, r)["cert-mode"], "cert-dir": webhookArgs(t, r)["cert-dir"]})
		vwc := webhookConfig(t, r)
		assert.Equal(t, releaseNamespace+"/"+cert.Name, vwc.Annotations["cert-manager.io/inject-ca-from"])
		for _, w := range vwc.Webhooks {
			assert.Empty(t, w.ClientConfig.CABundle, "cert-manager injects it")
		}
		assert.Empty(t, objectsOf[*corev1.Secret](r))
		assert.Empty(t, objectsOf[*rbacv1.ClusterRole](r), "no rotation, no right on the webhook configuration")
	})

	t.Run("an existing Secret is served and its CA is trusted as given", func(t *testing.T) {
		ca := base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\n"))
		r := mustRender(t, ch, values("webhook.certs.mode", "secret", "webhook.certs.existingSecret", "corp-tls", "webhook.certs.caBundle", ca))
		assert.Empty(t, objectsOf[*cmv1.Certificate](r))
		assert.Empty(t, objectsOf[*corev1.Secret](r), "the Secret is the operator's")
		assert.Empty(t, objectsOf[*rbacv1.ClusterRole](r))
		hook := webhookDeployment(t, r)
		assert.Equal(t, "corp-tls", tlsVolumeSecret(hook))
		assert.Equal(t, "files", webhookArgs(t, r)["cert-mode"])
		for _, w := range webhookConfig(t, r).Webhooks {
			assert.Equal(t, "-----BEGIN CERTIFICATE-----\n", string(w.ClientConfig.CABundle), w.Name)
		}
	})

	t.Run("mode secret without the Secret or its CA does not render, naming both values", func(t *testing.T) {
		_, err := render(t, ch, values("webhook.certs.mode", "secret"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "webhook.certs.existingSecret: mode secret needs the name of a kubernetes.io/tls Secret")
		assert.Contains(t, err.Error(), "webhook.certs.caBundle: mode secret needs the base64 PEM CA")
	})

	t.Run("an external webhook is reached by URL and nothing runs in the cluster", func(t *testing.T) {
		ca := base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\n"))
		r := mustRender(t, ch, values("webhook.url", "https://127.0.0.1:9443/validate", "webhook.caBundle", ca))
		assert.Empty(t, objectsOf[*appsv1.Deployment](r))
		assert.Empty(t, objectsOf[*corev1.Service](r))
		assert.Empty(t, objectsOf[*corev1.Secret](r))
		assert.Empty(t, objectsOf[*cmv1.Certificate](r))
		assert.Empty(t, objectsOf[*rbacv1.Role](r))
		assert.Empty(t, objectsOf[*rbacv1.ClusterRole](r))
		for _, w := range webhookConfig(t, r).Webhooks {
			assert.Nil(t, w.ClientConfig.Service)
			require.NotNil(t, w.ClientConfig.URL)
			assert.Equal(t, "https://127.0.0.1:9443/validate", *w.ClientConfig.URL)
			assert.Equal(t, "-----BEGIN CERTIFICATE-----\n", string(w.ClientConfig.CABundle))
		}
	})
}
