package webhook

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/mpcguard/mpcguard/policies/engine"
)

// testPod is a party pod (the default party selector's label) with a role label, Ready or not.
func testPod(ns, name, role string, ready bool) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ns + "/" + name),
			Labels: map[string]string{"party-role": role, "app.kubernetes.io/component": "mpc-party"}},
		Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}},
	}
}

func TestInventoryCountsReadyPersistentPodsPerNamespace(t *testing.T) {
	inv := NewInventory(engine.DefaultConfig())
	_, ok := inv.PersistentReady("a")
	assert.False(t, ok, "an unsynced inventory says it does not know")
	inv.synced.Store(true)

	inv.observe(testPod("a", "p0", "persistent", true))
	inv.observe(testPod("a", "p1", "persistent", true))
	inv.observe(testPod("a", "p2", "persistent", false))
	inv.observe(testPod("a", "d0", "delegate", true))
	inv.observe(testPod("b", "p0", "persistent", true))
	n, ok := inv.PersistentReady("a")
	assert.True(t, ok)
	assert.Equal(t, 2, n, "only Ready persistent pods count; delegates and unready pods do not")
	n, _ = inv.PersistentReady("b")
	assert.Equal(t, 1, n, "namespaces are counted apart")
	n, _ = inv.PersistentReady("empty")
	assert.Equal(t, 0, n)

	inv.observe(testPod("a", "p0", "persistent", false))
	n, _ = inv.PersistentReady("a")
	assert.Equal(t, 1, n, "a pod that turns unready stops counting")

	inv.observe(testPod("a", "p2", "persistent", true))
	inv.observe(testPod("a", "p2", "persistent", true))
	n, _ = inv.PersistentReady("a")
	assert.Equal(t, 2, n, "repeated updates of one pod count it once")

	terminating := testPod("a", "p1", "persistent", true)
	terminating.DeletionTimestamp = &metav1.Time{}
	inv.observe(terminating)
	n, _ = inv.PersistentReady("a")
	assert.Equal(t, 1, n, "a terminating pod stops counting")

	inv.forget(toolscache.DeletedFinalStateUnknown{Key: "a/p2", Obj: testPod("a", "p2", "persistent", true)})
	n, _ = inv.PersistentReady("a")
	assert.Equal(t, 0, n, "a delete seen only as a tombstone still removes the pod")
	inv.forget(testPod("b", "p0", "persistent", true))
	n, _ = inv.PersistentReady("b")
	assert.Equal(t, 0, n)
	assert.Empty(t, inv.ready, "empty namespaces are dropped from the index")
}

func TestInventoryCountsOnlyPodsOfThePartySelector(t *testing.T) {
	inv := NewInventory(engine.DefaultConfig())
	inv.synced.Store(true)
	unlabelled := testPod("a", "p0", "persistent", true)
	delete(unlabelled.Labels, "app.kubernetes.io/component")
	inv.observe(unlabelled)
	other := testPod("a", "p1", "persistent", true)
	other.Labels["app.kubernetes.io/component"] = "mpc-coordinator"
	inv.observe(other)
	n, ok := inv.PersistentReady("a")
	assert.True(t, ok)
	assert.Zero(t, n, "a persistent role outside the party selector is no party a session can use")
	role, _ := inv.Role("a", "p0")
	assert.Equal(t, "persistent", role, "but the pod still holds what a persistent pod holds, and is known as persistent")

	inv.observe(testPod("a", "p0", "persistent", true))
	n, _ = inv.PersistentReady("a")
	assert.Equal(t, 1, n, "a pod that joins the party selector counts")
	inv.observe(unlabelled)
	n, _ = inv.PersistentReady("a")
	assert.Zero(t, n, "a pod that leaves it stops counting")

	cfg := engine.DefaultConfig()
	cfg.RoleLabelKey = "signer.example.com/role"
	cfg.PartySelector = map[string]string{"app": "signer", "tier": "mpc"}
	custom := NewInventory(cfg)
	custom.synced.Store(true)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "s0", UID: "s0",
		Labels: map[string]string{"signer.example.com/role": "persistent", "app": "signer"}},
		Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	custom.observe(pod)
	n, _ = custom.PersistentReady("a")
	assert.Zero(t, n, "every label of the selector must match")
	pod = pod.DeepCopy()
	pod.Labels["tier"] = "mpc"
	custom.observe(pod)
	n, _ = custom.PersistentReady("a")
	assert.Equal(t, 1, n)
}

