package cluster

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels of the fake nodes.
const (
	LabelHostname = "kubernetes.io/hostname"
	LabelZone     = "topology.kubernetes.io/zone"
	LabelRegion   = "topology.kubernetes.io/region"
	Region        = "local"
)

// AddNodes adds n fake nodes after the existing ones, continuing the round-robin over zones, and waits until
// they are Ready.
func (c *Cluster) AddNodes(ctx context.Context, n int, zones ...string) error {
	if len(zones) == 0 {
		zones = []string{"zone-a", "zone-b", "zone-c"}
	}
	return c.addNodes(ctx, n, zones, c.procs)
}

func (c *Cluster) addNodes(ctx context.Context, n int, zones []string, procs []*Process) error {
	first := len(c.Nodes)
	var names []string
	for i := first; i < first+n; i++ {
		name := fmt.Sprintf("node-%d", i+1)
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{fakeNodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels: map[string]string{
				LabelHostname:             name,
				LabelZone:                 zones[i%len(zones)],
				LabelRegion:               Region,
				"kubernetes.io/os":        "linux",
				"kubernetes.io/arch":      "amd64",
				"node.kubernetes.io/kwok": "fake",
			},
		}}
		if _, err := c.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating node %s: %w", name, err)
		}
		names = append(names, name)
	}
	c.Nodes = append(c.Nodes, names...)
	return c.waitFor(ctx, fmt.Sprintf("%d nodes", n), nodeTimeout, procs, func(ctx context.Context) (bool, error) {
		for _, name := range names {
			node, err := c.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if !NodeReady(node) || len(node.Spec.Taints) > 0 {
				return false, nil
			}
		}
		return true, nil
	})
}

// NodeReady tells whether the node's Ready condition is True.
func NodeReady(node *corev1.Node) bool {
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}
