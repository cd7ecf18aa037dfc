package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/releaseutil"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/mpcguard/mpcguard/test/cluster"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

// certManagerModule is the Go module whose deploy/crds/ hold the CRDs of the cert-manager release whose API
// types the charts are tested against (go.mod pins it).
const certManagerModule = "github.com/cert-manager/cert-manager"

// The release of the cert-manager test; only its Issuer and Certificate are stored.
const certManagerNamespace = "mpc-certmanager"

// With webhook.certs.mode certManager the chart asks cert-manager for the webhook's serving certificate and CA
// injection. cert-manager's controller cannot run here, but its CRDs can: the API server then validates the
// chart's Issuer and Certificate against cert-manager's own schemas (server-side apply is strict: an unknown
// or misplaced field is an error, not silently pruned), and what it stores decodes into cert-manager's Go types
// and points at the webhook's Service.
func TestInCertManagerModeTheAPIServerAcceptsTheChartsIssuerCertificateAndWebhookConfiguration(t *testing.T) {
	env := sharedEnv(t)
	ctx := t.Context()
	c := applyClient(t, env)
	installCertManagerCRDs(t, ctx, c)

	objs := renderChart(t, filepath.Join(env.Charts, "mpc-system"), certManagerNamespace, certManagerNamespace,
		map[string]any{"mpcguard": map[string]any{"webhook": map[string]any{"certs": map[string]any{"mode": "certManager"}}}})
	issuerObj, certObj := objs.only(t, "Issuer"), objs.only(t, "Certificate")
	vwcObj, svcObj := objs.only(t, "ValidatingWebhookConfiguration"), objs.only(t, "Service", "admission-webhook")
	var hook appsv1.Deployment
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(objs.only(t, "Deployment", "admission-webhook").Object, &hook))

	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: certManagerNamespace}}); !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		assert.NoError(t, client.IgnoreNotFound(c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: certManagerNamespace}})))
	})
	for _, o := range []*unstructured.Unstructured{issuerObj, certObj} {
		require.NoError(t, c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), client.ForceOwnership),
			"server-side apply of the chart's %s %s", o.GetKind(), o.GetName())
	}
	// A real configuration would send this namespace's pods to a Service no container answers (failurePolicy
	// Fail): a dry run goes through validation and admission without storing it.
	vwcApplied := vwcObj.DeepCopy()
	require.NoError(t, c.Apply(ctx, client.ApplyConfigurationFromUnstructured(vwcApplied), client.ForceOwnership, client.DryRunAll),
		"server-side apply (dry run) of the chart's ValidatingWebhookConfiguration %s", vwcObj.GetName())

	var issuer cmv1.Issuer
	var cert cmv1.Certificate
	strictGet(t, ctx, c, issuerObj, &issuer)
	strictGet(t, ctx, c, certObj, &cert)
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(vwcApplied.Object, &vwc, true))

	t.Run("the Issuer is self-signed", func(t *testing.T) {
		assert.NotNil(t, issuer.Spec.SelfSigned)
	})
	t.Run("the Certificate is issued by that Issuer for the webhook Service into the Secret the webhook mounts", func(t *testing.T) {
		assert.Equal(t, cmmeta.IssuerReference{Name: issuer.Name, Kind: cmv1.IssuerKind, Group: "cert-manager.io"},
			cert.Spec.IssuerRef)
		svc := svcObj.GetName()
		assert.ElementsMatch(t, []string{svc, svc + "." + certManagerNamespace, svc + "." + certManagerNamespace + ".svc",
			svc + "." + certManagerNamespace + ".svc.cluster.local"}, cert.Spec.DNSNames)
		assert.Equal(t, svc+"."+certManagerNamespace+".svc", cert.Spec.CommonName)
		var mounted string
		for _, v := range hook.Spec.Template.Spec.Volumes {
			if v.Secret != nil {
				mounted = v.Secret.SecretName
			}
		}
		assert.Equal(t, mounted, cert.Spec.SecretName, "the webhook mounts the Secret cert-manager writes")
		require.NotNil(t, cert.Spec.PrivateKey)
		assert.Equal(t, cmv1.RotationPolicyAlways, cert.Spec.PrivateKey.RotationPolicy)
	})
	t.Run("the webhook configuration asks cert-manager to inject that Certificate's CA and calls the Service", func(t *testing.T) {
		assert.Equal(t, certManagerNamespace+"/"+cert.Name, vwc.Annotations["cert-manager.io/inject-ca-from"])
		require.NotEmpty(t, vwc.Webhooks)
		for _, w := range vwc.Webhooks {
			require.NotNil(t, w.ClientConfig.Service, "webhook %s", w.Name)
			assert.Equal(t, svcObj.GetName(), w.ClientConfig.Service.Name, "webhook %s", w.Name)
			assert.Equal(t, certManagerNamespace, w.ClientConfig.Service.Namespace, "webhook %s", w.Name)
			assert.Empty(t, w.ClientConfig.CABundle, "webhook %s: cert-manager's cainjector fills it", w.Name)
			assert.Nil(t, w.ClientConfig.URL, "webhook %s", w.Name)
		}
	})
	t.Run("the schemas are enforced, so acceptance means something", func(t *testing.T) {
		bad := certObj.DeepCopy()
		require.NoError(t, unstructured.SetNestedField(bad.Object, "Sometimes", "spec", "privateKey", "rotationPolicy"))
		err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(bad), client.ForceOwnership, client.DryRunAll)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `spec.privateKey.rotationPolicy: Unsupported value: "Sometimes"`)
		bad = certObj.DeepCopy()
		require.NoError(t, unstructured.SetNestedField(bad.Object, "cert-manager.io", "spec", "issuerRef", "grup"))
		err = c.Apply(ctx, client.ApplyConfigurationFromUnstructured(bad), client.ForceOwnership, client.DryRunAll)
		require.Error(t, err, "a misspelt field is an error, not pruned")
		assert.Contains(t, err.Error(), "grup")
	})
}