func TestInventoryKnowsTheRoleOfEveryPodByNamespaceAndName(t *testing.T) {
	inv := NewInventory(engine.DefaultConfig())
	role, ok := inv.Role("a", "p0")
	assert.False(t, ok, "an unsynced inventory says it does not know")
	assert.Empty(t, role)

	inv.observe(testPod("a", "p0", "persistent", false))
	inv.observe(testPod("a", "d0", "delegate", true))
	inv.observe(testPod("b", "p0", "temporary", true))
	unlabelled := testPod("a", "x0", "persistent", true)
	delete(unlabelled.Labels, "app.kubernetes.io/component")
	inv.observe(unlabelled)
	inv.synced.Store(true)

	for _, tc := range []struct{ ns, name, want string }{
		{"a", "p0", "persistent"}, // unready pods hold their shares all the same
		{"a", "d0", "delegate"},
		{"b", "p0", "temporary"}, // namespaces apart
		{"a", "x0", "persistent"},
		{"a", "unknown", ""},
		{"b", "d0", ""},
	} {
		role, ok := inv.Role(tc.ns, tc.name)
		assert.True(t, ok)
		assert.Equal(t, tc.want, role, "%s/%s", tc.ns, tc.name)
	}

	relabelled := testPod("a", "d0", "persistent", true)
	inv.observe(relabelled)
	role, _ = inv.Role("a", "d0")
	assert.Equal(t, "persistent", role, "an update of the label is seen")

	withoutRole := testPod("a", "d0", "", true)
	delete(withoutRole.Labels, "party-role")
	inv.observe(withoutRole)
	role, _ = inv.Role("a", "d0")
	assert.Empty(t, role, "a pod whose role label is removed has no role")

	inv.forget(toolscache.DeletedFinalStateUnknown{Key: "a/p0", Obj: testPod("a", "p0", "persistent", false)})
	role, _ = inv.Role("a", "p0")
	assert.Empty(t, role, "a delete seen only as a tombstone forgets the pod")
	inv.forget(testPod("b", "p0", "temporary", true))
	inv.forget(unlabelled)
	assert.Empty(t, inv.roles, "forgotten pods leave nothing behind")
	inv.forget("not a pod")
	inv.observe("not a pod")
}

func TestRoleSelectorSelectsThePodsThatCarryTheRoleLabel(t *testing.T) {
	sel := roleSelector("party-role")
	assert.Equal(t, "party-role", sel.String())
	assert.True(t, sel.Matches(labels.Set{"party-role": "persistent"}))
	assert.True(t, sel.Matches(labels.Set{"party-role": ""}), "an empty role is a role label, and a malformed one")
	assert.False(t, sel.Matches(labels.Set{"app.kubernetes.io/component": "mpc-party"}),
		"a party pod without the role label holds no role to look up")
	assert.Equal(t, "signer.example.com/role", roleSelector("signer.example.com/role").String())
}

