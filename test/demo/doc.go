// Command demo is `make demo`: mpc-system installed the way a user installs it, on a Kubernetes cluster running
// on this machine with a real node.
//
//	go run ./test/demo [--keep]
//
// It builds the pinned tools on first use (the control plane, the real node's kubelet, kube-proxy and
// containerd, distribution's registry, helm; minutes, progress on stderr), then (test/demo/scenario's
// UpInCluster) starts a registry on 127.0.0.1 and runs `make publish` to it: the webhook image for this
// machine's platform, its SBOM, and the charts with the image pinned by digest. It starts etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and a real node (kubelet, kube-proxy, containerd,
// runc, bridge CNI, stand-in party and coordinator images) that trusts the registry, creates namespace
// mpc-system enforcing the restricted Pod Security Standard, and runs
// `helm install mpc-system oci://127.0.0.1:<port>/mpcguard/charts/mpc-system@sha256:…` with values that use the
// stand-in images. The chart's webhook Deployment pulls the pushed image and runs on the node; the API server
// calls it through its Service (no webhook.url). Then it shows the webhook's pods and the digest they run, and:
//
//  1. the persistent parties Ready on the node (one node: these values prefer anti-affinity);
//  2. the coordinator's ServiceAccount allowed to list pods but not to read secrets (SubjectAccessReview), and
//     what the coordinator stand-in discovered from inside its pod (GET http://<pod IP>:8080/parties);
//  3. an unlabelled party pod rejected by the API server with the policy's message;
//  4. an MPCSession with an empty composition rejected;
//  5. an MPCSession whose delegates alone reach the threshold rejected;
//  6. a valid MPCSession admitted.
//
// It exits 0 when every scenario came out as shown, 1 otherwise. It needs root. It leaves nothing running and
// the host as it was (test/cluster's Stop drains the node and sweeps its iptables rules, mounts, cgroups, bridge
// and sysctls), also on Ctrl-C. With --keep the cluster, the node and the registry stay up until Ctrl-C, and the
// command prints the KUBECONFIG to use.
package main
