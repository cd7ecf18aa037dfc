// Package cluster runs a real Kubernetes control plane on this machine for tests, the demo and people who want
// to poke at one: etcd, kube-apiserver, kube-controller-manager and kube-scheduler, with KWOK standing in for
// kubelets so that pods are scheduled by the real scheduler and become Ready without running containers.
//
// Everything listens on 127.0.0.1 on free ports. The binaries are built from pinned Go modules
// (test/tools/<module>/go.mod) by test/tools/build.sh into a cache outside the checkout; [Build] runs it,
// [BinDir] names it, and [Start] fails with a message naming `make tools` when a binary is missing.
//
//	c, err := cluster.Start(ctx, cluster.Options{Nodes: 3})
//	...
//	defer c.Stop()
//	// c.Kubeconfig is a kubeconfig file for kubectl, helm, ct; c.Config is the same for client-go.
//
// Nodes are Node objects annotated kwok.x-k8s.io/node=fake, named node-1..node-N and spread round-robin over
// zones (labels kubernetes.io/hostname and topology.kubernetes.io/zone). KWOK plays them with the stages that
// ship in its module (nodes Ready, pods Running and Ready, pods deleted, volumes provisioned through the default
// StorageClass kwok-volume) plus one of this project's own, test/cluster/stages/helm-test-complete.yaml,
// which completes Helm test pods: their containers never run, so a `helm test` here proves only that the test
// pods are accepted and scheduled.
//
// [Cluster.Stop] ends every process (its whole process group: SIGTERM, then SIGKILL after a grace period), so
// every port is freed, and removes the temporary directory. [StartT] ties that to t.Cleanup and, through
// [StopOnInterrupt], to SIGINT and SIGTERM (an interrupted go test runs no cleanup); commands call Stop on those
// signals themselves. If the owning process is killed outright, its children get SIGKILL from the kernel
// (Pdeathsig), and the next Start removes the temporary directories whose owner is gone.
//
// # The real node
//
// With Options.RealNode the cluster also runs one real node, [RealNodeName], beside the control plane: containerd
// 2.4 (with runc and the bridge CNI plugin from Debian), the kubelet and kube-proxy v1.36.3, all built from the Go
// module proxy like the control plane. The API server then listens on the machine's own address ([NodeAddress])
// so that pods reach it through the kubernetes Service, authorizes the kubelet with the Node authorizer and
// calls webhook Services at their endpoints. Stand-in images built from test/standin (a pause image, a party, a
// coordinator that discovers parties through the API, a helm-test image with wget and nc) are loaded into
// containerd, nothing is pulled unless a test trusts a loopback registry ([Cluster.TrustRegistry], [StartRegistry]).
// A stand-in cluster DNS answers <service>.<namespace>.svc.cluster.local from the API and nothing else; the
// default StorageClass [LocalStorageClass] offers local volumes. Nothing leaves the machine: pods live on a
// bridge of their own ([PodSubnet]), an iptables guard drops whatever they forward elsewhere, and the Service
// range has a local route.
//
// A real node changes host-global state (iptables and nftables rules, a bridge, a route, mounts, cgroups,
// network namespaces, sysctls). [Cluster.Stop] deletes the node's pods through the API, stops the node and then
// [SweepRealNode] removes every trace and restores the sysctls recorded before start; Start sweeps a killed run's
// leftovers first (shims and containers outlive the kubelet and containerd). There is one real node per
// machine: a flock makes concurrent test processes take turns ([WaitForRealNode]). [HostFootprint] is what a
// test compares before and after.
//
// [StartWebhook] runs `mpcguard webhook` the same way, on 127.0.0.1 with a CA of its own, for a
// ValidatingWebhookConfiguration to reach by URL ([Webhook.Halt] and [Webhook.Restart] take it down and bring
// it back on the same URL and certificate, for fault tests); [Cluster.Helm] is a Helm SDK configuration for
// the cluster.
package cluster
