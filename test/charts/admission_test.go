package charts_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"testing"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
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

func tlsVolumeSecret(t *testing.T, d *appsv1.Deployment) string {
	t.Helper()
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == "tls" {
			require.NotNil(t, v.Secret)
			return v.Secret.SecretName
		}
	}
	t.Fatal("no tls volume")
	return ""
}

func TestCertificates(t *testing.T) {
	ch := loadChart(t, "mpcguard")

	t.Run("cert-manager issues the serving certificate and injects its CA", func(t *testing.T) {
		r := mustRender(t, ch, values("webhook.certManager.enabled", true))
		issuers := objectsOf[*cmv1.Issuer](r)
		certs := objectsOf[*cmv1.Certificate](r)
		require.Len(t, issuers, 1)
		require.Len(t, certs, 1)
		require.NotNil(t, issuers[0].Spec.SelfSigned)
		cert := certs[0]
		assert.Equal(t, issuers[0].Name, cert.Spec.IssuerRef.Name)
		assert.Equal(t, "Issuer", cert.Spec.IssuerRef.Kind)
		hook := webhookDeployment(t, r)
		assert.Equal(t, tlsVolumeSecret(t, hook), cert.Spec.SecretName)
		assert.Contains(t, cert.Spec.DNSNames, hook.Name+"."+releaseNamespace+".svc")
		vwc := webhookConfig(t, r)
		assert.Equal(t, releaseNamespace+"/"+cert.Name, vwc.Annotations["cert-manager.io/inject-ca-from"])
		for _, w := range vwc.Webhooks {
			assert.Empty(t, w.ClientConfig.CABundle, "cert-manager injects it")
		}
		assert.Empty(t, objectsOf[*corev1.Secret](r))
	})

	t.Run("without cert-manager a self-signed CA signs the serving certificate", func(t *testing.T) {
		r := mustRender(t, ch, values("webhook.certManager.enabled", false))
		assert.Empty(t, objectsOf[*cmv1.Issuer](r))
		assert.Empty(t, objectsOf[*cmv1.Certificate](r))
		secrets := objectsOf[*corev1.Secret](r)
		require.Len(t, secrets, 1)
		s := secrets[0]
		hook := webhookDeployment(t, r)
		assert.Equal(t, tlsVolumeSecret(t, hook), s.Name)
		assert.Equal(t, corev1.SecretTypeTLS, s.Type)
		vwc := webhookConfig(t, r)
		assert.NotContains(t, vwc.Annotations, "cert-manager.io/inject-ca-from")
		for _, w := range vwc.Webhooks {
			assert.Equal(t, s.Data["ca.crt"], w.ClientConfig.CABundle, "%s trusts the CA of the Secret", w.Name)
		}
		verifyServing(t, s.Data["ca.crt"], s.Data["tls.crt"], hook.Name+"."+releaseNamespace+".svc")
	})

	t.Run("an external webhook is reached by URL and nothing runs in the cluster", func(t *testing.T) {
		ca := base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\n"))
		r := mustRender(t, ch, values("webhook.url", "https://127.0.0.1:9443/validate", "webhook.caBundle", ca))
		assert.Empty(t, objectsOf[*appsv1.Deployment](r))
		assert.Empty(t, objectsOf[*corev1.Service](r))
		assert.Empty(t, objectsOf[*corev1.Secret](r))
		assert.Empty(t, objectsOf[*cmv1.Certificate](r))
		for _, w := range webhookConfig(t, r).Webhooks {
			assert.Nil(t, w.ClientConfig.Service)
			require.NotNil(t, w.ClientConfig.URL)
			assert.Equal(t, "https://127.0.0.1:9443/validate", *w.ClientConfig.URL)
			assert.Equal(t, "-----BEGIN CERTIFICATE-----\n", string(w.ClientConfig.CABundle))
		}
	})
}

func verifyServing(t *testing.T, caPEM, certPEM []byte, dnsName string) {
	t.Helper()
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM), "ca.crt is PEM")
	block, _ := pem.Decode(certPEM)
	require.NotNil(t, block, "tls.crt is PEM")
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	_, err = cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: dnsName})
	require.NoError(t, err, "the serving certificate is valid for %s under the CA", dnsName)
}
