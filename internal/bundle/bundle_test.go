package bundle_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/manifest"
	policyconfig "k8s.io/apiserver/pkg/admission/plugin/policy/config"
	"k8s.io/apiserver/pkg/admission/plugin/policy/manifest/loader"
	apiserverinstall "k8s.io/apiserver/pkg/apis/apiserver/install"
	"k8s.io/apiserver/pkg/features"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	featuregatetesting "k8s.io/component-base/featuregate/testing"
	"k8s.io/utils/ptr"

	"github.com/mpcguard/mpcguard/internal/bundle"
)

func policy(name string) admissionregistrationv1.ValidatingAdmissionPolicy {
	return admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
				}}}},
			Validations: []admissionregistrationv1.Validation{{Expression: "has(object.metadata.labels)", Message: "[x] labels"}},
		},
	}
}

func binding(name, policy string) admissionregistrationv1.ValidatingAdmissionPolicyBinding {
	return admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: policy,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}},
	}
}

// apiServerLoad loads dir with the API server's own manifest loader (k8s.io/apiserver), decoding strictly
// as it does: what it accepts, kube-apiserver accepts up to the API's field validation.
func apiServerLoad(t *testing.T, dir string) ([]*admissionregistrationv1.ValidatingAdmissionPolicy, []*admissionregistrationv1.ValidatingAdmissionPolicyBinding, string, error) {
	t.Helper()
	scheme := runtime.NewScheme()
	require.NoError(t, admissionregistrationv1.AddToScheme(scheme))
	scheme.AddUnversionedTypes(metav1.SchemeGroupVersion, &metav1.List{}, &metav1.Status{}) // as kube-apiserver's loader
	decoder := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	accept := func(obj runtime.Object) ([]*admissionregistrationv1.ValidatingAdmissionPolicy, error) {
		if p, ok := obj.(*admissionregistrationv1.ValidatingAdmissionPolicy); ok {
			return []*admissionregistrationv1.ValidatingAdmissionPolicy{p}, nil
		}
		return nil, loader.ErrUnrecognizedType
	}
	acceptBinding := func(obj runtime.Object) ([]*admissionregistrationv1.ValidatingAdmissionPolicyBinding, error) {
		if b, ok := obj.(*admissionregistrationv1.ValidatingAdmissionPolicyBinding); ok {
			return []*admissionregistrationv1.ValidatingAdmissionPolicyBinding{b}, nil
		}
		return nil, loader.ErrUnrecognizedType
	}
	return loader.LoadPolicyManifests(dir, decoder, accept, acceptBinding,
		func(b *admissionregistrationv1.ValidatingAdmissionPolicyBinding) string { return b.Spec.PolicyName })
}

func TestTheAPIServersLoaderReadsAWrittenBundleAndHashesItAsDirHashDoes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "static")
	content, err := bundle.Render(
		[]admissionregistrationv1.ValidatingAdmissionPolicy{policy("b.mpcguard.static.k8s.io"), policy("a.mpcguard.static.k8s.io")},
		[]admissionregistrationv1.ValidatingAdmissionPolicyBinding{binding("a.mpcguard.static.k8s.io", "a.mpcguard.static.k8s.io"),
			binding("b.mpcguard.static.k8s.io", "b.mpcguard.static.k8s.io")})
	require.NoError(t, err)
	assert.NotContains(t, string(content), "creationTimestamp")
	assert.NotContains(t, string(content), "status:")
	hash, err := bundle.Write(dir, content)
	require.NoError(t, err)
	// Another admin's file beside ours counts in the directory's hash, as the API server counts it.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "other.json"), []byte(`{"kind":"List","apiVersion":"v1","items":[]}`), 0o600))

	policies, bindings, apiHash, err := apiServerLoad(t, dir)
	require.NoError(t, err)
	require.Len(t, policies, 2)
	require.Len(t, bindings, 2)
	assert.Equal(t, "a.mpcguard.static.k8s.io", policies[0].Name)
	assert.Equal(t, "a.mpcguard.static.k8s.io", bindings[0].Spec.PolicyName)
	_, filesHash, err := manifest.LoadFiles(dir)
	require.NoError(t, err)
	assert.Equal(t, filesHash, apiHash)
	got, err := bundle.DirHash(dir)
	require.NoError(t, err)
	assert.Equal(t, apiHash, got, "DirHash is the API server's hash")
	assert.NotEqual(t, hash, got, "the other file changed the directory's hash")

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 2, "no temporary file is left behind")
}

