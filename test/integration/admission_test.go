package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/mpcguard/mpcguard/internal/api/v1alpha1"
	"github.com/mpcguard/mpcguard/internal/certs"
	"github.com/mpcguard/mpcguard/policies/engine"
	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/test/ports"
	"github.com/mpcguard/mpcguard/webhook"
	"github.com/mpcguard/mpcguard/webhook/webhooktest"
)

const ns = "mpc-system"

// cluster is a running kube-apiserver + etcd whose admission calls an in-process mpcguard webhook.
type cluster struct {
	client.Client
	// asController creates objects as the StatefulSet controller does (impersonating its ServiceAccount), the
	// only identity that may create persistent party pods (party-persistent-origin).
	asController client.Client
}

// startCluster starts the control plane, the webhook (with its party pod inventory) and registers the
// webhook with the API server the way the chart does; everything stops in t.Cleanup.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	cfg, c := startControlPlane(t)
	scheme := c.Scheme()
	ctrlCfg := rest.CopyConfig(cfg)
	ctrlCfg.Impersonate = rest.ImpersonationConfig{UserName: vocab.DefaultControllerUsers[0]}
	asController, err := client.New(ctrlCfg, client.Options{Scheme: scheme})
	require.NoError(t, err)
	ctx := t.Context()
	require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere"}}))

	// The webhook, with a CA the API server trusts through caBundle.
	certDir := t.TempDir()
	ca, err := certs.WriteLoopback(certDir, time.Hour)
	require.NoError(t, err)
	port := ports.FreeT(t)
	srv := webhooktest.Run(t, webhook.Options{
		Host: "127.0.0.1", Port: port, CertDir: certDir,
		HealthAddr: fmt.Sprintf("127.0.0.1:%d", ports.FreeT(t)), MetricsAddr: "0",
		Policy: engine.DefaultConfig(), Inventory: true, Namespaces: []string{ns}, RESTConfig: cfg,
		Log: logr.Discard(),
	})
	require.Eventually(t, func() bool { return srv.Ready(nil) == nil }, time.Minute, 100*time.Millisecond,
		"webhook never ready (certificates served, inventory synced)")

	require.NoError(t, c.Create(ctx, webhookConfiguration(fmt.Sprintf("https://127.0.0.1:%d%s", port, webhook.Path), ca.CertPEM)))
	cl := &cluster{Client: c, asController: asController}
	// The API server picks the configuration up asynchronously: wait until it enforces it.
	require.Eventually(t, func() bool {
		err := c.Create(ctx, pod("probe", map[string]string{"app.kubernetes.io/component": "mpc-party"}), client.DryRunAll)
		return err != nil && strings.Contains(err.Error(), "[party-role-required]")
	}, 30*time.Second, 200*time.Millisecond, "the API server never called the webhook")
	return cl
}

// startControlPlane starts etcd and kube-apiserver (RBAC on) with the MPCSession CRD, stopped in t.Cleanup, and
// returns an admin's config and client.
func startControlPlane(t *testing.T) (*rest.Config, client.Client) {
	t.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	require.NotEmpty(t, assets, "KUBEBUILDER_ASSETS must point at etcd and kube-apiserver: run `make test`")
	for _, bin := range []string{"etcd", "kube-apiserver"} {
		_, err := os.Stat(filepath.Join(assets, bin))
		require.NoError(t, err, "%s missing from KUBEBUILDER_ASSETS (make tools builds it)", bin)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	require.NoError(t, yaml.UnmarshalStrict(v1alpha1.CRDYAML, &crd))
	env := &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		CRDs:                     []*apiextensionsv1.CustomResourceDefinition{&crd},
		ControlPlaneStartTimeout: 2 * time.Minute,
	}
	cfg, err := env.Start()
	require.NoError(t, err, "starting etcd + kube-apiserver")
	t.Cleanup(func() { assert.NoError(t, env.Stop(), "stopping the control plane") })

	scheme := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(scheme))
	require.NoError(t, v1alpha1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	require.NoError(t, err)
	return cfg, c
}

