// Command demo is `make demo`: mpcguard end to end on a real Kubernetes control plane running on this machine.
//
//	go run ./test/demo [--keep] [--charts DIR]
//
// It builds the pinned control-plane tools on first use (minutes, progress on stderr), builds mpcguard
// ($MPCGUARD_BIN overrides), generates the charts (`mpcguard generate --preset default` into a temporary
// directory; --charts installs existing ones instead, e.g. --charts charts), starts etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and KWOK (three fake nodes in three zones) on 127.0.0.1, starts
// `mpcguard webhook` on 127.0.0.1 with the flags the chart gives its own webhook, and installs mpc-system with
// the Helm SDK into a namespace enforcing the restricted Pod Security Standard, the chart's
// ValidatingWebhookConfiguration reaching the webhook by URL. Then it shows:
//
//  1. the persistent parties placed one per node (and zone) by the real scheduler;
//  2. the coordinator's ServiceAccount allowed to list pods but not to read secrets (SubjectAccessReview);
//  3. an unlabelled party pod rejected by the API server with the policy's message;
//  4. an MPCSession with an empty composition rejected;
//  5. an MPCSession whose delegates alone reach the threshold rejected;
//  6. a valid MPCSession admitted.
//
// It exits 0 when every scenario came out as shown, 1 otherwise, and leaves nothing running: every process
// ended, every port freed, every temporary directory removed, also on Ctrl-C. With --keep the cluster and the
// webhook stay up until Ctrl-C, and the command prints the KUBECONFIG to use.
//
// KWOK plays the nodes' kubelets: pods are scheduled and reported Ready, but no container runs, so the images
// in the chart are never pulled.
package main
