package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/test/cluster"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

// The roads around the webhook: every way the API server offers to change a party pod's labels, containers or
// volumes, to reach into it, or to copy its share storage, taken as kubectl takes it — through the real API
// server, routed by the chart-rendered ValidatingWebhookConfiguration to the local webhook — each with its
// denial (policy id and message) and the legitimate road beside it, admitted. Where the whole admission chain
// runs all the same, requests are server-side dry runs: nothing is stored, the shared release stays as it was.
//
// Three releases serve them: the shared one (mpc-system: shares in the persistent pool's volume claims), the
// seed preset (mpc-spoof: shares in a database whose URL is in the Secret mpc-secrets), and the mpcguard chart
// alone in roadsNamespace, a namespace without Pod Security enforcement (so that a hostPath volume reaches
// admission at all) where a legacy pod and a session were created before the webhook checked it.

// onCallUser is the person who breaks glass: kubectl --as=onCallUser --as-group=mpcguard:break-glass.
const onCallUser = "oncall@example.com"

// debugImage is what kubectl debug --image would add.
const debugImage = "docker.io/library/busybox:1.37.0"

// dryRun makes a typed client request a server-side dry run.
var dryRun = []string{metav1.DryRunAll}

// kube is a typed clientset as the cluster's administrator or, given groups, as onCallUser in those groups
// (impersonation, which the administrator may do: kubectl --as --as-group).
func kube(t *testing.T, env *scenario.Env, groups ...string) kubernetes.Interface {
	t.Helper()
	cfg := rest.CopyConfig(env.Cluster.Config)
	if groups != nil {
		cfg.Impersonate = rest.ImpersonationConfig{UserName: onCallUser, Groups: groups}
	}
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	return cs
}

// grantBreakGlass is the RBAC half of break glass in namespace: the break-glass group, and onCallUser outside
// it, may read pods, add debug containers, exec, attach, port-forward and create claims. Whether a request
// reaches a persistent party's key shares is then the webhook's to decide, by group.
func grantBreakGlass(t *testing.T, env *scenario.Env, namespace string) {
	t.Helper()
	grantOnCall(t, env, namespace, "roads-break-glass", []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{""}, Resources: []string{"pods/ephemeralcontainers"}, Verbs: []string{"get", "patch", "update"}},
		{APIGroups: []string{""}, Resources: []string{"pods/exec", "pods/attach", "pods/portforward"}, Verbs: []string{"get", "create"}},
		{APIGroups: []string{""}, Resources: []string{"persistentvolumeclaims"}, Verbs: []string{"create"}},
	})
}

// grantOnCall binds a Role name with rules in namespace to the break-glass group and to onCallUser (outside
// the group), until the test ends, so that the webhook, not RBAC, decides their requests.
func grantOnCall(t *testing.T, env *scenario.Env, namespace, name string, rules []rbacv1.PolicyRule) {
	t.Helper()
	ctx := t.Context()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}, Rules: rules}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{
			{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: vocab.DefaultBreakGlassGroup},
			{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: onCallUser},
		}}
	for _, obj := range []client.Object{role, binding} {
		if err := env.Client.Create(ctx, obj); !apierrors.IsAlreadyExists(err) {
			require.NoError(t, err, "%T %s", obj, obj.GetName())
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, obj := range []client.Object{binding, role} {
			assert.NoError(t, client.IgnoreNotFound(env.Client.Delete(ctx, obj)))
		}
	})
}

// pastRBAC retries do while RBAC (which the API server's authorizer learns of asynchronously) still refuses
// onCallUser, and returns do's last error: the one admission gave.
func pastRBAC(t *testing.T, do func() error) error {
	t.Helper()
	var err error
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		err = do()
		if err == nil || !strings.Contains(err.Error(), `User "`+onCallUser+`" cannot`) || time.Now().After(deadline) {
			return err
		}
	}
}

// requireDeniedWith checks that err is mpcguard's denial by policyID of object ("Pod ns/name", "Pod ns/name
// (status)") and that the policy's line carries detail.
func requireDeniedWith(t *testing.T, err error, policyID, object, detail string) {
	t.Helper()
	requireDeniedBy(t, err, policyID)
	if err != nil {
		assert.Contains(t, err.Error(), "["+policyID+"] "+object+": "+detail)
	}
}

// requireNotDeniedByAdmission checks that err, if any, is not an admission webhook's denial: the request went
// past admission (and may fail later, e.g. at a KWOK kubelet that runs no container).
func requireNotDeniedByAdmission(t *testing.T, err error, output string) {
	t.Helper()
	if err == nil {
		return
	}
	assert.NotContains(t, err.Error()+output, "admission webhook", "the request passed admission")
	assert.NotContains(t, err.Error()+output, "denied the request")
}

// seedRelease is the seed preset's release in spoofNamespace, installed by the first test that needs it and
// kept until the shared environment goes down (which stops its webhook).
func seedRelease(t *testing.T, env *scenario.Env) *scenario.Release {
	t.Helper()
	seedOnce.Lock()
	defer seedOnce.Unlock()
	if seedOnce.rel == nil && seedOnce.err == nil {
		seedOnce.rel, seedOnce.err = deploySeedRelease(env)
	}
	require.NoError(t, seedOnce.err, "helm install seed charts/mpc-system -f ci/seed-values.yaml")
	return seedOnce.rel
}

var seedOnce struct {
	sync.Mutex
	rel *scenario.Release
	err error
}

// The legacy objects of roadsNamespace: created before the webhook checked the namespace.
const (
	roadsNamespace = "mpc-roads"
	// legacyPod is a party pod with a role that is not valid (a capital P), as pods from before mpcguard have.
	legacyPod  = "legacy-party"
	legacyRole = "Persistent"
	// leftSession is a session with a finalizer of its own; the namespace has no persistent party.
	leftSession      = "left-behind"
	sessionFinalizer = "example.com/archive"
)

var roadsOnce struct {
	sync.Mutex
	rel *scenario.Release
	err error
}

// roadsRelease is the mpcguard chart alone in roadsNamespace (no Pod Security enforcement, no party pool),
// installed by the first test that needs it after legacyPod and leftSession were created there: until then no
// webhook checked the namespace. Kept until the shared environment goes down.
func roadsRelease(t *testing.T, env *scenario.Env) *scenario.Release {
	t.Helper()
	roadsOnce.Lock()
	defer roadsOnce.Unlock()
	if roadsOnce.rel == nil && roadsOnce.err == nil {
		roadsOnce.rel, roadsOnce.err = deployRoadsRelease(env)
	}
	require.NoError(t, roadsOnce.err, "helm install roads charts/mpcguard in %s, after its legacy objects", roadsNamespace)
	return roadsOnce.rel
}