func TestTrimPodKeepsOnlyTheRoleAndSelectorLabelsAndTheReadyConditionAndCountsTheSame(t *testing.T) {
	sel := engine.DefaultConfig().PartySelector
	pod := testPod("ns", "p-0", "persistent", true)
	pod.Labels["controller-revision-hash"] = "abc"
	pod.Status.Conditions = append(pod.Status.Conditions,
		corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, Message: "long text"})
	pod.Spec.Containers = []corev1.Container{{Name: "party", Image: "mpc/party:1.0"}}

	out, err := trimPod("party-role", sel)(pod)
	assert.NoError(t, err)
	trimmed := out.(*corev1.Pod)
	assert.Equal(t, map[string]string{"party-role": "persistent", "app.kubernetes.io/component": "mpc-party"}, trimmed.Labels)
	assert.Equal(t, []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}, trimmed.Status.Conditions)
	assert.Empty(t, trimmed.Spec.Containers)
	assert.Equal(t, pod.UID, trimmed.UID)

	full, small := NewInventory(engine.DefaultConfig()), NewInventory(engine.DefaultConfig())
	full.synced.Store(true)
	small.synced.Store(true)
	full.observe(pod)
	small.observe(trimmed)
	n1, _ := full.PersistentReady("ns")
	n2, _ := small.PersistentReady("ns")
	assert.Equal(t, 1, n2)
	assert.Equal(t, n1, n2, "the trimmed pod counts as the full one does")
	r1, _ := full.Role("ns", "p-0")
	r2, _ := small.Role("ns", "p-0")
	assert.Equal(t, "persistent", r2)
	assert.Equal(t, r1, r2, "and has the same role")

	unlabelled := testPod("ns", "p-1", "persistent", true)
	delete(unlabelled.Labels, "party-role")
	delete(unlabelled.Labels, "app.kubernetes.io/component")
	out, err = trimPod("party-role", sel)(unlabelled)
	assert.NoError(t, err)
	assert.Empty(t, out.(*corev1.Pod).Labels, "a pod without the role label stays without it")
	_, has := out.(*corev1.Pod).Labels["party-role"]
	assert.False(t, has)

	outside := testPod("ns", "p-2", "persistent", true)
	delete(outside.Labels, "app.kubernetes.io/component")
	out, err = trimPod("party-role", sel)(outside)
	assert.NoError(t, err)
	assert.Equal(t, map[string]string{"party-role": "persistent"}, out.(*corev1.Pod).Labels,
		"a pod outside the selector stays outside it once trimmed")

	out, err = trimPod("party-role", sel)("not a pod")
	assert.NoError(t, err)
	assert.Equal(t, "not a pod", out, "what is not a pod is passed on untouched")
}

func TestInventoryDoesNotAnswerForANamespaceItDoesNotWatch(t *testing.T) {
	inv := NewInventory(engine.DefaultConfig())
	inv.watched = map[string]bool{"mpc-system": true}
	inv.observe(testPod("mpc-system", "p-0", "persistent", true))
	inv.synced.Store(true)

	role, ok := inv.Role("mpc-system", "p-0")
	assert.True(t, ok, "a watched namespace is known")
	assert.Equal(t, "persistent", role)
	ready, ok := inv.PersistentReady("mpc-system")
	assert.True(t, ok)
	assert.Equal(t, 1, ready)

	_, ok = inv.Role("elsewhere", "p-0")
	assert.False(t, ok, "an exec into a namespace the cache does not list must be reported as not checked, not admitted as into no party")
	_, ok = inv.PersistentReady("elsewhere")
	assert.False(t, ok, "a session there must be skipped, not denied for 0 Ready parties")
}

func TestInventoryLoadedFromAListingKnowsOnlyItsNamespacesAndTheLabelledPods(t *testing.T) {
	inv := NewInventory(engine.DefaultConfig())
	unlabelled := testPod("a", "u0", "", true)
	delete(unlabelled.Labels, "party-role")
	inv.Load([]string{"a"}, []*corev1.Pod{
		testPod("a", "p0", "persistent", true), testPod("a", "p1", "persistent", false),
		testPod("a", "d0", "delegate", true), unlabelled,
	})
	assert.True(t, inv.Synced(), "a loaded inventory is synced")
	n, ok := inv.PersistentReady("a")
	assert.True(t, ok)
	assert.Equal(t, 1, n, "only the Ready persistent pod counts")
	role, ok := inv.Role("a", "d0")
	assert.True(t, ok)
	assert.Equal(t, "delegate", role)
	role, _ = inv.Role("a", "u0")
	assert.Empty(t, role, "a pod without the role label has no role")
	_, ok = inv.PersistentReady("b")
	assert.False(t, ok, "a namespace outside the listing is unknown, never empty")
}
