package webhook

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/mpcguard/mpcguard/policies/engine"
)

func testPod(ns, name, role string, ready bool) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ns + "/" + name),
			Labels: map[string]string{"party-role": role}},
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

func TestTrimPodKeepsOnlyTheRoleLabelAndTheReadyConditionAndCountsTheSame(t *testing.T) {
	pod := testPod("ns", "p-0", "persistent", true)
	pod.Labels["app.kubernetes.io/component"] = "mpc-party"
	pod.Labels["controller-revision-hash"] = "abc"
	pod.Status.Conditions = append(pod.Status.Conditions,
		corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, Message: "long text"})
	pod.Spec.Containers = []corev1.Container{{Name: "party", Image: "mpc/party:1.0"}}

	out, err := trimPod("party-role")(pod)
	assert.NoError(t, err)
	trimmed := out.(*corev1.Pod)
	assert.Equal(t, map[string]string{"party-role": "persistent"}, trimmed.Labels)
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

	unlabelled := testPod("ns", "p-1", "persistent", true)
	delete(unlabelled.Labels, "party-role")
	out, err = trimPod("party-role")(unlabelled)
	assert.NoError(t, err)
	assert.Nil(t, out.(*corev1.Pod).Labels, "a pod without the role label stays without it")
}