func deployRoadsRelease(env *scenario.Env) (*scenario.Release, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: roadsNamespace}}); err != nil {
		return nil, err
	}
	pod := partyPod(roadsNamespace, legacyPod, legacyRole)
	if err := env.Client.Create(ctx, pod); err != nil {
		return nil, fmt.Errorf("the legacy pod, before the webhook checks %s: %w", roadsNamespace, err)
	}
	session := env.Session(leftSession, 2, 3, nil)
	session.Namespace, session.Finalizers = roadsNamespace, []string{sessionFinalizer}
	if err := env.Client.Create(ctx, session); err != nil {
		return nil, fmt.Errorf("the left-behind session, before the webhook checks %s: %w", roadsNamespace, err)
	}
	rel, err := env.Deploy(ctx, scenario.ReleaseOptions{Chart: filepath.Join(env.Charts, "mpcguard"), Name: "roads",
		Namespace: roadsNamespace})
	if err != nil {
		return nil, err
	}
	// The API server reloads webhook configurations asynchronously: wait until it sends this namespace's pods.
	probe := env.UnlabelledParty("routed-yet")
	probe.Namespace = roadsNamespace
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		err := env.Client.Create(ctx, probe.DeepCopy(), client.DryRunAll)
		if err != nil && strings.Contains(err.Error(), "["+vocab.PartyRoleRequired+"]") {
			return rel, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				return rel, fmt.Errorf("the API server does not send %s's pods to the webhook within 30s: the probe was admitted", roadsNamespace)
			}
			return rel, fmt.Errorf("the API server does not send %s's pods to the webhook within 30s: %w", roadsNamespace, err)
		}
	}
}

// deleteNow deletes obj at cleanup without a grace period.
func deleteNow(t *testing.T, env *scenario.Env, obj client.Object) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		assert.NoError(t, client.IgnoreNotFound(env.Client.Delete(ctx, obj, client.GracePeriodSeconds(0))))
	})
}

// createPod creates pod for real, to be deleted at cleanup.
func createPod(t *testing.T, env *scenario.Env, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	require.NoError(t, env.Client.Create(t.Context(), pod), "creating pod %s/%s", pod.Namespace, pod.Name)
	deleteNow(t, env, pod)
	return pod
}

// partyOf is the first party pod of the release with the role.
func partyOf(t *testing.T, rel *scenario.Release, role string) string {
	t.Helper()
	parties, err := rel.Parties(t.Context(), role)
	require.NoError(t, err)
	require.NotEmpty(t, parties, "the release %s has %s parties", rel.Name, role)
	return parties[0].Pod
}

// debugContainer is what kubectl debug --profile=restricted --image=busybox adds to a pod.
func debugContainer(name string) corev1.EphemeralContainer {
	return corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: name, Image: debugImage, Stdin: true, TTY: true,
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot: ptr.To(true), AllowPrivilegeEscalation: ptr.To(false),
			Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}}
}

// addDebugContainer does what kubectl debug does: a strategic merge patch of the pod's ephemeralcontainers
// subresource that adds c (as a dry run).
func addDebugContainer(ctx context.Context, cs kubernetes.Interface, namespace, pod string, c corev1.EphemeralContainer) error {
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"ephemeralContainers": []corev1.EphemeralContainer{c}}})
	if err != nil {
		return err
	}
	_, err = cs.CoreV1().Pods(namespace).Patch(ctx, pod, types.StrategicMergePatchType, patch,
		metav1.PatchOptions{DryRun: dryRun}, "ephemeralcontainers")
	return err
}

// Road 1: kubectl debug adds an ephemeral container through pods/ephemeralcontainers, a write the pod's own
// UPDATE never shows. A debug container that reads the share Secret gives a delegate the persistent pool's
// key shares.
func TestADebugContainerReadingTheShareSecretOnADelegateIsDenied(t *testing.T) {
	env := sharedEnv(t)
	seed := seedRelease(t, env)
	ctx := t.Context()
	secret := shareSecretOf(t, env, seed)
	delegate := partyOf(t, seed, vocab.RoleDelegate)

	for name, read := range map[string]func(*corev1.EphemeralContainer){
		"through env secretKeyRef": func(c *corev1.EphemeralContainer) {
			c.Env = []corev1.EnvVar{{Name: "DATABASE_URL", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: "database-url"}}}}
		},
		"through envFrom secretRef": func(c *corev1.EphemeralContainer) {
			c.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: secret}}}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := debugContainer("debugger")
			read(&c)
			err := addDebugContainer(ctx, kube(t, env), seed.Namespace, delegate, c)
			requireDeniedWith(t, err, vocab.DelegateNoShareStorage, "Pod "+seed.Namespace+"/"+delegate+" (ephemeralcontainers)",
				"delegate party uses the persistent pool's share storage (Secret "+secret+")")
			t.Log(err)
		})
	}
}

func TestADebugContainerWithoutShareAccessOnADelegateIsAllowed(t *testing.T) {
	env := sharedEnv(t)
	seed := seedRelease(t, env)
	delegate := partyOf(t, seed, vocab.RoleDelegate)
	require.NoError(t, addDebugContainer(t.Context(), kube(t, env), seed.Namespace, delegate, debugContainer("debugger")),
		"kubectl debug %s --image=%s --profile=restricted on a delegate", delegate, debugImage)
}

func TestADebugContainerOnAPersistentPartyIsDeniedUnlessItsUserBreaksGlass(t *testing.T) {
	env := sharedEnv(t)
	ctx := t.Context()
	persistent := persistentPool + "-0"
	object := "Pod " + env.Namespace + "/" + persistent + " (ephemeralcontainers)"
	detail := "a debug container in a persistent party reaches its key shares; only members of " + vocab.DefaultBreakGlassGroup + " may add one"
	grantBreakGlass(t, env, env.Namespace)

	t.Run("the cluster administrator is denied", func(t *testing.T) {
		err := addDebugContainer(ctx, kube(t, env), env.Namespace, persistent, debugContainer("debugger"))
		requireDeniedWith(t, err, vocab.PartyAccess, object, detail)
		t.Log(err)
	})
	t.Run("kubectl debug itself is denied", func(t *testing.T) {
		out, err := kubectl(t, env, "--namespace", env.Namespace, "debug", persistent, "--image", debugImage,
			"--profile", "restricted", "--container", "debugger")
		require.Error(t, err)
		assert.Contains(t, out, `admission webhook "pods.mpcguard.io" denied the request: [`+vocab.PartyAccess+"] "+object+": "+detail)
	})
	t.Run("a user whom RBAC allows but who is not in the break-glass group is denied", func(t *testing.T) {
		cs := kube(t, env, "system:authenticated")
		err := pastRBAC(t, func() error { return addDebugContainer(ctx, cs, env.Namespace, persistent, debugContainer("debugger")) })
		requireDeniedWith(t, err, vocab.PartyAccess, object, detail)
	})
	t.Run("kubectl debug --as-group=mpcguard:break-glass is allowed", func(t *testing.T) {
		cs := kube(t, env, vocab.DefaultBreakGlassGroup, "system:authenticated")
		err := pastRBAC(t, func() error { return addDebugContainer(ctx, cs, env.Namespace, persistent, debugContainer("debugger")) })
		require.NoError(t, err)
	})
}

