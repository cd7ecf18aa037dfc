package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/mpcguard/mpcguard/internal/analyze"
)

func TestListPlacementFindsThePartiesByTheRendersSelectorAndRoleLabelKey(t *testing.T) {
	pod := func(name, node string, labels map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "mpc", Name: name, Labels: labels}, Spec: corev1.PodSpec{NodeName: node}}
	}
	custom := map[string]string{"mpc.example.com/party": "true", "mpc.example.com/role": "persistent"}
	defaults := map[string]string{"app.kubernetes.io/component": "mpc-party", "party-role": "persistent"}
	cs := fake.NewClientset(
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{analyze.ZoneKey: "a"}}},
		pod("p-0", "n1", custom), pod("p-1", "n1", custom),
		pod("other-0", "n1", defaults), // the default vocabulary: not a party of this render
	)
	op := analyze.Operator{Render: analyze.Render{
		Config: analyze.Config{PartySelector: "mpc.example.com/party=true", RoleLabelKey: "mpc.example.com/role"},
		Pools:  []analyze.Pool{{Kind: "StatefulSet", Namespace: "mpc", Name: "p", Role: "persistent", Replicas: 2}},
	}}
	ns, err := listPlacement(t.Context(), cs, "cluster test", &op)
	require.NoError(t, err)
	assert.Equal(t, []string{"mpc"}, ns)
	assert.True(t, op.Live)
	assert.Equal(t, []analyze.Node{{Name: "n1", Zone: "a"}}, op.Nodes)
	assert.Equal(t, []analyze.Placed{{Namespace: "mpc", Name: "p-0", Node: "n1"}, {Namespace: "mpc", Name: "p-1", Node: "n1"}}, op.Placed)
}
