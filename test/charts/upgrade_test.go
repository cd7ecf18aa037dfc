package charts_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

// fakeCluster answers the chart's lookup calls from a fake dynamic client holding objs.
type fakeCluster struct{ client dynamic.Interface }

func (f fakeCluster) GetClientFor(apiVersion, kind string) (dynamic.NamespaceableResourceInterface, bool, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, false, err
	}
	resource := strings.ToLower(kind) + "s"
	return f.client.Resource(gv.WithResource(resource)), true, nil
}

// renderAgainst renders the chart as an install or upgrade against a cluster holding objs, and returns the
// self-signed Secret and the webhook configuration.
func renderAgainst(t *testing.T, ch *chart.Chart, upgrade bool, objs ...runtime.Object) (*corev1.Secret, *admissionv1.ValidatingWebhookConfiguration) {
	t.Helper()
	vals, err := chartutil.ToRenderValues(ch, values("webhook.certManager.enabled", false),
		chartutil.ReleaseOptions{Name: releaseName, Namespace: releaseNamespace, IsInstall: !upgrade, IsUpgrade: upgrade, Revision: 1},
		chartutil.DefaultCapabilities)
	require.NoError(t, err)
	out, err := engine.RenderWithClientProvider(ch, vals, fakeCluster{dynamicfake.NewSimpleDynamicClient(clientgoscheme.Scheme, objs...)})
	require.NoError(t, err)
	var secret *corev1.Secret
	var vwc *admissionv1.ValidatingWebhookConfiguration
	for name, doc := range out {
		switch {
		case strings.HasSuffix(name, "selfsigned-secret.yaml"):
			o, _, err := decoder.Decode([]byte(doc), nil, nil)
			require.NoError(t, err)
			secret = o.(*corev1.Secret)
		case strings.HasSuffix(name, "validatingwebhookconfiguration.yaml"):
			o, _, err := decoder.Decode([]byte(doc), nil, nil)
			require.NoError(t, err)
			vwc = o.(*admissionv1.ValidatingWebhookConfiguration)
		}
	}
	require.NotNil(t, secret)
	require.NotNil(t, vwc)
	return secret, vwc
}

func TestSelfSignedCertificateIsKeptAcrossUpgrades(t *testing.T) {
	ch := loadChart(t, "mpcguard")
	installed, _ := renderAgainst(t, ch, false)
	installed.APIVersion, installed.Kind = "v1", "Secret"

	upgraded, vwc := renderAgainst(t, ch, true, installed)
	assert.Equal(t, installed.Data, upgraded.Data, "the upgrade reuses the Secret's CA, certificate and key")
	for _, w := range vwc.Webhooks {
		assert.Equal(t, installed.Data["ca.crt"], w.ClientConfig.CABundle, "%s keeps trusting the installed CA", w.Name)
	}

	fresh, _ := renderAgainst(t, ch, false)
	assert.NotEqual(t, installed.Data["ca.crt"], fresh.Data["ca.crt"], "without a Secret a new CA is made")
}