// kubectl debug --copy-to copies a pod, volumes and all, into a new pod the user creates: a copy of a
// persistent party holds its share claim. Without its labels (kubectl's default) it is no party; with them it
// is a persistent party that no StatefulSet created.
func TestKubectlDebugCopyToOfAPersistentPartyIsDenied(t *testing.T) {
	env := sharedEnv(t)
	persistent := persistentPool + "-0"
	claim := shareClaimOf(t, env, env.Release)
	debug := func(t *testing.T, extra ...string) string {
		copyPod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: env.Namespace, Name: "roads-copy"}}
		deleteNow(t, env, copyPod) // in case it were admitted
		out, err := kubectl(t, env, append([]string{"--namespace", env.Namespace, "debug", persistent, "--copy-to", copyPod.Name,
			"--image", debugImage, "--profile", "restricted", "--container", "debugger"}, extra...)...)
		require.Error(t, err, "kubectl debug --copy-to is refused")
		return out
	}
	t.Run("the copy without its labels is no party and may not hold the share claim", func(t *testing.T) {
		out := debug(t)
		assert.Contains(t, out, "["+vocab.ShareStoragePersistentOnly+"] Pod "+env.Namespace+"/roads-copy: pod is not a party pod "+
			"(app.kubernetes.io/component=mpc-party) but uses the persistent pool's share storage (PersistentVolumeClaim "+claim+")")
	})
	t.Run("the copy with its labels is a persistent party that a user created", func(t *testing.T) {
		out := debug(t, "--keep-labels")
		assert.Contains(t, out, "["+vocab.PartyPersistentOrigin+"] Pod "+env.Namespace+"/roads-copy: "+
			"a persistent party pod may only be created by the StatefulSet controller")
	})
}

