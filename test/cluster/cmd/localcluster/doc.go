// Command localcluster brings a local Kubernetes control plane up for people who want to poke at it, and down
// again on Ctrl-C.
//
//	go run ./test/cluster/cmd/localcluster up [--nodes 3] [--zones zone-a,zone-b,zone-c]
//
// It builds the pinned tools it needs into the cache on first use (progress on stderr; minutes the first time),
// starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and KWOK on 127.0.0.1 with fake nodes
// spread over the zones, prints
//
//	export KUBECONFIG=/tmp/mpcguard-cluster-.../kubeconfig
//
// and waits. Pods are scheduled by the real scheduler and made Ready by KWOK; no container ever runs. `make
// tools` builds kubectl and helm into the same cache:
//
//	export PATH=~/.cache/mpcguard/bin:$PATH    # $MPCGUARD_CACHE/bin if set
//	kubectl get nodes -L topology.kubernetes.io/zone
//
// Ctrl-C (SIGINT) or SIGTERM ends every process, frees every port and removes the directory: that is "down".
// There is nothing to clean up afterwards; if the command is killed outright (SIGKILL), its processes die with
// it and the next start removes the leftover directory.
package main