// webhookConfiguration registers mpcguard as the chart does: party pods pre-filtered by the party selector,
// workloads and sessions, only in the mpc-system namespace, failing closed.
func webhookConfiguration(url string, caBundle []byte) *admissionregistrationv1.ValidatingWebhookConfiguration {
	nsSel := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: []string{ns}}}}
	ops := []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}
	rule := func(group, version string, resources ...string) admissionregistrationv1.RuleWithOperations {
		return admissionregistrationv1.RuleWithOperations{Operations: ops, Rule: admissionregistrationv1.Rule{
			APIGroups: []string{group}, APIVersions: []string{version}, Resources: resources,
			Scope: ptr.To(admissionregistrationv1.NamespacedScope)}}
	}
	hook := func(name string, objSel *metav1.LabelSelector, rules ...admissionregistrationv1.RuleWithOperations) admissionregistrationv1.ValidatingWebhook {
		return admissionregistrationv1.ValidatingWebhook{
			Name:                    name,
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caBundle},
			Rules:                   rules,
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          ptr.To[int32](5),
			NamespaceSelector:       nsSel,
			ObjectSelector:          objSel,
		}
	}
	return &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "mpcguard"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{
			hook("party-pods.mpcguard.io",
				&metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/component": "mpc-party"}},
				rule("", "v1", "pods")),
			hook("workloads.mpcguard.io", nil,
				rule("apps", "v1", "deployments", "statefulsets", "replicasets", "daemonsets"),
				rule("batch", "v1", "jobs", "cronjobs"),
				rule(v1alpha1.Group, v1alpha1.Version, v1alpha1.Resource)),
		},
	}
}

func pod(name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "party", Image: "mpc/party:1.0"}}},
	}
}

// persistentParty is a pod of the persistent StatefulSet mpc-party-persistent, as its controller makes it.
func persistentParty(name string) *corev1.Pod {
	p := party(name, vocab.RolePersistent)
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "mpc-party-persistent",
		UID: "6f1e2d3c-0000-4000-8000-000000000001", Controller: ptr.To(true)}}
	return p
}

func party(name, role string) *corev1.Pod {
	return pod(name, map[string]string{"app.kubernetes.io/component": "mpc-party", "party-role": role})
}

func session(name string, t, n int32, c *v1alpha1.Composition) *v1alpha1.MPCSession {
	return &v1alpha1.MPCSession{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.MPCSessionSpec{Type: v1alpha1.SessionSign,
			Threshold: v1alpha1.Threshold{T: t, N: n}, Composition: c},
	}
}

// markReady sets the pod's Ready condition, as a kubelet would.
func (c *cluster) markReady(t *testing.T, p *corev1.Pod) {
	t.Helper()
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue,
		LastTransitionTime: metav1.Now()}}
	require.NoError(t, c.Status().Update(t.Context(), p))
}

func requireDenied(t *testing.T, err error, policyID string) {
	t.Helper()
	require.Error(t, err, "the API server should have rejected this")
	assert.True(t, apierrors.IsForbidden(err) || apierrors.IsInvalid(err), "a webhook denial, got %v", err)
	assert.Contains(t, err.Error(), `admission webhook`)
	assert.Contains(t, err.Error(), "["+policyID+"]")
}