// A pod that carries the persistent role is a persistent party to party-access whether or not it still matches
// the party selector: leaving the party (allowed where no share storage is configured, as in roadsNamespace) is
// no way around break glass.
func TestAPersistentPartyThatLeftThePartySelectorIsStillRefusedDebugContainersAndExec(t *testing.T) {
	env := sharedEnv(t)
	rel := roadsRelease(t, env)
	ctx := t.Context()
	const name = "roads-pool"
	labels := map[string]string{scenario.ComponentLabel: scenario.PartyComponent, scenario.RoleLabel: vocab.RolePersistent,
		"app.kubernetes.io/name": name}
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: rel.Namespace},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To(int32(1)), ServiceName: name,
			Selector: selector(map[string]string{"app.kubernetes.io/name": name}),
			Template: template(labels, scenario.RestrictedPodSpec("ghcr.io/mpcguard/mpc-server-party:0.1.0"))}}
	require.NoError(t, env.Client.Create(ctx, sts), "a persistent pool (the mpcguard chart alone lets any StatefulSet run one)")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// A persistent pool: deleting it is share-deletion's break glass.
		assert.NoError(t, client.IgnoreNotFound(breakGlassDelete(ctx, env, sts, "test cleanup")))
		assert.NoError(t, client.IgnoreNotFound(env.Client.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
			Name: name + "-0", Namespace: rel.Namespace}}, client.GracePeriodSeconds(0))))
	})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: rel.Namespace, Name: name + "-0"}}
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		var got corev1.Pod
		require.NoError(ct, env.Client.Get(ctx, client.ObjectKeyFromObject(pod), &got))
		assert.True(ct, scenario.PodReady(&got), "Ready")
	}, time.Minute, 250*time.Millisecond)

	require.NoError(t, env.Client.Patch(ctx, pod.DeepCopy(), client.RawPatch(types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"app.kubernetes.io/component":null}}}`))), "the party label removed, the role kept")
	t.Run("a debug container", func(t *testing.T) {
		err := addDebugContainer(ctx, kube(t, env), rel.Namespace, pod.Name, debugContainer("debugger"))
		requireDeniedWith(t, err, vocab.PartyAccess, "Pod "+rel.Namespace+"/"+pod.Name+" (ephemeralcontainers)",
			"a debug container in a persistent party reaches its key shares")
	})
	t.Run("kubectl exec", func(t *testing.T) {
		out, err := kubectl(t, env, "--namespace", rel.Namespace, "exec", pod.Name, "--", "true")
		require.Error(t, err)
		assert.Contains(t, out, "["+vocab.PartyAccess+"] Pod "+rel.Namespace+"/"+pod.Name+" (exec): exec into a persistent party reaches its key shares")
	})
}

// Road 2: kubectl patch --subresource=status. The status subresource keeps the pod's spec but takes its
// labels: a role change there is a role change.
func TestChangingThePartyRoleThroughThePodStatusSubresourceIsDenied(t *testing.T) {
	env := sharedEnv(t)
	ctx := t.Context()
	pod := createPod(t, env, partyPod(env.Namespace, "roads-status", vocab.RoleDelegate))
	pods := kube(t, env).CoreV1().Pods(env.Namespace)
	statusPatch := func(patch string) error {
		_, err := pods.Patch(ctx, pod.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}, "status")
		return err
	}
	object := "Pod " + env.Namespace + "/" + pod.Name + " (status)"

	t.Run("relabelling the delegate persistent is denied", func(t *testing.T) {
		err := statusPatch(`{"metadata":{"labels":{"party-role":"persistent"}}}`)
		requireDeniedWith(t, err, vocab.PartyRoleImmutable, object, `party-role cannot change from "delegate" to "persistent"`)
		t.Log(err)
	})
	t.Run("removing its role is denied", func(t *testing.T) {
		err := statusPatch(`{"metadata":{"labels":{"party-role":null}}}`)
		requireDeniedWith(t, err, vocab.PartyRoleImmutable, object, `party-role "delegate" cannot be removed`)
	})
	t.Run("a status patch that changes no label is allowed", func(t *testing.T) {
		_, err := pods.Patch(ctx, pod.Name, types.MergePatchType,
			[]byte(`{"status":{"conditions":[{"type":"example.com/Inspected","status":"True"}]}}`),
			metav1.PatchOptions{DryRun: dryRun}, "status")
		require.NoError(t, err)
	})
	t.Run("a status patch that changes a label other than the party's is reviewed and allowed", func(t *testing.T) {
		_, err := pods.Patch(ctx, pod.Name, types.MergePatchType, []byte(`{"metadata":{"labels":{"example.com/team":"ops"}}}`),
			metav1.PatchOptions{DryRun: dryRun}, "status")
		require.NoError(t, err)
	})

	var got corev1.Pod
	require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(pod), &got))
	assert.Equal(t, vocab.RoleDelegate, got.Labels[scenario.RoleLabel], "the stored pod is still a delegate")
}

// Road 3: a Binding's labels are copied onto the pod it binds (PodTopologyLabelsAdmission), a label write no
// pod UPDATE shows. The scheduler's Bindings carry no party labels and still bind every pod.
func TestABindingThatSetsPartyLabelsIsDeniedWhileTheSchedulerStillBindsPods(t *testing.T) {
	env := sharedEnv(t)
	ctx := t.Context()
	pending := partyPod(env.Namespace, "roads-binding", vocab.RoleDelegate)
	pending.Spec.SchedulerName = "roads-manual" // no scheduler of that name: the pod waits for a Binding
	createPod(t, env, pending)
	pods := kube(t, env).CoreV1().Pods(env.Namespace)
	node := env.Cluster.Nodes[0]
	bind := func(labels map[string]string, opts metav1.CreateOptions) error {
		return pods.Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: pending.Name, Namespace: env.Namespace, Labels: labels},
			Target:     corev1.ObjectReference{Kind: "Node", Name: node},
		}, opts)
	}
	object := "Pod " + env.Namespace + "/" + pending.Name + " (binding)"

	for name, tc := range map[string]struct {
		labels map[string]string
		keys   string
	}{
		"a Binding that sets the role":                 {map[string]string{scenario.RoleLabel: vocab.RolePersistent}, scenario.RoleLabel},
		"a Binding that sets the party selector label": {map[string]string{scenario.ComponentLabel: scenario.PartyComponent}, scenario.ComponentLabel},
	} {
		t.Run(name+" is denied", func(t *testing.T) {
			err := bind(tc.labels, metav1.CreateOptions{})
			requireDeniedWith(t, err, vocab.PartyBindingLabels, object, "a Binding would set the pod's "+tc.keys+" label(s)")
			t.Log(err)
		})
	}
	t.Run("a Binding without party labels binds the pod", func(t *testing.T) {
		require.NoError(t, bind(map[string]string{"example.com/rack": "r1"}, metav1.CreateOptions{}))
		var got corev1.Pod
		require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(pending), &got))
		assert.Equal(t, node, got.Spec.NodeName)
		assert.Equal(t, vocab.RoleDelegate, got.Labels[scenario.RoleLabel], "still a delegate")
	})
	t.Run("the scheduler binds party pods", func(t *testing.T) {
		pod := createPod(t, env, partyPod(env.Namespace, "roads-scheduled", vocab.RoleDelegate))
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			var got corev1.Pod
			require.NoError(ct, env.Client.Get(ctx, client.ObjectKeyFromObject(pod), &got))
			assert.NotEmpty(ct, got.Spec.NodeName, "scheduled")
			assert.True(ct, scenario.PodReady(&got), "Ready")
		}, time.Minute, 250*time.Millisecond)
		parties, err := env.Parties(ctx, "")
		require.NoError(t, err)
		for _, p := range parties {
			assert.NotEmpty(t, p.Node, "party %s is bound to a node", p.Pod)
			assert.True(t, p.Ready, "party %s is Ready", p.Pod)
		}
	})
}

// kubectl runs the kubectl of the tool cache against the shared cluster, bounded in time, and returns its
// combined output.
func kubectl(t *testing.T, env *scenario.Env, args ...string) (string, error) {
	t.Helper()
	require.NoError(t, cluster.CheckTools(cluster.BinDir(), "kubectl"))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	args = append([]string{"--kubeconfig", env.Cluster.Kubeconfig}, args...)
	out, err := exec.CommandContext(ctx, filepath.Join(cluster.BinDir(), "kubectl"), args...).CombinedOutput()
	var shown []string
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if !strings.Contains(line, "Feature gate default state") && !strings.Contains(line, "Config loaded from file") {
			shown = append(shown, line)
		}
	}
	t.Logf("kubectl %s: %v\n%s", strings.Join(args[2:], " "), err, strings.Join(shown, "\n"))
	return string(out), err
}

// Road 4: CONNECT. kubectl exec, attach and port-forward reach everything a pod holds. The request names the
// pod but carries no labels; the webhook's inventory knows its role. KWOK runs no container, so a request that
// passes admission fails later at the fake kubelet: what matters is where it fails.
func TestExecAttachAndPortForwardIntoAPersistentPartyAreDeniedByAdmission(t *testing.T) {
	env := sharedEnv(t)
	persistent := persistentPool + "-0"
	for _, tc := range []struct {
		subresource string
		args        []string
	}{
		{"exec", []string{"exec", persistent, "--", "cat", "/var/lib/mpc/shares/key"}},
		{"attach", []string{"attach", persistent}},
		{"portforward", []string{"port-forward", "pod/" + persistent, ":50051"}},
	} {
		t.Run("kubectl "+tc.args[0], func(t *testing.T) {
			// --v=6 logs each response: kubectl tries WebSockets first, then falls back to SPDY.
			out, err := kubectl(t, env, append([]string{"--namespace", env.Namespace, "--v=6"}, tc.args...)...)
			require.Error(t, err)
			denial := "[" + vocab.PartyAccess + "] Pod " + env.Namespace + "/" + persistent + " (" + tc.subresource + "): " +
				tc.subresource + " into a persistent party reaches its key shares; only members of " + vocab.DefaultBreakGlassGroup + " may"
			assert.Contains(t, out, `unable to upgrade connection: admission webhook "pods.mpcguard.io" denied the request: `+denial,
				"kubectl's error is the admission denial")
			assert.GreaterOrEqual(t, strings.Count(out, denial), 2, "the WebSocket attempt is denied as well as the SPDY one")
			spdy := false
			for line := range strings.SplitSeq(out, "\n") {
				spdy = spdy || strings.Contains(line, `verb="POST"`) && strings.Contains(line, "/pods/"+persistent+"/"+tc.subresource) &&
					strings.Contains(line, `status="403 Forbidden"`)
			}
			assert.True(t, spdy, "the API server answers the upgrade request with 403 Forbidden, before any kubelet is reached")
		})
	}
}

// pods/proxy names its pod as the API server's pod proxy reads it: "name", "name:port" or "scheme:name:port"
// (ResourceLocation); the admission request carries that form as its name. Every form reaches the same pod.
func TestProxyIntoAPersistentPartyIsDeniedByAdmissionWhateverTheFormOfItsName(t *testing.T) {
	env := sharedEnv(t)
	persistent := persistentPool + "-0"
	for _, name := range []string{persistent, persistent + ":8080", "http:" + persistent + ":8080", "https:" + persistent + ":50051"} {
		t.Run("kubectl get --raw .../pods/"+name+"/proxy/", func(t *testing.T) {
			out, err := kubectl(t, env, "get", "--raw", "/api/v1/namespaces/"+env.Namespace+"/pods/"+name+"/proxy/health")
			require.Error(t, err)
			assert.Contains(t, out, `Error from server (Forbidden): admission webhook "pods.mpcguard.io" denied the request: [`+
				vocab.PartyAccess+"] Pod "+env.Namespace+"/", "denied by admission, not by the pod's network")
			assert.Contains(t, out, "(proxy): proxy into a persistent party reaches its key shares")
		})
	}
}

func TestExecIntoADelegateOrWithBreakGlassPassesAdmission(t *testing.T) {
	env := sharedEnv(t)
	grantBreakGlass(t, env, env.Namespace)
	t.Run("kubectl exec into a delegate", func(t *testing.T) {
		delegate := partyOf(t, env.Release, vocab.RoleDelegate)
		out, err := kubectl(t, env, "--namespace", env.Namespace, "exec", delegate, "--", "true")
		requireNotDeniedByAdmission(t, err, out)
		assert.Contains(t, out, "error executing command in container", "it fails at the (fake) kubelet")
	})
	t.Run("kubectl exec --as-group=mpcguard:break-glass into a persistent party", func(t *testing.T) {
		var out string
		err := pastRBAC(t, func() error {
			var err error
			out, err = kubectl(t, env, "--namespace", env.Namespace, "--as", onCallUser, "--as-group", vocab.DefaultBreakGlassGroup,
				"exec", persistentPool+"-0", "--", "true")
			if err != nil {
				err = fmt.Errorf("%w: %s", err, out)
			}
			return err
		})
		requireNotDeniedByAdmission(t, err, out)
		assert.Contains(t, out, "error executing command in container", "it fails at the (fake) kubelet")
	})
}

// Road 5: share storage by another name — a clone or a snapshot of a share claim, an ephemeral volume filled
// from one, a hostPath, a CSI driver's secret reference, a pod that is no party at all.
func TestAClaimCloningAShareClaimIsDenied(t *testing.T) {
	env := sharedEnv(t)
	ctx := t.Context()
	share := shareClaimOf(t, env, env.Release)
	claim := func(name string, source *corev1.TypedLocalObjectReference, ref *corev1.TypedObjectReference) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: env.Namespace},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:  corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				DataSource: source, DataSourceRef: ref}}
	}
	detail := "claim clones the persistent pool's share storage (PersistentVolumeClaim " + share + ")"

	t.Run("through dataSource", func(t *testing.T) {
		err := env.Client.Create(ctx, claim("roads-clone", &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: share}, nil), client.DryRunAll)
		requireDeniedWith(t, err, vocab.ShareStorageCopy, "PersistentVolumeClaim "+env.Namespace+"/roads-clone", detail)
		t.Log(err)
	})
	t.Run("through dataSourceRef", func(t *testing.T) {
		err := env.Client.Create(ctx, claim("roads-clone", nil, &corev1.TypedObjectReference{Kind: "PersistentVolumeClaim", Name: share}), client.DryRunAll)
		requireDeniedWith(t, err, vocab.ShareStorageCopy, "PersistentVolumeClaim "+env.Namespace+"/roads-clone", detail)
	})
	t.Run("a clone of a claim that only starts like a share claim is allowed", func(t *testing.T) {
		other := "shares-" + persistentPool + "-delegate-0"
		err := env.Client.Create(ctx, claim("roads-clone", &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: other}, nil), client.DryRunAll)
		require.NoError(t, err)
	})
	t.Run("a clone by a member of the break-glass group (a backup) is allowed", func(t *testing.T) {
		grantBreakGlass(t, env, env.Namespace)
		cs := kube(t, env, vocab.DefaultBreakGlassGroup, "system:authenticated")
		err := pastRBAC(t, func() error {
			_, err := cs.CoreV1().PersistentVolumeClaims(env.Namespace).Create(ctx,
				claim("roads-backup", &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: share}, nil),
				metav1.CreateOptions{DryRun: dryRun})
			return err
		})
		require.NoError(t, err)
	})
}

func TestAVolumeSnapshotOfAShareClaimIsDenied(t *testing.T) {
	env := sharedEnv(t)
	ctx := t.Context()
	c := applyClient(t, env)
	crd := cluster.VolumeSnapshotCRD()
	switch err := c.Get(ctx, client.ObjectKeyFromObject(crd), &apiextensionsv1.CustomResourceDefinition{}); {
	case apierrors.IsNotFound(err):
		require.NoError(t, c.Create(ctx, crd), "installing a minimal VolumeSnapshot CRD")
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			assert.NoError(t, client.IgnoreNotFound(c.Delete(ctx, crd)))
		})
	default:
		require.NoError(t, err)
		t.Log("the cluster already serves VolumeSnapshots")
	}
	share := shareClaimOf(t, env, env.Release)
	snapshot := func(claim string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
			"metadata": map[string]any{"name": "roads-snapshot", "namespace": env.Namespace},
			"spec":     map[string]any{"source": map[string]any{"persistentVolumeClaimName": claim}},
		}}
		return u
	}
	var err error
	require.Eventually(t, func() bool { // until the API server serves the new resource
		err = c.Create(ctx, snapshot(share), client.DryRunAll)
		return err != nil && !apierrors.IsNotFound(err) && !strings.Contains(err.Error(), "no matches for kind")
	}, 30*time.Second, 250*time.Millisecond, "a VolumeSnapshot reaches admission: %v", err)
	requireDeniedWith(t, err, vocab.ShareStorageCopy, "VolumeSnapshot "+env.Namespace+"/roads-snapshot",
		"snapshot copies the share claim "+share)
	t.Log(err)

	t.Run("a snapshot of another claim is allowed", func(t *testing.T) {
		require.NoError(t, c.Create(ctx, snapshot("shares-"+persistentPool+"-delegate-0"), client.DryRunAll))
	})
}

// ephemeralClone is a generic ephemeral volume whose claim is filled from the claim source.
func ephemeralClone(source string) corev1.Volume {
	spec := corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}
	if source != "" {
		spec.DataSource = &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: source}
	}
	return corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
		VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: spec}}}}
}

func TestAPodWithAnEphemeralVolumeCloningAShareClaimIsDenied(t *testing.T) {
	env := sharedEnv(t)
	ctx := t.Context()
	share := shareClaimOf(t, env, env.Release)
	detail := "an ephemeral volume clones the persistent pool's share storage (PersistentVolumeClaim " + share + ")"

	for name, labels := range map[string]map[string]string{
		"a delegate party":               {scenario.ComponentLabel: scenario.PartyComponent, scenario.RoleLabel: vocab.RoleDelegate},
		"a pod that is not a party":      {"app.kubernetes.io/name": "roads-tool"},
		"a pod carrying no label at all": nil,
	} {
		t.Run(name+" is denied", func(t *testing.T) {
			pod := partyPod(env.Namespace, "roads-ephemeral", "")
			pod.Labels = labels
			pod.Spec.Volumes = []corev1.Volume{ephemeralClone(share)}
			err := env.Client.Create(ctx, pod, client.DryRunAll)
			requireDeniedWith(t, err, vocab.ShareStorageCopy, "Pod "+env.Namespace+"/roads-ephemeral", detail)
		})
	}
	t.Run("an empty ephemeral volume on a delegate is allowed", func(t *testing.T) {
		pod := partyPod(env.Namespace, "roads-ephemeral", vocab.RoleDelegate)
		pod.Spec.Volumes = []corev1.Volume{ephemeralClone("")}
		require.NoError(t, env.Client.Create(ctx, pod, client.DryRunAll))
	})
}

// A StatefulSet names its claims <template>-<statefulset>-<ordinal>: the share claims of the persistent pool
// are shares-mpc-system-server-party-<n>, and shares-mpc-system-server-party-delegate-<n> are not.
func TestADelegateStatefulSetNamedLikeThePersistentPoolIsAdmitted(t *testing.T) {
	env := sharedEnv(t)
	ctx := t.Context()
	name := persistentPool + "-delegate"
	statefulSet := func(role string) *appsv1.StatefulSet {
		labels := map[string]string{scenario.ComponentLabel: scenario.PartyComponent, scenario.RoleLabel: role,
			"app.kubernetes.io/name": name}
		spec := scenario.RestrictedPodSpec("ghcr.io/mpcguard/mpc-server-party:0.1.0")
		spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "shares", MountPath: "/var/lib/mpc/shares"}}
		return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: env.Namespace},
			Spec: appsv1.StatefulSetSpec{Replicas: ptr.To(int32(1)), ServiceName: name,
				Selector: selector(map[string]string{"app.kubernetes.io/name": name}),
				Template: template(labels, spec),
				VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "shares"},
					Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
						Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}},
			}}
	}

	t.Run("with the persistent role it is denied: only the persistent pool runs persistent parties", func(t *testing.T) {
		err := env.Client.Create(ctx, statefulSet(vocab.RolePersistent), client.DryRunAll)
		requireDeniedWith(t, err, vocab.PartyPersistentOrigin, "StatefulSet "+env.Namespace+"/"+name,
			"only StatefulSet "+persistentPool+" may run persistent parties")
	})

	sts := statefulSet(vocab.RoleDelegate)
	require.NoError(t, env.Client.Create(ctx, sts), "a delegate StatefulSet %s with volumeClaimTemplate shares", name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		assert.NoError(t, client.IgnoreNotFound(env.Client.Delete(ctx, sts)))
		assert.NoError(t, client.IgnoreNotFound(env.Client.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
			Name: name + "-0", Namespace: env.Namespace}}, client.GracePeriodSeconds(0))))
		assert.NoError(t, client.IgnoreNotFound(env.Client.Delete(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{
			Name: "shares-" + name + "-0", Namespace: env.Namespace}})))
	})
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		var got appsv1.StatefulSet
		require.NoError(ct, env.Client.Get(ctx, client.ObjectKeyFromObject(sts), &got))
		assert.Equal(ct, int32(1), got.Status.ReadyReplicas)
	}, time.Minute, 250*time.Millisecond, "its pod, created by the StatefulSet controller, is admitted and Ready")
	var pod corev1.Pod
	require.NoError(t, env.Client.Get(ctx, client.ObjectKey{Namespace: env.Namespace, Name: name + "-0"}, &pod))
	var claims []string
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claims = append(claims, v.PersistentVolumeClaim.ClaimName)
		}
	}
	assert.Equal(t, []string{"shares-" + name + "-0"}, claims, "its claim starts like the share claims, yet is its own")
}

func TestAHostPathOnADelegatePartyIsDenied(t *testing.T) {
	env := sharedEnv(t)
	rel := roadsRelease(t, env)
	ctx := t.Context()
	hostPath := corev1.Volume{Name: "node-disk", VolumeSource: corev1.VolumeSource{
		HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib/kubelet/pods"}}}

	t.Run("a delegate party", func(t *testing.T) {
		pod := partyPod(rel.Namespace, "roads-hostpath", vocab.RoleDelegate)
		pod.Spec.Volumes = []corev1.Volume{hostPath}
		err := env.Client.Create(ctx, pod, client.DryRunAll)
		requireDeniedWith(t, err, vocab.DelegateNoShareStorage, "Pod "+rel.Namespace+"/roads-hostpath",
			"delegate party uses the persistent pool's share storage (hostPath /var/lib/kubelet/pods)")
		t.Log(err)
	})
	t.Run("a node agent that is not a party is allowed", func(t *testing.T) {
		pod := partyPod(rel.Namespace, "roads-log-collector", "")
		pod.Labels = map[string]string{"app.kubernetes.io/name": "log-collector"}
		pod.Spec.Volumes = []corev1.Volume{hostPath}
		require.NoError(t, env.Client.Create(ctx, pod, client.DryRunAll))
	})
}

func TestACSIVolumeWhoseNodePublishSecretIsTheShareSecretIsDeniedOnADelegate(t *testing.T) {
	env := sharedEnv(t)
	seed := seedRelease(t, env)
	secret := shareSecretOf(t, env, seed)
	csi := func(secretName string) corev1.Volume {
		return corev1.Volume{Name: "vault", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{
			Driver: "secrets-store.csi.k8s.io", NodePublishSecretRef: &corev1.LocalObjectReference{Name: secretName}}}}
	}
	pod := partyPod(seed.Namespace, "roads-csi", vocab.RoleDelegate)
	pod.Spec.Volumes = []corev1.Volume{csi(secret)}
	err := env.Client.Create(t.Context(), pod, client.DryRunAll)
	requireDeniedWith(t, err, vocab.DelegateNoShareStorage, "Pod "+seed.Namespace+"/roads-csi",
		"delegate party uses the persistent pool's share storage (Secret "+secret+")")
	t.Log(err)

	t.Run("a CSI volume with a secret of its own is allowed", func(t *testing.T) {
		pod := partyPod(seed.Namespace, "roads-csi", vocab.RoleDelegate)
		pod.Spec.Volumes = []corev1.Volume{csi("roads-delegate-credentials")}
		require.NoError(t, env.Client.Create(t.Context(), pod, client.DryRunAll))
	})
}

func TestAPodThatIsNotAPartyCannotUseTheShareStorage(t *testing.T) {
	env := sharedEnv(t)
	seed := seedRelease(t, env)
	ctx := t.Context()
	secret := shareSecretOf(t, env, seed)
	claim := shareClaimOf(t, env, env.Release)
	notAParty := func(namespace string, volume corev1.Volume) *corev1.Pod {
		pod := partyPod(namespace, "roads-reader", "")
		pod.Labels = map[string]string{"app.kubernetes.io/name": "reader"}
		pod.Spec.Volumes = []corev1.Volume{volume}
		return pod
	}
	t.Run("the share Secret", func(t *testing.T) {
		err := env.Client.Create(ctx, notAParty(seed.Namespace, corev1.Volume{Name: "db", VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: secret}}}), client.DryRunAll)
		requireDeniedWith(t, err, vocab.ShareStoragePersistentOnly, "Pod "+seed.Namespace+"/roads-reader",
			"pod is not a party pod (app.kubernetes.io/component=mpc-party) but uses the persistent pool's share storage (Secret "+secret+")")
		t.Log(err)
	})
	t.Run("a share claim", func(t *testing.T) {
		err := env.Client.Create(ctx, notAParty(env.Namespace, corev1.Volume{Name: "shares", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}), client.DryRunAll)
		requireDeniedWith(t, err, vocab.ShareStoragePersistentOnly, "Pod "+env.Namespace+"/roads-reader",
			"pod is not a party pod (app.kubernetes.io/component=mpc-party) but uses the persistent pool's share storage (PersistentVolumeClaim "+claim+")")
	})
	t.Run("a Secret of its own is allowed", func(t *testing.T) {
		require.NoError(t, env.Client.Create(ctx, notAParty(seed.Namespace, corev1.Volume{Name: "db", VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: "reader-credentials"}}}), client.DryRunAll))
	})
}

// Road 6: relabelling in steps. Each step is an UPDATE that looks harmless on its own: leave the party,
// change the role while no party selector looks, come back.
func TestRelabellingInStepsCannotTurnAPodIntoAPersistentParty(t *testing.T) {
	env := sharedEnv(t)
	ctx := t.Context()
	patch := func(pod *corev1.Pod, labels string) error {
		return env.Client.Patch(ctx, pod.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":`+labels+`}}`)))
	}

	t.Run("a delegate that leaves the party cannot come back persistent", func(t *testing.T) {
		pod := createPod(t, env, partyPod(env.Namespace, "roads-steps", vocab.RoleDelegate))
		require.NoError(t, patch(pod, `{"app.kubernetes.io/component":null}`), "step 1: remove the party label")
		err := patch(pod, `{"party-role":"persistent"}`)
		requireDeniedWith(t, err, vocab.PartyRoleImmutable, "Pod "+env.Namespace+"/roads-steps",
			`party-role cannot change from "delegate" to "persistent"`)
		t.Log(err)
		require.NoError(t, patch(pod, `{"app.kubernetes.io/component":"mpc-party"}`), "step 3: put the party label back, still a delegate")
		var got corev1.Pod
		require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(pod), &got))
		assert.Equal(t, scenario.PartyComponent, got.Labels[scenario.ComponentLabel])
		assert.Equal(t, vocab.RoleDelegate, got.Labels[scenario.RoleLabel], "a delegate party again, as before")
	})

	t.Run("a persistent party cannot leave the party while it holds the share claim", func(t *testing.T) {
		claim := shareClaimOf(t, env, env.Release)
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: env.Namespace, Name: persistentPool + "-0"}}
		err := env.Client.Patch(ctx, pod, client.RawPatch(types.MergePatchType,
			[]byte(`{"metadata":{"labels":{"app.kubernetes.io/component":null}}}`)), client.DryRunAll)
		requireDeniedWith(t, err, vocab.ShareStoragePersistentOnly, "Pod "+env.Namespace+"/"+pod.Name,
			"pod is not a party pod (app.kubernetes.io/component=mpc-party) but uses the persistent pool's share storage (PersistentVolumeClaim "+claim+")")
	})

	plain := func(t *testing.T, name string) *corev1.Pod {
		pod := partyPod(env.Namespace, name, "")
		pod.Labels = map[string]string{"app.kubernetes.io/name": "roads-plain"}
		return createPod(t, env, pod)
	}
	const becomes = "a pod cannot become a persistent party by an update (app.kubernetes.io/component=mpc-party and party-role=persistent added)"
	t.Run("a pod without a role cannot become a persistent party in one update", func(t *testing.T) {
		pod := plain(t, "roads-plain")
		err := patch(pod, `{"app.kubernetes.io/component":"mpc-party","party-role":"persistent"}`)
		requireDeniedWith(t, err, vocab.PartyPersistentOrigin, "Pod "+env.Namespace+"/roads-plain", becomes)
		t.Log(err)
	})
	t.Run("nor in two: the role first, then the party label", func(t *testing.T) {
		pod := plain(t, "roads-plain-2")
		require.NoError(t, patch(pod, `{"party-role":"persistent"}`), "a role on a pod that is not a party is nobody's business yet")
		err := patch(pod, `{"app.kubernetes.io/component":"mpc-party"}`)
		requireDeniedWith(t, err, vocab.PartyPersistentOrigin, "Pod "+env.Namespace+"/roads-plain-2", becomes)
	})
}

