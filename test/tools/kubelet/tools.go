//go:build tools

// Package tools pins the real-node binaries; build.sh builds them from this module.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
