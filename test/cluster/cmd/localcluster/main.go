package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mpcguard/mpcguard/test/cluster"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || args[0] != "up" {
		return fmt.Errorf("usage: localcluster up [--nodes N] [--zones a,b,c] (Ctrl-C brings it down)")
	}
	fs := flag.NewFlagSet("localcluster up", flag.ContinueOnError)
	nodes := fs.Int("nodes", 3, "number of fake nodes")
	realNode := fs.Bool("real-node", false, "add a real node that runs containers (kubelet, containerd, runc; root only)")
	zones := fs.String("zones", "zone-a,zone-b,zone-c", "zones the nodes are spread over, comma-separated")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	tools := cluster.ControlPlaneTools
	if *realNode {
		tools = append(tools[:len(tools):len(tools)], cluster.RealNodeTools...)
	}
	bin, err := cluster.Build(ctx, os.Stderr, tools...)
	if err != nil {
		return err
	}
	c, err := cluster.Start(ctx, cluster.Options{Nodes: *nodes, Zones: strings.Split(*zones, ","), BinDir: bin, Log: os.Stderr,
		RealNode: *realNode})
	if err != nil {
		return err
	}
	fmt.Printf("export KUBECONFIG=%s\n", c.Kubeconfig)
	if *realNode {
		fmt.Fprintf(os.Stderr, "==> real node %s at %s\n", cluster.RealNodeName, c.NodeIP)
	}
	fmt.Fprintf(os.Stderr, "==> %d fake nodes: %s; Ctrl-C stops the cluster\n", len(c.Nodes), strings.Join(c.Nodes, " "))
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "==> stopping")
	if err := c.Stop(); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "==> stopped: every process ended, every port freed, the directory removed")
	return nil
}