// Road 7: the persistent role is earned by being created by the persistent pool's StatefulSet controller.
func TestOnlyTheStatefulSetControllerCreatesPersistentPartiesNotAUserWithAForgedOwner(t *testing.T) {
	env := sharedEnv(t)
	ctx := t.Context()
	object := "Pod " + env.Namespace + "/roads-persistent"
	byController := "a persistent party pod may only be created by the StatefulSet controller (" +
		strings.Join(vocab.DefaultControllerUsers, ", ") + "), not by "

	t.Run("a user creating a persistent party pod is denied", func(t *testing.T) {
		err := env.Client.Create(ctx, partyPod(env.Namespace, "roads-persistent", vocab.RolePersistent), client.DryRunAll)
		requireDeniedWith(t, err, vocab.PartyPersistentOrigin, object, byController)
		requireDeniedWith(t, err, vocab.PartyPersistentOrigin, object,
			"a persistent party pod must be created by StatefulSet "+persistentPool+" (its controller owner: none)")
		assert.Contains(t, err.Error(), "admin", "the message names the user")
		t.Log(err)
	})
	t.Run("with an ownerReference forged to the persistent StatefulSet too", func(t *testing.T) {
		var sts appsv1.StatefulSet
		require.NoError(t, env.Client.Get(ctx, client.ObjectKey{Namespace: env.Namespace, Name: persistentPool}, &sts))
		pod := partyPod(env.Namespace, "roads-persistent", vocab.RolePersistent)
		for k, v := range sts.Spec.Template.Labels {
			pod.Labels[k] = v
		}
		pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: sts.Name,
			UID: sts.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
		err := env.Client.Create(ctx, pod, client.DryRunAll)
		requireDeniedWith(t, err, vocab.PartyPersistentOrigin, object, byController)
		if err != nil {
			assert.NotContains(t, err.Error(), "its controller owner: none", "the owner alone would pass; the creator does not")
		}
	})
	t.Run("scaling the persistent pool admits its new party", func(t *testing.T) {
		key := client.ObjectKey{Namespace: env.Namespace, Name: persistentPool}
		scale := func(ctx context.Context, replicas int) error {
			return env.Client.Patch(ctx, &appsv1.StatefulSet{ObjectMeta: objectMeta(key)},
				client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas)))
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			assert.NoError(t, scale(ctx, 3))
			assert.Eventually(t, func() bool {
				parties, err := env.Parties(ctx, vocab.RolePersistent)
				return err == nil && len(parties) == 3
			}, time.Minute, 250*time.Millisecond, "scaled back to 3 persistent parties")
		})
		require.NoError(t, scale(ctx, 4), "kubectl scale statefulset %s --replicas=4", persistentPool)
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			var pod corev1.Pod
			require.NoError(ct, env.Client.Get(ctx, client.ObjectKey{Namespace: env.Namespace, Name: persistentPool + "-3"}, &pod))
			assert.Equal(ct, vocab.RolePersistent, pod.Labels[scenario.RoleLabel])
			assert.True(ct, scenario.PodReady(&pod), "Ready")
		}, time.Minute, 250*time.Millisecond, "the StatefulSet controller's new persistent party is admitted")
	})
}