func TestTheAPIServerEnforcesThePoliciesThroughTheWebhook(t *testing.T) {
	c := startCluster(t)
	ctx := t.Context()

	t.Run("rejects an unlabelled party pod with the policy message", func(t *testing.T) {
		err := c.Create(ctx, pod("unlabelled", map[string]string{"app.kubernetes.io/component": "mpc-party"}))
		requireDenied(t, err, vocab.PartyRoleRequired)
		assert.Contains(t, err.Error(), "Pod mpc-system/unlabelled: party pod (app.kubernetes.io/component=mpc-party) has no party-role label")
	})
	t.Run("rejects a party pod whose role has the wrong case", func(t *testing.T) {
		requireDenied(t, c.Create(ctx, party("shouty", "Persistent")), vocab.PartyRoleValid)
	})
	t.Run("admits a pod outside the party selector without any role", func(t *testing.T) {
		require.NoError(t, c.Create(ctx, pod("sidecar", map[string]string{"app": "metrics"})))
	})
	t.Run("admits an unlabelled party pod in a namespace mpcguard does not enforce", func(t *testing.T) {
		p := pod("elsewhere", map[string]string{"app.kubernetes.io/component": "mpc-party"})
		p.Namespace = "elsewhere"
		require.NoError(t, c.Create(ctx, p))
	})
	t.Run("rejects a Deployment whose pod template lacks the role", func(t *testing.T) {
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "unlabelled-pool", Namespace: ns},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/component": "mpc-party"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app.kubernetes.io/component": "mpc-party"}},
					Spec:       pod("x", nil).Spec,
				},
			},
		}
		requireDenied(t, c.Create(ctx, d), vocab.WorkloadPartyRole)
	})
	t.Run("rejects an MPCSession with an empty composition", func(t *testing.T) {
		requireDenied(t, c.Create(ctx, session("empty", 2, 3, &v1alpha1.Composition{})), vocab.SessionCompositionNonempty)
	})
	t.Run("rejects an MPCSession whose delegates alone reach the threshold", func(t *testing.T) {
		err := c.Create(ctx, session("sign-42", 2, 3, &v1alpha1.Composition{Persistent: 1, Delegate: 2}))
		requireDenied(t, err, vocab.SessionDelegateOnlyThreshold)
		assert.Contains(t, err.Error(), "2 delegate + 0 temporary parties could reach the signing threshold t=2 without a persistent party")
	})
	t.Run("rejects a valid session while too few persistent parties are Ready", func(t *testing.T) {
		err := c.Create(ctx, session("early", 2, 3, &v1alpha1.Composition{Persistent: 2, Delegate: 1}))
		requireDenied(t, err, vocab.SessionPersistentAvailable)
		assert.Contains(t, err.Error(), "needs 2 Ready persistent parties but namespace mpc-system has 0")
	})

	var persistent []*corev1.Pod
	for i := range 3 {
		p := persistentParty(fmt.Sprintf("mpc-party-persistent-%d", i))
		require.NoError(t, c.asController.Create(ctx, p), "a persistent party pod made by the StatefulSet controller is admitted")
		persistent = append(persistent, p)
	}
	for _, p := range persistent[:2] {
		c.markReady(t, p)
	}

	t.Run("admits a valid session once enough persistent parties are Ready", func(t *testing.T) {
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			assert.NoError(ct, c.Create(ctx, session("sign-43", 2, 3, &v1alpha1.Composition{Persistent: 2, Delegate: 1})))
		}, 30*time.Second, 200*time.Millisecond)
	})
	t.Run("still rejects the strict default needing all 3 parties persistent while only 2 are Ready", func(t *testing.T) {
		requireDenied(t, c.Create(ctx, session("strict", 2, 3, nil)), vocab.SessionPersistentAvailable)
	})
	t.Run("rejects an update that changes a party's role", func(t *testing.T) {
		var p corev1.Pod
		require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(persistent[2]), &p))
		p.Labels["party-role"] = vocab.RoleDelegate
		requireDenied(t, c.Update(ctx, &p), vocab.PartyRoleImmutable)
	})
	t.Run("admits an update that keeps the role", func(t *testing.T) {
		var p corev1.Pod
		require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(persistent[2]), &p))
		p.Labels["team"] = "signing"
		require.NoError(t, c.Update(ctx, &p))
	})
	t.Run("rejects a dry run the same way and stores nothing", func(t *testing.T) {
		err := c.Create(ctx, pod("dry", map[string]string{"app.kubernetes.io/component": "mpc-party"}), client.DryRunAll)
		requireDenied(t, err, vocab.PartyRoleRequired)
		var p corev1.Pod
		assert.True(t, apierrors.IsNotFound(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "dry"}, &p)),
			"a dry run leaves nothing behind")
	})
}
