package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

// Quorum and share guards, through the real API server and the chart-rendered webhook configuration: the
// persistent pool (3 replicas, t=2) cannot be scaled below t, neither through its scale subresource (what
// kubectl scale and autoscalers use) nor by its spec; its share claims, the seed release's share Secret and the
// persistent StatefulSet itself cannot be deleted, unless the object carries the break-glass annotation and the
// request comes from a member of the break-glass group — then it is admitted with a warning naming the reason,
// which the webhook's decision log records. Requests are server-side dry runs where the whole admission chain
// runs all the same, so the shared release keeps its pool and its claims.

// breakGlassReason is what the on-call person writes in the annotation.
const breakGlassReason = "INC-4711: restore party 0 from backup"

// warnings collects the admission warnings a client is answered with (kubectl prints them as "Warning: ...").
type warnings struct {
	mu   sync.Mutex
	seen []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.seen
	w.seen = nil
	return out
}

// kubeWithWarnings is kube's clientset, its warnings collected.
func kubeWithWarnings(t *testing.T, env *scenario.Env, groups ...string) (kubernetes.Interface, *warnings) {
	t.Helper()
	w := &warnings{}
	cfg := rest.CopyConfig(env.Cluster.Config)
	cfg.WarningHandler = w
	if groups != nil {
		cfg.Impersonate = rest.ImpersonationConfig{UserName: onCallUser, Groups: groups}
	}
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	return cs, w
}

// grantDeletion lets the break-glass group and onCallUser delete what share-deletion guards in namespace, so
// that the webhook, not RBAC, decides.
func grantDeletion(t *testing.T, env *scenario.Env, namespace string) {
	t.Helper()
	grantOnCall(t, env, namespace, "guards-break-glass", []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"persistentvolumeclaims", "secrets"}, Verbs: []string{"get", "delete"}},
		{APIGroups: []string{"apps"}, Resources: []string{"statefulsets"}, Verbs: []string{"get", "delete"}},
	})
}

// annotateBreakGlass sets (reason) or removes ("") the break-glass annotation of an object, as kubectl annotate
// does: a merge patch of its metadata.
func annotateBreakGlass(ctx context.Context, env *scenario.Env, obj client.Object, reason string) error {
	value := `null`
	if reason != "" {
		value = `"` + reason + `"`
	}
	patch := []byte(`{"metadata": {"annotations": {"` + vocab.BreakGlassAnnotation + `": ` + value + `}}}`)
	return env.Client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch))
}

// breakGlassDelete deletes an object that share-deletion guards as a cluster administrator breaks glass:
// kubectl annotate it with the reason, then kubectl delete --as=admin --as-group=system:masters
// --as-group=mpcguard:break-glass. Tests clean up the persistent pools they created with it.
func breakGlassDelete(ctx context.Context, env *scenario.Env, obj client.Object, reason string) error {
	if err := annotateBreakGlass(ctx, env, obj, reason); err != nil {
		return fmt.Errorf("annotating %s for break glass: %w", obj.GetName(), err)
	}
	cfg := rest.CopyConfig(env.Cluster.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "admin", Groups: []string{"system:masters", vocab.DefaultBreakGlassGroup}}
	c, err := client.New(cfg, client.Options{Scheme: env.Client.Scheme()})
	if err != nil {
		return fmt.Errorf("a client breaking glass: %w", err)
	}
	if err := c.Delete(ctx, obj); err != nil {
		return fmt.Errorf("deleting %s by breaking glass: %w", obj.GetName(), err)
	}
	return nil
}

// breakGlassWarning is the warning an admitted break-glass deletion of object is answered with.
func breakGlassWarning(object string) string {
	return "[" + vocab.ShareDeletion + "] " + object + `: deleted by ` + onCallUser + ` breaking glass (` +
		vocab.DefaultBreakGlassGroup + `): "` + breakGlassReason + `"`
}