// Road 8: sessions that the schema or the webhook must refuse, and sessions that must never be stuck.
func TestAMalformedMPCSessionIsRejected(t *testing.T) {
	env := sharedEnv(t)
	for name, spec := range map[string]map[string]any{
		"a negative count": {"type": "sign", "threshold": map[string]any{"t": 2, "n": 3},
			"composition": map[string]any{"persistent": 4, "delegate": -1}},
		"an unknown type":        {"type": "exfiltrate", "threshold": map[string]any{"t": 2, "n": 3}},
		"a fractional threshold": {"type": "sign", "threshold": map[string]any{"t": 1.5, "n": 3}},
	} {
		t.Run(name, func(t *testing.T) {
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": vocab.SessionGroup + "/" + vocab.SessionVersion, "kind": vocab.SessionKind,
				"metadata": map[string]any{"name": "roads-malformed", "namespace": env.Namespace},
				"spec":     spec,
			}}
			err := env.Client.Create(t.Context(), u, client.DryRunAll)
			require.Error(t, err, "the session is rejected")
			t.Log(err)
			schema, webhook := apierrors.IsInvalid(err), strings.Contains(err.Error(), "["+vocab.SessionSpecValid+"]")
			assert.True(t, schema || webhook, "rejected by the CRD schema (Invalid) or by %s, got %v", vocab.SessionSpecValid, err)
		})
	}
}