func TestRenderRefusesWhatTheAPIServerWouldRefuseToStartWith(t *testing.T) {
	p := policy("p.mpcguard.static.k8s.io")
	withParams := policy("q.mpcguard.static.k8s.io")
	withParams.Spec.ParamKind = &admissionregistrationv1.ParamKind{APIVersion: "v1", Kind: "ConfigMap"}
	withParamRef := binding("b.mpcguard.static.k8s.io", p.Name)
	withParamRef.Spec.ParamRef = &admissionregistrationv1.ParamRef{Name: "x"}
	for name, tc := range map[string]struct {
		policies []admissionregistrationv1.ValidatingAdmissionPolicy
		bindings []admissionregistrationv1.ValidatingAdmissionPolicyBinding
		want     error
	}{
		"a policy named without the reserved suffix": {
			policies: []admissionregistrationv1.ValidatingAdmissionPolicy{policy("mpcguard-party-role-required")}, want: bundle.ErrName},
		"a binding named without the reserved suffix": {policies: []admissionregistrationv1.ValidatingAdmissionPolicy{p},
			bindings: []admissionregistrationv1.ValidatingAdmissionPolicyBinding{binding("b", p.Name)}, want: bundle.ErrName},
		"two policies of one name": {
			policies: []admissionregistrationv1.ValidatingAdmissionPolicy{p, p}, want: bundle.ErrDuplicate},
		"a policy with a paramKind": {
			policies: []admissionregistrationv1.ValidatingAdmissionPolicy{withParams}, want: bundle.ErrParams},
		"a binding with a paramRef": {policies: []admissionregistrationv1.ValidatingAdmissionPolicy{p},
			bindings: []admissionregistrationv1.ValidatingAdmissionPolicyBinding{withParamRef}, want: bundle.ErrParams},
		"a binding of a policy that is not in the bundle": {policies: []admissionregistrationv1.ValidatingAdmissionPolicy{p},
			bindings: []admissionregistrationv1.ValidatingAdmissionPolicyBinding{binding("b.mpcguard.static.k8s.io", "gone.mpcguard.static.k8s.io")},
			want:     bundle.ErrUnboundPolicy},
		"no policy at all": {want: bundle.ErrEmpty},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := bundle.Render(tc.policies, tc.bindings)
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestTheAPIServerReadsTheStaticManifestsDirFromTheAdmissionConfiguration(t *testing.T) {
	featuregatetesting.SetFeatureGateDuringTest(t, utilfeature.DefaultFeatureGate, features.ManifestBasedAdmissionControlConfig, true)
	dir := t.TempDir()
	cfg, err := bundle.AdmissionConfiguration(dir)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "admission.yaml")
	require.NoError(t, os.WriteFile(file, cfg, 0o600))

	scheme := runtime.NewScheme()
	apiserverinstall.Install(scheme)
	provider, err := admission.ReadAdmissionConfiguration([]string{"ValidatingAdmissionPolicy"}, file, scheme)
	require.NoError(t, err)
	reader, err := provider.ConfigFor("ValidatingAdmissionPolicy")
	require.NoError(t, err)
	require.NotNil(t, reader)
	plugin, err := policyconfig.LoadValidatingConfig(reader)
	require.NoError(t, err)
	assert.Equal(t, dir, plugin.StaticManifestsDir)

	_, err = bundle.AdmissionConfiguration("etc/kubernetes/mpcguard")
	require.Error(t, err, "a relative directory is refused, as the API server refuses it")
}