func TestThePersistentPoolCannotBeScaledBelowTNorItsSharesDeletedWithoutBreakingGlass(t *testing.T) {
	env := sharedEnv(t)
	ctx := t.Context()
	ns := env.Release.Namespace
	admin, adminWarnings := kubeWithWarnings(t, env)
	statefulSets := admin.AppsV1().StatefulSets(ns)
	scaleTo := func(n int) []byte { return []byte(`{"spec": {"replicas": ` + strconv.Itoa(n) + `}}`) }

	sts, err := statefulSets.Get(ctx, persistentPool, metav1.GetOptions{})
	require.NoError(t, err)
	require.NotNil(t, sts.Spec.Replicas)
	require.Equal(t, int32(3), *sts.Spec.Replicas, "the shared release runs 3 persistent parties, t=2")

	t.Run("the rendered StatefulSet retains its claims when it is scaled down or deleted", func(t *testing.T) {
		p := sts.Spec.PersistentVolumeClaimRetentionPolicy
		require.NotNil(t, p, "the API server kept persistentVolumeClaimRetentionPolicy")
		assert.Equal(t, appsv1.RetainPersistentVolumeClaimRetentionPolicyType, p.WhenDeleted)
		assert.Equal(t, appsv1.RetainPersistentVolumeClaimRetentionPolicyType, p.WhenScaled)
	})

	t.Run("kubectl scale below t, a PATCH of the scale subresource, is denied", func(t *testing.T) {
		_, err := statefulSets.Patch(ctx, persistentPool, types.MergePatchType, scaleTo(1), metav1.PatchOptions{DryRun: dryRun}, "scale")
		requireDeniedWith(t, err, vocab.PersistentQuorum, "StatefulSet "+ns+"/"+persistentPool+" (scale)",
			"1 replica would leave fewer than t=2 persistent parties, so the pool could not sign; keep at least 2 replicas")
	})

	t.Run("an UPDATE of the scale subresource to zero is denied", func(t *testing.T) {
		scale, err := statefulSets.GetScale(ctx, persistentPool, metav1.GetOptions{})
		require.NoError(t, err)
		scale.Spec = autoscalingv1.ScaleSpec{Replicas: 0} // sent without replicas: autoscaling/v1 omits a zero
		_, err = statefulSets.UpdateScale(ctx, persistentPool, scale, metav1.UpdateOptions{DryRun: dryRun})
		requireDeniedWith(t, err, vocab.PersistentQuorum, "StatefulSet "+ns+"/"+persistentPool+" (scale)",
			"0 replicas would leave fewer than t=2 persistent parties")
	})

	t.Run("spec.replicas below t is denied", func(t *testing.T) {
		_, err := statefulSets.Patch(ctx, persistentPool, types.MergePatchType, scaleTo(1), metav1.PatchOptions{DryRun: dryRun})
		requireDeniedWith(t, err, vocab.PersistentQuorum, "StatefulSet "+ns+"/"+persistentPool,
			"1 replica would leave fewer than t=2 persistent parties")
	})

	t.Run("scaling to t or above is admitted, by either road", func(t *testing.T) {
		for _, n := range []int{2, 3, 5} {
			_, err := statefulSets.Patch(ctx, persistentPool, types.MergePatchType, scaleTo(n), metav1.PatchOptions{DryRun: dryRun}, "scale")
			assert.NoError(t, err, "kubectl scale --replicas=%d", n)
			_, err = statefulSets.Patch(ctx, persistentPool, types.MergePatchType, scaleTo(n), metav1.PatchOptions{DryRun: dryRun})
			assert.NoError(t, err, "spec.replicas=%d", n)
		}
		assert.Empty(t, adminWarnings.take(), "an admitted scale warns of nothing")
	})

	grantDeletion(t, env, ns)
	onCall, onCallWarnings := kubeWithWarnings(t, env, vocab.DefaultBreakGlassGroup)
	claim := shareClaimOf(t, env, env.Release)
	claimObj := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: claim, Namespace: ns}}
	stsObj := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: persistentPool, Namespace: ns}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, obj := range []client.Object{claimObj, stsObj} {
			assert.NoError(t, client.IgnoreNotFound(annotateBreakGlass(ctx, env, obj, "")), "removing the annotation of %s", obj.GetName())
		}
	})
	deleteDryRun := metav1.DeleteOptions{DryRun: dryRun}

	t.Run("deleting a share claim is denied", func(t *testing.T) {
		err := admin.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, claim, deleteDryRun)
		requireDeniedWith(t, err, vocab.ShareDeletion, "PersistentVolumeClaim "+ns+"/"+claim,
			"the claim holds a persistent party's key shares; deleting it needs the annotation "+vocab.BreakGlassAnnotation)
	})

	t.Run("deleting the persistent StatefulSet is denied", func(t *testing.T) {
		err := statefulSets.Delete(ctx, persistentPool, deleteDryRun)
		requireDeniedWith(t, err, vocab.ShareDeletion, "StatefulSet "+ns+"/"+persistentPool,
			"the persistent StatefulSet runs the parties that hold the key shares")
	})

	t.Run("a break-glass member still cannot delete a share claim that is not annotated", func(t *testing.T) {
		err := pastRBAC(t, func() error { return onCall.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, claim, deleteDryRun) })
		requireDeniedBy(t, err, vocab.ShareDeletion)
	})

	require.NoError(t, annotateBreakGlass(ctx, env, claimObj, breakGlassReason), "kubectl annotate pvc")
	require.NoError(t, annotateBreakGlass(ctx, env, stsObj, breakGlassReason), "kubectl annotate statefulset")

	t.Run("the annotation alone does not let anyone outside the break-glass group delete", func(t *testing.T) {
		err := admin.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, claim, deleteDryRun)
		requireDeniedBy(t, err, vocab.ShareDeletion)
		err = statefulSets.Delete(ctx, persistentPool, deleteDryRun)
		requireDeniedBy(t, err, vocab.ShareDeletion)
	})

	t.Run("an annotated share claim deleted by a break-glass member is admitted with a warning naming the reason", func(t *testing.T) {
		onCallWarnings.take()
		err := pastRBAC(t, func() error { return onCall.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, claim, deleteDryRun) })
		require.NoError(t, err)
		assert.Contains(t, onCallWarnings.take(), breakGlassWarning("PersistentVolumeClaim "+ns+"/"+claim))
	})

	t.Run("the annotated persistent StatefulSet deleted by a break-glass member is admitted with a warning", func(t *testing.T) {
		onCallWarnings.take()
		err := pastRBAC(t, func() error { return onCall.AppsV1().StatefulSets(ns).Delete(ctx, persistentPool, deleteDryRun) })
		require.NoError(t, err)
		assert.Contains(t, onCallWarnings.take(), breakGlassWarning("StatefulSet "+ns+"/"+persistentPool))
	})

	t.Run("the webhook's decision log records the break-glass deletions", func(t *testing.T) {
		require.NotNil(t, env.Release.Webhook, "the shared release's webhook is a local process")
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			logs := env.Release.Webhook.Logs(200)
			assert.Contains(c, logs, "breaking glass")
			assert.Contains(c, logs, "INC-4711")
		}, 10*time.Second, 200*time.Millisecond)
	})

	t.Run("the claims and the StatefulSet are all still there: every deletion was a dry run", func(t *testing.T) {
		_, err := admin.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim, metav1.GetOptions{})
		assert.NoError(t, err)
		_, err = statefulSets.Get(ctx, persistentPool, metav1.GetOptions{})
		assert.NoError(t, err)
	})
}