func TestRemovingAFinalizerFromASessionSucceedsWhenTheNamespaceHasNoReadyPersistentParty(t *testing.T) {
	env := sharedEnv(t)
	rel := roadsRelease(t, env)
	ctx := t.Context()
	session := env.Session(leftSession, 2, 3, nil)
	session.Namespace = rel.Namespace
	key := client.ObjectKeyFromObject(session)
	patch := func(p client.Patch) error { return env.Client.Patch(ctx, session.DeepCopy(), p) }

	t.Run("a spec change needs the persistent parties, and the namespace has none", func(t *testing.T) {
		err := patch(client.RawPatch(types.MergePatchType, []byte(`{"spec":{"threshold":{"t":3}}}`)))
		requireDeniedWith(t, err, vocab.SessionPersistentAvailable, "MPCSession "+rel.Namespace+"/"+leftSession,
			"needs 3 Ready persistent parties but namespace "+rel.Namespace+" has 0")
		t.Log(err)
	})
	t.Run("a label change leaves the spec alone and is allowed", func(t *testing.T) {
		require.NoError(t, patch(client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"example.com/archived":"true"}}}`))))
	})
	require.NoError(t, env.Client.Delete(ctx, session.DeepCopy()), "kubectl delete mpcsession %s", leftSession)
	var got unstructured.Unstructured
	got.SetAPIVersion(vocab.SessionGroup + "/" + vocab.SessionVersion)
	got.SetKind(vocab.SessionKind)
	require.NoError(t, env.Client.Get(ctx, key, &got))
	require.NotNil(t, got.GetDeletionTimestamp(), "Terminating, held by its finalizer")
	require.NoError(t, patch(client.RawPatch(types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/finalizers"}]`))),
		"removing the finalizer")
	require.Eventually(t, func() bool {
		return apierrors.IsNotFound(env.Client.Get(ctx, key, got.DeepCopy()))
	}, 30*time.Second, 250*time.Millisecond, "the session is gone, not stuck Terminating")
}

