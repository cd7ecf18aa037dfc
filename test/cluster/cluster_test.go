package cluster_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/mpcguard/mpcguard/test/cluster"
)

func TestStartFailsNamingMakeToolsWhenABinaryIsMissing(t *testing.T) {
	_, err := cluster.Start(t.Context(), cluster.Options{BinDir: t.TempDir()})
	require.ErrorIs(t, err, cluster.ErrToolMissing)
	assert.Contains(t, err.Error(), "make tools")
	assert.Contains(t, err.Error(), "kube-apiserver")
}

func TestAClusterSchedulesADeploymentOnePodPerNodeAndStopLeavesNothingBehind(t *testing.T) {
	ctx := t.Context()
	c := cluster.StartT(t, cluster.Options{Nodes: 3}) // its t.Cleanup Stop is a no-op after the Stop below

	nodes, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, nodes.Items, 3)
	zones := map[string]bool{}
	for _, n := range nodes.Items {
		assert.True(t, cluster.NodeReady(&n), "node %s is Ready", n.Name)
		zones[n.Labels[cluster.LabelZone]] = true
	}
	assert.Len(t, zones, 3, "the nodes are spread over three zones")

	labels := map[string]string{"app": "spread"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "spread", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/never-pulled:1.0"}},
					Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
						RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
							LabelSelector: &metav1.LabelSelector{MatchLabels: labels},
							TopologyKey:   cluster.LabelHostname,
						}},
					}},
				},
			},
		},
	}
	_, err = c.Client.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{})
	require.NoError(t, err)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		got, err := c.Client.AppsV1().Deployments("default").Get(ctx, "spread", metav1.GetOptions{})
		require.NoError(ct, err)
		assert.Equal(ct, int32(3), got.Status.ReadyReplicas)
	}, time.Minute, 250*time.Millisecond, "the Deployment reports 3/3 Ready")
	pods, err := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=spread"})
	require.NoError(t, err)
	perNode := map[string]int{}
	for _, p := range pods.Items {
		perNode[p.Spec.NodeName]++
	}
	assert.Equal(t, map[string]int{"node-1": 1, "node-2": 1, "node-3": 1}, perNode, "one pod per node")

	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "default"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	_, err = c.Client.CoreV1().PersistentVolumeClaims("default").Create(ctx, claim, metav1.CreateOptions{})
	require.NoError(t, err)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		got, err := c.Client.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data", metav1.GetOptions{})
		require.NoError(ct, err)
		assert.Equal(ct, corev1.ClaimBound, got.Status.Phase)
	}, 30*time.Second, 250*time.Millisecond, "a claim without a class is provisioned through the default StorageClass")

	pids, ports, dir := c.Pids(), c.Ports(), c.Dir
	require.Len(t, pids, len(cluster.ControlPlaneTools))
	start := time.Now()
	require.NoError(t, c.Stop())
	t.Logf("stopped in %s", time.Since(start).Round(time.Millisecond))
	for name, pid := range pids {
		assert.ErrorIs(t, syscall.Kill(-pid, 0), syscall.ESRCH, "%s's process group (%d) is gone", name, pid)
	}
	for name, port := range ports {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if assert.NoError(t, err, "%s's port %d is free", name, port) {
			ln.Close()
		}
	}
	_, err = os.Stat(dir)
	assert.True(t, errors.Is(err, os.ErrNotExist), "%s is removed", dir)
}
