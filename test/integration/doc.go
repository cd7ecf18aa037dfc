// Package integration holds tests in which a real kube-apiserver (with etcd, both built from Go modules by
// the Makefile and found through KUBEBUILDER_ASSETS) calls the mpcguard webhook over TLS on 127.0.0.1.
package integration