func TestTheShareSecretIsDeletedOnlyByBreakingGlass(t *testing.T) {
	env := sharedEnv(t)
	ctx := t.Context()
	seed := seedRelease(t, env)
	ns := seed.Namespace
	name := shareSecretOf(t, env, seed)
	admin, _ := kubeWithWarnings(t, env)
	secrets := admin.CoreV1().Secrets(ns)

	// The seed preset reads its database URL from this Secret, which the operator creates: create it unless an
	// earlier test did, and delete it at the end only when created here (by breaking glass, the one way).
	created := false
	_, err := secrets.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			StringData: map[string]string{"url": "postgres://shares.example.com/mpc"}}, metav1.CreateOptions{})
		created = err == nil
	}
	require.NoError(t, err, "the share Secret %s/%s", ns, name)
	grantDeletion(t, env, ns)
	onCall, onCallWarnings := kubeWithWarnings(t, env, vocab.DefaultBreakGlassGroup)
	obj := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	t.Cleanup(func() {
		if !created {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			assert.NoError(t, client.IgnoreNotFound(annotateBreakGlass(ctx, env, obj, "")))
		}
	})

	t.Run("deleting the share Secret is denied", func(t *testing.T) {
		err := secrets.Delete(ctx, name, metav1.DeleteOptions{DryRun: dryRun})
		requireDeniedWith(t, err, vocab.ShareDeletion, "Secret "+ns+"/"+name,
			"the Secret holds the persistent pool's key shares; deleting it needs the annotation "+vocab.BreakGlassAnnotation)
	})

	t.Run("deleting another Secret of the namespace is admitted", func(t *testing.T) {
		other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "guards-unrelated", Namespace: ns}}
		require.NoError(t, env.Client.Create(ctx, other))
		require.NoError(t, env.Client.Delete(ctx, other))
	})

	require.NoError(t, annotateBreakGlass(ctx, env, obj, breakGlassReason), "kubectl annotate secret")

	t.Run("the annotated share Secret deleted by a break-glass member is admitted with a warning", func(t *testing.T) {
		opts := metav1.DeleteOptions{DryRun: dryRun}
		if created {
			opts = metav1.DeleteOptions{} // it was created here: delete it for real, the one way there is
		}
		err := pastRBAC(t, func() error { return onCall.CoreV1().Secrets(ns).Delete(ctx, name, opts) })
		require.NoError(t, err)
		warned := onCallWarnings.take()
		assert.Contains(t, warned, breakGlassWarning("Secret "+ns+"/"+name))
		t.Logf("kubectl delete secret %s --as=%s --as-group=%s: Warning: %s", name, onCallUser, vocab.DefaultBreakGlassGroup,
			strings.Join(warned, "; "))
	})
}
