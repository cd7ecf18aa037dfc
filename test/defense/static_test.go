package defense

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mpcguard/mpcguard/internal/api/v1alpha1"
	"github.com/mpcguard/mpcguard/internal/bundle"
	"github.com/mpcguard/mpcguard/policies/native"
	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/test/cluster"
)

// staticName is the name of a policy of the bundle `mpcguard bundle` writes.
func staticName(id string) string { return native.DefaultNamePrefix + id + bundle.Suffix }

func TestABundleLoadedFromTheAPIServersDiskEnforcesFromTheFirstRequestAndSurvivesDeletingEveryAdmissionObject(t *testing.T) {
	ctx := t.Context()
	bin, err := cluster.MpcguardBin(ctx, t.TempDir())
	require.NoError(t, err)

	// As a cluster admin installs it: `mpcguard bundle` on the control-plane node's directories.
	node := t.TempDir()
	dir, admissionConfig := filepath.Join(node, "mpcguard"), filepath.Join(node, "admission-configuration.yaml")
	out, err := exec.CommandContext(ctx, bin, "bundle", "--output", dir, "--admission-config", admissionConfig,
		"--namespaces", ns).CombinedOutput()
	require.NoError(t, err, "mpcguard bundle: %s", out)
	t.Logf("mpcguard bundle:\n%s", out)
	hash, err := bundle.DirHash(dir)
	require.NoError(t, err)
	require.Contains(t, string(out), "directory hash "+hash, "the command prints the hash the API server will report")
	cfg, err := os.ReadFile(admissionConfig)
	require.NoError(t, err)
	content, err := os.ReadFile(filepath.Join(dir, bundle.FileName))
	require.NoError(t, err)
	inBundle := strings.Count(string(content), "\nkind: ValidatingAdmissionPolicy\n")

	start := time.Now()
	c := cluster.StartT(t, cluster.Options{Nodes: 1, AdmissionConfig: cfg,
		FeatureGates: map[string]bool{"ManifestBasedAdmissionControlConfig": true}})
	ready := time.Since(start)
	_, err = c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	// The first request is already judged: the bundle is loaded before the API server reports ready.
	_, firstErr := c.Client.CoreV1().Pods(ns).Create(ctx, pod("first", partyLabels("")), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	enforcedAfter := time.Since(start)
	cl := setUp(t, c)
	assert.Equal(t, staticName(vocab.PartyRoleRequired), requirePolicyDenied(t, firstErr, vocab.PartyRoleRequired),
		"the first request is denied by the static policy")

	t.Run("the API server loaded exactly the bundle's directory, once", func(t *testing.T) {
		assert.Equal(t, hash, metricLabel(t, c, "apiserver_manifest_admission_config_controller_last_config_info", "hash",
			`plugin="ValidatingAdmissionPolicy"`))
		assert.Equal(t, 1.0, metricSum(t, c, "apiserver_manifest_admission_config_controller_automatic_reloads_total",
			`plugin="ValidatingAdmissionPolicy"`, `status="success"`))
		assert.Zero(t, metricSum(t, c, "apiserver_manifest_admission_config_controller_automatic_reloads_total",
			`plugin="ValidatingAdmissionPolicy"`, `status="failure"`))
	})

	denied := map[string]struct {
		obj    client.Object
		policy string
	}{
		"a party pod without a role":                              {pod("unlabelled", partyLabels("")), vocab.PartyRoleRequired},
		"a party pod with an unknown role":                        {pod("admin", partyLabels("admin")), vocab.PartyRoleValid},
		"a 2-of-3 session of 1 persistent and 2 delegate parties": {session("delegates", 2, 3, &v1alpha1.Composition{Persistent: 1, Delegate: 2}), vocab.SessionDelegateOnlyThreshold},
		"a session with an empty composition":                     {session("empty", 2, 3, &v1alpha1.Composition{}), vocab.SessionCompositionNonempty},
	}
	requireEnforced := func(t *testing.T) {
		t.Helper()
		for name, tc := range denied {
			err := dryRun(ctx, cl, tc.obj)
			assert.Equal(t, staticName(tc.policy), requirePolicyDenied(t, err, tc.policy), name)
		}
		require.NoError(t, dryRun(ctx, cl, pod("web", map[string]string{"app": "web"})), "a pod that is no party pod is admitted")
		require.NoError(t, dryRun(ctx, cl, session("valid", 2, 3, &v1alpha1.Composition{Persistent: 2, Delegate: 1})),
			"a valid session is admitted (no webhook checks the inventory here)")
	}
	t.Run("the static policies reject party pods without a valid role and delegate-only sessions", requireEnforced)

	vaps := c.Client.AdmissionregistrationV1().ValidatingAdmissionPolicies()
	vapbs := c.Client.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings()
	name := staticName(vocab.PartyRoleRequired)
	t.Run("the static policies are no API objects: they cannot be listed, read, deleted or shadowed", func(t *testing.T) {
		list, err := vaps.List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		assert.Empty(t, list.Items, "LIST shows none of the bundle's policies")
		_, err = vaps.Get(ctx, name, metav1.GetOptions{})
		assert.True(t, apierrors.IsNotFound(err), "GET: %v", err)
		err = vaps.Delete(ctx, name, metav1.DeleteOptions{})
		assert.True(t, apierrors.IsNotFound(err), "DELETE of the policy: %v", err)
		err = vapbs.Delete(ctx, name, metav1.DeleteOptions{})
		assert.True(t, apierrors.IsNotFound(err), "DELETE of the binding: %v", err)
		assert.NoError(t, vaps.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}))
		assert.NoError(t, vapbs.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}))
		// An object of the reserved name, say one that allows everything, is refused.
		shadow := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: name,
				ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Audit}}}
		_, err = vapbs.Create(ctx, shadow, metav1.CreateOptions{})
		assert.True(t, apierrors.IsInvalid(err), "CREATE of the reserved name: %v", err)
		assert.Contains(t, err.Error(), "reserved for static manifest-based configurations")
	})
	t.Run("after the attempts, the static policies still enforce", requireEnforced)

	// The chart's own admission objects beside the bundle: the native policies as API objects and the
	// webhook, registered and answering.
	hook, err := cluster.StartWebhook(ctx, cluster.WebhookOptions{Bin: bin, Kubeconfig: c.Kubeconfig,
		Args: []string{"--namespaces=" + ns}, Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, hook.Stop()) })
	ncfg := native.DefaultConfig()
	ncfg.Namespaces = []string{ns}
	policies, bindings, err := native.Policies(ncfg)
	require.NoError(t, err)
	for i := range policies {
		require.NoError(t, cl.Create(ctx, &policies[i]))
	}
	for i := range bindings {
		require.NoError(t, cl.Create(ctx, &bindings[i]))
	}
	vwc := splitWebhookConfiguration(hook.URL, hook.CABundle)
	for i := range vwc.Webhooks {
		vwc.Webhooks[i].FailurePolicy = ptr.To(admissionregistrationv1.Fail) // as the chart does without native policies
	}
	require.NoError(t, cl.Create(ctx, vwc))
	var last error
	require.Eventually(t, func() bool {
		last = dryRun(ctx, cl, session("valid", 2, 3, &v1alpha1.Composition{Persistent: 2, Delegate: 1}))
		return last != nil && strings.Contains(last.Error(), "["+vocab.SessionPersistentAvailable+"]")
	}, 30*time.Second, 100*time.Millisecond, "the webhook is registered and answers; last: %v", last)

	t.Run("deleting every webhook configuration, policy and binding and stopping the webhook leaves the rules in force", func(t *testing.T) {
		var objects int
		for _, list := range []client.ObjectList{&admissionregistrationv1.ValidatingWebhookConfigurationList{},
			&admissionregistrationv1.ValidatingAdmissionPolicyBindingList{}, &admissionregistrationv1.ValidatingAdmissionPolicyList{}} {
			require.NoError(t, cl.List(ctx, list))
			n := apimeta.LenList(list)
			objects += n
		}
		assert.Equal(t, 1+2*len(policies), objects, "the webhook configuration and the API-object policies and bindings")
		require.NoError(t, cl.DeleteAllOf(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{}))
		require.NoError(t, cl.DeleteAllOf(ctx, &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}))
		require.NoError(t, cl.DeleteAllOf(ctx, &admissionregistrationv1.ValidatingAdmissionPolicy{}))
		require.NoError(t, hook.Halt())
		for _, list := range []client.ObjectList{&admissionregistrationv1.ValidatingWebhookConfigurationList{},
			&admissionregistrationv1.ValidatingAdmissionPolicyBindingList{}, &admissionregistrationv1.ValidatingAdmissionPolicyList{}} {
			require.NoError(t, cl.List(ctx, list))
			n := apimeta.LenList(list)
			require.Zero(t, n, "%T is empty", list)
		}
		// The API server drops deleted API objects through its informers; the static ones stay. Once the webhook
		// configuration is gone a valid session is admitted: the API-object side is gone whole.
		require.Eventually(t, func() bool {
			return dryRun(ctx, cl, session("valid", 2, 3, &v1alpha1.Composition{Persistent: 2, Delegate: 1})) == nil
		}, 30*time.Second, 100*time.Millisecond, "the webhook configuration's removal takes effect")
		requireEnforced(t)
		// A real create too, not only dry runs.
		err := cl.Create(ctx, pod("after", partyLabels("")))
		assert.Equal(t, name, requirePolicyDenied(t, err, vocab.PartyRoleRequired))
		assert.True(t, apierrors.IsNotFound(cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: "after"}, &corev1.Pod{})))
		t.Logf("deleted %d admission objects (1 webhook configuration, %d policies, %d bindings); the bundle's %d policies still enforce",
			objects, len(policies), len(bindings), inBundle)
	})

	t.Logf("static bundle: %d policies in %s (%d bytes); control plane up in %s, the first pod request, %s after its start, was denied by %s",
		inBundle, bundle.FileName, len(content), ready.Round(100*time.Millisecond), enforcedAfter.Round(100*time.Millisecond), staticName(vocab.PartyRoleRequired))
	t.Logf("static bundle: the API server denied %.0f requests through the bundle's policies (apiserver_validating_admission_policy_check_total, deny)",
		metricSum(t, c, "apiserver_validating_admission_policy_check_total", bundle.Suffix, `enforcement_action="deny"`))
}
