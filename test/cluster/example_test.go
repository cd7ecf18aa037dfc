package cluster_test

import (
	"context"
	"fmt"
	"log"
	"os"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mpcguard/mpcguard/test/cluster"
)

// A command brings a cluster up, builds the tools first if needed, and takes it down again. (No Output: the
// example compiles with the tests but does not run.)
func ExampleStart() {
	ctx := context.Background()
	bin, err := cluster.Build(ctx, os.Stderr, cluster.ControlPlaneTools...)
	if err != nil {
		log.Fatal(err)
	}
	c, err := cluster.Start(ctx, cluster.Options{Nodes: 3, BinDir: bin, Log: os.Stderr})
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := c.Stop(); err != nil {
			log.Print(err)
		}
	}()
	nodes, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, n := range nodes.Items {
		fmt.Println(n.Name, n.Labels[cluster.LabelZone], cluster.NodeReady(&n))
	}
	fmt.Println("KUBECONFIG=" + c.Kubeconfig)
}