// applyClient is an administrator's client that knows cert-manager's and the CRDs' types and applies as
// mpcguard-e2e.
func applyClient(t *testing.T, env *scenario.Env) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(scheme))
	require.NoError(t, apiextensionsv1.AddToScheme(scheme))
	require.NoError(t, cmv1.AddToScheme(scheme))
	c, err := client.New(env.Cluster.Config, client.Options{Scheme: scheme, FieldOwner: "mpcguard-e2e"})
	require.NoError(t, err)
	return c
}

// installCertManagerCRDs applies the CRDs of the pinned cert-manager module, read from the module cache, and
// waits until the API server serves them.
func installCertManagerCRDs(t *testing.T, ctx context.Context, c client.Client) {
	t.Helper()
	root, err := cluster.RepoRoot()
	require.NoError(t, err)
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", certManagerModule)
	cmd.Dir = root
	out, err := cmd.Output()
	require.NoError(t, err, "go list -m %s", certManagerModule)
	dir := strings.TrimSpace(string(out))
	require.NotEmpty(t, dir, "%s is not in the module cache: go mod download %[1]s", certManagerModule)
	files, err := filepath.Glob(filepath.Join(dir, "deploy", "crds", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no CRDs in %s/deploy/crds", dir)
	var names []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, doc := range releaseutil.SplitManifests(string(data)) {
			var u unstructured.Unstructured
			require.NoError(t, yaml.Unmarshal([]byte(doc), &u.Object), "%s", f)
			if u.GetKind() != "CustomResourceDefinition" {
				continue
			}
			require.NoError(t, c.Apply(ctx, client.ApplyConfigurationFromUnstructured(&u), client.ForceOwnership), "applying %s", u.GetName())
			names = append(names, u.GetName())
		}
	}
	require.Contains(t, names, "certificates.cert-manager.io")
	require.Contains(t, names, "issuers.cert-manager.io")
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		for _, name := range names {
			var crd apiextensionsv1.CustomResourceDefinition
			require.NoError(ct, c.Get(ctx, client.ObjectKey{Name: name}, &crd))
			established := false
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextensionsv1.Established {
					established = cond.Status == apiextensionsv1.ConditionTrue
				}
			}
			assert.True(ct, established, "CRD %s Established", name)
		}
	}, 30*time.Second, 100*time.Millisecond)
	t.Logf("installed %d cert-manager CRDs from %s/deploy/crds", len(names), dir)
}

// renderedObjects are a chart's rendered manifests.
type renderedObjects []*unstructured.Unstructured

// only returns the one object of kind (and, when given, app.kubernetes.io/component).
func (objs renderedObjects) only(t *testing.T, kind string, component ...string) *unstructured.Unstructured {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind && (len(component) == 0 || o.GetLabels()[scenario.ComponentLabel] == component[0]) {
			found = append(found, o)
		}
	}
	require.Len(t, found, 1, "one %s %v in the rendered chart", kind, component)
	return found[0]
}

// renderChart renders the chart with the Helm SDK (helm template: no cluster is read).
func renderChart(t *testing.T, chartDir, release, namespace string, values map[string]any) renderedObjects {
	t.Helper()
	chrt, err := loader.Load(chartDir)
	require.NoError(t, err)
	rel, err := cluster.HelmTemplate(t.Context(), cluster.HelmRelease{Name: release, Namespace: namespace, Chart: chrt, Values: values}, "v1.36.3")
	require.NoError(t, err, "helm template %s", chartDir)
	var objs renderedObjects
	for _, doc := range releaseutil.SplitManifests(rel.Manifest) {
		u := &unstructured.Unstructured{}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &u.Object))
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
	return objs
}

// strictGet reads the stored object and decodes it into a Go type, failing on any field the type lacks.
func strictGet(t *testing.T, ctx context.Context, c client.Client, like *unstructured.Unstructured, into any) {
	t.Helper()
	stored := &unstructured.Unstructured{}
	stored.SetGroupVersionKind(like.GroupVersionKind())
	require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(like), stored), "reading %s %s", like.GetKind(), like.GetName())
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(stored.Object, into, true),
		"%s %s decodes into %T", like.GetKind(), like.GetName(), into)
}