// Road 9: a pod from before mpcguard with a role that is not valid can still be corrected, once, to a
// non-persistent role, and deleted.
func TestALegacyPodWithAnInvalidRoleCanBeCorrectedToANonPersistentRoleAndDeleted(t *testing.T) {
	env := sharedEnv(t)
	rel := roadsRelease(t, env)
	ctx := t.Context()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: rel.Namespace, Name: legacyPod}}
	object := "Pod " + rel.Namespace + "/" + legacyPod
	setRole := func(role string) error {
		return env.Client.Patch(ctx, pod.DeepCopy(), client.RawPatch(types.MergePatchType,
			[]byte(`{"metadata":{"labels":{"party-role":"`+role+`"}}}`)))
	}
	var got corev1.Pod
	require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(pod), &got), "the legacy pod from before the webhook")
	require.Equal(t, legacyRole, got.Labels[scenario.RoleLabel])

	t.Run("an update that leaves its role alone is allowed", func(t *testing.T) {
		require.NoError(t, env.Client.Patch(ctx, pod.DeepCopy(), client.RawPatch(types.MergePatchType,
			[]byte(`{"metadata":{"annotations":{"example.com/owner":"ops"}}}`))))
	})
	t.Run("correcting it to persistent is denied", func(t *testing.T) {
		err := setRole(vocab.RolePersistent)
		requireDeniedWith(t, err, vocab.PartyRoleImmutable, object, `party-role cannot change from "`+legacyRole+`" to "persistent"`)
		t.Log(err)
	})
	t.Run("correcting it to delegate is allowed", func(t *testing.T) {
		require.NoError(t, setRole(vocab.RoleDelegate))
	})
	t.Run("once valid, its role is immutable", func(t *testing.T) {
		err := setRole(vocab.RoleTemporary)
		requireDeniedWith(t, err, vocab.PartyRoleImmutable, object, `party-role cannot change from "delegate" to "temporary"`)
	})
	t.Run("it can be deleted", func(t *testing.T) {
		require.NoError(t, env.Client.Delete(ctx, pod.DeepCopy(), client.GracePeriodSeconds(0)))
		require.Eventually(t, func() bool {
			return apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{}))
		}, 30*time.Second, 250*time.Millisecond)
	})
}
